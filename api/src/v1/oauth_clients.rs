//! `/v1/oauth-clients`: applications that sign users in through StatusPulse's own OAuth 2.0 /
//! OIDC server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Redirect URIs a client may register, at most.
pub const MAX_REDIRECT_URIS: usize = 10;

/// The JOSE algorithm that signs the tokens issued to a client (its access and ID tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256: small, fast keys and signatures; the default.
    #[default]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA 2048): for clients and libraries that verify RSA
    /// signatures only (the one algorithm OpenID Connect requires every party to support).
    Rs256,
}

impl SigningAlg {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Es256, SigningAlg::Rs256];
    /// Their names, in the same order (the OpenAPI document's enumeration).
    pub const NAMES: &'static [&'static str] = &["ES256", "RS256"];

    /// The JOSE name (`alg` of a JWS header and a JWK), as on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
        }
    }
}

impl FromStr for SigningAlg {
    type Err = ();
    /// Exactly a JOSE name of [`SigningAlg::ALL`]; JOSE names are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

fn es256() -> String {
    SigningAlg::Es256.as_str().to_owned()
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The algorithm of the tokens issued to the client: `ES256` or `RS256`. (A server from
    /// before the setting signs everything ES256.)
    #[serde(default = "es256")]
    pub signing_alg: String,
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
    /// `ES256` (default) or `RS256`: the algorithm of the access and ID tokens issued to the
    /// client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
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
    /// `ES256` or `RS256`; tokens issued from then on are signed with it, those already issued
    /// stay valid until they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signing_alg_round_trips_through_its_name_in_order() {
        let names: Vec<&str> = SigningAlg::ALL.map(SigningAlg::as_str).to_vec();
        assert_eq!(names, SigningAlg::NAMES);
        for alg in SigningAlg::ALL {
            assert_eq!(alg.as_str().parse::<SigningAlg>(), Ok(alg));
        }
        assert_eq!(SigningAlg::default(), SigningAlg::Es256);
    }
}
