//! `statuspulse_access_policy` and the people-and-groups side of `statuspulse_effective_access`
//! against the real server: a policy is created as configured and planned clean; changes
//! (removing a condition included) update it in place on the server; the data source shows the
//! policy withholding a scope until the circumstances meet it; a policy deleted outside Terraform
//! is planned again; import by name matches what was applied. Plan-time checks refuse bad values
//! on their attribute, before anything is created.

use serde_json::{json, Value};

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

fn config(conditions: &str, mfa: bool) -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "statuspulse_role_binding" "ops" {{
  group  = "ops"
  scopes = ["read:checks"]
}}

resource "statuspulse_access_policy" "checks" {{
  name   = "checks need mfa"
  scopes = ["statuspulse:checks:read"]
{conditions}
}}

data "statuspulse_effective_access" "ops" {{
  group = statuspulse_role_binding.ops.group
  mfa   = {mfa}
  ip    = "10.1.2.3"

  depends_on = [statuspulse_access_policy.checks]
}}

output "issued" {{
  value = data.statuspulse_effective_access.ops.oauth_scopes
}}

output "withheld" {{
  value = data.statuspulse_effective_access.ops.withheld_oauth_scopes
}}
"#
    )
}

fn policy(tf: &Terraform) -> Value {
    tf.resources()["statuspulse_access_policy.checks"].clone()
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &config("  require_mfa = true\n  networks = [\"10.0.0.0/8\"]", false),
    );
    tf.apply();
    tf.assert_no_changes();
    let created = policy(&tf);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ap_"), "{created}");
    assert!(
        created["enabled"].is_null() && created["groups"].is_null(),
        "{created}"
    );
    let (status, on_server) = server.admin("GET", &format!("/v1/access-policies/{id}"), None);
    assert_eq!(status, 200, "{on_server}");
    assert_eq!(on_server["require_mfa"], true);
    assert_eq!(on_server["networks"], json!(["10.0.0.0/8"]));
    // Without MFA the group's members do not get the governed scope, and the answer says why.
    let outputs = tf.outputs();
    assert_eq!(outputs["issued"], json!(["email", "openid", "profile"]));
    assert_eq!(outputs["withheld"][0]["policy_name"], "checks need mfa");
    assert_eq!(outputs["withheld"][0]["condition"], "require_mfa");

    // MFA dropped from the policy, a region added: in place, and the server holds exactly that.
    tf.write(
        "main.tf",
        &config("  networks = [\"10.0.0.0/8\"]\n  enabled = true", true),
    );
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    tf.assert_no_changes();
    assert_eq!(policy(&tf)["id"], id.as_str());
    let (_, on_server) = server.admin("GET", &format!("/v1/access-policies/{id}"), None);
    assert_eq!(on_server["require_mfa"], false, "{on_server}");
    let outputs = tf.outputs();
    assert_eq!(
        outputs["issued"],
        json!(["email", "openid", "profile", "statuspulse:checks:read"])
    );
    assert_eq!(outputs["withheld"], json!([]));

    // Deleted outside Terraform: the refresh notices, the plan creates it again.
    let (status, _) = server.admin("DELETE", &format!("/v1/access-policies/{id}"), None);
    assert_eq!(status, 204);
    let plan = tf.plan();
    assert!(plan.stdout.contains("1 to add"), "{}", plan.stdout);
    tf.apply();
    let again = policy(&tf);

    // Imported by name, it is what was applied.
    let import_dir = tf.sibling("import");
    std::fs::copy(tf.work().join("main.tf"), import_dir.join("main.tf")).unwrap();
    let run = tf.run_in(
        &import_dir,
        &[
            "import",
            "-no-color",
            "statuspulse_access_policy.checks",
            "name:checks need mfa",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let imported = tf.resources_in(&import_dir)["statuspulse_access_policy.checks"].clone();
    let mut expected = again.clone();
    // `enabled = true` is the default: the import cannot tell it was written.
    expected["enabled"] = Value::Null;
    assert_eq!(imported, expected);

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    let again_id = again["id"].as_str().unwrap();
    let (status, _) = server.admin("GET", &format!("/v1/access-policies/{again_id}"), None);
    assert_eq!(status, 404, "destroy left the policy");
}

/// A CIDR with host bits, an unknown scope, an upper-case region, and a policy without any
/// condition: each one diagnostic on its attribute at plan time, and nothing created.
pub fn plan_time_validation(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &format!(
            r#"{REQUIRED_PROVIDERS}
resource "statuspulse_access_policy" "bad" {{
  name     = "bad"
  scopes   = ["read:checks"]
  networks = ["10.1.2.3/8"]
  regions  = ["EU"]
}}

resource "statuspulse_access_policy" "empty" {{
  name   = "no condition"
  scopes = ["openid"]
}}
"#
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    for (summary, line) in [
        ("Invalid scopes", "read:checks"),
        ("Invalid networks", "10.1.2.3/8"),
        ("Invalid regions", "EU"),
        ("Access policy without a condition", "openid"),
    ] {
        crate::harness::assert_diagnostic_at(&text, summary, line);
    }
    assert!(
        text.contains("write `10.1.2.3/8` as `10.0.0.0/8`"),
        "{text}"
    );
    assert_eq!(text.matches("Error: ").count(), 4, "{text}");
    let (status, page) = server.admin("GET", "/v1/access-policies", None);
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]), "a plan created a policy");
}
