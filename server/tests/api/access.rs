//! Least privilege: environment clusters, role bindings, enforcement at grant time and at
//! verification, effective access.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

on_both_backends!(
    environment_clusters_are_declared_per_workspace_and_refuse_bad_input,
    a_service_account_key_can_hold_only_scopes_its_bindings_grant,
    a_test_key_cannot_be_bound_to_a_live_cluster,
    verify_decides_per_cluster,
    narrowing_or_deleting_a_binding_takes_effect_on_existing_keys_at_once,
    a_narrowed_binding_reaches_another_replica_within_30_seconds,
    effective_access_shows_what_a_key_and_a_service_account_can_reach,
    group_bindings_are_stored_for_sso_and_do_not_touch_keys
);

async fn environment_clusters_are_declared_per_workspace_and_refuse_bad_input(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .post(
            "/v1/environment-clusters",
            &app.admin_key,
            json!({"name": "eu-prod-1", "environment": "live", "description": "Frankfurt"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body["id"].as_str().unwrap().starts_with("ec_"));
    let id = created.body["id"].as_str().unwrap();
    let dup = app
        .post(
            "/v1/environment-clusters",
            &app.admin_key,
            json!({"name": "eu-prod-1", "environment": "test"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "name_taken")
    );
    for (body, code, field) in [
        (
            json!({"name": "EU prod", "environment": "live"}),
            "invalid_cluster_name",
            "name",
        ),
        (
            json!({"name": "eu-prod-2", "environment": "prod"}),
            "invalid_environment",
            "environment",
        ),
    ] {
        let answer = app
            .post("/v1/environment-clusters", &app.admin_key, body)
            .await;
        assert_eq!(
            (answer.code(), answer.body["field"].as_str().unwrap()),
            (code, field)
        );
    }
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/v1/environment-clusters/{id}"),
            Some(&app.admin_key),
            Some(json!({"name": "eu-prod-9"})),
        )
        .await;
    assert_eq!(
        (renamed.status, renamed.body["field"].as_str().unwrap()),
        (StatusCode::UNPROCESSABLE_ENTITY, "name"),
        "names are immutable"
    );
    let described = app
        .call(
            Method::PATCH,
            &format!("/v1/environment-clusters/{id}"),
            Some(&app.admin_key),
            Some(json!({"description": "FRA"})),
        )
        .await;
    assert_eq!(described.body["description"], "FRA");
    let by_name = app
        .get("/v1/environment-clusters?name=eu-prod-1", &app.admin_key)
        .await
        .body;
    assert_eq!(by_name["items"][0]["id"], id);
    app.service_account_with(&app.admin_key, "runner", &["read:checks"], &["eu-prod-1"])
        .await;
    let in_use = app
        .call(
            Method::DELETE,
            &format!("/v1/environment-clusters/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(
        (in_use.status, in_use.code()),
        (StatusCode::CONFLICT, "cluster_in_use")
    );
}

async fn a_service_account_key_can_hold_only_scopes_its_bindings_grant(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let sa = app
        .service_account_with(
            &app.admin_key,
            "runner",
            &["read:checks", "write:alerts"],
            &["eu-prod-1"],
        )
        .await;
    let ok = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:alerts"]})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let wide = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:checks", "admin:billing"]})).await;
    assert_eq!(
        (wide.status, wide.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "scopes_exceed_bindings")
    );
    let detail = wide.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("write:checks")
            && detail.contains("admin:billing")
            && !detail.contains("read:checks"),
        "{detail}"
    );
    // The binding reaches only a live cluster: a test key gets nothing from it.
    let test_key = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "test", "service_account_id": sa, "scopes": ["read:checks"]})).await;
    assert_eq!(test_key.code(), "scopes_exceed_bindings");
    // Widening an existing key is held to the same rule.
    let id = ok.body["id"].as_str().unwrap();
    let widen = app
        .call(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["read:checks", "write:checks"]})),
        )
        .await;
    assert_eq!(widen.code(), "scopes_exceed_bindings");
}

async fn a_test_key_cannot_be_bound_to_a_live_cluster(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let sa = app
        .service_account_with(&app.admin_key, "runner", &["read:checks"], &[])
        .await;
    let refused = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "test", "service_account_id": sa, "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(
        (
            refused.status,
            refused.code(),
            refused.body["field"].as_str().unwrap()
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "cluster_environment_mismatch",
            "environment_clusters"
        )
    );
    let unknown = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "test", "scopes": ["read:checks"], "environment_clusters": ["mars-1"]})).await;
    assert_eq!(unknown.code(), "unknown_cluster");
    let ok = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "test", "service_account_id": sa, "scopes": ["read:checks"], "environment_clusters": ["eu-sandbox"]})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["environment_clusters"], json!(["eu-sandbox"]));
}

async fn verify_decides_per_cluster(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let sa = app
        .service_account_with(&app.admin_key, "runner", &["read:checks"], &[])
        .await;
    let bind = app.post("/v1/role-bindings", &app.admin_key, json!({"service_account_id": sa, "scopes": ["write:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(bind.status, StatusCode::CREATED);
    let key = app.create_key(&app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:checks"]})).await;
    let key = key["key"].as_str().unwrap();
    let cases = [
        ("?scope=write:checks&cluster=eu-prod-1", StatusCode::OK, ""),
        (
            "?scope=write:checks&cluster=us-prod-1",
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
        ("?scope=read:checks&cluster=us-prod-1", StatusCode::OK, ""),
        (
            "?cluster=eu-sandbox",
            StatusCode::FORBIDDEN,
            "environment_mismatch",
        ),
        ("?cluster=mars-1", StatusCode::FORBIDDEN, "unknown_cluster"),
        ("?scope=write:checks", StatusCode::OK, ""),
    ];
    for (query, status, code) in cases {
        let answer = app.get(&format!("/v1/auth/verify{query}"), key).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{query}: {}",
            answer.body
        );
    }
    // A key narrowed to one cluster is refused elsewhere, whatever its bindings say.
    let narrow = app.create_key(&app.admin_key, json!({"name": "n", "environment": "live", "service_account_id": sa, "scopes": ["read:checks"], "environment_clusters": ["us-prod-1"]})).await;
    let narrow = narrow["key"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/auth/verify?cluster=us-prod-1", narrow)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/auth/verify?cluster=eu-prod-1", narrow)
            .await
            .code(),
        "cluster_not_allowed"
    );
}

async fn narrowing_or_deleting_a_binding_takes_effect_on_existing_keys_at_once(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .service_account_with(
            &app.admin_key,
            "runner",
            &["read:checks", "write:alerts"],
            &[],
        )
        .await;
    let key = app.create_key(&app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:alerts"]})).await;
    let key = key["key"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/auth/verify?scope=write:alerts", key)
            .await
            .status,
        StatusCode::OK
    );
    let binding = app
        .get(
            &format!("/v1/role-bindings?service_account_id={sa}"),
            &app.admin_key,
        )
        .await
        .body["items"][0]
        .clone();
    let id = binding["id"].as_str().unwrap();
    let argon2 = app
        .metric("statuspulse_argon2_duration_seconds_count")
        .await;
    let narrowed = app
        .call(
            Method::PATCH,
            &format!("/v1/role-bindings/{id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["read:checks"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    let refused = app.get("/v1/auth/verify?scope=write:alerts", key).await;
    assert_eq!(
        app.metric("statuspulse_argon2_duration_seconds_count")
            .await,
        argon2,
        "a re-read, not a re-hash"
    );
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("role bindings"));
    let answer = app.get("/v1/auth/verify", key).await;
    assert_eq!(
        answer.body["scopes"],
        json!(["read:checks"]),
        "verify reports effective scopes"
    );
    let events = app
        .get(
            "/v1/audit-events?event_type=role_binding.updated",
            &app.admin_key,
        )
        .await
        .body;
    assert_eq!(
        events["items"][0]["details"]["before"]["scopes"],
        json!(["read:checks", "write:alerts"])
    );
    assert_eq!(
        events["items"][0]["details"]["after"]["scopes"],
        json!(["read:checks"])
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/role-bindings/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/auth/verify?scope=read:checks", key)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "role_binding.deleted")
            .await,
        1
    );
}

async fn a_narrowed_binding_reaches_another_replica_within_30_seconds(backend: Backend) {
    let (a, db) = TestApp::spawn(backend).await;
    let b = TestApp::start(&db.url, Options::default()).await;
    let sa = a
        .service_account_with(
            &a.admin_key,
            "runner",
            &["read:checks", "write:checks"],
            &[],
        )
        .await;
    let key = a.create_key(&a.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:checks"]})).await;
    let key = key["key"].as_str().unwrap();
    assert_eq!(
        b.get("/v1/auth/verify?scope=write:checks", key)
            .await
            .status,
        StatusCode::OK
    );
    let id = a
        .get(
            &format!("/v1/role-bindings?service_account_id={sa}"),
            &a.admin_key,
        )
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.call(
        Method::PATCH,
        &format!("/v1/role-bindings/{id}"),
        Some(&a.admin_key),
        Some(json!({"scopes": ["read:checks"]})),
    )
    .await;
    let started = Instant::now();
    while b
        .get("/v1/auth/verify?scope=write:checks", key)
        .await
        .status
        == StatusCode::OK
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica B still grants the removed scope"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    b.stop().await;
}

async fn effective_access_shows_what_a_key_and_a_service_account_can_reach(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let sa = app
        .service_account_with(&app.admin_key, "runner", &["read:checks"], &[])
        .await;
    app.post("/v1/role-bindings", &app.admin_key, json!({"service_account_id": sa, "scopes": ["write:alerts"], "environment_clusters": ["eu-prod-1"]})).await;
    let key = app.create_key(&app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": sa, "scopes": ["read:checks", "write:alerts"]})).await;
    let id = key["id"].as_str().unwrap();
    let binding = app
        .get(
            &format!("/v1/role-bindings?service_account_id={sa}"),
            &app.admin_key,
        )
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Withdraw read:checks from the account: the key still asks for it, but cannot use it.
    app.call(
        Method::DELETE,
        &format!("/v1/role-bindings/{binding}"),
        Some(&app.admin_key),
        None,
    )
    .await;
    let access = app
        .get(
            &format!("/v1/effective-access?api_key_id={id}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(access.status, StatusCode::OK, "{}", access.body);
    assert_eq!(access.body["principal_type"], "service_account");
    assert_eq!(
        access.body["requested_scopes"],
        json!(["read:checks", "write:alerts"])
    );
    assert_eq!(access.body["scopes"], json!(["write:alerts"]));
    assert_eq!(access.body["withheld_scopes"], json!(["read:checks"]));
    assert_eq!(
        access.body["environment_clusters"],
        json!([{"name": "eu-prod-1", "environment": "live", "scopes": ["write:alerts"]}])
    );
    let sa_access = app
        .get(
            &format!("/v1/effective-access?service_account_id={sa}"),
            &app.admin_key,
        )
        .await
        .body;
    assert_eq!(sa_access["scopes"], json!(["write:alerts"]));
    let both = app
        .get(
            &format!("/v1/effective-access?api_key_id={id}&service_account_id={sa}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(
        (both.status, both.code()),
        (StatusCode::BAD_REQUEST, "principal_required")
    );
    // A workspace admin key is not narrowed by bindings and reaches every live cluster.
    let admin_id = app.get("/v1/api-keys?limit=1", &app.admin_key).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = app
        .get(
            &format!("/v1/effective-access?api_key_id={admin_id}"),
            &app.admin_key,
        )
        .await
        .body;
    assert_eq!(admin["principal_type"], "api_key");
    assert_eq!(admin["scopes"], json!(["admin:all"]));
    assert_eq!(admin["environment_clusters"].as_array().unwrap().len(), 2);
}

async fn group_bindings_are_stored_for_sso_and_do_not_touch_keys(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"group": "platform-admins", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["group"], "platform-admins");
    assert!(created.body["service_account_id"].is_null());
    let neither = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(neither.code(), "principal_required");
    let both = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"group": "g", "service_account_id": "sa_1", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(both.code(), "principal_required");
}
