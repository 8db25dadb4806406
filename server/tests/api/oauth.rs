//! StatusPulse's own OAuth 2.0 / OIDC server, driven like a client application would: a person
//! signs in through SSO (the test IdP), the client gets a code with PKCE S256, exchanges it,
//! verifies and refreshes; and the RFC 9700 negative matrix is refused with the right error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Backend, TestApp};
use crate::idp::{Idp, Shape};
use crate::on_both_backends;
use crate::sign_in::{connection, generic, idp_for, location, spawn, Browser};

on_both_backends!(
    a_client_signs_a_person_in_and_its_tokens_verify_refresh_and_die_with_the_session,
    the_rfc_9700_negative_matrix_is_refused_and_issues_nothing,
);

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub(crate) struct Setup {
    pub app: TestApp,
    pub db: crate::helpers::TestDb,
    pub idp: Idp,
    pub client_id: String,
    pub client_secret: String,
}

pub(crate) async fn setup(backend: Backend) -> Setup {
    let (app, db) = spawn(backend).await;
    setup_on(app, db).await
}

/// The IdP, a connection, a group binding and a confidential client, on a running server.
pub(crate) async fn setup_on(app: TestApp, db: crate::helpers::TestDb) -> Setup {
    let idp = idp_for(&app, Shape::Generic).await;
    let admin = app.admin_key.clone();
    connection(
        &app,
        &admin,
        "corp",
        generic(&idp),
        json!({"group_mappings": {"idp-ops": "ops"}}),
    )
    .await;
    let binding = app
        .post(
            "/v1/role-bindings",
            &admin,
            json!({"group": "ops", "scopes": ["read:checks", "read:alerts"]}),
        )
        .await;
    assert_eq!(binding.status, StatusCode::CREATED, "{}", binding.body);
    let client = app
        .post(
            "/v1/oauth-clients",
            &admin,
            json!({"name": "dashboard", "redirect_uris": [REDIRECT],
                   "allowed_scopes": ["openid", "email", "profile", "statuspulse:checks:read", "statuspulse:alerts:manage"]}),
        )
        .await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.body);
    Setup {
        client_id: client.body["id"].as_str().unwrap().to_owned(),
        client_secret: client.body["client_secret"].as_str().unwrap().to_owned(),
        app,
        db,
        idp,
    }
}

pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn authorize_url(s: &Setup, challenge: &str, scope: &str) -> String {
    s.app.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=st-1&nonce=n-1&code_challenge={challenge}&code_challenge_method=S256",
        s.client_id,
        urlencode(REDIRECT),
        urlencode(scope)
    ))
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The browser goes to `/oauth2/authorize`, signs in through SSO if it has to, and comes back to
/// the client's redirect URI: its query (code, state, iss, or error).
pub(crate) async fn authorize(s: &Setup, browser: &Browser, url: &str) -> Url {
    let mut next = url.to_owned();
    for _ in 0..6 {
        let answer = browser.get(&next).await;
        let status = answer.status();
        let to = location(&answer);
        assert!(
            status.is_redirection(),
            "{next}: {status} {}",
            answer.text().await.unwrap()
        );
        if to.starts_with(REDIRECT) {
            return Url::parse(&to).unwrap();
        }
        if to.starts_with(&s.idp.origin) {
            next = s.idp.complete_authorization(&to).await.to_string();
        } else {
            next = Url::parse(&s.app.url("/"))
                .unwrap()
                .join(&to)
                .unwrap()
                .to_string();
        }
    }
    panic!("no way back to the client from {url}");
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) async fn token(
    s: &Setup,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = s.app.http.post(s.app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

pub(crate) async fn code_exchange(s: &Setup, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
        Some((&s.client_id, &s.client_secret)),
    )
    .await
}

pub(crate) async fn refresh(s: &Setup, refresh_token: &str) -> (StatusCode, Value) {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        Some((&s.client_id, &s.client_secret)),
    )
    .await
}

/// A fresh sign-in and token answer for the person queued at the IdP.
pub(crate) async fn tokens(s: &Setup, browser: &Browser, scope: &str) -> Value {
    s.idp
        .set_next_login(
            json!({"sub": "olive", "email": "olive@example.com", "email_verified": true,
            "name": "Olive", "groups": ["idp-ops"]}),
        )
        .await;
    let (verifier, challenge) = pkce();
    let back = authorize(s, browser, &authorize_url(s, &challenge, scope)).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(s.app.url("").as_str()));
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, answer) = code_exchange(s, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

pub(crate) fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn jose_header(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// The keys of the JWKS, by kid.
async fn jwks(app: &TestApp) -> std::collections::BTreeMap<String, Value> {
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k.clone()))
        .collect()
}

impl Setup {
    /// Registers another confidential client like the dashboard, signing with `signing_alg`:
    /// its `(client_id, client_secret)`.
    async fn client(&self, name: &str, signing_alg: &str) -> (String, String) {
        let client = self
            .app
            .post(
                "/v1/oauth-clients",
                &self.app.admin_key,
                json!({"name": name, "redirect_uris": [REDIRECT], "signing_alg": signing_alg,
                       "allowed_scopes": ["openid", "email", "statuspulse:checks:read"]}),
            )
            .await;
        assert_eq!(client.status, StatusCode::CREATED, "{}", client.body);
        assert_eq!(client.body["signing_alg"], signing_alg);
        (
            client.body["id"].as_str().unwrap().to_owned(),
            client.body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// From now on the flows of this setup are those of `client`; returns the one it replaces.
    fn act_as(&mut self, client: (String, String)) -> (String, String) {
        (
            std::mem::replace(&mut self.client_id, client.0),
            std::mem::replace(&mut self.client_secret, client.1),
        )
    }
}

pub(crate) async fn verify(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let answer = app.get(&format!("/v1/auth/verify{query}"), token).await;
    (answer.status, answer.body)
}

async fn a_client_signs_a_person_in_and_its_tokens_verify_refresh_and_die_with_the_session(
    backend: Backend,
) {
    let s = setup(backend).await;
    let app = &s.app;
    let browser = Browser::new();
    let answer = tokens(
        &s,
        &browser,
        "openid email profile statuspulse:checks:read statuspulse:alerts:manage",
    )
    .await;
    // alerts:manage needs write:alerts, which the user's group is not bound to: not granted.
    assert_eq!(
        answer["scope"],
        "email openid profile statuspulse:checks:read"
    );
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 900);
    let access = answer["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let at = claims(access);
    assert_eq!(at["client_id"], s.client_id.as_str());
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        900
    );
    let id = claims(answer["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], s.client_id.as_str());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "olive@example.com");

    // The access token is a credential for /v1/auth/verify, beside API keys.
    let (status, verified) = verify(app, access, "").await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["principal"]["type"], "user");
    assert_eq!(verified["scopes"], json!(["read:checks"]));
    assert_eq!(
        verify(app, access, "?scope=read:checks").await.0,
        StatusCode::OK
    );
    assert_eq!(
        verify(app, access, "?scope=write:checks").await.0,
        StatusCode::FORBIDDEN
    );
    // ...and for userinfo; it cannot manage anything.
    let me = app.get("/oauth2/userinfo", access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "olive@example.com");
    assert_eq!(
        app.get("/v1/api-keys", access).await.status,
        StatusCode::FORBIDDEN
    );

    // Discovery and JWKS name what a client needs.
    let discovery = app.get("/.well-known/openid-configuration", "").await.body;
    assert_eq!(discovery["issuer"], app.url(""));
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert!(jwks.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=300"));
    let jwks: Value = jwks.json().await.unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"]));

    // Refresh rotates; the old one used again past the grace revokes everything.
    let first_refresh = answer["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = refresh(&s, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], answer["refresh_token"]);
    // Two tabs: the same token again within seconds gets a sibling, not a revocation.
    let (status, sibling) = refresh(&s, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{sibling}");
    app.clock.advance(std::time::Duration::from_secs(11));
    let (status, reused) = refresh(&s, &first_refresh).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(&s, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the family is revoked");
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        verify(app, new_access, "").await.0,
        StatusCode::UNAUTHORIZED,
        "the session is revoked"
    );
    assert_eq!(
        browser.get(&app.url("/v1/me")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "token.reuse_detected")
            .await,
        1
    );
    assert_eq!(app.audit_count(&app.workspace_id, "token.issued").await, 1);
    assert_eq!(
        app.audit_count(&app.workspace_id, "token.refreshed").await,
        2
    );

    // Revoking a session (here through the API) kills its tokens at once.
    let browser = Browser::new();
    let answer = tokens(&s, &browser, "openid statuspulse:checks:read").await;
    let access = answer["access_token"].as_str().unwrap();
    assert_eq!(verify(app, access, "").await.0, StatusCode::OK);
    let session = claims(access)["sid"].as_str().unwrap().to_owned();
    let revoked = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{session}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(verify(app, access, "").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(&s, answer["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_rfc_9700_negative_matrix_is_refused_and_issues_nothing(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let browser = Browser::new();
    // Signed in once, so authorizations below come straight back.
    let signed_in = tokens(&s, &browser, "openid").await;
    let issued_before: i64 = count(app, "refresh_tokens").await;

    let (verifier, challenge) = pkce();
    let base = authorize_url(&s, &challenge, "openid statuspulse:checks:read");
    let error_of = |url: Url| param(&url, "error").unwrap_or_default();
    // No PKCE, plain PKCE: refused back to the client.
    let no_pkce = base.replace(
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
        "",
    );
    assert_eq!(
        error_of(authorize(&s, &browser, &no_pkce).await),
        "invalid_request"
    );
    let plain = base.replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(
        error_of(authorize(&s, &browser, &plain).await),
        "invalid_request"
    );
    // A redirect URI the client did not register: a page here, never a redirect there.
    let elsewhere = base.replace(&urlencode(REDIRECT), &urlencode("http://127.0.0.1:9/evil"));
    let answer = browser.get(&elsewhere).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(location(&answer), "");

    // A code: wrong verifier, then the right one (too late: the code was used), then replay.
    let back = authorize(&s, &browser, &base).await;
    let code = param(&back, "code").unwrap();
    let (wrong_verifier, _) = pkce();
    let (status, answer) = code_exchange(&s, &code, &wrong_verifier).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = code_exchange(&s, &code, &verifier).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a code is used once, even by a failed exchange"
    );

    // A code exchanged by another client.
    let other = app
        .post(
            "/v1/oauth-clients",
            &app.admin_key,
            json!({"name": "other", "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"]}),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let other_secret = other.body["client_secret"].as_str().unwrap();
    let back = authorize(&s, &browser, &base).await;
    let code = param(&back, "code").unwrap();
    let (status, answer) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some((other_id, other_secret)),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The wrong secret, and no secret, for a confidential client.
    let (status, answer) = token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some((&s.client_id, "spc_wrong")),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, _) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &s.client_id),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A code replayed after a successful exchange revokes what it issued.
    let back = authorize(&s, &browser, &base).await;
    let code = param(&back, "code").unwrap();
    let (status, good) = code_exchange(&s, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = code_exchange(&s, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = refresh(&s, good["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the family of a replayed code is revoked"
    );

    // Refresh by another client; scope escalation at refresh; an expired code.
    let live = signed_in["refresh_token"].as_str().unwrap();
    let (status, _) = token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", live)],
        Some((other_id, other_secret)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", live),
            ("scope", "openid statuspulse:checks:read"),
        ],
        Some((&s.client_id, &s.client_secret)),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let back = authorize(&s, &browser, &base).await;
    app.clock.advance(std::time::Duration::from_secs(61));
    let (status, _) = code_exchange(&s, &param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "codes live 60 s");

    // Forged tokens at verify: alg none, HS256, a tampered signature.
    let access = good["access_token"].as_str().unwrap();
    let mut parts = access.split('.');
    let (_, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD
            .encode(json!({"alg": alg, "typ": "at+jwt", "kid": claims(access)["jti"]}).to_string());
        let forged = format!("{header}.{payload}.{signature}");
        assert_eq!(
            verify(app, &forged, "").await.0,
            StatusCode::UNAUTHORIZED,
            "{alg}"
        );
    }
    let evil = URL_SAFE_NO_PAD.encode(
        json!({"iss": app.url(""), "sub": "usr_x", "scope": "statuspulse:alerts:manage", "exp": 9_999_999_999_i64}).to_string(),
    );
    let header = access.split('.').next().unwrap();
    assert_eq!(
        verify(app, &format!("{header}.{evil}.{signature}"), "")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Nothing issued by any refusal: one refresh token per successful exchange only.
    assert_eq!(count(app, "refresh_tokens").await, issued_before + 1);
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

on_both_backends!(an_rs256_client_gets_rs256_tokens_that_verify_beside_an_es256_clients);

/// A client that verifies RSA only gets RS256 access and ID tokens, signed by a key published
/// before its first token; they verify, introspect and answer userinfo like the ES256 tokens of
/// the client beside it. A header that names the other algorithm's key is refused, and the
/// setting changes in place, audited, with bad values refused on the field.
async fn an_rs256_client_gets_rs256_tokens_that_verify_beside_an_es256_clients(backend: Backend) {
    let mut s = setup(backend).await;
    let admin = s.app.admin_key.clone();
    let discovery = s
        .app
        .get("/.well-known/openid-configuration", "")
        .await
        .body;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    let before = jwks(&s.app).await;
    assert!(
        before.values().all(|k| k["alg"] == "ES256"),
        "no RSA key while no client uses RS256: {before:?}"
    );

    let reports = s.client("reports", "RS256").await;
    // Its keys are made as it is registered: the slot's and the next two, already published.
    let published = jwks(&s.app).await;
    let rsa: Vec<&Value> = published.values().filter(|k| k["alg"] == "RS256").collect();
    assert_eq!(rsa.len(), 3, "{published:?}");
    for key in &rsa {
        assert_eq!(
            (&key["kty"], &key["use"], &key["e"]),
            (&json!("RSA"), &json!("sig"), &json!("AQAB"))
        );
        let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256, "RSA 2048");
        assert!(key.get("d").is_none(), "a private member in the JWKS");
    }
    assert_eq!(
        app_get(&s, &format!("/v1/oauth-clients/{}", reports.0)).await["signing_alg"],
        "RS256"
    );
    let listed = app_get(&s, "/v1/oauth-clients").await;
    let algs: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["signing_alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["ES256", "RS256"], "{listed}");

    let browser = Browser::new();
    let scope = "openid email statuspulse:checks:read";
    let es = tokens(&s, &browser, scope).await;
    let dashboard = s.act_as(reports);
    let rs = tokens(&s, &browser, scope).await;
    let published = jwks(&s.app).await;
    for (answer, alg, client) in [(&es, "ES256", &dashboard.0), (&rs, "RS256", &s.client_id)] {
        let access = answer["access_token"].as_str().unwrap();
        let id_token = answer["id_token"].as_str().unwrap();
        for token in [access, id_token] {
            let header = jose_header(token);
            assert_eq!(header["alg"], alg, "{header}");
            let key = &published[header["kid"].as_str().unwrap()];
            assert_eq!(
                key["alg"], alg,
                "signed by a published key of its algorithm"
            );
        }
        assert_eq!(claims(id_token)["aud"], client.as_str());
        let (status, verified) = verify(&s.app, access, "?scope=read:checks").await;
        assert_eq!(status, StatusCode::OK, "{alg}: {verified}");
        assert_eq!(verified["principal"]["type"], "user");
        let me = s.app.get("/oauth2/userinfo", access).await;
        assert_eq!(me.status, StatusCode::OK, "{alg}: {}", me.body);
        assert_eq!(me.body["email"], "olive@example.com");
        let (status, active) = introspect(&s, access, (&s.client_id, &s.client_secret)).await;
        assert_eq!(
            (status, &active["active"]),
            (StatusCode::OK, &json!(true)),
            "{alg}: {active}"
        );
        assert_eq!(active["client_id"], client.as_str());
    }

    // Algorithm confusion: the RS256 token's payload and signature under a header that names
    // the ES256 key with RS256, or the RSA key with ES256; and `none` or HS256 over the RSA key.
    let rs_access = rs["access_token"].as_str().unwrap();
    let es_kid = jose_header(es["access_token"].as_str().unwrap())["kid"].clone();
    let rs_kid = jose_header(rs_access)["kid"].clone();
    let (_, rest) = rs_access.split_once('.').unwrap();
    for (alg, kid) in [
        ("RS256", &es_kid),
        ("ES256", &rs_kid),
        ("none", &rs_kid),
        ("HS256", &rs_kid),
    ] {
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "at+jwt", "kid": kid}).to_string());
        let forged = format!("{header}.{rest}");
        assert_eq!(
            verify(&s.app, &forged, "").await.0,
            StatusCode::UNAUTHORIZED,
            "{alg} over {kid}"
        );
        let (_, active) = introspect(&s, &forged, (&s.client_id, &s.client_secret)).await;
        assert_eq!(active, json!({"active": false}), "{alg} over {kid}");
    }

    // Back to ES256, in place: the next tokens are ES256, those issued before still verify.
    let patched = s
        .app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/oauth-clients/{}", s.client_id),
            Some(&admin),
            Some(json!({"signing_alg": "ES256"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["signing_alg"], "ES256");
    let (status, refreshed) = refresh(&s, rs["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(
        jose_header(refreshed["access_token"].as_str().unwrap())["alg"],
        "ES256"
    );
    assert_eq!(verify(&s.app, rs_access, "").await.0, StatusCode::OK);
    s.app.flush_audit().await;
    let created = app_get(&s, "/v1/audit-events?event_type=oauth_client.created").await;
    let created: Vec<&Value> = created["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["details"]["after"]["signing_alg"])
        .collect();
    assert_eq!(created, [&json!("ES256"), &json!("RS256")]);
    let updated = app_get(&s, "/v1/audit-events?event_type=oauth_client.updated").await;
    let details = &updated["items"][0]["details"];
    assert_eq!(
        (
            &details["before"]["signing_alg"],
            &details["after"]["signing_alg"]
        ),
        (&json!("RS256"), &json!("ES256")),
        "{updated}"
    );

    // Anything but ES256 or RS256 is refused on the field, and changes nothing.
    let clients_before = app_get(&s, "/v1/oauth-clients").await;
    for bad in [
        json!("HS256"),
        json!("none"),
        json!("rs256"),
        json!(""),
        json!(256),
    ] {
        let created = s
            .app
            .post(
                "/v1/oauth-clients",
                &admin,
                json!({"name": "bad", "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"],
                       "signing_alg": bad}),
            )
            .await;
        let patched = s
            .app
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/oauth-clients/{}", dashboard.0),
                Some(&admin),
                Some(json!({"signing_alg": bad})),
            )
            .await;
        for answer in [created, patched] {
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}: {}",
                answer.body
            );
            assert_eq!(
                answer.body["field"], "signing_alg",
                "{bad}: {}",
                answer.body
            );
        }
    }
    let clients_after = app_get(&s, "/v1/oauth-clients").await;
    assert_eq!(clients_after, clients_before);

    // While a client uses RS256, the rotation job keeps its keys two slots ahead like ES256 ones.
    let switched = s
        .app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/oauth-clients/{}", s.client_id),
            Some(&admin),
            Some(json!({"signing_alg": "RS256"})),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
    let before_job = jwks(&s.app).await;
    s.app
        .clock
        .advance(std::time::Duration::from_secs(6 * 3600));
    statuspulse_server::oauth::keys::rotate(&s.app.state)
        .await
        .unwrap();
    let after_job = jwks(&s.app).await;
    for alg in ["ES256", "RS256"] {
        let made = after_job
            .iter()
            .filter(|(kid, k)| k["alg"] == alg && !before_job.contains_key(*kid))
            .count();
        assert_eq!(made, 1, "{alg}: {after_job:?}");
    }
}

async fn app_get(s: &Setup, path: &str) -> Value {
    let answer = s.app.get(path, &s.app.admin_key).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    answer.body
}

/// With the test clock, for an ES256 client and an RS256 one side by side, in steps shorter than
/// a token's life: over 24 hours each algorithm's key rotates four times, no token is signed by
/// a key that was not already published, the JWKS always holds every key a live token needs, and
/// a retired key leaves once its tokens have expired.
#[tokio::test]
async fn signing_keys_rotate_every_six_hours_and_the_jwks_always_has_what_live_tokens_need() {
    let mut s = setup(Backend::Sqlite).await;
    let browser = Browser::new();
    let mut other_client = s.client("reports", "RS256").await;
    let mut kids_seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut live: Vec<(String, i64)> = Vec::new();
    let step_length = std::time::Duration::from_secs(12 * 60);
    // Steps of 12 minutes for 24 hours: the session signed in at the first lives 24 hours.
    for step in 0..120 {
        // The job, as every minute; then what a verifier holds before this step's tokens.
        statuspulse_server::oauth::keys::rotate(&s.app.state)
            .await
            .unwrap();
        let published = jwks(&s.app).await;
        let now = s.app.clock.now().unix_timestamp();
        live.retain(|(_, exp)| *exp > now);
        for (k, _) in &live {
            assert!(
                published.contains_key(k),
                "step {step}: a live token's key {k} left the JWKS"
            );
        }
        for (alg, seen) in &kids_seen {
            // Every key before the last two has served its slot and its grace.
            for retired in seen.iter().rev().skip(2) {
                assert!(
                    !published.contains_key(retired),
                    "step {step}: {alg} key {retired} was not retired"
                );
            }
            let of_alg = published.values().filter(|k| &k["alg"] == alg).count();
            assert!(of_alg <= 4, "step {step}: {alg}: {published:?}");
        }
        // A token of each client.
        for _ in 0..2 {
            let answer = tokens(&s, &browser, "openid").await;
            let access = answer["access_token"].as_str().unwrap().to_owned();
            let header = jose_header(&access);
            let (alg, kid) = (
                header["alg"].as_str().unwrap().to_owned(),
                header["kid"].as_str().unwrap().to_owned(),
            );
            assert_eq!(
                published.get(&kid).map(|k| &k["alg"]),
                Some(&json!(alg)),
                "step {step}: signed by a key not yet published"
            );
            let seen = kids_seen.entry(alg).or_default();
            if seen.last() != Some(&kid) {
                seen.push(kid.clone());
            }
            live.push((kid, claims(&access)["exp"].as_i64().unwrap()));
            other_client = s.act_as(other_client);
        }
        s.app.clock.advance(step_length);
    }
    for alg in ["ES256", "RS256"] {
        let seen = &kids_seen[alg];
        assert!(seen.len() >= 4, "{alg}: {seen:?}");
    }
    assert!(s.app.audit_count("", "signing_key.rotated").await >= 8);
}

on_both_backends!(an_access_token_of_a_session_revoked_on_one_replica_is_refused_by_another);

/// 100 trials on two replicas: a session signed in on A, its access token verified on B, the
/// session revoked on A; how long until B refuses the token. Without Redis B learns it from its
/// poll of revoked sessions (every 5 s), with Redis from the fan-out. Prints the figures.
async fn trial_revocations(s: &Setup, b: &TestApp, label: &str) -> std::time::Duration {
    let app = &s.app;
    let mut live = Vec::new();
    for _ in 0..100 {
        let browser = Browser::new();
        let answer = tokens(s, &browser, "openid statuspulse:checks:read").await;
        let access = answer["access_token"].as_str().unwrap().to_owned();
        assert_eq!(verify(b, &access, "").await.0, StatusCode::OK);
        live.push(access);
    }
    let mut revoked_at = Vec::new();
    for access in &live {
        let session = claims(access)["sid"].as_str().unwrap().to_owned();
        let answer = app
            .call(
                reqwest::Method::DELETE,
                &format!("/v1/sessions/{session}"),
                Some(&app.admin_key),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        revoked_at.push(std::time::Instant::now());
    }
    let mut delays = vec![None; live.len()];
    let started = std::time::Instant::now();
    while delays.iter().any(Option::is_none) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{label}: over 30 s"
        );
        for (i, access) in live.iter().enumerate() {
            if delays[i].is_none() && verify(b, access, "").await.0 == StatusCode::UNAUTHORIZED {
                delays[i] = Some(revoked_at[i].elapsed());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut delays: Vec<std::time::Duration> = delays.into_iter().flatten().collect();
    delays.sort();
    let max = *delays.last().unwrap();
    eprintln!(
        "{label}: access token refused on the other replica after median {:?}, p99 {:?}, max {max:?} (100 trials)",
        delays[50], delays[98]
    );
    max
}

fn with_redis(settings: &mut statuspulse_server::Settings) {
    settings.master_key = statuspulse_server::platform::config::MasterKeySource::Value(
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
            .parse()
            .unwrap(),
    );
    settings.redis_url = Some("redis://127.0.0.1:6379".into());
}

fn without_redis(settings: &mut statuspulse_server::Settings) {
    settings.master_key = statuspulse_server::platform::config::MasterKeySource::Value(
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
            .parse()
            .unwrap(),
    );
}

async fn an_access_token_of_a_session_revoked_on_one_replica_is_refused_by_another(
    backend: Backend,
) {
    let s = setup(backend).await;
    let b = TestApp::start(
        &s.db.url,
        crate::helpers::Options {
            tweak: without_redis,
            public_url: Some(s.app.url("")),
            ..crate::helpers::Options::default()
        },
    )
    .await;
    let max = trial_revocations(&s, &b, &format!("{backend:?} without Redis")).await;
    assert!(max <= std::time::Duration::from_secs(30));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_an_access_token_of_a_revoked_session_is_refused_everywhere_within_a_second() {
    let (app, db) = crate::helpers::TestApp::spawn_with(
        Backend::Sqlite,
        crate::helpers::Options {
            tweak: with_redis,
            ..crate::helpers::Options::default()
        },
    )
    .await;
    let s = setup_on(app, db).await;
    let b = TestApp::start(
        &s.db.url,
        crate::helpers::Options {
            tweak: with_redis,
            public_url: Some(s.app.url("")),
            ..crate::helpers::Options::default()
        },
    )
    .await;
    let max = trial_revocations(&s, &b, "with Redis").await;
    assert!(max <= std::time::Duration::from_secs(1), "{max:?}");
    b.stop().await;
}

on_both_backends!(tokens_are_introspected_for_their_workspace_and_revoked_per_rfc_7009);

async fn introspect(s: &Setup, token: &str, client: (&str, &str)) -> (StatusCode, Value) {
    let answer = s
        .app
        .http
        .post(s.app.url("/oauth2/introspect"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

async fn tokens_are_introspected_for_their_workspace_and_revoked_per_rfc_7009(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let answer = tokens(&s, &Browser::new(), "openid statuspulse:checks:read").await;
    let (access, refresh_token) = (
        answer["access_token"].as_str().unwrap(),
        answer["refresh_token"].as_str().unwrap(),
    );
    let me = (s.client_id.as_str(), s.client_secret.as_str());
    let (status, active) = introspect(&s, access, me).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["token_type"], "access_token");
    assert_eq!(active["scope"], "openid statuspulse:checks:read");
    assert_eq!(introspect(&s, refresh_token, me).await.1["active"], true);
    assert_eq!(
        introspect(&s, "made-up", me).await.1,
        json!({"active": false})
    );

    // A confidential client of another workspace learns nothing; a public client may not ask.
    let (_, other_key) = app.new_workspace("other").await;
    let foreign = app
        .post(
            "/v1/oauth-clients",
            &other_key,
            json!({"name": "theirs", "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"]}),
        )
        .await;
    let foreign = (
        foreign.body["id"].as_str().unwrap().to_owned(),
        foreign.body["client_secret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        introspect(&s, access, (&foreign.0, &foreign.1)).await.1,
        json!({"active": false})
    );
    let public = app
        .post(
            "/v1/oauth-clients",
            &app.admin_key,
            json!({"name": "cli", "public": true, "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"]}),
        )
        .await;
    assert!(public.body.get("client_secret").is_none());
    let answer = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[
            ("token", access),
            ("client_id", public.body["id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // RFC 7009: another client's revocation changes nothing; the owner's revokes the family.
    let revoke = |client: (String, String), token: String| {
        app.http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token)])
            .send()
    };
    let by_foreign = revoke(foreign.clone(), refresh_token.to_owned())
        .await
        .unwrap();
    assert_eq!(by_foreign.status(), StatusCode::OK);
    assert_eq!(introspect(&s, refresh_token, me).await.1["active"], true);
    let owner = (s.client_id.clone(), s.client_secret.clone());
    let revoked = revoke(owner.clone(), refresh_token.to_owned())
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect(&s, refresh_token, me).await.1["active"], false);
    let (status, _) = refresh(&s, refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown = revoke(owner, "spr_unknown".to_owned()).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);
    assert_eq!(app.audit_count(&app.workspace_id, "token.revoked").await, 1);
}

/// Real clients written by others, unmodified: npm `openid-client` 6 exchanges the code (PKCE,
/// ID token validation), refreshes, introspects, revokes and reads userinfo; npm `jose` checks
/// the access token against our JWKS like a resource server.
#[tokio::test]
async fn openid_client_and_jose_work_against_us_unmodified() {
    openid_client_and_jose_with("ES256").await;
}

/// The same with a client set to RS256: openid-client expects RS256 ID tokens, and jose finds
/// the RSA key in our JWKS and accepts RS256 only.
#[tokio::test]
async fn openid_client_and_jose_accept_our_rs256_tokens_unmodified() {
    openid_client_and_jose_with("RS256").await;
}

async fn openid_client_and_jose_with(alg: &str) {
    let mut s = setup(Backend::Sqlite).await;
    if alg != "ES256" {
        let client = s.client("rsa-only", alg).await;
        s.act_as(client);
    }
    let browser = Browser::new();
    s.idp
        .set_next_login(
            json!({"sub": "olive", "email": "olive@example.com", "email_verified": true,
            "name": "Olive", "groups": ["idp-ops"]}),
        )
        .await;
    let (verifier, challenge) = pkce();
    let back = authorize(
        &s,
        &browser,
        &authorize_url(
            &s,
            &challenge,
            "openid email profile statuspulse:checks:read",
        ),
    )
    .await;
    let tools = crate::idp::tools_dir();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/idp/clients/openid_client.mjs");
    let input = json!({
        "issuer": s.app.url(""), "client_id": s.client_id, "client_secret": s.client_secret,
        "callback_url": back.as_str(), "code_verifier": verifier, "state": "st-1", "nonce": "n-1",
        "alg": alg,
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
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["code"]["token_type"], "bearer", "{out}");
    assert_eq!(
        out["code"]["id_token_claims"]["email"], "olive@example.com",
        "{out}"
    );
    assert_eq!(out["code"]["id_token_claims"]["nonce"], "n-1");
    assert_eq!(
        out["access_token_by_jose"]["protectedHeader"]["typ"], "at+jwt",
        "{out}"
    );
    assert_eq!(out["access_token_by_jose"]["protectedHeader"]["alg"], alg);
    assert_eq!(
        out["access_token_by_jose"]["payload"]["client_id"],
        s.client_id.as_str()
    );
    assert_eq!(out["userinfo"]["email"], "olive@example.com", "{out}");
    assert!(out["refresh"]["access_token"].is_string(), "{out}");
    assert_eq!(out["introspection"]["active"], true, "{out}");
    assert_eq!(out["revocation"]["revoked"], true, "{out}");
    assert_eq!(
        out["refresh_after_revocation"]["oauth"], "invalid_grant",
        "{out}"
    );
}

/// PyPI Authlib's `OAuth2Session`, unmodified: the code exchange with PKCE, a refresh, and
/// revocation, after which the refresh token no longer works.
#[tokio::test]
async fn authlib_works_against_us_unmodified() {
    let s = setup(Backend::Sqlite).await;
    let browser = Browser::new();
    s.idp
        .set_next_login(json!({"sub": "pat", "groups": ["idp-ops"]}))
        .await;
    let (verifier, challenge) = pkce();
    let scope = "openid statuspulse:checks:read";
    let back = authorize(&s, &browser, &authorize_url(&s, &challenge, scope)).await;
    let input = json!({
        "client_id": s.client_id, "client_secret": s.client_secret, "redirect_uri": REDIRECT,
        "scope": scope, "token_endpoint": s.app.url("/oauth2/token"),
        "revocation_endpoint": s.app.url("/oauth2/revoke"), "callback_url": back.as_str(),
        "code_verifier": verifier, "state": "st-1",
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/idp/clients/authlib_client.py");
    let output = tokio::process::Command::new(crate::idp::tools_dir().join("venv/bin/python"))
        .arg(&script)
        .arg(input.to_string())
        .output()
        .await
        .expect("the tools venv from scripts/install-test-tools.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["code"]["scope"], scope, "{out}");
    assert!(out["code"]["id_token"].is_string(), "{out}");
    assert!(out["refresh"]["access_token"].is_string(), "{out}");
    assert_eq!(out["revocation"]["status"], 200, "{out}");
    assert_eq!(
        out["refresh_after_revocation"]["error"], "OAuthError",
        "{out}"
    );
    let (status, _) = verify(&s.app, out["refresh"]["access_token"].as_str().unwrap(), "").await;
    assert_eq!(status, StatusCode::OK);
}
