//! Tenancy: another workspace's credential never sees, changes or learns of an object (404).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(every_management_route_answers_404_to_another_workspace_credential);

async fn every_management_route_answers_404_to_another_workspace_credential(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (ws_a, admin_a) = app.new_workspace("tenant-a").await;
    let (_ws_b, admin_b) = app.new_workspace("tenant-b").await;
    let cluster = app
        .post(
            "/v1/environment-clusters",
            &admin_a,
            json!({"name": "eu-prod-1", "environment": "live"}),
        )
        .await
        .body;
    let cluster_id = cluster["id"].as_str().unwrap();
    let sa_id = &app
        .service_account_with(&admin_a, "runner", &["read:checks"], &["eu-prod-1"])
        .await;
    let bindings = app
        .get(
            &format!("/v1/role-bindings?service_account_id={sa_id}"),
            &admin_a,
        )
        .await
        .body;
    let binding_id = bindings["items"][0]["id"].as_str().unwrap().to_owned();
    let key = app.create_key(&admin_a, json!({"name": "k", "environment": "live", "service_account_id": sa_id, "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    let key_id = key["id"].as_str().unwrap();
    let policy = app
        .post(
            "/v1/access-policies",
            &admin_a,
            json!({"name": "mfa", "scopes": ["openid"], "require_mfa": true}),
        )
        .await
        .body;
    let policy_id = policy["id"].as_str().unwrap();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/service-accounts/{sa_id}"), None),
        (
            Method::PATCH,
            format!("/v1/service-accounts/{sa_id}"),
            Some(json!({"name": "stolen"})),
        ),
        (
            Method::DELETE,
            format!("/v1/service-accounts/{sa_id}"),
            None,
        ),
        (Method::GET, format!("/v1/api-keys/{key_id}"), None),
        (
            Method::PATCH,
            format!("/v1/api-keys/{key_id}"),
            Some(json!({"scopes": ["read:checks", "write:checks"]})),
        ),
        (
            Method::POST,
            format!("/v1/api-keys/{key_id}/rotate"),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/api-keys/revoke".into(),
            Some(json!({"id": key_id})),
        ),
        (Method::GET, format!("/v1/workspaces/{ws_a}"), None),
        (
            Method::PATCH,
            format!("/v1/workspaces/{ws_a}"),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, format!("/v1/workspaces/{ws_a}"), None),
        (
            Method::GET,
            format!("/v1/environment-clusters/{cluster_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/environment-clusters/{cluster_id}"),
            Some(json!({"description": "stolen"})),
        ),
        (
            Method::DELETE,
            format!("/v1/environment-clusters/{cluster_id}"),
            None,
        ),
        (Method::GET, format!("/v1/role-bindings/{binding_id}"), None),
        (
            Method::PATCH,
            format!("/v1/role-bindings/{binding_id}"),
            Some(json!({"scopes": ["admin:billing"]})),
        ),
        (
            Method::DELETE,
            format!("/v1/role-bindings/{binding_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/effective-access?api_key_id={key_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/effective-access?service_account_id={sa_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/access-policies/{policy_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/access-policies/{policy_id}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::DELETE,
            format!("/v1/access-policies/{policy_id}"),
            None,
        ),
    ];
    for (method, path, body) in routes {
        let answer = app.call(method.clone(), &path, Some(&admin_b), body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}: {}",
            answer.body
        );
    }
    // B cannot bind its key to A's service account either, and lists show nothing of A's.
    let borrow = app.post("/v1/api-keys", &admin_b, json!({"name": "x", "environment": "live", "service_account_id": sa_id, "scopes": ["read:checks"]})).await;
    assert_eq!(borrow.code(), "unknown_service_account");
    let check = app.post("/v1/api-keys/check", &admin_b, json!({"name": "x", "environment": "live", "service_account_id": sa_id, "scopes": ["read:checks"]})).await;
    assert_eq!(
        check.code(),
        "unknown_service_account",
        "a check learns nothing of A's"
    );
    let check = app.post("/v1/api-keys/check", &admin_b, json!({"name": "x", "environment": "live", "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(check.code(), "unknown_cluster", "nor of A's clusters");
    let bind = app
        .post(
            "/v1/role-bindings",
            &admin_b,
            json!({"service_account_id": sa_id, "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(bind.code(), "unknown_service_account");
    let cluster_b = app.post("/v1/role-bindings", &admin_b, json!({"group": "ops", "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(
        cluster_b.code(),
        "unknown_cluster",
        "A's clusters do not exist for B"
    );
    for list in [
        "/v1/service-accounts",
        "/v1/api-keys",
        "/v1/audit-events?limit=200",
        "/v1/workspaces",
        "/v1/environment-clusters",
        "/v1/role-bindings",
        "/v1/access-policies",
    ] {
        let body = app.get(list, &admin_b).await.body.to_string();
        assert!(
            !body.contains(sa_id.as_str())
                && !body.contains(key_id)
                && !body.contains(&ws_a)
                && !body.contains(cluster_id)
                && !body.contains(policy_id),
            "{list} leaks A's objects"
        );
    }
    let decision = app.get("/v1/auth/verify?cluster=eu-prod-1", &admin_b).await;
    assert_eq!(
        decision.code(),
        "unknown_cluster",
        "B's key cannot act in A's cluster"
    );
    // Nothing changed for A.
    assert_eq!(
        app.verify(key["key"].as_str().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1/service-accounts/{sa_id}"), &admin_a)
            .await
            .body["name"],
        "runner"
    );
    assert_eq!(
        app.get(&format!("/v1/role-bindings/{binding_id}"), &admin_a)
            .await
            .body["scopes"],
        json!(["read:checks"])
    );
    assert_eq!(
        app.get(
            "/v1/auth/verify?cluster=eu-prod-1&scope=read:checks",
            key["key"].as_str().unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1/api-keys/{key_id}"), &admin_a)
            .await
            .body["scopes"],
        json!(["read:checks"])
    );
    // Tenants are not operators: they cannot create or list other workspaces.
    let create = app
        .post("/v1/workspaces", &admin_a, json!({"name": "x"}))
        .await;
    assert_eq!(
        (create.status, create.code()),
        (StatusCode::FORBIDDEN, "operator_only")
    );
    let listed = app.get("/v1/workspaces", &admin_a).await.body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // The operator sees every workspace and deletes a tenant with its keys.
    assert_eq!(
        app.get("/v1/workspaces", &app.admin_key).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/workspaces/{ws_a}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(
        app.verify(key["key"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.verify(&admin_a).await, StatusCode::UNAUTHORIZED);
}
