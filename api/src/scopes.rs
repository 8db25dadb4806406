//! The scope catalog and the environment a credential belongs to.
//!
//! Both are parsed at the edge; past it, code holds a [`Scope`] or an [`Environment`] and never a
//! free-form string.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! scopes {
    ($( $variant:ident = $name:literal, $kind:ident, $description:literal; )*) => {
        /// A permission from the catalog (`GET /v1/scopes`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Scope { $( #[doc = $description] $variant, )* }

        impl Scope {
            /// The whole catalog, in the order `GET /v1/scopes` lists it.
            pub const ALL: &'static [Scope] = &[ $( Scope::$variant, )* ];

            /// The scope's name on the wire and in storage, e.g. `read:checks`.
            pub fn as_str(self) -> &'static str {
                match self { $( Scope::$variant => $name, )* }
            }

            /// Which half of the API the scope opens.
            pub fn kind(self) -> ScopeKind {
                match self { $( Scope::$variant => ScopeKind::$kind, )* }
            }

            /// The one description of the scope: served by `GET /v1/scopes` and shown in the
            /// provider's docs.
            pub fn description(self) -> &'static str {
                match self { $( Scope::$variant => $description, )* }
            }
        }

        impl FromStr for Scope {
            type Err = UnknownScope;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(Scope::$variant), )*
                    other => Err(UnknownScope(other.to_owned())),
                }
            }
        }
    };
}

scopes! {
    ReadChecks = "read:checks", Resource, "Read checks and their results.";
    WriteChecks = "write:checks", Resource, "Create, change and delete checks.";
    ReadMetrics = "read:metrics", Resource, "Read metrics and dashboards.";
    ReadAlerts = "read:alerts", Resource, "Read alerts and alert routes.";
    WriteAlerts = "write:alerts", Resource, "Create, acknowledge and route alerts.";
    AdminBilling = "admin:billing", Resource, "Manage billing and invoices.";
    AdminAll = "admin:all", Management, "Every permission in the workspace. Never give it to automation.";
    AdminWorkspace = "admin:workspace", Management, "Read and change the workspace's own settings.";
    AdminWorkspaces = "admin:workspaces", Management, "Create and manage other workspaces (operator workspace only).";
    AdminServiceAccounts = "admin:service_accounts", Management, "Manage service accounts.";
    AdminKeys = "admin:keys", Management, "Create, rotate, change and revoke API keys.";
    AdminAudit = "admin:audit", Management, "Read and verify the audit log.";
    AdminAccess = "admin:access", Management, "Manage environment clusters and role bindings; read effective access.";
    AdminSso = "admin:sso", Management, "Manage SSO connections (identity providers, their client secrets and group mappings).";
}

/// Whether a scope opens monitoring data or the management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// Grants access to monitoring data.
    Resource,
    /// Grants access to the management API.
    Management,
}

impl ScopeKind {
    /// The wire name: `resource` or `management`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Resource => "resource",
            ScopeKind::Management => "management",
        }
    }
}

/// A scope name that is not in the catalog; holds the name as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scope `{}`", self.0)
    }
}

impl std::error::Error for UnknownScope {}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of scopes, kept sorted so that storage and answers are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses scope names; the first name outside the catalog fails the whole set.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownScope> {
        names
            .into_iter()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether these scopes grant `wanted`; `admin:all` grants everything.
    pub fn grants(&self, wanted: Scope) -> bool {
        self.0.contains(&wanted) || self.0.contains(&Scope::AdminAll)
    }

    /// Whether `scope` itself is in the set (no `admin:all` expansion).
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// The scopes in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether the set grants nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Storage form: names joined by spaces (the OAuth convention).
    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The names in catalog order, as the API answers them.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        Self(scopes.into_iter().collect())
    }
}

/// Which half of StatusPulse a credential may touch. The key prefix encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Production (`sp_live_` keys).
    Live,
    /// Sandbox (`sp_test_` keys).
    Test,
}

impl Environment {
    /// `live` or `test`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

impl FromStr for Environment {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes an OAuth client of StatusPulse asks for (docs/CONTRACT.md, "Credentials"), and the
/// catalog scopes each stands for. `openid`, `profile` and `email` are about the user's identity
/// and stand for none.
pub const OAUTH_SCOPES: &[(&str, &[Scope])] = &[
    ("openid", &[]),
    ("profile", &[]),
    ("email", &[]),
    ("statuspulse:checks:read", &[Scope::ReadChecks]),
    (
        "statuspulse:alerts:manage",
        &[Scope::ReadAlerts, Scope::WriteAlerts],
    ),
];

/// The catalog scopes an OAuth scope stands for; `None` for a name that is not an OAuth scope.
pub fn oauth_scope(name: &str) -> Option<&'static [Scope]> {
    OAUTH_SCOPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, scopes)| *scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), *scope);
        }
    }

    #[test]
    fn admin_all_grants_every_scope_and_others_grant_only_themselves() {
        let admin = Scopes::from_iter([Scope::AdminAll]);
        let reader = Scopes::from_iter([Scope::ReadChecks]);
        assert!(Scope::ALL.iter().all(|s| admin.grants(*s)));
        assert!(reader.grants(Scope::ReadChecks));
        assert!(!reader.grants(Scope::WriteChecks));
    }
}
