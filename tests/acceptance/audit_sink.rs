//! `statuspulse_audit_sink` against the real server: a webhook sink created without a secret
//! keeps the generated one in state, sensitive; changing the filter and the secret updates it in
//! place and rotates the secret (two signatures for 24 hours); delivery state moving on its own
//! never shows as a change; import by id and by name; plan-time checks point at the attribute
//! inside its block; a CloudWatch sink takes an access key (write-only where Terraform allows);
//! a webhook secret the user chooses is write-only where Terraform allows (rotated by its
//! version) and refused with a clear message where it does not; swapping the destination kind
//! replaces the sink; destroy deletes everything.
//!
//! Deliveries go to hosts that do not resolve here: they fail and are retried, which is what a
//! real sink does during an outage, and must not disturb any plan.

use std::path::Path;

use serde_json::Value;

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{assert_diagnostic_at, heavy_lock, Server, Terraform};

const ROTATED: &str = "whsec_c3RhdHVzcHVsc2Utcm90YXRlZC1zZWNyZXQtMzI=";
const AWS_SECRET: &str = "aws-secret-access-key-for-tests-0001";
const CHOSEN: &str = "whsec_c3RhdHVzcHVsc2UtY2hvc2VuLXNlY3JldC0wMDAx";
const CHOSEN_2: &str = "whsec_c3RhdHVzcHVsc2UtY2hvc2VuLXNlY3JldC0wMDAy";

/// A webhook sink whose secret the user chooses, write-only, at `version` (from an ephemeral
/// variable where Terraform has them).
fn chosen_secret_sink(version: u32, write_only: bool) -> String {
    let variable = aws_variable(write_only).replace("aws_secret", "webhook_secret");
    format!(
        r#"
{variable}

resource "statuspulse_audit_sink" "chosen" {{
  name    = "chosen"
  enabled = false
  webhook {{
    url               = "https://siem.example.com/chosen"
    secret_wo         = var.webhook_secret
    secret_wo_version = {version}
  }}
}}
"#
    )
}

/// The write-only webhook secret: kept out of plan and state, sent on create and on a new
/// version only; before Terraform 1.11, refused at plan time with what to do instead.
fn chosen_webhook_secret(tf: &mut Terraform, server: &Server, write_only: bool) {
    let dir = tf.sibling("chosen");
    std::fs::write(dir.join("versions.tf"), REQUIRED_PROVIDERS).unwrap();
    std::fs::write(dir.join("main.tf"), chosen_secret_sink(1, write_only)).unwrap();
    tf.set_env("TF_VAR_webhook_secret", CHOSEN);
    if !write_only {
        let run = tf.run_in(&dir, &["plan", "-no-color"]);
        assert_ne!(run.code, 0, "{}", run.all());
        assert!(run.all().contains("1.11 or later"), "{}", run.all());
        assert!(!run.all().contains(CHOSEN), "{}", run.all());
        return;
    }
    let applied = tf.run_in(&dir, &["apply", "-auto-approve", "-no-color"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let state = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap();
    assert!(
        !state.contains(CHOSEN) && !state.contains("whsec_"),
        "{state}"
    );
    let created = tf.resources_in(&dir)["statuspulse_audit_sink.chosen"].clone();
    assert!(
        created["webhook"][0]["secret"].is_null(),
        "not generated: {created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let events = server.audit_events("audit_sink.created");
    let event = events
        .iter()
        .find(|e| e["target"]["id"] == id.as_str())
        .unwrap();
    assert_eq!(event["details"]["secret_changed"], true, "{event}");
    // The same version with another value sends nothing; a new version rotates.
    tf.set_env("TF_VAR_webhook_secret", CHOSEN_2);
    let plan = tf.run_in(&dir, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    std::fs::write(dir.join("main.tf"), chosen_secret_sink(2, write_only)).unwrap();
    let applied = tf.run_in(&dir, &["apply", "-auto-approve", "-no-color"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(!applied.all().contains(CHOSEN_2));
    let (_, on_server) = sink(server, &id);
    assert!(
        on_server["webhook"]["previous_secret_valid_until"].is_string(),
        "rotated, the old secret signs beside the new one: {on_server}"
    );
    let rotated = tf.resources_in(&dir)["statuspulse_audit_sink.chosen"].clone();
    assert_eq!(
        rotated["webhook"][0]["previous_secret_valid_until"],
        on_server["webhook"]["previous_secret_valid_until"]
    );
    let plan = tf.run_in(&dir, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let run = tf.run_in(&dir, &["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.all());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn webhook_sink(event_types: &str, secret: &str) -> String {
    format!(
        r#"
resource "statuspulse_audit_sink" "siem" {{
  name = "siem"
{event_types}
  webhook {{
    url = "https://siem.example.com/statuspulse"
{secret}
  }}
}}
"#
    )
}

/// The generated secret handed on, as a configuration would (kept out of the import checks'
/// directory: an output the imported state lacks would be a change).
const OUTPUT: &str = r#"
output "secret" {
  value     = statuspulse_audit_sink.siem.webhook[0].secret
  sensitive = true
}
"#;

/// A CloudWatch sink with an access key, in the secret's form this Terraform supports.
fn cloudwatch_sink(address: &str, name: &str, write_only: bool, key_version: u32) -> String {
    let secret = if write_only {
        format!("    secret_access_key_wo         = var.aws_secret\n    secret_access_key_wo_version = {key_version}")
    } else {
        "    secret_access_key = var.aws_secret".to_owned()
    };
    format!(
        r#"
resource "statuspulse_audit_sink" "{address}" {{
  name    = "{name}"
  enabled = false

  cloudwatch {{
    region        = "eu-west-1"
    log_group     = "/statuspulse/audit"
    log_stream    = "acceptance"
    access_key_id = "AKIAIOSFODNN7EXAMPLE"
{secret}
  }}
}}
"#
    )
}

fn aws_variable(write_only: bool) -> String {
    let ephemeral = if write_only {
        "  ephemeral = true\n"
    } else {
        ""
    };
    format!("variable \"aws_secret\" {{\n  type      = string\n  sensitive = true\n{ephemeral}}}\n")
}

fn sink(server: &Server, id: &str) -> (u16, Value) {
    server.admin("GET", &format!("/v1/audit-sinks/{id}"), None)
}

/// `terraform show -json`'s record of which values of `address` are sensitive.
fn sensitive_values(tf: &Terraform, dir: &Path, address: &str) -> Value {
    let run = tf.run_in(dir, &["show", "-json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let state: Value = serde_json::from_str(&run.stdout).unwrap();
    state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .map_or_else(
            || panic!("{address} not in state"),
            |r| r["sensitive_values"].clone(),
        )
}

fn supports_write_only(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (1, 11)
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);

    // Created without a secret: the generated one is in state, sensitive, and in no output.
    tf.write("main.tf", &webhook_sink("", ""));
    tf.write("outputs.tf", OUTPUT);
    let applied = tf.apply();
    assert!(!applied.all().contains("whsec_"), "{}", applied.all());
    let created = tf.resources()["statuspulse_audit_sink.siem"].clone();
    let id = created["id"].as_str().unwrap().to_owned();
    let generated = created["webhook"][0]["secret"].as_str().unwrap().to_owned();
    assert!(generated.starts_with("whsec_"), "{created}");
    assert_eq!(tf.outputs()["secret"], generated.as_str());
    // Terraform 1.0 leaves schema-sensitive values out of `sensitive_values`; its `show` redacts.
    let marked = sensitive_values(&tf, &tf.work(), "statuspulse_audit_sink.siem");
    if !version.starts_with("1.0.") {
        assert_eq!(marked["webhook"][0]["secret"], true, "{marked}");
    }
    let shown = tf.ok(&["show", "-no-color"]).stdout;
    assert!(
        !shown.contains(&generated) && shown.contains("(sensitive value)"),
        "{shown}"
    );
    assert_eq!(created["event_types"], serde_json::json!(["*"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["status"], "active");
    tf.assert_no_changes();

    // The chain grows and deliveries fail: lag and last_error move, the plan stays empty.
    for n in 0..3 {
        let (status, body) = server.admin(
            "POST",
            "/v1/service-accounts",
            Some(serde_json::json!({"name": format!("noise-{n}")})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (_, moved) = sink(&server, &id);
    assert!(moved["lag"].as_i64().unwrap() >= 3, "{moved}");
    tf.assert_no_changes();
    // Terraform before 1.2 lists every refreshed value under "Objects have changed outside of
    // Terraform" (a note, not a change); later versions only those a change depends on.
    let quiet = tf.plan().stdout;
    assert!(quiet.contains("No changes."), "{quiet}");
    if !version.starts_with("1.0.") && !version.starts_with("1.1.") {
        assert!(!quiet.contains("changed outside of Terraform"), "{quiet}");
    }

    // Filter and secret change in place; the new secret rotates, the old one signs for 24 h.
    tf.write(
        "main.tf",
        &webhook_sink(
            "  event_types = [\"auth.*\", \"api_key.*\"]\n",
            &format!("    secret = \"{ROTATED}\""),
        ),
    );
    let plan = tf.plan();
    assert!(plan.stdout.contains("1 to change"), "{}", plan.stdout);
    assert!(!plan.stdout.contains(ROTATED), "{}", plan.stdout);
    tf.apply();
    let updated = tf.resources()["statuspulse_audit_sink.siem"].clone();
    assert_eq!(updated["id"], id.as_str(), "updated in place");
    assert_eq!(updated["webhook"][0]["secret"], ROTATED);
    assert!(
        updated["webhook"][0]["previous_secret_valid_until"].is_string(),
        "{updated}"
    );
    let (_, on_server) = sink(&server, &id);
    assert_eq!(
        on_server["event_types"],
        serde_json::json!(["auth.*", "api_key.*"])
    );
    let changes = server.audit_events("audit_sink.updated");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["details"]["secret_changed"], true);
    tf.assert_no_changes();

    // The secret left out again: the current one stays, nothing is sent.
    tf.write(
        "main.tf",
        &webhook_sink("  event_types = [\"auth.*\", \"api_key.*\"]\n", ""),
    );
    tf.assert_no_changes();

    // Import by id and by name: the same sink, without its secret.
    let import_dir = tf.sibling("import");
    std::fs::copy(tf.work().join("main.tf"), import_dir.join("main.tf")).unwrap();
    std::fs::copy(
        tf.work().join("versions.tf"),
        import_dir.join("versions.tf"),
    )
    .unwrap();
    for (n, import_id) in [id.clone(), "name:siem".to_owned()].iter().enumerate() {
        if n > 0 {
            let run = tf.run_in(&import_dir, &["state", "rm", "statuspulse_audit_sink.siem"]);
            assert_eq!(run.code, 0, "{}", run.all());
        }
        let run = tf.run_in(
            &import_dir,
            &[
                "import",
                "-no-color",
                "statuspulse_audit_sink.siem",
                import_id,
            ],
        );
        assert_eq!(run.code, 0, "import {import_id}:\n{}", run.all());
        let imported = tf.resources_in(&import_dir)["statuspulse_audit_sink.siem"].clone();
        assert_eq!(imported["id"], id.as_str());
        assert_eq!(imported["event_types"], updated["event_types"]);
        assert_eq!(imported["webhook"][0]["url"], updated["webhook"][0]["url"]);
        assert!(imported["webhook"][0]["secret"].is_null(), "{imported}");
        let plan = tf.run_in(&import_dir, &["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 0, "imported sink plans clean:\n{}", plan.all());
    }
    std::fs::remove_dir_all(&import_dir).unwrap();

    // Plan-time checks, on the attribute inside its block, before anything is sent.
    let bad_dir = tf.sibling("bad");
    std::fs::write(bad_dir.join("versions.tf"), REQUIRED_PROVIDERS).unwrap();
    std::fs::write(
        bad_dir.join("main.tf"),
        r#"
resource "statuspulse_audit_sink" "plain_http" {
  name = "bad-webhook"
  webhook {
    url = "http://siem.example.com/in"
  }
}

resource "statuspulse_audit_sink" "bad_region" {
  name        = "bad-cloudwatch"
  event_types = ["auth.*"]
  cloudwatch {
    region     = "Europe"
    log_group  = "audit"
    log_stream = "s"
  }
}
"#,
    )
    .unwrap();
    let run = tf.run_in(&bad_dir, &["plan", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let text = run.all();
    assert_diagnostic_at(
        &text,
        "Invalid webhook.url",
        "url = \"http://siem.example.com/in\"",
    );
    assert_diagnostic_at(
        &text,
        "Invalid cloudwatch.region",
        "region     = \"Europe\"",
    );
    std::fs::remove_dir_all(&bad_dir).unwrap();

    // A CloudWatch sink with an access key (deliveries cannot reach AWS here; it is paused).
    let write_only = supports_write_only(version);
    tf.set_env("TF_VAR_aws_secret", AWS_SECRET);
    let webhook = webhook_sink("  event_types = [\"auth.*\", \"api_key.*\"]\n", "");
    tf.write(
        "main.tf",
        &format!(
            "{webhook}{}{}",
            aws_variable(write_only),
            cloudwatch_sink("cw", "cloudwatch", write_only, 1)
        ),
    );
    let applied = tf.apply();
    assert!(!applied.all().contains(AWS_SECRET));
    let cw = tf.resources()["statuspulse_audit_sink.cw"].clone();
    let cw_id = cw["id"].as_str().unwrap().to_owned();
    let (_, on_server) = sink(&server, &cw_id);
    assert_eq!(on_server["kind"], "cloudwatch");
    assert_eq!(on_server["cloudwatch"]["secret_access_key_set"], true);
    assert_eq!(on_server["status"], "disabled");
    let state = std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap();
    assert_eq!(
        state.contains(AWS_SECRET),
        !write_only,
        "the write-only key stays out of state, the sensitive form is in it"
    );
    tf.assert_no_changes();

    // A new key: by value in the sensitive form, by version in the write-only one.
    tf.set_env("TF_VAR_aws_secret", &format!("{AWS_SECRET}-2"));
    if write_only {
        tf.assert_no_changes();
        tf.write(
            "main.tf",
            &format!(
                "{webhook}{}{}",
                aws_variable(write_only),
                cloudwatch_sink("cw", "cloudwatch", write_only, 2)
            ),
        );
    }
    tf.apply();
    let rotations: Vec<Value> = server
        .audit_events("audit_sink.updated")
        .into_iter()
        .filter(|e| e["target"]["id"] == cw_id.as_str())
        .collect();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0]["details"]["secret_changed"], true);
    tf.assert_no_changes();

    chosen_webhook_secret(&mut tf, &server, write_only);

    // The webhook sink becomes a CloudWatch sink: the kind cannot change, so it is replaced.
    std::fs::remove_file(tf.work().join("outputs.tf")).unwrap();
    tf.write(
        "main.tf",
        &format!(
            "{}{}{}",
            aws_variable(write_only),
            cloudwatch_sink("cw", "cloudwatch", write_only, 2),
            cloudwatch_sink("siem", "siem", write_only, 1)
        ),
    );
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("must be replaced") && plan.stdout.contains("1 to add"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let replaced = tf.resources()["statuspulse_audit_sink.siem"].clone();
    assert_ne!(replaced["id"], id.as_str());
    assert_eq!(sink(&server, &id).0, 404);
    tf.assert_no_changes();

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    let (_, page) = server.admin("GET", "/v1/audit-sinks", None);
    assert_eq!(page["items"], serde_json::json!([]), "destroy left sinks");
}
