//! Signed-in users and their sessions: `GET /v1/me`, `/v1/sessions`.

use serde::{Deserialize, Serialize};

/// A person signed in through an SSO connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// `usr_…`.
    pub id: String,
    /// The workspace (`ws_…`).
    pub workspace_id: String,
    /// The connection they sign in with (`sso_…`).
    pub connection_id: String,
    /// The identity provider's subject (`sub`, or the SAML NameID).
    pub subject: String,
    /// Only when the identity provider vouched for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Display name, as the identity provider gave it.
    pub name: Option<String>,
    /// StatusPulse groups (the `group` principal of role bindings), mapped from `idp_groups`.
    pub groups: Vec<String>,
    /// The groups the identity provider asserted at the last sign-in.
    pub idp_groups: Vec<String>,
}

/// A sign-in session: a person's (signed in through SSO, `kind` `user`) or a key session (the
/// console's sign-in with the admin API key, `kind` `api_key`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// `ses_…`: one id space for both kinds.
    pub id: String,
    /// The workspace (`ws_…`).
    pub workspace_id: String,
    /// `user` or `api_key`.
    pub kind: String,
    /// The user (`usr_…`); a person's session only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The connection signed in with (`sso_…`); a person's session only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The key a key session acts as (`key_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// That key's public key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `active`, `revoked` or `expired`. A key session is `revoked` from the moment its key is.
    pub status: String,
    /// Whether the identity provider proved multi-factor authentication at sign-in.
    pub mfa: bool,
    /// The ID token's `amr`.
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The ID token's `acr` (or the SAML authentication context class).
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The address signed in from.
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The browser signed in with (truncated).
    pub user_agent: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; within a minute.
    pub last_seen_at: String,
    /// RFC 3339: the absolute end (the idle timeout may end it sooner).
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// RFC 3339, when signed out.
    pub revoked_at: Option<String>,
    /// Whether this is the session of the request.
    #[serde(default)]
    pub current: bool,
}

/// `GET /v1/me`: who is signed in.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// Who is signed in.
    pub user: User,
    /// What the user's groups are bound to, somewhere in the workspace.
    pub effective_scopes: Vec<String>,
    /// The session of this request.
    pub session: Session,
    /// Send as `X-CSRF-Token` with every write made with the session cookie.
    pub csrf_token: String,
}

/// `POST /v1/sessions/revoke-all`: exactly one of `user_id` and `api_key_id`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeAllSessions {
    /// The user (`usr_…`) to sign out everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The API key (`key_…`) whose key sessions all end (the key itself keeps working).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
}

/// What `revoke-all` did.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedSessions {
    /// Sessions signed out by this call.
    pub revoked: u64,
}

/// `POST /v1/sessions`: a browser session opened with an admin API key (the console's sign-in
/// before any SSO exists). The session cookie is set on the answer; the key is not kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySessionCreated {
    /// `ses_…`.
    pub id: String,
    /// The workspace (`ws_…`).
    pub workspace_id: String,
    /// The key the session acts as (`key_…`).
    pub api_key_id: String,
    /// That key's public key id.
    pub key_id: String,
    /// RFC 3339: the absolute end (the idle timeout, or the key's revocation, may end it sooner).
    pub expires_at: String,
    /// Send as `X-CSRF-Token` with every write made with the session cookie.
    pub csrf_token: String,
}
