//! `/v1/audit-sinks`: forwarding of a workspace's audit events to a SIEM, at least once and in
//! chain order (server/API.md "Audit sinks").
//!
//! A sink has a `kind` and exactly that kind's settings block (`webhook` or `cloudwatch`), the
//! same nesting as the Terraform resource. Secrets (the webhook signing secret, an AWS secret
//! access key) are write-only: requests may carry them, answers only say whether one is set,
//! except the create answer of a webhook sink whose secret the server generated.

use serde::{Deserialize, Serialize};

/// The kinds of sink.
pub const KINDS: &[&str] = &["webhook", "cloudwatch"];
/// Sinks per workspace, at most: each is a delivery loop and a metric series.
pub const MAX_SINKS: usize = 10;
/// Event type patterns per sink, at most.
pub const MAX_EVENT_TYPES: usize = 64;
/// Standard Webhooks secrets start with this.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// A webhook sink: batches of events POSTed as JSON and signed per Standard Webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookSettings {
    /// Where batches are POSTed: `https` on a public address (loopback and private addresses
    /// only where the server's operator allows them).
    pub url: String,
    /// Until when (RFC 3339) the secret replaced by the last rotation still signs deliveries,
    /// as a second signature, so receivers can switch without losing a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

/// The `webhook` block of a create or update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookSettingsInput {
    /// See [`WebhookSettings::url`].
    pub url: String,
    /// The signing secret, `whsec_` and the base64 of 24 to 64 random bytes. Omitted on create,
    /// the server generates one and shows it once; on update, a new value rotates it (the old
    /// one keeps signing for 24 hours), an omitted one keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A CloudWatch Logs sink: events written with PutLogEvents, one log event per audit event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloudWatchSettings {
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The log group; it must exist.
    pub log_group: String,
    /// The log stream; created when missing.
    pub log_stream: String,
    /// Access key id of the credentials; absent: the server's own AWS credentials (environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Whether a secret access key is stored (sealed). The key itself is never returned.
    #[serde(default)]
    pub secret_access_key_set: bool,
    /// A role assumed through STS with those credentials before writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A base URL replacing `https://logs.{region}.amazonaws.com` and STS's (tests, VPC
    /// endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
}

/// The `cloudwatch` block of a create or update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloudWatchSettingsInput {
    /// See [`CloudWatchSettings`].
    pub region: String,
    /// See [`CloudWatchSettings`].
    pub log_group: String,
    /// See [`CloudWatchSettings`].
    pub log_stream: String,
    /// Given together with `secret_access_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Write-only. On update, omitted keeps the stored one (when `access_key_id` is unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// `arn:aws:iam::<account>:role/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// See [`CloudWatchSettings::external_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// See [`CloudWatchSettings::endpoint_override`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
}

/// An audit sink as the API answers it, with its delivery state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSink {
    /// `snk_…`.
    pub id: String,
    /// The workspace whose chain it forwards.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// `webhook` or `cloudwatch`.
    pub kind: String,
    /// Event types forwarded: exact names (`api_key.revoked`), a family (`auth.*`) or `*`.
    pub event_types: Vec<String>,
    /// A disabled sink keeps its place in the chain and resumes from it when enabled.
    pub enabled: bool,
    /// Settings of kind `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
    /// Settings of kind `cloudwatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch: Option<CloudWatchSettings>,
    /// `active`, `failing` (deliveries have failed for a long time; still retried, nothing is
    /// dropped) or `disabled`.
    pub status: String,
    /// The last chain position delivered (or skipped by the filter).
    pub delivered_seq: i64,
    /// The workspace chain's head.
    pub head_seq: i64,
    /// Events of the chain not yet delivered: `head_seq - delivered_seq`.
    pub lag: i64,
    /// Why the last attempt failed (never a secret), while deliveries fail.
    #[serde(default)]
    pub last_error: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// RFC 3339: the last batch accepted by the sink.
    #[serde(default)]
    pub last_success_at: Option<String>,
    /// RFC 3339: since when deliveries have failed without a success.
    #[serde(default)]
    pub failing_since: Option<String>,
    /// RFC 3339: the next attempt after a failure (backoff, or the sink's `Retry-After`).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The create answer: the sink, and the webhook secret when the server generated it (shown
/// only here, once).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedAuditSink {
    /// The sink.
    #[serde(flatten)]
    pub sink: AuditSink,
    /// `whsec_…`, present only when the request carried no secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

fn enabled() -> bool {
    true
}

/// `POST /v1/audit-sinks`. Delivery starts with the next event recorded; `POST …/replay`
/// sends earlier ones.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAuditSink {
    /// Unique in the workspace.
    pub name: String,
    /// Left out: the workspace's `default_event_types` (`/v1/audit-settings`; `["*"]`, every
    /// event, unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Default true.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Exactly one of `webhook` and `cloudwatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettingsInput>,
    /// Exactly one of `webhook` and `cloudwatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch: Option<CloudWatchSettingsInput>,
}

/// `PATCH /v1/audit-sinks/{id}`: fields present are changed. The kind cannot change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAuditSink {
    /// A new name, unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New patterns; events already passed by the cursor are not revisited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Pause (false) or resume (true) delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces the whole block (a secret left out is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettingsInput>,
    /// Replaces the whole block (a secret left out is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch: Option<CloudWatchSettingsInput>,
}

/// `POST /v1/audit-sinks/{id}/replay`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReplayAuditSink {
    /// The first chain position to send again (≥ 1, ≤ the head + 1).
    pub from_seq: i64,
}
