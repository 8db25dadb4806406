//! Cluster-wide background jobs run on one replica at a time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use statuspulse_server::jobs::purge::purge_quarantined;
use statuspulse_server::jobs::try_lease;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

const DAY: Duration = Duration::from_secs(24 * 3600);

on_both_backends!(
    one_replica_at_a_time_holds_a_jobs_lease_until_it_lapses,
    replicas_purging_at_once_delete_and_record_each_key_once
);

async fn one_replica_at_a_time_holds_a_jobs_lease_until_it_lapses(backend: Backend) {
    let (a, db) = TestApp::spawn(backend).await;
    let b = TestApp::start(&db.url, Options::default()).await;
    let (a_db, b_db) = (&a.state.db, &b.state.db);
    let (a_id, b_id) = (&a.state.replica_id, &b.state.replica_id);
    assert_ne!(a_id, b_id);
    // Racing for a free lease: exactly one wins.
    let (won_a, won_b) = tokio::join!(
        try_lease(a_db, "job", a_id, 1_000, 60_000),
        try_lease(b_db, "job", b_id, 1_000, 60_000)
    );
    assert!(
        won_a.unwrap() ^ won_b.unwrap(),
        "exactly one replica takes a free lease"
    );
    let (holder, holder_id, other, other_id) =
        if try_lease(a_db, "job", a_id, 2_000, 60_000).await.unwrap() {
            (a_db, a_id, b_db, b_id)
        } else {
            (b_db, b_id, a_db, a_id)
        };
    assert!(
        try_lease(holder, "job", holder_id, 30_000, 60_000)
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(
        !try_lease(other, "job", other_id, 60_000, 60_000)
            .await
            .unwrap(),
        "held until it lapses"
    );
    assert!(
        try_lease(other, "job", other_id, 90_001, 60_000)
            .await
            .unwrap(),
        "taken over once lapsed"
    );
    assert!(
        !try_lease(holder, "job", holder_id, 90_002, 60_000)
            .await
            .unwrap(),
        "the old holder lost it"
    );
    assert!(
        try_lease(holder, "other-job", holder_id, 90_002, 60_000)
            .await
            .unwrap(),
        "leases are per job"
    );
    b.stop().await;
}

async fn replicas_purging_at_once_delete_and_record_each_key_once(backend: Backend) {
    let (a, db) = TestApp::spawn(backend).await;
    let b = TestApp::start(
        &db.url,
        Options {
            clock: a.clock.clone(),
            ..Options::default()
        },
    )
    .await;
    for i in 0..5 {
        let created = a
            .create_key(
                &a.admin_key,
                json!({"name": format!("k{i}"), "environment": "live", "scopes": ["read:checks"]}),
            )
            .await;
        a.post(
            "/v1/api-keys/revoke",
            &a.admin_key,
            json!({"id": created["id"]}),
        )
        .await;
    }
    a.clock.advance(DAY * 30 + Duration::from_secs(1));
    let (purged_a, purged_b) =
        tokio::join!(purge_quarantined(&a.state), purge_quarantined(&b.state));
    assert_eq!(purged_a.unwrap() + purged_b.unwrap(), 5);
    assert_eq!(
        a.audit_count(&a.workspace_id, "api_key.purged").await,
        5,
        "one event per key deleted"
    );
    assert_eq!(
        purge_quarantined(&a.state).await.unwrap(),
        0,
        "nothing left, nothing recorded"
    );
    assert_eq!(a.audit_count(&a.workspace_id, "api_key.purged").await, 5);
    assert_eq!(
        a.get("/v1/api-keys?status=revoked", &a.admin_key)
            .await
            .status,
        StatusCode::OK
    );
    b.stop().await;
}
