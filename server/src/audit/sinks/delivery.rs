//! The delivery engine: moves each sink's cursor along its workspace's chain.
//!
//! Every replica looks every [`DISPATCH_EVERY`] for sinks that are enabled, due (past their
//! backoff) and behind the chain's head, and drives each in its own task, under the sink's
//! lease (`job_leases`, [`LEASE`]): of replicas sharing a database exactly one delivers for a
//! sink at a time, and when it dies another takes over once the lease runs out. A driver
//! reads a page of events past the cursor, sends those the sink's filter passes, and moves
//! the cursor over the page only after the destination accepted it: at least once, in order.
//!
//! A failed attempt is retried after an exponential backoff with jitter (or the destination's
//! `Retry-After`), kept in the database so that every replica honours it. A sink that has
//! failed for [`FAILING_AFTER`] is marked `failing` (an audit event and a metric) and keeps
//! being retried: nothing is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;
use serde::Serialize;
use serde_json::json;

use super::{forwards, SinkRow, ACTIVE, COLUMNS, FAILING};
use crate::app::AppState;
use crate::audit::{self, Actor, EventType, NewEvent, StoredEvent};
use crate::platform::clock::rfc3339;
use crate::platform::db::stored_list;
use statuspulse_api::v1::AuditEvent;

/// How often each replica looks for sinks with events to deliver: the delivery latency.
pub const DISPATCH_EVERY: Duration = Duration::from_millis(500);
/// A sink's lease: how long after its holder dies another replica takes over.
pub const LEASE: Duration = Duration::from_secs(30);
/// Failing this long without a success marks a sink `failing`.
pub const FAILING_AFTER: Duration = Duration::from_secs(15 * 60);
/// First retry delay; it doubles per consecutive failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF_MS: i64 = 1_000;
/// Longest delay between attempts (without a longer `Retry-After`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Events read per page; a page is one delivery at most.
const PAGE_EVENTS: i64 = 500;
/// A webhook batch's events stop growing past this many bytes of JSON.
const MAX_BATCH_BYTES: usize = 512 * 1024;

/// A failed delivery attempt: why (never a secret), how long the destination asked us to wait,
/// and how many of the batch's leading events were stored before it failed.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub retry_after: Option<Duration>,
    pub delivered: usize,
}

impl Failure {
    /// A failure to retry after the usual backoff.
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
            delivered: 0,
        }
    }
}

/// This replica's delivery: the HTTP client sinks are called with, and the drivers running.
#[derive(Debug)]
pub struct Deliverer {
    /// Resolves names only to the addresses sinks may reach (`--allow-*-sinks`); `None` if it
    /// could not be built, and then nothing is delivered (never a client without the check).
    http: Option<reqwest::Client>,
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    pub(super) cloudwatch: super::cloudwatch::Clients,
}

impl Deliverer {
    pub fn new(settings: &crate::platform::config::Settings) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(super::webhook::TIMEOUT)
            .user_agent(concat!("StatusPulse-Auth/", env!("CARGO_PKG_VERSION")))
            // A proxy from the environment would resolve names itself, past the resolver.
            .no_proxy()
            .dns_resolver(Arc::new(crate::platform::egress::Resolver(
                settings.sink_addresses,
            )))
            .build()
            .ok();
        Self {
            http,
            running: Mutex::new(HashMap::new()),
            cloudwatch: super::cloudwatch::Clients::default(),
        }
    }

    /// The HTTP client for sinks.
    pub(super) fn http(&self) -> Result<&reqwest::Client, Failure> {
        self.http
            .as_ref()
            .ok_or_else(|| Failure::retry("the HTTP client for sinks is unavailable"))
    }

    /// Stops every driver (shutdown); their sinks resume from the stored cursor.
    pub fn stop(&self) {
        if let Ok(mut running) = self.running.lock() {
            for (_, task) in running.drain() {
                task.abort();
            }
        }
    }

    fn start(&self, state: &AppState, sink_id: String) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        running.retain(|_, task| !task.is_finished());
        if running.contains_key(&sink_id) {
            return;
        }
        let task = tokio::spawn(drive(state.clone(), sink_id.clone()));
        running.insert(sink_id, task.abort_handle());
    }
}

/// Starts a driver for every sink that has something to deliver now (the job of every replica).
pub async fn dispatch(state: &AppState) -> Result<(), sqlx::Error> {
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT s.id FROM audit_sinks s JOIN audit_chain_heads h ON h.workspace_id = s.workspace_id \
         WHERE s.enabled = 1 AND s.next_attempt_at <= $1 AND s.delivered_seq < h.seq",
    )
    .bind(state.clock.now_ms())
    .fetch_all(state.db.pool())
    .await?;
    for (id,) in due {
        state.sinks.start(state, id);
    }
    Ok(())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Delivers one sink's backlog while this replica holds its lease, until it is caught up or an
/// attempt fails.
async fn drive(state: AppState, sink_id: String) {
    let lease = format!("audit_sink:{sink_id}");
    loop {
        let now = state.clock.now_ms();
        match crate::platform::leases::try_lease(
            &state.db,
            &lease,
            &state.replica_id,
            now,
            ms(LEASE),
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(sink = %sink_id, error = %e, "could not take an audit sink's lease");
                return;
            }
        }
        match step(&state, &sink_id, now).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(sink = %sink_id, error = %e, "audit sink delivery could not read or record its state");
                return;
            }
        }
    }
}

/// One page: read, send, move the cursor. True when there may be more to do now.
async fn step(state: &AppState, sink_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let row: Option<SinkRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_sinks WHERE id = $1"))
            .bind(sink_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some(row) = row else { return Ok(false) };
    if row.enabled == 0 || row.next_attempt_at > now {
        return Ok(false);
    }
    let page: Vec<StoredEvent> = sqlx::query_as(
        "SELECT * FROM audit_events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(&row.workspace_id)
    .bind(row.delivered_seq)
    .bind(PAGE_EVENTS)
    .fetch_all(state.db.pool())
    .await?;
    if page.is_empty() {
        return Ok(false);
    }
    let patterns = stored_list("event_types", &row.event_types)?;
    let batch = Batch::of(&row, page, &patterns);
    if batch.events.is_empty() {
        return advance(state, &row, batch.to_seq, 0, now).await;
    }
    let sent = match row.kind.as_str() {
        "webhook" => send_webhook(state, &row, &batch, now).await,
        _ => super::cloudwatch::send(state, &row, &batch.events, now).await,
    };
    match sent {
        Ok(()) => advance(state, &row, batch.to_seq, batch.events.len(), now).await,
        Err(failure) => {
            if failure.delivered > 0 {
                let first_unsent = batch
                    .events
                    .get(failure.delivered)
                    .map_or(batch.to_seq + 1, |e| e.seq);
                advance(state, &row, first_unsent - 1, failure.delivered, now).await?;
            }
            record_failure(state, &row, &failure, now).await?;
            Ok(false)
        }
    }
}

/// The events of one delivery: those of a page the filter passes, within the size bound, and
/// the chain position up to which the page is covered.
struct Batch {
    from_seq: i64,
    to_seq: i64,
    events: Vec<AuditEvent>,
}

impl Batch {
    fn of(row: &SinkRow, page: Vec<StoredEvent>, patterns: &[String]) -> Self {
        let mut batch = Batch {
            from_seq: row.delivered_seq + 1,
            to_seq: row.delivered_seq,
            events: Vec::new(),
        };
        let mut bytes = 0;
        for stored in page {
            if forwards(patterns, &stored.event_type) {
                let size = stored.details.len() + 512;
                if !batch.events.is_empty() && bytes + size > MAX_BATCH_BYTES {
                    break;
                }
                bytes += size;
                batch.to_seq = stored.seq;
                batch.events.push(AuditEvent::from(stored));
            } else {
                batch.to_seq = stored.seq;
            }
        }
        batch
    }
}

/// The body a webhook receives (Standard Webhooks' `type`, `timestamp`, `data`).
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: EnvelopeData<'a>,
}

#[derive(Serialize)]
struct EnvelopeData<'a> {
    sink_id: &'a str,
    workspace_id: &'a str,
    /// The chain positions this batch covers; events between them that are not in `events`
    /// were passed over by the sink's filter.
    from_seq: i64,
    to_seq: i64,
    events: &'a [AuditEvent],
}

async fn send_webhook(
    state: &AppState,
    row: &SinkRow,
    batch: &Batch,
    now: i64,
) -> Result<(), Failure> {
    let url: String = serde_json::from_str::<super::WebhookSettings>(&row.settings)
        .map(|w| w.url)
        .map_err(|_| Failure::retry("the sink's stored settings do not parse"))?;
    let keys: Vec<_> = row
        .open_secrets(state.master_keys.as_deref(), now)
        .map_err(Failure::retry)?
        .iter()
        .filter_map(|s| super::webhook::signing_key(s))
        .collect();
    if keys.is_empty() {
        return Err(Failure::retry(
            "the sink has no usable signing secret: set webhook.secret",
        ));
    }
    // The id stays the same for every retry of this batch (receivers de-duplicate by it) and
    // changes with a replay (generation).
    let msg_id = format!(
        "msg_{}_{}_{}_{}",
        row.id, row.generation, batch.from_seq, batch.to_seq
    );
    let body = serde_json::to_vec(&Envelope {
        kind: "audit.events",
        timestamp: rfc3339(now),
        data: EnvelopeData {
            sink_id: &row.id,
            workspace_id: &row.workspace_id,
            from_seq: batch.from_seq,
            to_seq: batch.to_seq,
            events: &batch.events,
        },
    })
    .map_err(|_| Failure::retry("the batch could not be serialised"))?;
    // Checked again at delivery: the server's allowances may have changed since the sink was
    // made (names are checked by the resolver as they are connected to).
    crate::platform::egress::check_addresses(&url, state.settings.sink_addresses)
        .map_err(|why| Failure::retry(format!("{why}: this server may not deliver there")))?;
    let http = state.sinks.http()?;
    super::webhook::send(http, &url, &keys, &msg_id, body).await
}

/// Moves the cursor to `to_seq` after `delivered` events were accepted; recovers a failing
/// sink. Conditional on the cursor and generation read, so a replay (or another replica) in
/// between wins. True when there may be more to deliver.
async fn advance(
    state: &AppState,
    row: &SinkRow,
    to_seq: i64,
    delivered: usize,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = state.db.begin_write().await?;
    let moved = sqlx::query(
        "UPDATE audit_sinks SET delivered_seq = $1, \
         last_success_at = CASE WHEN $2 > 0 THEN $3 ELSE last_success_at END, \
         consecutive_failures = CASE WHEN $2 > 0 THEN 0 ELSE consecutive_failures END, \
         failing_since = CASE WHEN $2 > 0 THEN NULL ELSE failing_since END, \
         last_error = CASE WHEN $2 > 0 THEN NULL ELSE last_error END, \
         status = CASE WHEN $2 > 0 THEN 'active' ELSE status END \
         WHERE id = $4 AND delivered_seq = $5 AND generation = $6",
    )
    .bind(to_seq)
    .bind(i64::try_from(delivered).unwrap_or(i64::MAX))
    .bind(now)
    .bind(&row.id)
    .bind(row.delivered_seq)
    .bind(row.generation)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected()
        == 1;
    if moved && delivered > 0 && row.status == FAILING {
        let event = NewEvent::success(
            &row.workspace_id,
            EventType::AuditSinkRecovered,
            Actor::System,
        )
        .target("audit_sink", &row.id)
        .details(json!({
            "failing_since": row.failing_since.map(rfc3339),
            "delivered_seq": to_seq,
        }));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    tx.commit().await?;
    if moved && delivered > 0 {
        state
            .metrics
            .sink_delivered(&row.id, u64::try_from(delivered).unwrap_or(0));
    }
    Ok(true)
}

/// The wait before the next attempt: the destination's `Retry-After` if it gave one, else an
/// exponential backoff with jitter (half to all of the doubled delay, so sinks that failed
/// together do not retry together).
fn backoff_ms(failures: i64, retry_after: Option<Duration>) -> i64 {
    if let Some(wait) = retry_after {
        return ms(wait).max(1);
    }
    let exp = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
    let full = BASE_BACKOFF_MS
        .saturating_mul(1 << exp)
        .min(ms(MAX_BACKOFF));
    rand::thread_rng().gen_range(full / 2..=full)
}

/// Records a failed attempt, schedules the next, and marks the sink failing once it has failed
/// for [`FAILING_AFTER`] (once per run of failures).
async fn record_failure(
    state: &AppState,
    row: &SinkRow,
    failure: &Failure,
    now: i64,
) -> Result<(), sqlx::Error> {
    tracing::warn!(sink = %row.id, workspace = %row.workspace_id, error = %failure.message, "audit sink delivery failed; will retry");
    state.metrics.sink_failed(&row.id);
    let failing_since = row.failing_since.unwrap_or(now);
    let next = now + backoff_ms(row.consecutive_failures, failure.retry_after);
    let becomes_failing = row.status == ACTIVE && now - failing_since >= ms(FAILING_AFTER);
    let mut tx = state.db.begin_write().await?;
    let updated = sqlx::query(
        "UPDATE audit_sinks SET consecutive_failures = consecutive_failures + 1, \
         failing_since = COALESCE(failing_since, $1), last_error = $2, last_error_at = $1, \
         next_attempt_at = $3, status = CASE WHEN $4 = 1 THEN 'failing' ELSE status END \
         WHERE id = $5 AND generation = $6 AND status = $7",
    )
    .bind(now)
    .bind(&failure.message)
    .bind(next)
    .bind(i64::from(becomes_failing))
    .bind(&row.id)
    .bind(row.generation)
    .bind(&row.status)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected()
        == 1;
    if updated && becomes_failing {
        let event = NewEvent::success(
            &row.workspace_id,
            EventType::AuditSinkFailing,
            Actor::System,
        )
        .target("audit_sink", &row.id)
        .details(json!({
            "failing_since": rfc3339(failing_since),
            "consecutive_failures": row.consecutive_failures + 1,
            "last_error": failure.message,
            "delivered_seq": row.delivered_seq,
        }));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    tx.commit().await
}

/// Sets the lag and failing gauges from the database and forgets the series of deleted sinks
/// (each replica, periodically).
pub async fn refresh_metrics(state: &AppState) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT s.id, COALESCE(h.seq, 0) - s.delivered_seq, s.status, s.enabled FROM audit_sinks s \
         LEFT JOIN audit_chain_heads h ON h.workspace_id = s.workspace_id",
    )
    .fetch_all(state.db.pool())
    .await?;
    state.metrics.set_sinks(
        rows.into_iter()
            .map(|(id, lag, status, enabled)| (id, lag.max(0), enabled != 0 && status == FAILING)),
    );
    Ok(())
}
