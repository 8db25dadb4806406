//! `ephemeral "statuspulse_api_key"` (Terraform 1.10+): the key works while the run lasts, every
//! key the run minted is revoked when it ends, and neither the plan nor the state holds it.

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, repo_root, Server, Terraform};

const EXAMPLE: &str = "examples/ephemeral-resources/statuspulse_api_key/ephemeral-resource.tf";
const NAME: &str = "deploy-smoke-test";
const CLOSE_REASON: &str = "ephemeral key closed by Terraform";

/// The keys the server holds under the example's name, as (status, revocation reason).
fn minted(server: &Server) -> Vec<(String, String)> {
    let (status, page) = server.admin("GET", "/v1/api-keys?limit=200", None);
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == NAME)
        .map(|k| {
            (
                k["status"].as_str().unwrap_or_default().to_owned(),
                k["revocation_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn assert_all_closed(server: &Server, at_least: usize, when: &str) -> usize {
    let keys = minted(server);
    assert!(
        keys.len() >= at_least,
        "{when}: expected at least {at_least} ephemeral keys, the server has {keys:?}"
    );
    for (status, reason) in &keys {
        assert_eq!(
            status, "revoked",
            "{when}: a key outlived the run: {keys:?}"
        );
        assert_eq!(reason, CLOSE_REASON, "{when}: {keys:?}");
    }
    keys.len()
}

fn assert_no_secret(text: &str, what: &str) {
    for prefix in ["sp_live_", "sp_test_"] {
        assert!(
            !text.contains(prefix),
            "{what} holds an API key secret ({prefix}…)"
        );
    }
}

pub fn key_lives_for_the_run(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &std::fs::read_to_string(repo_root().join(EXAMPLE)).unwrap(),
    );
    tf.write("versions.tf", REQUIRED_PROVIDERS);

    // A saved plan: opening the ephemeral key during plan mints one and closes (revokes) it.
    let plan = tf.ok(&["plan", "-no-color", "-out=tfplan"]);
    assert!(
        plan.stdout
            .contains("ephemeral.statuspulse_api_key.smoke_test: Opening"),
        "{}",
        plan.all()
    );
    let after_plan = assert_all_closed(&server, 1, "after plan");
    let shown = tf.ok(&["show", "-json", "tfplan"]);
    assert_no_secret(&shown.stdout, "the saved plan");

    // Apply: the provisioner calls /v1/auth/verify with the key and `curl --fail` fails the
    // apply on anything but 200, so success means the key worked during apply.
    let apply = tf.ok(&["apply", "-no-color", "tfplan"]);
    assert!(
        apply
            .stdout
            .contains("terraform_data.smoke_test: Provisioning with 'local-exec'"),
        "{}",
        apply.all()
    );
    assert!(
        apply
            .stdout
            .contains("ephemeral.statuspulse_api_key.smoke_test: Closing"),
        "{}",
        apply.all()
    );
    let after_apply = assert_all_closed(&server, after_plan + 1, "after apply");
    assert!(after_apply > after_plan);

    let state = std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap();
    assert_no_secret(&state, "the state file");
    // Only its address may appear (as a dependency of what used it), never the object.
    let parsed: serde_json::Value = serde_json::from_str(&state).unwrap();
    let types: Vec<&str> = parsed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["terraform_data"], "{state}");

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_all_closed(&server, after_apply, "after destroy");
}

/// Before 1.10 the language has no `ephemeral` block: Terraform itself refuses the configuration
/// at parse time, naming the block, and the provider is never asked to mint a key.
pub fn refused_by_terraform_without_ephemeral_blocks(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &std::fs::read_to_string(repo_root().join(EXAMPLE)).unwrap(),
    );
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    let plan = tf.run(&["plan", "-no-color"]);
    assert_ne!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stderr.contains("Unsupported block type")
            && plan
                .stderr
                .contains(r#"Blocks of type "ephemeral" are not expected here"#),
        "{}",
        plan.all()
    );
    assert!(minted(&server).is_empty(), "a key was minted on {version}");
}
