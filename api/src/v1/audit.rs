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

/// `GET /v1/audit-settings`: how long the workspace keeps its events, and where its stored
/// chain starts after pruning.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSettings {
    /// Events older than this many days are pruned (30 to 3650; default 365). Recording itself
    /// is always on.
    pub retention_days: i64,
    /// Whether `retention_days` is the default (never set for this workspace).
    pub is_default: bool,
    /// The last pruned position: the stored chain starts at the next one.
    pub pruned_through_seq: i64,
    /// The hash of the event at `pruned_through_seq` (genesis when nothing was pruned): the
    /// first stored event's `prev_hash`, so what remains verifies from here.
    pub pruned_through_hash: String,
    /// The chain's head.
    pub head_seq: i64,
}

/// `PUT /v1/audit-settings`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAuditSettings {
    /// 30 to 3650.
    pub retention_days: i64,
}
