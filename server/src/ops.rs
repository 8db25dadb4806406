//! Health, readiness, metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// Operations routes: not part of the API's OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    #[cfg(feature = "test-clock")]
    let router = router.route("/_test/clock", axum::routing::post(advance_clock));
    router
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Readiness: the database answers too.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.db.ping().await {
        (StatusCode::OK, axum::Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "database unreachable"})),
        )
    }
}

async fn metrics(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, crate::error::ApiError> {
    let text = state
        .metrics
        .render()
        .map_err(|e| crate::error::ApiError::internal(anyhow::anyhow!("rendering metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document().clone())
}

/// Moves the server's clock forward: `{"advance_seconds": N}`. Compiled only with the
/// `test-clock` feature, and refused unless the server runs on a controllable clock.
#[cfg(feature = "test-clock")]
async fn advance_clock(
    State(state): State<AppState>,
    crate::http::Json(body): crate::http::Json<serde_json::Value>,
) -> Result<axum::Json<serde_json::Value>, crate::error::ApiError> {
    let seconds = body
        .get("advance_seconds")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            crate::error::ApiError::invalid(
                "advance_seconds",
                "invalid_field",
                "a whole number of seconds",
            )
        })?;
    if !state.clock.advance(std::time::Duration::from_secs(seconds)) {
        return Err(crate::error::ApiError::forbidden(
            "clock_fixed",
            "this server runs on the system clock",
        ));
    }
    Ok(axum::Json(
        json!({"now": crate::platform::clock::rfc3339(state.clock.now_ms())}),
    ))
}
