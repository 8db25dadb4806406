//! Several replicas on one database: revocation reaches every replica within 30 s, and with Redis
//! a key's rate-limit budget is one for all of them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use statuspulse_server::Clock;

use crate::helpers::{Backend, Options, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(a_revocation_on_one_replica_is_honoured_by_another_within_30_seconds);

async fn a_revocation_on_one_replica_is_honoured_by_another_within_30_seconds(backend: Backend) {
    let (a, db) = TestApp::spawn(backend).await;
    let b = TestApp::start(&db.url, Options::default()).await;
    let created = a
        .create_key(
            &a.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        b.verify(key).await,
        StatusCode::OK,
        "replica B caches the key"
    );
    a.post(
        "/v1/api-keys/revoke",
        &a.admin_key,
        json!({"id": created["id"]}),
    )
    .await;
    assert_eq!(
        a.verify(key).await,
        StatusCode::UNAUTHORIZED,
        "at once on the serving replica"
    );
    let started = Instant::now();
    while b.verify(key).await == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica B still accepts the key after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "replica B refused the revoked key after {:?}",
        started.elapsed()
    );
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_revocation_reaches_other_replicas_at_once() {
    let (a, b, _db, created) = two_replicas_with_redis(Clock::controllable()).await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(b.verify(key).await, StatusCode::OK);
    a.post(
        "/v1/api-keys/revoke",
        &a.admin_key,
        json!({"id": created["id"]}),
    )
    .await;
    let started = Instant::now();
    while b.verify(key).await == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "redis fan-out did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_replicas_share_each_keys_rate_limit() {
    // One frozen clock for both replicas: "a minute" is the same minute everywhere.
    let (a, b, _db, created) = two_replicas_with_redis(Clock::frozen()).await;
    let key = created["key"].as_str().unwrap();
    for i in 1..=1200 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let answer = replica.get("/v1/auth/verify", key).await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
        assert_eq!(
            answer.header("ratelimit"),
            format!("\"standard\";r={};t={}", 1200 - i, (i as f64 * 0.05).ceil()),
            "request {i}: the remaining budget counts both replicas' requests"
        );
    }
    for replica in [&a, &b] {
        let refused = replica.get("/v1/auth/verify", key).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert_eq!(refused.header("retry-after"), "1");
        assert_eq!(refused.header("ratelimit"), "\"standard\";r=0;t=60");
    }
    b.stop().await;
}

/// Two replicas on one new PostgreSQL database and the test Redis, reading time from `clock`, and
/// a live key created on the first.
async fn two_replicas_with_redis(clock: Clock) -> (TestApp, TestApp, TestDb, serde_json::Value) {
    let options = || Options {
        clock: clock.clone(),
        tweak: |s| s.redis_url = Some(redis_url()),
        public_url: None,
    };
    let (a, db) = TestApp::spawn_with(Backend::Postgres, options()).await;
    let b = TestApp::start(&db.url, options()).await;
    let created = a
        .create_key(
            &a.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    (a, b, db, created)
}

fn redis_url() -> String {
    std::env::var("STATUSPULSE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}
