//! Audit sinks: every event reaches a SIEM's webhook at least once, in chain order, signed per
//! Standard Webhooks (checked by the reference library), through outages, throttling, secret
//! rotation, replays, a second replica and a kill -9.

use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use statuspulse_server::audit::{Actor, EventType, NewEvent};
use statuspulse_server::platform::config::MasterKeySource;

use statuspulse_server::audit::sinks::webhook;

use crate::helpers::{Backend, Options, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    a_webhook_sink_delivers_every_event_in_order_signed_per_standard_webhooks,
    a_sink_down_for_an_hour_loses_nothing_and_delivers_in_order_when_back,
    a_throttled_sink_waits_as_long_as_retry_after_says,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    replay_sends_again_from_a_position_with_new_message_ids,
    a_filtered_sink_receives_only_its_event_types_and_the_positions_it_covers,
    bad_sink_definitions_are_refused_with_the_field_and_change_nothing,
    another_workspace_cannot_see_change_or_replay_a_sink,
    sink_secrets_never_appear_in_answers_audit_events_or_logs,
    two_replicas_deliver_each_batch_once_and_one_takes_over_when_the_other_stops
);

const MASTER_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

pub(crate) fn with_sinks(s: &mut statuspulse_server::Settings) {
    s.master_key = MasterKeySource::Value(MASTER_KEY.parse().unwrap());
    s.sink_addresses.loopback = true;
}

async fn spawn(backend: Backend) -> (TestApp, TestDb) {
    TestApp::spawn_with(
        backend,
        Options {
            tweak: with_sinks,
            ..Options::default()
        },
    )
    .await
}

/// The SIEM's endpoint: `server/tests/support/webhook/receiver.py` on the tools venv's Python.
pub struct Receiver {
    child: tokio::process::Child,
    pub port: u16,
    http: reqwest::Client,
}

impl Receiver {
    pub async fn start(port: u16) -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support/webhook/receiver.py");
        let mut child =
            tokio::process::Command::new(crate::idp::tools_dir().join("venv/bin/python"))
                .arg(&script)
                .arg(port.to_string())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("the tools venv with standardwebhooks: run scripts/install-test-tools.sh");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the receiver starts")
            .unwrap()
            .expect("the receiver prints its port (is standardwebhooks installed?)")
            .trim()
            .parse()
            .unwrap();
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/siem/audit", self.port)
    }

    pub async fn control(&self, config: Value) {
        let answer = self
            .http
            .post(format!("http://127.0.0.1:{}/_control", self.port))
            .json(&config)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    pub async fn received(&self) -> Value {
        self.http
            .get(format!("http://127.0.0.1:{}/_received", self.port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every event of every verified delivery, in arrival order.
    pub async fn events(&self) -> Vec<Value> {
        let received = self.received().await;
        received["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["payload"]["data"]["events"].as_array().unwrap().clone())
            .collect()
    }

    /// Whether the reference library accepts `body` with `headers`.
    pub async fn verifies(&self, body: &str, headers: &Value) -> Value {
        self.http
            .post(format!("http://127.0.0.1:{}/_verify", self.port))
            .json(&json!({"body": body, "headers": headers}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits (real time, at most 60 s) until `check` holds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_sink(app: &TestApp, key: &str, body: Value) -> Value {
    let answer = app.post("/v1/audit-sinks", key, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

async fn sink(app: &TestApp, key: &str, id: &str) -> Value {
    let answer = app.get(&format!("/v1/audit-sinks/{id}"), key).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// `n` audit events in the operator workspace, appended directly (fast, any number).
pub(crate) async fn append_events(app: &TestApp, n: usize) {
    let mut tx = app.state.db.begin_write().await.unwrap();
    for i in 0..n {
        let event = NewEvent::success(
            &app.workspace_id,
            EventType::ServiceAccountUpdated,
            Actor::System,
        )
        .target("service_account", format!("sa_{i}"))
        .details(json!({"i": i}));
        statuspulse_server::audit::append(&mut tx.tx, &app.state.clock, &event)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

pub(crate) async fn head(app: &TestApp) -> i64 {
    app.flush_audit().await;
    sqlx::query_scalar("SELECT seq FROM audit_chain_heads WHERE workspace_id = $1")
        .bind(&app.workspace_id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

/// The delivered events are the chain from `from` to `to`, each once at least, in order, each
/// linked to the one before.
fn assert_chain_delivered(events: &[Value], from: i64, to: i64) {
    let mut expected = from;
    let mut last_hash: Option<String> = None;
    for event in events {
        let seq = event["seq"].as_i64().unwrap();
        if seq < expected {
            // A batch sent again after a failure: at least once, never out of order inside.
            continue;
        }
        assert_eq!(seq, expected, "an event is missing or out of order");
        if let Some(prev) = &last_hash {
            assert_eq!(
                event["prev_hash"].as_str().unwrap(),
                prev,
                "broken link at {seq}"
            );
        }
        last_hash = Some(event["hash"].as_str().unwrap().to_owned());
        expected += 1;
    }
    assert!(
        expected > to,
        "events up to {to} arrived (got up to {})",
        expected - 1
    );
}

async fn webhook_sink(app: &TestApp, receiver: &Receiver, extra: Value) -> (String, String) {
    let mut body = json!({"name": "siem", "webhook": {"url": receiver.url()}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let created = create_sink(app, &app.admin_key, body).await;
    let secret = created["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    receiver
        .control(json!({"secret": secret, "mode": "ok"}))
        .await;
    (created["id"].as_str().unwrap().to_owned(), secret)
}

async fn a_webhook_sink_delivers_every_event_in_order_signed_per_standard_webhooks(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let (id, secret) = webhook_sink(&app, &receiver, json!({})).await;
    let start = sink(&app, &app.admin_key, &id).await["delivered_seq"]
        .as_i64()
        .unwrap();
    // Real changes through the API, then more than a page of events.
    for i in 0..5 {
        let answer = app
            .post(
                "/v1/service-accounts",
                &app.admin_key,
                json!({"name": format!("ci-{i}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    append_events(&app, 1_200).await;
    let head = head(&app).await;
    eventually("every event is delivered", || async {
        sink(&app, &app.admin_key, &id).await["lag"] == 0
    })
    .await;
    let received = receiver.received().await;
    assert_eq!(received["rejected"], json!([]), "every delivery verifies");
    let events = receiver.events().await;
    assert_chain_delivered(&events, start + 1, head);
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(types.contains(&"service_account.created"));
    // Batches: signed, ids unique per batch, bodies carry the positions they cover.
    let deliveries = received["deliveries"].as_array().unwrap();
    assert!(deliveries.len() >= 3, "1,200 events need several batches");
    for d in deliveries {
        assert!(d["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,"));
        assert_eq!(d["payload"]["type"], "audit.events");
        assert_eq!(d["payload"]["data"]["sink_id"], id.as_str());
        assert!(
            d["payload"]["data"]["from_seq"].as_i64() <= d["payload"]["data"]["to_seq"].as_i64()
        );
    }
    let state = sink(&app, &app.admin_key, &id).await;
    assert_eq!(state["delivered_seq"], head);
    assert_eq!(state["head_seq"], head);
    assert_eq!(state["status"], "active");
    assert!(state["last_success_at"].is_string());
    assert!(state["last_error"].is_null());
    // Metrics: delivered events and lag per sink.
    statuspulse_server::audit::sinks::delivery::refresh_metrics(&app.state)
        .await
        .unwrap();
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(&format!(
            "statuspulse_audit_sink_lag_events{{sink_id=\"{id}\"}} 0"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "statuspulse_audit_sink_delivered_events_total{{sink_id=\"{id}\"}}"
    )));

    // The reference library refuses a tampered body and a stale timestamp.
    let first = &deliveries[0];
    let body = first["body"].as_str().unwrap();
    let headers = &first["headers"];
    assert_eq!(receiver.verifies(body, headers).await["ok"], true);
    let tampered = body.replacen("service_account", "servise_account", 1);
    assert_eq!(receiver.verifies(&tampered, headers).await["ok"], false);
    // Correctly signed, but five minutes old and more: refused for its age.
    let stale = time_now() - 600;
    let msg_id = headers["webhook-id"].as_str().unwrap();
    let key = webhook::signing_key(secret.as_bytes()).unwrap();
    let old = json!({
        "webhook-id": msg_id,
        "webhook-timestamp": stale.to_string(),
        "webhook-signature": webhook::signature(&[key], msg_id, stale, body.as_bytes()),
    });
    let verdict = receiver.verifies(body, &old).await;
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert!(
        verdict["error"].as_str().unwrap().contains("too old"),
        "{verdict}"
    );
    receiver.kill().await;
}

fn time_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

/// Moves the server's clock past any backoff (at most 5 minutes) and waits for the next attempt.
fn past_backoff(app: &TestApp) {
    app.clock.advance(Duration::from_secs(301));
}

async fn attempts(receiver: &Receiver) -> i64 {
    receiver.received().await["attempts"].as_i64().unwrap()
}

async fn a_sink_down_for_an_hour_loses_nothing_and_delivers_in_order_when_back(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let port = receiver.port;
    let (id, secret) = webhook_sink(&app, &receiver, json!({})).await;
    let start = sink(&app, &app.admin_key, &id).await["delivered_seq"]
        .as_i64()
        .unwrap();

    // Answering 500.
    receiver.control(json!({"mode": "fail"})).await;
    append_events(&app, 40).await;
    eventually("a failed attempt is recorded", || async {
        sink(&app, &app.admin_key, &id).await["last_error"].is_string()
    })
    .await;
    let state = sink(&app, &app.admin_key, &id).await;
    assert!(
        state["last_error"].as_str().unwrap().contains("500"),
        "{state}"
    );
    assert!(state["lag"].as_i64().unwrap() >= 40);
    assert_eq!(state["status"], "active", "not failing after one attempt");
    assert!(state["next_attempt_at"].is_string());
    for _ in 0..3 {
        let before = attempts(&receiver).await;
        past_backoff(&app);
        append_events(&app, 10).await;
        eventually("the sink is retried", || async {
            attempts(&receiver).await > before
        })
        .await;
    }

    // Hanging: the attempt times out, and the sink is retried later.
    receiver.control(json!({"mode": "hang"})).await;
    let before = attempts(&receiver).await;
    past_backoff(&app);
    eventually("the hanging attempt times out", || async {
        attempts(&receiver).await > before
            && sink(&app, &app.admin_key, &id).await["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("did not answer"))
    })
    .await;

    // Refusing connections: the receiver is gone, for the rest of an hour.
    receiver.kill().await;
    for _ in 0..10 {
        past_backoff(&app);
        append_events(&app, 5).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    eventually("the sink is marked failing", || async {
        sink(&app, &app.admin_key, &id).await["status"] == "failing"
    })
    .await;
    let state = sink(&app, &app.admin_key, &id).await;
    assert!(state["failing_since"].is_string());
    assert!(
        state["last_error"].as_str().unwrap().contains("refused"),
        "{state}"
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "audit_sink.failing")
            .await,
        1,
        "once per run of failures"
    );
    statuspulse_server::audit::sinks::delivery::refresh_metrics(&app.state)
        .await
        .unwrap();
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(&format!(
            "statuspulse_audit_sink_failing{{sink_id=\"{id}\"}} 1"
        )),
        "{metrics}"
    );

    // Back, on the same address: everything arrives, in order, and the sink recovers.
    let receiver = Receiver::start(port).await;
    receiver
        .control(json!({"secret": secret, "mode": "ok"}))
        .await;
    past_backoff(&app);
    let head = head(&app).await;
    eventually("the backlog drains", || async {
        sink(&app, &app.admin_key, &id).await["delivered_seq"]
            .as_i64()
            .unwrap()
            >= head
    })
    .await;
    let events = receiver.events().await;
    assert_chain_delivered(&events, start + 1, head);
    let state = sink(&app, &app.admin_key, &id).await;
    assert_eq!(state["status"], "active");
    assert!(state["last_error"].is_null());
    assert_eq!(
        app.audit_count(&app.workspace_id, "audit_sink.recovered")
            .await,
        1
    );
    // The failing and recovered events are themselves delivered.
    let new_head = self::head(&app).await;
    eventually("the sink's own events arrive", || async {
        sink(&app, &app.admin_key, &id).await["delivered_seq"] == new_head
    })
    .await;
    let types: Vec<String> = receiver
        .events()
        .await
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.iter().any(|t| t == "audit_sink.failing"));
    receiver.kill().await;
}

async fn a_throttled_sink_waits_as_long_as_retry_after_says(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let (id, _) = webhook_sink(&app, &receiver, json!({})).await;
    receiver
        .control(json!({"mode": "throttle", "retry_after": "1200"}))
        .await;
    append_events(&app, 3).await;
    eventually("the throttled attempt is recorded", || async {
        sink(&app, &app.admin_key, &id).await["last_error"].is_string()
    })
    .await;
    let state = sink(&app, &app.admin_key, &id).await;
    assert!(state["last_error"].as_str().unwrap().contains("429"));
    let at = |field: &str| {
        time::OffsetDateTime::parse(
            state[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let wait = at("next_attempt_at") - at("last_error_at");
    assert_eq!(
        wait.whole_seconds(),
        1200,
        "Retry-After is honoured, not the 1 s backoff"
    );
    // Not retried before then, even past the usual backoff.
    receiver.control(json!({"mode": "ok"})).await;
    let before = attempts(&receiver).await;
    app.clock.advance(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(attempts(&receiver).await, before);
    app.clock.advance(Duration::from_secs(601));
    eventually("delivered after Retry-After", || async {
        sink(&app, &app.admin_key, &id).await["lag"] == 0
    })
    .await;
    receiver.kill().await;
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let (id, old_secret) = webhook_sink(&app, &receiver, json!({})).await;
    let new_secret = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
    let answer = app
        .call(
            Method::PATCH,
            &format!("/v1/audit-sinks/{id}"),
            Some(&app.admin_key),
            Some(json!({"webhook": {"url": receiver.url(), "secret": new_secret}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body["webhook"]["previous_secret_valid_until"].is_string());
    assert!(
        !answer.body.to_string().contains("whsec_"),
        "no secret in the answer"
    );
    // A receiver still on the old secret accepts; one on the new secret accepts too.
    for secret in [&old_secret, new_secret] {
        receiver.control(json!({"secret": secret})).await;
        let before = receiver.received().await["deliveries"]
            .as_array()
            .unwrap()
            .len();
        append_events(&app, 1).await;
        eventually("a delivery verifies", || async {
            receiver.received().await["deliveries"]
                .as_array()
                .unwrap()
                .len()
                > before
        })
        .await;
        let last = receiver.received().await["deliveries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["headers"]["webhook-signature"]
                .as_str()
                .unwrap()
                .split(' ')
                .count(),
            2
        );
    }
    // A day later only the new secret signs.
    app.clock.advance(Duration::from_secs(24 * 3600 + 60));
    receiver.control(json!({"secret": old_secret})).await;
    append_events(&app, 1).await;
    eventually("the old secret no longer verifies", || async {
        !receiver.received().await["rejected"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    receiver.control(json!({"secret": new_secret})).await;
    past_backoff(&app);
    eventually("delivered with the new secret", || async {
        sink(&app, &app.admin_key, &id).await["lag"] == 0
    })
    .await;
    let last = receiver.received().await["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    receiver.kill().await;
}

async fn replay_sends_again_from_a_position_with_new_message_ids(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let (id, _) = webhook_sink(&app, &receiver, json!({})).await;
    append_events(&app, 20).await;
    eventually("delivered", || async {
        sink(&app, &app.admin_key, &id).await["lag"] == 0
    })
    .await;
    let first_ids: Vec<String> = receiver.received().await["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["headers"]["webhook-id"].as_str().unwrap().to_owned())
        .collect();
    let answer = app
        .post(
            &format!("/v1/audit-sinks/{id}/replay"),
            &app.admin_key,
            json!({"from_seq": 1}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["delivered_seq"], 0);
    let head = head(&app).await;
    eventually("the whole chain is sent again", || async {
        sink(&app, &app.admin_key, &id).await["delivered_seq"]
            .as_i64()
            .unwrap()
            >= head
    })
    .await;
    let received = receiver.received().await;
    let replayed: Vec<&Value> = received["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !first_ids.contains(&d["headers"]["webhook-id"].as_str().unwrap().to_owned()))
        .collect();
    assert!(!replayed.is_empty());
    let events: Vec<Value> = replayed
        .iter()
        .flat_map(|d| d["payload"]["data"]["events"].as_array().unwrap().clone())
        .collect();
    assert_chain_delivered(&events, 1, head);
    assert_eq!(
        app.audit_count(&app.workspace_id, "audit_sink.replayed")
            .await,
        1
    );
    // Out of range.
    for bad in [
        json!({"from_seq": 0}),
        json!({"from_seq": head + 100}),
        json!({"from_seq": "1"}),
        json!({}),
    ] {
        let answer = app
            .post(
                &format!("/v1/audit-sinks/{id}/replay"),
                &app.admin_key,
                bad.clone(),
            )
            .await;
        assert!(answer.status.is_client_error(), "{bad}: {}", answer.status);
    }
    receiver.kill().await;
}

async fn a_filtered_sink_receives_only_its_event_types_and_the_positions_it_covers(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    let (id, _) = webhook_sink(
        &app,
        &receiver,
        json!({"event_types": ["api_key.*", "auth.failed"]}),
    )
    .await;
    append_events(&app, 30).await;
    app.create_key(
        &app.admin_key,
        json!({"name": "gw", "environment": "live", "scopes": ["read:checks"]}),
    )
    .await;
    assert_eq!(app.verify("sp_live_nope").await, StatusCode::UNAUTHORIZED);
    app.flush_audit().await;
    let head = head(&app).await;
    eventually("the filter has passed over everything", || async {
        sink(&app, &app.admin_key, &id).await["delivered_seq"] == head
    })
    .await;
    let events = receiver.events().await;
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| {
            let t = e["event_type"].as_str().unwrap();
            t.starts_with("api_key.") || t == "auth.failed"
        }),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["event_type"] == "api_key.created"));
    receiver.kill().await;
}

async fn bad_sink_definitions_are_refused_with_the_field_and_change_nothing(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let before = app.database_snapshot().await;
    let cases = [
        (json!({"name": "s"}), "webhook", "destination_required"),
        (
            json!({"name": "s", "webhook": {"url": "https://siem.example.com/"}, "cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s"}}),
            "cloudwatch",
            "one_destination",
        ),
        (
            json!({"name": "s", "webhook": {"url": "ftp://siem.example.com/"}}),
            "webhook.url",
            "invalid_url",
        ),
        (
            json!({"name": "s", "webhook": {"url": "http://siem.example.com/"}}),
            "webhook.url",
            "invalid_url",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://user:pw@siem.example.com/"}}),
            "webhook.url",
            "invalid_url",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://10.0.0.8/hook"}}),
            "webhook.url",
            "sink_url_refused",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://169.254.169.254/latest/meta-data/"}}),
            "webhook.url",
            "sink_url_refused",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://[fd00::1]/hook"}}),
            "webhook.url",
            "sink_url_refused",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://siem.example.com/", "secret": "hunter2"}}),
            "webhook.secret",
            "invalid_secret",
        ),
        (
            json!({"name": "s", "webhook": {"url": "https://siem.example.com/", "secret": "whsec_c2hvcnQ="}}),
            "webhook.secret",
            "invalid_secret",
        ),
        (
            json!({"name": "s", "event_types": [], "webhook": {"url": "https://siem.example.com/"}}),
            "event_types",
            "invalid_event_types",
        ),
        (
            json!({"name": "s", "event_types": ["auth.*", "nope.*"], "webhook": {"url": "https://siem.example.com/"}}),
            "event_types",
            "unknown_event_type",
        ),
        (
            json!({"name": "s", "event_types": ["AUTH"], "webhook": {"url": "https://siem.example.com/"}}),
            "event_types",
            "invalid_event_type",
        ),
        (
            json!({"name": "", "webhook": {"url": "https://siem.example.com/"}}),
            "name",
            "invalid_name",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "mars", "log_group": "g", "log_stream": "s"}}),
            "cloudwatch.region",
            "invalid_region",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "eu-west-1", "log_group": "g:x", "log_stream": "s"}}),
            "cloudwatch.log_group",
            "invalid_log_name",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s", "secret_access_key": "abcdefghijklmnopqrstuvwxyz"}}),
            "cloudwatch.access_key_id",
            "credentials_incomplete",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s", "role_arn": "arn:aws:iam::12:role/x"}}),
            "cloudwatch.role_arn",
            "invalid_role_arn",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s", "endpoint_override": "https://192.168.1.1"}}),
            "cloudwatch.endpoint_override",
            "sink_url_refused",
        ),
    ];
    let more = [
        (
            json!({"name": "s", "event_types": ["auth.*", "auth.*"], "webhook": {"url": "https://siem.example.com/"}}),
            "event_types",
            "duplicate_event_type",
        ),
        (
            json!({"name": "s", "cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}}),
            "cloudwatch.secret_access_key",
            "credentials_incomplete",
        ),
    ];
    for (body, field, code) in cases.into_iter().chain(more) {
        let answer = app
            .post("/v1/audit-sinks", &app.admin_key, body.clone())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.code(), code, "{body}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{body}: {}", answer.body);
    }
    for body in [
        json!({"name": "s", "webhook": {"url": "https://siem.example.com/", "extra": 1}}),
        json!([1]),
        json!({"name": 5}),
    ] {
        let answer = app
            .post("/v1/audit-sinks", &app.admin_key, body.clone())
            .await;
        assert!(answer.status.is_client_error(), "{body}");
    }
    assert_eq!(
        app.database_snapshot().await,
        before,
        "refusals change nothing"
    );

    // Limits and conflicts.
    let ok = json!({"name": "a", "webhook": {"url": "https://siem.example.com/hook"}});
    let created = create_sink(&app, &app.admin_key, ok.clone()).await;
    let answer = app.post("/v1/audit-sinks", &app.admin_key, ok).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    for i in 1..10 {
        create_sink(
            &app,
            &app.admin_key,
            json!({"name": format!("s{i}"), "webhook": {"url": "https://siem.example.com/hook"}}),
        )
        .await;
    }
    let answer = app
        .post(
            "/v1/audit-sinks",
            &app.admin_key,
            json!({"name": "eleventh", "webhook": {"url": "https://siem.example.com/hook"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.code(), "sink_limit_reached");
    let id = created["id"].as_str().unwrap();
    let answer = app
        .call(
            Method::PATCH,
            &format!("/v1/audit-sinks/{id}"),
            Some(&app.admin_key),
            Some(
                json!({"cloudwatch": {"region": "eu-west-1", "log_group": "g", "log_stream": "s"}}),
            ),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.code(), "kind_immutable");
    // A key without admin:audit.
    let key = app
        .create_key(
            &app.admin_key,
            json!({"name": "reader", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let answer = app
        .get("/v1/audit-sinks", key["key"].as_str().unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

async fn another_workspace_cannot_see_change_or_replay_a_sink(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let created = create_sink(
        &app,
        &app.admin_key,
        // Paused, so no delivery attempt changes its state while snapshots are compared.
        json!({"name": "mine", "enabled": false, "webhook": {"url": "https://siem.example.com/hook"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (_, other) = app.new_workspace("tenant").await;
    let before = app.database_snapshot().await;
    let path = format!("/v1/audit-sinks/{id}");
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"enabled": false}))),
        (Method::DELETE, path.clone(), None),
        (
            Method::POST,
            format!("{path}/replay"),
            Some(json!({"from_seq": 1})),
        ),
    ] {
        let answer = app.call(method.clone(), &path, Some(&other), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let listed = app.get("/v1/audit-sinks", &other).await;
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(app.database_snapshot().await, before);
}

async fn sink_secrets_never_appear_in_answers_audit_events_or_logs(backend: Backend) {
    let (app, db) = spawn(backend).await;
    let webhook_secret = "whsec_U2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0";
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    let a = create_sink(&app, &app.admin_key, json!({"name": "wh", "webhook": {"url": "https://siem.example.com/hook", "secret": webhook_secret}})).await;
    assert!(
        a.get("webhook_secret").is_none(),
        "a given secret is not echoed"
    );
    let b = create_sink(
        &app,
        &app.admin_key,
        json!({"name": "cw", "cloudwatch": {
        "region": "eu-west-1", "log_group": "audit", "log_stream": "statuspulse",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": aws_secret}}),
    )
    .await;
    assert_eq!(b["cloudwatch"]["secret_access_key_set"], true);
    let id = b["id"].as_str().unwrap();
    let patched = app.call(Method::PATCH, &format!("/v1/audit-sinks/{id}"), Some(&app.admin_key),
        Some(json!({"cloudwatch": {"region": "eu-west-1", "log_group": "audit", "log_stream": "other", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body["cloudwatch"]["secret_access_key_set"], true,
        "kept with the same key id"
    );
    let listed = app.get("/v1/audit-sinks", &app.admin_key).await;
    let events = app.get("/v1/audit-events?limit=200", &app.admin_key).await;
    let snapshot = format!("{:?}", app.database_snapshot().await);
    for secret in [webhook_secret, aws_secret, "U2VjcmV0U2VjcmV0"] {
        for (what, text) in [
            ("list", listed.body.to_string()),
            ("audit", events.body.to_string()),
            ("logs", crate::helpers::captured_logs()),
            ("database", snapshot.clone()),
        ] {
            assert!(!text.contains(secret), "{what} holds a secret");
        }
    }
    if backend == Backend::Sqlite {
        for file in db.sqlite_files() {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                memchr::memmem::find(&bytes, aws_secret.as_bytes()).is_none(),
                "{file:?}"
            );
        }
    }
}

async fn two_replicas_deliver_each_batch_once_and_one_takes_over_when_the_other_stops(
    backend: Backend,
) {
    let (a, db) = spawn(backend).await;
    let mut b = TestApp::start(
        &db.url,
        Options {
            tweak: with_sinks,
            ..Options::default()
        },
    )
    .await;
    b.admin_key.clone_from(&a.admin_key);
    b.workspace_id.clone_from(&a.workspace_id);
    let receiver = Receiver::start(0).await;
    let (id, _) = webhook_sink(&a, &receiver, json!({})).await;
    for _ in 0..5 {
        append_events(&a, 50).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eventually("delivered", || async {
        sink(&a, &a.admin_key, &id).await["lag"] == 0
    })
    .await;
    let received = receiver.received().await;
    let ids: Vec<&str> = received["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["headers"]["webhook-id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "no batch was sent by both replicas"
    );
    let holder: String = sqlx::query_scalar("SELECT holder FROM job_leases WHERE job = $1")
        .bind(format!("audit_sink:{id}"))
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    let (survivor, stopped) = if holder == a.state.replica_id {
        (b, a)
    } else {
        (a, b)
    };
    stopped.stop().await;
    append_events(&survivor, 25).await;
    // The lease runs out (30 s) on the survivor's clock, and it takes over.
    survivor.clock.advance(Duration::from_secs(31));
    eventually("the other replica takes over", || async {
        sink(&survivor, &survivor.admin_key, &id).await["lag"] == 0
    })
    .await;
    let holder: String = sqlx::query_scalar("SELECT holder FROM job_leases WHERE job = $1")
        .bind(format!("audit_sink:{id}"))
        .fetch_one(survivor.state.db.pool())
        .await
        .unwrap();
    assert_eq!(holder, survivor.state.replica_id);
    let head = head(&survivor).await;
    let events = receiver.events().await;
    assert_chain_delivered(&events, events[0]["seq"].as_i64().unwrap(), head);
    receiver.kill().await;
}

on_both_backends!(a_server_killed_mid_batch_delivers_everything_after_restart);

/// The real binary, as an operator runs it, on `database_url` and `port`.
fn serve(database_url: &str, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"))
        .args([
            "serve",
            "--database-url",
            database_url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("STATUSPULSE_MASTER_KEY", MASTER_KEY)
        .env("STATUSPULSE_ALLOW_LOOPBACK_SINKS", "true")
        .env_remove("STATUSPULSE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn a_server_killed_mid_batch_delivers_everything_after_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut settings = statuspulse_server::Settings::for_database(&db.url);
    with_sinks(&mut settings);
    let (workspace, key) = statuspulse_server::app::bootstrap(settings, "operator")
        .await
        .unwrap();
    let admin = key.key.expose().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get_sink = |id: String| {
        let (http, base, admin) = (http.clone(), base.clone(), admin.clone());
        async move {
            let answer = http
                .get(format!("{base}/v1/audit-sinks/{id}"))
                .bearer_auth(&admin)
                .send()
                .await;
            match answer {
                Ok(a) if a.status().is_success() => a.json::<Value>().await.ok(),
                _ => None,
            }
        }
    };
    let mut server = serve(&db.url, port);
    eventually("the server answers", || async {
        http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;

    let receiver = Receiver::start(0).await;
    let created: Value = http
        .post(format!("{base}/v1/audit-sinks"))
        .bearer_auth(&admin)
        .json(&json!({"name": "siem", "webhook": {"url": receiver.url()}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let start = created["delivered_seq"].as_i64().unwrap();
    receiver
        .control(json!({"secret": created["webhook_secret"], "mode": "hang"}))
        .await;
    for i in 0..30 {
        let answer = http
            .post(format!("{base}/v1/service-accounts"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("svc-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    eventually("a batch is in flight", || async {
        attempts(&receiver).await >= 1
    })
    .await;
    server.kill().unwrap(); // SIGKILL: no drain, no flush
    server.wait().unwrap();

    receiver.control(json!({"mode": "ok"})).await;
    let mut server = serve(&db.url, port);
    let head =
        sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_chain_heads WHERE workspace_id = $1");
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let head: i64 = head.bind(&workspace.id).fetch_one(&pool).await.unwrap();
    eventually(
        "everything recorded before the kill is delivered",
        || async {
            get_sink(id.clone())
                .await
                .is_some_and(|s| s["delivered_seq"].as_i64().unwrap() >= head)
        },
    )
    .await;
    assert_chain_delivered(&receiver.events().await, start + 1, head);
    server.kill().unwrap();
    server.wait().unwrap();
    pool.close().await;
    receiver.kill().await;
}

/// moto_server with IAM enforced after its setup, shared with the CloudWatch client's own tests.
#[path = "../../../aws/tests/support/mod.rs"]
mod moto;

on_both_backends!(a_cloudwatch_sink_writes_every_event_in_order_as_a_signed_iam_checked_client);

async fn a_cloudwatch_sink_writes_every_event_in_order_as_a_signed_iam_checked_client(
    backend: Backend,
) {
    let (app, _db) = spawn(backend).await;
    let aws = moto::Moto::start().await;
    let cloudwatch = |stream: &str, key: &moto::Key, role: Option<&str>| {
        let mut block = json!({
            "region": moto::REGION, "log_group": moto::LOG_GROUP, "log_stream": stream,
            "access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key,
            "endpoint_override": aws.endpoint,
        });
        if let Some(role) = role {
            block["role_arn"] = json!(role);
            block["external_id"] = json!(moto::EXTERNAL_ID);
        }
        block
    };
    let direct = create_sink(
        &app,
        &app.admin_key,
        json!({"name": "cw", "cloudwatch": cloudwatch("direct", &aws.writer, None)}),
    )
    .await;
    let assumed = create_sink(&app, &app.admin_key, json!({"name": "cw-role", "cloudwatch": cloudwatch("assumed", &aws.assumer, Some(&aws.role_arn))})).await;
    let denied = create_sink(
        &app,
        &app.admin_key,
        json!({"name": "cw-nobody", "cloudwatch": cloudwatch("denied", &aws.nobody, None)}),
    )
    .await;
    let start = direct["delivered_seq"].as_i64().unwrap();
    append_events(&app, 1_500).await;
    let head = head(&app).await;
    for sink_id in [&direct["id"], &assumed["id"]] {
        let id = sink_id.as_str().unwrap();
        eventually("the sink catches up", || async {
            sink(&app, &app.admin_key, id).await["delivered_seq"]
                .as_i64()
                .unwrap()
                >= head
        })
        .await;
    }
    // Read back with GetLogEvents: every event, in chain order, as the API's event JSON.
    for stream in ["direct", "assumed"] {
        let reader = aws.writer_client(stream);
        let stored = reader.get_log_events().await.unwrap();
        let events: Vec<Value> = stored
            .iter()
            .map(|e| serde_json::from_str(&e.message).unwrap())
            .collect();
        let from = if stream == "direct" {
            start + 1
        } else {
            events[0]["seq"].as_i64().unwrap()
        };
        assert_chain_delivered(&events, from, head);
    }
    // Without permission: refused by IAM, retried, named in last_error, nothing skipped.
    let id = denied["id"].as_str().unwrap();
    eventually("the denial is recorded", || async {
        sink(&app, &app.admin_key, id).await["last_error"].is_string()
    })
    .await;
    let state = sink(&app, &app.admin_key, id).await;
    assert_eq!(state["delivered_seq"], denied["delivered_seq"], "{state}");
    let error = state["last_error"].as_str().unwrap();
    assert!(!error.contains(&aws.nobody.secret_access_key), "{error}");
    assert!(
        error.to_lowercase().contains("denied") || error.contains("not authorized"),
        "{error}"
    );
}

on_both_backends!(an_anomaly_alert_reaches_the_siem_like_any_event);

async fn an_anomaly_alert_reaches_the_siem_like_any_event(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let receiver = Receiver::start(0).await;
    webhook_sink(&app, &receiver, json!({"event_types": ["anomaly.*"]})).await;
    // A revoked key presented again: a strong sign of a leak.
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "leaky", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    app.post(
        "/v1/api-keys/revoke",
        &app.admin_key,
        json!({"id": created["id"]}),
    )
    .await;
    assert_eq!(
        app.verify(created["key"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    app.flush_audit().await;
    eventually("the alert reaches the SIEM", || async {
        receiver.events().await.iter().any(|e| {
            e["event_type"] == "anomaly.detected" && e["details"]["kind"] == "revoked_key_use"
        })
    })
    .await;
    let events = receiver.events().await;
    assert!(
        events.iter().all(|e| e["event_type"] == "anomaly.detected"),
        "{events:?}"
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(created["key"].as_str().unwrap()),
        "no secret in the alert"
    );
    receiver.kill().await;
}
