//! `/v1/workspaces`.

use serde::{Deserialize, Serialize};

use super::CreatedApiKey;

/// A tenant: every other object belongs to exactly one.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workspace {
    /// `ws_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Rate-limit tier of every key in the workspace (`standard` unless an operator changed it).
    pub rate_limit_tier: String,
    /// The operator workspace may create and administer others.
    pub operator: bool,
    /// Workspace policy: may service-account keys hold `admin:all`? (default false)
    pub allow_admin_all_for_service_accounts: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// `POST /v1/workspaces` (operator only).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Display name.
    pub name: String,
    /// Rate-limit tier (default `standard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_tier: Option<String>,
}

/// `PATCH /v1/workspaces/{id}`: absent fields stay.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Operator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_tier: Option<String>,
    /// The `admin:all` policy for service accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_admin_all_for_service_accounts: Option<bool>,
}

/// The answer to creating a workspace: it and its first admin key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionedWorkspace {
    /// The workspace.
    pub workspace: Workspace,
    /// Its admin key, shown once.
    pub admin_key: CreatedApiKey,
}
