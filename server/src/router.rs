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
        .merge(other_routes())
        .merge(creating_routes())
}

/// The features whose `POST`s create: their routes pass the idempotency middleware.
fn creating_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::management::workspaces::router())
        .merge(crate::management::service_accounts::router())
        .merge(crate::management::access_policies::router())
        .merge(crate::management::anomaly_rules::router())
        .merge(crate::management::workload_identities::router())
        .merge(crate::management::api_keys::router())
        .merge(crate::management::environment_clusters::router())
        .merge(crate::management::role_bindings::router())
        .merge(crate::management::sso_connections::router())
        .merge(crate::audit::sinks::router())
        .merge(crate::oauth::creating_router())
}

/// Everything else, the verification hot path among them: no idempotency middleware to pass.
fn other_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::ops::router())
        .merge(crate::console::router())
        .merge(crate::authn::router())
        .merge(crate::audit::router())
        .merge(crate::management::effective_access::router())
        .merge(crate::management::scope_catalog::router())
        .merge(crate::signin::router())
        .merge(crate::oauth::router())
}

/// The creates (`POST` route templates) that honour `Idempotency-Key` (CONTRACT "Idempotency"):
/// each records its first answer in the transaction that creates (`http::Idempotency::record`).
pub const IDEMPOTENT_CREATES: &[&str] = &[
    "/v1/workspaces",
    "/v1/service-accounts",
    "/v1/api-keys",
    "/v1/api-keys/{id}/rotate",
    "/v1/environment-clusters",
    "/v1/role-bindings",
    "/v1/sso-connections",
    "/v1/oauth-clients",
    "/v1/access-policies",
    "/v1/workload-identities",
    "/v1/anomaly-rules",
    "/v1/audit-sinks",
];

/// The application: [`routes`] wrapped in the cross-cutting middleware.
pub fn router(state: AppState) -> Router {
    let (creating, _) = creating_routes().split_for_parts();
    let (others, _) = other_routes().split_for_parts();
    others
        .merge(creating.route_layer(from_fn_with_state(
            crate::http::idempotency::Layer {
                state: state.clone(),
                routes: IDEMPOTENT_CREATES,
            },
            crate::http::idempotency::layer,
        )))
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
