//! `/v1/role-bindings`.

use serde::{Deserialize, Serialize};

/// Scopes granted to a service account or an SSO group, optionally only in some clusters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleBinding {
    /// `rb_…`.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace_id: String,
    /// Set when the principal is a service account.
    #[serde(default)]
    pub service_account_id: Option<String>,
    /// Set when the principal is an SSO group.
    #[serde(default)]
    pub group: Option<String>,
    /// The scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Cluster names; empty means every cluster.
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// `POST /v1/role-bindings`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRoleBinding {
    /// The principal: exactly one of `service_account_id` and `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// An SSO group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The scopes to grant (at most what the caller holds).
    pub scopes: Vec<String>,
    /// Cluster names (default: every cluster).
    #[serde(default)]
    pub environment_clusters: Vec<String>,
}

/// `PATCH /v1/role-bindings/{id}`: the principal is fixed, scopes and clusters change in place.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleBinding {
    /// New scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_clusters: Option<Vec<String>>,
}
