//! The provider's view of the StatusPulse contract: ids typed by what they name, the plan-time
//! wording of the shared rules, and the JSON objects of the management API.
//!
//! The rules themselves (scope catalog, environments, id prefixes, key format, field checks) are
//! the `statuspulse-api` crate's, the same code the server runs. Plan-time validation needs them
//! without a network round trip (Terraform validates before the provider is configured); sharing
//! the code is what keeps the two from drifting.

use std::fmt;

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
    SsoConnection,
    OAuthClient,
    AccessPolicy,
    WorkloadIdentity,
    AnomalyRule,
    AuditSink,
    Workspace,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::ServiceAccount => ids::SERVICE_ACCOUNT,
            IdKind::ApiKey => ids::API_KEY,
            IdKind::RoleBinding => ids::ROLE_BINDING,
            IdKind::EnvironmentCluster => ids::CLUSTER,
            IdKind::SsoConnection => ids::SSO_CONNECTION,
            IdKind::OAuthClient => ids::OAUTH_CLIENT,
            IdKind::AccessPolicy => ids::ACCESS_POLICY,
            IdKind::WorkloadIdentity => ids::WORKLOAD_IDENTITY,
            IdKind::AnomalyRule => ids::ANOMALY_RULE,
            IdKind::AuditSink => ids::AUDIT_SINK,
            IdKind::Workspace => ids::WORKSPACE,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            IdKind::ServiceAccount => "service account",
            IdKind::ApiKey => "API key",
            IdKind::RoleBinding => "role binding",
            IdKind::EnvironmentCluster => "environment cluster",
            IdKind::SsoConnection => "SSO connection",
            IdKind::OAuthClient => "OAuth client",
            IdKind::AccessPolicy => "access policy",
            IdKind::WorkloadIdentity => "workload identity",
            IdKind::AnomalyRule => "anomaly rule",
            IdKind::AuditSink => "audit sink",
            IdKind::Workspace => "workspace",
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

// The request and answer bodies are the shared contract's (`statuspulse_api::v1`), the same
// types the server serialises: a field renamed there is a compile error here.
pub use statuspulse_api::v1::{
    AccessPolicy, CreateAccessPolicy, PolicyWithholding, UpdateAccessPolicy,
};
pub use statuspulse_api::v1::{AnomalyRule, CreateAnomalyRule, UpdateAnomalyRule};
pub use statuspulse_api::v1::{
    ApiKeyView, ClusterAccess, CreateApiKey, CreateEnvironmentCluster, CreateRoleBinding,
    CreateServiceAccount, CreatedApiKey, EffectiveAccess, EnvironmentCluster, Page, PlainKey,
    RevokeApiKey, RoleBinding, ScopeCatalog, ScopeInfo, ServiceAccount, UpdateApiKey,
    UpdateEnvironmentCluster, UpdateRoleBinding, UpdateServiceAccount,
};
pub use statuspulse_api::v1::{AuditSettings, UpdateAuditSettings, VerifiedCredential};
pub use statuspulse_api::v1::{
    AuditSink, CloudWatchSettingsInput, CreateAuditSink, CreatedAuditSink, UpdateAuditSink,
    WebhookSettingsInput,
};
pub use statuspulse_api::v1::{
    AzureAdSettings, CreateSsoConnection, OidcSettings, OktaSettings, OneLoginSettings,
    SamlSettings, SsoConnection, UpdateSsoConnection,
};
pub use statuspulse_api::v1::{
    CreateOAuthClient, CreatedOAuthClient, OAuthClient, UpdateOAuthClient,
};
pub use statuspulse_api::v1::{
    CreateWorkloadIdentity, ExchangedToken, UpdateWorkloadIdentity, WorkloadIdentity,
};

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
