//! The audit log: append-only, hash-chained per workspace.
//!
//! Each event's `hash` is SHA-256 over the previous event's hash and the event's own canonical
//! JSON, so removing, reordering or editing any stored event breaks the chain ([`verify`]: one
//! [`ChainVerifier`] for the server's `/verify`, the export and `statuspulse-server audit verify`). Appends that
//! change an object happen in the same transaction as the change ([`append`]); failed
//! authentications, which can arrive in floods, are aggregated ([`failures`]) and go through
//! the batching [`AuditWriter`].

pub mod failures;
pub mod retention;
pub(crate) mod routes;
pub mod settings;
pub mod sinks;
pub mod verify;
mod writer;

pub use failures::Failure;
pub use verify::{verify_chain, Break, ChainVerifier};
pub use writer::{AuditWriter, DURABLE_WAIT, FLUSH_INTERVAL};

/// The audit log's routes: events, sinks and settings.
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::app::AppState> {
    routes::router().merge(settings::router())
}

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};

use crate::authn::Principal;
use crate::platform::clock::Clock;
use crate::platform::db::WriteTx;
use crate::platform::ids;
pub use statuspulse_api::v1::ChainReport;

/// Chain id of events that belong to no known workspace (for example an unknown key).
pub const SYSTEM_CHAIN: &str = "";
/// The `prev_hash` of every chain's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A request authenticated with this API key (public key id) of this key object.
    ApiKey { key_id: String },
    /// A signed-in user (by id), through one of their sessions.
    User { user_id: String },
    /// A workload acting as a service account through an exchanged token.
    ServiceAccount { service_account_id: String },
    /// The server itself: background jobs and `bootstrap`.
    System,
    /// An unauthenticated request.
    Anonymous,
}

impl Actor {
    /// The actor's type (`api_key`, `user`, …) and id, as events and stored rows hold them.
    pub(crate) fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Actor::ApiKey { key_id } => ("api_key", Some(key_id)),
            Actor::User { user_id } => ("user", Some(user_id)),
            Actor::ServiceAccount { service_account_id } => {
                ("service_account", Some(service_account_id))
            }
            Actor::System => ("system", None),
            Actor::Anonymous => ("anonymous", None),
        }
    }

    /// The actor of [`Actor::parts`], read back; `None` for what `parts` never gives.
    pub(crate) fn from_parts(kind: &str, id: Option<String>) -> Option<Actor> {
        match (kind, id) {
            ("api_key", Some(key_id)) => Some(Actor::ApiKey { key_id }),
            ("user", Some(user_id)) => Some(Actor::User { user_id }),
            ("service_account", Some(service_account_id)) => {
                Some(Actor::ServiceAccount { service_account_id })
            }
            ("system", None) => Some(Actor::System),
            ("anonymous", None) => Some(Actor::Anonymous),
            _ => None,
        }
    }
}

impl From<&Principal> for Actor {
    /// How the audit log names whoever acted.
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::ApiKey(key) => Actor::ApiKey {
                key_id: key.key_id.to_string(),
            },
            // A console session opened with a key acts as that key.
            Principal::KeySession(session) => Actor::ApiKey {
                key_id: session.key.key_id.to_string(),
            },
            Principal::Session(session) => Actor::User {
                user_id: session.user_id.clone(),
            },
            Principal::AccessToken(token) => match &token.service_account_id {
                Some(sa) => Actor::ServiceAccount {
                    service_account_id: sa.clone(),
                },
                None => Actor::User {
                    user_id: token.subject.clone(),
                },
            },
        }
    }
}

/// Every kind of audit event. The names are part of the API (filters, SIEM rules): never rename
/// one, only add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    WorkspaceCreated,
    WorkspaceUpdated,
    WorkspaceDeleted,
    ServiceAccountCreated,
    ServiceAccountUpdated,
    ServiceAccountDeleted,
    ApiKeyCreated,
    ApiKeyUpdated,
    ApiKeyScopesChanged,
    ApiKeyRotated,
    ApiKeyRevoked,
    ApiKeyPurged,
    EnvironmentClusterCreated,
    EnvironmentClusterUpdated,
    EnvironmentClusterDeleted,
    RoleBindingCreated,
    RoleBindingUpdated,
    RoleBindingDeleted,
    SsoConnectionCreated,
    SsoConnectionUpdated,
    SsoConnectionDeleted,
    SsoConnectionTested,
    AuthFailed,
    SsoLogin,
    SsoLoginFailed,
    SessionCreated,
    SessionRevoked,
    UserCreated,
    TokenIssued,
    TokenRefreshed,
    TokenReuseDetected,
    TokenRevoked,
    SigningKeyRotated,
    OAuthClientCreated,
    OAuthClientUpdated,
    OAuthClientDeleted,
    AccessPolicyCreated,
    AccessPolicyUpdated,
    AccessPolicyDeleted,
    WorkloadIdentityCreated,
    WorkloadIdentityUpdated,
    WorkloadIdentityDeleted,
    TokenExchanged,
    TokenExchangeRefused,
    AnomalyDetected,
    AnomalyRuleCreated,
    AnomalyRuleUpdated,
    AnomalyRuleDeleted,
    AuditSinkCreated,
    AuditSinkUpdated,
    AuditSinkDeleted,
    AuditSinkReplayed,
    AuditSinkFailing,
    AuditSinkRecovered,
    AuditSettingsUpdated,
    AuditPruned,
}

impl EventType {
    pub const ALL: &'static [EventType] = &[
        EventType::WorkspaceCreated,
        EventType::WorkspaceUpdated,
        EventType::WorkspaceDeleted,
        EventType::ServiceAccountCreated,
        EventType::ServiceAccountUpdated,
        EventType::ServiceAccountDeleted,
        EventType::ApiKeyCreated,
        EventType::ApiKeyUpdated,
        EventType::ApiKeyScopesChanged,
        EventType::ApiKeyRotated,
        EventType::ApiKeyRevoked,
        EventType::ApiKeyPurged,
        EventType::EnvironmentClusterCreated,
        EventType::EnvironmentClusterUpdated,
        EventType::EnvironmentClusterDeleted,
        EventType::RoleBindingCreated,
        EventType::RoleBindingUpdated,
        EventType::RoleBindingDeleted,
        EventType::SsoConnectionCreated,
        EventType::SsoConnectionUpdated,
        EventType::SsoConnectionDeleted,
        EventType::SsoConnectionTested,
        EventType::AuthFailed,
        EventType::SsoLogin,
        EventType::SsoLoginFailed,
        EventType::SessionCreated,
        EventType::SessionRevoked,
        EventType::UserCreated,
        EventType::TokenIssued,
        EventType::TokenRefreshed,
        EventType::TokenReuseDetected,
        EventType::TokenRevoked,
        EventType::SigningKeyRotated,
        EventType::OAuthClientCreated,
        EventType::OAuthClientUpdated,
        EventType::OAuthClientDeleted,
        EventType::AccessPolicyCreated,
        EventType::AccessPolicyUpdated,
        EventType::AccessPolicyDeleted,
        EventType::WorkloadIdentityCreated,
        EventType::WorkloadIdentityUpdated,
        EventType::WorkloadIdentityDeleted,
        EventType::TokenExchanged,
        EventType::TokenExchangeRefused,
        EventType::AnomalyDetected,
        EventType::AnomalyRuleCreated,
        EventType::AnomalyRuleUpdated,
        EventType::AnomalyRuleDeleted,
        EventType::AuditSinkCreated,
        EventType::AuditSinkUpdated,
        EventType::AuditSinkDeleted,
        EventType::AuditSinkReplayed,
        EventType::AuditSinkFailing,
        EventType::AuditSinkRecovered,
        EventType::AuditSettingsUpdated,
        EventType::AuditPruned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::WorkspaceCreated => "workspace.created",
            EventType::WorkspaceUpdated => "workspace.updated",
            EventType::WorkspaceDeleted => "workspace.deleted",
            EventType::ServiceAccountCreated => "service_account.created",
            EventType::ServiceAccountUpdated => "service_account.updated",
            EventType::ServiceAccountDeleted => "service_account.deleted",
            EventType::ApiKeyCreated => "api_key.created",
            EventType::ApiKeyUpdated => "api_key.updated",
            EventType::ApiKeyScopesChanged => "api_key.scopes_changed",
            EventType::ApiKeyRotated => "api_key.rotated",
            EventType::ApiKeyRevoked => "api_key.revoked",
            EventType::ApiKeyPurged => "api_key.purged",
            EventType::EnvironmentClusterCreated => "environment_cluster.created",
            EventType::EnvironmentClusterUpdated => "environment_cluster.updated",
            EventType::EnvironmentClusterDeleted => "environment_cluster.deleted",
            EventType::RoleBindingCreated => "role_binding.created",
            EventType::RoleBindingUpdated => "role_binding.updated",
            EventType::RoleBindingDeleted => "role_binding.deleted",
            EventType::SsoConnectionCreated => "sso_connection.created",
            EventType::SsoConnectionUpdated => "sso_connection.updated",
            EventType::SsoConnectionDeleted => "sso_connection.deleted",
            EventType::SsoConnectionTested => "sso_connection.tested",
            EventType::AuthFailed => "auth.failed",
            EventType::SsoLogin => "sso.login",
            EventType::SsoLoginFailed => "sso.login_failed",
            EventType::SessionCreated => "session.created",
            EventType::SessionRevoked => "session.revoked",
            EventType::UserCreated => "user.created",
            EventType::TokenIssued => "token.issued",
            EventType::TokenRefreshed => "token.refreshed",
            EventType::TokenReuseDetected => "token.reuse_detected",
            EventType::TokenRevoked => "token.revoked",
            EventType::SigningKeyRotated => "signing_key.rotated",
            EventType::OAuthClientCreated => "oauth_client.created",
            EventType::OAuthClientUpdated => "oauth_client.updated",
            EventType::OAuthClientDeleted => "oauth_client.deleted",
            EventType::AccessPolicyCreated => "access_policy.created",
            EventType::AccessPolicyUpdated => "access_policy.updated",
            EventType::AccessPolicyDeleted => "access_policy.deleted",
            EventType::WorkloadIdentityCreated => "workload_identity.created",
            EventType::WorkloadIdentityUpdated => "workload_identity.updated",
            EventType::WorkloadIdentityDeleted => "workload_identity.deleted",
            EventType::TokenExchanged => "token.exchanged",
            EventType::TokenExchangeRefused => "token.exchange_refused",
            EventType::AnomalyDetected => "anomaly.detected",
            EventType::AnomalyRuleCreated => "anomaly_rule.created",
            EventType::AnomalyRuleUpdated => "anomaly_rule.updated",
            EventType::AnomalyRuleDeleted => "anomaly_rule.deleted",
            EventType::AuditSinkCreated => "audit_sink.created",
            EventType::AuditSinkUpdated => "audit_sink.updated",
            EventType::AuditSinkDeleted => "audit_sink.deleted",
            EventType::AuditSinkReplayed => "audit_sink.replayed",
            EventType::AuditSinkFailing => "audit_sink.failing",
            EventType::AuditSinkRecovered => "audit_sink.recovered",
            EventType::AuditSettingsUpdated => "audit_settings.updated",
            EventType::AuditPruned => "audit.pruned",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// An event before it is appended. Never put a secret in `details`.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub workspace_id: String,
    pub event_type: EventType,
    pub actor: Actor,
    pub target: Option<(&'static str, String)>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub details: Value,
}

impl NewEvent {
    pub fn success(workspace_id: &str, event_type: EventType, actor: Actor) -> Self {
        Self {
            workspace_id: workspace_id.to_owned(),
            event_type,
            actor,
            target: None,
            outcome: Outcome::Success,
            reason: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.target = Some((kind, id.into()));
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The fields covered by the hash, in a fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    event_id: &'a str,
    workspace_id: &'a str,
    seq: i64,
    occurred_at: i64,
    event_type: &'a str,
    actor_type: &'a str,
    actor_id: Option<&'a str>,
    target_type: Option<&'a str>,
    target_id: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    details: &'a str,
}

fn chain_hash(prev_hash: &str, canonical: &Canonical<'_>) -> Result<String, sqlx::Error> {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(canonical).map_err(|e| sqlx::Error::Encode(e.into()))?);
    Ok(hex::encode(hasher.finalize()))
}

/// Appends `event` to its workspace's chain in `tx` and commits: a change and its record stand
/// or fall together. The usual end of a management write.
pub async fn commit_with(
    mut tx: WriteTx<'_>,
    clock: &Clock,
    event: &NewEvent,
) -> Result<(), sqlx::Error> {
    append(&mut tx.tx, clock, event).await?;
    tx.commit().await
}

/// Deletes the row `id` of `table` in `workspace_id` and records `event` in the same
/// transaction: the usual end of a management delete.
pub async fn delete_recorded(
    state: &crate::app::AppState,
    table: &'static str,
    workspace_id: &str,
    id: &str,
    event: &NewEvent,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin_write().await?;
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE id = $1 AND workspace_id = $2"
    ))
    .bind(id)
    .bind(workspace_id)
    .execute(&mut *tx.tx)
    .await?;
    commit_with(tx, &state.clock, event).await
}

/// Appends `event` to its workspace's chain inside `tx`; returns the new `event_id`.
pub async fn append(
    tx: &mut Transaction<'static, Any>,
    clock: &Clock,
    event: &NewEvent,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES ($1, 0, $2) \
         ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(&event.workspace_id)
    .bind(GENESIS_HASH)
    .execute(&mut **tx)
    .await?;
    // Taking the row lock first serialises appenders across replicas (PostgreSQL holds it until
    // commit); SQLite is already serialised by the writer lock.
    let (seq, prev_hash): (i64, String) = sqlx::query_as(
        "UPDATE audit_chain_heads SET seq = seq + 1 WHERE workspace_id = $1 RETURNING seq, hash",
    )
    .bind(&event.workspace_id)
    .fetch_one(&mut **tx)
    .await?;

    let event_id = ids::new_id(ids::EVENT);
    let occurred_at = clock.now_ms();
    let (actor_type, actor_id) = event.actor.parts();
    let details = event.details.to_string();
    let canonical = Canonical {
        event_id: &event_id,
        workspace_id: &event.workspace_id,
        seq,
        occurred_at,
        event_type: event.event_type.as_str(),
        actor_type,
        actor_id,
        target_type: event.target.as_ref().map(|t| t.0),
        target_id: event.target.as_ref().map(|t| t.1.as_str()),
        outcome: event.outcome.as_str(),
        reason: event.reason.as_deref(),
        details: &details,
    };
    let hash = chain_hash(&prev_hash, &canonical)?;

    sqlx::query(
        "INSERT INTO audit_events (event_id, workspace_id, seq, occurred_at, event_type, \
         actor_type, actor_id, target_type, target_id, outcome, reason, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&event_id)
    .bind(&event.workspace_id)
    .bind(seq)
    .bind(occurred_at)
    .bind(event.event_type.as_str())
    .bind(actor_type)
    .bind(actor_id)
    .bind(canonical.target_type)
    .bind(canonical.target_id)
    .bind(canonical.outcome)
    .bind(canonical.reason)
    .bind(&details)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_chain_heads SET hash = $1 WHERE workspace_id = $2")
        .bind(&hash)
        .bind(&event.workspace_id)
        .execute(&mut **tx)
        .await?;
    Ok(event_id)
}

/// A stored event, as read back for listing and verification.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredEvent {
    pub event_id: String,
    pub workspace_id: String,
    pub seq: i64,
    pub occurred_at: i64,
    pub event_type: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    fn recomputed_hash(&self) -> Result<String, sqlx::Error> {
        chain_hash(
            &self.prev_hash,
            &Canonical {
                event_id: &self.event_id,
                workspace_id: &self.workspace_id,
                seq: self.seq,
                occurred_at: self.occurred_at,
                event_type: &self.event_type,
                actor_type: &self.actor_type,
                actor_id: self.actor_id.as_deref(),
                target_type: self.target_type.as_deref(),
                target_id: self.target_id.as_deref(),
                outcome: &self.outcome,
                reason: self.reason.as_deref(),
                details: &self.details,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_are_unique_and_dotted() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert!(names.iter().all(|n| n
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
    }
}
