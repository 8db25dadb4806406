//! `GET /v1/auth/verify`: the answer a gateway acts on.

use serde::{Deserialize, Serialize};

/// Who the verified key acts for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    /// `service_account` when the key belongs to one, `api_key` for a workspace key, `user` for
    /// an OAuth access token.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service account's id, the key object's, or the user's.
    pub id: String,
}

/// A valid API key or access token, and what it may do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifiedCredential {
    /// The key's workspace.
    pub workspace_id: String,
    /// `live` or `test`.
    pub environment: String,
    /// Who it acts for.
    pub principal: Principal,
    /// The public key id (API keys only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
    /// The OAuth client the access token was issued to (access tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The sign-in session the access token stands on (access tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
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
    /// RFC 3339: when the key or token expires.
    pub expires_at: String,
}
