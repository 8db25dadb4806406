//! `/v1/oauth-clients`: applications that sign users in through StatusPulse's own OAuth 2.0 /
//! OIDC server.

use serde::{Deserialize, Serialize};

/// Redirect URIs a client may register, at most.
pub const MAX_REDIRECT_URIS: usize = 10;

/// An OAuth client as the API answers it. Never carries the secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthClient {
    /// The `client_id` (`oc_…`).
    pub id: String,
    /// The workspace whose users sign in.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// A public client (CLIs, single-page and native apps) proves itself with PKCE only; a
    /// confidential one (server-side apps) also with its secret.
    pub public: bool,
    /// Exact redirect URIs (compared byte for byte).
    pub redirect_uris: Vec<String>,
    /// OAuth scopes the client may be granted (`openid`, `profile`, `email`,
    /// `statuspulse:checks:read`, `statuspulse:alerts:manage`).
    pub allowed_scopes: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// `POST /v1/oauth-clients`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClient {
    /// Unique in the workspace.
    pub name: String,
    /// PKCE only, no secret (CLIs, single-page and native apps). Default false: a confidential
    /// client, which gets a secret.
    #[serde(default)]
    pub public: bool,
    /// 1 to 10 absolute URIs: `https`, or `http` on a loopback address (native apps); no
    /// fragment.
    pub redirect_uris: Vec<String>,
    /// At least one OAuth scope.
    pub allowed_scopes: Vec<String>,
}

/// `PATCH /v1/oauth-clients/{id}`: absent fields stay; `public` cannot change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateOAuthClient {
    /// Unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the list; tokens already issued keep their scopes until they are refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
}

/// The answer to a create: the client, and for a confidential one its secret, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedOAuthClient {
    /// The client.
    #[serde(flatten)]
    pub client: OAuthClient,
    /// `spc_…`: confidential clients only; never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}
