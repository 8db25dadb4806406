//! `/v1/service-accounts`.

use serde::{Deserialize, Serialize};

/// An identity for automation; its keys act with what its role bindings grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceAccount {
    /// `sa_…`.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// `POST /v1/service-accounts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    /// Unique in the workspace.
    pub name: String,
    /// Free text (default empty).
    #[serde(default)]
    pub description: String,
}

/// `PATCH /v1/service-accounts/{id}`: absent fields stay.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccount {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
