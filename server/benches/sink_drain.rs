//! Audit sink drain benchmark (issue 12): how fast a backlog of 100,000 events reaches a
//! loopback webhook, on SQLite and PostgreSQL, through the real delivery engine (pages read
//! from the chain, batches signed per Standard Webhooks and POSTed, the cursor moved after
//! each acceptance).
//!
//! Run: `cargo bench -p statuspulse-server --bench sink_drain` (`-- --quick` for 10,000 events).
//! The receiver is served by the benchmark itself on loopback: it checks every signature with
//! the sink's secret and that events arrive contiguous and in order, so a fast but wrong
//! delivery fails the run instead of scoring.
//!
//! Then the same backlog drains to CloudWatch Logs as emulated by `moto_server` (PyPI
//! `moto[server]`, from `scripts/install-test-tools.sh`) with SigV4 and IAM enforced, and is read
//! back with GetLogEvents to check every event arrived in order.

// Benchmark code: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use statuspulse_server::audit::sinks::webhook;
use statuspulse_server::audit::{Actor, EventType, NewEvent};
use statuspulse_server::platform::config::MasterKeySource;
use statuspulse_server::{Application, Settings};

/// moto_server with IAM enforced after its setup (shared with the CloudWatch client's tests).
#[path = "../../aws/tests/support/mod.rs"]
mod moto;

enum Destination<'a> {
    Webhook,
    CloudWatch(&'a moto::Moto),
}

const MASTER_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let events = if quick { 10_000 } else { 100_000 };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            for backend in ["sqlite", "postgres"] {
                drain(backend, events, Destination::Webhook).await;
            }
            let aws = moto::Moto::start().await;
            for backend in ["sqlite", "postgres"] {
                drain(backend, events, Destination::CloudWatch(&aws)).await;
            }
        });
}

/// What the receiver saw: the next expected `seq` and how many batches.
#[derive(Default)]
struct Seen {
    next_seq: i64,
    events: u64,
    batches: u64,
    key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

#[allow(clippy::unused_async)] // an axum handler: it must be a future
async fn receive(seen: Arc<Mutex<Seen>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    let mut seen = seen.lock().unwrap();
    let key = seen.key.clone().expect("the receiver knows the secret");
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    let expected = webhook::signature(&[key], &id, timestamp, &body);
    assert_eq!(
        header("webhook-signature"),
        expected,
        "a delivery's signature does not verify"
    );
    let payload: Value = serde_json::from_slice(&body).unwrap();
    let data = &payload["data"];
    if data["from_seq"].as_i64().unwrap() > seen.next_seq {
        panic!(
            "a gap: expected seq {}, got a batch from {}",
            seen.next_seq, data["from_seq"]
        );
    }
    for event in data["events"].as_array().unwrap() {
        let seq = event["seq"].as_i64().unwrap();
        if seq == seen.next_seq {
            seen.next_seq += 1;
            seen.events += 1;
        }
    }
    seen.batches += 1;
    StatusCode::NO_CONTENT
}

async fn drain(backend: &str, n: usize, destination: Destination<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let (url, cleanup) = match backend {
        "sqlite" => (
            format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
            None,
        ),
        _ => {
            let name = format!("statuspulse_drain_{}", std::process::id());
            let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
                .await
                .unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&admin)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            (
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                Some((admin, name)),
            )
        }
    };
    let mut settings = Settings::for_database(&url);
    settings.listen = "127.0.0.1:0".into();
    settings.master_key = MasterKeySource::Value(MASTER_KEY.parse().unwrap());
    settings.sink_addresses.loopback = true;
    let app = Application::build(settings).await.unwrap();
    let state = app.state();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let (workspace, admin) = statuspulse_server::management::workspaces::provision(
        &state,
        "bench",
        "standard",
        true,
        Actor::System,
    )
    .await
    .unwrap();
    let admin = admin.key.expose().to_owned();

    // The receiver.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let receiver_state = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            receive(receiver_state.clone(), headers, body)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // A paused sink, the backlog, then the clock starts when it is enabled.
    let http = reqwest::Client::new();
    let stream = format!("drain-{backend}");
    let sink = match destination {
        Destination::Webhook => {
            json!({"name": "bench", "enabled": false, "webhook": {"url": hook}})
        }
        Destination::CloudWatch(aws) => json!({"name": "bench", "enabled": false, "cloudwatch": {
            "region": moto::REGION, "log_group": moto::LOG_GROUP, "log_stream": stream,
            "access_key_id": aws.writer.access_key_id, "secret_access_key": aws.writer.secret_access_key,
            "endpoint_override": aws.endpoint}}),
    };
    let created: Value = http
        .post(format!("http://{addr}/v1/audit-sinks"))
        .bearer_auth(&admin)
        .json(&sink)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let first_seq = created["delivered_seq"].as_i64().unwrap() + 1;
    if let Some(secret) = created["webhook_secret"].as_str() {
        let mut seen = seen.lock().unwrap();
        seen.key = webhook::signing_key(secret.as_bytes());
        seen.next_seq = first_seq;
    }
    let recorded = Instant::now();
    for chunk in 0..n.div_ceil(10_000) {
        let mut tx = state.db.begin_write().await.unwrap();
        for i in 0..10_000.min(n - chunk * 10_000) {
            let event = NewEvent::success(&workspace.id, EventType::AuthFailed, Actor::Anonymous)
                .target("api_key", format!("key_{i}"))
                .details(json!({"reason": "wrong_secret", "source_ip": "203.0.113.7", "count": i}));
            statuspulse_server::audit::append(&mut tx.tx, &state.clock, &event)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let recording = recorded.elapsed();
    let started = Instant::now();
    let answer = http
        .patch(format!("http://{addr}/v1/audit-sinks/{id}"))
        .bearer_auth(&admin)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    // The backlog, the sink's own created and updated events.
    let head = first_seq - 1 + i64::try_from(n).unwrap() + 2;
    loop {
        let delivered: i64 =
            sqlx::query_scalar("SELECT delivered_seq FROM audit_sinks WHERE id = $1")
                .bind(&id)
                .fetch_one(state.db.pool())
                .await
                .unwrap();
        if delivered >= head {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the drain took over 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let (what, events, batches) = match destination {
        Destination::Webhook => {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.next_seq, head + 1, "every event arrived, in order");
            ("a loopback webhook", seen.events, seen.batches)
        }
        Destination::CloudWatch(aws) => {
            let stored = aws.writer_client(&stream).get_log_events().await.unwrap();
            let seqs: Vec<i64> = stored
                .iter()
                .map(|e| {
                    serde_json::from_str::<Value>(&e.message).unwrap()["seq"]
                        .as_i64()
                        .unwrap()
                })
                .collect();
            assert_eq!(
                seqs,
                (first_seq..=head).collect::<Vec<_>>(),
                "every event stored, in order"
            );
            (
                "moto CloudWatch Logs (SigV4 and IAM checked)",
                u64::try_from(seqs.len()).unwrap(),
                0,
            )
        }
    };
    println!(
        "{backend}: {events} events drained to {what} in {:.2} s = {:.0} events/s \
         ({batches} webhook batches; recording them took {:.2} s = {:.0} appends/s)",
        took.as_secs_f64(),
        events as f64 / took.as_secs_f64(),
        recording.as_secs_f64(),
        n as f64 / recording.as_secs_f64(),
    );
    let _ = stop.send(());
    let _ = server.await;
    if let Some((admin, name)) = cleanup {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
}
