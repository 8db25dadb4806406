//! `GET /v1/effective-access`.

use serde::{Deserialize, Serialize};

use crate::key::KeyStatus;
use crate::scopes::Environment;

/// One cluster a principal reaches, with the scopes effective there.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterAccess {
    /// The cluster's name.
    pub name: String,
    /// Its environment.
    pub environment: Environment,
    /// What is effective in it.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// What a key, a service account, a person or a group can actually reach once role bindings,
/// clusters, the key's own restrictions and (for people and groups) conditional access apply.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EffectiveAccess {
    /// `service_account`, `api_key` (a key of no service account), `user` or `group`.
    pub principal_type: String,
    /// The service account's id, or the key object's for a workspace key.
    pub principal_id: String,
    /// Set when asked about a key.
    #[serde(default)]
    pub api_key_id: Option<String>,
    /// The key's public key id, when asked about a key.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The key's environment; null for a service account (its bindings may span both).
    #[serde(default)]
    pub environment: Option<Environment>,
    /// The key's status; a key that is not active or rotating reaches nothing.
    #[serde(default)]
    pub status: Option<KeyStatus>,
    /// What the key asks for (its `scopes`); for a service account, what its bindings grant.
    #[serde(default)]
    pub requested_scopes: Vec<String>,
    /// What is effective anywhere the principal can act.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Requested but not granted by role bindings.
    #[serde(default)]
    pub withheld_scopes: Vec<String>,
    /// Every cluster reachable, with the scopes effective there.
    #[serde(default)]
    pub environment_clusters: Vec<ClusterAccess>,
    /// For a person, their StatusPulse groups (after the SSO connection's group mappings); for a
    /// group, itself.
    #[serde(default)]
    pub groups: Vec<String>,
    /// For a person or a group: the OAuth scopes StatusPulse's authorization server would issue
    /// (to the client asked about, or to a client allowed every scope), after role bindings and
    /// conditional access in the circumstances asked about.
    #[serde(default)]
    pub oauth_scopes: Vec<String>,
    /// OAuth scopes the bindings allow but conditional access withholds, and why.
    #[serde(default)]
    pub withheld_oauth_scopes: Vec<crate::v1::PolicyWithholding>,
}
