//! StatusPulse as an OAuth 2.0 / OpenID Connect authorization server for its own clients.
//!
//! - [`discovery`]: `/.well-known/openid-configuration` (and RFC 8414's
//!   `/.well-known/oauth-authorization-server`), `/.well-known/jwks.json`.
//! - [`keys`]: the rotation job of the signing keys (`authn::signing` holds the keys and signs).
//! - [`clients`] serves `/v1/oauth-clients`.
//! - [`authorize`]: `/oauth2/authorize`, standing on the sign-in sessions of `signin/`.
//! - [`token`]: `/oauth2/token` (authorization code with PKCE S256, refresh with rotation and
//!   reuse detection), `/oauth2/revoke` (RFC 7009), `/oauth2/introspect` (RFC 7662),
//!   `/oauth2/userinfo`.
//!
//! Access tokens are JWTs (RFC 9068) that `/v1/auth/verify` and every Bearer route accept beside
//! API keys (`authn::access_token`). Scopes are negotiated: what the client asked ∩ what it may
//! have ∩ what the user's group bindings grant, narrowed by conditional access
//! (`authz::conditional`, at authorization and at every refresh), and the token answer says which
//! were granted.

pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod exchange;
pub mod keys;
pub mod token;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::authz::scopes::Scopes;
use statuspulse_api::v1::PolicyWithholding;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(discovery::authorization_server_metadata))
        .routes(routes!(discovery::jwks))
        .routes(routes!(authorize::authorize))
        .routes(routes!(token::token))
        .routes(routes!(token::revoke))
        .routes(routes!(token::introspect))
        .routes(routes!(token::userinfo))
}

/// The routes that create (`POST /v1/oauth-clients`): they pass the idempotency middleware.
pub fn creating_router() -> OpenApiRouter<AppState> {
    clients::router()
}

/// Our issuer identifier: the public URL.
pub fn issuer(state: &AppState) -> String {
    state.public_url()
}

/// The body of an OAuth error (RFC 6749 §5.2), for the document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope` or `server_error`.
    pub error: String,
    /// What is wrong, for the developer.
    pub error_description: String,
}

/// An OAuth error answer (RFC 6749 §5.2): JSON `{error, error_description}`, never cached.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }

    pub fn server(description: impl Into<String>) -> Self {
        let description = description.into();
        tracing::error!(error = %description, "the OAuth server failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "the authorization server failed; try again".to_owned(),
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::server(format!("database: {e}"))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(&mut response);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"statuspulse\""),
            );
        }
        response
    }
}

/// Token answers and errors are never cached (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Scope negotiation: of `asked`, the OAuth scopes the client may have and whose catalog scopes
/// the user holds (`held`). Sorted, no duplicates.
pub fn negotiate(asked: &[String], client_allowed: &[String], held: &Scopes) -> Vec<String> {
    let mut granted: Vec<String> = asked
        .iter()
        .filter(|s| client_allowed.contains(s))
        .filter(|s| {
            statuspulse_api::scopes::oauth_scope(s)
                .is_some_and(|catalog| catalog.iter().all(|c| held.grants(*c)))
        })
        .cloned()
        .collect();
    granted.sort();
    granted.dedup();
    granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::scopes::Scope;

    #[test]
    fn granted_scopes_are_what_was_asked_the_client_may_have_and_the_user_holds() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let held: Scopes = [Scope::ReadChecks, Scope::ReadAlerts].into_iter().collect();
        let asked = s(&[
            "openid",
            "statuspulse:checks:read",
            "statuspulse:alerts:manage",
            "email",
        ]);
        let allowed = s(&[
            "openid",
            "statuspulse:checks:read",
            "statuspulse:alerts:manage",
        ]);
        // alerts:manage needs write:alerts too; email is not allowed for the client.
        assert_eq!(
            negotiate(&asked, &allowed, &held),
            s(&["openid", "statuspulse:checks:read"])
        );
        let admin: Scopes = [Scope::AdminAll].into_iter().collect();
        assert_eq!(
            negotiate(&asked, &allowed, &admin),
            s(&[
                "openid",
                "statuspulse:alerts:manage",
                "statuspulse:checks:read"
            ])
        );
        assert!(negotiate(&s(&["made:up"]), &s(&["made:up"]), &admin).is_empty());
    }
}

/// An OAuth `error_description` for scopes conditional access withheld: the first policy and
/// the kind of condition it found unmet, and how many more. Not the condition's values: a client
/// application (and whoever holds the browser) must not learn the workspace's networks, groups or
/// clients from a refusal; `/v1/effective-access` and the audit log tell an administrator.
pub fn withheld_description(withheld: &[PolicyWithholding]) -> String {
    let Some(first) = withheld.first() else {
        return String::new();
    };
    let mut text = format!(
        "conditional access policy `{}` withholds `{}` (unmet condition: {})",
        first.policy_name, first.scope, first.condition
    );
    if withheld.len() > 1 {
        text.push_str(&format!(" (and {} more)", withheld.len() - 1));
    }
    text
}

/// Withheld scopes for an audit event: scope, policy and condition (the detail is left out: it
/// repeats the event's own source address and region).
pub fn withheld_for_audit(withheld: &[PolicyWithholding]) -> serde_json::Value {
    withheld
        .iter()
        .map(|w| json!({"scope": w.scope, "policy_id": w.policy_id, "policy_name": w.policy_name, "condition": w.condition}))
        .collect()
}

/// Confidential clients' secrets already checked with Argon2, by client: the SHA-256 of the
/// secret and the PHC string it matched. A refresh then costs a hash, not an Argon2 run; a
/// changed PHC (the client was deleted and re-created) is checked afresh.
#[derive(Debug, Default)]
pub struct ClientSecrets {
    verified: dashmap::DashMap<String, ([u8; 32], String)>,
}

/// Clients remembered at most; beyond, the oldest half is forgotten.
const MAX_REMEMBERED_CLIENTS: usize = 10_000;

impl ClientSecrets {
    pub async fn matches(
        &self,
        client_id: &str,
        phc: &str,
        secret: &str,
        authenticator: &crate::authn::Authenticator,
    ) -> bool {
        use sha2::{Digest as _, Sha256};
        use subtle::ConstantTimeEq as _;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if let Some(entry) = self.verified.get(client_id) {
            if entry.1 == phc {
                return bool::from(entry.0.ct_eq(&digest));
            }
        }
        let ok = authenticator
            .secret_matches(phc.to_owned(), zeroize::Zeroizing::new(secret.to_owned()))
            .await;
        if ok {
            if self.verified.len() >= MAX_REMEMBERED_CLIENTS {
                self.verified.clear();
            }
            self.verified
                .insert(client_id.to_owned(), (digest, phc.to_owned()));
        }
        ok
    }
}
