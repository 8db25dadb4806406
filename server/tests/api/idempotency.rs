//! `Idempotency-Key` on creates (CONTRACT "Idempotency"): a retry gets the first answer and
//! creates nothing; a different request with the key is refused; racing duplicates create once;
//! keys are per workspace and last 24 hours; the stored answer never holds a secret in clear.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use statuspulse_server::jobs::idempotency::purge_expired;

use crate::helpers::{Answer, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_retried_key_create_returns_the_first_answer_and_mints_once,
    every_create_replays_its_first_answer,
    a_different_request_with_the_same_key_is_refused_and_changes_nothing,
    concurrent_duplicates_create_exactly_one_object,
    the_same_key_in_another_workspace_is_independent,
    keys_expire_after_24_hours_and_the_job_deletes_them,
    no_secret_is_stored_in_clear,
    invalid_keys_are_refused_before_anything_happens,
    validation_refusals_are_replayed_and_other_failures_run_again,
    a_reservation_whose_holder_died_is_taken_over,
);

/// POSTs `body` with `Idempotency-Key: idem` (none when `None`).
async fn post_idem(
    app: &TestApp,
    path: &str,
    key: &str,
    idem: Option<&str>,
    body: Value,
) -> Answer {
    send(app, Method::POST, path, key, idem, Some(body)).await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    idem: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(key);
    if let Some(idem) = idem {
        request = request.header("Idempotency-Key", idem);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn count(app: &TestApp, sql: &str, name: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(name)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn keys_named(app: &TestApp, name: &str) -> i64 {
    count(app, "SELECT COUNT(*) FROM api_keys WHERE name = $1", name).await
}

fn key_body(name: &str) -> Value {
    json!({"name": name, "environment": "live", "scopes": ["read:checks"]})
}

async fn a_retried_key_create_returns_the_first_answer_and_mints_once(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let idem = uuid::Uuid::new_v4().to_string();
    let first = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.header("idempotency-replayed"), "");
    let retry = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.header("idempotency-replayed"), "true");
    assert_eq!(retry.body, first.body, "the first answer, secret included");
    assert_eq!(retry.header("content-type"), "application/json");
    assert_eq!(keys_named(&app, "ci").await, 1, "one key minted");
    assert_eq!(
        app.audit_count(&app.workspace_id, "api_key.created").await,
        2
    );
    // The replayed key is the one that works.
    assert_eq!(
        app.verify(retry.body["key"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // Without the header, the same body creates again: the header is what makes a retry.
    let plain = app
        .post("/v1/api-keys", &app.admin_key, key_body("ci"))
        .await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(keys_named(&app, "ci").await, 2);

    // A rotation retried: one successor.
    let id = first.body["id"].as_str().unwrap();
    let path = format!("/v1/api-keys/{id}/rotate");
    let rotate_idem = uuid::Uuid::new_v4().to_string();
    let rotated = send(
        &app,
        Method::POST,
        &path,
        &app.admin_key,
        Some(&rotate_idem),
        None,
    )
    .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let again = send(
        &app,
        Method::POST,
        &path,
        &app.admin_key,
        Some(&rotate_idem),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.header("idempotency-replayed"), "true");
    assert_eq!(again.body, rotated.body);
    assert_eq!(keys_named(&app, "ci").await, 3, "one successor");
}

async fn every_create_replays_its_first_answer(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "deployer"}),
        )
        .await;
    let sa = sa.body["id"].as_str().unwrap().to_owned();
    let creates = [
        ("/v1/workspaces", json!({"name": "tenant"})),
        ("/v1/service-accounts", json!({"name": "ci"})),
        (
            "/v1/environment-clusters",
            json!({"name": "eu-prod-1", "environment": "live"}),
        ),
        (
            "/v1/role-bindings",
            json!({"service_account_id": sa, "scopes": ["read:checks"]}),
        ),
        ("/v1/api-keys", key_body("k")),
    ];
    for (path, body) in creates {
        let idem = uuid::Uuid::new_v4().to_string();
        let first = post_idem(&app, path, &app.admin_key, Some(&idem), body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{path}: {}", first.body);
        let before = app.database_snapshot().await;
        let retry = post_idem(&app, path, &app.admin_key, Some(&idem), body).await;
        assert_eq!(retry.status, StatusCode::CREATED, "{path}: {}", retry.body);
        assert_eq!(retry.header("idempotency-replayed"), "true", "{path}");
        assert_eq!(retry.body, first.body, "{path}");
        assert_eq!(
            app.database_snapshot().await,
            before,
            "{path}: nothing created"
        );
    }
}

async fn a_different_request_with_the_same_key_is_refused_and_changes_nothing(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let idem = "deploy-2026-11-29-ci";
    let first = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let before = app.database_snapshot().await;
    let audit_before = app.audit_total().await;
    let other = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(idem),
        key_body("cd"),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        other.body
    );
    assert_eq!(other.code(), "idempotency_key_reused");
    assert!(
        !other.body.to_string().contains("sp_live_"),
        "no secret in the refusal"
    );
    // Another route with the same key is another request too.
    let sa = post_idem(
        &app,
        "/v1/service-accounts",
        &app.admin_key,
        Some(idem),
        json!({"name": "ci"}),
    )
    .await;
    assert_eq!(sa.code(), "idempotency_key_reused");
    // And so is the same request from another credential of the workspace: a key's first
    // answer goes back only to the credential that asked.
    let other_admin = app
        .create_key(
            &app.admin_key,
            json!({"name": "admin-2", "environment": "live", "scopes": ["admin:keys", "read:checks"]}),
        )
        .await;
    let before_other = app.database_snapshot().await;
    let stranger = post_idem(
        &app,
        "/v1/api-keys",
        other_admin["key"].as_str().unwrap(),
        Some(idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(
        stranger.code(),
        "idempotency_key_reused",
        "{}",
        stranger.body
    );
    assert_eq!(app.database_snapshot().await, before_other);
    assert_eq!(keys_named(&app, "cd").await, 0);
    assert_eq!(keys_named(&app, "ci").await, 1);
    let mut after = app.database_snapshot().await;
    after.remove("api_keys");
    let mut before = before;
    before.remove("api_keys");
    assert_eq!(after, before, "nothing but the second admin key changed");
    assert!(app.audit_total().await >= audit_before);
}

async fn concurrent_duplicates_create_exactly_one_object(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for round in 0..3 {
        let idem = uuid::Uuid::new_v4().to_string();
        let name = format!("racer-{round}");
        let answers = futures::future::join_all((0..8).map(|_| {
            post_idem(
                &app,
                "/v1/api-keys",
                &app.admin_key,
                Some(&idem),
                key_body(&name),
            )
        }))
        .await;
        let mut executed = 0;
        let mut secrets = std::collections::BTreeSet::new();
        for answer in &answers {
            match answer.status {
                StatusCode::CREATED => {
                    if answer.header("idempotency-replayed") != "true" {
                        executed += 1;
                    }
                    secrets.insert(answer.body["key"].as_str().unwrap().to_owned());
                }
                StatusCode::CONFLICT => {
                    assert_eq!(answer.code(), "idempotency_key_in_progress");
                    assert_eq!(answer.header("retry-after"), "1");
                }
                other => panic!("unexpected {other}: {}", answer.body),
            }
        }
        assert_eq!(executed, 1, "exactly one request executed");
        assert_eq!(secrets.len(), 1, "every 201 carries the same key");
        assert_eq!(keys_named(&app, &name).await, 1, "exactly one key minted");
        // Once the first finished, every retry gets its answer.
        let retry = post_idem(
            &app,
            "/v1/api-keys",
            &app.admin_key,
            Some(&idem),
            key_body(&name),
        )
        .await;
        assert_eq!(retry.status, StatusCode::CREATED);
        assert_eq!(retry.header("idempotency-replayed"), "true");
        assert!(secrets.contains(retry.body["key"].as_str().unwrap()));
    }
    // Service accounts too, where a second execution would have been a 409 name_taken.
    let idem = uuid::Uuid::new_v4().to_string();
    let answers = futures::future::join_all((0..8).map(|_| {
        post_idem(
            &app,
            "/v1/service-accounts",
            &app.admin_key,
            Some(&idem),
            json!({"name": "raced"}),
        )
    }))
    .await;
    assert!(answers
        .iter()
        .all(|a| a.status == StatusCode::CREATED || a.code() == "idempotency_key_in_progress"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM service_accounts WHERE name = $1",
            "raced"
        )
        .await,
        1
    );
}

async fn the_same_key_in_another_workspace_is_independent(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (_, tenant_a) = app.new_workspace("a").await;
    let (_, tenant_b) = app.new_workspace("b").await;
    let idem = "same-value-everywhere";
    let a = post_idem(&app, "/v1/api-keys", &tenant_a, Some(idem), key_body("ci")).await;
    let b = post_idem(&app, "/v1/api-keys", &tenant_b, Some(idem), key_body("ci")).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    assert_eq!(b.header("idempotency-replayed"), "");
    assert_ne!(a.body["key"], b.body["key"]);
    // A different body in B is B's business, not a reuse of A's key.
    let b2 = post_idem(&app, "/v1/api-keys", &tenant_b, Some(idem), key_body("cd")).await;
    assert_eq!(b2.code(), "idempotency_key_reused");
    assert_eq!(keys_named(&app, "ci").await, 2);
}

async fn keys_expire_after_24_hours_and_the_job_deletes_them(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let idem = uuid::Uuid::new_v4().to_string();
    let first = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    app.clock.advance(Duration::from_secs(23 * 3600));
    let within = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(within.header("idempotency-replayed"), "true");
    assert_eq!(
        purge_expired(&app.state).await.unwrap(),
        0,
        "kept within 24 hours"
    );
    app.clock.advance(Duration::from_secs(3600));
    // Past 24 hours the key is new again, whether or not the job has run.
    let after = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("cd"),
    )
    .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.body);
    assert_eq!(after.header("idempotency-replayed"), "");
    assert_eq!(
        keys_named(&app, "ci").await + keys_named(&app, "cd").await,
        2
    );
    let other = uuid::Uuid::new_v4().to_string();
    post_idem(
        &app,
        "/v1/service-accounts",
        &app.admin_key,
        Some(&other),
        json!({"name": "x"}),
    )
    .await;
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap()
    };
    assert_eq!(stored().await, 2);
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(purge_expired(&app.state).await.unwrap(), 2);
    assert_eq!(stored().await, 0);
}

async fn no_secret_is_stored_in_clear(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let idem = uuid::Uuid::new_v4().to_string();
    let created = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    let workspace = post_idem(
        &app,
        "/v1/workspaces",
        &app.admin_key,
        Some("ws-1"),
        json!({"name": "t"}),
    )
    .await;
    assert_eq!(workspace.status, StatusCode::CREATED);
    let secrets = [
        created.body["key"].as_str().unwrap().to_owned(),
        workspace.body["admin_key"]["key"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    let snapshot = app.database_snapshot().await;
    assert_eq!(snapshot["idempotency_keys"].len(), 2, "{snapshot:?}");
    let everything = format!("{snapshot:?}");
    for secret in &secrets {
        // The whole key, and its secret part on its own (after the 8-character prefix and the
        // 16-character key id: 42 characters).
        let tail = &secret[8 + 16..8 + 16 + 42];
        assert!(!everything.contains(secret.as_str()));
        assert!(!everything.contains(tail), "a secret is stored in clear");
    }
    assert!(
        !everything.contains(&idem),
        "the header value is not stored"
    );
    assert!(!everything.contains("\"ws-1\""));
}

async fn invalid_keys_are_refused_before_anything_happens(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let before = app.database_snapshot().await;
    let long = "x".repeat(256);
    for bad in ["", "has space", long.as_str(), "tab\tin"] {
        let answer = post_idem(
            &app,
            "/v1/api-keys",
            &app.admin_key,
            Some(bad),
            key_body("ci"),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {}",
            answer.body
        );
        assert_eq!(answer.code(), "invalid_idempotency_key");
    }
    // Not ASCII.
    let answer = app
        .http
        .post(app.url("/v1/api-keys"))
        .bearer_auth(&app.admin_key)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .json(&key_body("ci"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.database_snapshot().await, before);
    // The longest valid key is fine; an unauthenticated request is refused as such first.
    let max = "k".repeat(255);
    let ok = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&max),
        key_body("ci"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let anonymous = app
        .http
        .post(app.url("/v1/api-keys/sp_key_x/rotate"))
        .header("Idempotency-Key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn validation_refusals_are_replayed_and_other_failures_run_again(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    // 422: the same request gets the same refusal, replayed.
    let idem = uuid::Uuid::new_v4().to_string();
    let bad = json!({"name": "ci", "environment": "staging", "scopes": ["read:checks"]});
    let first = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        bad.clone(),
    )
    .await;
    assert_eq!(first.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = post_idem(&app, "/v1/api-keys", &app.admin_key, Some(&idem), bad).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.header("idempotency-replayed"), "true");
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("content-type"), "application/problem+json");
    assert_eq!(again.header("x-statuspulse-error"), first.code());

    // 409 depends on the state, not the request: not kept, so a retry runs again and can
    // succeed once the conflict is gone.
    let taken = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "taken"}),
        )
        .await;
    let idem = uuid::Uuid::new_v4().to_string();
    let conflict = post_idem(
        &app,
        "/v1/service-accounts",
        &app.admin_key,
        Some(&idem),
        json!({"name": "taken"}),
    )
    .await;
    assert_eq!(conflict.code(), "name_taken");
    let path = format!(
        "/v1/service-accounts/{}",
        taken.body["id"].as_str().unwrap()
    );
    let deleted = send(&app, Method::DELETE, &path, &app.admin_key, None, None).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let retry = post_idem(
        &app,
        "/v1/service-accounts",
        &app.admin_key,
        Some(&idem),
        json!({"name": "taken"}),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.header("idempotency-replayed"), "");

    // 403: a narrow key is refused, and the key stays free for the same request later.
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "narrow", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let idem = uuid::Uuid::new_v4().to_string();
    let refused = post_idem(
        &app,
        "/v1/api-keys",
        narrow["key"].as_str().unwrap(),
        Some(&idem),
        key_body("x"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let count_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE status IS NULL")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(count_rows, 0, "no reservation left behind");
}

async fn a_reservation_whose_holder_died_is_taken_over(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let idem = uuid::Uuid::new_v4().to_string();
    // A first request that reserved the key and died before its create committed: it left a
    // reservation and no answer. Reproduced by taking a real request's row back to that state.
    let first = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    sqlx::query("DELETE FROM api_keys WHERE name = 'ci'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE idempotency_keys SET status = NULL, answer = NULL, token = 'dead'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let waiting = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(waiting.code(), "idempotency_key_in_progress");
    app.clock.advance(Duration::from_secs(61));
    let taken_over = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(
        taken_over.status,
        StatusCode::CREATED,
        "{}",
        taken_over.body
    );
    assert_eq!(taken_over.header("idempotency-replayed"), "");
    assert_eq!(keys_named(&app, "ci").await, 1);
    let replay = post_idem(
        &app,
        "/v1/api-keys",
        &app.admin_key,
        Some(&idem),
        key_body("ci"),
    )
    .await;
    assert_eq!(replay.body, taken_over.body);
    // Had the old holder been alive and slow, its create could no longer commit: recording
    // needs the reservation it lost.
    let key_hash: String = sqlx::query_scalar("SELECT key_hash FROM idempotency_keys")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let mut tx = app.state.db.begin_write().await.unwrap();
    let recorded = statuspulse_server::platform::idempotency::complete(
        &mut tx.tx,
        &app.workspace_id,
        &key_hash,
        "dead",
        201,
        "sealed",
    )
    .await
    .unwrap();
    assert!(!recorded, "a lost reservation records nothing");
}

#[tokio::test]
async fn every_idempotent_create_documents_the_header_in_openapi() {
    let (app, _db) = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in statuspulse_server::router::IDEMPOTENT_CREATES {
        let params = doc["paths"][path]["post"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no POST with parameters in the OpenAPI document"));
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "{path}: {params:?}"
        );
    }
}
