//! The grant rule (nothing hands out more than it holds) on every route that mints or widens,
//! and key state changes that racing requests cannot undo.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

/// A key made by the workspace admin; returns the key itself.
async fn key(app: &TestApp, body: Value) -> String {
    app.create_key(&app.admin_key, body).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn refused(answer: &crate::helpers::Answer) -> (StatusCode, &str, &str) {
    (
        answer.status,
        answer.code(),
        answer.body["field"].as_str().unwrap_or_default(),
    )
}

on_both_backends!(
    rotating_a_key_cannot_mint_more_than_the_rotator_holds,
    a_sandbox_key_cannot_mint_a_production_key,
    a_restricted_key_mints_only_keys_within_its_restrictions,
    a_service_account_key_grants_only_to_its_own_account_and_reach,
    a_successor_inherits_its_predecessors_lifetime,
    a_revocation_racing_a_rotation_is_never_undone,
    of_two_racing_rotations_exactly_one_mints_a_successor,
    a_restriction_that_does_not_read_back_fails_closed,
    a_key_revokes_or_changes_only_keys_within_its_authority
);

async fn rotating_a_key_cannot_mint_more_than_the_rotator_holds(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let manager = key(
        &app,
        json!({"name": "keys", "environment": "live", "scopes": ["admin:keys"]}),
    )
    .await;
    let keys = app.get("/v1/api-keys", &app.admin_key).await.body;
    let admin_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["admin:all"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = app
        .post(
            &format!("/v1/api-keys/{admin_id}/rotate"),
            &manager,
            json!({"grace_period_hours": 0}),
        )
        .await;
    assert_eq!(
        refused(&rotated),
        (StatusCode::FORBIDDEN, "scope_escalation", "scopes")
    );
    assert_eq!(
        app.verify(&app.admin_key).await,
        StatusCode::OK,
        "the admin key is untouched"
    );
    let view = app
        .get(&format!("/v1/api-keys/{admin_id}"), &app.admin_key)
        .await
        .body;
    assert_eq!(view["status"], "active");
}

async fn a_sandbox_key_cannot_mint_a_production_key(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sandbox = key(
        &app,
        json!({"name": "keys", "environment": "test", "scopes": ["admin:keys", "read:checks"]}),
    )
    .await;
    let live = app
        .post(
            "/v1/api-keys",
            &sandbox,
            json!({"name": "x", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(
        refused(&live),
        (
            StatusCode::FORBIDDEN,
            "environment_escalation",
            "environment"
        )
    );
    let test = app
        .post(
            "/v1/api-keys",
            &sandbox,
            json!({"name": "x", "environment": "test", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(test.status, StatusCode::CREATED, "{}", test.body);
}

async fn a_restricted_key_mints_only_keys_within_its_restrictions(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let restricted = key(
        &app,
        json!({"name": "keys", "environment": "live", "scopes": ["admin:keys", "read:checks"],
        "check_group_ids": ["cg-1"], "environment_clusters": ["eu-prod-1"]}),
    )
    .await;
    let unrestricted = app
        .post(
            "/v1/api-keys",
            &restricted,
            json!({"name": "x", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(
        refused(&unrestricted),
        (
            StatusCode::FORBIDDEN,
            "restriction_escalation",
            "check_group_ids"
        )
    );
    let everywhere = app.post("/v1/api-keys", &restricted, json!({"name": "x", "environment": "live", "scopes": ["read:checks"], "check_group_ids": ["cg-1"]})).await;
    assert_eq!(
        refused(&everywhere),
        (
            StatusCode::FORBIDDEN,
            "cluster_escalation",
            "environment_clusters"
        )
    );
    let sandbox = app.post("/v1/api-keys", &restricted, json!({"name": "x", "environment": "test", "scopes": ["read:checks"], "check_group_ids": ["cg-1"]})).await;
    assert_eq!(
        refused(&sandbox).1,
        "environment_escalation",
        "a key confined to live clusters holds nothing in test"
    );
    let within = app
        .post(
            "/v1/api-keys",
            &restricted,
            json!({"name": "x", "environment": "live", "scopes": ["read:checks"],
        "check_group_ids": ["cg-1"], "environment_clusters": ["eu-prod-1"]}),
        )
        .await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    // Widening the new key by update is the same grant.
    let id = within.body["id"].as_str().unwrap();
    let widened = app
        .call(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&restricted),
            Some(json!({"check_group_ids": []})),
        )
        .await;
    assert_eq!(refused(&widened).1, "restriction_escalation");
    let moved = app
        .call(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&restricted),
            Some(json!({"environment_clusters": ["us-prod-1"]})),
        )
        .await;
    assert_eq!(refused(&moved).1, "cluster_escalation");
}

async fn a_service_account_key_grants_only_to_its_own_account_and_reach(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.standard_clusters().await;
    let eu = app
        .service_account_with(
            &app.admin_key,
            "eu-runner",
            &["admin:keys", "admin:access", "read:checks", "write:checks"],
            &["eu-prod-1"],
        )
        .await;
    let us = app
        .service_account_with(
            &app.admin_key,
            "us-runner",
            &["read:checks"],
            &["us-prod-1"],
        )
        .await;
    let eu_key = key(
        &app,
        json!({"name": "eu", "environment": "live", "service_account_id": eu,
        "scopes": ["admin:keys", "admin:access", "read:checks", "write:checks"]}),
    )
    .await;
    let for_us = app.post("/v1/api-keys", &eu_key, json!({"name": "x", "environment": "live", "service_account_id": us, "scopes": ["read:checks"]})).await;
    assert_eq!(
        refused(&for_us),
        (
            StatusCode::FORBIDDEN,
            "principal_escalation",
            "service_account_id"
        )
    );
    let workspace_key = app
        .post(
            "/v1/api-keys",
            &eu_key,
            json!({"name": "x", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(
        refused(&workspace_key),
        (
            StatusCode::FORBIDDEN,
            "principal_escalation",
            "service_account_id"
        )
    );
    let own = app.post("/v1/api-keys", &eu_key, json!({"name": "x", "environment": "live", "service_account_id": eu, "scopes": ["read:checks"]})).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    // admin:access confined to eu-prod-1 cannot bind anything beyond eu-prod-1.
    let everywhere = app
        .post(
            "/v1/role-bindings",
            &eu_key,
            json!({"service_account_id": eu, "scopes": ["write:checks"]}),
        )
        .await;
    assert_eq!(
        refused(&everywhere),
        (
            StatusCode::FORBIDDEN,
            "cluster_escalation",
            "environment_clusters"
        )
    );
    let other = app.post("/v1/role-bindings", &eu_key, json!({"service_account_id": us, "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(refused(&other).1, "principal_escalation");
    let group = app.post("/v1/role-bindings", &eu_key, json!({"group": "admins", "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(refused(&group).1, "principal_escalation");
    let confined = app.post("/v1/role-bindings", &eu_key, json!({"service_account_id": eu, "scopes": ["write:checks"], "environment_clusters": ["eu-prod-1"]})).await;
    assert_eq!(confined.status, StatusCode::CREATED, "{}", confined.body);
    let id = confined.body["id"].as_str().unwrap();
    let widened = app
        .call(
            Method::PATCH,
            &format!("/v1/role-bindings/{id}"),
            Some(&eu_key),
            Some(json!({"environment_clusters": []})),
        )
        .await;
    assert_eq!(refused(&widened).1, "cluster_escalation");
}

async fn a_successor_inherits_its_predecessors_lifetime(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app.create_key(&app.admin_key, json!({"name": "short", "environment": "live", "scopes": ["read:checks"], "expires_in_days": 1})).await;
    let id = created["id"].as_str().unwrap();
    let successor = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({}),
        )
        .await;
    assert_eq!(successor.status, StatusCode::CREATED, "{}", successor.body);
    let lifetime = |view: &Value| {
        let at = |f: &str| {
            time::OffsetDateTime::parse(
                view[f].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        (at("expires_at") - at("created_at")).whole_hours()
    };
    assert_eq!(lifetime(&created), 24);
    assert_eq!(lifetime(&successor.body), 24, "{}", successor.body);
}

async fn a_revocation_racing_a_rotation_is_never_undone(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for trial in 0..8 {
        let created = app.create_key(&app.admin_key, json!({"name": format!("k{trial}"), "environment": "live", "scopes": ["read:checks"]})).await;
        let (id, old_key) = (
            created["id"].as_str().unwrap(),
            created["key"].as_str().unwrap(),
        );
        let path = format!("/v1/api-keys/{id}/rotate");
        let rotate = app.post(&path, &app.admin_key, json!({"grace_period_hours": 24}));
        let revoke = async {
            tokio::time::sleep(std::time::Duration::from_millis(trial)).await;
            app.post("/v1/api-keys/revoke", &app.admin_key, json!({"id": id}))
                .await
        };
        let (rotated, revoked) = tokio::join!(rotate, revoke);
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
        assert_eq!(revoked.body["status"], "revoked");
        assert!(
            matches!(rotated.status, StatusCode::CREATED | StatusCode::CONFLICT),
            "{}",
            rotated.body
        );
        let view = app
            .get(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await
            .body;
        assert_eq!(view["status"], "revoked", "trial {trial}: {view}");
        assert_eq!(
            app.verify(old_key).await,
            StatusCode::UNAUTHORIZED,
            "trial {trial}"
        );
    }
}

async fn of_two_racing_rotations_exactly_one_mints_a_successor(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for trial in 0..6 {
        let created = app.create_key(&app.admin_key, json!({"name": format!("k{trial}"), "environment": "live", "scopes": ["read:checks"]})).await;
        let path = format!("/v1/api-keys/{}/rotate", created["id"].as_str().unwrap());
        let (a, b) = tokio::join!(
            app.post(&path, &app.admin_key, json!({})),
            app.post(&path, &app.admin_key, json!({}))
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{} / {}",
            a.body,
            b.body
        );
        let loser = if a.status == StatusCode::CONFLICT {
            &a
        } else {
            &b
        };
        assert!(
            matches!(loser.code(), "already_rotated" | "concurrent_change"),
            "{}",
            loser.body
        );
        let successors = app
            .get("/v1/api-keys?status=active", &app.admin_key)
            .await
            .body;
        let named = successors["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["name"] == format!("k{trial}"))
            .count();
        assert_eq!(named, 1, "one successor, not two");
    }
}

async fn a_restriction_that_does_not_read_back_fails_closed(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for column in ["check_group_ids", "environment_clusters", "scopes"] {
        let created = app
            .create_key(
                &app.admin_key,
                json!({"name": column, "environment": "live", "scopes": ["read:checks"], "check_group_ids": ["cg-1"]}),
            )
            .await;
        // Corrupted before the key's first use: an empty list would mean "unrestricted".
        sqlx::query(&format!(
            "UPDATE api_keys SET {column} = 'not json {{' WHERE id = $1"
        ))
        .bind(created["id"].as_str().unwrap())
        .execute(app.state.db.pool())
        .await
        .unwrap();
        let answer = app
            .get(
                "/v1/auth/verify?check_group_id=cg-2",
                created["key"].as_str().unwrap(),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "credential_store_unavailable"
            ),
            "{column}: {}",
            answer.body
        );
    }
}

async fn a_key_revokes_or_changes_only_keys_within_its_authority(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "keys", "environment": "live", "scopes": ["admin:keys", "read:checks"], "check_group_ids": ["cg-1"]}),
        )
        .await;
    let narrow_key = narrow["key"].as_str().unwrap();
    let admin_id = app
        .get("/v1/auth/verify", &app.admin_key)
        .await
        .header("x-statuspulse-principal")
        .trim_start_matches("api_key:")
        .to_owned();
    let revoke = app
        .post("/v1/api-keys/revoke", narrow_key, json!({"id": admin_id}))
        .await;
    assert_eq!(
        (
            revoke.status,
            revoke.code(),
            revoke.body["field"].as_str().unwrap_or_default()
        ),
        (StatusCode::FORBIDDEN, "key_outside_authority", "id"),
        "{}",
        revoke.body
    );
    let rename = app
        .call(
            Method::PATCH,
            &format!("/v1/api-keys/{admin_id}"),
            Some(narrow_key),
            Some(json!({"name": "mine now"})),
        )
        .await;
    assert_eq!(rename.code(), "key_outside_authority");
    assert_eq!(
        app.verify(&app.admin_key).await,
        StatusCode::OK,
        "the admin key is untouched"
    );
    // Within its authority it manages keys as before.
    let within = app
        .post(
            "/v1/api-keys",
            narrow_key,
            json!({"name": "r", "environment": "live", "scopes": ["read:checks"], "check_group_ids": ["cg-1"]}),
        )
        .await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            narrow_key,
            json!({"id": within.body["id"]}),
        )
        .await;
    assert_eq!(revoked.body["status"], "revoked", "{}", revoked.body);
}
