//! `statuspulse_sso_connection`: looks up an existing SSO connection by id or by name.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{IdKind, ObjectId, SsoConnection};
use crate::provider::ClientSlot;
use crate::resources::crud::find_by_name;
use crate::resources::{sso_connection_state, SsoConnectionState};
use crate::resources::{AzureAdBlock, OidcBlock, OktaBlock, OneLoginBlock, SamlBlock};
use crate::schema::{computed, map_of_strings, optional_computed, schema, set_of_strings, string};
use crate::state::{known, StringSet};

/// What the data source exposes: the resource's attributes without the secret forms, plus
/// whether a secret is set and when the connection last changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SsoConnectionData {
    pub id: Value<String>,
    pub name: Value<String>,
    pub kind: Value<String>,
    pub okta: Value<Vec<OktaBlock>>,
    pub azure_ad: Value<Vec<AzureAdBlock>>,
    pub onelogin: Value<Vec<OneLoginBlock>>,
    pub oidc: Value<Vec<OidcBlock>>,
    pub saml: Value<Vec<SamlBlock>>,
    pub endpoint_override: Value<String>,
    pub client_id: Value<String>,
    pub client_secret_set: Value<bool>,
    pub scopes: Value<StringSet>,
    pub email_domains: Value<StringSet>,
    pub require_mfa: Value<bool>,
    pub acr_values: Value<Vec<Value<String>>>,
    pub allowed_groups: Value<StringSet>,
    pub group_mappings: Value<BTreeMap<String, Value<String>>>,
    pub sp_entity_id: Value<String>,
    pub acs_url: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
    pub updated_at: Value<String>,
}

/// A kind's block as a computed list: one element for the connection's kind, none otherwise. (A
/// computed attribute arrives null in the configuration, so it is a plain list here, not a
/// nested block.)
fn as_list<T>(block: Value<T>) -> Value<Vec<T>> {
    match block {
        Value::Value(b) => Value::Value(vec![b]),
        _ => Value::Value(Vec::new()),
    }
}

/// Empty lists, sets and maps are `[]`/`{}` here, not null: nothing was configured.
fn data_from_api(api: SsoConnection) -> SsoConnectionData {
    let secret_set = api.client_secret_set;
    let updated_at = api.updated_at.clone();
    let everything_set = SsoConnectionState {
        scopes: Value::Value(Default::default()),
        email_domains: Value::Value(Default::default()),
        require_mfa: Value::Value(false),
        acr_values: Value::Value(Vec::new()),
        allowed_groups: Value::Value(Default::default()),
        group_mappings: Value::Value(Default::default()),
        azure_ad: Value::Value(AzureAdBlock {
            allowed_tenants: Value::Value(Default::default()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let s = sso_connection_state(api, &everything_set);
    SsoConnectionData {
        id: s.id,
        name: s.name,
        kind: s.kind,
        okta: as_list(s.okta),
        azure_ad: as_list(s.azure_ad),
        onelogin: as_list(s.onelogin),
        oidc: as_list(s.oidc),
        saml: as_list(s.saml),
        endpoint_override: s.endpoint_override,
        client_id: s.client_id,
        client_secret_set: Value::Value(secret_set),
        scopes: s.scopes,
        email_domains: s.email_domains,
        require_mfa: s.require_mfa,
        acr_values: s.acr_values,
        allowed_groups: s.allowed_groups,
        group_mappings: s.group_mappings,
        sp_entity_id: s.sp_entity_id,
        acs_url: s.acs_url,
        workspace_id: s.workspace_id,
        created_at: s.created_at,
        updated_at: Value::Value(updated_at),
    }
}

pub struct SsoConnectionDataSource {
    client: ClientSlot,
}

impl SsoConnectionDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

fn object(fields: &[(&str, AttributeType)]) -> AttributeType {
    AttributeType::List(Box::new(AttributeType::Object(
        fields
            .iter()
            .map(|(n, t)| ((*n).to_owned(), t.clone()))
            .collect::<HashMap<_, _>>(),
    )))
}

#[async_trait]
impl DataSource for SsoConnectionDataSource {
    type State<'a> = SsoConnectionData;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let s = AttributeType::String;
        Some(schema(
            "Reads an existing SSO connection, by `id` or by `name` (exactly one of them). The \
             client secret is never readable: `client_secret_set` says whether one is stored.",
            [
                ("id", optional_computed(string(), "Id of the connection (`sso_…`).")),
                ("name", optional_computed(string(), "Name of the connection.")),
                ("kind", computed(string(), "`okta`, `azure_ad`, `onelogin`, `oidc` or `saml`.")),
                ("okta", computed(object(&[("domain", s.clone()), ("authorization_server_id", s.clone())]), "Kind `okta`: one element with `domain` and `authorization_server_id`; empty otherwise.")),
                ("azure_ad", computed(object(&[("tenant_id", s.clone()), ("allowed_tenants", set_of_strings())]), "Kind `azure_ad`: one element with `tenant_id` and `allowed_tenants`; empty otherwise.")),
                ("onelogin", computed(object(&[("subdomain", s.clone())]), "Kind `onelogin`: one element with `subdomain`; empty otherwise.")),
                ("oidc", computed(object(&[("issuer", s.clone())]), "Kind `oidc`: one element with `issuer`; empty otherwise.")),
                ("saml", computed(object(&[("idp_entity_id", s.clone()), ("idp_sso_url", s.clone()), ("idp_certificate", s.clone()), ("groups_attribute", s)]), "Kind `saml`: one element with the IdP's settings; empty otherwise.")),
                ("endpoint_override", computed(string(), "Native kinds: the base URL replacing the vendor's, if any.")),
                ("client_id", computed(string(), "The OAuth client id at the identity provider.")),
                ("client_secret_set", computed(AttributeType::Bool, "Whether a client secret is stored (sealed on the server; never returned).")),
                ("scopes", computed(set_of_strings(), "Scopes asked of the identity provider.")),
                ("email_domains", computed(set_of_strings(), "Email domains that sign in through this connection.")),
                ("require_mfa", computed(AttributeType::Bool, "Whether sign-in needs proof of MFA.")),
                ("acr_values", computed(AttributeType::List(Box::new(AttributeType::String)), "`acr` values asked for.")),
                ("allowed_groups", computed(set_of_strings(), "IdP groups allowed to sign in; empty allows any.")),
                ("group_mappings", computed(map_of_strings(), "IdP group → StatusPulse group.")),
                ("sp_entity_id", computed(string(), "Kind `saml`: StatusPulse's service provider entity id.")),
                ("acs_url", computed(string(), "Kind `saml`: the assertion consumer service URL.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) the connection belongs to.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
                ("updated_at", computed(string(), "Time of the last change (RFC 3339), a new client secret included.")),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: SsoConnectionData) -> Option<()> {
        match (&config.id, &config.name) {
            (Value::Null, Value::Null) | (Value::Value(_), Value::Value(_)) => diags.add(
                "Set exactly one of id and name",
                "Look the SSO connection up either by `id` or by `name`.",
                AttributePath::root(),
            ),
            _ => {}
        }
        if let Some(id) = known(&config.id) {
            if let Err(detail) = ObjectId::parse(IdKind::SsoConnection, id) {
                diags.add(
                    "Invalid SSO connection id",
                    detail,
                    AttributePath::new("id"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: SsoConnectionData,
        _provider_meta_state: ValueEmpty,
    ) -> Option<SsoConnectionData> {
        let client = self.client.get(diags)?;
        let found = if let Some(id) = known(&config.id) {
            client
                .get::<SsoConnection>(&format!("/v1/sso-connections/{id}"))
                .await
                .map(Some)
        } else {
            find_by_name::<SsoConnection>(&client, "/v1/sso-connections", known(&config.name)?)
                .await
        };
        match found {
            Ok(Some(api)) => Some(data_from_api(api)),
            Ok(None) => {
                diags.add(
                    "SSO connection not found",
                    "No SSO connection with that name exists in the provider key's workspace.",
                    AttributePath::new("name"),
                );
                None
            }
            Err(err) if err.is_not_found() => {
                diags.add(
                    "SSO connection not found",
                    "No SSO connection with that id exists in the provider key's workspace.",
                    AttributePath::new("id"),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the SSO connection", &err);
                None
            }
        }
    }
}
