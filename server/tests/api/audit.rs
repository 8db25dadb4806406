//! The audit log: append-only, hash-chained, filterable, verifiable.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_chain_verifies_and_any_edit_or_deletion_breaks_it,
    deleting_the_newest_event_is_detected_by_the_chain_head,
    events_filter_by_type_outcome_actor_target_and_time_and_page_in_order
);

async fn the_chain_verifies_and_any_edit_or_deletion_breaks_it(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": format!("sa-{i}")}),
        )
        .await;
    }
    let report = app
        .get("/v1/audit-events/verify", &app.admin_key)
        .await
        .body;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(
        report["events_checked"], 7,
        "workspace + key creation + 5 accounts"
    );
    sqlx::query("UPDATE audit_events SET details = '{\"name\":\"forged\"}' WHERE workspace_id = $1 AND seq = 4")
        .bind(&app.workspace_id).execute(app.state.db.pool()).await.unwrap();
    let report = app
        .get("/v1/audit-events/verify", &app.admin_key)
        .await
        .body;
    assert_eq!(
        (report["valid"].clone(), report["first_broken_seq"].clone()),
        (json!(false), json!(4))
    );
}

async fn deleting_the_newest_event_is_detected_by_the_chain_head(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    app.post("/v1/service-accounts", &app.admin_key, json!({"name": "x"}))
        .await;
    sqlx::query("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = 3")
        .bind(&app.workspace_id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let report = app
        .get("/v1/audit-events/verify", &app.admin_key)
        .await
        .body;
    assert_eq!(report["valid"], false, "{report}");
}

async fn events_filter_by_type_outcome_actor_target_and_time_and_page_in_order(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .post("/v1/service-accounts", &app.admin_key, json!({"name": "a"}))
        .await
        .body;
    let key = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    app.post(
        "/v1/api-keys/revoke",
        &app.admin_key,
        json!({"id": key["id"], "reason": "test"}),
    )
    .await;
    app.verify(key["key"].as_str().unwrap()).await;
    app.flush_audit().await;
    let by_type = app
        .get(
            "/v1/audit-events?event_type=api_key.revoked",
            &app.admin_key,
        )
        .await
        .body;
    let event = &by_type["items"][0];
    assert_eq!(by_type["items"].as_array().unwrap().len(), 1);
    assert_eq!(event["target"], json!({"type": "api_key", "id": key["id"]}));
    assert_eq!(event["actor"]["type"], "api_key");
    assert!(event["event_id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["details"]["reason"], "test");
    let failures = app
        .get("/v1/audit-events?outcome=failure", &app.admin_key)
        .await
        .body;
    assert_eq!(failures["items"][0]["reason"], "revoked");
    let target = app
        .get(
            &format!("/v1/audit-events?target_id={}", sa["id"].as_str().unwrap()),
            &app.admin_key,
        )
        .await
        .body;
    assert_eq!(target["items"].as_array().unwrap().len(), 1);
    // Who did it: the admin key's every act, and nothing the system or another key did.
    let admin = event["actor"]["id"].as_str().unwrap();
    let by_actor = app
        .get(
            &format!("/v1/audit-events?actor_id={admin}"),
            &app.admin_key,
        )
        .await
        .body;
    let acts = by_actor["items"].as_array().unwrap();
    assert!(acts.iter().all(|e| e["actor"]["id"] == admin), "{by_actor}");
    let types: Vec<&str> = acts
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    for t in [
        "service_account.created",
        "api_key.created",
        "api_key.revoked",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    assert!(!types.contains(&"workspace.created"), "{types:?}");
    let future = app
        .get(
            "/v1/audit-events?since=2999-01-01T00:00:00Z",
            &app.admin_key,
        )
        .await
        .body;
    assert!(future["items"].as_array().unwrap().is_empty());
    let bad = app
        .get("/v1/audit-events?since=yesterday", &app.admin_key)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time")
    );
    let mut seqs = vec![];
    let mut path = "/v1/audit-events?limit=2".to_owned();
    loop {
        let page = app.get(&path, &app.admin_key).await.body;
        seqs.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/audit-events?limit=2&cursor={c}"),
            None => break,
        }
    }
    let expected: Vec<i64> = (1..=i64::try_from(seqs.len()).unwrap()).collect();
    assert_eq!(seqs, expected, "every event once, in chain order");
}
