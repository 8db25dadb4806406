//! `statuspulse_oauth_client` and `statuspulse_oidc_metadata` against the real server: the secret
//! of a confidential client is the one the server knows (it authenticates at `/oauth2/introspect`)
//! and stays in the state through refreshes and updates; name, redirect URIs and scopes change in
//! place, the client type replaces; a client deleted outside Terraform is planned again; the data
//! source is the server's discovery document. Plan-time checks refuse bad values on their
//! attribute, before anything is created.

use serde_json::Value;

use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{heavy_lock, Server, Terraform};

fn config(name: &str, public: bool, redirect_uris: &str, scopes: &str) -> String {
    config_with(name, public, redirect_uris, scopes, "")
}

/// [`config`] with more attribute lines (`extra`) in the resource block.
fn config_with(name: &str, public: bool, redirect_uris: &str, scopes: &str, extra: &str) -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "statuspulse_oauth_client" "app" {{
  name           = "{name}"
  public         = {public}
  redirect_uris  = [{redirect_uris}]
  allowed_scopes = [{scopes}]
  {extra}
}}

data "statuspulse_oidc_metadata" "this" {{}}
"#
    )
}

fn app(tf: &Terraform) -> Value {
    tf.resources()["statuspulse_oauth_client.app"].clone()
}

/// The status `/oauth2/introspect` answers the client with this secret (200 when the server
/// authenticates it, 401 `invalid_client` otherwise).
fn introspect_status(server: &Server, client_id: &str, secret: &str) -> u16 {
    reqwest::blocking::Client::new()
        .post(format!("{}/oauth2/introspect", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "client_id={client_id}&client_secret={secret}&token=not-a-token"
        ))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    let web = r#""https://app.example.com/callback""#;
    tf.write(
        "main.tf",
        &config("web", false, web, r#""openid", "email""#),
    );
    tf.apply();
    tf.assert_no_changes();

    let created = app(&tf);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("oc_"), "{created}");
    assert_eq!(created["client_id"], created["id"]);
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("spc_"), "{created}");
    assert_eq!(created["signing_alg"], "ES256", "the default, planned");
    assert_eq!(introspect_status(&server, &id, &secret), 200);
    assert_eq!(introspect_status(&server, &id, "spc_wrong"), 401);

    // The data source is the server's document, member for member.
    let metadata = tf.run(&["show", "-json"]);
    let shown: Value = serde_json::from_str(&metadata.stdout).unwrap();
    let data = shown["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "data.statuspulse_oidc_metadata.this")
        .expect("the data source is in the state")["values"]
        .clone();
    let served: Value =
        reqwest::blocking::get(format!("{}/.well-known/openid-configuration", server.url))
            .unwrap()
            .json()
            .unwrap();
    // Read from the configured endpoint: this server's issuer is its own URL.
    assert_eq!(data["issuer"], server.url.as_str());
    let document: Value = serde_json::from_str(data["document"].as_str().unwrap()).unwrap();
    assert_eq!(document, served);
    for member in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "scopes_supported",
        "code_challenge_methods_supported",
        "grant_types_supported",
    ] {
        assert_eq!(data[member], served[member], "{member}");
    }

    // Name, redirect URIs (in their order), scopes and the signing algorithm change in place;
    // the secret stays.
    let two = r#""https://app.example.com/b", "http://127.0.0.1:8400/a""#;
    tf.write(
        "main.tf",
        &config_with(
            "web renamed",
            false,
            two,
            r#""openid", "statuspulse:checks:read""#,
            r#"signing_alg = "RS256""#,
        ),
    );
    let plan = tf.plan();
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    tf.apply();
    tf.assert_no_changes();
    let updated = app(&tf);
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["client_secret"], secret.as_str());
    let (status, on_server) = server.admin("GET", &format!("/v1/oauth-clients/{id}"), None);
    assert_eq!(status, 200, "{on_server}");
    assert_eq!(on_server["name"], "web renamed");
    assert_eq!(
        on_server["redirect_uris"],
        serde_json::json!(["https://app.example.com/b", "http://127.0.0.1:8400/a"])
    );
    assert_eq!(
        on_server["allowed_scopes"],
        serde_json::json!(["openid", "statuspulse:checks:read"])
    );
    assert_eq!(on_server["signing_alg"], "RS256");
    assert_eq!(updated["signing_alg"], "RS256");
    assert_eq!(introspect_status(&server, &id, &secret), 200);

    // Another type is another client: replaced, and a public one has no secret.
    tf.write("main.tf", &config("web renamed", true, two, r#""openid""#));
    let plan = tf.plan();
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply();
    tf.assert_no_changes();
    let public = app(&tf);
    let public_id = public["id"].as_str().unwrap().to_owned();
    assert_ne!(public_id, id);
    assert!(public["client_secret"].is_null(), "{public}");
    let (status, _) = server.admin("GET", &format!("/v1/oauth-clients/{id}"), None);
    assert_eq!(status, 404, "the replaced client was not deleted");

    // Deleted outside Terraform: the refresh notices, the plan creates it again.
    let (status, _) = server.admin("DELETE", &format!("/v1/oauth-clients/{public_id}"), None);
    assert_eq!(status, 204);
    let plan = tf.plan();
    assert!(plan.stdout.contains("1 to add"), "{}", plan.stdout);
    tf.apply();
    let again = app(&tf)["id"].as_str().unwrap().to_owned();

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    let (status, _) = server.admin("GET", &format!("/v1/oauth-clients/{again}"), None);
    assert_eq!(status, 404, "destroy left the client");
}

/// Bad scope, plain-http redirect URI, unknown signing algorithm, and empty lists: each one
/// diagnostic on its attribute, at plan time, and nothing created.
pub fn plan_time_validation(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &config_with(
            "bad",
            false,
            r#""http://app.example.com/callback""#,
            r#""openid", "read:checks""#,
            r#"signing_alg = "HS256""#,
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    for (summary, line) in [
        ("Invalid redirect_uris", "http://app.example.com/callback"),
        ("Invalid allowed_scopes", "read:checks"),
        ("Invalid signing_alg", "HS256"),
    ] {
        crate::harness::assert_diagnostic_at(&text, summary, line);
    }
    assert_eq!(text.matches("Error: ").count(), 3, "{text}");

    tf.write("main.tf", &config("empty", true, "", ""));
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("redirect_uris must list 1 to 10 URIs"),
        "{text}"
    );
    assert!(
        text.contains("allowed_scopes must list at least one scope"),
        "{text}"
    );
    assert!(text.contains("redirect_uris  = []"), "{text}");
    assert!(text.contains("allowed_scopes = []"), "{text}");
    assert_eq!(text.matches("Error: ").count(), 2, "{text}");

    let (status, page) = server.admin("GET", "/v1/oauth-clients", None);
    assert_eq!(status, 200);
    assert_eq!(
        page["items"],
        serde_json::json!([]),
        "a plan created a client"
    );
}
