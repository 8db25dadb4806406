//! `GET /v1/scopes`: the scope catalog.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::authz::scopes::{Scope, ScopeKind};
use crate::http::Caller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_scopes))
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
