//! Service accounts: create, read, list, update, delete.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(service_accounts_are_created_read_listed_updated_and_deleted);

async fn service_accounts_are_created_read_listed_updated_and_deleted(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": " ci-runner ", "description": "GitHub Actions"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], "ci-runner", "names are trimmed");
    let id = created.body["id"].as_str().unwrap();
    assert!(id.starts_with("sa_"));
    let read = app
        .get(&format!("/v1/service-accounts/{id}"), &app.admin_key)
        .await;
    assert_eq!(read.body, created.body);
    let updated = app
        .call(
            Method::PATCH,
            &format!("/v1/service-accounts/{id}"),
            Some(&app.admin_key),
            Some(json!({"description": "GitLab"})),
        )
        .await;
    assert_eq!(updated.body["description"], "GitLab");
    assert_eq!(updated.body["name"], "ci-runner");
    for i in 0..3 {
        app.post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": format!("sa-{i}")}),
        )
        .await;
    }
    let first = app
        .get("/v1/service-accounts?limit=3", &app.admin_key)
        .await
        .body;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/v1/service-accounts?limit=3&cursor={cursor}"),
            &app.admin_key,
        )
        .await
        .body;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());

    let binding = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"service_account_id": id, "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(binding.status, StatusCode::CREATED);
    let key = app.create_key(&app.admin_key, json!({"name": "k", "environment": "live", "service_account_id": id, "scopes": ["read:checks"]})).await;
    let blocked = app
        .call(
            Method::DELETE,
            &format!("/v1/service-accounts/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (StatusCode::CONFLICT, "service_account_has_active_keys")
    );
    // The refusal names the blocking key, so an unmanaged one (rotated outside Terraform) is
    // found without a search.
    let detail = blocked.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`k`") && detail.contains(key["id"].as_str().unwrap()),
        "{detail}"
    );
    app.post(
        "/v1/api-keys/revoke",
        &app.admin_key,
        json!({"id": key["id"]}),
    )
    .await;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/service-accounts/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1/service-accounts/{id}"), &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let binding_id = binding.body["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/role-bindings/{binding_id}"), &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "bindings go with their account"
    );
    // The revoked key outlives its account in quarantine, still readable.
    assert_eq!(
        app.get(
            &format!("/v1/api-keys/{}", key["id"].as_str().unwrap()),
            &app.admin_key
        )
        .await
        .body["status"],
        "revoked"
    );
    for event in [
        "service_account.created",
        "service_account.updated",
        "service_account.deleted",
    ] {
        assert!(
            app.audit_count(&app.workspace_id, event).await >= 1,
            "{event}"
        );
    }
    assert_eq!(
        app.get("/v1/service-accounts/not-an-id", &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
