//! `GET /v1/auth/verify`: the answer a gateway acts on.

use serde::{Deserialize, Serialize};

/// Who the verified key acts for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    /// `service_account` when the key belongs to one, else `api_key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service account's id, or the key object's.
    pub id: String,
}

/// A valid key, and what it may do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifiedCredential {
    /// The key's workspace.
    pub workspace_id: String,
    /// `live` or `test`.
    pub environment: String,
    /// Who it acts for.
    pub principal: Principal,
    /// The public key id.
    pub key_id: String,
    /// Effective scopes: the key's scopes that its service account's role bindings grant.
    pub scopes: Vec<String>,
    /// Clusters the key is narrowed to; empty means every cluster of its environment.
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    /// Empty means unrestricted.
    #[serde(default)]
    pub check_group_ids: Vec<String>,
    /// Empty means unrestricted.
    #[serde(default)]
    pub alert_route_ids: Vec<String>,
    /// The key is past `rotate_after`: replace it.
    #[serde(default)]
    pub rotation_due: bool,
    /// RFC 3339.
    pub expires_at: String,
}
