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
