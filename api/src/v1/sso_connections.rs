//! `/v1/sso-connections`: federation of sign-in to a customer's identity provider.
//!
//! One connection has a `kind` and exactly the settings block of that kind (`okta`, `azure_ad`,
//! `onelogin`, `oidc` or `saml`), the same nesting as the Terraform resource's blocks. The client
//! secret is write-only: requests may carry it, answers only say whether one is set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of connection (docs/CONTRACT.md, "SSO and tokens").
pub const KINDS: &[&str] = &["okta", "azure_ad", "onelogin", "oidc", "saml"];

/// The kinds with a native connector: known endpoints and claim handling, an optional
/// `endpoint_override`.
pub const NATIVE_KINDS: &[&str] = &["okta", "azure_ad", "onelogin"];

/// Scopes asked of the identity provider when none are configured.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

/// Okta: the org authorization server `https://{domain}`, or a custom one
/// `https://{domain}/oauth2/{authorization_server_id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OktaSettings {
    /// The Okta domain, e.g. `example.okta.com`.
    pub domain: String,
    /// A custom authorization server's id; absent for the org authorization server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_server_id: Option<String>,
}

/// Azure AD (Entra ID): issuer `https://login.microsoftonline.com/{tenant_id}/v2.0`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AzureAdSettings {
    /// A tenant GUID, or `common` / `organizations` for multi-tenant sign-in.
    pub tenant_id: String,
    /// Tenant GUIDs accepted from the token's `tid`; required with `common`/`organizations`.
    #[serde(default)]
    pub allowed_tenants: Vec<String>,
}

/// OneLogin: issuer `https://{subdomain}.onelogin.com/oidc/2`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OneLoginSettings {
    /// The account's subdomain, e.g. `example` for `example.onelogin.com`.
    pub subdomain: String,
}

/// Any OpenID provider with discovery (PingIdentity, Auth0, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL (`https`, or `http` on a loopback address for tests); discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
}

/// A SAML 2.0 identity provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// The IdP's entity id.
    pub idp_entity_id: String,
    /// The IdP's single sign-on URL (Redirect binding), `https`.
    pub idp_sso_url: String,
    /// The IdP's signing certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub idp_certificate: String,
    /// The assertion attribute that carries group names (default: none, no groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
}

/// An SSO connection as the API answers it. Never carries the client secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnection {
    /// `sso_…`.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// `okta`, `azure_ad`, `onelogin`, `oidc` or `saml`.
    pub kind: String,
    /// Settings of kind `okta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta: Option<OktaSettings>,
    /// Settings of kind `azure_ad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_ad: Option<AzureAdSettings>,
    /// Settings of kind `onelogin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onelogin: Option<OneLoginSettings>,
    /// Settings of kind `oidc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSettings>,
    /// Settings of kind `saml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSettings>,
    /// Native kinds: a base URL replacing the vendor's (tests, sovereign clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
    /// The OAuth client id at the IdP (not for `saml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Whether a client secret is stored (sealed). The secret itself is never returned.
    #[serde(default)]
    pub client_secret_set: bool,
    /// Scopes asked of the IdP; always includes `openid` (not for `saml`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lowercase email domains whose users sign in here (`?email=`); unique in the workspace.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Sign-in requires proof of multi-factor authentication.
    #[serde(default)]
    pub require_mfa: bool,
    /// `acr` values asked for, and accepted as proof of MFA.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// IdP groups allowed to sign in; empty allows any.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// IdP group → StatusPulse group (the `group` principal of role bindings).
    #[serde(default)]
    pub group_mappings: BTreeMap<String, String>,
    /// Kind `saml`: our service provider entity id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    /// Kind `saml`: our assertion consumer service URL (POST binding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// `POST /v1/sso-connections`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSsoConnection {
    /// Unique in the workspace.
    pub name: String,
    /// `okta`, `azure_ad`, `onelogin`, `oidc` or `saml`.
    pub kind: String,
    /// Required for kind `okta`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta: Option<OktaSettings>,
    /// Required for kind `azure_ad`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_ad: Option<AzureAdSettings>,
    /// Required for kind `onelogin`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onelogin: Option<OneLoginSettings>,
    /// Required for kind `oidc`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSettings>,
    /// Required for kind `saml`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSettings>,
    /// Native kinds only: base URL (`https`, or `http` on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
    /// Required for every kind but `saml`, refused for `saml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Write-only: sealed with the master key, never returned (not for `saml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Default `openid email profile`; must include `openid` (not for `saml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Lowercase domains, unique across the workspace's connections.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Default false.
    #[serde(default)]
    pub require_mfa: bool,
    /// Default none.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// Default: any group.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// Default: none.
    #[serde(default)]
    pub group_mappings: BTreeMap<String, String>,
}

/// `PATCH /v1/sso-connections/{id}`: absent fields stay. A settings block given replaces the
/// stored one; `kind` cannot change. `endpoint_override: ""` removes the override; an absent
/// `client_secret` keeps the stored one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoConnection {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Must equal the stored kind when given (a kind change is a new connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// New Okta settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta: Option<OktaSettings>,
    /// New Azure AD settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_ad: Option<AzureAdSettings>,
    /// New OneLogin settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onelogin: Option<OneLoginSettings>,
    /// New OIDC settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSettings>,
    /// New SAML settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSettings>,
    /// New override; `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
    /// New client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A new client secret (write-only); absent keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// New scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New email domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_domains: Option<Vec<String>>,
    /// New MFA requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
    /// New `acr` values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<Vec<String>>,
    /// New allowed groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    /// New group mappings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_mappings: Option<BTreeMap<String, String>>,
}

impl UpdateSsoConnection {
    /// The connection `current` (stored, without its secret) with this change applied, as a
    /// create body: the server validates the result as a whole, like a create.
    pub fn apply_to(&self, mut current: CreateSsoConnection) -> CreateSsoConnection {
        fn set<T: Clone>(target: &mut T, value: Option<&T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        set(&mut current.name, self.name.as_ref());
        set(&mut current.kind, self.kind.as_ref());
        if self.okta.is_some() {
            current.okta.clone_from(&self.okta);
        }
        if self.azure_ad.is_some() {
            current.azure_ad.clone_from(&self.azure_ad);
        }
        if self.onelogin.is_some() {
            current.onelogin.clone_from(&self.onelogin);
        }
        if self.oidc.is_some() {
            current.oidc.clone_from(&self.oidc);
        }
        if self.saml.is_some() {
            current.saml.clone_from(&self.saml);
        }
        match self.endpoint_override.as_deref() {
            Some("") => current.endpoint_override = None,
            Some(url) => current.endpoint_override = Some(url.to_owned()),
            None => {}
        }
        if self.client_id.is_some() {
            current.client_id.clone_from(&self.client_id);
        }
        current.client_secret.clone_from(&self.client_secret);
        if self.scopes.is_some() {
            current.scopes.clone_from(&self.scopes);
        }
        set(&mut current.email_domains, self.email_domains.as_ref());
        set(&mut current.require_mfa, self.require_mfa.as_ref());
        set(&mut current.acr_values, self.acr_values.as_ref());
        set(&mut current.allowed_groups, self.allowed_groups.as_ref());
        set(&mut current.group_mappings, self.group_mappings.as_ref());
        current
    }
}

/// `POST /v1/sso-connections/{id}/test`: start a test sign-in through the connection.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartSsoConnectionTest {
    /// A path of this server the result page links back to (default `/console/settings/security/sso`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// A test sign-in under way: open `authorization_url` in the browser that made the request (it
/// holds the sign-in cookie this answer sets) before `expires_at`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnectionTestStarted {
    /// The identity provider's authorization (OIDC) or single sign-on (SAML) URL.
    pub authorization_url: String,
    /// RFC 3339: the test sign-in must come back before this.
    pub expires_at: String,
}

/// What a test sign-in found: the claims the identity provider sent and what the connection's
/// rules make of them. A test never creates a user or a session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnectionTestResult {
    /// The connection tested.
    pub connection_id: String,
    /// Its kind.
    pub kind: String,
    /// `would_sign_in`: the identity was verified and the connection's rules admit it;
    /// `would_be_refused`: verified, but a rule refuses it (`code`); `failed`: no verified
    /// identity came back (`code`: the identity provider's error, a bad token or assertion, …).
    pub outcome: String,
    /// Why not, as a stable code (the `reason` of `sso.login_failed` for a real sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why not, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The verified identity's claims; absent when none was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<TestedClaims>,
    /// Whether the sign-in proves multi-factor authentication (`amr`, `acr` or the SAML
    /// authentication context against the connection's `acr_values`).
    pub mfa: bool,
    /// Whether the connection requires it.
    pub mfa_required: bool,
    /// The StatusPulse groups the connection's mappings give (role bindings' `group`).
    pub groups: Vec<String>,
}

/// The claims of a verified identity (OIDC ID token, SAML assertion).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestedClaims {
    /// `sub`, or the SAML NameID.
    pub subject: String,
    /// The email address, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the identity provider vouches for the email address.
    pub email_verified: bool,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The groups the identity provider sent.
    pub idp_groups: Vec<String>,
    /// Authentication methods (`amr`; empty for SAML).
    pub amr: Vec<String>,
    /// `acr`, or the SAML `AuthnContextClassRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}
