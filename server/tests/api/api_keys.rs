//! Key lifecycle: create, show once, rotate, revoke, quarantine, purge, expire.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use statuspulse_server::jobs::purge::purge_quarantined;

use crate::helpers::{captured_logs, Backend, TestApp};
use crate::on_both_backends;

const DAY: Duration = Duration::from_secs(24 * 3600);

on_both_backends!(
    created_key_secret_appears_nowhere_in_database_logs_or_audit,
    key_is_shown_once_and_has_the_documented_format,
    rotation_keeps_the_old_key_working_for_the_grace_period_then_revokes_it,
    revoked_key_is_refused_at_once_and_stays_readable_in_quarantine,
    quarantined_key_is_purged_after_30_days,
    expired_key_is_refused_and_purged_30_days_later,
    lifetime_and_rotation_period_are_bounded_by_365_days,
    rotation_due_turns_true_after_rotate_after_and_the_key_still_works,
    scope_change_is_audited_with_before_and_after_and_takes_effect_at_once,
    a_key_cannot_grant_scopes_its_creator_lacks,
    admin_all_is_refused_for_service_account_keys_unless_the_policy_allows_it,
    keys_list_in_pages_and_filter_by_status,
    last_used_at_is_written_back_in_batches_not_per_request,
    a_revocation_with_a_grace_period_keeps_the_key_working_then_refuses_it,
    a_revocation_names_only_a_usable_successor_of_the_same_account_and_environment,
    a_check_refuses_exactly_what_a_create_would_and_creates_nothing
);

async fn created_key_secret_appears_nowhere_in_database_logs_or_audit(backend: Backend) {
    let (app, db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let secret = &key[8 + 16..]; // after the prefix and the public key id
    assert_eq!(app.verify(&key).await, StatusCode::OK);
    // Exercise every path that writes: wrong secret, rotation, revocation, audit listing.
    let wrong = format!("{}{}", &key[..30], "A".repeat(key.len() - 30));
    app.verify(&wrong).await;
    let id = created["id"].as_str().unwrap();
    let rotated = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({}),
        )
        .await;
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    app.post("/v1/api-keys/revoke", &app.admin_key, json!({"id": id}))
        .await;
    app.state.authenticator.flush_last_used().await.unwrap();
    app.flush_audit().await;

    let events = app
        .get("/v1/audit-events?limit=200", &app.admin_key)
        .await
        .body
        .to_string();
    let logs = captured_logs();
    for needle in [key.as_str(), secret, successor.as_str(), &successor[24..]] {
        assert!(!events.contains(needle), "secret in audit events");
        assert!(!logs.contains(needle), "secret in logs");
    }
    match backend {
        Backend::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(app.state.db.pool())
                .await
                .unwrap();
            for file in db.sqlite_files() {
                let bytes = std::fs::read(&file).unwrap();
                for needle in [secret, &successor[24..]] {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "secret in {}",
                        file.display()
                    );
                }
            }
        }
        Backend::Postgres => {
            for table in [
                "workspaces",
                "service_accounts",
                "api_keys",
                "audit_events",
                "audit_chain_heads",
            ] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT CAST(t.* AS TEXT) FROM {table} t"))
                        .fetch_all(app.state.db.pool())
                        .await
                        .unwrap();
                let dump: String = rows.into_iter().map(|r| r.0).collect();
                assert!(
                    !dump.contains(secret) && !dump.contains(&successor[24..]),
                    "secret in {table}"
                );
            }
        }
    }
    let stored: String = sqlx::query_scalar("SELECT secret_hash FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}

async fn key_is_shown_once_and_has_the_documented_format(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for env in ["live", "test"] {
        let created = app
            .create_key(
                &app.admin_key,
                json!({"name": "k", "environment": env, "scopes": ["read:metrics"]}),
            )
            .await;
        let key = created["key"].as_str().unwrap();
        assert!(key.starts_with(&format!("sp_{env}_")));
        let body = &key[8..];
        assert_eq!(body.len(), 64);
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(&body[..16], created["key_id"].as_str().unwrap());
        let read = app
            .get(
                &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
                &app.admin_key,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(
            read.body.get("key").is_none(),
            "the key is never readable again"
        );
        assert_eq!(read.body["status"], "active");
        assert_eq!(read.body["rotation_days"], 90);
    }
}

async fn rotation_keeps_the_old_key_working_for_the_grace_period_then_revokes_it(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app.create_key(&app.admin_key, json!({"name": "ci", "environment": "live", "scopes": ["read:checks"], "check_group_ids": ["g1"]})).await;
    let old = created["key"].as_str().unwrap();
    assert_eq!(app.verify(old).await, StatusCode::OK);
    let id = created["id"].as_str().unwrap();
    let rotated = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({"grace_period_hours": 2}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let new = rotated.body["key"].as_str().unwrap();
    assert_eq!(rotated.body["scopes"], json!(["read:checks"]));
    assert_eq!(rotated.body["check_group_ids"], json!(["g1"]));
    assert_eq!(
        app.verify(old).await,
        StatusCode::OK,
        "old key works during the grace period"
    );
    assert_eq!(app.verify(new).await, StatusCode::OK);
    let old_view = app
        .get(&format!("/v1/api-keys/{id}"), &app.admin_key)
        .await
        .body;
    assert_eq!(old_view["status"], "rotating");
    assert_eq!(old_view["successor_id"], rotated.body["id"]);
    let again = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({}),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "already_rotated")
    );

    app.clock.advance(Duration::from_secs(2 * 3600 + 1));
    let refused = app.get("/v1/auth/verify", old).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "revoked_credential")
    );
    assert_eq!(app.verify(new).await, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await
            .body["status"],
        "revoked"
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "api_key.rotated").await,
        1
    );
}

async fn revoked_key_is_refused_at_once_and_stays_readable_in_quarantine(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "test", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.verify(key).await, StatusCode::OK);
    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": id, "reason": "leaked in CI logs"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(revoked.body["revocation_reason"], "leaked in CI logs");
    let refused = app.get("/v1/auth/verify", key).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "revoked_credential")
    );
    // Idempotent: revoking again changes nothing and records nothing new.
    let again = app
        .post("/v1/api-keys/revoke", &app.admin_key, json!({"id": id}))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
    assert_eq!(
        app.audit_count(&app.workspace_id, "api_key.revoked").await,
        1
    );
    // A revoked key cannot be rotated or changed.
    assert_eq!(
        app.post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let patch = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::CONFLICT);
    app.clock.advance(DAY * 29);
    assert_eq!(purge_quarantined(&app.state).await.unwrap(), 0);
    let read = app.get(&format!("/v1/api-keys/{id}"), &app.admin_key).await;
    assert_eq!(
        read.body["status"], "revoked",
        "readable during the quarantine"
    );
}

async fn quarantined_key_is_purged_after_30_days(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    app.post("/v1/api-keys/revoke", &app.admin_key, json!({"id": id}))
        .await;
    app.clock.advance(DAY * 30 + Duration::from_secs(1));
    assert_eq!(purge_quarantined(&app.state).await.unwrap(), 1);
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let refused = app
        .get("/v1/auth/verify", created["key"].as_str().unwrap())
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.audit_count(&app.workspace_id, "api_key.purged").await,
        1
    );
    // The purge is audited in the key's own chain, which still verifies.
    let chain = app
        .get("/v1/audit-events/verify", &app.admin_key)
        .await
        .body;
    assert_eq!(chain["valid"], true, "{chain}");
}

async fn expired_key_is_refused_and_purged_30_days_later(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app.create_key(&app.admin_key, json!({"name": "short", "environment": "live", "scopes": ["read:checks"], "expires_in_days": 7, "rotation_days": 5})).await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.verify(key).await, StatusCode::OK);
    app.clock.advance(DAY * 7);
    let refused = app.get("/v1/auth/verify", key).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "expired_credential")
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await
            .body["status"],
        "expired"
    );
    app.clock.advance(DAY * 30);
    assert_eq!(purge_quarantined(&app.state).await.unwrap(), 1);
}

async fn lifetime_and_rotation_period_are_bounded_by_365_days(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for (field, value) in [
        ("rotation_days", 0),
        ("rotation_days", 366),
        ("expires_in_days", 366),
        ("expires_in_days", 0),
    ] {
        let answer = app.post("/v1/api-keys", &app.admin_key, json!({"name": "k", "environment": "live", "scopes": ["read:checks"], field: value})).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        assert_eq!(answer.body["field"], field);
    }
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let created_at = time::OffsetDateTime::parse(
        created["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires_at = time::OffsetDateTime::parse(
        created["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires_at - created_at <= time::Duration::days(365));
}

async fn rotation_due_turns_true_after_rotate_after_and_the_key_still_works(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app.create_key(&app.admin_key, json!({"name": "ci", "environment": "live", "scopes": ["read:checks"], "rotation_days": 30})).await;
    assert_eq!(created["rotation_due"], false);
    let key = created["key"].as_str().unwrap();
    app.clock.advance(DAY * 30 + Duration::from_secs(1));
    let read = app
        .get(
            &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
            &app.admin_key,
        )
        .await;
    assert_eq!(read.body["rotation_due"], true);
    let verified = app.get("/v1/auth/verify", key).await;
    assert_eq!(verified.status, StatusCode::OK);
    assert_eq!(verified.body["rotation_due"], true);
}

async fn scope_change_is_audited_with_before_and_after_and_takes_effect_at_once(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks", "write:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/auth/verify?scope=write:checks", key)
            .await
            .status,
        StatusCode::OK
    );
    let patched = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["read:checks"]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["scopes"], json!(["read:checks"]));
    assert_eq!(
        app.get("/v1/auth/verify?scope=write:checks", key)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let events = app
        .get(
            "/v1/audit-events?event_type=api_key.scopes_changed",
            &app.admin_key,
        )
        .await
        .body;
    let details = &events["items"][0]["details"];
    assert_eq!(
        details["before"]["scopes"],
        json!(["read:checks", "write:checks"])
    );
    assert_eq!(details["after"]["scopes"], json!(["read:checks"]));
}

async fn a_key_cannot_grant_scopes_its_creator_lacks(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let manager = app
        .create_key(
            &app.admin_key,
            json!({"name": "keys", "environment": "live", "scopes": ["admin:keys", "read:checks"]}),
        )
        .await;
    let manager = manager["key"].as_str().unwrap();
    let ok = app
        .post(
            "/v1/api-keys",
            manager,
            json!({"name": "r", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let escalated = app
        .post(
            "/v1/api-keys",
            manager,
            json!({"name": "x", "environment": "live", "scopes": ["admin:all"]}),
        )
        .await;
    assert_eq!(
        (escalated.status, escalated.code()),
        (StatusCode::FORBIDDEN, "scope_escalation")
    );
    assert_eq!(escalated.body["field"], "scopes");
}

async fn admin_all_is_refused_for_service_account_keys_unless_the_policy_allows_it(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .service_account_with(&app.admin_key, "runner", &["read:checks"], &[])
        .await;
    let body = json!({"name": "runner", "environment": "live", "service_account_id": sa, "scopes": ["admin:all"]});
    let refused = app.post("/v1/api-keys", &app.admin_key, body.clone()).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "admin_all_forbidden")
    );
    let binding = json!({"service_account_id": sa, "scopes": ["admin:all"]});
    let refused = app
        .post("/v1/role-bindings", &app.admin_key, binding.clone())
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "admin_all_forbidden"),
        "bindings obey the policy too"
    );
    let policy = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/workspaces/{}", app.workspace_id),
            Some(&app.admin_key),
            Some(json!({"allow_admin_all_for_service_accounts": true})),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    assert_eq!(
        app.post("/v1/role-bindings", &app.admin_key, binding)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post("/v1/api-keys", &app.admin_key, body).await.status,
        StatusCode::CREATED
    );
    let unknown = app.post("/v1/api-keys", &app.admin_key, json!({"name": "x", "environment": "live", "service_account_id": "sa_0000", "scopes": ["read:checks"]})).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_service_account")
    );
}

async fn keys_list_in_pages_and_filter_by_status(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let mut ids = vec![];
    for i in 0..5 {
        let k = app
            .create_key(
                &app.admin_key,
                json!({"name": format!("k{i}"), "environment": "test", "scopes": ["read:checks"]}),
            )
            .await;
        ids.push(k["id"].as_str().unwrap().to_owned());
    }
    app.post("/v1/api-keys/revoke", &app.admin_key, json!({"id": ids[1]}))
        .await;
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/api-keys?limit=2&cursor={c}"),
            None => "/v1/api-keys?limit=2".to_owned(),
        };
        let page = app.get(&path, &app.admin_key).await.body;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "5 keys plus the admin key, each once");
    let revoked = app
        .get("/v1/api-keys?status=revoked", &app.admin_key)
        .await
        .body;
    assert_eq!(revoked["items"].as_array().unwrap().len(), 1);
    assert_eq!(revoked["items"][0]["id"], ids[1].as_str());
    let bad = app
        .get("/v1/api-keys?status=sleeping", &app.admin_key)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/v1/api-keys?limit=0", &app.admin_key).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/api-keys?cursor=!!!", &app.admin_key)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn last_used_at_is_written_back_in_batches_not_per_request(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    for _ in 0..20 {
        assert_eq!(app.verify(key).await, StatusCode::OK);
    }
    assert!(
        app.get(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await
            .body["last_used_at"]
            .is_null(),
        "verifications alone write nothing"
    );
    let flushed = app.state.authenticator.flush_last_used().await.unwrap();
    assert!(flushed >= 1);
    assert!(app
        .get(&format!("/v1/api-keys/{id}"), &app.admin_key)
        .await
        .body["last_used_at"]
        .is_string());
}

async fn a_revocation_with_a_grace_period_keeps_the_key_working_then_refuses_it(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let body = json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]});
    let old = app.create_key(&app.admin_key, body.clone()).await;
    let new = app.create_key(&app.admin_key, body).await;
    let id = old["id"].as_str().unwrap();
    let answer = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": id, "grace_period_hours": 24, "successor_id": new["id"], "reason": "replaced"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["status"], "rotating");
    assert_eq!(answer.body["successor_id"], new["id"]);
    assert_eq!(
        app.verify(old["key"].as_str().unwrap()).await,
        StatusCode::OK,
        "within the grace period"
    );
    let events = app
        .get(
            &format!("/v1/audit-events?target_id={id}&event_type=api_key.revoked"),
            &app.admin_key,
        )
        .await;
    let details = &events.body["items"][0]["details"];
    assert_eq!(details["successor_id"], new["id"]);
    assert!(details["grace_until"].is_string());
    // A later revocation may shorten the grace period, never lengthen it.
    let longer = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": id, "grace_period_hours": 100}),
        )
        .await;
    assert_eq!(
        longer.body["revoked_at"], answer.body["revoked_at"],
        "not extended"
    );
    app.clock.advance(DAY + Duration::from_secs(1));
    let refused = app
        .get("/v1/auth/verify", old["key"].as_str().unwrap())
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "revoked_credential")
    );
    assert_eq!(
        app.verify(new["key"].as_str().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "api_key.revoked").await,
        1,
        "the no-op is not recorded"
    );
}

async fn a_revocation_names_only_a_usable_successor_of_the_same_account_and_environment(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let live = json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]});
    let key = app.create_key(&app.admin_key, live.clone()).await;
    let id = key["id"].as_str().unwrap();
    let test_env = app
        .create_key(
            &app.admin_key,
            json!({"name": "t", "environment": "test", "scopes": ["read:checks"]}),
        )
        .await;
    let revoked = app.create_key(&app.admin_key, live.clone()).await;
    app.post(
        "/v1/api-keys/revoke",
        &app.admin_key,
        json!({"id": revoked["id"]}),
    )
    .await;
    let sa = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "robot"}),
        )
        .await;
    let (_, other_admin) = app.new_workspace("tenant").await;
    let foreign = app.create_key(&other_admin, live.clone()).await;
    let before = app.database_snapshot().await;
    for (successor, why) in [
        (json!(id), "names the key being revoked"),
        (
            test_env["id"].clone(),
            "same service account and environment",
        ),
        (revoked["id"].clone(), "revoked or expired"),
        (foreign["id"].clone(), "not an API key of this workspace"),
        (
            json!("key_00000000000000000000000000000000"),
            "not an API key of this workspace",
        ),
        (sa.body["id"].clone(), "not an API key of this workspace"),
    ] {
        let answer = app
            .post(
                "/v1/api-keys/revoke",
                &app.admin_key,
                json!({"id": id, "grace_period_hours": 1, "successor_id": successor}),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_successor"),
            "{successor}"
        );
        assert_eq!(answer.body["field"], "successor_id");
        assert!(
            answer.body["detail"].as_str().unwrap().contains(why),
            "{}",
            answer.body
        );
    }
    for grace in [json!(-1), json!(169), json!("24")] {
        let answer = app
            .post(
                "/v1/api-keys/revoke",
                &app.admin_key,
                json!({"id": id, "grace_period_hours": grace}),
            )
            .await;
        assert!(answer.status.is_client_error(), "{grace}");
    }
    assert_eq!(
        app.database_snapshot().await,
        before,
        "refusals change nothing"
    );
    assert_eq!(
        app.verify(key["key"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

/// `POST /v1/api-keys/check` (what the provider calls at plan time) answers as the create would,
/// on every dimension, and changes nothing: no key, no audit event, no row.
async fn a_check_refuses_exactly_what_a_create_would_and_creates_nothing(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.post(
        "/v1/environment-clusters",
        &app.admin_key,
        json!({"name": "eu-prod-1", "environment": "live"}),
    )
    .await;
    app.post(
        "/v1/environment-clusters",
        &app.admin_key,
        json!({"name": "eu-test-1", "environment": "test"}),
    )
    .await;
    let sa = app
        .service_account_with(&app.admin_key, "runner", &["read:checks"], &["eu-prod-1"])
        .await;
    // A narrow key that may manage keys but holds only read:checks besides.
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "narrow", "environment": "live", "scopes": ["admin:keys", "read:checks"]}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let reader = app
        .create_key(
            &app.admin_key,
            json!({"name": "reader", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = |extra: serde_json::Value| {
        let mut body = json!({"name": "k", "environment": "live", "scopes": ["read:checks"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(&str, &str, serde_json::Value)> = vec![
        ("admin", "fine", key(json!({}))),
        (
            "admin",
            "fine for the account",
            key(json!({"service_account_id": sa, "environment_clusters": ["eu-prod-1"]})),
        ),
        (
            "admin",
            "scopes beyond the bindings",
            key(json!({"service_account_id": sa, "scopes": ["read:checks", "write:alerts"]})),
        ),
        (
            "admin",
            "unknown cluster",
            key(json!({"service_account_id": sa, "environment_clusters": ["nowhere-1"]})),
        ),
        (
            "admin",
            "cluster of another environment",
            key(json!({"environment_clusters": ["eu-test-1"]})),
        ),
        (
            "admin",
            "admin:all for an account",
            key(json!({"service_account_id": sa, "scopes": ["admin:all"]})),
        ),
        (
            "admin",
            "unknown account",
            key(json!({"service_account_id": "sa_00000000000000000000000000000000"})),
        ),
        (
            "admin",
            "bad scope",
            key(json!({"scopes": ["read:everything"]})),
        ),
        ("admin", "bad rotation", key(json!({"rotation_days": 400}))),
        ("admin", "unknown field", key(json!({"extra": 1}))),
        (
            "narrow",
            "more than the caller holds",
            key(json!({"scopes": ["write:alerts"]})),
        ),
        ("reader", "no admin:keys", key(json!({}))),
    ];
    let before_snapshot = app.database_snapshot().await;
    let before_audit = app.audit_total().await;
    let mut checked = Vec::new();
    for (who, what, body) in &cases {
        let credential = match *who {
            "narrow" => &narrow,
            "reader" => &reader,
            _ => &app.admin_key,
        };
        let answer = app
            .post("/v1/api-keys/check", credential, body.clone())
            .await;
        checked.push((credential, what, body, answer));
    }
    assert_eq!(
        app.database_snapshot().await,
        before_snapshot,
        "a check stores nothing"
    );
    assert_eq!(
        app.audit_total().await,
        before_audit,
        "a check records nothing"
    );
    for (credential, what, body, check) in checked {
        let create = app.post("/v1/api-keys", credential, body.clone()).await;
        if create.status == StatusCode::CREATED {
            assert_eq!(
                check.status,
                StatusCode::NO_CONTENT,
                "{what}: {}",
                check.body
            );
        } else {
            assert_eq!(
                (check.status, check.code(), &check.body["field"]),
                (create.status, create.code(), &create.body["field"]),
                "{what}: the check answers as the create: {} vs {}",
                check.body,
                create.body
            );
        }
    }
    let refused = cases.len() - 2;
    let keys = app.get("/v1/api-keys?limit=200", &app.admin_key).await.body;
    assert_eq!(
        keys["items"].as_array().unwrap().len(),
        1 + 2 + 2,
        "the operator's key, narrow and reader, and the two creates that passed ({refused} refused)"
    );
}
