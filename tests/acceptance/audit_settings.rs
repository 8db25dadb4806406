//! `statuspulse_audit_settings` against the real server: a retention outside the shared bounds
//! is refused at plan time on `retention_days`, before anything changes; the resource's id is
//! the credential's workspace; 90 days is set and read back; the chain growing never shows as a
//! change; 400 days updates in place; a retention changed outside Terraform is planned back;
//! import by the workspace id matches what was applied (another workspace's id is refused);
//! the sink defaults (`default_event_types`) reach a sink created without a filter, are planned
//! back when changed outside Terraform, and go back to every event when left out; destroy puts
//! the defaults back, as the API shows.

use serde_json::{json, Value};

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{assert_diagnostic_at, heavy_lock, Server, Terraform};

fn config(retention_days: i64) -> String {
    config_with(retention_days, "")
}

fn config_with(retention_days: i64, more: &str) -> String {
    format!(
        r#"
resource "statuspulse_audit_settings" "this" {{
  retention_days = {retention_days}
{more}}}
"#
    )
}

/// A sink without a filter of its own, created after the settings.
const DEFAULTED_SINK: &str = r#"
resource "statuspulse_audit_sink" "defaulted" {
  name    = "defaulted"
  enabled = false
  webhook {
    url = "https://siem.example.com/in"
  }
  depends_on = [statuspulse_audit_settings.this]
}
"#;

/// `GET /v1/audit-settings` as the server answers it.
fn on_server(server: &Server) -> Value {
    let (status, body) = server.admin("GET", "/v1/audit-settings", None);
    assert_eq!(status, 200, "{body}");
    body
}

fn settings(tf: &Terraform) -> Value {
    tf.resources()["statuspulse_audit_settings.this"].clone()
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    let (status, credential) = server.admin("GET", "/v1/auth/verify", None);
    assert_eq!(status, 200, "{credential}");
    let workspace = credential["workspace_id"].as_str().unwrap().to_owned();

    // Ten days: one diagnostic on the attribute, at plan time, and the server untouched.
    tf.write("main.tf", &config(10));
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert_diagnostic_at(&text, "Invalid retention_days", "retention_days = 10");
    assert!(text.contains("between 30 and 3650"), "{text}");
    assert_eq!(text.matches("Error: ").count(), 1, "{text}");
    assert_eq!(on_server(&server)["is_default"], true);

    // Created with 90 days: the server holds it, the state reads it back, the plan is clean.
    tf.write("main.tf", &config(90));
    tf.apply();
    let created = settings(&tf);
    assert_eq!(created["id"], workspace.as_str(), "{created}");
    assert_eq!(created["retention_days"], 90);
    assert_eq!(created["pruned_through_seq"], 0);
    assert_eq!(created["pruned_through_hash"], "0".repeat(64));
    assert!(created["head_seq"].as_i64().unwrap() > 0, "{created}");
    let answer = on_server(&server);
    assert_eq!(answer["retention_days"], 90, "{answer}");
    assert_eq!(answer["is_default"], false);
    assert_eq!(answer["head_seq"], created["head_seq"]);
    tf.assert_no_changes();

    // The chain grows (each of these is an event): the head moves, the plan stays empty.
    for n in 0..3 {
        let (status, body) = server.admin(
            "POST",
            "/v1/service-accounts",
            Some(json!({"name": format!("noise-{n}")})),
        );
        assert_eq!(status, 201, "{body}");
    }
    assert!(on_server(&server)["head_seq"].as_i64() > created["head_seq"].as_i64());
    tf.assert_no_changes();

    // 400 days: in place, and the new head (the update is itself an event) is in the state.
    tf.write("main.tf", &config(400));
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let updated = settings(&tf);
    assert_eq!(updated["retention_days"], 400);
    assert_eq!(updated["id"], workspace.as_str());
    let answer = on_server(&server);
    assert_eq!(answer["retention_days"], 400, "{answer}");
    assert_eq!(answer["head_seq"], updated["head_seq"]);
    tf.assert_no_changes();

    // Changed outside Terraform: the plan changes it back.
    let (status, body) = server.admin(
        "PUT",
        "/v1/audit-settings",
        Some(json!({"retention_days": 120})),
    );
    assert_eq!(status, 200, "{body}");
    let plan = tf.plan();
    assert!(
        plan.code == 2 && plan.stdout.contains("120 -> 400"),
        "{}",
        plan.stdout
    );
    tf.apply();
    assert_eq!(on_server(&server)["retention_days"], 400);
    tf.assert_no_changes();

    // Sink defaults: a sink created without a filter takes them and keeps them.
    let defaults = "  default_event_types = [\"auth.*\", \"anomaly.*\"]\n";
    tf.write(
        "main.tf",
        &format!("{}{DEFAULTED_SINK}", config_with(400, defaults)),
    );
    tf.apply();
    assert_eq!(
        on_server(&server)["default_event_types"],
        json!(["auth.*", "anomaly.*"])
    );
    let sink = tf.resources()["statuspulse_audit_sink.defaulted"].clone();
    assert_eq!(
        sink["event_types"],
        json!(["auth.*", "anomaly.*"]),
        "{sink}"
    );
    let answer = on_server(&server);
    assert_eq!(answer["sinks"][0]["id"], sink["id"], "{answer}");
    tf.assert_no_changes();
    // Changed outside Terraform: planned back.
    let (status, body) = server.admin(
        "PUT",
        "/v1/audit-settings",
        Some(json!({"retention_days": 400, "default_event_types": ["*"]})),
    );
    assert_eq!(status, 200, "{body}");
    let plan = tf.plan();
    assert!(
        plan.code == 2 && plan.stdout.contains("anomaly.*"),
        "{}",
        plan.stdout
    );
    tf.apply();
    tf.assert_no_changes();
    // Left out: back to every event, while the sink keeps the filter it was created with.
    tf.write("main.tf", &format!("{}{DEFAULTED_SINK}", config(400)));
    let plan = tf.plan();
    assert!(plan.code == 2, "{}", plan.stdout);
    tf.apply();
    assert_eq!(on_server(&server)["default_event_types"], json!(["*"]));
    assert_eq!(
        tf.resources()["statuspulse_audit_sink.defaulted"]["event_types"],
        json!(["auth.*", "anomaly.*"])
    );
    tf.assert_no_changes();
    tf.write("main.tf", &config(400));
    tf.apply();
    // Deleting the sink moved the head after the settings were read: refresh them.
    tf.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);

    // Imported by the workspace id, it is what was applied and plans clean.
    let applied = settings(&tf);
    let import_dir = tf.sibling("import");
    for file in ["main.tf", "versions.tf"] {
        std::fs::copy(tf.work().join(file), import_dir.join(file)).unwrap();
    }
    let address = "statuspulse_audit_settings.this";
    let run = tf.run_in(&import_dir, &["import", "-no-color", address, &workspace]);
    assert_eq!(run.code, 0, "{}", run.all());
    let imported = tf.resources_in(&import_dir)[address].clone();
    assert_eq!(imported, applied);
    let plan = tf.run_in(&import_dir, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.code,
        0,
        "imported settings plan clean:\n{}",
        plan.all()
    );
    // Another workspace's settings cannot be reached with this credential.
    let run = tf.run_in(&import_dir, &["state", "rm", address]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = tf.run_in(
        &import_dir,
        &["import", "-no-color", address, "ws_someoneelse"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("Cannot import the audit settings of another workspace"),
        "{}",
        run.all()
    );
    std::fs::remove_dir_all(&import_dir).unwrap();

    // Destroyed: recording goes on, with the default retention.
    let head = on_server(&server)["head_seq"].as_i64().unwrap();
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(tf.resources().is_empty());
    let answer = on_server(&server);
    assert_eq!(answer["retention_days"], 365, "{answer}");
    assert!(answer["head_seq"].as_i64().unwrap() > head, "{answer}");
    let updates = server.audit_events("audit_settings.updated");
    let last = updates.last().unwrap();
    assert_eq!(last["details"]["after"]["retention_days"], 365, "{last}");
}
