//! `statuspulse_oidc_metadata`: the OpenID provider metadata of the configured server
//! (`GET /.well-known/openid-configuration`), "Download OIDC Metadata" for Terraform users, so a
//! configuration can hand an application its issuer and endpoints next to its
//! `statuspulse_oauth_client`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{DataSource, Diagnostics};

use crate::client::ApiError;
use crate::diag::DiagnosticsExt;
use crate::provider::ClientSlot;
use crate::schema::{computed, schema, string};

/// Where the document is (OpenID Connect Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcMetadataState {
    pub issuer: Value<String>,
    pub authorization_endpoint: Value<String>,
    pub token_endpoint: Value<String>,
    pub jwks_uri: Value<String>,
    pub userinfo_endpoint: Value<String>,
    pub revocation_endpoint: Value<String>,
    pub introspection_endpoint: Value<String>,
    pub scopes_supported: Value<Vec<String>>,
    pub code_challenge_methods_supported: Value<Vec<String>>,
    pub grant_types_supported: Value<Vec<String>>,
    pub document: Value<String>,
}

/// The members the data source exposes. Discovery makes only `issuer` and a few others
/// mandatory; a member the server leaves out is null rather than an error.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    scopes_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
    grant_types_supported: Option<Vec<String>>,
}

/// The state for a document as served: the members it names, and its text unchanged (the
/// server's bytes, which `jsondecode` reads and a file can hold as downloaded).
fn metadata_state(document: String) -> Result<OidcMetadataState, ApiError> {
    let m: Metadata = serde_json::from_str(&document)
        .map_err(|err| ApiError::Decode(format!("the OpenID provider metadata: {err}")))?;
    let opt = |v: Option<String>| v.map_or(Value::Null, Value::Value);
    let list = |v: Option<Vec<String>>| v.map_or(Value::Null, Value::Value);
    Ok(OidcMetadataState {
        issuer: Value::Value(m.issuer),
        authorization_endpoint: opt(m.authorization_endpoint),
        token_endpoint: opt(m.token_endpoint),
        jwks_uri: opt(m.jwks_uri),
        userinfo_endpoint: opt(m.userinfo_endpoint),
        revocation_endpoint: opt(m.revocation_endpoint),
        introspection_endpoint: opt(m.introspection_endpoint),
        scopes_supported: list(m.scopes_supported),
        code_challenge_methods_supported: list(m.code_challenge_methods_supported),
        grant_types_supported: list(m.grant_types_supported),
        document: Value::Value(document),
    })
}

pub struct OidcMetadataDataSource {
    client: ClientSlot,
}

impl OidcMetadataDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for OidcMetadataDataSource {
    type State<'a> = OidcMetadataState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let strings = || AttributeType::List(Box::new(AttributeType::String));
        Some(schema(
            "The OpenID provider metadata of the StatusPulse server the provider is configured \
             for (`GET /.well-known/openid-configuration`; \"Download OIDC Metadata\"): the \
             issuer and endpoints an application registered with `statuspulse_oauth_client` \
             signs people in with. The document is public: it is read without the provider's \
             key.",
            [
                ("issuer", computed(string(), "The issuer (`iss` of every token), the server's public URL.")),
                ("authorization_endpoint", computed(string(), "Where the authorization code flow starts (`/oauth2/authorize`).")),
                ("token_endpoint", computed(string(), "Where codes and refresh tokens are exchanged (`/oauth2/token`).")),
                ("jwks_uri", computed(string(), "The JSON Web Key Set that verifies the server's tokens.")),
                ("userinfo_endpoint", computed(string(), "OpenID Connect UserInfo (`/oauth2/userinfo`).")),
                ("revocation_endpoint", computed(string(), "Token revocation, RFC 7009 (`/oauth2/revoke`).")),
                ("introspection_endpoint", computed(string(), "Token introspection, RFC 7662 (`/oauth2/introspect`), for confidential clients.")),
                ("scopes_supported", computed(strings(), "The OAuth scopes a client may ask for, as `allowed_scopes` of `statuspulse_oauth_client` accepts them.")),
                ("code_challenge_methods_supported", computed(strings(), "PKCE methods: `S256` only.")),
                ("grant_types_supported", computed(strings(), "Grant types the token endpoint accepts.")),
                ("document", computed(string(), "The whole document, JSON text exactly as served: `jsondecode` it for members not listed here, or write it to a file for tools that import OIDC metadata.")),
            ],
        ))
    }

    async fn validate<'a>(
        &self,
        _diags: &mut Diagnostics,
        _config: OidcMetadataState,
    ) -> Option<()> {
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        _config: OidcMetadataState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<OidcMetadataState> {
        let client = self.client.get(diags)?;
        let read = match client.get_public_text(DISCOVERY_PATH).await {
            Ok(document) => metadata_state(document),
            Err(err) => Err(err),
        };
        match read {
            Ok(state) => Some(state),
            Err(err) => {
                diags.api_error("read the OpenID provider metadata", &err);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_kept_as_served_and_absent_members_are_null() {
        let served = r#"{"issuer":"https://auth.example","token_endpoint":"https://auth.example/oauth2/token","code_challenge_methods_supported":["S256"],"x_extra":1}"#;
        let state = metadata_state(served.to_owned()).unwrap();
        assert_eq!(state.document, Value::Value(served.to_owned()));
        assert_eq!(state.issuer, Value::Value("https://auth.example".into()));
        assert_eq!(
            state.code_challenge_methods_supported,
            Value::Value(vec!["S256".to_owned()])
        );
        assert!(state.userinfo_endpoint.is_null() && state.scopes_supported.is_null());
    }

    #[test]
    fn a_document_without_an_issuer_is_a_decode_error() {
        assert!(matches!(
            metadata_state("{}".to_owned()),
            Err(ApiError::Decode(_))
        ));
        assert!(matches!(
            metadata_state("<html>".to_owned()),
            Err(ApiError::Decode(_))
        ));
    }
}
