//! `/v1/environment-clusters`.

use serde::{Deserialize, Serialize};

/// A named part of an environment (a region, a cell) that keys and bindings can be confined to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvironmentCluster {
    /// `ec_…`.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace_id: String,
    /// Unique in the workspace and immutable.
    pub name: String,
    /// `live` or `test`; immutable.
    pub environment: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// `POST /v1/environment-clusters`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironmentCluster {
    /// Unique in the workspace.
    pub name: String,
    /// `live` or `test`.
    pub environment: String,
    /// Free text (default empty).
    #[serde(default)]
    pub description: String,
}

/// `PATCH /v1/environment-clusters/{id}`: only the description changes in place.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateEnvironmentCluster {
    /// New description.
    pub description: String,
}
