//! `GET /v1/scopes`: the scope catalog.

use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::Caller;
use crate::scopes::{Scope, ScopeKind};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/scopes", get(list_scopes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: ScopeKind,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeCatalog {
    pub items: Vec<ScopeInfo>,
}

/// The scope catalog; readable with any valid key.
#[utoipa::path(get, path = "/v1/scopes", tag = "scopes",
    responses((status = 200, body = ScopeCatalog)), security(("bearer" = [])))]
pub async fn list_scopes(_caller: Caller) -> axum::Json<ScopeCatalog> {
    axum::Json(ScopeCatalog {
        items: Scope::ALL
            .iter()
            .map(|s| ScopeInfo {
                name: s.as_str(),
                description: s.description(),
                kind: s.kind(),
            })
            .collect(),
    })
}
