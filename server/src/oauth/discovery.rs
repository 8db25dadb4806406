//! Discovery: the OpenID provider metadata ("Download OIDC Metadata" is this document), its
//! RFC 8414 twin, and the JWKS with every key a live token may name, next key included.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::authn::signing::{SigningAlg, JWKS_MAX_AGE_SECS};
use crate::error::ApiError;

fn metadata(state: &AppState) -> Value {
    let issuer = super::issuer(state);
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token",
            statuspulse_api::v1::workload_identities::TOKEN_EXCHANGE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": statuspulse_api::scopes::OAUTH_SCOPES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name", "groups", "workspace_id"],
        "subject_types_supported": ["public"],
        // Each client's tokens are signed with its `signing_alg`; both are always verifiable.
        "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

fn cached_json(value: &Value, max_age_secs: i64) -> Response {
    let mut response = axum::Json(value).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age_secs}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

/// OpenID Connect discovery.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "OpenID provider metadata")))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    cached_json(&metadata(&state), 3600)
}

/// RFC 8414 authorization server metadata (the same document).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "OAuth 2.0 authorization server metadata")))]
pub async fn authorization_server_metadata(State(state): State<AppState>) -> Response {
    cached_json(&metadata(&state), 3600)
}

/// The public keys of our tokens: the key signing now, the next ones (published a rotation
/// period before they sign) and retired ones until every token they signed has expired.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "JSON Web Key Set"), (status = 503, body = crate::error::Problem)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let now = state.clock.now_ms();
    match state
        .access_tokens
        .ring
        .fresh(state.db.pool(), state.master_keys.as_deref(), now)
        .await
    {
        Ok(ring) => cached_json(&ring.jwks(), JWKS_MAX_AGE_SECS),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signing_keys_unavailable",
            format!("the signing keys cannot be read: {e}"),
        )
        .into_response(),
    }
}
