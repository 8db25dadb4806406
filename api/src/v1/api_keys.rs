//! `/v1/api-keys`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::key::KeyStatus;

/// The public view of a key: everything but the secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    /// The key object's id (`key_…`).
    pub id: String,
    /// Public key id embedded in the key; safe to log and show.
    pub key_id: String,
    /// The workspace the key belongs to.
    pub workspace_id: String,
    /// Unique among the workspace's usable keys.
    pub name: String,
    /// `live` or `test`.
    pub environment: String,
    /// The service account the key acts for; null for a workspace key.
    #[serde(default)]
    pub service_account_id: Option<String>,
    /// The scopes the key asks for (role bindings decide which are effective).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Check groups the key is restricted to; empty means unrestricted.
    #[serde(default)]
    pub check_group_ids: Vec<String>,
    /// Alert routes the key is restricted to; empty means unrestricted.
    #[serde(default)]
    pub alert_route_ids: Vec<String>,
    /// Clusters the key is narrowed to; empty means every cluster of its environment.
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    /// Days from creation until `rotation_due`.
    pub rotation_days: i64,
    /// Days from creation to `expires_at`, as created (`expires_in_days`; a rotation's
    /// successor inherits it).
    #[serde(default)]
    pub expires_in_days: i64,
    /// Lifecycle state, derived from the stored times.
    pub status: KeyStatus,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339: when the key should be replaced.
    pub rotate_after: String,
    /// True once `rotate_after` has passed on an active key: replace it.
    #[serde(default)]
    pub rotation_due: bool,
    /// Updated in the background, at most about a minute behind.
    #[serde(default)]
    pub last_used_at: Option<String>,
    /// When the key stopped (or, rotating, stops) working.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    #[serde(default)]
    pub revocation_reason: Option<String>,
    /// The key that replaced this one by rotation.
    #[serde(default)]
    pub successor_id: Option<String>,
    /// When the quarantined key will be deleted for good.
    #[serde(default)]
    pub purge_after: Option<String>,
}

/// A whole API key in the clear. Shown once, in a create or rotate answer; `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlainKey(String);

impl PlainKey {
    /// Wraps a freshly generated key.
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// The key itself, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainKey(<redacted>)")
    }
}

/// The answer to create and rotate: the only time the key itself is ever shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    /// The key object.
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The API key. Store it now: it cannot be read again.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub key: PlainKey,
}

/// `POST /v1/api-keys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Unique among the workspace's usable keys.
    pub name: String,
    /// `live` or `test`; decides the `sp_live_` / `sp_test_` prefix.
    pub environment: String,
    /// The service account the key acts for (its role bindings then decide what it may do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// Scopes from the catalog (`GET /v1/scopes`).
    pub scopes: Vec<String>,
    /// Restricts the key to these check groups (default: unrestricted).
    #[serde(default)]
    pub check_group_ids: Vec<String>,
    /// Restricts the key to these alert routes (default: unrestricted).
    #[serde(default)]
    pub alert_route_ids: Vec<String>,
    /// Narrows the key to these environment clusters of its environment (default: all).
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    /// Days until `rotation_due` (1 to 365, default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_days: Option<i64>,
    /// Days until the key expires (1 to 365, default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
}

/// `PATCH /v1/api-keys/{id}`: the attributes that change in place; absent ones stay.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New scopes (at most what the caller may grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New check group restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_group_ids: Option<Vec<String>>,
    /// New alert route restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_route_ids: Option<Vec<String>>,
    /// New cluster restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_clusters: Option<Vec<String>>,
}

/// `POST /v1/api-keys/{id}/rotate`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateApiKey {
    /// Hours the old key keeps working (0 to 168, default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<i64>,
}

/// `POST /v1/api-keys/revoke`: by object id, since the key itself may be what leaked.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeApiKey {
    /// The key object's id (`key_…`).
    pub id: String,
    /// Kept with the key and in the audit event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Hours the key keeps working before it is refused (0 to 168, default 0: at once). With a
    /// grace period the key is `rotating`, like a rotated key, so consumers can move to its
    /// successor; a later revocation can only shorten it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<i64>,
    /// The key replacing this one (`key_…`, active, of the same service account and
    /// environment), recorded as its successor: what a replacement by Terraform sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_id: Option<String>,
}
