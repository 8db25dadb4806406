//! Domain vocabulary shared by every resource: the scope catalog, environments, id formats, the
//! API key format, and the JSON objects of the management API.
//!
//! Plan-time validation needs these without a network round trip (Terraform validates before the
//! provider is configured), so the catalog is known statically and mirrors `GET /v1/scopes`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The scope catalog of SPEC.md and server/API.md, with the description shown in docs.
pub const SCOPE_CATALOG: &[(&str, &str)] = &[
    ("read:checks", "Read uptime checks and their results."),
    ("write:checks", "Create, change and delete uptime checks."),
    ("read:metrics", "Read metrics."),
    ("read:alerts", "Read alerts and alert routes."),
    (
        "write:alerts",
        "Create, change and acknowledge alerts and alert routes.",
    ),
    ("admin:billing", "Manage billing."),
    ("admin:all", "Every scope, including all management scopes."),
    (
        "admin:workspace",
        "Read and update the key's own workspace.",
    ),
    (
        "admin:workspaces",
        "Manage other workspaces (operator workspace only).",
    ),
    ("admin:service_accounts", "Manage service accounts."),
    ("admin:keys", "Manage API keys: create, rotate, revoke."),
    ("admin:audit", "Read the audit trail."),
    (
        "admin:access",
        "Manage environment clusters and role bindings; read effective access.",
    ),
];

/// A scope name that is in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(&'static str);

impl Scope {
    pub fn parse(name: &str) -> Result<Self, String> {
        SCOPE_CATALOG
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(known, _)| Scope(known))
            .ok_or_else(|| {
                format!(
                    "`{name}` is not a StatusPulse scope. Known scopes: {}.",
                    SCOPE_CATALOG
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// The environment a key is bound to; its secret's prefix follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            other => Err(format!(
                "`{other}` is not an environment: use \"live\" (sp_live_ keys) or \"test\" (sp_test_ keys)."
            )),
        }
    }
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
            IdKind::ServiceAccount => "sa_",
            IdKind::ApiKey => "key_",
            IdKind::RoleBinding => "rb_",
            IdKind::EnvironmentCluster => "ec_",
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
        let valid = value.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 128
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if valid {
            Ok(ObjectId(value.to_owned()))
        } else {
            Err(format!(
                "`{value}` is not a {} id: it must look like `{prefix}…` (letters, digits, `_` and `-`).",
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

/// Checks the SPEC's key format locally: `sp_live_`/`sp_test_` then 64 base64url characters.
/// Catching a truncated or mistyped key here gives one precise diagnostic instead of a 401.
pub fn check_api_key_format(key: &str) -> Result<(), String> {
    let body = key
        .strip_prefix("sp_live_")
        .or_else(|| key.strip_prefix("sp_test_"));
    match body {
        Some(body)
            if body.len() == 64
                && body
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(())
        }
        Some(body) => Err(format!(
            "The API key has {} characters after its prefix; a StatusPulse key has exactly 64 of [A-Za-z0-9_-]. Was it truncated or mistyped?",
            body.chars().count()
        )),
        None => Err(
            "A StatusPulse API key starts with `sp_live_` or `sp_test_`; this value does not."
                .to_owned(),
        ),
    }
}

/// Names as the server stores them: 1 to 200 characters, trimmed, no control characters. A name
/// the server would trim must be refused here, or the stored name would differ from the plan.
pub fn check_name(value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > 200 {
        Err("A name has 1 to 200 characters.".to_owned())
    } else if value.trim() != value {
        Err("Remove the leading or trailing spaces: StatusPulse stores names trimmed.".to_owned())
    } else if value.chars().any(char::is_control) {
        Err("A name cannot contain control characters.".to_owned())
    } else {
        Ok(())
    }
}

/// Check group and alert route ids: 1 to 128 of `A-Z a-z 0-9 _ . : -` (server/src/validate.rs).
pub fn check_restriction_id(value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a valid id: use 1 to 128 of A-Z a-z 0-9 _ . : -"
        ))
    }
}

/// Environment cluster names (server/src/environment_clusters): 1 to 63 of `a-z 0-9 -`, not
/// starting with `-`, e.g. `eu-prod-1`.
pub fn check_cluster_name(value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a cluster name: use 1 to 63 of a-z 0-9 -, not starting with -"
        ))
    }
}

/// Rotation period bounds (SPEC: default 90 days, at most 365).
pub const ROTATION_DAYS_DEFAULT: i64 = 90;
pub const ROTATION_DAYS_RANGE: std::ops::RangeInclusive<i64> = 1..=365;

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
        assert_eq!(Scope::parse("read:checks").unwrap().as_str(), "read:checks");
        let err = Scope::parse("read:everything").unwrap_err();
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
        assert_eq!(Environment::parse("live"), Ok(Environment::Live));
        assert_eq!(Environment::parse("test"), Ok(Environment::Test));
        assert!(Environment::parse("prod").is_err());
    }
}
