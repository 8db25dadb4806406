//! `statuspulse_sso_connection`'s write-only client secret (Terraform 1.11+): never in the plan or
//! the state, sent on create and again only when `client_secret_wo_version` changes, which the
//! server records as an update with `client_secret_changed: true`. On Terraform 1.0.3 the provider
//! refuses a write-only value with a diagnostic naming the version needed, before anything is
//! created.

use serde_json::Value;

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

const FIRST: &str = "wo-secret-first-7c1d";
const SECOND: &str = "wo-secret-second-93ab";

fn config(version: u32) -> String {
    format!(
        r#"
variable "secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "statuspulse_sso_connection" "wo" {{
  name = "write-only-test"
  kind = "oidc"
  oidc {{
    issuer = "http://127.0.0.1:9/realm"
  }}
  client_id                = "wo-client"
  client_secret_wo         = var.secret
  client_secret_wo_version = {version}
  email_domains            = ["wo.example"]
}}
"#
    )
}

fn assert_secrets_absent(text: &str, what: &str) {
    for secret in [FIRST, SECOND] {
        assert!(!text.contains(secret), "{what} holds the write-only secret");
    }
}

fn state_text(tf: &Terraform) -> String {
    std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap_or_default()
}

pub fn write_only_secret_stays_out_of_plan_and_state(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write("main.tf", &config(1));
    tf.set_env("TF_VAR_secret", FIRST);

    // The saved plan, in binary and as JSON, has no secret.
    let plan = tf.ok(&["plan", "-no-color", "-out=tfplan"]);
    assert_secrets_absent(&plan.all(), "the plan output");
    let shown = tf.ok(&["show", "-json", "tfplan"]);
    assert_secrets_absent(&shown.stdout, "the JSON plan");
    let binary = std::fs::read(tf.work().join("tfplan")).unwrap();
    assert_secrets_absent(&String::from_utf8_lossy(&binary), "the plan file");
    let applied = tf.ok(&["apply", "-no-color", "tfplan"]);
    assert_secrets_absent(&applied.all(), "the apply output");
    assert_secrets_absent(&state_text(&tf), "the state");
    let resource = tf.resources()["statuspulse_sso_connection.wo"].clone();
    assert!(resource["client_secret_wo"].is_null(), "{resource}");
    assert_eq!(resource["client_secret_wo_version"], 1);
    let id = resource["id"].as_str().unwrap().to_owned();

    let (status, connection) = server.admin("GET", &format!("/v1/sso-connections/{id}"), None);
    assert_eq!(status, 200, "{connection}");
    assert_eq!(
        connection["client_secret_set"], true,
        "the secret reached the server"
    );
    let created = server.audit_events("sso_connection.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["details"]["client_secret_changed"], true);

    // A new secret alone is invisible to Terraform: nothing to do until the version changes.
    tf.set_env("TF_VAR_secret", SECOND);
    tf.assert_no_changes();
    assert!(server.audit_events("sso_connection.updated").is_empty());

    // The version changes: an update that sends the new secret.
    tf.write("main.tf", &config(2));
    let rotated = tf.apply();
    assert_secrets_absent(&rotated.all(), "the apply output");
    assert_secrets_absent(&state_text(&tf), "the state after rotation");
    let updated = server.audit_events("sso_connection.updated");
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["details"]["client_secret_changed"], true);
    assert_secrets_absent(&Value::Array(updated).to_string(), "the audit trail");
    let (_, after) = server.admin("GET", &format!("/v1/sso-connections/{id}"), None);
    assert_ne!(after["updated_at"], connection["updated_at"], "{after}");
    tf.assert_no_changes();

    // Other changes keep the secret: not sent, so not changed.
    tf.write("main.tf", &config(2).replace("wo.example", "wo2.example"));
    tf.apply();
    let updated = server.audit_events("sso_connection.updated");
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[1]["details"]["client_secret_changed"], false);

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        server
            .admin("GET", &format!("/v1/sso-connections/{id}"), None)
            .0,
        404
    );
}

/// Terraform 1.0.3 cannot keep a value out of state: the provider refuses the write-only form,
/// naming the attribute and the version needed, and nothing is created.
pub fn write_only_secret_is_refused_before_1_11(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    // No `ephemeral` variable on 1.0: a plain sensitive one.
    tf.write("main.tf", &config(1).replace("  ephemeral = true\n", ""));
    tf.set_env("TF_VAR_secret", FIRST);
    let run = tf.run(&["plan", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("Write-only attribute not supported"),
        "{text}"
    );
    assert!(text.contains("1.11"), "{text}");
    assert!(text.contains("client_secret_wo"), "{text}");
    assert_secrets_absent(&text, "the refusal");
    let (_, page) = server.admin("GET", "/v1/sso-connections", None);
    assert_eq!(page["items"], serde_json::json!([]), "nothing was created");
}
