//! Sign-in attacked: each test is one adversary's attempt, against the real server, the real
//! OpenID provider (`idp.rs`) and, where an IdP must misbehave in ways a real one will not, a
//! small fake IdP served here. Each fails if the defence it names is missing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use statuspulse_server::platform::config::MasterKeySource;

use crate::helpers::{captured_logs, Backend, Options, TestApp, TestDb};
use crate::idp::{Idp, Shape};
use crate::on_both_backends;
use crate::sign_in::{connection, generic, idp_for, location, spawn, Browser};

/// The test IdP's client secret for our server (`sign_in.rs`).
const CLIENT_SECRET: &str = "idp-client-secret-0123456789";

on_both_backends!(
    sign_in_ssrf_a_production_server_never_calls_internal_addresses,
    sign_in_ssrf_discovery_cannot_send_us_to_plain_http_or_oversized_documents,
    sign_in_return_to_cannot_leave_our_origin_however_it_is_encoded,
    sign_in_state_is_bound_to_its_connection_and_used_once_even_when_raced,
    sign_in_a_state_of_one_protocol_cannot_be_answered_in_the_other,
    sign_in_cookies_cannot_be_tossed_fixed_or_doubled,
    sign_in_a_session_of_one_workspace_finds_nothing_of_another,
    sign_in_users_cannot_escalate_beyond_their_groups_and_lose_removed_groups,
    sign_in_a_removed_mapping_or_deleted_connection_takes_its_grant_from_live_sessions,
    sign_in_every_cookie_authenticated_write_needs_the_csrf_token_and_our_origin,
    sign_in_unauthenticated_floods_are_bounded_and_cheap,
    sign_in_a_flood_against_a_slow_idp_makes_one_discovery_at_a_time,
    sign_in_oversized_claims_are_refused_and_leave_nothing_behind,
    sign_in_secrets_never_reach_logs_audit_events_or_answers,
    sign_in_bad_input_is_a_4xx_that_changes_nothing,
);

const MASTER_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// A server published at an `https` URL, as in production (it still listens on plain loopback
/// HTTP here; the public URL is what decides what sign-in may call).
async fn spawn_production(backend: Backend) -> (TestApp, TestDb) {
    TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| {
                s.master_key = MasterKeySource::Value(MASTER_KEY.parse().unwrap());
                s.public_url = Some("https://auth.statuspulse.test".into());
                // Production: no development opt-in (the harness turns it on for the others).
                s.allow_loopback_idps = false;
            },
            ..Options::default()
        },
    )
    .await
}

/// A TCP listener that counts the connections made to it: the internal service an SSRF would
/// reach.
async fn canary() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, hits)
}

/// A fake IdP: answers every GET with `body(origin, path)` as JSON (or 404 for `None`), after
/// `delay`.
async fn fake_idp(
    delay: std::time::Duration,
    body: fn(&str, &str) -> Option<String>,
) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let (o, h) = (origin.clone(), hits.clone());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (o, h) = (o.clone(), h.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            match body(&o, uri.path()) {
                Some(text) => (
                    axum::http::StatusCode::OK,
                    [("content-type", "application/json")],
                    text,
                ),
                None => (
                    axum::http::StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    "{}".to_owned(),
                ),
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (origin, hits)
}

async fn problem(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

/// A plain client (no cookie store, no redirects) asking for JSON.
fn raw() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value `name` is set to by an answer's `Set-Cookie` headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let pair = v.split(';').next()?;
            let (k, val) = pair.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
}

/// Someone signed in: their browser, the session cookie's value and `GET /v1/me`.
struct SignedIn {
    browser: Browser,
    cookie: String,
    me: Value,
}

impl SignedIn {
    fn csrf(&self) -> String {
        self.me["csrf_token"].as_str().unwrap().to_owned()
    }

    fn user_id(&self) -> String {
        self.me["user"]["id"].as_str().unwrap().to_owned()
    }
}

async fn sign_in_as(app: &TestApp, idp: &Idp, connection: &str, claims: Value) -> SignedIn {
    idp.set_next_login(claims).await;
    let browser = Browser::new();
    let answer = browser
        .sign_in(app, idp, &format!("connection={connection}"))
        .await;
    let status = answer.status();
    let cookie = set_cookie(&answer, "statuspulse_session");
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        answer.text().await.unwrap()
    );
    let me: Value = browser.get(&app.url("/v1/me")).await.json().await.unwrap();
    SignedIn {
        browser,
        cookie: cookie.unwrap(),
        me,
    }
}

/// A request made with only a session cookie (and what else is given).
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = raw()
        .request(method, app.url(path))
        .header("accept", "application/json")
        .header("cookie", format!("statuspulse_session={cookie}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. SSRF

/// Attack: a tenant's `admin:sso` holder points a connection at our own loopback services (the
/// database, a metrics port), the cloud metadata endpoint or a name that resolves to loopback,
/// then anyone starts a sign-in with it. A production server must not connect at all.
async fn sign_in_ssrf_a_production_server_never_calls_internal_addresses(backend: Backend) {
    let (app, _db) = spawn_production(backend).await;
    let (port, hits) = canary().await;
    let (_, tenant_key) = app.new_workspace("tenant").await;
    let mut issuers = vec![
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("https://localhost:{port}"),
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.0.0.1".to_owned(),
        "https://192.168.0.1".to_owned(),
    ];
    // A name (not `localhost`) that resolves to loopback: only the resolver can catch it.
    let hostname = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let resolves_to_loopback = !hostname.is_empty()
        && tokio::net::lookup_host((hostname.as_str(), 0))
            .await
            .is_ok_and(|mut a| a.all(|a| a.ip().is_loopback()));
    if resolves_to_loopback {
        issuers.push(format!("https://{hostname}:{port}"));
    }
    let mut connections = Vec::new();
    for (i, issuer) in issuers.iter().enumerate() {
        let body = json!({"name": format!("c{i}"), "kind": "oidc", "oidc": {"issuer": issuer},
            "client_id": "x", "client_secret": "s"});
        let created = app.post("/v1/sso-connections", &tenant_key, body).await;
        // Refusing the connection outright is a defence too; storing it must not make us call.
        if created.status == StatusCode::CREATED {
            connections.push((
                issuer.clone(),
                created.body["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    // A native connector whose base URL is overridden to loopback.
    let okta = app
        .post(
            "/v1/sso-connections",
            &tenant_key,
            json!({"name": "okta", "kind": "okta", "okta": {"domain": "acme.okta.com"},
                "endpoint_override": format!("http://127.0.0.1:{port}"),
                "client_id": "x", "client_secret": "s"}),
        )
        .await;
    if okta.status == StatusCode::CREATED {
        connections.push((
            "okta override".into(),
            okta.body["id"].as_str().unwrap().to_owned(),
        ));
    }
    assert!(!connections.is_empty());
    for (issuer, id) in &connections {
        let started = std::time::Instant::now();
        let answer = raw()
            .get(app.url(&format!("/v1/sso/login?connection={id}")))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let (status, code) = problem(answer).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_GATEWAY, "idp_url_refused"),
            "{issuer}"
        );
        // Refused before any connection is tried (a blackholed address would take 5 s).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{issuer}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the canary was called");
    assert_eq!(count(&app, "sso_login_states").await, 0);
}

/// Attack: a tenant's IdP (reachable, legitimate issuer) serves a discovery document whose token
/// endpoint (which receives the client secret) and JWKS point at plain-http internal hosts; or
/// a discovery document too large to buffer. Even a development server refuses plain http off
/// loopback, and reads at most 1 MiB.
async fn sign_in_ssrf_discovery_cannot_send_us_to_plain_http_or_oversized_documents(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let (evil, evil_hits) = fake_idp(std::time::Duration::ZERO, |origin, path| {
        (path == "/.well-known/openid-configuration").then(|| {
            json!({"issuer": origin, "authorization_endpoint": format!("{origin}/auth"),
                "token_endpoint": "http://169.254.169.254/latest/meta-data/token",
                "jwks_uri": "http://10.255.255.1/jwks"})
            .to_string()
        })
    })
    .await;
    // Over https, but to the metadata endpoint and the private network.
    let (internal, internal_hits) = fake_idp(std::time::Duration::ZERO, |origin, path| {
        (path == "/.well-known/openid-configuration").then(|| {
            json!({"issuer": origin, "authorization_endpoint": format!("{origin}/auth"),
                "token_endpoint": format!("{origin}/token"),
                "jwks_uri": "https://169.254.169.254/latest/meta-data/jwks"})
            .to_string()
        })
    })
    .await;
    let (huge, _) = fake_idp(std::time::Duration::ZERO, |origin, path| {
        (path == "/.well-known/openid-configuration").then(|| {
            json!({"issuer": origin, "authorization_endpoint": format!("{origin}/auth"),
                "token_endpoint": format!("{origin}/token"), "jwks_uri": format!("{origin}/jwks"),
                "padding": "x".repeat(2 * 1024 * 1024)})
            .to_string()
        })
    })
    .await;
    // The issuer itself on the metadata endpoint or a private host, over https: a development
    // server reaches loopback, not those.
    let metadata = "https://169.254.169.254/latest".to_owned();
    let private = "https://10.255.255.1".to_owned();
    for (i, issuer, expected) in [
        (&evil, "idp_url_refused"),
        (&internal, "idp_url_refused"),
        (&metadata, "idp_url_refused"),
        (&private, "idp_url_refused"),
        (&huge, "discovery_failed"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (issuer, expected))| (i, issuer, expected))
    {
        let id = connection(
            &app,
            &app.admin_key,
            &format!("fake-{i}"),
            json!({"kind": "oidc", "oidc": {"issuer": issuer}}),
            json!({}),
        )
        .await;
        let started = std::time::Instant::now();
        let answer = Browser::new()
            .get(&app.url(&format!("/v1/sso/login?connection={id}")))
            .await;
        assert_eq!(
            problem(answer).await,
            (StatusCode::BAD_GATEWAY, expected.to_owned()),
            "{issuer}"
        );
        // Refused without trying (a blackholed address would take the 5 s connect timeout).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{issuer}"
        );
    }
    // Only discovery was fetched from the evil IdPs: never a JWKS, never a token endpoint.
    assert_eq!(evil_hits.load(Ordering::SeqCst), 1);
    assert_eq!(internal_hits.load(Ordering::SeqCst), 1);
    assert_eq!(count(&app, "sso_login_states").await, 0);
}

// ---------------------------------------------------------------------------------------------
// 4. Open redirects

/// Attack: `return_to` crafted so that, after signing in, the browser lands on the attacker's
/// site (phishing with our own sign-in link), or so that the `Location` header carries a header
/// of the attacker's.
async fn sign_in_return_to_cannot_leave_our_origin_however_it_is_encoded(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    // As sent on the query string (already percent-encoded where a browser would).
    let refused = [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "%2F%09%2Fevil.example",
        "%2F%0D%0ASet-Cookie%3A%20x%3D1",
        "%2F%0ALocation%3A%20https%3A%2F%2Fevil.example",
        "%2F%E2%80%A8%2Fevil.example",
        "%2F%C2%A0%2Fevil.example",
        "javascript%3Aalert(1)",
        "evil.example",
        "%20%2F%2Fevil.example",
        "%2F%2F%2Fevil.example",
        "%2F%00",
    ];
    for value in refused {
        let answer = Browser::new()
            .get(&app.url(&format!("/v1/sso/login?connection={id}&return_to={value}")))
            .await;
        assert!(
            answer.headers().get("location").is_none()
                && answer.headers().get("set-cookie").is_none(),
            "{value}"
        );
        // 400 from sign-in, or 422 from the request screen for a control character.
        assert!(
            answer.status().is_client_error(),
            "{value}: {}",
            answer.status()
        );
    }
    assert_eq!(count(&app, "sso_login_states").await, 0);

    // Accepted: odd, but paths of ours, wherever a browser resolves them. Each goes the whole
    // way, and the browser is sent to a place on our origin, in a valid `Location`.
    let ours = Url::parse(&app.url("/")).unwrap();
    for value in [
        "%2F%252F%252Fevil.example",
        "%2F.%2F%2Fevil.example",
        "%2Fconsole%2F..%2F..%2F%2Fevil.example",
        "%2Fcaf%C3%A9%3Fq%3D%E2%80%AE",
        "%2F%3Fnext%3Dhttps%3A%2F%2Fevil.example",
    ] {
        idp.set_next_login(json!({"sub": "r"})).await;
        let answer = Browser::new()
            .sign_in(&app, &idp, &format!("connection={id}&return_to={value}"))
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{value}");
        let target = location(&answer);
        assert!(!target.is_empty(), "{value}: no Location");
        let landed = ours.join(&target).unwrap();
        assert_eq!(landed.origin(), ours.origin(), "{value} -> {target}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. State, nonce, PKCE

fn param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn callback(app: &TestApp, state: &str, code: &str, iss: &str) -> String {
    let mut url = Url::parse(&app.url("/oauth2/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("state", state)
        .append_pair("code", code)
        .append_pair("iss", iss);
    url.to_string()
}

/// Attacks: a state begun for connection X answered with what connection Y's IdP issued (the
/// attacker controls Y, another tenant's, and wants into X); and the same callback sent many
/// times at once, hoping two win the race to the state row.
async fn sign_in_state_is_bound_to_its_connection_and_used_once_even_when_raced(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp_x = idp_for(&app, Shape::Generic).await;
    let idp_y = idp_for(&app, Shape::Generic).await;
    let x = connection(&app, &app.admin_key, "x", generic(&idp_x), json!({})).await;
    let (_, tenant_key) = app.new_workspace("attacker").await;
    let y = connection(&app, &tenant_key, "y", generic(&idp_y), json!({})).await;

    let browser = Browser::new();
    // Y's answer (its code, its iss) under X's state: the mix-up defence.
    let started_x = Url::parse(&browser.start(&app, &format!("connection={x}")).await).unwrap();
    idp_y.set_next_login(json!({"sub": "admin-of-x"})).await;
    let back_y = idp_y
        .complete_authorization(&browser.start(&app, &format!("connection={y}")).await)
        .await;
    let forged = callback(
        &app,
        &param(&started_x, "state"),
        &param(&back_y, "code"),
        &idp_y.issuer,
    );
    assert_eq!(
        problem(browser.get(&forged).await).await,
        (StatusCode::BAD_REQUEST, "issuer_mismatch".into())
    );
    // Y's code under X's state, lying about the issuer: X's token endpoint does not know it.
    let started_x = Url::parse(&browser.start(&app, &format!("connection={x}")).await).unwrap();
    idp_y.set_next_login(json!({"sub": "admin-of-x"})).await;
    let back_y = idp_y
        .complete_authorization(&browser.start(&app, &format!("connection={y}")).await)
        .await;
    let forged = callback(
        &app,
        &param(&started_x, "state"),
        &param(&back_y, "code"),
        &idp_x.issuer,
    );
    assert_eq!(
        problem(browser.get(&forged).await).await,
        (StatusCode::BAD_GATEWAY, "token_exchange_failed".into())
    );
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);

    // The race: one callback, sent eight times at once from the browser that began it.
    idp_x.set_next_login(json!({"sub": "racer"})).await;
    let back = idp_x
        .complete_authorization(&browser.start(&app, &format!("connection={x}")).await)
        .await;
    let attempts = (0..8).map(|_| browser.get(back.as_str()));
    let answers = futures::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    assert_eq!(count(&app, "sessions").await, 1);
    assert_eq!(count(&app, "users").await, 1);
}

/// Attack: protocol confusion. A SAML sign-in's state (its RelayState) answered at the OIDC
/// callback with a code, and an OIDC sign-in's state answered at the SAML assertion consumer.
async fn sign_in_a_state_of_one_protocol_cannot_be_answered_in_the_other(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let oidc = connection(&app, &app.admin_key, "oidc", generic(&idp), json!({})).await;
    let certificate = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../saml/tests/support/keys/idp.crt"),
    )
    .unwrap();
    let saml = app
        .post(
            "/v1/sso-connections",
            &app.admin_key,
            json!({"name": "saml", "kind": "saml", "saml": {"idp_entity_id": "urn:idp",
                "idp_sso_url": "http://127.0.0.1:9/sso", "idp_certificate": certificate}}),
        )
        .await;
    assert_eq!(saml.status, StatusCode::CREATED, "{}", saml.body);
    let saml = saml.body["id"].as_str().unwrap().to_owned();

    let browser = Browser::new();
    let to_idp = Url::parse(&browser.start(&app, &format!("connection={saml}")).await).unwrap();
    let relay = param(&to_idp, "RelayState");
    assert!(!relay.is_empty());
    let confused = callback(&app, &relay, "a-code", &idp.issuer);
    assert_eq!(
        problem(browser.get(&confused).await).await,
        (StatusCode::BAD_REQUEST, "wrong_protocol".into())
    );
    assert_eq!(
        problem(browser.get(&confused).await).await,
        (StatusCode::BAD_REQUEST, "state_invalid".into()),
        "the state is used up by the attempt"
    );

    let to_idp = Url::parse(&browser.start(&app, &format!("connection={oidc}")).await).unwrap();
    let answer = browser
        .http
        .post(app.url("/v1/sso/saml/acs"))
        .header("accept", "application/json")
        .form(&[
            ("SAMLResponse", base64_xml("<samlp:Response/>").as_str()),
            ("RelayState", param(&to_idp, "state").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(answer).await,
        (StatusCode::BAD_REQUEST, "wrong_protocol".into())
    );
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);
}

// ---------------------------------------------------------------------------------------------
// 2. Cookies and sessions

/// Attacks: a second session cookie planted beside the victim's (cookie tossing from a sibling
/// host); the attacker's own session cookie planted before the victim signs in (fixation); a
/// session value the attacker chose.
async fn sign_in_cookies_cannot_be_tossed_fixed_or_doubled(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    let attacker = sign_in_as(&app, &idp, &id, json!({"sub": "mallory"})).await;
    let victim = sign_in_as(&app, &idp, &id, json!({"sub": "victim"})).await;

    // Two session cookies, in either order, in one header or two: neither is used.
    for headers in [
        vec![format!(
            "statuspulse_session={}; statuspulse_session={}",
            attacker.cookie, victim.cookie
        )],
        vec![format!(
            "statuspulse_session={}; statuspulse_session={}",
            victim.cookie, attacker.cookie
        )],
        vec![
            format!("statuspulse_session={}", victim.cookie),
            format!("statuspulse_session=\"{}\"", attacker.cookie),
        ],
    ] {
        let mut request = raw()
            .get(app.url("/v1/me"))
            .header("accept", "application/json");
        for h in &headers {
            request = request.header("cookie", h);
        }
        assert_eq!(
            problem(request.send().await.unwrap()).await,
            (StatusCode::BAD_REQUEST, "duplicate_session_cookie".into()),
            "{headers:?}"
        );
    }

    // Fixation: the victim's browser carries the attacker's session (or a value the attacker
    // made up) when the victim signs in. The victim gets a fresh secret; the planted ones stay
    // what they were.
    let chosen = format!("sps_{}", "A".repeat(43));
    for planted in [attacker.cookie.clone(), chosen.clone()] {
        idp.set_next_login(json!({"sub": "victim"})).await;
        let authorize = raw()
            .get(app.url(&format!("/v1/sso/login?connection={id}")))
            .header("cookie", format!("statuspulse_session={planted}"))
            .send()
            .await
            .unwrap();
        let signin = set_cookie(&authorize, "statuspulse_signin").unwrap();
        let back = idp.complete_authorization(&location(&authorize)).await;
        let done = raw()
            .get(back.as_str())
            .header("accept", "application/json")
            .header(
                "cookie",
                format!("statuspulse_session={planted}; statuspulse_signin={signin}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let fresh = set_cookie(&done, "statuspulse_session").unwrap();
        assert_ne!(fresh, planted);
        let me: Value = with_cookie(&app, Method::GET, "/v1/me", &fresh, None, None, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["user"]["subject"], "victim");
        let planted_me = with_cookie(&app, Method::GET, "/v1/me", &planted, None, None, None).await;
        if planted == chosen {
            assert_eq!(
                problem(planted_me).await,
                (StatusCode::UNAUTHORIZED, "invalid_session".into())
            );
        } else {
            let planted_me: Value = planted_me.json().await.unwrap();
            assert_eq!(planted_me["user"]["subject"], "mallory");
        }
    }
    // The sign-in cookie is not a session: alone it authenticates nothing.
    let signin_only = raw()
        .get(app.url("/v1/me"))
        .header("accept", "application/json")
        .header(
            "cookie",
            format!("statuspulse_signin=spb_{}", "A".repeat(43)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signin_only.status(), StatusCode::UNAUTHORIZED);
    drop(victim.browser);
}

/// Attack: a user signed in to workspace A uses their cookie on workspace B's objects (guessed
/// or leaked ids), and B's key on A's sessions. Every one is a 404, nothing changes.
async fn sign_in_a_session_of_one_workspace_finds_nothing_of_another(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let admin = app.admin_key.clone();
    let a = connection(
        &app,
        &admin,
        "a",
        generic(&idp),
        json!({"group_mappings": {"idp-admins": "admins"}}),
    )
    .await;
    let bound = app
        .post(
            "/v1/role-bindings",
            &admin,
            json!({"group": "admins", "scopes": ["admin:all"]}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.body);
    let alice = sign_in_as(
        &app,
        &idp,
        &a,
        json!({"sub": "alice", "groups": ["idp-admins"]}),
    )
    .await;

    let (_, b_key) = app.new_workspace("b").await;
    let b = connection(
        &app,
        &b_key,
        "b",
        generic(&idp),
        json!({"group_mappings": {"idp-admins": "admins"}}),
    )
    .await;
    let b_binding = app
        .post(
            "/v1/role-bindings",
            &b_key,
            json!({"group": "admins", "scopes": ["admin:all"]}),
        )
        .await;
    let bob = sign_in_as(
        &app,
        &idp,
        &b,
        json!({"sub": "bob", "groups": ["idp-admins"]}),
    )
    .await;
    let b_sa = app
        .post("/v1/service-accounts", &b_key, json!({"name": "b-sa"}))
        .await;
    let b_key_made = app
        .create_key(
            &b_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let ids = [
        format!("/v1/service-accounts/{}", b_sa.body["id"].as_str().unwrap()),
        format!("/v1/api-keys/{}", b_key_made["id"].as_str().unwrap()),
        format!("/v1/sso-connections/{b}"),
        format!(
            "/v1/role-bindings/{}",
            b_binding.body["id"].as_str().unwrap()
        ),
        format!("/v1/sessions/{}", bob.me["session"]["id"].as_str().unwrap()),
    ];
    let before = app.database_snapshot().await;
    let csrf = alice.csrf();
    let origin = app.url("");
    for path in &ids {
        // What the same request gets for an id that exists nowhere: B's objects must look the
        // same to A (GET and DELETE: 404; a PATCH body may be refused before the lookup, the
        // same way for any id).
        let (collection, _) = path.rsplit_once('/').unwrap();
        let (prefix, _) = path[collection.len() + 1..].split_once('_').unwrap();
        let nowhere = format!("{collection}/{prefix}_0000000000000000000000000000000");
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"name": "pwned"}))),
            (Method::DELETE, None),
        ] {
            let baseline = with_cookie(
                &app,
                method.clone(),
                &nowhere,
                &alice.cookie,
                Some(&csrf),
                Some(&origin),
                body.clone(),
            )
            .await
            .status();
            let answer = with_cookie(
                &app,
                method.clone(),
                path,
                &alice.cookie,
                Some(&csrf),
                Some(&origin),
                body,
            )
            .await;
            let status = answer.status();
            assert!(status.is_client_error(), "{method} {path}: {status}");
            assert_eq!(status, baseline, "{method} {path} vs {nowhere}");
            if method != Method::PATCH {
                // A route without this method is a 405 whatever the id; otherwise 404.
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {status}"
                );
            }
        }
    }
    for (path, body) in [
        ("/v1/sessions/revoke-all", json!({"user_id": bob.user_id()})),
        (
            &*format!("/v1/api-keys/{}/rotate", b_key_made["id"].as_str().unwrap()),
            json!({}),
        ),
    ] {
        let answer = with_cookie(
            &app,
            Method::POST,
            path,
            &alice.cookie,
            Some(&csrf),
            Some(&origin),
            Some(body),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Listing shows only A's.
    let listed: Value = with_cookie(
        &app,
        Method::GET,
        &format!("/v1/sessions?user_id={}", bob.user_id()),
        &alice.cookie,
        None,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["items"], json!([]));
    // And B's key on A's session.
    let alice_session = alice.me["session"]["id"].as_str().unwrap();
    let foreign = app
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{alice_session}"),
            Some(&b_key),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.database_snapshot().await, before);
}

/// Attacks of a user whose groups are bound to some administration: binding more to their own
/// group, minting a key beyond their bindings, mapping their IdP group onto a more powerful
/// group; and keeping a group the IdP has since removed.
async fn sign_in_users_cannot_escalate_beyond_their_groups_and_lose_removed_groups(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let admin = app.admin_key.clone();
    let id = connection(
        &app,
        &admin,
        "corp",
        generic(&idp),
        json!({"group_mappings": {"idp-ops": "ops"}}),
    )
    .await;
    for (group, scopes) in [
        (
            "ops",
            json!(["admin:keys", "admin:access", "admin:sso", "read:checks"]),
        ),
        ("root", json!(["admin:all"])),
    ] {
        let bound = app
            .post(
                "/v1/role-bindings",
                &admin,
                json!({"group": group, "scopes": scopes}),
            )
            .await;
        assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.body);
    }
    let ops = sign_in_as(
        &app,
        &idp,
        &id,
        json!({"sub": "olga", "groups": ["idp-ops"]}),
    )
    .await;
    let csrf = ops.csrf();
    let origin = app.url("");
    let write = |method: Method, path: String, body: Value| {
        let (app, cookie, csrf, origin) = (&app, ops.cookie.clone(), csrf.clone(), origin.clone());
        async move {
            let answer = with_cookie(
                app,
                method,
                &path,
                &cookie,
                Some(&csrf),
                Some(&origin),
                Some(body),
            )
            .await;
            let status = answer.status();
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let before = app.database_snapshot().await;
    for (path, body) in [
        (
            "/v1/role-bindings",
            json!({"group": "ops", "scopes": ["admin:all"]}),
        ),
        (
            "/v1/role-bindings",
            json!({"group": "ops", "scopes": ["write:checks"]}),
        ),
        (
            "/v1/role-bindings",
            json!({"group": "newcomers", "scopes": ["admin:service_accounts"]}),
        ),
        (
            "/v1/api-keys",
            json!({"name": "k", "environment": "live", "scopes": ["admin:all"]}),
        ),
        (
            "/v1/api-keys",
            json!({"name": "k", "environment": "live", "scopes": ["write:checks"]}),
        ),
    ] {
        let (status, answer) = write(Method::POST, path.to_owned(), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} {body}: {answer}");
    }
    // Mapping their IdP group onto `root` would hand them admin:all at their next sign-in.
    let (status, answer) = write(
        Method::PATCH,
        format!("/v1/sso-connections/{id}"),
        json!({"group_mappings": {"idp-ops": "root"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(app.database_snapshot().await, before);
    // What they hold, they can hand out (the refusals above are not blanket ones).
    let (status, answer) = write(
        Method::POST,
        "/v1/api-keys".into(),
        json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // The IdP removes the group; the next sign-in (another device) takes it from every session.
    let again = sign_in_as(&app, &idp, &id, json!({"sub": "olga", "groups": []})).await;
    assert_eq!(again.me["effective_scopes"], json!([]));
    let me: Value = with_cookie(&app, Method::GET, "/v1/me", &ops.cookie, None, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["effective_scopes"], json!([]), "{me}");
    let (status, _) = write(
        Method::POST,
        "/v1/api-keys".into(),
        json!({"name": "k2", "environment": "live", "scopes": ["read:checks"]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Attack (by waiting): an administrator removes the mapping that made someone an admin (or
/// deletes the connection) after a falling-out; that person keeps using the session they
/// already have, whose groups were frozen at sign-in, for up to a day.
async fn sign_in_a_removed_mapping_or_deleted_connection_takes_its_grant_from_live_sessions(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let admin = app.admin_key.clone();
    let id = connection(
        &app,
        &admin,
        "corp",
        generic(&idp),
        json!({"group_mappings": {"idp-admins": "admins", "idp-readers": "readers"}}),
    )
    .await;
    for (group, scopes) in [
        ("admins", json!(["admin:all"])),
        ("readers", json!(["read:checks"])),
    ] {
        let bound = app
            .post(
                "/v1/role-bindings",
                &admin,
                json!({"group": group, "scopes": scopes}),
            )
            .await;
        assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.body);
    }
    let ex = sign_in_as(
        &app,
        &idp,
        &id,
        json!({"sub": "ex-admin", "groups": ["idp-admins", "idp-readers"]}),
    )
    .await;
    assert!(ex.me["effective_scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("admin:all")));
    let me = || async {
        let answer = with_cookie(&app, Method::GET, "/v1/me", &ex.cookie, None, None, None).await;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        (status, body)
    };

    let unmapped = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&admin),
            Some(json!({"group_mappings": {"idp-readers": "readers"}})),
        )
        .await;
    assert_eq!(unmapped.status, StatusCode::OK, "{}", unmapped.body);
    let (status, now) = me().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["user"]["groups"], json!(["readers"]), "{now}");
    assert_eq!(now["effective_scopes"], json!(["read:checks"]), "{now}");
    let denied = with_cookie(
        &app,
        Method::POST,
        "/v1/service-accounts",
        &ex.cookie,
        Some(&ex.csrf()),
        Some(&app.url("")),
        Some(json!({"name": "backdoor"})),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/sso-connections/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let (status, body) = me().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

// ---------------------------------------------------------------------------------------------
// 3. CSRF

/// A real id for a path's `{…}` parameter, by the collection it names.
fn fill(path: &str, ids: &std::collections::BTreeMap<&str, String>) -> String {
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        if segment.starts_with('{') {
            out.push(ids.get(previous).cloned().unwrap_or_else(|| "x".into()));
        } else {
            out.push(segment.to_owned());
        }
        previous = segment;
    }
    out.join("/")
}

/// Attack: a page of another origin makes the signed-in administrator's browser send every
/// write the API has (every non-GET route of the OpenAPI document), with the cookie and
/// without the token, or with the token and a foreign or `null` Origin. None may change
/// anything. And the verify route does not take a cookie as a credential at all.
async fn sign_in_every_cookie_authenticated_write_needs_the_csrf_token_and_our_origin(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let admin = app.admin_key.clone();
    let id = connection(
        &app,
        &admin,
        "corp",
        generic(&idp),
        json!({"group_mappings": {"idp-admins": "admins"}}),
    )
    .await;
    let binding = app
        .post(
            "/v1/role-bindings",
            &admin,
            json!({"group": "admins", "scopes": ["admin:all"]}),
        )
        .await;
    let root = sign_in_as(
        &app,
        &idp,
        &id,
        json!({"sub": "root", "groups": ["idp-admins"]}),
    )
    .await;
    let sa = app
        .post("/v1/service-accounts", &admin, json!({"name": "sa"}))
        .await;
    let key = app
        .create_key(
            &admin,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let cluster = app
        .post(
            "/v1/environment-clusters",
            &admin,
            json!({"name": "eu-prod-1", "environment": "live"}),
        )
        .await;
    let ids: std::collections::BTreeMap<&str, String> = [
        (
            "service-accounts",
            sa.body["id"].as_str().unwrap().to_owned(),
        ),
        ("api-keys", key["id"].as_str().unwrap().to_owned()),
        (
            "role-bindings",
            binding.body["id"].as_str().unwrap().to_owned(),
        ),
        ("sso-connections", id.clone()),
        (
            "environment-clusters",
            cluster.body["id"]
                .as_str()
                .or(cluster.body["name"].as_str())
                .unwrap_or("eu-prod-1")
                .to_owned(),
        ),
        ("workspaces", app.workspace_id.clone()),
        (
            "sessions",
            root.me["session"]["id"].as_str().unwrap().to_owned(),
        ),
    ]
    .into_iter()
    .collect();

    let openapi: Value = raw()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut writes = Vec::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "head", "options", "parameters"].contains(&method.as_str()) {
                continue;
            }
            // The assertion consumer is posted cross-site by design, with no session: the
            // state and the IdP's signature are its protection (tested elsewhere).
            // The OAuth protocol endpoints read no cookie at all: the client authenticates in the
            // request itself (tested in oauth.rs).
            if path == "/v1/sso/saml/acs"
                || statuspulse_server::openapi::OAUTH_PROTOCOL_PATHS.contains(&path.as_str())
            {
                continue;
            }
            writes.push((
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap(),
                fill(path, &ids),
            ));
        }
    }
    assert!(writes.len() >= 10, "{writes:?}");
    let csrf = root.csrf();
    let before = app.database_snapshot().await;
    for (method, path) in &writes {
        for (token, origin, body) in [
            (None, None, Some(json!({}))),
            (None, None, None),
            (Some("x".repeat(43)), None, Some(json!({}))),
            (
                Some(csrf.clone()),
                Some("https://evil.example"),
                Some(json!({})),
            ),
            (Some(csrf.clone()), Some("null"), None),
            (
                Some(csrf.clone()),
                Some(&*format!("{}.evil.example", app.url(""))),
                None,
            ),
        ] {
            let answer = with_cookie(
                &app,
                method.clone(),
                path,
                &root.cookie,
                token.as_deref(),
                origin,
                body.clone(),
            )
            .await;
            assert_eq!(
                problem(answer).await,
                (StatusCode::FORBIDDEN, "csrf_rejected".into()),
                "{method} {path} token={token:?} origin={origin:?}"
            );
        }
    }
    assert_eq!(app.database_snapshot().await, before);
    // The same session, with its token and our origin, could have: the refusals were CSRF's.
    let ok = with_cookie(
        &app,
        Method::DELETE,
        &format!("/v1/service-accounts/{}", ids["service-accounts"]),
        &root.cookie,
        Some(&csrf),
        Some(&app.url("")),
        None,
    )
    .await;
    assert!(ok.status().is_success(), "{}", ok.status());

    // Verify is about the request's Bearer credential: a cookie (with its token, even) is none.
    let verify = with_cookie(
        &app,
        Method::GET,
        "/v1/auth/verify?scope=admin:all",
        &root.cookie,
        Some(&csrf),
        Some(&app.url("")),
        None,
    )
    .await;
    assert_eq!(
        problem(verify).await,
        (StatusCode::UNAUTHORIZED, "missing_credential".into())
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Resource exhaustion without credentials

/// Attacks without any credential: flooding sign-in starts (each would store a state row and
/// make us call the IdP), callbacks with made-up states, and the SAML assertion consumer with
/// large or junk posts. Starts are limited per network; the rest is refused before any work.
async fn sign_in_unauthenticated_floods_are_bounded_and_cheap(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| {
                s.master_key = MasterKeySource::Value(MASTER_KEY.parse().unwrap());
                s.rate_limit_tiers = statuspulse_server::platform::config::RateLimitTiers::parse(
                    "standard=20,enterprise=6000",
                )
                .unwrap();
            },
            ..Options::default()
        },
    )
    .await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    let mut started = 0;
    let mut limited = 0;
    for _ in 0..30 {
        let answer = raw()
            .get(app.url(&format!("/v1/sso/login?connection={id}")))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        match answer.status() {
            StatusCode::FOUND => started += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(answer.headers().get("retry-after").is_some());
                limited += 1;
            }
            other => panic!("{other}"),
        }
    }
    assert!(started <= 21 && limited >= 9, "{started} {limited}");
    assert_eq!(count(&app, "sso_login_states").await, started);
    let discovery_hits = idp.stats().await["discovery_hits"].as_u64().unwrap();
    assert!(discovery_hits <= 2, "{discovery_hits}");

    // Callbacks with made-up states (with and without a well-formed sign-in cookie).
    let before = app.database_snapshot().await;
    let token_hits = idp.stats().await["token_hits"].as_u64().unwrap();
    for i in 0..100 {
        let mut request = raw()
            .get(app.url(&format!("/oauth2/callback?state=s{i}&code=c{i}")))
            .header("accept", "application/json");
        if i % 2 == 0 {
            request = request.header(
                "cookie",
                format!("statuspulse_signin=spb_{}", "B".repeat(43)),
            );
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        idp.stats().await["token_hits"].as_u64().unwrap(),
        token_hits
    );

    // The assertion consumer: larger than its limit is refused unread; junk is refused by the
    // state check, before any XML is parsed or signature checked.
    let big = "A".repeat(600 * 1024);
    let answer = raw()
        .post(app.url("/v1/sso/saml/acs"))
        .header("accept", "application/json")
        .form(&[("SAMLResponse", big.as_str()), ("RelayState", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let junk =
        base64_xml("<samlp:Response><!ENTITY x SYSTEM 'file:///etc/passwd'></samlp:Response>");
    for (relay, cookie, expected) in [
        (None, None, "state_missing"),
        (Some("made-up"), None, "browser_mismatch"),
        (
            Some("made-up"),
            Some(format!("statuspulse_signin=spb_{}", "C".repeat(43))),
            "state_invalid",
        ),
    ] {
        let mut form = vec![("SAMLResponse", junk.clone())];
        if let Some(relay) = relay {
            form.push(("RelayState", relay.to_owned()));
        }
        let mut request = raw()
            .post(app.url("/v1/sso/saml/acs"))
            .header("accept", "application/json")
            .form(&form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        assert_eq!(
            problem(request.send().await.unwrap()).await,
            (StatusCode::BAD_REQUEST, expected.to_owned())
        );
    }
    assert_eq!(app.database_snapshot().await, before);
}

/// Attack: many unauthenticated sign-in starts at once against a connection whose IdP is slow
/// (or made slow by its owner): each would make its own discovery call and hold it open.
async fn sign_in_a_flood_against_a_slow_idp_makes_one_discovery_at_a_time(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let (slow, hits) = fake_idp(
        std::time::Duration::from_millis(500),
        |origin, path| match path {
            "/.well-known/openid-configuration" => Some(
                json!({"issuer": origin, "authorization_endpoint": format!("{origin}/auth"),
                    "token_endpoint": format!("{origin}/token"),
                    "jwks_uri": format!("{origin}/jwks")})
                .to_string(),
            ),
            "/jwks" => Some(json!({"keys": []}).to_string()),
            _ => None,
        },
    )
    .await;
    let id = connection(
        &app,
        &app.admin_key,
        "slow",
        json!({"kind": "oidc", "oidc": {"issuer": slow}}),
        json!({}),
    )
    .await;
    let url = app.url(&format!("/v1/sso/login?connection={id}"));
    let starts = (0..20).map(|_| {
        let url = url.clone();
        async move { raw().get(url).send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(starts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::FOUND),
        "{statuses:?}"
    );
    // One discovery and one JWKS fetch for all twenty.
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

fn base64_xml(xml: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// Attack: an IdP (or whoever controls a tenant's) sends claims built to bloat our tables and
/// audit trail: a huge subject, email or group name, thousands of groups.
async fn sign_in_oversized_claims_are_refused_and_leave_nothing_behind(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    // The test IdP takes at most 64 KiB of instructions: big enough to show the point.
    let groups: Vec<String> = (0..5000).map(|i| format!("g{i}")).collect();
    for (name, claims, expected) in [
        (
            "subject",
            json!({"sub": "s".repeat(20_000)}),
            (StatusCode::UNAUTHORIZED, "claim_too_long"),
        ),
        (
            "email",
            json!({"sub": "e", "email": format!("{}@example.com", "e".repeat(5000)), "email_verified": true}),
            (StatusCode::UNAUTHORIZED, "claim_too_long"),
        ),
        (
            "group name",
            json!({"sub": "g", "groups": ["x".repeat(20_000)]}),
            (StatusCode::UNAUTHORIZED, "claim_too_long"),
        ),
        (
            "groups",
            json!({"sub": "gs", "groups": groups}),
            (StatusCode::FORBIDDEN, "too_many_groups"),
        ),
    ] {
        idp.set_next_login(json!({"sub": "placeholder"})).await;
        idp.tamper_next_id_token(json!({"claims": claims})).await;
        let answer = Browser::new()
            .sign_in(&app, &idp, &format!("connection={id}"))
            .await;
        assert_eq!(
            problem(answer).await,
            (expected.0, expected.1.to_owned()),
            "{name}"
        );
    }
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);
    // The refusals are audited without the claims themselves.
    app.flush_audit().await;
    let longest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(LENGTH(details)) FROM audit_events WHERE event_type = 'sso.login_failed'",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert!(longest.unwrap_or(0) < 2000, "{longest:?}");
    // Within the limits, it works (the limits are not too tight for real IdPs).
    let fine = sign_in_as(
        &app,
        &idp,
        &id,
        json!({"sub": "s".repeat(255), "email": format!("{}@example.com", "e".repeat(60)),
            "email_verified": true, "groups": ["x".repeat(256)]}),
    )
    .await;
    assert_eq!(fine.me["user"]["subject"].as_str().unwrap().len(), 255);
}

// ---------------------------------------------------------------------------------------------
// 7. Secrets

/// Attack: read the secrets of a sign-in from where they must never be: the logs, the audit
/// trail, problem details and pages, the stored rows. The client secret, the authorization
/// code, the state, the sign-in cookie, the session cookie and the ID token.
async fn sign_in_secrets_never_reach_logs_audit_events_or_answers(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    let browser = Browser::new();
    let authorize = raw()
        .get(app.url(&format!("/v1/sso/login?connection={id}")))
        .send()
        .await
        .unwrap();
    let signin = set_cookie(&authorize, "statuspulse_signin").unwrap();
    let authorize_url = Url::parse(&location(&authorize)).unwrap();
    let state = param(&authorize_url, "state");
    idp.set_next_login(json!({"sub": "s", "email": "s@example.com", "email_verified": true}))
        .await;
    let back = idp.complete_authorization(authorize_url.as_str()).await;
    let code = param(&back, "code");
    let done = raw()
        .get(back.as_str())
        .header("cookie", format!("statuspulse_signin={signin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&done, "statuspulse_session").unwrap();
    // Replaying the code (refused by the IdP) and a failure page: what do they show?
    let replay = raw()
        .get(back.as_str())
        .header("cookie", format!("statuspulse_signin={signin}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let authorize2 = browser.start(&app, &format!("connection={id}")).await;
    let back2 = idp.complete_authorization(&authorize2).await;
    let code2 = param(&back2, "code");
    // A code exchanged in another browser (PKCE refuses it at the IdP).
    let stolen = Browser::new()
        .get(back2.as_str())
        .await
        .text()
        .await
        .unwrap();
    let mixed = browser
        .get(&callback(
            &app,
            &param(&back2, "state"),
            &code2,
            "https://evil.example",
        ))
        .await
        .text()
        .await
        .unwrap();

    app.flush_audit().await;
    let audit: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let stored = format!("{:?}", app.database_snapshot().await);
    let logs = captured_logs();
    let secrets = [
        ("client secret", CLIENT_SECRET.to_owned()),
        ("code", code),
        ("second code", code2),
        ("state", state),
        ("sign-in cookie", signin),
        ("session cookie", session),
    ];
    for (what, secret) in &secrets {
        assert!(!secret.is_empty(), "{what}");
        for (place, text) in [
            ("logs", logs.as_str()),
            ("audit", &audit.join("\n")),
            ("stored rows", stored.as_str()),
            ("replay page", replay.as_str()),
            ("stolen-code answer", stolen.as_str()),
            ("mix-up answer", mixed.as_str()),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "the {what} is in the {place}"
            );
        }
    }
    // No ID token (a JWT) anywhere either.
    for (place, text) in [("logs", logs.as_str()), ("audit", &audit.join("\n"))] {
        assert!(!text.contains("eyJhbGciOi"), "a JWT is in the {place}");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Bad input

/// Every malformed request to the sign-in routes is a 4xx (never a 5xx: PostgreSQL and SQLite
/// alike), and changes nothing.
async fn sign_in_bad_input_is_a_4xx_that_changes_nothing(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let id = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    let _someone = sign_in_as(&app, &idp, &id, json!({"sub": "someone"})).await;
    let before = app.database_snapshot().await;
    let long = "x".repeat(4000);
    let gets = [
        "/v1/sso/login".to_owned(),
        format!("/v1/sso/login?connection={id}&email=a@example.com"),
        "/v1/sso/login?connection=".to_owned(),
        "/v1/sso/login?connection=%00".to_owned(),
        "/v1/sso/login?connection=%FF%FE".to_owned(),
        "/v1/sso/login?connection=sso_'%20OR%201=1--".to_owned(),
        format!("/v1/sso/login?connection={long}"),
        format!("/v1/sso/login?connection={id}&connection={id}"),
        format!("/v1/sso/login?connection={id}&unknown=1"),
        format!("/v1/sso/login?connection={id}&return_to="),
        "/v1/sso/login?email=no-at-sign".to_owned(),
        "/v1/sso/login?email=a@".to_owned(),
        format!("/v1/sso/login?email=a@{long}.com"),
        "/v1/sso/login?email=a@%E2%80%AEmoc.example".to_owned(),
        "/v1/sso/login?email=a@exa%00mple.com".to_owned(),
        "/oauth2/callback".to_owned(),
        "/oauth2/callback?state=".to_owned(),
        "/oauth2/callback?state=%FF".to_owned(),
        "/oauth2/callback?state=a&state=b".to_owned(),
        format!("/oauth2/callback?state={long}&code=c"),
        "/oauth2/callback?error=%3Cscript%3E&state=x".to_owned(),
        "/oauth2/callback?code=c".to_owned(),
        "/v1/sso-connections/sso_nope/saml/metadata".to_owned(),
        format!("/v1/sso-connections/{id}/saml/metadata"),
        "/v1/sso/saml/acs".to_owned(),
        "/v1/me".to_owned(),
        "/v1/sessions".to_owned(),
    ];
    for path in &gets {
        for cookie in [
            None,
            Some(format!("statuspulse_signin=spb_{}", "D".repeat(43))),
            Some("statuspulse_session=sps_short".to_owned()),
            Some(format!("statuspulse_session=sps_{}", "%".repeat(43))),
        ] {
            let mut request = raw()
                .get(app.url(path))
                .header("accept", "application/json");
            if let Some(cookie) = &cookie {
                request = request.header("cookie", cookie);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status();
            assert!(
                status.is_client_error(),
                "GET {path} ({cookie:?}): {status} {}",
                answer.text().await.unwrap_or_default()
            );
        }
    }
    let acs_bodies: [(&str, &str); 6] = [
        ("application/x-www-form-urlencoded", ""),
        ("application/x-www-form-urlencoded", "RelayState=x"),
        (
            "application/x-www-form-urlencoded",
            "SAMLResponse=%%%&RelayState=x",
        ),
        (
            "application/x-www-form-urlencoded",
            "SAMLResponse=a&SAMLResponse=b",
        ),
        ("application/json", "{\"SAMLResponse\": \"x\"}"),
        ("text/xml", "<samlp:Response/>"),
    ];
    for (content_type, body) in acs_bodies {
        let answer = raw()
            .post(app.url("/v1/sso/saml/acs"))
            .header("accept", "application/json")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_client_error(),
            "ACS {content_type} {body}: {}",
            answer.status()
        );
    }
    assert_eq!(app.database_snapshot().await, before);
}
