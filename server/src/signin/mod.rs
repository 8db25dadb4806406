//! Sign-in federated to a workspace's SSO connections, the users it creates and their sessions.
//!
//! - [`flow`]: `GET /v1/sso/login` sends the browser to the identity provider; `GET
//!   /oauth2/callback` takes it back, and on success creates the user's session.
//! - [`oidc`]: the OpenID Connect relying party (discovery, keys, code exchange, ID token
//!   validation); [`connectors`]: what each vendor's tokens mean.
//! - [`connection_test`]: `POST /v1/sso-connections/{id}/test`, a sign-in round trip that
//!   reports the claims it received and creates nothing.
//! - [`saml`]: SAML 2.0 sign-in (`kind = "saml"`): the AuthnRequest, the assertion consumer
//!   `POST /v1/sso/saml/acs`, SP metadata; verification is the `statuspulse-saml` crate's.
//! - [`sessions`]: `GET /v1/me`, `GET /v1/sessions`, `DELETE /v1/sessions/{id}`,
//!   `POST /v1/sessions/revoke-all`.
//! - [`users`]: a user is created or updated at each sign-in.
//!
//! Authentication of later requests by the session cookie is `authn::session`'s.

pub mod connection_test;
pub mod connectors;
pub mod flow;
pub mod oidc;
mod pages;
pub mod saml;
pub mod sessions;
pub mod users;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(flow::login))
        .routes(routes!(flow::callback))
        .routes(routes!(saml::metadata))
        .routes(routes!(connection_test::start_test))
        .routes(routes!(saml::acs))
        .routes(routes!(sessions::me))
        .routes(routes!(
            sessions::list_sessions,
            sessions::create_key_session
        ))
        .routes(routes!(sessions::revoke_session))
        .routes(routes!(sessions::revoke_all))
}

/// Who the identity provider says signed in, verified (an ID token's claims or a SAML
/// assertion's subject and attributes).
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The ID token's `amr` (empty for SAML).
    pub amr: Vec<String>,
    /// The ID token's `acr`, or the SAML `AuthnContextClassRef`.
    pub acr: Option<String>,
}

/// Why a sign-in did not happen. The code is stable (audit `reason`, the problem's `code`);
/// the detail tells the person what to do, and never holds a token or a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
    pub status: StatusCode,
}

impl Refusal {
    /// The request itself is wrong (state, return_to, parameters): 400.
    pub fn request(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// The identity provider's token is not acceptable: 401.
    pub fn token(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            status: StatusCode::UNAUTHORIZED,
        }
    }

    /// The person is who they say, but this connection does not let them in: 403.
    pub fn policy(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            status: StatusCode::FORBIDDEN,
        }
    }

    /// The identity provider failed or misbehaved: 502.
    pub fn idp(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            status: StatusCode::BAD_GATEWAY,
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            status: StatusCode::NOT_FOUND,
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(error = %detail, "sign-in failed inside the server");
        Self {
            code: "internal_error",
            detail: "the sign-in failed inside the server; try again".to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer for a browser (a page that says why) or, when the client asks for JSON, a
    /// problem document.
    pub fn answer(&self, headers: &HeaderMap) -> Response {
        if wants_json(headers) {
            let mut problem = ApiError::new(self.status, self.code, self.detail.clone());
            if self.status == StatusCode::TOO_MANY_REQUESTS {
                problem = problem.with_retry_after(60);
            }
            return problem.into_response();
        }
        pages::failure(self.status, self.code, &self.detail)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::internal(format!("database: {e}"))
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal {
            code: "sign_in_unavailable",
            detail: "sign-in cannot be completed right now; try again".to_owned(),
            status: e.status(),
        }
    }
}

/// Whether the client prefers JSON to a page (API clients, tests); browsers send `text/html`.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.contains("text/html"))
}
