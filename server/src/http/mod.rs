//! The HTTP layer: one router assembled from the feature modules, wrapped in the cross-cutting
//! middleware.

pub mod auth;
pub mod json;
mod middleware;
pub mod serve;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

pub use auth::Caller;
pub use json::Json;
pub use middleware::MAX_BODY_BYTES;

/// Every route of the server, each registered once with its OpenAPI entry (`routes!` reads the
/// handler's `#[utoipa::path]`): the router and the OpenAPI document cannot disagree.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(crate::ops::router())
        .merge(crate::verify::router())
        .merge(crate::workspaces::router())
        .merge(crate::service_accounts::router())
        .merge(crate::api_keys::router())
        .merge(crate::audit::router())
        .merge(crate::environment_clusters::router())
        .merge(crate::role_bindings::router())
        .merge(crate::access::router())
        .merge(crate::scopes_routes::router())
}

/// The application: [`routes`] wrapped in the cross-cutting middleware.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes().split_for_parts();
    routes
        .route_layer(from_fn_with_state(
            state.clone(),
            middleware::record_request,
        ))
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such route",
            )
        })
        .layer(from_fn(middleware::rate_limit_headers))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::screen_request,
        ))
        .layer(from_fn(middleware::errors_as_problem_details))
        .with_state(state)
}
