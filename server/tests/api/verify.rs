//! `GET /v1/auth/verify`: authentication, authorization decisions, cost of failures, rate limits.

use reqwest::StatusCode;
use serde_json::json;
use statuspulse_server::Clock;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

const ARGON2_RUNS: &str = "statuspulse_argon2_duration_seconds_count";
const CACHE_LOOKUPS: &str = "statuspulse_auth_key_cache_lookups_total";

/// The `n`th wrong secret for `key`'s key id, with a valid checksum: a guess that parses.
pub(crate) fn wrong_secret(key: &str, n: usize) -> String {
    use base64::Engine;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let prefix = &key[..8];
    let key_id = &key[8..24];
    let mut secret = key.as_bytes()[24..66].to_vec();
    secret[0] = ALPHABET[n % ALPHABET.len()];
    secret[1] = ALPHABET[n / ALPHABET.len() % ALPHABET.len()];
    if secret == key.as_bytes()[24..66] {
        secret[2] = if secret[2] == b'0' { b'1' } else { b'0' };
    }
    let secret = String::from_utf8(secret).unwrap();
    let checksum = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(crc32(prefix, key_id, &secret).to_be_bytes());
    format!("{prefix}{key_id}{secret}{checksum}")
}

fn crc32(prefix: &str, key_id: &str, secret: &str) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(prefix.as_bytes());
    h.update(key_id.as_bytes());
    h.update(secret.as_bytes());
    h.finalize()
}

/// A well-formed key (valid checksum) whose key id exists nowhere.
pub(crate) fn random_unknown_key() -> String {
    statuspulse_server::authn::token::PlainApiKey::generate(
        statuspulse_server::authz::scopes::Environment::Live,
    )
    .expose()
    .to_owned()
}

on_both_backends!(
    verify_answers_the_principal_scopes_and_restrictions,
    authorization_parameters_turn_verify_into_a_decision,
    a_one_character_typo_is_refused_before_any_lookup_or_hash,
    a_wrong_secret_for_a_cached_key_and_unknown_keys_cost_no_argon2,
    a_key_under_the_other_environments_prefix_is_refused_cached_or_not,
    concurrent_first_uses_of_a_key_share_one_argon2,
    guessing_secrets_for_an_uncached_key_is_locked_out_of_argon2,
    every_failed_authentication_is_audited_with_its_reason
);

async fn verify_answers_the_principal_scopes_and_restrictions(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .service_account_with(
            &app.admin_key,
            "runner",
            &["read:checks", "write:alerts"],
            &[],
        )
        .await;
    let created = app.create_key(&app.admin_key, json!({
        "name": "runner", "environment": "test", "service_account_id": sa,
        "scopes": ["read:checks", "write:alerts"], "check_group_ids": ["g-eu"], "alert_route_ids": ["r-pager"]})).await;
    let key = created["key"].as_str().unwrap();
    let answer = app.get("/v1/auth/verify", key).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["principal"],
        json!({"type": "service_account", "id": sa})
    );
    assert_eq!(answer.body["workspace_id"], app.workspace_id.as_str());
    assert_eq!(answer.body["environment"], "test");
    assert_eq!(answer.body["key_id"], created["key_id"]);
    assert_eq!(
        answer.body["scopes"],
        json!(["read:checks", "write:alerts"])
    );
    assert_eq!(answer.body["check_group_ids"], json!(["g-eu"]));
    assert!(answer.headers.contains_key("ratelimit-policy"));
    // The identity as headers, for gateways that cannot read bodies.
    assert_eq!(answer.header("x-statuspulse-workspace"), app.workspace_id);
    assert_eq!(
        answer.header("x-statuspulse-key-id"),
        created["key_id"].as_str().unwrap()
    );
    assert_eq!(
        answer.header("x-statuspulse-principal"),
        format!("service_account:{sa}")
    );
    assert_eq!(answer.header("x-statuspulse-environment"), "test");
    assert_eq!(
        answer.header("x-statuspulse-scopes"),
        "read:checks write:alerts"
    );
}

async fn authorization_parameters_turn_verify_into_a_decision(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({
        "name": "k", "environment": "test", "scopes": ["read:checks"],
        "check_group_ids": ["g1"], "alert_route_ids": ["r1"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let cases = [
        ("?scope=read:checks", StatusCode::OK, ""),
        (
            "?scope=write:checks",
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
        (
            "?scope=read:everything",
            StatusCode::BAD_REQUEST,
            "unknown_scope",
        ),
        ("?environment=test", StatusCode::OK, ""),
        (
            "?environment=live",
            StatusCode::FORBIDDEN,
            "environment_mismatch",
        ),
        (
            "?environment=prod",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_environment",
        ),
        ("?check_group_id=g1", StatusCode::OK, ""),
        (
            "?check_group_id=g2",
            StatusCode::FORBIDDEN,
            "check_group_not_allowed",
        ),
        ("?alert_route_id=r1&scope=read:checks", StatusCode::OK, ""),
        (
            "?alert_route_id=r9",
            StatusCode::FORBIDDEN,
            "alert_route_not_allowed",
        ),
        (
            "?cluster=eu-prod-1",
            StatusCode::FORBIDDEN,
            "unknown_cluster",
        ),
        ("?frobnicate=1", StatusCode::BAD_REQUEST, "invalid_query"),
    ];
    for (query, status, code) in cases {
        let answer = app.get(&format!("/v1/auth/verify{query}"), key).await;
        assert_eq!(answer.status, status, "{query}: {}", answer.body);
        assert_eq!(answer.code(), code, "{query}");
        assert_eq!(
            answer.header("x-statuspulse-error"),
            code,
            "{query}: the code is a header too"
        );
    }
    let insufficient = app.get("/v1/auth/verify?scope=write:checks", key).await;
    assert_eq!(
        insufficient.header("www-authenticate"),
        "Bearer realm=\"statuspulse\", error=\"insufficient_scope\""
    );
    let invalid = app.get("/v1/auth/verify", "sp_live_nope").await;
    assert_eq!(
        invalid.header("www-authenticate"),
        "Bearer realm=\"statuspulse\", error=\"invalid_token\""
    );
    // An unrestricted key may touch any check group.
    let open = app
        .create_key(
            &app.admin_key,
            json!({"name": "o", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(
        app.get(
            "/v1/auth/verify?check_group_id=anything",
            open["key"].as_str().unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );
}

async fn a_one_character_typo_is_refused_before_any_lookup_or_hash(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let lookups = app.metric(CACHE_LOOKUPS).await;
    let argon2 = app.metric(ARGON2_RUNS).await;
    for position in [10, 30, 70] {
        let mut typo = key.as_bytes().to_vec();
        typo[position] = if typo[position] == b'x' { b'y' } else { b'x' };
        let answer = app
            .get("/v1/auth/verify", std::str::from_utf8(&typo).unwrap())
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNAUTHORIZED, "malformed_credential")
        );
    }
    for garbage in [
        "sp_live_short",
        "sk_live_0123456789012345678901234567890123456789012345678901234567890123",
        "Bearer",
    ] {
        assert_eq!(
            app.get("/v1/auth/verify", garbage).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.metric(CACHE_LOOKUPS).await,
        lookups,
        "no cache or database lookup"
    );
    assert_eq!(app.metric(ARGON2_RUNS).await, argon2, "no hash");
}

async fn a_wrong_secret_for_a_cached_key_and_unknown_keys_cost_no_argon2(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.verify(key).await, StatusCode::OK);
    let argon2 = app.metric(ARGON2_RUNS).await;
    for _ in 0..20 {
        let wrong = app.get("/v1/auth/verify", &wrong_secret(key, 7)).await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credential")
        );
        let unknown = app.get("/v1/auth/verify", &random_unknown_key()).await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credential")
        );
        assert_eq!(app.verify(key).await, StatusCode::OK);
    }
    assert_eq!(
        app.metric(ARGON2_RUNS).await,
        argon2,
        "neither path ran Argon2"
    );
}

async fn a_key_under_the_other_environments_prefix_is_refused_cached_or_not(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    // The same key id and secret, relabelled `sp_test_` with a checksum that fits: it parses.
    let (key_id, secret) = (&key[8..24], &key[24..66]);
    let checksum = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(crc32("sp_test_", key_id, secret).to_be_bytes())
    };
    let relabelled = format!("sp_test_{key_id}{secret}{checksum}");
    let cold = app.get("/v1/auth/verify", &relabelled).await;
    assert_eq!(
        (cold.status, cold.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credential"),
        "before the key is cached"
    );
    assert_eq!(app.verify(key).await, StatusCode::OK);
    let cached = app.get("/v1/auth/verify", &relabelled).await;
    assert_eq!(
        (cached.status, cached.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credential"),
        "once the key is cached"
    );
}

async fn concurrent_first_uses_of_a_key_share_one_argon2(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let argon2 = app.metric(ARGON2_RUNS).await;
    let answers = futures::future::join_all((0..16).map(|_| app.verify(&key))).await;
    assert!(answers.iter().all(|s| *s == StatusCode::OK));
    assert_eq!(app.metric(ARGON2_RUNS).await - argon2, 1.0);
}

async fn guessing_secrets_for_an_uncached_key_is_locked_out_of_argon2(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let argon2 = app.metric(ARGON2_RUNS).await;
    let mut codes = vec![];
    for n in 0..15 {
        codes.push(
            app.get("/v1/auth/verify", &wrong_secret(key, n))
                .await
                .code()
                .to_owned(),
        );
    }
    let locked = codes
        .iter()
        .filter(|c| *c == "too_many_failed_attempts")
        .count();
    assert!(locked >= 4, "{codes:?}");
    let spent = app.metric(ARGON2_RUNS).await - argon2;
    assert!(
        spent <= 11.0,
        "Argon2 stops after the failure budget, ran {spent} times"
    );
    assert_eq!(
        app.verify(key).await,
        StatusCode::TOO_MANY_REQUESTS,
        "until the lockout ends"
    );
}

async fn every_failed_authentication_is_audited_with_its_reason(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.verify(key).await, StatusCode::OK);
    app.verify(&wrong_secret(key, 7)).await;
    app.verify("sp_live_nope").await;
    app.verify(&random_unknown_key()).await;
    app.call(
        reqwest::Method::GET,
        &format!("/v1/auth/verify?api_key={key}"),
        None,
        None,
    )
    .await;
    app.call(
        reqwest::Method::POST,
        "/v1/api-keys",
        None,
        Some(json!({"token": key})),
    )
    .await;
    app.post(
        "/v1/api-keys/revoke",
        &app.admin_key,
        json!({"id": created["id"]}),
    )
    .await;
    app.verify(key).await;
    app.flush_audit().await;
    let own = app
        .get(
            "/v1/audit-events?event_type=auth.failed&limit=200",
            &app.admin_key,
        )
        .await
        .body;
    let reasons: Vec<&str> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["wrong_secret", "revoked"],
        "key-bound failures land in the key's workspace"
    );
    for event in own["items"].as_array().unwrap() {
        assert_eq!(event["outcome"], "failure");
        assert_eq!(event["details"]["key_id"], created["key_id"]);
        assert_eq!(event["target"]["id"], created["id"]);
    }
    let system: Vec<(String,)> = sqlx::query_as(
        "SELECT reason FROM audit_events WHERE workspace_id = '' AND event_type = 'auth.failed' \
             ORDER BY seq",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    let system: Vec<String> = system.into_iter().map(|r| r.0).collect();
    assert_eq!(
        system,
        [
            "malformed",
            "unknown_key",
            "credential_in_query",
            "credential_in_body"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_1200th_request_in_a_minute_passes_and_the_1201st_gets_429_with_headers() {
    let (app, _db) = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            clock: Clock::frozen(),
            ..Options::default()
        },
    )
    .await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let mut last = None;
    for i in 1..=1200 {
        let answer = app.get("/v1/auth/verify", &key).await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
        last = Some(answer);
    }
    let last = last.unwrap();
    assert_eq!(last.header("ratelimit-policy"), "\"standard\";q=1200;w=60");
    assert_eq!(last.header("ratelimit"), "\"standard\";r=0;t=60");
    let refused = app.get("/v1/auth/verify", &key).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(refused.header("retry-after"), "1");
    assert_eq!(
        refused.header("ratelimit-policy"),
        "\"standard\";q=1200;w=60"
    );
    assert_eq!(refused.header("ratelimit"), "\"standard\";r=0;t=60");
    // Budgets are per key: the admin key is unaffected.
    assert_eq!(app.verify(&app.admin_key).await, StatusCode::OK);
    assert_eq!(app.audit_count(&app.workspace_id, "auth.failed").await, 1);
    app.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        app.verify(&key).await,
        StatusCode::OK,
        "the budget refills with time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_on_a_larger_tier_gets_its_larger_budget() {
    let (app, _db) = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            clock: Clock::frozen(),
            ..Options::default()
        },
    )
    .await;
    let (ws, admin) = app.new_workspace("big").await;
    let tier = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/workspaces/{ws}"),
            Some(&app.admin_key),
            Some(json!({"rate_limit_tier": "enterprise"})),
        )
        .await;
    assert_eq!(tier.status, StatusCode::OK, "{}", tier.body);
    let own = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/workspaces/{ws}"),
            Some(&admin),
            Some(json!({"rate_limit_tier": "standard"})),
        )
        .await;
    assert_eq!(
        (own.status, own.code()),
        (StatusCode::FORBIDDEN, "operator_only"),
        "tenants cannot pick their own tier"
    );
    let answer = app.get("/v1/auth/verify", &admin).await;
    assert_eq!(
        answer.header("ratelimit-policy"),
        "\"enterprise\";q=6000;w=60"
    );
}
