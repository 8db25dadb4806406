//! Every configuration under examples/ is applied, planned clean, imported where it documents an
//! import, and destroyed: documentation that is executed cannot rot.

use std::path::{Path, PathBuf};

use crate::harness::{heavy_lock, repo_root, Server, Terraform};
use crate::secret_store::Aws;

pub const REQUIRED_PROVIDERS: &str = r#"terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}
"#;

/// The Terraform version an example needs when it uses a language feature newer than 1.0, and
/// why: on older versions the harness skips it and says so.
fn needs_newer_terraform(dir: &Path, version: &str) -> Option<String> {
    let relative = dir.strip_prefix(repo_root().join("examples")).ok()?;
    let (minimum, feature) = match relative.components().next()?.as_os_str().to_str()? {
        "ephemeral-resources" => ((1, 10), "`ephemeral` blocks (ephemeral resources)"),
        "functions" => ((1, 8), "provider-defined functions"),
        // Write-only attributes keep a secret out of plan and state; older Terraform cannot, and
        // the provider refuses them there (see sso.rs for that refusal, tested).
        "write-only" => ((1, 11), "write-only attributes (and ephemeral variables)"),
        _ => return None,
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let running = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (running < minimum).then(|| {
        format!(
            "{feature} exist only in Terraform {}.{} and later; this is {version}",
            minimum.0, minimum.1
        )
    })
}

/// Secrets the examples read from variables, as a pipeline would pass them (`TF_VAR_…`).
pub const EXAMPLE_SECRETS: &[(&str, &str)] = &[
    ("TF_VAR_okta_client_secret", "example-okta-client-secret-1"),
    (
        "TF_VAR_entra_client_secret",
        "example-entra-client-secret-1",
    ),
    (
        "TF_VAR_soc_webhook_secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    (
        "TF_VAR_aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "TF_VAR_webhook_secret",
        "whsec_c3RhdHVzcHVsc2Utd3JpdGUtb25seS1zZWNyZXQtMDE=",
    ),
];

/// Directories under examples/ that hold `.tf` files.
fn example_dirs() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        if entries
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "tf"))
        {
            found.push(dir.to_path_buf());
        }
        for entry in entries.into_iter().filter(|p| p.is_dir()) {
            walk(&entry, found);
        }
    }
    let mut found = Vec::new();
    walk(&repo_root().join("examples"), &mut found);
    found
}

pub fn apply_and_destroy_all(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let dirs = example_dirs();
    assert!(dirs.len() >= 13, "examples/ lost some examples: {dirs:?}");
    assert!(
        dirs.contains(&repo_root().join("examples/least-privilege")),
        "the least-privilege example is not applied: {dirs:?}"
    );
    let mut skipped = Vec::new();
    // The secret-store examples write to Secrets Manager: a moto_server, found by the
    // environment as a pipeline's AWS credentials would be.
    let aws = Aws::start();
    for dir in dirs {
        let mut tf = Terraform::new(version, &server);
        for (variable, value) in EXAMPLE_SECRETS {
            tf.set_env(variable, value);
        }
        let stores_secrets = dir.starts_with(repo_root().join("examples/secret-store"));
        if stores_secrets {
            for (variable, value) in Aws::environment(&aws.moto.storer) {
                tf.set_env(variable, &value);
            }
            tf.set_env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &aws.moto.endpoint);
        }
        let name = dir.strip_prefix(repo_root()).unwrap().display().to_string();
        if let Some(reason) = needs_newer_terraform(&dir, version) {
            eprintln!("example {name} skipped on Terraform {version}: {reason}");
            skipped.push(name);
            continue;
        }
        eprintln!("example {name} on Terraform {version}");
        let mut has_required_providers = false;
        for file in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            // The import block is the import's documentation, run by `import_as_documented`.
            if file.ends_with(IMPORT_BLOCK) {
                continue;
            }
            if file.extension().is_some_and(|e| e == "tf") {
                let text = std::fs::read_to_string(&file).unwrap();
                has_required_providers |= text.contains("required_providers");
                tf.write(file.file_name().unwrap().to_str().unwrap(), &text);
            }
        }
        // Registry examples omit the boilerplate that every configuration needs.
        if !has_required_providers {
            tf.write("versions.tf", REQUIRED_PROVIDERS);
        }
        tf.apply();
        tf.assert_no_changes();
        if name == "examples/least-privilege" {
            least_privilege_runner_is_confined(&tf, &server);
        }
        if name.starts_with("examples/functions/") {
            functions_agree_with_the_server(&tf, &name);
        }
        if stores_secrets {
            stored_keys_work_and_stay_out_of_state(&tf, &server, &aws);
        }
        import_as_documented(&tf, &dir);
        import_block_as_documented(&tf, &dir, version);
        assert_example_secrets_not_in_state(&tf, &name);
        tf.ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(tf.resources().is_empty(), "{name}: destroy left resources");
    }
    // Only the examples of newer language features may be skipped, and only on old versions.
    if version.starts_with("1.0.") {
        assert!(
            skipped
                .iter()
                .any(|name| name.starts_with("examples/ephemeral-resources/")),
            "the ephemeral examples were not recognised as needing Terraform 1.10: {skipped:?}"
        );
        assert!(
            skipped
                .iter()
                .any(|name| name.starts_with("examples/write-only/")),
            "the write-only examples were not recognised as needing Terraform 1.11: {skipped:?}"
        );
    } else {
        assert!(skipped.is_empty(), "skipped on {version}: {skipped:?}");
    }
}

/// Every key a secret-store example made is in its secret, works, and is nowhere in the state.
fn stored_keys_work_and_stay_out_of_state(tf: &Terraform, server: &Server, aws: &Aws) {
    let state = std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap();
    assert!(
        !state.contains("sp_test_") && !state.contains("sp_live_"),
        "a secret-store example's state holds a key"
    );
    let mut stored = 0;
    for (address, values) in tf.resources() {
        let Some(store) = values["secret_store"][0]["aws_secrets_manager"].get(0) else {
            continue;
        };
        let (key, version) = aws.current(store["arn"].as_str().unwrap());
        assert_eq!(store["version_id"], version.as_str(), "{address}");
        assert_eq!(
            server.verify(&key),
            200,
            "{address}: the stored key does not work"
        );
        stored += 1;
    }
    assert!(stored > 0, "a secret-store example stores no key");
}

/// The provider functions' outputs (computed offline from the secret) match what the server says
/// about the same key.
fn functions_agree_with_the_server(tf: &Terraform, name: &str) {
    let outputs = tf.outputs();
    let resources = tf.resources();
    let (output, expected) = match name {
        "examples/functions/key_id" => (
            "deploy_key_id",
            resources["statuspulse_api_key.deploy"]["key_id"].clone(),
        ),
        "examples/functions/key_environment" => ("pipeline_key_environment", "test".into()),
        other => panic!("{other}: no check for this function example"),
    };
    assert_eq!(outputs[output], expected, "{outputs:?}");
}

/// The issue's least-privilege runner: its effective access is exactly `read:checks` and
/// `write:alerts` in `eu-prod-1`, and the server decides that way for its key.
fn least_privilege_runner_is_confined(tf: &Terraform, server: &Server) {
    let outputs = tf.outputs();
    let strings = |value: &serde_json::Value| -> Vec<String> {
        let mut items: Vec<String> = value
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {value}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        items.sort();
        items
    };
    assert_eq!(
        strings(&outputs["effective_scopes"]),
        ["read:checks", "write:alerts"],
        "{outputs:?}"
    );
    assert!(
        strings(&outputs["withheld_scopes"]).is_empty(),
        "{outputs:?}"
    );
    let clusters = outputs["environment_clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{outputs:?}");
    assert_eq!(clusters[0]["name"], "eu-prod-1");
    assert_eq!(clusters[0]["environment"], "live");
    assert_eq!(
        strings(&clusters[0]["scopes"]),
        ["read:checks", "write:alerts"]
    );

    let key = outputs["api_key"].as_str().expect("the key is an output");
    assert!(key.starts_with("sp_live_"));
    assert_eq!(
        server.verify_query(key, "scope=write:alerts&cluster=eu-prod-1"),
        (200, String::new())
    );
    assert_eq!(
        server.verify_query(key, "scope=write:checks"),
        (403, "insufficient_scope".to_owned())
    );
    // Never admin:all for automation.
    assert_eq!(
        server.verify_query(key, "scope=admin:all"),
        (403, "insufficient_scope".to_owned())
    );
}

/// The write-only form keeps the secret out of the state; the sensitive form (for Terraform
/// before 1.11) is in it by design, redacted in output only.
fn assert_example_secrets_not_in_state(tf: &Terraform, name: &str) {
    if !name.starts_with("examples/write-only/") {
        return;
    }
    let state = std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap();
    for (_, secret) in EXAMPLE_SECRETS {
        assert!(
            !state.contains(secret),
            "{name}: the state holds a write-only secret"
        );
    }
}

/// The `import` block a resource's documentation shows (Terraform 1.5 and later).
const IMPORT_BLOCK: &str = "import-by-string-id.tf";

/// Plans the example's `import` block (its placeholder id swapped for the applied resource's;
/// a `name:` id as written) against a fresh state: Terraform must plan to import it.
fn import_block_as_documented(tf: &Terraform, dir: &Path, version: &str) {
    let Ok(block) = std::fs::read_to_string(dir.join(IMPORT_BLOCK)) else {
        assert!(
            !dir.to_string_lossy().contains("examples/resources/"),
            "{} documents no import block",
            dir.display()
        );
        return;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    if (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) < (1, 5) {
        return;
    }
    let field = |name: &str| {
        let rest = block
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("{}: no `{name}` in the import block", dir.display()));
        rest.trim()
            .trim_start_matches('=')
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    let (address, id) = (field("to"), field("id"));
    let actual = if id.starts_with("name:") {
        id.clone()
    } else {
        tf.resources()[&address]["id"].as_str().unwrap().to_owned()
    };
    let import_dir = tf.sibling("import-block");
    for file in std::fs::read_dir(tf.work())
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        if file.extension().is_some_and(|e| e == "tf") {
            std::fs::copy(&file, import_dir.join(file.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(import_dir.join(IMPORT_BLOCK), block.replace(&id, &actual)).unwrap();
    let run = tf.run_in(&import_dir, &["plan", "-no-color"]);
    assert_eq!(run.code, 0, "{}:\n{}", dir.display(), run.all());
    assert!(
        run.stdout.contains("1 to import"),
        "{}: the import block does not import:\n{}",
        dir.display(),
        run.stdout
    );
    std::fs::remove_dir_all(&import_dir).unwrap();
}

/// Runs the example's import.sh against a fresh state, with the placeholder id swapped for the
/// id of the resource the apply created.
fn import_as_documented(tf: &Terraform, dir: &Path) {
    let Ok(script) = std::fs::read_to_string(dir.join("import.sh")) else {
        return;
    };
    let resources = tf.resources();
    let import_dir = tf.sibling("import");
    for file in std::fs::read_dir(tf.work())
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        if file.extension().is_some_and(|e| e == "tf") {
            std::fs::copy(&file, import_dir.join(file.file_name().unwrap())).unwrap();
        }
    }
    let mut imported = 0;
    let mut seen: Vec<&str> = Vec::new();
    for line in script
        .lines()
        .filter(|l| l.starts_with("terraform import "))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let address = words[2];
        // Import by name (`name:<name>`) is run as written; ids are placeholders.
        let id = match words.get(3) {
            Some(by_name) if by_name.starts_with("name:") => by_name,
            _ => resources[address]["id"].as_str().unwrap(),
        };
        // A script may show both forms for one address: the second imports it afresh.
        if seen.contains(&address) {
            let run = tf.run_in(&import_dir, &["state", "rm", address]);
            assert_eq!(run.code, 0, "state rm {address}:\n{}", run.all());
        }
        seen.push(address);
        let run = tf.run_in(&import_dir, &["import", "-no-color", address, id]);
        assert_eq!(run.code, 0, "{line}:\n{}", run.all());
        imported += 1;
    }
    assert!(
        imported > 0,
        "{} documents no terraform import",
        dir.display()
    );
    let after = tf.resources_in(&import_dir);
    for (address, values) in &after {
        let mut original = resources[address].clone();
        // The secret is shown once, at creation; an import can never know it.
        if original.get("key").is_some() {
            assert!(values["key"].is_null());
            original["key"] = serde_json::Value::Null;
        }
        // An SSO client secret is never readable: an import cannot know it or its version.
        for secret in ["client_secret", "client_secret_wo_version"] {
            if original.get(secret).is_some() {
                assert!(values[secret].is_null(), "{address}: imported {secret}");
                original[secret] = serde_json::Value::Null;
            }
        }
        // Audit sink secrets are never readable either, and delivery state moves on its own.
        for (block, secret) in [("webhook", "secret"), ("cloudwatch", "secret_access_key")] {
            if let Some(configured) = original.get_mut(block).and_then(|b| b.get_mut(0)) {
                assert!(
                    values[block][0][secret].is_null(),
                    "{address}: imported {secret}"
                );
                configured[secret] = serde_json::Value::Null;
            }
        }
        if original.get("lag").is_some() {
            for moving in [
                "status",
                "delivered_seq",
                "lag",
                "last_error",
                "last_success_at",
            ] {
                original[moving] = values[moving].clone();
            }
        }
        // The audit chain's positions move with every event recorded.
        if original.get("head_seq").is_some() {
            for moving in ["head_seq", "pruned_through_seq", "pruned_through_hash"] {
                original[moving] = values[moving].clone();
            }
        }
        // keepers live only in configuration and state.
        if original.get("keepers").is_some() {
            original["keepers"] = values["keepers"].clone();
        }
        assert_eq!(values, &original, "imported {address} differs");
    }
    // Clean up the sibling so the next example starts empty.
    std::fs::remove_dir_all(&import_dir).unwrap();
}
