//! What an API key looks like in storage and on the wire.

use crate::authz::scopes::{Environment, Scopes};
pub use statuspulse_api::key::KeyStatus;

use crate::error::ApiError;
use crate::platform::clock::{rfc3339, DAY_MS};
pub use statuspulse_api::v1::{ApiKeyView, CreatedApiKey};

/// A stored key row. Holds the Argon2id hash, so it never leaves this module unconverted.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub key_id: String,
    pub workspace_id: String,
    pub name: String,
    pub environment: String,
    pub service_account_id: Option<String>,
    pub scopes: String,
    pub check_group_ids: String,
    pub alert_route_ids: String,
    pub rotation_days: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub rotate_after: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    pub purge_after: Option<i64>,
    pub successor_id: Option<String>,
    pub environment_clusters: String,
}

impl KeyRow {
    /// The stored scopes. Only the server writes them, so one that does not parse is corruption:
    /// an internal error, never silently fewer (or other) scopes.
    pub fn scopes(&self) -> Result<Scopes, ApiError> {
        Scopes::parse(self.scopes.split_whitespace())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored key {}: {e}", self.id)))
    }

    /// The stored environment (see [`KeyRow::scopes`] on corruption).
    pub fn environment(&self) -> Result<Environment, ApiError> {
        self.environment.parse().map_err(|()| {
            ApiError::internal(anyhow::anyhow!("stored key {}: bad environment", self.id))
        })
    }

    /// Whole days from creation to expiry (`expires_in_days` at creation): the lifetime a
    /// rotation's successor inherits.
    pub fn lifetime_days(&self) -> i64 {
        let days = (self.expires_at - self.created_at + DAY_MS / 2) / DAY_MS;
        days.clamp(1, super::MAX_LIFETIME_DAYS)
    }

    pub fn status(&self, now_ms: i64) -> KeyStatus {
        KeyStatus::at(now_ms, self.expires_at, self.revoked_at)
    }

    pub fn view(&self, now_ms: i64) -> ApiKeyView {
        let status = self.status(now_ms);
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
        let purge_after = self.purge_after.or_else(|| {
            (status == KeyStatus::Expired).then_some(self.expires_at + super::QUARANTINE_MS)
        });
        ApiKeyView {
            id: self.id.clone(),
            key_id: self.key_id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: self.name.clone(),
            environment: self.environment.clone(),
            service_account_id: self.service_account_id.clone(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            check_group_ids: list(&self.check_group_ids),
            alert_route_ids: list(&self.alert_route_ids),
            environment_clusters: list(&self.environment_clusters),
            rotation_days: self.rotation_days,
            expires_in_days: self.lifetime_days(),
            status,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            expires_at: rfc3339(self.expires_at),
            rotate_after: rfc3339(self.rotate_after),
            rotation_due: status == KeyStatus::Active && now_ms >= self.rotate_after,
            last_used_at: self.last_used_at.map(rfc3339),
            revoked_at: self.revoked_at.map(rfc3339),
            revocation_reason: self.revocation_reason.clone(),
            successor_id: self.successor_id.clone(),
            purge_after: purge_after
                .filter(|_| status != KeyStatus::Active)
                .map(rfc3339),
        }
    }
}
