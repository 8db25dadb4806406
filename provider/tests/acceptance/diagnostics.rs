//! What a user sees when something is wrong: one clear diagnostic, on the right attribute, and
//! never a Rust backtrace (RUST_BACKTRACE=1 is set for every run by the harness).

use crate::harness::{Server, Terraform};

const TWO_RESOURCES: &str = r#"
terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

provider "statuspulse" {}

resource "statuspulse_service_account" "a" {
  name = "a"
}

resource "statuspulse_api_key" "a" {
  name        = "a"
  environment = "test"
  scopes      = ["read:checks"]
}
"#;

fn errors(text: &str) -> usize {
    text.matches("Error: ").count()
}

pub fn wrong_credential(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    tf.set_env(
        "STATUSPULSE_API_KEY",
        &format!("sp_live_{}", "A".repeat(64)),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        run.all()
            .contains("StatusPulse rejected the provider's API key"),
        "{}",
        run.all()
    );
}

pub fn missing_credential(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    tf.set_env("STATUSPULSE_API_KEY", "");
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        run.all().contains("Missing StatusPulse API key"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("STATUSPULSE_API_KEY"), "{}", run.all());
}

pub fn validation(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "  environment = \"test\"\n  scopes      = [\"read:checks\"]",
            "  environment = \"prod\"\n  scopes      = [\"read:checks\", \"read:everything\"]\n  rotation_days = 366\n  service_account_id = \"key_123\"",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let text = run.all();
    for (summary, line) in [
        ("Invalid environment", "environment = \"prod\""),
        ("Unknown scope", "read:everything"),
        ("rotation_days out of range", "rotation_days = 366"),
        ("Invalid id", "service_account_id = \"key_123\""),
    ] {
        let at = text
            .find(&format!("Error: {summary}"))
            .unwrap_or_else(|| panic!("{summary}:\n{text}"));
        // Terraform quotes the offending line right under the diagnostic when it has a path.
        let quoted = &text[at..text[at..]
            .find("\n\n\n")
            .map_or(text.len(), |e| at + e)
            .min(text.len())];
        assert!(
            quoted.contains(line),
            "{summary} does not point at `{line}`:\n{quoted}"
        );
    }
    assert_eq!(errors(&text), 4, "{text}");
}

pub fn bad_imports(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    let run = tf.run(&[
        "import",
        "-no-color",
        "statuspulse_api_key.a",
        "key_0123456789abcdef",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.all().contains("Cannot import a missing API key"),
        "{}",
        run.all()
    );
    let run = tf.run(&["import", "-no-color", "statuspulse_api_key.a", "sa_0123"]);
    assert_eq!(run.code, 1);
    assert!(run.all().contains("Invalid import id"), "{}", run.all());
    let run = tf.run(&[
        "import",
        "-no-color",
        "statuspulse_service_account.a",
        "nonsense",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.all().contains("is not a service account id"),
        "{}",
        run.all()
    );
}

/// Plan-time scope validation uses a static copy of the catalog (validation runs before the
/// provider is configured); it must never drift from what the server serves.
pub fn static_catalog_matches_server() {
    let server = Server::start();
    let (status, body) = server.admin("GET", "/v1/scopes", None);
    assert_eq!(status, 200);
    let served: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let known: Vec<&str> = terraform_provider_statuspulse::model::SCOPE_CATALOG
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(served, known);
}

/// SPEC: a `sp_test_` key bound to a live cluster is caught at plan time, on the attribute.
pub fn test_key_in_live_cluster(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    let (status, body) = server.admin(
        "POST",
        "/v1/environment-clusters",
        Some(serde_json::json!({"name": "eu-prod-1", "environment": "live", "description": ""})),
    );
    assert_eq!(status, 201, "{body}");
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "  scopes      = [\"read:checks\"]",
            "  scopes      = [\"read:checks\"]\n  environment_clusters = [\"eu-prod-1\"]",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("Error: Environment cluster in another environment"),
        "{text}"
    );
    assert!(
        text.contains("environment_clusters = [\"eu-prod-1\"]"),
        "{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");
}

/// `statuspulse_effective_access` asks about exactly one principal; anything else is a plan-time
/// diagnostic on the attribute, before any API call.
pub fn effective_access_needs_exactly_one_principal(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    let header = TWO_RESOURCES.split("resource ").next().unwrap();
    tf.write(
        "main.tf",
        &format!(
            "{header}data \"statuspulse_effective_access\" \"both\" {{\n  api_key_id = \"key_0123456789abcdef\"\n  service_account_id = \"sa_0123456789abcdef\"\n}}\n"
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("Error: Set exactly one of api_key_id and service_account_id"),
        "{text}"
    );
    assert!(
        text.contains("service_account_id = \"sa_0123456789abcdef\""),
        "the diagnostic does not point at the attribute:\n{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");

    tf.write(
        "main.tf",
        &format!(
            "{header}data \"statuspulse_effective_access\" \"wrong\" {{\n  api_key_id = \"sa_0123456789abcdef\"\n}}\n"
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(text.contains("Error: Invalid id"), "{text}");
    assert!(
        text.contains("api_key_id = \"sa_0123456789abcdef\""),
        "{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");
}
