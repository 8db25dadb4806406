//! SAML sign-in end to end: a real SAML IdP (Debian SimpleSAMLphp, `saml/tests/support/idp.rs`)
//! for the happy path and MFA, and pysaml2 forgeries (`saml/tests/support/forge.py`, signed by
//! the xmlsec1 binary) for what a real IdP would never send: each is refused through the real
//! assertion consumer with its code, audited, and leaves no user or session. The full forgery
//! matrix (every XSW variant, XXE, algorithms) is the `statuspulse-saml` crate's own tests; here
//! the point is the wiring: state, browser binding, InResponseTo, replay cache, policy.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::sign_in::{location, spawn, Browser};

#[path = "../../../saml/tests/support/idp.rs"]
pub mod saml_idp;

#[path = "../../../saml/tests/support/forge.rs"]
mod forge;

on_both_backends!(
    a_person_signs_in_through_a_real_saml_idp_and_mfa_comes_from_the_authn_context,
    forged_and_replayed_saml_responses_are_refused_and_leave_nothing_behind,
);

/// A SAML connection of the operator workspace for `idp` (entity id, SSO URL, certificate).
async fn saml_connection(app: &TestApp, name: &str, idp: Value, extra: Value) -> String {
    let mut body = json!({"name": name, "kind": "saml", "saml": idp});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let answer = app.post("/v1/sso-connections", &app.admin_key, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

fn entity_id(app: &TestApp, connection: &str) -> String {
    app.url(&format!("/v1/sso-connections/{connection}/saml/metadata"))
}

fn acs(app: &TestApp) -> String {
    app.url("/v1/sso/saml/acs")
}

impl Browser {
    /// Posts the IdP's form to our assertion consumer, as its auto-submitting page would.
    async fn post_saml(
        &self,
        app: &TestApp,
        response: &str,
        relay_state: &str,
    ) -> reqwest::Response {
        self.http
            .post(acs(app))
            .header("accept", "application/json")
            .form(&[("SAMLResponse", response), ("RelayState", relay_state)])
            .send()
            .await
            .unwrap()
    }
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn a_person_signs_in_through_a_real_saml_idp_and_mfa_comes_from_the_authn_context(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    // Our entity id names the connection, which does not exist yet: create it with a
    // placeholder IdP, start the IdP for its entity id, then point the connection at it.
    let placeholder = json!({"idp_entity_id": "urn:placeholder", "idp_sso_url": "http://127.0.0.1:9/sso",
        "idp_certificate": saml_idp::SamlIdp::certificate_pem(), "groups_attribute": "groups"});
    let id = saml_connection(
        &app,
        "corp-saml",
        placeholder,
        json!({"group_mappings": {"engineering": "eng"}}),
    )
    .await;
    let idp = saml_idp::SamlIdp::start(&entity_id(&app, &id), &acs(&app));
    let settings = idp.settings();
    let patched = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&app.admin_key),
            Some(json!({"saml": {"idp_entity_id": settings.entity_id, "idp_sso_url": settings.sso_url,
                "idp_certificate": settings.certificate_pem, "groups_attribute": "groups"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);

    // The SP metadata is public, and names our entity id and ACS.
    let metadata = reqwest::get(entity_id(&app, &id)).await.unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(
        metadata.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    let xml = metadata.text().await.unwrap();
    assert!(
        xml.contains(&entity_id(&app, &id)) && xml.contains(&acs(&app)),
        "{xml}"
    );

    let browser = Browser::new();
    let redirect = browser
        .start(&app, &format!("connection={id}&return_to=/console/"))
        .await;
    assert!(redirect.starts_with(&settings.sso_url), "{redirect}");
    let (response, relay_state) = idp.login(&redirect, "alice", "alice-password").await;
    let answer = browser.post_saml(&app, &response, &relay_state).await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "{}",
        answer.text().await.unwrap()
    );
    assert_eq!(location(&answer), "/console/");
    let me: Value = browser.get(&app.url("/v1/me")).await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "alice@example.com", "{me}");
    assert_eq!(me["user"]["groups"], json!(["eng"]));
    assert_eq!(me["session"]["mfa"], false);
    // The same post again: its state is used up.
    let again = browser.post_saml(&app, &response, &relay_state).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // With MFA required, alice's password is refused and bob's second factor accepted.
    let required = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&app.admin_key),
            Some(json!({"require_mfa": true})),
        )
        .await;
    assert_eq!(required.status, StatusCode::OK, "{}", required.body);
    for (user, password, expected) in [
        ("alice", "alice-password", StatusCode::FORBIDDEN),
        ("bob", "bob-password", StatusCode::SEE_OTHER),
    ] {
        let browser = Browser::new();
        let redirect = browser.start(&app, &format!("connection={id}")).await;
        let (response, relay_state) = idp.login(&redirect, user, password).await;
        let answer = browser.post_saml(&app, &response, &relay_state).await;
        assert_eq!(answer.status(), expected, "{user}");
        if expected == StatusCode::SEE_OTHER {
            let me: Value = browser.get(&app.url("/v1/me")).await.json().await.unwrap();
            assert_eq!(me["session"]["mfa"], true);
            assert_eq!(
                me["session"]["acr"],
                "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
            );
        } else {
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["code"], "mfa_required");
        }
    }
    assert_eq!(count(&app, "sessions").await, 2);
    assert_eq!(app.audit_count(&app.workspace_id, "sso.login").await, 2);
}

async fn forged_and_replayed_saml_responses_are_refused_and_leave_nothing_behind(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let certificate = std::fs::read_to_string(forge::key("idp.crt")).unwrap();
    let id = saml_connection(
        &app,
        "forged",
        json!({"idp_entity_id": forge::IDP_ENTITY_ID, "idp_sso_url": "https://idp.forged.test/sso",
            "idp_certificate": certificate}),
        json!({"require_mfa": true}),
    )
    .await;
    // Starts a sign-in; returns the browser, its RelayState and the spec of a response a
    // genuine IdP would send to it.
    let start = || async {
        let browser = Browser::new();
        let redirect = browser.start(&app, &format!("connection={id}")).await;
        let relay_state = reqwest::Url::parse(&redirect)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "RelayState")
            .unwrap()
            .1
            .into_owned();
        let request_id: String = sqlx::query_scalar(
            "SELECT request_id FROM sso_login_states ORDER BY created_at DESC, state_hash LIMIT 1",
        )
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        let spec = forge::spec_with(&json!({
            "now": app.clock.now().unix_timestamp(),
            "audience": entity_id(&app, &id),
            "recipient": acs(&app),
            "destination": acs(&app),
            "in_response_to": request_id,
            "session_not_on_or_after": app.clock.now().unix_timestamp() + 3600,
        }));
        (browser, relay_state, spec)
    };
    // Sanity: the forger's genuine response signs in.
    let (browser, relay_state, genuine) = start().await;
    let genuine = forge::spec_with(&json!({
        "assertion_id": "_a0000000000000000000000000000replay",
        "now": genuine["now"], "audience": genuine["audience"], "recipient": genuine["recipient"],
        "destination": genuine["destination"], "in_response_to": genuine["in_response_to"],
        "session_not_on_or_after": genuine["session_not_on_or_after"],
    }));
    assert_eq!(
        post_forged(&app, &browser, &genuine, &relay_state).await.0,
        StatusCode::SEE_OTHER
    );
    let (users, sessions) = (count(&app, "users").await, count(&app, "sessions").await);
    let failed_before = app.audit_count(&app.workspace_id, "sso.login_failed").await;

    let cases: Vec<(&str, Value, &str)> = vec![
        ("unsigned", json!({"sign": "none"}), "not_signed"),
        (
            "another signer",
            json!({"key": forge::key("attacker.key"), "cert": forge::key("attacker.crt")}),
            "wrong_signer",
        ),
        (
            "evil assertion before the signed one",
            json!({"attack": "evil_before"}),
            "wrapped",
        ),
        (
            "signed assertion moved into Extensions",
            json!({"attack": "signed_in_extensions"}),
            "wrapped",
        ),
        (
            "wrong audience",
            json!({"audience": "https://other-sp.example/"}),
            "wrong_audience",
        ),
        (
            "expired",
            json!({"not_on_or_after": app.clock.now().unix_timestamp() - 120,
            "subject_not_on_or_after": app.clock.now().unix_timestamp() - 120}),
            "expired",
        ),
        (
            "another request's InResponseTo",
            json!({"in_response_to": "_ffffffffffffffffffffffffffffffff"}),
            "wrong_in_response_to",
        ),
        (
            "no MFA context",
            json!({"authn_context_class": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}),
            "mfa_required",
        ),
    ];
    for (name, change, code) in &cases {
        let (browser, relay_state, spec) = start().await;
        let mut spec = spec;
        for (k, v) in change.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let (status, got) = post_forged(&app, &browser, &spec, &relay_state).await;
        assert_eq!(got, *code, "{name}");
        assert!(status.is_client_error(), "{name}: {status}");
    }

    // Replay: the genuine assertion again, in a response that is otherwise right for a new
    // sign-in (its own InResponseTo), is refused by the replay cache.
    let (browser, relay_state, spec) = start().await;
    let mut replayed = genuine.clone();
    replayed["in_response_to"] = spec["in_response_to"].clone();
    replayed["now"] = spec["now"].clone();
    assert_eq!(
        post_forged(&app, &browser, &replayed, &relay_state).await.1,
        "assertion_replayed"
    );

    // A response posted without the browser that started the sign-in is refused before it is
    // even parsed, and does not use up the state.
    let (browser, relay_state, spec) = start().await;
    let stranger = post_forged(&app, &Browser::new(), &spec, &relay_state).await;
    assert_eq!(
        stranger,
        (StatusCode::BAD_REQUEST, "browser_mismatch".into())
    );
    assert_eq!(
        post_forged(&app, &browser, &spec, &relay_state).await.0,
        StatusCode::SEE_OTHER
    );

    assert_eq!(count(&app, "users").await, users);
    assert_eq!(count(&app, "sessions").await, sessions + 1);
    let failed = app.audit_count(&app.workspace_id, "sso.login_failed").await - failed_before;
    assert_eq!(failed, i64::try_from(cases.len()).unwrap() + 1);
}

/// Posts the response `forge.py` makes of `spec`; returns the status and problem code.
async fn post_forged(
    app: &TestApp,
    browser: &Browser,
    spec: &Value,
    relay_state: &str,
) -> (StatusCode, String) {
    let response = forge::forge(spec);
    let answer = browser.post_saml(app, &response, relay_state).await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}
