//! npm `jose`, as a resource server would use it, verifies our access and ID tokens against our
//! JWKS across a signing key rotation (test clock): before it, during the overlap (the retired
//! key still published while its tokens live), and after retirement (the old key gone, its tokens
//! refused for want of a key, the new key's accepted).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::Backend;
use crate::oauth::{self, Setup};
use crate::sign_in::Browser;

/// One `jose.jwtVerify` per check, in a fresh node process (so a fresh JWKS fetch).
async fn jose(s: &Setup, checks: Value) -> Value {
    let tools = crate::idp::tools_dir();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/idp/clients/jose_rotation.mjs");
    let input = json!({
        "issuer": s.app.url(""),
        "jwks_uri": s.app.url("/.well-known/jwks.json"),
        "checks": checks,
    });
    let output = tokio::process::Command::new(tools.join("idp/node"))
        .arg(&script)
        .arg(input.to_string())
        .env(
            "STATUSPULSE_IDP_NODE_MODULES",
            tools.join("idp/node_modules"),
        )
        .output()
        .await
        .expect("node from scripts/install-test-tools.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The checks of one token answer (access and ID token) at instant `at`.
fn checks(s: &Setup, label: &str, answer: &Value, at: i64) -> Vec<Value> {
    vec![
        json!({"name": format!("{label}_access"), "token": answer["access_token"],
               "audience": s.app.url(""), "typ": "at+jwt", "at": at}),
        json!({"name": format!("{label}_id"), "token": answer["id_token"],
               "audience": s.client_id, "typ": "JWT", "at": at}),
    ]
}

fn kid(jwt: &Value) -> String {
    let header = jwt.as_str().unwrap().split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn jose_verifies_our_tokens_before_during_and_after_a_key_rotation() {
    let s = oauth::setup(Backend::Sqlite).await;
    let app = &s.app;
    let browser = Browser::new();
    let rotate = || statuspulse_server::oauth::keys::rotate(&app.state);
    rotate().await.unwrap();
    let first = oauth::tokens(&s, &browser, "openid email").await;
    let first_iat = oauth::claims(first["access_token"].as_str().unwrap())["iat"]
        .as_i64()
        .unwrap();
    let old_kid = kid(&first["access_token"]);

    // Before: verified, and the next key is already published beside the signing one.
    let before = jose(&s, Value::from(checks(&s, "first", &first, first_iat + 1))).await;
    assert_eq!(before["first_access"]["kid"], old_kid.as_str(), "{before}");
    assert_eq!(before["first_id"]["alg"], "ES256", "{before}");
    assert!(before["kids"].as_array().unwrap().len() >= 2, "{before}");

    // Into the next slot: a refresh is signed by the next key, and the old one is still
    // published for the tokens it signed (the overlap).
    let period = i64::try_from(app.state.settings.signing_key_rotation.as_secs()).unwrap();
    let now = app.clock.now().unix_timestamp();
    let boundary = (now / period + 1) * period;
    app.clock.advance(std::time::Duration::from_secs(
        u64::try_from(boundary - now + 60).unwrap(),
    ));
    rotate().await.unwrap();
    let (status, second) = oauth::refresh(&s, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let new_kid = kid(&second["access_token"]);
    assert_ne!(new_kid, old_kid, "the new slot signs with its own key");
    let second_iat = oauth::claims(second["access_token"].as_str().unwrap())["iat"]
        .as_i64()
        .unwrap();
    let mut both = checks(&s, "first", &first, first_iat + 1);
    both.push(
        json!({"name": "second_access", "token": second["access_token"],
        "audience": app.url(""), "typ": "at+jwt", "at": second_iat + 1}),
    );
    let overlap = jose(&s, Value::from(both.clone())).await;
    assert_eq!(
        overlap["first_access"]["kid"],
        old_kid.as_str(),
        "{overlap}"
    );
    assert_eq!(overlap["first_id"]["kid"], old_kid.as_str(), "{overlap}");
    assert_eq!(
        overlap["second_access"]["kid"],
        new_kid.as_str(),
        "{overlap}"
    );

    // After retirement (every token the old key could have signed has expired: an exchanged
    // workload token lives up to an hour; plus the JWKS cache lifetime and the skew): the old key
    // has left, so even at its tokens' own instant jose finds no key for them; the new key's
    // token still verifies.
    let grace = statuspulse_server::authn::signing::retirement_grace_ms() / 1000;
    app.clock.advance(std::time::Duration::from_secs(
        u64::try_from(grace).unwrap(),
    ));
    rotate().await.unwrap();
    let after = jose(&s, Value::from(both)).await;
    assert!(
        !after["kids"]
            .as_array()
            .unwrap()
            .contains(&Value::from(old_kid.as_str())),
        "{after}"
    );
    assert_eq!(
        after["first_access"]["error"], "ERR_JWKS_NO_MATCHING_KEY",
        "{after}"
    );
    assert_eq!(
        after["first_id"]["error"], "ERR_JWKS_NO_MATCHING_KEY",
        "{after}"
    );
    assert_eq!(after["second_access"]["kid"], new_kid.as_str(), "{after}");
}
