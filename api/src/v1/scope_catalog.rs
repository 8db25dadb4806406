//! `GET /v1/scopes`.

use serde::{Deserialize, Serialize};

use crate::scopes::ScopeKind;

/// One scope of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeInfo {
    /// `read:checks`, `admin:keys`, …
    pub name: String,
    /// What it allows.
    #[serde(default)]
    pub description: String,
    /// `read`, `write` or `admin`.
    pub kind: ScopeKind,
}

/// Every scope a key or binding may hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeCatalog {
    /// The scopes, in catalog order.
    pub items: Vec<ScopeInfo>,
}
