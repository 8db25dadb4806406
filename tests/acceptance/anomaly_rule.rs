//! `statuspulse_anomaly_rule` against the real server: a workspace's default rule is taken over
//! by importing it by name and tuned in place; a new rule gets its kind's defaults, planned and
//! applied clean; a change of kind replaces it; a rule deleted outside Terraform is planned again;
//! a threshold its kind does not take is refused at plan time on its attribute.

use serde_json::Value;

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

fn config(default_burst: &str, extra_kind: &str) -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "statuspulse_anomaly_rule" "burst" {{
  name = "default-failed-auth-burst"
  kind = "failed_auth_burst"
{default_burst}
}}

resource "statuspulse_anomaly_rule" "extra" {{
  name = "extra"
  kind = "{extra_kind}"
}}
"#
    )
}

fn rule(tf: &Terraform, name: &str) -> Value {
    tf.resources()[&format!("statuspulse_anomaly_rule.{name}")].clone()
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("main.tf", &config("  threshold = 50", "rapid_rotation"));
    // The default rule exists already: import it by name, then tune it.
    let run = tf.run(&[
        "import",
        "-no-color",
        "statuspulse_anomaly_rule.burst",
        "name:default-failed-auth-burst",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let imported = rule(&tf, "burst");
    assert_eq!(
        (
            imported["threshold"].as_i64(),
            imported["window_minutes"].as_i64()
        ),
        (Some(20), Some(5)),
        "{imported}"
    );
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("1 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    tf.assert_no_changes();
    let burst_id = rule(&tf, "burst")["id"].as_str().unwrap().to_owned();
    assert_eq!(burst_id, imported["id"].as_str().unwrap());
    let (_, on_server) = server.admin("GET", &format!("/v1/anomaly-rules/{burst_id}"), None);
    assert_eq!(
        (
            on_server["threshold"].as_i64(),
            on_server["window_minutes"].as_i64()
        ),
        (Some(50), Some(5)),
        "{on_server}"
    );
    let extra = rule(&tf, "extra");
    assert!(extra["id"].as_str().unwrap().starts_with("anr_"));
    assert_eq!(
        (
            extra["threshold"].as_i64(),
            extra["window_minutes"].as_i64()
        ),
        (Some(3), Some(60)),
        "the kind's defaults: {extra}"
    );
    assert!(extra["min_key_age_hours"].is_null());

    // Another kind: replaced, with that kind's defaults.
    tf.write(
        "main.tf",
        &config("  threshold = 50\n  enabled = false", "new_network"),
    );
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("1 to add, 1 to change, 1 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    tf.assert_no_changes();
    let replaced = rule(&tf, "extra");
    assert_ne!(replaced["id"], extra["id"]);
    assert_eq!(replaced["min_key_age_hours"].as_i64(), Some(24));
    assert!(replaced["threshold"].is_null());
    let (_, on_server) = server.admin("GET", &format!("/v1/anomaly-rules/{burst_id}"), None);
    assert_eq!(on_server["enabled"], false);

    // Deleted outside Terraform: planned again.
    let replaced_id = replaced["id"].as_str().unwrap();
    let (status, _) = server.admin("DELETE", &format!("/v1/anomaly-rules/{replaced_id}"), None);
    assert_eq!(status, 204);
    let plan = tf.plan();
    assert!(plan.stdout.contains("1 to add"), "{}", plan.stdout);
    tf.apply();
    tf.assert_no_changes();

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    let (status, _) = server.admin("GET", &format!("/v1/anomaly-rules/{burst_id}"), None);
    assert_eq!(status, 404, "destroy deletes even a default rule");
}

/// A threshold on a kind that takes none, a window over a day, an unknown kind: each one
/// diagnostic on its attribute at plan time, and nothing created.
pub fn plan_time_validation(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &format!(
            r#"{REQUIRED_PROVIDERS}
resource "statuspulse_anomaly_rule" "revoked" {{
  name      = "revoked"
  kind      = "revoked_key_use"
  threshold = 2
}}

resource "statuspulse_anomaly_rule" "long" {{
  name           = "long"
  kind           = "failed_auth_burst"
  window_minutes = 2000
}}

resource "statuspulse_anomaly_rule" "unknown" {{
  name = "unknown"
  kind = "port_scan"
}}
"#
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    for (summary, line) in [
        ("Invalid threshold", "threshold = 2"),
        ("Invalid window_minutes", "window_minutes = 2000"),
        ("Invalid kind", "port_scan"),
    ] {
        crate::harness::assert_diagnostic_at(&text, summary, line);
    }
    assert_eq!(text.matches("Error: ").count(), 3, "{text}");
    let (_, page) = server.admin("GET", "/v1/anomaly-rules", None);
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        5,
        "only the defaults: a plan created nothing"
    );
}
