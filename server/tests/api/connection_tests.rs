//! Testing an SSO connection (`POST /v1/sso-connections/{id}/test`): a real sign-in round trip
//! through the real test IdPs (oidc-provider for OIDC, SimpleSAMLphp for SAML) whose return
//! reports the claims, the MFA evidence and the verdict of the connection's rules, and creates
//! no user and no session; and the attacks on it (another workspace, a narrower key, a bad
//! `return_to`, the test's state used as a sign-in, a forged token).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::idp::Shape;
use crate::on_both_backends;
use crate::sign_in::{connection, generic, idp_for, spawn, Browser};
use crate::sign_in_saml::saml_idp;

on_both_backends!(
    a_connection_test_reports_the_claims_and_mfa_and_creates_no_user_or_session,
    a_saml_connection_test_reports_the_assertion_and_its_authentication_context,
    only_an_sso_admin_of_the_workspace_starts_a_test_and_a_bad_request_changes_nothing,
);

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

impl Browser {
    /// `POST /v1/sso-connections/{id}/test` with `key`, from this browser (its cookie jar gets
    /// the sign-in cookie): the answer's status and body.
    pub async fn start_test(
        &self,
        app: &TestApp,
        key: &str,
        id: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(app.url(&format!("/v1/sso-connections/{id}/test")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The latest `sso_connection.tested` event of the operator workspace.
async fn last_test_event(app: &TestApp) -> Value {
    let events = app
        .get(
            "/v1/audit-events?event_type=sso_connection.tested&limit=100",
            &app.admin_key,
        )
        .await;
    events.body["items"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap_or(Value::Null)
}

async fn a_connection_test_reports_the_claims_and_mfa_and_creates_no_user_or_session(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(
        &app,
        &app.admin_key,
        "corp",
        generic(&idp),
        json!({"require_mfa": true, "email_domains": ["example.com"],
            "group_mappings": {"idp-ops": "ops"}}),
    )
    .await;

    // A person with a second factor: they would sign in; nothing is created.
    idp.set_next_login(
        json!({"sub": "tess", "email": "tess@example.com", "email_verified": true,
        "name": "Tess <Tester>", "groups": ["idp-ops", "idp-other"], "amr": ["pwd", "otp"]}),
    )
    .await;
    let browser = Browser::new();
    let (status, started) = browser
        .start_test(&app, &app.admin_key, &id, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let url = started["authorization_url"].as_str().unwrap();
    assert!(url.starts_with(&idp.issuer), "{url}");
    assert!(started["expires_at"].as_str().unwrap().ends_with('Z'));
    let back = idp.complete_authorization(url).await;
    let answer = browser.get(back.as_str()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers().get("set-cookie").is_none(),
        "a test sets no session cookie"
    );
    let report: Value = answer.json().await.unwrap();
    assert_eq!(report["outcome"], "would_sign_in", "{report}");
    assert_eq!(report["connection_id"], json!(id));
    assert_eq!(report["kind"], "oidc");
    assert_eq!(report["claims"]["subject"], "tess");
    assert_eq!(report["claims"]["email"], "tess@example.com");
    assert_eq!(report["claims"]["email_verified"], true);
    assert_eq!(
        report["claims"]["idp_groups"],
        json!(["idp-ops", "idp-other"])
    );
    assert_eq!(report["claims"]["amr"], json!(["pwd", "otp"]));
    assert_eq!(report["mfa"], true);
    assert_eq!(report["mfa_required"], true);
    assert_eq!(report["groups"], json!(["ops"]));
    assert!(report.get("code").is_none(), "{report}");
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);
    let me = browser.get(&app.url("/v1/me")).await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the tester is not signed in by it"
    );
    let event = last_test_event(&app).await;
    assert_eq!(event["outcome"], "success", "{event}");
    assert_eq!(event["actor"]["type"], "api_key", "{event}");
    assert_eq!(event["target"]["id"], json!(id));
    assert_eq!(event["details"]["subject"], "tess");
    assert_eq!(event["details"]["mfa"], true);

    // The test's state is used up: the same return again is an ordinary refusal.
    let again = browser.get(back.as_str()).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // One factor only: the page (what a person sees) says it would be refused, and why.
    idp.set_next_login(
        json!({"sub": "sam", "email": "sam@example.com", "email_verified": true,
        "name": "Sam <b>Single</b>", "groups": ["idp-ops"], "amr": ["pwd"]}),
    )
    .await;
    let browser = Browser::new();
    let (status, started) = browser
        .start_test(
            &app,
            &app.admin_key,
            &id,
            json!({"return_to": "/console/settings/security/sso"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let back = idp
        .complete_authorization(started["authorization_url"].as_str().unwrap())
        .await;
    let page = browser
        .http
        .get(back.as_str())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("sign-in would be refused"), "{html}");
    assert!(html.contains("mfa_required"), "{html}");
    assert!(
        html.contains("Sam &lt;b&gt;Single&lt;/b&gt;"),
        "claims are escaped: {html}"
    );
    assert!(
        html.contains("href=\"/console/settings/security/sso\""),
        "{html}"
    );
    let event = last_test_event(&app).await;
    assert_eq!(event["outcome"], "failure", "{event}");
    assert_eq!(event["reason"], "mfa_required", "{event}");

    // A forged ID token: no verified identity, so no claims; the reason is the verifier's.
    idp.set_next_login(json!({"sub": "mallory", "email": "m@example.com", "email_verified": true}))
        .await;
    idp.tamper_next_id_token(json!({"claims": {"nonce": "not-the-one-we-sent"}}))
        .await;
    let browser = Browser::new();
    let (_, started) = browser
        .start_test(&app, &app.admin_key, &id, json!({}))
        .await;
    let back = idp
        .complete_authorization(started["authorization_url"].as_str().unwrap())
        .await;
    let report: Value = browser.get(back.as_str()).await.json().await.unwrap();
    assert_eq!(report["outcome"], "failed", "{report}");
    assert_eq!(report["code"], "nonce_mismatch");
    assert!(report.get("claims").is_none(), "{report}");
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);
    assert_eq!(app.audit_count(&app.workspace_id, "sso.login").await, 0);
    assert_eq!(
        app.audit_count(&app.workspace_id, "sso_connection.tested")
            .await,
        3
    );
}

async fn a_saml_connection_test_reports_the_assertion_and_its_authentication_context(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let placeholder = json!({"name": "corp-saml", "kind": "saml", "require_mfa": true,
        "group_mappings": {"engineering": "eng"},
        "saml": {"idp_entity_id": "urn:placeholder", "idp_sso_url": "http://127.0.0.1:9/sso",
            "idp_certificate": saml_idp::SamlIdp::certificate_pem(), "groups_attribute": "groups"}});
    let created = app
        .post("/v1/sso-connections", &app.admin_key, placeholder)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let idp = saml_idp::SamlIdp::start(
        &app.url(&format!("/v1/sso-connections/{id}/saml/metadata")),
        &app.url("/v1/sso/saml/acs"),
    );
    let settings = idp.settings();
    let patched = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&app.admin_key),
            Some(json!({"saml": {"idp_entity_id": settings.entity_id, "idp_sso_url": settings.sso_url,
                "idp_certificate": settings.certificate_pem, "groups_attribute": "groups"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);

    // bob signs in with a second factor (the IdP's authentication context says so).
    for (user, password, outcome, mfa) in [
        ("bob", "bob-password", "would_sign_in", true),
        ("alice", "alice-password", "would_be_refused", false),
    ] {
        let browser = Browser::new();
        let (status, started) = browser
            .start_test(&app, &app.admin_key, &id, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{started}");
        let redirect = started["authorization_url"].as_str().unwrap();
        assert!(redirect.starts_with(&settings.sso_url), "{redirect}");
        let (response, relay_state) = idp.login(redirect, user, password).await;
        let answer = browser
            .http
            .post(app.url("/v1/sso/saml/acs"))
            .header("accept", "application/json")
            .form(&[
                ("SAMLResponse", response.as_str()),
                ("RelayState", relay_state.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{user}");
        let report: Value = answer.json().await.unwrap();
        assert_eq!(report["outcome"], outcome, "{user}: {report}");
        assert_eq!(report["kind"], "saml");
        assert_eq!(report["mfa"], mfa, "{user}: {report}");
        assert_eq!(report["claims"]["email"], format!("{user}@example.com"));
        assert!(report["claims"]["acr"].is_string(), "{report}");
    }
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);
}

async fn only_an_sso_admin_of_the_workspace_starts_a_test_and_a_bad_request_changes_nothing(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    let browser = Browser::new();

    // Another workspace's admin: the connection does not exist for them.
    let (other_workspace, other_admin) = app.new_workspace("other").await;
    assert_ne!(other_workspace, app.workspace_id);
    let (status, body) = browser.start_test(&app, &other_admin, &id, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // A key without admin:sso.
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "keys-only", "environment": "live", "scopes": ["admin:keys"]}),
        )
        .await;
    let (status, body) = browser
        .start_test(&app, narrow["key"].as_str().unwrap(), &id, json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );

    // return_to must be a path of ours; unknown fields and ids are refused.
    for (body, code, field) in [
        (
            json!({"return_to": "https://evil.example/"}),
            "invalid_return_to",
            Some("return_to"),
        ),
        (
            json!({"return_to": "//evil.example/"}),
            "invalid_return_to",
            Some("return_to"),
        ),
        (json!({"next": "/console/"}), "invalid_field", Some("next")),
    ] {
        let (status, problem) = browser.start_test(&app, &app.admin_key, &id, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], code, "{problem}");
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
    let (status, _) = browser
        .start_test(
            &app,
            &app.admin_key,
            "sso_00000000000000000000000000000000",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&app, "sso_login_states").await,
        0,
        "no refusal began a sign-in"
    );
}
