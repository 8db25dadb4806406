//! The one error type of the HTTP boundary, rendered as RFC 9457 problem details.
//!
//! Every answer that is not a success goes through [`ApiError`], so clients can rely on one shape:
//! a stable machine-readable `code`, the `field` at fault where there is one, and a human `detail`.
//! Internal errors are logged once here and shown to the client only as `internal_error`.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use statuspulse_api::FieldError;
pub use statuspulse_api::Problem;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    retry_after_secs: Option<u64>,
    source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            retry_after_secs: None,
            source: None,
        }
    }

    /// The named request field is at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// A field has a value the API cannot accept.
    pub fn invalid(field: &str, code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail).with_field(field)
    }

    /// Also the answer for another workspace's object: its existence is not disclosed.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such object in this workspace",
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("rate limit exceeded; retry after {retry_after_secs} s"),
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request; it has been logged",
        );
        e.source = Some(source.into());
        e
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // Constraint names from the migrations become conflicts the client can act on. SQLite
        // reports no constraint name, only the columns, so both are matched.
        const UNIQUE: [(&str, &str, &str); 8] = [
            (
                "service_accounts_name_key",
                "service_accounts.workspace_id, service_accounts.name",
                "a service account",
            ),
            (
                "environment_clusters_name_key",
                "environment_clusters.workspace_id, environment_clusters.name",
                "an environment cluster",
            ),
            (
                "sso_connections_name_key",
                "sso_connections.workspace_id, sso_connections.name",
                "an SSO connection",
            ),
            (
                "oauth_clients_name_key",
                "oauth_clients.workspace_id, oauth_clients.name",
                "an OAuth client",
            ),
            (
                "access_policies_name_key",
                "access_policies.workspace_id, access_policies.name",
                "an access policy",
            ),
            (
                "workload_identities_name_key",
                "workload_identities.workspace_id, workload_identities.name",
                "a workload identity",
            ),
            (
                "anomaly_rules_name_key",
                "anomaly_rules.workspace_id, anomaly_rules.name",
                "an anomaly rule",
            ),
            (
                "audit_sinks_name_key",
                "audit_sinks.workspace_id, audit_sinks.name",
                "an audit sink",
            ),
        ];
        if let Some(db) = e.as_database_error() {
            let constraint = db.constraint().unwrap_or_default();
            let message = db.message();
            if let Some((_, _, what)) = UNIQUE
                .iter()
                .find(|(name, columns, _)| constraint == *name || message.contains(columns))
            {
                return Self::conflict(
                    "name_taken",
                    format!("{what} with this name already exists in the workspace"),
                )
                .with_field("name");
            }
            // Two connections claiming one email domain at once: the loser learns which field.
            if constraint == "sso_email_domains_key"
                || message.contains("sso_email_domains.workspace_id, sso_email_domains.domain")
            {
                return Self::conflict(
                    "email_domain_taken",
                    "another SSO connection of the workspace already has one of these email domains",
                )
                .with_field("email_domains");
            }
        }
        Self::internal(e)
    }
}

/// A refused field is a 422 naming the field, whichever rule refused it.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.code, e.detail).with_field(e.field)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), "internal error");
        }
        let body = Problem {
            problem_type: Problem::type_uri(self.code),
            title: self.status.canonical_reason().unwrap_or("Error").into(),
            status: self.status.as_u16(),
            code: self.code.into(),
            detail: self.detail,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // The code as a header too: gateways (nginx auth_request) cannot read the body.
        headers.insert(
            HeaderName::from_static("x-statuspulse-error"),
            HeaderValue::from_static(self.code),
        );
        // RFC 6750 §3: no error attribute when no credential was sent at all.
        let challenge = match (self.status, self.code) {
            (StatusCode::UNAUTHORIZED, "missing_credential" | "invalid_authorization_scheme") => {
                Some("Bearer realm=\"statuspulse\"")
            }
            (StatusCode::UNAUTHORIZED, _) => {
                Some("Bearer realm=\"statuspulse\", error=\"invalid_token\"")
            }
            (StatusCode::FORBIDDEN, "insufficient_scope") => {
                Some("Bearer realm=\"statuspulse\", error=\"insufficient_scope\"")
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
