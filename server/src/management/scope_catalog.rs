//! `GET /v1/scopes`: the scope catalog.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::authz::scopes::Scope;
use crate::http::Caller;
pub use statuspulse_api::v1::{ScopeCatalog, ScopeInfo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_scopes))
}

/// The scope catalog; readable with any valid key.
#[utoipa::path(get, path = "/v1/scopes", tag = "scopes",
    responses((status = 200, body = ScopeCatalog)), security(("bearer" = [])))]
pub async fn list_scopes(_caller: Caller) -> axum::Json<ScopeCatalog> {
    axum::Json(ScopeCatalog {
        items: Scope::ALL
            .iter()
            .map(|s| ScopeInfo {
                name: s.as_str().to_owned(),
                description: s.description().to_owned(),
                kind: s.kind(),
            })
            .collect(),
    })
}
