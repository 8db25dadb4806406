//! Testing an SSO connection: `POST /v1/sso-connections/{id}/test` (the console's "Test
//! connection").
//!
//! A test is a real sign-in round trip through the connection (the same state row bound to the
//! browser, PKCE, nonce, ID token or SAML assertion verification, assertion replay cache), begun
//! by someone holding `admin:sso` in the connection's workspace. Its state row records who began
//! it, and that turns the return ([`super::flow::conclude`]) into a report: the claims the
//! identity provider sent, whether they prove multi-factor authentication, the StatusPulse groups
//! the mappings give, and whether the connection's rules would admit the person, or why not.
//! It creates no user and no session, and sets no session cookie; it is audited as
//! `sso_connection.tested` with the tester as actor.
//!
//! The answer to the start sets the browser's sign-in cookie (if it has none) and gives the
//! identity provider's URL: the test completes in the browser that made the request, as a
//! sign-in does. The console makes the request with `fetch` and then opens the URL.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::flow::{self, Pending, Verified};
use super::{pages, Refusal};
use crate::app::AppState;
use crate::audit::{Actor, EventType, NewEvent, Outcome};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{Caller, Json};
use crate::management::sso_connections;
use crate::platform::clock::rfc3339;
use statuspulse_api::v1::{
    SsoConnection, SsoConnectionTestResult, SsoConnectionTestStarted, StartSsoConnectionTest,
    TestedClaims,
};

/// Where the result page links back to when the request names no `return_to`.
pub const DEFAULT_RETURN_TO: &str = "/console/settings/security/sso";

/// Start a test sign-in through an SSO connection: the answer gives the identity provider's URL
/// to open in the browser that made the request. Its return reports the claims received and
/// what the connection's rules make of them; it creates no user and no session.
#[utoipa::path(post, path = "/v1/sso-connections/{id}/test", tag = "sso",
    params(("id" = String, Path)), request_body = StartSsoConnectionTest,
    responses(
        (status = 200, body = SsoConnectionTestStarted,
            description = "Open `authorization_url` in this browser; it carries the sign-in \
                cookie this answer sets"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn start_test(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<StartSsoConnectionTest>,
) -> ApiResult<Response> {
    caller.require(Scope::AdminSso)?;
    let return_to = flow::return_to(Some(body.return_to.as_deref().unwrap_or(DEFAULT_RETURN_TO)))
        .map_err(|r| ApiError::invalid("return_to", r.code, r.detail))?;
    let signin = sso_connections::load_for_sign_in(&state, caller.workspace_id(), &id).await?;
    let begun = flow::begin(
        &state,
        &headers,
        &signin,
        &return_to,
        None,
        Some(&caller.actor()),
    )
    .await
    .map_err(|r| ApiError::new(r.status, r.code, r.detail))?;
    let started = SsoConnectionTestStarted {
        authorization_url: begun.url,
        expires_at: rfc3339(begun.expires_at),
    };
    let mut response = (StatusCode::OK, axum::Json(started)).into_response();
    if let Some(cookie) = &begun.cookie {
        flow::set_cookie(&mut response, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The return of a test: what was found, audited, as a page (or JSON to a client that asks).
pub async fn report(
    state: &AppState,
    parts: &Parts,
    pending: &Pending,
    tester: Actor,
    verified: Result<Verified, Refusal>,
) -> Response {
    let result = match verified {
        Ok(verified) => examine(&verified),
        Err(refusal) => {
            let connection = sso_connections::view_in_workspace(
                state,
                &pending.workspace_id,
                &pending.connection_id,
            )
            .await
            .ok();
            failed(&pending.connection_id, connection.as_ref(), &refusal)
        }
    };
    let admitted = result.outcome == WOULD_SIGN_IN;
    let claims = result.claims.as_ref();
    let event = NewEvent {
        outcome: if admitted {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        reason: result.code.clone(),
        ..NewEvent::success(
            &pending.workspace_id,
            EventType::SsoConnectionTested,
            tester,
        )
        .target("sso_connection", &pending.connection_id)
        .details(json!({
            "outcome": result.outcome,
            "code": result.code,
            "subject": claims.map(|c| &c.subject),
            "email": claims.and_then(|c| c.email.as_ref()),
            "idp_groups": claims.map(|c| &c.idp_groups),
            "groups": result.groups,
            "mfa": result.mfa,
            "amr": claims.map(|c| &c.amr),
            "acr": claims.and_then(|c| c.acr.as_ref()),
        }))
    };
    state.audit.store_durably(event).await;
    if super::wants_json(&parts.headers) {
        let mut response = axum::Json(&result).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    pages::test_result(&result, &pending.return_to)
}

const WOULD_SIGN_IN: &str = "would_sign_in";

/// A verified identity, put to the connection's rules.
fn examine(verified: &Verified) -> SsoConnectionTestResult {
    let Verified {
        connection,
        identity,
        mfa,
    } = verified;
    let claims = TestedClaims {
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        name: identity.name.clone(),
        idp_groups: identity.groups.clone(),
        amr: identity.amr.clone(),
        acr: identity.acr.clone(),
    };
    let (outcome, refusal) = match flow::admit(connection, identity, *mfa) {
        Ok(_) => (WOULD_SIGN_IN, None),
        Err(refusal) => ("would_be_refused", Some(refusal)),
    };
    SsoConnectionTestResult {
        connection_id: connection.id.clone(),
        kind: connection.kind.clone(),
        outcome: outcome.to_owned(),
        code: refusal.as_ref().map(|r| r.code.to_owned()),
        detail: refusal.map(|r| r.detail),
        claims: Some(claims),
        mfa: *mfa,
        mfa_required: connection.require_mfa,
        groups: flow::mapped_groups(connection, identity),
    }
}

/// No verified identity came back.
fn failed(
    connection_id: &str,
    connection: Option<&SsoConnection>,
    refusal: &Refusal,
) -> SsoConnectionTestResult {
    SsoConnectionTestResult {
        connection_id: connection_id.to_owned(),
        kind: connection.map(|c| c.kind.clone()).unwrap_or_default(),
        outcome: "failed".to_owned(),
        code: Some(refusal.code.to_owned()),
        detail: Some(refusal.detail.clone()),
        claims: None,
        mfa: false,
        mfa_required: connection.is_some_and(|c| c.require_mfa),
        groups: Vec::new(),
    }
}
