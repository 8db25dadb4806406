//! Retention: events past a workspace's retention are pruned from the front of its chain in
//! segments, and what remains still verifies, online, from the database and from an export.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use statuspulse_server::audit::{Actor, EventType, NewEvent};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    events_past_retention_are_pruned_and_the_rest_still_verifies,
    a_sink_behind_holds_pruning_back_until_it_has_delivered,
    retention_outside_its_bounds_is_refused_and_each_workspace_has_its_own,
    sink_defaults_apply_to_new_sinks_and_the_settings_list_where_events_go
);

async fn append(app: &TestApp, workspace_id: &str, n: usize) {
    let mut tx = app.state.db.begin_write().await.unwrap();
    for i in 0..n {
        let event = NewEvent::success(
            workspace_id,
            EventType::ServiceAccountUpdated,
            Actor::System,
        )
        .details(json!({"i": i}));
        statuspulse_server::audit::append(&mut tx.tx, &app.state.clock, &event)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn settings(app: &TestApp, key: &str) -> serde_json::Value {
    let answer = app.get("/v1/audit-settings", key).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

async fn events_past_retention_are_pruned_and_the_rest_still_verifies(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (ws, key) = app.new_workspace("tenant").await;
    let initial = settings(&app, &key).await;
    assert_eq!(initial["retention_days"], 365);
    assert_eq!(initial["is_default"], true);
    assert_eq!(initial["pruned_through_seq"], 0);
    let answer = app
        .call(
            Method::PUT,
            "/v1/audit-settings",
            Some(&key),
            Some(json!({"retention_days": 30})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["is_default"], false);
    // 25,000 old events (more than two segments), then a month passes, then recent ones.
    append(&app, &ws, 25_000).await;
    app.flush_audit().await;
    let old_head = settings(&app, &key).await["head_seq"].as_i64().unwrap();
    app.clock.advance(Duration::from_secs(31 * 24 * 3600));
    append(&app, &ws, 10).await;
    statuspulse_server::audit::retention::prune(&app.state)
        .await
        .unwrap();

    let after = settings(&app, &key).await;
    assert_eq!(
        after["pruned_through_seq"], old_head,
        "everything before the month is gone"
    );
    let remaining: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1")
            .bind(&ws)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let head = after["head_seq"].as_i64().unwrap();
    assert_eq!(remaining, head - old_head);
    // One audit.pruned per segment, each naming its range and last hash.
    assert_eq!(app.audit_count(&ws, "audit.pruned").await, 3);
    // The chain verifies from its anchor, online and offline.
    let report = app.get("/v1/audit-events/verify", &key).await;
    assert_eq!(report.body["valid"], true, "{}", report.body);
    assert_eq!(report.body["events_checked"], remaining);
    let export = app
        .http
        .get(app.url("/v1/audit-events/export"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let text = export.text().await.unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], old_head + 1);
    assert_eq!(first["prev_hash"], after["pruned_through_hash"]);
    // Removing one more event from the front is still detected.
    sqlx::query("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = $2")
        .bind(&ws)
        .bind(old_head + 1)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let report = app.get("/v1/audit-events/verify", &key).await;
    assert_eq!(report.body["valid"], false);
    assert_eq!(report.body["first_broken_seq"], old_head + 1);
}

async fn a_sink_behind_holds_pruning_back_until_it_has_delivered(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        crate::helpers::Options {
            tweak: crate::helpers::with_master_key,
            ..Default::default()
        },
    )
    .await;
    let (ws, key) = app.new_workspace("tenant").await;
    app.call(
        Method::PUT,
        "/v1/audit-settings",
        Some(&key),
        Some(json!({"retention_days": 30})),
    )
    .await;
    // A sink that cannot deliver: its host does not resolve.
    let sink = app
        .post(
            "/v1/audit-sinks",
            &key,
            json!({"name": "down", "webhook": {"url": "https://192.0.2.1/hook"}}),
        )
        .await;
    assert_eq!(
        sink.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "documentation addresses are not public"
    );
    let sink = app
        .post(
            "/v1/audit-sinks",
            &key,
            json!({"name": "down", "webhook": {"url": "https://siem.invalid/hook"}}),
        )
        .await;
    assert_eq!(sink.status, StatusCode::CREATED, "{}", sink.body);
    let held = sink.body["delivered_seq"].as_i64().unwrap();
    append(&app, &ws, 100).await;
    app.clock.advance(Duration::from_secs(31 * 24 * 3600));
    append(&app, &ws, 1).await;
    statuspulse_server::audit::retention::prune(&app.state)
        .await
        .unwrap();
    assert_eq!(
        settings(&app, &key).await["pruned_through_seq"],
        held,
        "only what the sink has delivered"
    );
    // Disabled, the sink no longer holds anything back.
    let id = sink.body["id"].as_str().unwrap();
    app.call(
        Method::PATCH,
        &format!("/v1/audit-sinks/{id}"),
        Some(&key),
        Some(json!({"enabled": false})),
    )
    .await;
    statuspulse_server::audit::retention::prune(&app.state)
        .await
        .unwrap();
    assert!(
        settings(&app, &key).await["pruned_through_seq"]
            .as_i64()
            .unwrap()
            > held + 100
    );
    // A replay before the pruned part is refused.
    let answer = app
        .post(
            &format!("/v1/audit-sinks/{id}/replay"),
            &key,
            json!({"from_seq": 1}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.code(), "events_pruned");
}

async fn retention_outside_its_bounds_is_refused_and_each_workspace_has_its_own(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (_, key) = app.new_workspace("tenant").await;
    for bad in [
        json!({"retention_days": 29}),
        json!({"retention_days": 3651}),
        json!({"retention_days": -1}),
    ] {
        let answer = app
            .call(
                Method::PUT,
                "/v1/audit-settings",
                Some(&key),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(answer.body["field"], "retention_days");
    }
    for bad in [
        json!({"retention_days": "30"}),
        json!({"retention_days": 30.5}),
        json!({"retention_days": 30, "x": 1}),
        json!({"retention_days": null, "default_event_types": "auth.*"}),
    ] {
        let answer = app
            .call(
                Method::PUT,
                "/v1/audit-settings",
                Some(&key),
                Some(bad.clone()),
            )
            .await;
        assert!(answer.status.is_client_error(), "{bad}");
    }
    let answer = app
        .call(
            Method::PUT,
            "/v1/audit-settings",
            Some(&key),
            Some(json!({"retention_days": 90})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        settings(&app, &app.admin_key).await["retention_days"],
        365,
        "the operator's is untouched"
    );
    assert_eq!(
        app.audit_count(&answer.body["head_seq"].to_string(), "x")
            .await,
        0
    );
    // The same value again records nothing; a reset goes back to the default.
    let ws = answer_ws(&app, &key).await;
    let recorded = app.audit_count(&ws, "audit_settings.updated").await;
    let again = app
        .call(
            Method::PUT,
            "/v1/audit-settings",
            Some(&key),
            Some(json!({"retention_days": 90})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        app.audit_count(&ws, "audit_settings.updated").await,
        recorded
    );
    let reset = app
        .call(Method::DELETE, "/v1/audit-settings", Some(&key), None)
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(reset.body["retention_days"], 365);
    assert_eq!(reset.body["is_default"], true);
    assert_eq!(
        app.audit_count(&ws, "audit_settings.updated").await,
        recorded + 1
    );
    let reader = app
        .create_key(
            &key,
            json!({"name": "r", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let answer = app
        .get("/v1/audit-settings", reader["key"].as_str().unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

/// The settings' sink defaults: a sink created without `event_types` takes the workspace's
/// `default_event_types`, and keeps them when they change; every bad filter is refused with
/// nothing changed; the settings list the workspace's own sinks, never another's.
async fn sink_defaults_apply_to_new_sinks_and_the_settings_list_where_events_go(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        crate::helpers::Options {
            tweak: crate::helpers::with_master_key,
            ..Default::default()
        },
    )
    .await;
    let (ws, key) = app.new_workspace("tenant").await;
    let put = |body: serde_json::Value| {
        let app = &app;
        let key = key.clone();
        async move {
            app.call(Method::PUT, "/v1/audit-settings", Some(&key), Some(body))
                .await
        }
    };
    let initial = settings(&app, &key).await;
    assert_eq!(initial["default_event_types"], json!(["*"]));
    assert_eq!(initial["sinks"], json!([]));

    // Every bad filter: 422 on the field, nothing stored, nothing recorded.
    let recorded = app.audit_count(&ws, "audit_settings.updated").await;
    for (bad, code) in [
        (json!([]), "invalid_event_types"),
        (json!(["auth"]), "invalid_event_type"),
        (json!(["AUTH.*"]), "invalid_event_type"),
        (json!(["nosuchfamily.*"]), "unknown_event_type"),
        (json!(["auth.*", "auth.*"]), "duplicate_event_type"),
        (json!(["auth.\u{0}"]), "control_character"),
        (json!(vec!["auth.*"; 65]), "invalid_event_types"),
    ] {
        let answer = put(json!({"default_event_types": bad})).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            answer.body
        );
        let field = answer.body["field"].as_str().unwrap_or_default();
        assert!(field.starts_with("default_event_types"), "{bad}: {field}");
        assert_eq!(answer.body["code"], code, "{bad}: {}", answer.body);
    }
    assert_eq!(settings(&app, &key).await["is_default"], true);
    assert_eq!(
        app.audit_count(&ws, "audit_settings.updated").await,
        recorded
    );

    let answer = put(json!({"default_event_types": ["auth.*", "api_key.revoked"]})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["default_event_types"],
        json!(["auth.*", "api_key.revoked"])
    );
    assert_eq!(answer.body["retention_days"], 365, "left out: the default");
    app.flush_audit().await;
    let events = app
        .get("/v1/audit-events?event_type=audit_settings.updated", &key)
        .await
        .body;
    let event = &events["items"][0];
    assert_eq!(
        event["details"]["before"]["default_event_types"],
        json!(["*"])
    );
    assert_eq!(
        event["details"]["after"]["default_event_types"],
        json!(["auth.*", "api_key.revoked"])
    );

    // A sink left without a filter takes the default; one with its own keeps it.
    let defaulted = app
        .post(
            "/v1/audit-sinks",
            &key,
            json!({"name": "siem", "webhook": {"url": "https://siem-a.invalid/hook"}}),
        )
        .await;
    assert_eq!(defaulted.status, StatusCode::CREATED, "{}", defaulted.body);
    assert_eq!(
        defaulted.body["event_types"],
        json!(["auth.*", "api_key.revoked"])
    );
    let own = app
        .post(
            "/v1/audit-sinks",
            &key,
            json!({"name": "all", "event_types": ["*"], "webhook": {"url": "https://siem-b.invalid/hook"}}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    assert_eq!(own.body["event_types"], json!(["*"]));

    // A new default applies to sinks created afterwards; existing ones keep their filter.
    let answer = put(json!({"retention_days": 90, "default_event_types": ["anomaly.*"]})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let listed = &answer.body["sinks"];
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["id"], defaulted.body["id"]);
    assert_eq!(listed[0]["name"], "siem");
    assert_eq!(listed[0]["kind"], "webhook");
    assert_eq!(listed[0]["enabled"], true);
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(
        listed[0]["event_types"],
        json!(["auth.*", "api_key.revoked"])
    );
    assert!(listed[0]["lag"].as_i64().unwrap() >= 0);
    assert_eq!(listed[1]["event_types"], json!(["*"]));
    assert!(
        !answer.body.to_string().contains("whsec_"),
        "the settings never carry a sink's secret"
    );

    // Another workspace sees its own (none), and an empty PUT puts every default back.
    let other = settings(&app, &app.admin_key).await;
    assert_eq!(other["sinks"], json!([]));
    assert_eq!(other["default_event_types"], json!(["*"]));
    let answer = put(json!({})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["retention_days"], 365);
    assert_eq!(answer.body["default_event_types"], json!(["*"]));
    let later = app
        .post(
            "/v1/audit-sinks",
            &key,
            json!({"name": "later", "webhook": {"url": "https://siem-c.invalid/hook"}}),
        )
        .await;
    assert_eq!(later.body["event_types"], json!(["*"]));
}

async fn answer_ws(app: &TestApp, key: &str) -> String {
    settings(app, key).await["workspace_id"]
        .as_str()
        .unwrap()
        .to_owned()
}
