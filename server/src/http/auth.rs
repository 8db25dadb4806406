//! The `Caller` extractor: who is making this request, refused with the right answer (and an
//! audit event) when nobody valid is.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::json;

use crate::audit::{Actor, NewEvent, Outcome, SYSTEM_CHAIN};
use crate::error::ApiError;
use crate::rate_limit::Decision;
use crate::scopes::Scope;
use crate::state::AppState;
use crate::verify::{AuthFailure, Credential};

/// An authenticated, rate-limit-admitted API key.
#[derive(Clone, Debug)]
pub struct Caller {
    pub credential: Arc<Credential>,
}

impl Caller {
    pub fn workspace_id(&self) -> &str {
        &self.credential.workspace_id
    }

    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            key_id: self.credential.key_id.to_string(),
        }
    }

    /// Refuses with 403 unless the caller's scopes grant `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.credential.effective_scopes.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                format!("this route needs the `{scope}` scope"),
            ))
        }
    }
}

tokio::task_local! {
    /// Where the `Caller` extractor leaves the request's rate-limit decision, for the
    /// `rate_limit_headers` middleware to turn into headers on whatever the answer is. A
    /// task-local rather than a request extension: no allocation per request.
    pub static RATE_LIMIT_DECISION: RefCell<Option<Decision>>;
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated(
                "missing_credential",
                "send the API key as `Authorization: Bearer <key>`",
            ));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "invalid_authorization_scheme",
                    "use the Bearer scheme: `Authorization: Bearer <key>`",
                )
            })?;

        let verification = state.authenticator.verify(presented).await;
        let credential = match verification.verdict {
            Ok(credential) => credential,
            Err(failure) => {
                let workspace = verification
                    .known
                    .as_ref()
                    .map_or(SYSTEM_CHAIN.to_owned(), |c| c.workspace_id.clone());
                let key_id = verification
                    .key_id
                    .as_ref()
                    .or(verification.known.as_ref().map(|c| &c.key_id))
                    .map(|k| k.to_string());
                let target = verification
                    .known
                    .as_ref()
                    .map(|c| ("api_key", c.id.clone()));
                // Boxed, like every slow path here: it keeps the extractor's future small.
                Box::pin(record_failure(
                    state,
                    parts,
                    &workspace,
                    key_id,
                    target,
                    failure.reason(),
                ))
                .await;
                state
                    .metrics
                    .verifications
                    .get_or_create(&crate::metrics::OutcomeLabels {
                        outcome: failure.reason(),
                    })
                    .inc();
                return Err(failure_answer(&failure));
            }
        };

        let decision = state
            .rate_limiter
            .check(&credential.rate_limit_tier, &credential.key_id)
            .await;
        let allowed = decision.allowed();
        let retry_after = decision.retry_after_secs;
        // Outside the middleware (no slot) there is simply no header to write.
        let _ = RATE_LIMIT_DECISION.try_with(|slot| *slot.borrow_mut() = Some(decision));
        if !allowed {
            Box::pin(record_failure(
                state,
                parts,
                &credential.workspace_id,
                Some(credential.key_id.to_string()),
                Some(("api_key", credential.id.clone())),
                "rate_limited",
            ))
            .await;
            state
                .metrics
                .verifications
                .get_or_create(&crate::metrics::OutcomeLabels {
                    outcome: "rate_limited",
                })
                .inc();
            return Err(ApiError::rate_limited(retry_after.unwrap_or(1)));
        }
        state.metrics.verified_ok.inc();
        Ok(Caller { credential })
    }
}

fn failure_answer(failure: &AuthFailure) -> ApiError {
    match failure {
        AuthFailure::Malformed(e) => {
            ApiError::unauthenticated("malformed_credential", e.to_string())
        }
        // One answer for both: whether a key id exists is not the guesser's business.
        AuthFailure::UnknownKey | AuthFailure::WrongSecret => {
            ApiError::unauthenticated("invalid_credential", "the API key is not valid")
        }
        AuthFailure::Revoked => {
            ApiError::unauthenticated("revoked_credential", "the API key has been revoked")
        }
        AuthFailure::Expired => {
            ApiError::unauthenticated("expired_credential", "the API key has expired")
        }
        AuthFailure::TooManyFailedAttempts { retry_after_secs } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_attempts",
            "too many failed attempts with this key id; wait before trying again",
        )
        .with_retry_after(*retry_after_secs),
        AuthFailure::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "credential_store_unavailable",
            "credentials cannot be checked right now; retry shortly",
        ),
    }
}

/// Queues an `auth.failed` audit event. Never includes the presented secret.
pub async fn record_failure(
    state: &AppState,
    parts: &Parts,
    workspace_id: &str,
    key_id: Option<String>,
    target: Option<(&'static str, String)>,
    reason: &str,
) {
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| parts.uri.path().to_owned(), |m| m.as_str().to_owned());
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let event = NewEvent {
        workspace_id: workspace_id.to_owned(),
        event_type: "auth.failed",
        actor: Actor::Anonymous,
        target,
        outcome: Outcome::Failure,
        reason: Some(reason.to_owned()),
        details: json!({
            "key_id": key_id,
            "method": parts.method.as_str(),
            "route": route,
            "source_ip": source_ip,
        }),
    };
    state.audit.record(event).await;
}
