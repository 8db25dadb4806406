//! `statuspulse_api_keys` against the real server: a key made outside Terraform for a managed
//! service account is found (the unmanaged-key check of the example), filters narrow the list,
//! and a bad filter is refused at plan time on its attribute.

use serde_json::{json, Value};

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

fn config(status: &str) -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "statuspulse_service_account" "ingest" {{
  name = "metrics-ingest"
}}

resource "statuspulse_role_binding" "ingest" {{
  service_account_id = statuspulse_service_account.ingest.id
  scopes             = ["read:checks"]
}}

resource "statuspulse_api_key" "ingest" {{
  name               = "metrics-ingest"
  environment        = "live"
  service_account_id = statuspulse_service_account.ingest.id
  scopes             = ["read:checks"]
  depends_on         = [statuspulse_role_binding.ingest]
}}

data "statuspulse_api_keys" "ingest" {{
  service_account_id = statuspulse_service_account.ingest.id
  status             = "{status}"
  depends_on         = [statuspulse_api_key.ingest]
}}

output "unmanaged" {{
  value = setsubtract(data.statuspulse_api_keys.ingest.ids, [statuspulse_api_key.ingest.id])
}}

output "names" {{
  value = [for k in data.statuspulse_api_keys.ingest.keys : k.name]
}}
"#
    )
}

pub fn unmanaged_keys_are_found(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("main.tf", &config("active"));
    tf.apply();
    let outputs = tf.outputs();
    assert_eq!(outputs["unmanaged"], json!([]), "{outputs:?}");
    assert_eq!(outputs["names"], json!(["metrics-ingest"]));

    // Someone makes a key for the account by hand: the next run lists it as unmanaged.
    let account = tf.resources()["statuspulse_service_account.ingest"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, made) = server.admin(
        "POST",
        "/v1/api-keys",
        Some(json!({"name": "made by hand", "environment": "live",
                    "service_account_id": account, "scopes": ["read:checks"]})),
    );
    assert_eq!(status, 201, "{made}");
    tf.apply();
    let outputs = tf.outputs();
    assert_eq!(outputs["unmanaged"], json!([made["id"]]), "{outputs:?}");

    // Revoked, it leaves the active list and shows in the revoked one.
    let (status, _) = server.admin(
        "POST",
        "/v1/api-keys/revoke",
        Some(json!({"id": made["id"]})),
    );
    assert_eq!(status, 200);
    tf.apply();
    assert_eq!(tf.outputs()["unmanaged"], json!([]));
    tf.write("main.tf", &config("revoked"));
    tf.apply();
    let names: Value = tf.outputs()["names"].clone();
    assert_eq!(names, json!(["made by hand"]));

    // A status that does not exist is refused at plan time, on its attribute.
    tf.write("main.tf", &config("gone"));
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    crate::harness::assert_diagnostic_at(&run.all(), "Invalid status", "gone");
    tf.write("main.tf", &config("active"));
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
}
