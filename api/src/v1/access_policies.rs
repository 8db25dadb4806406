//! `/v1/access-policies`: conditional access for the OAuth server. A policy governs some OAuth
//! scopes and names the conditions under which they may be issued; a governed scope is issued
//! only when every enabled policy that governs it is satisfied. Policies are evaluated when a
//! person authorizes a client and again at every refresh, so a tightened policy narrows tokens
//! at their next refresh.

use serde::{Deserialize, Serialize};

/// Policies a workspace may hold.
pub const MAX_POLICIES: usize = 100;
/// Entries in each condition list, at most.
pub const MAX_CONDITION_ENTRIES: usize = 100;

/// A conditional access policy as the API answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessPolicy {
    /// `ap_…`.
    pub id: String,
    /// The workspace whose tokens it governs.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// What the policy is for, for people.
    #[serde(default)]
    pub description: String,
    /// A disabled policy restricts nothing.
    pub enabled: bool,
    /// The OAuth scopes this policy governs (`openid`, `profile`, `email`,
    /// `statuspulse:checks:read`, `statuspulse:alerts:manage`).
    pub scopes: Vec<String>,
    /// Conditions: each one that is set must hold; within a list, any entry will do.
    #[serde(flatten)]
    pub conditions: AccessConditions,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// What must hold for the governed scopes to be issued. An empty list (or `require_mfa: false`)
/// is no condition; a policy sets at least one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessConditions {
    /// The person is in one of these StatusPulse groups (role binding `group`s, after the SSO
    /// connection's group mappings).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The token goes to one of these OAuth clients (`oc_…`).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// The sign-in proved multi-factor authentication (the SSO connection's MFA check on the
    /// ID token's `amr`/`acr`, or the SAML context class).
    #[serde(default)]
    pub require_mfa: bool,
    /// The sign-in's `amr` names one of these methods (`hwk`, `otp`, …).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The request comes from one of these networks: CIDR blocks (`10.0.0.0/8`,
    /// `2001:db8::/32`). The client address is the TCP peer, or what a trusted proxy forwards.
    #[serde(default)]
    pub networks: Vec<String>,
    /// The request comes from one of these regions (lowercase names such as `eu-west-1` or
    /// `de`), as the server's region map or a trusted proxy's region header places it. A request
    /// whose region is unknown is in none.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl AccessConditions {
    /// Whether any condition is set.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.client_ids.is_empty()
            && !self.require_mfa
            && self.amr.is_empty()
            && self.networks.is_empty()
            && self.regions.is_empty()
    }
}

fn enabled_by_default() -> bool {
    true
}

/// `POST /v1/access-policies`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAccessPolicy {
    /// Unique in the workspace.
    pub name: String,
    /// What the policy is for, for people.
    #[serde(default)]
    pub description: String,
    /// Default true.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// At least one OAuth scope.
    pub scopes: Vec<String>,
    /// The person is in one of these StatusPulse groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The token goes to one of these OAuth clients (`oc_…`).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// The sign-in proved multi-factor authentication.
    #[serde(default)]
    pub require_mfa: bool,
    /// The sign-in's `amr` names one of these methods.
    #[serde(default)]
    pub amr: Vec<String>,
    /// The request comes from one of these CIDR blocks.
    #[serde(default)]
    pub networks: Vec<String>,
    /// The request comes from one of these regions.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl CreateAccessPolicy {
    /// The conditions, as an answer shows them.
    pub fn conditions(&self) -> AccessConditions {
        AccessConditions {
            groups: self.groups.clone(),
            client_ids: self.client_ids.clone(),
            require_mfa: self.require_mfa,
            amr: self.amr.clone(),
            networks: self.networks.clone(),
            regions: self.regions.clone(),
        }
    }
}

/// `PATCH /v1/access-policies/{id}`: absent fields stay; a list replaces the list.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAccessPolicy {
    /// Unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the policy is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A disabled policy restricts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The OAuth scopes governed: at least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The person is in one of these StatusPulse groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// The token goes to one of these OAuth clients (`oc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ids: Option<Vec<String>>,
    /// The sign-in proved multi-factor authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
    /// The sign-in's `amr` names one of these methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The request comes from one of these CIDR blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    /// The request comes from one of these regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

impl UpdateAccessPolicy {
    /// The policy as it would be after this change.
    pub fn merged(&self, before: &AccessPolicy) -> CreateAccessPolicy {
        let c = &before.conditions;
        CreateAccessPolicy {
            name: self.name.clone().unwrap_or_else(|| before.name.clone()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| before.description.clone()),
            enabled: self.enabled.unwrap_or(before.enabled),
            scopes: self.scopes.clone().unwrap_or_else(|| before.scopes.clone()),
            groups: self.groups.clone().unwrap_or_else(|| c.groups.clone()),
            client_ids: self
                .client_ids
                .clone()
                .unwrap_or_else(|| c.client_ids.clone()),
            require_mfa: self.require_mfa.unwrap_or(c.require_mfa),
            amr: self.amr.clone().unwrap_or_else(|| c.amr.clone()),
            networks: self.networks.clone().unwrap_or_else(|| c.networks.clone()),
            regions: self.regions.clone().unwrap_or_else(|| c.regions.clone()),
        }
    }
}

/// One OAuth scope that conditional access withholds, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyWithholding {
    /// The OAuth scope.
    pub scope: String,
    /// The policy that withholds it.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// The first condition of that policy that does not hold: `groups`, `client_ids`,
    /// `require_mfa`, `amr`, `networks` or `regions`.
    pub condition: String,
    /// The same, for a person.
    pub detail: String,
}
