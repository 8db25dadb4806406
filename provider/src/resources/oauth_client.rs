//! `statuspulse_oauth_client`: an application whose users sign in through StatusPulse's own
//! OAuth 2.0 / OIDC server (`/v1/oauth-clients`).
//!
//! The client secret of a confidential client is in the create answer only (the server keeps an
//! Argon2id hash), so the state keeps it from that answer: a refresh or an update never sees it
//! again and carries the stored value forward, and an import cannot know it (null, as for an
//! API key's `key`). Terraform plans a new secret only with a new client.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::oauth_clients::MAX_REDIRECT_URIS;
use statuspulse_api::v1::SigningAlg;
use statuspulse_api::validate as rules;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{CreateOAuthClient, CreatedOAuthClient, IdKind, OAuthClient, UpdateOAuthClient};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{
    computed, optional, optional_computed, required, schema, sensitive, set_of_strings, string,
};
use crate::state::{known, list_to_vec, set_to_vec, StringList, StringSet};
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthClientState {
    pub id: Value<String>,
    pub client_id: Value<String>,
    pub name: Value<String>,
    pub public: Value<bool>,
    pub redirect_uris: Value<StringList>,
    pub allowed_scopes: Value<StringSet>,
    pub signing_alg: Value<String>,
    pub client_secret: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct OAuthClientResource {
    client: ClientSlot,
}

impl OAuthClientResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::OAuthClient,
    noun: "OAuth client",
    collection: "/v1/oauth-clients",
};

/// The state for an API object; `secret` is the one the create answered, or the one the state
/// already holds (the server never returns it again).
/// `public` stays null in the state while it is false and the configuration leaves it out.
pub fn oauth_client_state(
    api: OAuthClient,
    secret: Value<String>,
    prior_public: &Value<bool>,
) -> OAuthClientState {
    OAuthClientState {
        client_id: Value::Value(api.id.clone()),
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        public: match (api.public, prior_public) {
            (false, Value::Null) => Value::Null,
            (public, _) => Value::Value(public),
        },
        // Kept in the order given: the server compares redirect URIs as listed, byte for byte.
        redirect_uris: Value::Value(api.redirect_uris.into_iter().map(Value::Value).collect()),
        allowed_scopes: Value::Value(api.allowed_scopes.into_iter().map(Value::Value).collect()),
        signing_alg: Value::Value(api.signing_alg),
        client_secret: secret,
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

impl PlanRules for OAuthClientState {
    // The server fixes a client's type: a public client has no secret to add later, and a
    // confidential one's secret cannot be taken back.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["public"];

    // `updated_at` is left out of the state on purpose: it changes with every update, and an
    // update plan keeps server-assigned values as they were.
    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![
            &mut self.id,
            &mut self.client_id,
            &mut self.client_secret,
            &mut self.workspace_id,
            &mut self.created_at,
        ]
    }

    fn fill_defaults(&mut self) {
        if self.signing_alg.is_null() {
            self.signing_alg = Value::Value(SigningAlg::default().as_str().to_owned());
        }
    }
}

pub const RESOURCE_DOC: &str = "An application whose users sign in through StatusPulse's own \
    OAuth 2.0 / OpenID Connect server (`/v1/oauth-clients`; the provider's key needs \
    `admin:sso`). Point the application at the endpoints of the `statuspulse_oidc_metadata` data \
    source, with `client_id` and, for a confidential client, `client_secret`.\n\n\
    A `public` client (a CLI, a single-page or native app) proves itself with PKCE only; a \
    `confidential` one (a server-side app) also with a secret. Every client uses the \
    authorization code flow with PKCE `S256`.\n\n\
    **Client secret.** The server shows a confidential client's secret once, in its create \
    answer, and stores only a hash, so the provider keeps it in the state from that answer: it \
    is sensitive (redacted in plans and output), but protect the state accordingly. A new secret \
    means a new client: replace the resource (`terraform apply -replace=…`). An imported client \
    has no secret in the state.\n\n\
    Import by id (`oc_…`) or by name (`name:<name>`).";

#[async_trait]
impl ManagedResource for OAuthClientResource {
    type State = OAuthClientState;

    fn schema(&self) -> Schema {
        schema(
            RESOURCE_DOC,
            [
                ("name", required(string(), "Name of the client, unique in the workspace. Updated in place.")),
                ("public", optional(AttributeType::Bool, "A public client (CLIs, single-page and native apps) proves itself with PKCE only and has no secret; otherwise (default false) a confidential client, which also authenticates with its secret. Changing it replaces the client.")),
                ("redirect_uris", required(AttributeType::List(Box::new(AttributeType::String)), &format!("1 to {MAX_REDIRECT_URIS} redirect URIs, compared byte for byte at authorization: absolute, `https` (or `http` on a loopback address, for native apps), without fragment or credentials, no repeats. Updated in place."))),
                ("allowed_scopes", required(set_of_strings(), &format!("OAuth scopes the client may be granted: {}. A person gets what the client asks ∩ these ∩ what their group bindings hold. Updated in place; tokens already issued keep their scopes until refreshed.", oauth_scope_list()))),
                ("signing_alg", optional_computed(string(), &format!("The algorithm that signs the client's access and ID tokens: {}. `ES256` (the default) suits most clients; `RS256` is for those that verify RSA signatures only. Both are listed in discovery's `id_token_signing_alg_values_supported`, and every token's key is in the JWKS. Left out, a new client gets `ES256` and an existing one keeps its algorithm. Updated in place: tokens issued from then on use the new algorithm; those already issued stay valid until they expire.", signing_alg_list()))),
                ("id", computed(string(), "Id of the client (`oc_…`), the same as `client_id`; import by it, or by name as `name:<name>`.")),
                ("client_id", computed(string(), "The OAuth `client_id` the application sends (`oc_…`).")),
                ("client_secret", sensitive(computed(string(), "Confidential clients: the client secret (`spc_…`), from the create answer (the server never shows it again); kept in the state. Null for public clients and after an import."))),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) whose users sign in through the client.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &OAuthClientState) {
        validate_config(diags, config);
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: OAuthClientState,
    ) -> Option<OAuthClientState> {
        let client = self.client.get(diags)?;
        let api: OAuthClient = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(oauth_client_state(api, state.client_secret, &state.public))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: OAuthClientState,
    ) -> Option<OAuthClientState> {
        let client = self.client.get(diags)?;
        let body = CreateOAuthClient {
            name: known(&planned.name).unwrap_or_default().to_owned(),
            public: planned.public.as_ref_option().copied().unwrap_or(false),
            redirect_uris: list_to_vec(&planned.redirect_uris),
            allowed_scopes: set_to_vec(&planned.allowed_scopes),
            signing_alg: known(&planned.signing_alg).map(str::to_owned),
        };
        let created = client
            .create::<_, CreatedOAuthClient>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the OAuth client")?;
        let secret = created.client_secret.map_or(Value::Null, Value::Value);
        Some(oauth_client_state(created.client, secret, &planned.public))
    }

    /// Sends every updatable attribute: the configuration is the whole truth.
    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: OAuthClientState,
        planned: OAuthClientState,
    ) -> Option<OAuthClientState> {
        let client = self.client.get(diags)?;
        let body = UpdateOAuthClient {
            name: known(&planned.name).map(str::to_owned),
            redirect_uris: Some(list_to_vec(&planned.redirect_uris)),
            allowed_scopes: Some(set_to_vec(&planned.allowed_scopes)),
            signing_alg: known(&planned.signing_alg).map(str::to_owned),
        };
        let api = client
            .patch::<_, OAuthClient>(&TARGET.path(known(&prior.id)?), &body)
            .await
            .or_report(diags, "update the OAuth client")?;
        Some(oauth_client_state(
            api,
            prior.client_secret,
            &planned.public,
        ))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: OAuthClientState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`oc_…`), or by name as `name:<name>`; the secret is never readable again.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<OAuthClientState> {
        let client = self.client.get(diags)?;
        let api: OAuthClient = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(oauth_client_state(api, Value::Null, &Value::Null))
    }
}

/// The OAuth scopes there are, for the docs and the diagnostics.
pub(crate) fn oauth_scope_list() -> String {
    statuspulse_api::scopes::OAUTH_SCOPES
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The signing algorithms there are, for the docs.
fn signing_alg_list() -> String {
    SigningAlg::ALL.map(|a| format!("`{a}`")).join(" or ")
}

/// Reports a refused field on its attribute.
fn refuse(diags: &mut Diagnostics, summary: &'static str, err: rules::FieldError) {
    let at = field_path(&err.field);
    diags.add(summary, err.detail, at);
}

/// The plan-time checks: each known value with the server's rule (`statuspulse_api::validate`);
/// a list is checked once all its elements are known.
fn validate_config(diags: &mut Diagnostics, config: &OAuthClientState) {
    validate::name(diags, &config.name, "name");
    if let Value::Value(uris) = &config.redirect_uris {
        if uris.iter().all(Value::is_value) {
            if let Err(e) = rules::redirect_uris(&list_to_vec(&config.redirect_uris)) {
                refuse(diags, "Invalid redirect_uris", e);
            }
        }
    }
    if let Some(alg) = known(&config.signing_alg) {
        if let Err(e) = rules::signing_alg(Some(alg)) {
            refuse(diags, "Invalid signing_alg", e);
        }
    }
    if let Value::Value(scopes) = &config.allowed_scopes {
        if scopes.iter().all(Value::is_value) {
            if let Err(e) =
                rules::oauth_scopes("allowed_scopes", &set_to_vec(&config.allowed_scopes))
            {
                refuse(diags, "Invalid allowed_scopes", e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tf_provider::AttributePath;

    use super::*;

    fn web_app() -> OAuthClientState {
        OAuthClientState {
            name: Value::Value("Status dashboard".into()),
            redirect_uris: Value::Value(vec![Value::Value(
                "https://status.example.com/callback".into(),
            )]),
            allowed_scopes: Value::Value(
                ["openid", "statuspulse:checks:read"]
                    .into_iter()
                    .map(|s| Value::Value(s.to_owned()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn errors(config: &OAuthClientState) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_config(diags, config))
    }

    fn uris(items: &[&str]) -> Value<StringList> {
        Value::Value(
            items
                .iter()
                .map(|s| Value::Value((*s).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_good_client_passes_and_http_redirects_only_on_loopback() {
        assert!(errors(&web_app()).is_empty());
        let native = OAuthClientState {
            public: Value::Value(true),
            redirect_uris: uris(&["http://127.0.0.1:8400/callback", "http://[::1]/cb"]),
            ..web_app()
        };
        assert!(errors(&native).is_empty(), "{:?}", errors(&native));
        let plain_http = OAuthClientState {
            redirect_uris: uris(&["http://status.example.com/callback"]),
            ..web_app()
        };
        let e = errors(&plain_http);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, AttributePath::new("redirect_uris"));
    }

    #[test]
    fn each_refusal_is_on_its_attribute() {
        let bad = OAuthClientState {
            redirect_uris: uris(&[]),
            allowed_scopes: Value::Value([Value::Value("read:checks".to_owned())].into()),
            ..web_app()
        };
        let at: Vec<AttributePath> = errors(&bad).into_iter().map(|(_, at)| at).collect();
        assert_eq!(
            at,
            [
                AttributePath::new("redirect_uris"),
                AttributePath::new("allowed_scopes"),
            ]
        );
        let empty_scopes = OAuthClientState {
            allowed_scopes: Value::Value(StringSet::new()),
            ..web_app()
        };
        assert_eq!(
            errors(&empty_scopes)[0].1,
            AttributePath::new("allowed_scopes")
        );
    }

    #[test]
    fn a_signing_alg_is_es256_or_rs256_and_planned_as_es256_when_left_out() {
        for alg in ["ES256", "RS256"] {
            let config = OAuthClientState {
                signing_alg: Value::Value(alg.into()),
                ..web_app()
            };
            assert!(errors(&config).is_empty(), "{alg}");
        }
        for bad in ["HS256", "none", "rs256"] {
            let config = OAuthClientState {
                signing_alg: Value::Value(bad.into()),
                ..web_app()
            };
            assert_eq!(
                errors(&config),
                [(
                    "Invalid signing_alg".to_owned(),
                    AttributePath::new("signing_alg")
                )],
                "{bad}"
            );
        }
        let planned = crate::plan::plan_create(web_app());
        assert_eq!(planned.signing_alg, Value::Value("ES256".into()));
    }

    #[test]
    fn unknown_values_wait_for_the_plan_that_knows_them() {
        let pending = OAuthClientState {
            public: Value::Unknown,
            redirect_uris: Value::Value(vec![Value::Unknown, Value::Value("ftp://x".into())]),
            allowed_scopes: Value::Unknown,
            signing_alg: Value::Unknown,
            ..web_app()
        };
        assert!(errors(&pending).is_empty());
    }

    #[test]
    fn the_state_keeps_the_secret_it_is_given_and_the_redirect_order() {
        let api: OAuthClient = serde_json::from_value(serde_json::json!({
            "id": "oc_1", "workspace_id": "ws_1", "name": "n", "public": false,
            "redirect_uris": ["https://b.example/cb", "https://a.example/cb"],
            "allowed_scopes": ["openid"], "signing_alg": "RS256", "created_at": "t", "updated_at": "u"
        }))
        .unwrap();
        let state = oauth_client_state(api, Value::Value("spc_x".into()), &Value::Null);
        assert_eq!(state.client_secret, Value::Value("spc_x".into()));
        assert_eq!(
            state.public,
            Value::Null,
            "false and not configured stays null"
        );
        assert_eq!(state.client_id, state.id);
        assert_eq!(state.signing_alg, Value::Value("RS256".into()));
        assert_eq!(
            list_to_vec(&state.redirect_uris),
            ["https://b.example/cb", "https://a.example/cb"]
        );
    }
}
