//! `/v1/audit-events` and the chain check.

use serde::{Deserialize, Serialize};

/// Who acted.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditActor {
    /// `api_key`, `system` or `anonymous`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The public key id for `api_key` actors.
    #[serde(default)]
    pub id: Option<String>,
}

/// What was acted on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditTarget {
    /// `api_key`, `service_account`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The object's id.
    pub id: String,
}

/// One event of a workspace's hash chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// `evt_…`.
    pub event_id: String,
    /// Position in the workspace's chain, from 1.
    pub seq: i64,
    /// The chain's workspace.
    pub workspace_id: String,
    /// RFC 3339.
    pub occurred_at: String,
    /// `api_key.created`, `auth.failed`, …
    pub event_type: String,
    /// Who acted.
    pub actor: AuditActor,
    /// What was acted on.
    #[serde(default)]
    pub target: Option<AuditTarget>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Why it failed, for failures.
    #[serde(default)]
    pub reason: Option<String>,
    /// Event-specific facts (never a secret).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    /// The previous event's `hash`.
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this event.
    pub hash: String,
}

/// Result of walking a chain from its first event to its head.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainReport {
    /// Every link and the head hold.
    pub valid: bool,
    /// How many events were recomputed.
    pub events_checked: i64,
    /// The head's sequence number.
    pub head_seq: i64,
    /// The head's hash.
    pub head_hash: String,
    /// The first sequence number at which the chain does not hold, if any.
    #[serde(default)]
    pub first_broken_seq: Option<i64>,
}

/// Retention when a workspace has not set one, in days.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;
/// Shortest retention: the 30-day key quarantine must stay auditable.
pub const MIN_RETENTION_DAYS: i64 = 30;
/// Longest retention (ten years).
pub const MAX_RETENTION_DAYS: i64 = 3650;

/// `GET /v1/audit-settings`: the workspace's "Enable Audit Logging" page in one answer: how long
/// it keeps its events, where its stored chain starts after pruning, what a new sink forwards
/// unless told otherwise, and the sinks its events go to. Recording itself is always on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSettings {
    /// The workspace these settings are of (the caller's).
    #[serde(default)]
    pub workspace_id: String,
    /// Events older than this many days are pruned (30 to 3650; default 365).
    pub retention_days: i64,
    /// The sink defaults: the `event_types` a sink created without its own forwards (default
    /// `["*"]`, every event). A sink keeps the filter it was created with.
    #[serde(default = "every_event")]
    pub default_event_types: Vec<String>,
    /// Whether nothing was ever set for this workspace (every value is the default).
    pub is_default: bool,
    /// The last pruned position: the stored chain starts at the next one.
    pub pruned_through_seq: i64,
    /// The hash of the event at `pruned_through_seq` (genesis when nothing was pruned): the
    /// first stored event's `prev_hash`, so what remains verifies from here.
    pub pruned_through_hash: String,
    /// The chain's head.
    pub head_seq: i64,
    /// The workspace's sinks (`/v1/audit-sinks`), oldest first: where its events are forwarded,
    /// and how far each has got.
    #[serde(default)]
    pub sinks: Vec<AuditSinkSummary>,
}

/// One sink as the audit settings list it; `GET /v1/audit-sinks/{id}` has the rest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSinkSummary {
    /// `snk_…`.
    pub id: String,
    /// Unique in the workspace.
    pub name: String,
    /// `webhook` or `cloudwatch`.
    pub kind: String,
    /// Whether it delivers.
    pub enabled: bool,
    /// The event types it forwards.
    pub event_types: Vec<String>,
    /// `active`, `failing` or `disabled`, as on the sink.
    pub status: String,
    /// Matching events recorded but not yet delivered (an upper bound).
    pub lag: i64,
}

fn every_event() -> Vec<String> {
    vec!["*".to_owned()]
}

/// `PUT /v1/audit-settings`: replaces the settings; a field left out goes back to its default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAuditSettings {
    /// 30 to 3650; default 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i64>,
    /// 1 to 64 patterns (`*`, `family.*` or an exact event type); default `["*"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_event_types: Option<Vec<String>>,
}
