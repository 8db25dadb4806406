//! Workload identity end to end: `statuspulse_workload_identity` managed with an API key, then a
//! pipeline's Terraform that holds no key at all authenticating with its CI platform's OIDC token
//! (`ci_issuer.rs`), which the real server verifies against the issuer's published keys and
//! exchanges for an access token acting as the service account.

use serde_json::{json, Value};

use crate::ci_issuer::{CiIssuer, REQUEST_TOKEN};
use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

/// The claims GitHub Actions puts in a token of a workflow of acme/infra on main.
fn main_branch_job() -> Value {
    json!({
        "sub": "repo:acme/infra:ref:refs/heads/main",
        "repository": "acme/infra",
        "repository_owner": "acme",
        "ref": "refs/heads/main",
        "ref_protected": true,
        "workflow": "statuspulse",
    })
}

fn feature_branch_job() -> Value {
    let mut claims = main_branch_job();
    claims["ref"] = json!("refs/heads/feature");
    claims["sub"] = json!("repo:acme/infra:ref:refs/heads/feature");
    claims
}

/// The server, which fetches discovery and keys from the issuer on 127.0.0.1.
fn server() -> Server {
    Server::start_with(&[("STATUSPULSE_ALLOW_LOOPBACK_IDPS", "true")])
}

/// The administrator's configuration: the pipeline's service account, what it may do, and the
/// trust policy its jobs' tokens are exchanged under.
fn trust_policy(issuer: &str, git_ref: &str, lifetime: Option<u32>) -> String {
    let lifetime = lifetime
        .map(|s| format!("  token_lifetime_seconds = {s}\n"))
        .unwrap_or_default();
    format!(
        r#"
resource "statuspulse_service_account" "ci" {{
  name = "terraform-ci"
}}

resource "statuspulse_role_binding" "ci" {{
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["admin:service_accounts", "admin:keys"]
}}

resource "statuspulse_workload_identity" "ci" {{
  name     = "acme-infra-main"
  issuer   = "{issuer}"
  audience = "statuspulse"
  conditions = {{
    repository = "acme/infra"
    ref        = "{git_ref}"
  }}
  service_account_id = statuspulse_role_binding.ci.service_account_id
  scopes             = ["admin:service_accounts"]
{lifetime}}}

output "workload_identity" {{
  value = statuspulse_workload_identity.ci.id
}}
"#
    )
}

/// What the pipeline manages with its exchanged token.
const PIPELINE: &str = r#"
resource "statuspulse_service_account" "made_by_ci" {
  name        = "made-by-ci"
  description = "created by a pipeline that holds no key"
}
"#;

/// Creates the trust policy with the admin key; returns its id.
fn administer(server: &Server, version: &'static str, issuer: &CiIssuer) -> (Terraform, String) {
    let tf = Terraform::new(version, server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write(
        "main.tf",
        &trust_policy(&issuer.url, "refs/heads/main", None),
    );
    tf.apply();
    let id = tf.outputs()["workload_identity"]
        .as_str()
        .unwrap()
        .to_owned();
    (tf, id)
}

/// A pipeline's working directory: no API key anywhere.
fn pipeline(server: &Server, version: &'static str, provider_block: &str) -> Terraform {
    let mut tf = Terraform::new(version, server);
    tf.set_env("STATUSPULSE_API_KEY", "");
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write("provider.tf", provider_block);
    tf.write("main.tf", PIPELINE);
    tf
}

/// Terraform wraps diagnostics at 78 columns: the text with its line breaks undone.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn errors(text: &str) -> usize {
    text.matches("Error: ").count()
}

/// Create, plan clean, import by name, update in place, replace on a new issuer, drift, destroy.
pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let issuer = CiIssuer::start(main_branch_job());
    let server = server();
    let (tf, id) = administer(&server, version, &issuer);
    assert!(id.starts_with("wi_"), "{id}");
    tf.assert_no_changes();
    let state = tf.resources()["statuspulse_workload_identity.ci"].clone();
    assert_eq!(state["token_lifetime_seconds"], 900, "{state}");
    assert_eq!(
        state["conditions"],
        json!({"repository": "acme/infra", "ref": "refs/heads/main"})
    );
    assert_eq!(state["scopes"], json!(["admin:service_accounts"]));
    assert_eq!(state["issuer"], issuer.url.as_str());
    let (status, on_server) = server.admin("GET", &format!("/v1/workload-identities/{id}"), None);
    assert_eq!(status, 200, "{on_server}");
    assert_eq!(on_server["audience"], "statuspulse");

    // Import by name reads back exactly what was created.
    let import = tf.sibling("import");
    for file in ["versions.tf", "main.tf"] {
        std::fs::copy(tf.work().join(file), import.join(file)).unwrap();
    }
    let run = tf.run_in(
        &import,
        &[
            "import",
            "-no-color",
            "statuspulse_workload_identity.ci",
            "name:acme-infra-main",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        tf.resources_in(&import)["statuspulse_workload_identity.ci"],
        state
    );

    // Conditions and lifetime change in place.
    tf.write(
        "main.tf",
        &trust_policy(&issuer.url, "refs/heads/release-*", Some(1800)),
    );
    tf.apply();
    tf.assert_no_changes();
    let updated = tf.resources()["statuspulse_workload_identity.ci"].clone();
    assert_eq!(updated["id"], id.as_str(), "updated in place");
    let (_, on_server) = server.admin("GET", &format!("/v1/workload-identities/{id}"), None);
    assert_eq!(on_server["token_lifetime_seconds"], 1800);
    assert_eq!(on_server["conditions"]["ref"], "refs/heads/release-*");

    // Another issuer is another trust policy.
    let other = CiIssuer::start(main_branch_job());
    tf.write(
        "main.tf",
        &trust_policy(&other.url, "refs/heads/release-*", Some(1800)),
    );
    let plan = tf.plan();
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply();
    let replaced = tf.outputs()["workload_identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(replaced, id);
    let (status, _) = server.admin("GET", &format!("/v1/workload-identities/{id}"), None);
    assert_eq!(status, 404);

    // Deleted outside Terraform: the next plan recreates it.
    let (status, _) = server.admin(
        "DELETE",
        &format!("/v1/workload-identities/{replaced}"),
        None,
    );
    assert_eq!(status, 204);
    let plan = tf.plan();
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(tf.resources().is_empty());
}

/// A GitHub Actions job with `id-token: write` and an empty provider block: the provider asks
/// the job's ID token endpoint for a token (a fresh one for every provider process Terraform
/// starts) and exchanges it; the pipeline creates, plans clean and destroys without any key.
pub fn github_actions_job_needs_no_configuration(version: &'static str) {
    let _heavy = heavy_lock();
    let issuer = CiIssuer::start(main_branch_job());
    let server = server();
    let (_admin, _) = administer(&server, version, &issuer);
    let mut tf = pipeline(&server, version, "provider \"statuspulse\" {}\n");
    tf.set_env("ACTIONS_ID_TOKEN_REQUEST_URL", &issuer.request_url());
    tf.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN);
    let minted = issuer.minted();
    tf.apply();
    tf.assert_no_changes();
    assert!(issuer.minted() > minted, "no ID token was asked for");
    let (status, page) = server.admin("GET", "/v1/service-accounts?limit=200", None);
    assert_eq!(status, 200);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "made-by-ci"),
        "{page}"
    );
    let exchanged = server.audit_events("token.exchanged");
    assert!(!exchanged.is_empty(), "no token.exchanged event");
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(tf.resources().is_empty());

    // A job of another branch is refused, with the reason, before anything is planned.
    issuer.set_job_claims(feature_branch_job());
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        flat(&run.all()).contains("StatusPulse refused the provider's OIDC token"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("`ref`"), "{}", run.all());
    assert!(!run.all().contains("eyJ"), "a JWT reached the output");
}

/// `oidc_token_file`, as a CI step that writes its token: a fresh token for each start of the
/// provider (the server exchanges a token once, and Terraform starts the provider once per
/// command phase). A refusal names the unmet condition, or the replay, without the token; with
/// `oidc_token`, the secrets stay out of `TF_LOG=trace` output.
pub fn token_file_and_token_value(version: &'static str) {
    let _heavy = heavy_lock();
    let issuer = CiIssuer::start(main_branch_job());
    let server = server();
    let (_admin, wi) = administer(&server, version, &issuer);
    let token_file = tempfile::NamedTempFile::new().unwrap();
    let path = token_file.path().display().to_string();
    let tf = pipeline(
        &server,
        version,
        &format!(
            "provider \"statuspulse\" {{\n  oidc_token_file   = \"{path}\"\n  workload_identity = \"{wi}\"\n}}\n"
        ),
    );
    let fresh = || {
        std::fs::write(
            token_file.path(),
            issuer.token("statuspulse", &main_branch_job(), 300),
        )
        .unwrap();
    };
    // Each start of the provider exchanges, and the server exchanges a token once: the pipeline
    // plans and applies a saved plan, a fresh token in the file for each.
    fresh();
    let plan = tf.ok(&["plan", "-no-color", "-out=tfplan"]);
    assert!(plan.stdout.contains("made-by-ci"), "{}", plan.stdout);
    fresh();
    tf.ok(&["apply", "-no-color", "tfplan"]);
    fresh();
    tf.assert_no_changes();
    let made = tf.resources()["statuspulse_service_account.made_by_ci"].clone();
    let (status, _) = server.admin(
        "GET",
        &format!("/v1/service-accounts/{}", made["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        status, 200,
        "the pipeline's service account is not on the server"
    );
    // A destroy plan refreshes in a walk (a provider start) of its own on Terraform 1.3 and
    // later: without the refresh it is one start, one token.
    fresh();
    tf.ok(&[
        "plan",
        "-destroy",
        "-refresh=false",
        "-no-color",
        "-out=tfplan",
    ]);
    fresh();
    tf.ok(&["apply", "-no-color", "tfplan"]);
    assert!(tf.resources().is_empty());

    // A token used once is refused again, and the diagnostic says why and what to do.
    let token = issuer.token("statuspulse", &main_branch_job(), 300);
    std::fs::write(token_file.path(), &token).unwrap();
    tf.ok(&["plan", "-no-color"]);
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        flat(&run.all()).contains("already exchanged"),
        "{}",
        run.all()
    );
    assert!(
        flat(&run.all()).contains("terraform apply tfplan"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(&token), "the token reached the output");

    // The unmet condition is named; the token is not.
    let refused = issuer.token("statuspulse", &feature_branch_job(), 300);
    std::fs::write(token_file.path(), &refused).unwrap();
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(run.all().contains("`ref`"), "{}", run.all());
    assert!(
        flat(&run.all()).contains("oidc_token_file"),
        "{}",
        run.all()
    );
    assert!(
        !run.all().contains(&refused),
        "the token reached the output"
    );

    // `oidc_token` from a variable, with every log Terraform writes: neither the OIDC token nor
    // the access token (both JWTs, `eyJ…`) appears.
    let mut tf = pipeline(
        &server,
        version,
        "variable \"ci_token\" {\n  type      = string\n  sensitive = true\n}\n\nprovider \"statuspulse\" {\n  oidc_token = var.ci_token\n}\n",
    );
    tf.set_env(
        "TF_VAR_ci_token",
        &issuer.token("statuspulse", &main_branch_job(), 300),
    );
    tf.set_env("TF_LOG", "trace");
    let run = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(!run.all().contains("eyJ"), "a JWT reached the logs");
}

/// Two credentials in the provider block are refused before any exchange.
pub fn conflicting_credentials_are_refused(version: &'static str) {
    let server = Server::start();
    let tf = pipeline(
        &server,
        version,
        &format!(
            "provider \"statuspulse\" {{\n  api_key         = \"sp_live_{}\"\n  oidc_token_file = \"/run/ci/token\"\n}}\n",
            "A".repeat(64)
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        run.all().contains("Conflicting StatusPulse credentials"),
        "{}",
        run.all()
    );
}
