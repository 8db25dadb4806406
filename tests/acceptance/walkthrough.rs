//! The lifecycle of issue 3, walked on each Terraform version: create, no-op plan, update in
//! place, import and compare, rotation by replacement with create_before_destroy, revocation
//! outside Terraform, destroy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{heavy_lock, Server, Terraform};

const PROVIDERS: &str = r#"
terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

provider "statuspulse" {}
"#;

fn config(name: &str, scopes: &[&str], description: &str) -> String {
    config_with_keepers(name, scopes, description, "")
}

fn config_with_keepers(name: &str, scopes: &[&str], description: &str, keepers: &str) -> String {
    let scopes = scopes
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"{PROVIDERS}
resource "statuspulse_service_account" "ci" {{
  name        = "ci-{name}"
  description = "{description}"
}}

resource "statuspulse_role_binding" "ci" {{
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["read:checks", "read:metrics"]
}}

resource "statuspulse_api_key" "ci" {{
  name               = "ci-{name}"
  environment        = "live"
  service_account_id = statuspulse_service_account.ci.id
  scopes             = [{scopes}]
  check_group_ids    = ["cg_web"]
  {keepers}

  lifecycle {{
    create_before_destroy = true
  }}

  depends_on = [statuspulse_role_binding.ci]
}}
"#
    )
}

fn key_of(tf: &Terraform) -> Value {
    tf.resources()["statuspulse_api_key.ci"].clone()
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
}

/// Verifies with one key in a loop until finished: (calls, refusals).
struct Consumer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(usize, usize)>,
}

impl Consumer {
    fn start(server: &Server, key: &str) -> Consumer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let url = format!("{}/v1/auth/verify", server.url);
        let key = key.to_owned();
        let handle = std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let (mut calls, mut refused) = (0, 0);
            while !flag.load(Ordering::SeqCst) {
                if let Ok(response) = http.get(&url).bearer_auth(&key).send() {
                    calls += 1;
                    if response.status().as_u16() == 401 {
                        refused += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            (calls, refused)
        });
        Consumer { stop, handle }
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// Polls the server while Terraform applies, recording whether at any sample the service account
/// had no usable (non-revoked) key: the moment a pipeline would see a refusal.
struct KeyWatcher {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(usize, usize)>,
}

impl KeyWatcher {
    fn start(server: &Server, service_account_id: &str) -> KeyWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let url = format!(
            "{}/v1/api-keys?service_account_id={service_account_id}&limit=200",
            server.url
        );
        let admin = server.admin_key.clone();
        let handle = std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let (mut samples, mut gaps) = (0, 0);
            while !flag.load(Ordering::SeqCst) {
                if let Ok(response) = http.get(&url).bearer_auth(&admin).send() {
                    let page: Value = response.json().unwrap_or(Value::Null);
                    let usable = page["items"].as_array().map_or(0, |items| {
                        items
                            .iter()
                            .filter(|k| k["status"] == "active" || k["status"] == "rotating")
                            .count()
                    });
                    samples += 1;
                    if usable == 0 {
                        gaps += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (samples, gaps)
        });
        KeyWatcher { stop, handle }
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

pub fn walk(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);

    // Create.
    tf.write("main.tf", &config("v1", &["read:checks"], "first"));
    tf.apply();
    let created = key_of(&tf);
    let first_key = str_of(&created, "key").to_owned();
    let first_id = str_of(&created, "id").to_owned();
    let sa_id = str_of(&tf.resources()["statuspulse_service_account.ci"], "id").to_owned();
    assert!(first_key.starts_with("sp_live_"), "{created}");
    assert_eq!(created["rotation_days"], 90);
    assert_eq!(created["status"], "active");
    assert_eq!(server.verify(&first_key), 200);

    // A second plan after apply shows no changes.
    tf.assert_no_changes();

    // Update in place: name, description and scopes change, the key (and its secret) stay.
    tf.write(
        "main.tf",
        &config("v2", &["read:checks", "read:metrics"], "second"),
    );
    let plan = tf.plan();
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("2 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let updated = key_of(&tf);
    assert_eq!(str_of(&updated, "id"), first_id);
    assert_eq!(str_of(&updated, "key"), first_key);
    assert_eq!(updated["name"], "ci-v2");
    assert_eq!(updated["scopes"], json!(["read:checks", "read:metrics"]));
    assert_eq!(server.verify(&first_key), 200);
    tf.assert_no_changes();

    // Import into an empty state and compare: everything but the never-shown-again secret.
    let import_dir = tf.sibling("import");
    std::fs::copy(tf.work().join("main.tf"), import_dir.join("main.tf")).unwrap();
    let imported_ok = |args: &[&str]| {
        let run = tf.run_in(&import_dir, args);
        assert_eq!(run.code, 0, "import failed:\n{}", run.all());
    };
    imported_ok(&[
        "import",
        "-no-color",
        "statuspulse_service_account.ci",
        &sa_id,
    ]);
    imported_ok(&["import", "-no-color", "statuspulse_api_key.ci", &first_id]);
    let binding_id = str_of(&tf.resources()["statuspulse_role_binding.ci"], "id").to_owned();
    imported_ok(&[
        "import",
        "-no-color",
        "statuspulse_role_binding.ci",
        &binding_id,
    ]);
    let imported = tf.resources_in(&import_dir);
    let original = tf.resources();
    for address in [
        "statuspulse_service_account.ci",
        "statuspulse_role_binding.ci",
    ] {
        assert_eq!(imported[address], original[address], "{address}");
    }
    let mut imported_key = imported["statuspulse_api_key.ci"].clone();
    assert_eq!(
        imported_key["key"],
        Value::Null,
        "after import the secret is null"
    );
    imported_key["key"] = original["statuspulse_api_key.ci"]["key"].clone();
    assert_eq!(imported_key, original["statuspulse_api_key.ci"]);
    let import_plan = tf.run_in(&import_dir, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        import_plan.code,
        0,
        "imported state plans clean:\n{}",
        import_plan.all()
    );

    // Rotation: past rotate_after the next plan replaces the key, and with create_before_destroy
    // a usable key exists at every moment of the apply.
    let clock = server.advance_clock(91 * 24 * 3600);
    assert_eq!(clock.status().as_u16(), 200);
    let plan = tf.plan();
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("statuspulse_api_key.ci must be replaced"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("rotation_due"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("+/- resource"),
        "create before destroy: {}",
        plan.stdout
    );
    assert_eq!(
        server.verify(&first_key),
        200,
        "a key due for rotation still works"
    );
    let watcher = KeyWatcher::start(&server, &sa_id);
    // A consumer that keeps using the key it last read, through the apply and after it (it
    // reads the new one from its vault later): it must never be refused.
    let consumer = Consumer::start(&server, &first_key);
    tf.apply();
    let (samples, gaps) = watcher.finish();
    assert!(
        samples > 0 && gaps == 0,
        "{gaps} of {samples} samples saw no usable key"
    );
    let rotated = key_of(&tf);
    let second_key = str_of(&rotated, "key").to_owned();
    let second_id = str_of(&rotated, "id").to_owned();
    assert_ne!(second_id, first_id);
    assert_eq!(rotated["rotation_due"], false);
    assert_eq!(server.verify(&second_key), 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (calls, refused) = consumer.finish();
    assert!(
        calls > 0 && refused == 0,
        "{refused} of {calls} verifications with the old key were refused"
    );
    assert_eq!(
        server.verify(&first_key),
        200,
        "the replaced key works through its grace period"
    );
    let (_, old) = server.admin("GET", &format!("/v1/api-keys/{first_id}"), None);
    assert_eq!(old["status"], "rotating");
    assert_eq!(
        old["successor_id"],
        second_id.as_str(),
        "the replacement is recorded"
    );
    tf.assert_no_changes();
    // revoke_grace_period_hours defaults to a day.
    assert_eq!(server.advance_clock(23 * 3600).status().as_u16(), 200);
    assert_eq!(server.verify(&first_key), 200, "23 hours later");
    assert_eq!(server.advance_clock(2 * 3600).status().as_u16(), 200);
    assert_eq!(server.verify(&first_key), 401, "25 hours later");

    // Revoked outside Terraform: the next plan recreates the key.
    let (status, _) = server.admin(
        "POST",
        "/v1/api-keys/revoke",
        Some(json!({"id": second_id, "reason": "leaked in a log"})),
    );
    assert_eq!(status, 200);
    assert_eq!(server.verify(&second_key), 401);
    let plan = tf.plan();
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("statuspulse_api_key.ci must be replaced"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let third = key_of(&tf);
    let third_key = str_of(&third, "key").to_owned();
    let third_id = str_of(&third, "id").to_owned();
    assert_eq!(server.verify(&third_key), 200);
    tf.assert_no_changes();

    // A changed keeper forces a new key on demand, again without a gap.
    tf.write(
        "main.tf",
        &config_with_keepers(
            "v2",
            &["read:checks", "read:metrics"],
            "second",
            "keepers = { rotation = \"2025-q2\" }",
        ),
    );
    let plan = tf.plan();
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("statuspulse_api_key.ci must be replaced"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("forces replacement"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let rekeyed = key_of(&tf);
    assert_ne!(str_of(&rekeyed, "id"), third_id);
    assert_eq!(server.verify(str_of(&rekeyed, "key")), 200);
    assert_eq!(server.verify(&third_key), 200, "in its grace period");
    tf.assert_no_changes();
    let replaced_key = third_key;
    let third_key = str_of(&rekeyed, "key").to_owned();
    let third_id = str_of(&rekeyed, "id").to_owned();

    // Destroy revokes: the key is refused and stays visible as revoked (quarantine).
    // A plain destroy revokes at once, the generations it replaced too (so the service account
    // can go).
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(server.verify(&third_key), 401);
    assert_eq!(server.verify(&replaced_key), 401);
    assert_eq!(server.verify(&first_key), 401);
    let (status, gone) = server.admin("GET", &format!("/v1/api-keys/{third_id}"), None);
    assert_eq!(status, 200, "a destroyed key stays readable: {gone}");
    assert_eq!(gone["status"], "revoked");
    let (status, _) = server.admin("GET", &format!("/v1/service-accounts/{sa_id}"), None);
    assert_eq!(status, 404);
}

/// A service account deleted outside Terraform is reported as drift and recreated.
pub fn service_account_deleted_outside_is_recreated(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &format!("{PROVIDERS}\nresource \"statuspulse_service_account\" \"gone\" {{\n  name = \"gone\"\n}}\n"),
    );
    tf.apply();
    let id = str_of(&tf.resources()["statuspulse_service_account.gone"], "id").to_owned();
    let (status, _) = server.admin("DELETE", &format!("/v1/service-accounts/{id}"), None);
    assert_eq!(status, 204);
    let plan = tf.plan();
    assert_eq!(plan.code, 2);
    assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
    tf.apply();
    tf.assert_no_changes();
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
}
