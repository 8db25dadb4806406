//! Audit sinks: each workspace's chain forwarded to its SIEM, at least once and in order.
//!
//! The outbox is the chain itself. A sink keeps a cursor on it (`delivered_seq`, in the
//! database) and moves it only after its destination accepted a batch ([`delivery`]), so a
//! crash, a restart or an outage of the destination loses nothing: delivery resumes from the
//! cursor, and what was in flight is sent again (receivers de-duplicate by `event_id`). One
//! replica at a time delivers for a sink, under a lease in the database; another takes over
//! within [`delivery::LEASE`] when it dies. Each delivered event carries its chain position
//! (`seq`, `prev_hash`, `hash`), so a SIEM can prove it holds every event.
//!
//! Destinations: [`webhook`] (Standard Webhooks signatures) and [`cloudwatch`] (PutLogEvents).
//! Their secrets are sealed with the master key and never returned, logged or audited.

pub mod cloudwatch;
pub mod delivery;
pub(crate) mod routes;
pub mod webhook;

pub use delivery::Deliverer;
pub(crate) use routes::known_patterns;
pub use routes::router;
pub use statuspulse_api::v1::{AuditSink, CloudWatchSettings, WebhookSettings};

use crate::platform::clock::rfc3339;
use crate::platform::db::stored_list;
use crate::platform::secrets::MasterKeys;

/// `active`: delivering, or retrying without having failed for long.
pub const ACTIVE: &str = "active";
/// `failing`: deliveries have failed for longer than [`delivery::FAILING_AFTER`]; still retried.
pub const FAILING: &str = "failing";

/// The context a sink's secret is sealed for: a sealed value copied to another sink or column
/// does not open.
pub fn secret_context(sink_id: &str) -> String {
    format!("audit_sink:{sink_id}:secret")
}

/// A stored sink.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SinkRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    pub event_types: String,
    pub enabled: i64,
    pub settings: String,
    pub secret_sealed: Option<String>,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub delivered_seq: i64,
    pub generation: i64,
    pub status: String,
    pub consecutive_failures: i64,
    pub failing_since: Option<i64>,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, workspace_id, name, kind, event_types, enabled, settings, \
    secret_sealed, previous_secret_sealed, previous_secret_until, delivered_seq, generation, \
    status, consecutive_failures, failing_since, next_attempt_at, last_error, last_error_at, \
    last_success_at, created_at, updated_at";

impl SinkRow {
    /// The API's view, given the chain head.
    pub fn view(&self, head_seq: i64) -> Result<AuditSink, sqlx::Error> {
        let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
        let (webhook, cloudwatch) = match self.kind.as_str() {
            "webhook" => {
                let mut webhook: WebhookSettings =
                    serde_json::from_str(&self.settings).map_err(decode)?;
                webhook.previous_secret_valid_until = self
                    .previous_secret_sealed
                    .as_ref()
                    .and(self.previous_secret_until)
                    .map(rfc3339);
                (Some(webhook), None)
            }
            _ => {
                let mut cloudwatch: CloudWatchSettings =
                    serde_json::from_str(&self.settings).map_err(decode)?;
                cloudwatch.secret_access_key_set = self.secret_sealed.is_some();
                (None, Some(cloudwatch))
            }
        };
        let status = if self.enabled == 0 {
            "disabled"
        } else {
            self.status.as_str()
        };
        Ok(AuditSink {
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            event_types: stored_list("event_types", &self.event_types)?,
            enabled: self.enabled != 0,
            webhook,
            cloudwatch,
            status: status.to_owned(),
            delivered_seq: self.delivered_seq,
            head_seq,
            lag: (head_seq - self.delivered_seq).max(0),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at.map(rfc3339),
            last_success_at: self.last_success_at.map(rfc3339),
            failing_since: self.failing_since.map(rfc3339),
            next_attempt_at: (self.next_attempt_at > 0 && self.last_error.is_some())
                .then(|| rfc3339(self.next_attempt_at)),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }

    /// The secrets the sink signs or authenticates with: the current one first, then (webhook
    /// rotation) the previous one while it is still valid at `now_ms`.
    pub fn open_secrets(
        &self,
        keys: Option<&MasterKeys>,
        now_ms: i64,
    ) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>, String> {
        let previous = self.previous_secret_sealed.as_ref().filter(|_| {
            self.previous_secret_until
                .is_some_and(|until| until > now_ms)
        });
        let sealed: Vec<&String> = self.secret_sealed.iter().chain(previous).collect();
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.ok_or_else(|| {
            "this server has no master key to open the sink's secret with".to_owned()
        })?;
        sealed
            .into_iter()
            .map(|s| {
                keys.open(s, &secret_context(&self.id))
                    .map_err(|e| format!("the sink's secret cannot be opened: {e}"))
            })
            .collect()
    }
}

/// The head of a workspace's chain: its last `seq`, 0 for an empty chain.
pub async fn head_seq<'e, E>(executor: E, workspace_id: &str) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let head: Option<(i64,)> =
        sqlx::query_as("SELECT seq FROM audit_chain_heads WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(executor)
            .await?;
    Ok(head.map_or(0, |(seq,)| seq))
}

/// Whether a sink with these patterns forwards `event_type`.
pub fn forwards(patterns: &[String], event_type: &str) -> bool {
    patterns
        .iter()
        .any(|p| statuspulse_api::validate::event_type_matches(p, event_type))
}
