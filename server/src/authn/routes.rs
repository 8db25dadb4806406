//! `GET /v1/auth/verify`: "is this credential valid, and may it do X?"

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::Caller;
use crate::management::validate;
use crate::platform::clock::rfc3339;
pub use statuspulse_api::v1::{Principal, VerifiedCredential};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_credential))
}

/// Optional authorization questions; without them the answer is authentication only.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// A scope the request needs, for example `write:checks`.
    pub scope: Option<String>,
    /// `live` or `test`: the environment the request targets.
    pub environment: Option<String>,
    /// An environment cluster (for example `eu-prod-1`) the request targets.
    pub cluster: Option<String>,
    /// The check group the request touches.
    pub check_group_id: Option<String>,
    /// The alert route the request touches.
    pub alert_route_id: Option<String>,
}

/// Authenticate the request's own `Authorization` header and, with query parameters, decide
/// whether it may do something: 200 yes, 401 not authenticated, 403 not allowed, 429 limited.
#[utoipa::path(get, path = "/v1/auth/verify", tag = "verification", params(VerifyQuery),
    responses((status = 200, body = VerifiedCredential), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 429, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn verify_credential(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<VerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    // Verification is about the request's Bearer credential; a session cookie is not one (a
    // gateway forwarding a browser's cookies must not turn them into an answer here).
    let c = match &caller.principal {
        crate::authn::Principal::ApiKey(c) => c,
        crate::authn::Principal::AccessToken(token) => return verify_token(token, &query),
        crate::authn::Principal::Session(_) | crate::authn::Principal::KeySession(_) => {
            return Err(ApiError::unauthenticated(
                "missing_credential",
                "verification checks the request's `Authorization: Bearer` credential; a \
                 session cookie is not one",
            ))
        }
    };
    if let Some(environment) = &query.environment {
        let environment =
            validate::environment(environment).map_err(|e| e.with_field("environment"))?;
        if environment != c.environment {
            return Err(ApiError::forbidden(
                "environment_mismatch",
                format!("the key belongs to the {} environment", c.environment),
            ));
        }
    }
    if let Some(cluster) = &query.cluster {
        c.access
            .check_cluster(cluster, c.environment, &c.environment_clusters)
            .map_err(|denial| {
                ApiError::forbidden(
                    denial.code(),
                    format!("the key may not act in cluster `{cluster}`"),
                )
            })?;
    }
    if let Some(scope) = &query.scope {
        let scope: Scope = scope.parse().map_err(|_| {
            ApiError::bad_request("unknown_scope", format!("unknown scope `{scope}`"))
                .with_field("scope")
        })?;
        // In a cluster, only the bindings that reach it count.
        let granted = match &query.cluster {
            Some(cluster) => c
                .access
                .effective(&c.scopes, c.environment, Some(cluster))
                .grants(scope),
            None => c.effective_scopes.grants(scope),
        };
        if !granted {
            let detail = if c.scopes.grants(scope) {
                format!("the key holds `{scope}`, but its service account's role bindings do not grant it here")
            } else {
                format!("the key lacks `{scope}`")
            };
            return Err(ApiError::forbidden("insufficient_scope", detail));
        }
    }
    for (field, asked, allowed, code) in [
        (
            "check_group_id",
            &query.check_group_id,
            &c.check_group_ids,
            "check_group_not_allowed",
        ),
        (
            "alert_route_id",
            &query.alert_route_id,
            &c.alert_route_ids,
            "alert_route_not_allowed",
        ),
    ] {
        if let Some(asked) = asked {
            if !allowed.is_empty() && !allowed.contains(asked) {
                return Err(ApiError::forbidden(
                    code,
                    format!("the key is restricted and `{asked}` is not among its {field}s"),
                ));
            }
        }
    }
    let now = state.clock.now_ms();
    let rotation_due =
        c.status(now) == statuspulse_api::key::KeyStatus::Active && now >= c.rotate_after;
    let answer = c.rendered_answer[usize::from(rotation_due)]
        .get_or_try_init(|| render(c, rotation_due))
        .map_err(ApiError::internal)?;
    // Clones of this thread's copy: reference counts no other core touches, and a header map
    // copied whole instead of rebuilt (no header name is hashed per request).
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.headers_mut() = answer.headers.clone();
    Ok(response)
}

/// The answer for an access token: the same shape, principal `user`. A token carries its scopes
/// but not the clusters its user's bindings reach, so a cluster question is refused (ask with
/// an API key, or without `cluster`); a token is not confined to an environment or to check
/// groups and alert routes beyond its scopes.
fn verify_token(
    token: &crate::authn::access_token::TokenPrincipal,
    query: &VerifyQuery,
) -> ApiResult<Response> {
    if let Some(environment) = &query.environment {
        validate::environment(environment).map_err(|e| e.with_field("environment"))?;
    }
    if query.cluster.is_some() {
        return Err(ApiError::forbidden(
            "cluster_not_allowed",
            "an access token does not say which clusters its user's bindings reach",
        ));
    }
    if let Some(scope) = &query.scope {
        let scope: Scope = scope.parse().map_err(|_| {
            ApiError::bad_request("unknown_scope", format!("unknown scope `{scope}`"))
                .with_field("scope")
        })?;
        if !token.grants(scope) {
            return Err(ApiError::forbidden(
                "insufficient_scope",
                format!("the token was not granted `{scope}`"),
            ));
        }
    }
    let answer = token
        .rendered
        .get_or_try_init(|| render_token(token))
        .map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.headers_mut() = answer.headers.clone();
    Ok(response)
}

/// The verify answer of an access token, with the identity headers gateways read.
fn render_token(
    token: &crate::authn::access_token::TokenPrincipal,
) -> Result<RenderedAnswer, serde_json::Error> {
    let kind = if token.service_account_id.is_some() {
        "service_account"
    } else {
        "user"
    };
    let answer = VerifiedCredential {
        workspace_id: token.workspace_id.clone(),
        environment: "live".to_owned(),
        principal: Principal {
            kind: kind.to_owned(),
            id: token.subject.clone(),
        },
        key_id: String::new(),
        client_id: Some(token.client_id.clone()),
        session_id: token.session_id.clone(),
        scopes: token.scopes.names(),
        environment_clusters: Vec::new(),
        check_group_ids: Vec::new(),
        alert_route_ids: Vec::new(),
        rotation_due: false,
        expires_at: rfc3339(token.expires_at_secs.saturating_mul(1000)),
    };
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let principal = format!("{kind}:{}", token.subject);
    for (name, value) in [
        ("x-statuspulse-workspace", answer.workspace_id.as_str()),
        ("x-statuspulse-principal", principal.as_str()),
        ("x-statuspulse-scopes", &answer.scopes.join(" ")),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(RenderedAnswer {
        body: serde_json::to_vec(&answer)?.into(),
        headers,
    })
}

/// A verify answer ready to send: the JSON body, and the identity as headers for gateways that
/// cannot read bodies (nginx `auth_request` passes them on with `auth_request_set`).
#[derive(Clone, Debug)]
pub struct RenderedAnswer {
    body: bytes::Bytes,
    headers: HeaderMap,
}

fn render(
    c: &crate::authn::Credential,
    rotation_due: bool,
) -> Result<RenderedAnswer, serde_json::Error> {
    let answer = VerifiedCredential {
        workspace_id: c.workspace_id.clone(),
        environment: c.environment.to_string(),
        principal: match &c.service_account_id {
            Some(sa) => Principal {
                kind: "service_account".to_owned(),
                id: sa.clone(),
            },
            None => Principal {
                kind: "api_key".to_owned(),
                id: c.id.clone(),
            },
        },
        key_id: c.key_id.to_string(),
        client_id: None,
        session_id: None,
        scopes: c.effective_scopes.names(),
        environment_clusters: c.environment_clusters.clone(),
        check_group_ids: c.check_group_ids.clone(),
        alert_route_ids: c.alert_route_ids.clone(),
        rotation_due,
        expires_at: rfc3339(c.expires_at),
    };
    // Room for the two rate-limit headers added on the way out, so they never regrow the map.
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let principal = format!("{}:{}", answer.principal.kind, answer.principal.id);
    for (name, value) in [
        ("x-statuspulse-workspace", answer.workspace_id.as_str()),
        ("x-statuspulse-key-id", answer.key_id.as_str()),
        ("x-statuspulse-principal", principal.as_str()),
        ("x-statuspulse-environment", answer.environment.as_str()),
        ("x-statuspulse-scopes", &answer.scopes.join(" ")),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(RenderedAnswer {
        body: serde_json::to_vec(&answer)?.into(),
        headers,
    })
}
