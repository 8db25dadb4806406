//! Provable completeness: the chain exported as JSON Lines verifies offline with
//! `statuspulse-server audit verify`, and any edit, reordering or removal names its position.

use reqwest::StatusCode;
use serde_json::{json, Value};

use statuspulse_server::audit::{Actor, EventType, NewEvent};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_export_is_the_chain_in_order_and_verifies_offline_and_on_the_database,
    a_tampered_export_or_database_fails_verification_at_the_broken_position,
    an_export_holds_only_the_callers_workspace_and_needs_admin_audit,
    an_export_longer_than_a_batch_streams_whole_and_in_order
);

/// Runs `statuspulse-server audit verify` with `args`: (exit code, stdout).
fn audit_verify(args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"))
        .args(["audit", "verify"])
        .args(args)
        .env_remove("STATUSPULSE_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap_or(-1), stdout)
}

/// Verifies `lines` as an export file with the CLI.
fn verify_file(lines: &[String]) -> (i32, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    audit_verify(&["--file", file.path().to_str().unwrap()])
}

async fn export(app: &TestApp, key: &str, query: &str) -> (StatusCode, Vec<String>) {
    app.flush_audit().await;
    let answer = app
        .http
        .get(app.url(&format!("/v1/audit-events/export{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    if status == StatusCode::OK {
        assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    }
    let text = answer.text().await.unwrap();
    (status, text.lines().map(str::to_owned).collect())
}

async fn workspace_with_events(backend: Backend) -> (TestApp, crate::helpers::TestDb) {
    let (app, db) = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": format!("sa-{i}")}),
        )
        .await;
    }
    (app, db)
}

async fn an_export_is_the_chain_in_order_and_verifies_offline_and_on_the_database(
    backend: Backend,
) {
    let (app, db) = workspace_with_events(backend).await;
    let (status, lines) = export(&app, &app.admin_key, "").await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=7).collect::<Vec<_>>(),
        "workspace, key, 5 accounts"
    );
    for pair in events.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    // Each line is the event the list answers.
    let listed = app
        .get("/v1/audit-events?limit=200", &app.admin_key)
        .await
        .body;
    assert_eq!(listed["items"].as_array().unwrap(), &events);

    let (code, out) = verify_file(&lines);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{}: 7 events, seq 1..7: OK", app.workspace_id)),
        "{out}"
    );
    let (code, out) = audit_verify(&["--database-url", &db.url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{}: 7 events, seq 1..7: OK", app.workspace_id)),
        "{out}"
    );
    let (code, out) = audit_verify(&["--database-url", &db.url, "--workspace", &app.workspace_id]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");

    // A part of the chain verifies from its first line's prev_hash.
    let (status, part) = export(&app, &app.admin_key, "?from_seq=3&to_seq=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(part, lines[2..5]);
    let (code, out) = verify_file(&part);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 events, seq 3..5: OK"), "{out}");
}

async fn a_tampered_export_or_database_fails_verification_at_the_broken_position(backend: Backend) {
    let (app, db) = workspace_with_events(backend).await;
    let (_, lines) = export(&app, &app.admin_key, "").await;

    let mut edited = lines.clone();
    let mut event: Value = serde_json::from_str(&edited[3]).unwrap();
    event["details"]["name"] = json!("forged");
    edited[3] = event.to_string();
    let (code, out) = verify_file(&edited);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at seq 4: hash mismatch"), "{out}");

    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    let (code, out) = verify_file(&swapped);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at seq 3: reordered"), "{out}");

    let mut deleted = lines.clone();
    deleted.remove(2);
    let (code, out) = verify_file(&deleted);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at seq 3: gap in seq"), "{out}");

    sqlx::query("UPDATE audit_events SET details = '{\"name\":\"forged\"}' WHERE workspace_id = $1 AND seq = 4")
        .bind(&app.workspace_id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (code, out) = audit_verify(&["--database-url", &db.url]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{}: 7 events, seq 1..7: BROKEN at seq 4: hash mismatch",
            app.workspace_id
        )),
        "{out}"
    );
}

async fn an_export_holds_only_the_callers_workspace_and_needs_admin_audit(backend: Backend) {
    let (app, _db) = workspace_with_events(backend).await;
    let (other, other_key) = app.new_workspace("other").await;
    let (status, lines) = export(&app, &other_key, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!lines.is_empty());
    for line in &lines {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["workspace_id"], other.as_str(), "{line}");
    }

    let reader = app
        .create_key(
            &app.admin_key,
            json!({"name": "reader", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let answer = app
        .get("/v1/audit-events/export", reader["key"].as_str().unwrap())
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );

    for query in [
        "?from_seq=abc",
        "?from_seq=0",
        "?to_seq=-1",
        "?from_seq=5&to_seq=3",
        "?from_seq=99999999999999999999",
        "?from_seq=%00",
        "?from_seq=1&from_seq=2",
        "?from=1",
    ] {
        let answer = app
            .get(&format!("/v1/audit-events/export{query}"), &app.admin_key)
            .await;
        assert!(
            answer.status.is_client_error(),
            "{query}: {}",
            answer.status
        );
        assert_eq!(
            answer.header("content-type"),
            "application/problem+json",
            "{query}"
        );
    }
}

async fn an_export_longer_than_a_batch_streams_whole_and_in_order(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    // More than two of the export's 1,000-event batches, appended directly for speed.
    let mut tx = app.state.db.begin_write().await.unwrap();
    for i in 0..2_100 {
        let event = NewEvent::success(
            &app.workspace_id,
            EventType::ServiceAccountUpdated,
            Actor::System,
        )
        .details(json!({"i": i, "ratio": f64::from(i) / 7.0}));
        statuspulse_server::audit::append(&mut tx.tx, &app.clock, &event)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let (status, lines) = export(&app, &app.admin_key, "").await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<i64> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=2_102).collect::<Vec<_>>());
    let (code, out) = verify_file(&lines);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2102 events, seq 1..2102: OK"), "{out}");

    let (_, part) = export(&app, &app.admin_key, "?from_seq=999&to_seq=2001").await;
    assert_eq!(part, lines[998..2001]);
    let (code, out) = verify_file(&part);
    assert_eq!(code, 0, "{out}");
}
