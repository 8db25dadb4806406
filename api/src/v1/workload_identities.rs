//! `/v1/workload-identities`: trust policies through which a workload (a CI job, a Kubernetes
//! pod) exchanges the OIDC token its platform gives it for a short-lived StatusPulse access
//! token acting as a service account (RFC 8693 token exchange at `/oauth2/token`), so that it
//! holds no long-lived key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Default lifetime of an exchanged token, in seconds.
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: i64 = 900;
/// Longest lifetime of an exchanged token, in seconds.
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 3600;
/// Shortest lifetime of an exchanged token, in seconds.
pub const MIN_TOKEN_LIFETIME_SECONDS: i64 = 60;
/// Claims a trust policy may condition on, at most.
pub const MAX_CONDITIONS: usize = 32;

/// The RFC 8693 grant type of the exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The RFC 8693 type of the subject token: a JWT.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The RFC 8693 type of the issued token: an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A trust policy as the API answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkloadIdentity {
    /// `wi_…`; an exchange may name it as `client_id`.
    pub id: String,
    /// The workspace whose service account the exchanged token acts as.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// The external issuer (`iss` of the workload's tokens, with OpenID discovery at
    /// `<issuer>/.well-known/openid-configuration`), such as
    /// `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The `aud` the workload's token must carry.
    pub audience: String,
    /// Claim name → the value it must have: an exact string, or a glob where `*` matches any
    /// run of characters (`repo:acme/infra:ref:refs/heads/*`).
    pub conditions: BTreeMap<String, String>,
    /// The service account the exchanged token acts as (`sa_…`).
    pub service_account_id: String,
    /// Catalog scopes the exchanged token may carry: never more than the service account's
    /// bindings grant.
    pub scopes: Vec<String>,
    /// Lifetime of an exchanged token, 60 to 3600 seconds.
    pub token_lifetime_seconds: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn default_lifetime() -> i64 {
    DEFAULT_TOKEN_LIFETIME_SECONDS
}

/// `POST /v1/workload-identities`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWorkloadIdentity {
    /// Unique in the workspace.
    pub name: String,
    /// The external issuer: `https` (or `http` on loopback when the server allows loopback
    /// identity providers), without query or fragment.
    pub issuer: String,
    /// The `aud` the workload's token must carry.
    pub audience: String,
    /// At least one condition, claim name → exact value or glob.
    pub conditions: BTreeMap<String, String>,
    /// The service account (`sa_…`) of this workspace.
    pub service_account_id: String,
    /// At least one catalog scope, within the service account's bindings; never `admin:all`.
    pub scopes: Vec<String>,
    /// Default 900 seconds; 60 to 3600.
    #[serde(default = "default_lifetime")]
    pub token_lifetime_seconds: i64,
}

/// `PATCH /v1/workload-identities/{id}`: absent fields stay. The issuer and the service
/// account cannot change (another issuer or account is another trust policy).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkloadIdentity {
    /// Unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Replaces the whole map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<BTreeMap<String, String>>,
    /// Replaces the list; tokens already exchanged keep theirs until they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Applies to the next exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<i64>,
}

/// The answer of a token exchange (RFC 8693 §2.2.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExchangedToken {
    /// A JWT access token (RFC 9068) acting as the service account.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub issued_token_type: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The catalog scopes granted, space-separated.
    pub scope: String,
}
