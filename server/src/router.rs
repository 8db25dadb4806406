//! The one route registry: every feature's routes, merged, and the middleware around them.

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::ApiError;

/// Every route of the server, each registered once with its OpenAPI entry (`routes!` reads the
/// handler's `#[utoipa::path]`): the router and the OpenAPI document cannot disagree.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(crate::ops::router())
        .merge(crate::authn::router())
        .merge(crate::management::workspaces::router())
        .merge(crate::management::service_accounts::router())
        .merge(crate::management::api_keys::router())
        .merge(crate::audit::router())
        .merge(crate::management::environment_clusters::router())
        .merge(crate::management::role_bindings::router())
        .merge(crate::management::effective_access::router())
        .merge(crate::management::scope_catalog::router())
}

/// The application: [`routes`] wrapped in the cross-cutting middleware.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes().split_for_parts();
    routes
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::http::middleware::record_request,
        ))
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such route",
            )
        })
        .layer(from_fn(crate::http::middleware::rate_limit_headers))
        .layer(from_fn_with_state(
            state.clone(),
            crate::http::middleware::screen_request,
        ))
        .layer(from_fn(crate::http::middleware::errors_as_problem_details))
        .with_state(state)
}
