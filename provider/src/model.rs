//! The provider's view of the StatusPulse contract: ids typed by what they name, the plan-time
//! wording of the shared rules, and the JSON objects of the management API.
//!
//! The rules themselves (scope catalog, environments, id prefixes, key format, field checks) are
//! the `statuspulse-api` crate's, the same code the server runs. Plan-time validation needs them
//! without a network round trip (Terraform validates before the provider is configured); sharing
//! the code is what keeps the two from drifting.

use std::fmt;

use serde::{Deserialize, Serialize};
use statuspulse_api::key::{self, MalformedKey};
use statuspulse_api::{ids, Environment, Scope};

/// A scope from the catalog, or a message naming every scope there is.
pub fn parse_scope(name: &str) -> Result<Scope, String> {
    name.parse().map_err(|_| {
        format!(
            "`{name}` is not a StatusPulse scope. Known scopes: {}.",
            Scope::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `live` or `test`, with a message that says which key prefix each stands for.
pub fn parse_environment(value: &str) -> Result<Environment, String> {
    value.parse().map_err(|()| {
        format!(
            "`{value}` is not an environment: use \"live\" ({} keys) or \"test\" ({} keys).",
            key::LIVE_PREFIX,
            key::TEST_PREFIX
        )
    })
}

/// Which object an id names; ids are opaque strings with a type prefix (server/API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    ServiceAccount,
    ApiKey,
    RoleBinding,
    EnvironmentCluster,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::ServiceAccount => ids::SERVICE_ACCOUNT,
            IdKind::ApiKey => ids::API_KEY,
            IdKind::RoleBinding => ids::ROLE_BINDING,
            IdKind::EnvironmentCluster => ids::CLUSTER,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            IdKind::ServiceAccount => "service account",
            IdKind::ApiKey => "API key",
            IdKind::RoleBinding => "role binding",
            IdKind::EnvironmentCluster => "environment cluster",
        }
    }
}

/// An id whose prefix and alphabet are right; anything else would only earn a 404 later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn parse(kind: IdKind, value: &str) -> Result<Self, String> {
        let prefix = kind.prefix();
        if ids::has_prefix(value, prefix) {
            Ok(ObjectId(value.to_owned()))
        } else {
            Err(format!(
                "`{value}` is not a {} id: it must look like `{prefix}_…` (letters, digits, `_` and `-`).",
                kind.noun()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks the key format locally, prefix and shape: catching a truncated key here gives one
/// precise diagnostic instead of a 401. The checksum is left to the server (a mistyped character
/// earns its 401): fixtures and mock servers configure checksum-less keys such as `sp_live_AAA…`.
pub fn check_api_key_format(key: &str) -> Result<(), String> {
    match key::check_shape(key) {
        Ok(_) => Ok(()),
        Err(MalformedKey::Prefix) => Err(format!(
            "A StatusPulse API key starts with `{}` or `{}`; this value does not.",
            key::LIVE_PREFIX,
            key::TEST_PREFIX
        )),
        Err(_) => Err(format!(
            "The API key has {} characters after its prefix; a StatusPulse key has exactly {} of [A-Za-z0-9_-]. Was it truncated or mistyped?",
            key.chars().count().saturating_sub(key::PREFIX_LEN),
            key::BODY_LEN
        )),
    }
}

/// `GET /v1/service-accounts/{id}` and friends.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created_at: String,
}

/// `POST /v1/service-accounts` and `PATCH /v1/service-accounts/{id}`.
#[derive(Debug, Serialize)]
pub struct ServiceAccountInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
}

/// `GET /v1/api-keys/{id}`; create and rotate answers add `key`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub key_id: String,
    pub workspace_id: String,
    pub name: String,
    pub environment: String,
    #[serde(default)]
    pub service_account_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub check_group_ids: Vec<String>,
    #[serde(default)]
    pub alert_route_ids: Vec<String>,
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    pub rotation_days: i64,
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    pub rotate_after: String,
    #[serde(default)]
    pub rotation_due: bool,
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// Present only in the create answer: the one time the secret is shown. Wrapped so that a
    /// stray `{:?}` cannot print it.
    #[serde(default)]
    pub key: Option<secrecy::SecretString>,
}

/// `GET /v1/role-bindings/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleBinding {
    pub id: String,
    pub workspace_id: String,
    #[serde(default)]
    pub service_account_id: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub environment_clusters: Vec<String>,
    pub created_at: String,
}

/// `POST /v1/role-bindings`.
#[derive(Debug, Serialize)]
pub struct RoleBindingCreate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub scopes: Vec<String>,
    pub environment_clusters: Vec<String>,
}

/// `PATCH /v1/role-bindings/{id}`: the principal is fixed, scopes and clusters change in place.
#[derive(Debug, Serialize)]
pub struct RoleBindingUpdate {
    pub scopes: Vec<String>,
    pub environment_clusters: Vec<String>,
}

/// `GET /v1/environment-clusters/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentCluster {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub environment: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created_at: String,
}

/// `POST /v1/environment-clusters`.
#[derive(Debug, Serialize)]
pub struct EnvironmentClusterCreate<'a> {
    pub name: &'a str,
    pub environment: &'a str,
    pub description: &'a str,
}

/// `PATCH /v1/environment-clusters/{id}`: only the description changes in place.
#[derive(Debug, Serialize)]
pub struct EnvironmentClusterUpdate<'a> {
    pub description: &'a str,
}

/// `POST /v1/api-keys`.
#[derive(Debug, Serialize)]
pub struct ApiKeyCreate {
    pub name: String,
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    pub scopes: Vec<String>,
    pub check_group_ids: Vec<String>,
    pub alert_route_ids: Vec<String>,
    pub environment_clusters: Vec<String>,
    pub rotation_days: i64,
}

/// `PATCH /v1/api-keys/{id}`: the attributes that change in place.
#[derive(Debug, Serialize)]
pub struct ApiKeyUpdate {
    pub name: String,
    pub scopes: Vec<String>,
    pub check_group_ids: Vec<String>,
    pub alert_route_ids: Vec<String>,
    pub environment_clusters: Vec<String>,
}

/// `POST /v1/api-keys/revoke`.
#[derive(Debug, Serialize)]
pub struct ApiKeyRevoke<'a> {
    pub id: &'a str,
    pub reason: &'a str,
}

/// `GET /v1/effective-access?api_key_id=…|service_account_id=…`: what a key or service account
/// can actually reach once role bindings, clusters and the key's own restrictions apply.
#[derive(Debug, Clone, Deserialize)]
pub struct EffectiveAccess {
    pub principal_type: String,
    pub principal_id: String,
    #[serde(default)]
    pub api_key_id: Option<String>,
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub requested_scopes: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub withheld_scopes: Vec<String>,
    #[serde(default)]
    pub environment_clusters: Vec<ClusterAccess>,
}

/// One cluster a principal reaches, with the scopes effective there.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterAccess {
    pub name: String,
    pub environment: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A page of a list endpoint.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// An entry of `GET /v1/scopes`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScopeInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_scopes_parse_and_unknown_scopes_are_named_in_the_error() {
        assert_eq!(parse_scope("read:checks").unwrap().as_str(), "read:checks");
        let err = parse_scope("read:everything").unwrap_err();
        assert!(err.contains("read:everything") && err.contains("write:alerts"));
    }

    #[test]
    fn ids_need_their_type_prefix() {
        assert!(ObjectId::parse(IdKind::ServiceAccount, "sa_01HXYZ").is_ok());
        assert!(ObjectId::parse(IdKind::ServiceAccount, "key_01HXYZ").is_err());
        assert!(ObjectId::parse(IdKind::ApiKey, "key_").is_err());
        assert!(ObjectId::parse(IdKind::ApiKey, "key_a b").is_err());
    }

    #[test]
    fn api_key_format_is_checked_without_the_server() {
        let good = format!("sp_live_{}", "A".repeat(64));
        assert!(check_api_key_format(&good).is_ok());
        assert!(check_api_key_format(&format!("sp_test_{}", "-".repeat(64))).is_ok());
        assert!(check_api_key_format(&format!("sp_prod_{}", "A".repeat(64))).is_err());
        assert!(check_api_key_format(&format!("sp_live_{}", "A".repeat(63))).is_err());
        assert!(check_api_key_format(&format!("sp_live_{}+", "A".repeat(63))).is_err());
    }

    #[test]
    fn environments_are_live_or_test() {
        assert_eq!(parse_environment("live"), Ok(Environment::Live));
        assert_eq!(parse_environment("test"), Ok(Environment::Test));
        assert!(parse_environment("prod").is_err());
    }
}
