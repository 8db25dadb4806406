//! `statuspulse_sso_connection`: an identity provider the workspace federates sign-in to.
//!
//! One nested block per kind (`okta`, `azure_ad`, `onelogin`, `oidc`, `saml`); the plan-time
//! checks are the server's field rules (`statuspulse_api::validate`), reported on the attribute.
//!
//! The client secret has two forms, exactly one of which a configuration uses:
//! - `client_secret_wo` (write-only, Terraform 1.11+) with `client_secret_wo_version`: the value
//!   is never in the plan or the state; the provider sends it on create and whenever the version
//!   changes. Recommended.
//! - `client_secret` (sensitive, kept in state) for Terraform older than 1.11, which cannot keep a
//!   value out of state; sent on create and whenever it changes.
//!
//! The server never returns the secret, so neither form is read back: a refresh keeps what the
//! configuration said.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::sso_connections::{KINDS, NATIVE_KINDS};
use statuspulse_api::validate as rules;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{
    AzureAdSettings, CreateSsoConnection, IdKind, OidcSettings, OktaSettings, OneLoginSettings,
    SamlSettings, SsoConnection, UpdateSsoConnection,
};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{
    computed, map_of_strings, optional, optional_block, optional_computed, required, sensitive,
    set_of_strings, string, write_only,
};
use crate::state::{
    known, list_to_vec, opt_of, opt_string, set_from_api, set_to_vec, string_of, StringList,
    StringSet,
};
use crate::validate;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OktaBlock {
    pub domain: Value<String>,
    pub authorization_server_id: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AzureAdBlock {
    pub tenant_id: Value<String>,
    pub allowed_tenants: Value<StringSet>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OneLoginBlock {
    pub subdomain: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcBlock {
    pub issuer: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamlBlock {
    pub idp_entity_id: Value<String>,
    pub idp_sso_url: Value<String>,
    pub idp_certificate: Value<String>,
    pub groups_attribute: Value<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SsoConnectionState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub kind: Value<String>,
    #[serde(with = "value::serde_as_vec")]
    pub okta: Value<OktaBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub azure_ad: Value<AzureAdBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub onelogin: Value<OneLoginBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub oidc: Value<OidcBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub saml: Value<SamlBlock>,
    pub endpoint_override: Value<String>,
    pub client_id: Value<String>,
    pub client_secret: Value<String>,
    pub client_secret_wo: Value<String>,
    pub client_secret_wo_version: Value<i64>,
    pub scopes: Value<StringSet>,
    pub email_domains: Value<StringSet>,
    pub require_mfa: Value<bool>,
    pub acr_values: Value<StringList>,
    pub allowed_groups: Value<StringSet>,
    pub group_mappings: Value<BTreeMap<String, Value<String>>>,
    pub sp_entity_id: Value<String>,
    pub acs_url: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct SsoConnectionResource {
    client: ClientSlot,
}

impl SsoConnectionResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

pub(crate) const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::SsoConnection,
    noun: "SSO connection",
    collection: "/v1/sso-connections",
};

/// The server stores the certificate as given; should it ever normalise surrounding whitespace
/// (a heredoc's final newline), the configured text is kept when it trims to the same value, so
/// no plan shows a whitespace-only diff.
fn certificate_from_api(api: String, prior: &Value<SamlBlock>) -> Value<String> {
    match prior
        .as_ref_option()
        .and_then(|b| b.idp_certificate.as_ref_option())
    {
        Some(configured) if configured.trim() == api.trim() => Value::Value(configured.clone()),
        _ => Value::Value(api),
    }
}

/// Builds state from the server's answer. `prior` (the plan, or the stored state) supplies what
/// the server does not return (the secret forms) and decides null versus empty.
pub fn sso_connection_state(api: SsoConnection, prior: &SsoConnectionState) -> SsoConnectionState {
    let prior_tenants = prior
        .azure_ad
        .as_ref_option()
        .map_or(Value::Null, |b| b.allowed_tenants.clone());
    SsoConnectionState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        kind: Value::Value(api.kind),
        okta: api.okta.map_or(Value::Null, |o| {
            Value::Value(OktaBlock {
                domain: Value::Value(o.domain),
                authorization_server_id: opt_string(o.authorization_server_id),
            })
        }),
        azure_ad: api.azure_ad.map_or(Value::Null, |a| {
            Value::Value(AzureAdBlock {
                tenant_id: Value::Value(a.tenant_id),
                allowed_tenants: set_from_api(a.allowed_tenants, &prior_tenants),
            })
        }),
        onelogin: api.onelogin.map_or(Value::Null, |o| {
            Value::Value(OneLoginBlock {
                subdomain: Value::Value(o.subdomain),
            })
        }),
        oidc: api.oidc.map_or(Value::Null, |o| {
            Value::Value(OidcBlock {
                issuer: Value::Value(o.issuer),
            })
        }),
        saml: api.saml.map_or(Value::Null, |s| {
            Value::Value(SamlBlock {
                idp_entity_id: Value::Value(s.idp_entity_id),
                idp_sso_url: Value::Value(s.idp_sso_url),
                idp_certificate: certificate_from_api(s.idp_certificate, &prior.saml),
                groups_attribute: opt_string(s.groups_attribute),
            })
        }),
        endpoint_override: opt_string(api.endpoint_override),
        client_id: opt_string(api.client_id),
        client_secret: prior.client_secret.clone(),
        client_secret_wo: Value::Null,
        client_secret_wo_version: prior.client_secret_wo_version,
        scopes: set_from_api(api.scopes, &prior.scopes),
        email_domains: set_from_api(api.email_domains, &prior.email_domains),
        require_mfa: match (api.require_mfa, &prior.require_mfa) {
            (false, Value::Null) => Value::Null,
            (mfa, _) => Value::Value(mfa),
        },
        acr_values: if api.acr_values.is_empty() && !prior.acr_values.is_value() {
            Value::Null
        } else {
            Value::Value(api.acr_values.into_iter().map(Value::Value).collect())
        },
        allowed_groups: set_from_api(api.allowed_groups, &prior.allowed_groups),
        group_mappings: if api.group_mappings.is_empty() && !prior.group_mappings.is_value() {
            Value::Null
        } else {
            Value::Value(
                api.group_mappings
                    .into_iter()
                    .map(|(k, v)| (k, Value::Value(v)))
                    .collect(),
            )
        },
        sp_entity_id: opt_string(api.sp_entity_id),
        acs_url: opt_string(api.acs_url),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

fn mappings(value: &Value<BTreeMap<String, Value<String>>>) -> BTreeMap<String, String> {
    value
        .as_ref_option()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_ref_option()?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// The request body for the planned state; `secret` is the secret to send, if any.
fn create_body(state: &SsoConnectionState, secret: Option<String>) -> CreateSsoConnection {
    let saml = known(&state.kind) == Some("saml");
    CreateSsoConnection {
        name: string_of(&state.name),
        kind: string_of(&state.kind),
        okta: state.okta.as_ref_option().map(|b| OktaSettings {
            domain: string_of(&b.domain),
            authorization_server_id: opt_of(&b.authorization_server_id),
        }),
        azure_ad: state.azure_ad.as_ref_option().map(|b| AzureAdSettings {
            tenant_id: string_of(&b.tenant_id),
            allowed_tenants: set_to_vec(&b.allowed_tenants),
        }),
        onelogin: state.onelogin.as_ref_option().map(|b| OneLoginSettings {
            subdomain: string_of(&b.subdomain),
        }),
        oidc: state.oidc.as_ref_option().map(|b| OidcSettings {
            issuer: string_of(&b.issuer),
        }),
        saml: state.saml.as_ref_option().map(|b| SamlSettings {
            idp_entity_id: string_of(&b.idp_entity_id),
            idp_sso_url: string_of(&b.idp_sso_url),
            idp_certificate: string_of(&b.idp_certificate),
            groups_attribute: opt_of(&b.groups_attribute),
        }),
        endpoint_override: opt_of(&state.endpoint_override),
        client_id: opt_of(&state.client_id),
        client_secret: secret,
        scopes: (!saml && state.scopes.is_value()).then(|| set_to_vec(&state.scopes)),
        email_domains: set_to_vec(&state.email_domains),
        require_mfa: state.require_mfa.as_ref_option().copied().unwrap_or(false),
        acr_values: list_to_vec(&state.acr_values),
        allowed_groups: set_to_vec(&state.allowed_groups),
        group_mappings: mappings(&state.group_mappings),
    }
}

/// Every attribute, always (the configuration is the whole truth); an override removed is `""`.
fn update_body(state: &SsoConnectionState, secret: Option<String>) -> UpdateSsoConnection {
    let c = create_body(state, secret);
    UpdateSsoConnection {
        name: Some(c.name),
        kind: None,
        okta: c.okta,
        azure_ad: c.azure_ad,
        onelogin: c.onelogin,
        oidc: c.oidc,
        saml: c.saml,
        endpoint_override: Some(c.endpoint_override.unwrap_or_default()),
        client_id: c.client_id,
        client_secret: c.client_secret,
        scopes: c.scopes,
        email_domains: Some(c.email_domains),
        require_mfa: Some(c.require_mfa),
        acr_values: Some(c.acr_values),
        allowed_groups: Some(c.allowed_groups),
        group_mappings: Some(c.group_mappings),
    }
}

impl PlanRules for SsoConnectionState {
    // A connection's kind is fixed on the server: another kind is another connection.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["kind"];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![
            &mut self.id,
            &mut self.workspace_id,
            &mut self.created_at,
            &mut self.sp_entity_id,
            &mut self.acs_url,
        ]
    }

    /// `scopes` defaults to `openid email profile` for every kind but `saml`, which has none.
    fn fill_defaults(&mut self) {
        if self.scopes.is_null() {
            self.scopes = match &self.kind {
                Value::Value(kind) if kind == "saml" => Value::Null,
                Value::Value(_) => Value::Value(
                    statuspulse_api::v1::sso_connections::DEFAULT_SCOPES
                        .iter()
                        .map(|s| Value::Value((*s).to_owned()))
                        .collect(),
                ),
                Value::Unknown => Value::Unknown,
                Value::Null => Value::Null,
            };
        }
    }
}

pub const RESOURCE_DOC: &str = "An SSO connection: sign-in to StatusPulse federated to the \
    workspace's identity provider (`/v1/sso-connections`; the provider's key needs `admin:sso`). \
    Set `kind` and exactly the block of that kind: `okta`, `azure_ad`, `onelogin`, `oidc` (any \
    OpenID provider with discovery) or `saml`.\n\n\
    **Client secret.** The server seals it with its master key and never returns it. Give it in \
    one of two ways, never both:\n\
    - `client_secret_wo` with `client_secret_wo_version` (recommended, Terraform 1.11 or later): \
    write-only, so the secret is in neither the plan nor the state. Terraform cannot see a change \
    of a write-only value, so change `client_secret_wo_version` (any new number) to send a new \
    secret.\n\
    - `client_secret` (Terraform older than 1.11): sensitive, redacted in output, but stored in \
    the state; protect the state accordingly. Sent again whenever it changes.\n\n\
    Without a master key on the server (`STATUSPULSE_MASTER_KEY`), a secret is refused \
    (`master_key_required`).\n\n\
    `email_domains` pick the connection for `?email=` sign-in and are unique across the \
    workspace's connections. `group_mappings` map IdP groups to StatusPulse groups, which \
    `statuspulse_role_binding` binds with `group`.\n\n\
    Import by id (`sso_…`) or by name (`name:<name>`). An imported connection has no secret in \
    state: set the secret attributes in the configuration, and the next apply sends it.";

#[async_trait]
impl ManagedResource for SsoConnectionResource {
    type State = SsoConnectionState;

    fn schema(&self) -> Schema {
        let mut schema = crate::schema::schema(
            RESOURCE_DOC,
            [
                ("name", required(string(), "Name of the connection, unique in the workspace. Updated in place.")),
                ("kind", required(string(), "`okta`, `azure_ad`, `onelogin`, `oidc` or `saml`; the block of the same name must be set, and no other. Changing it replaces the connection.")),
                ("endpoint_override", optional(string(), "Native kinds (`okta`, `azure_ad`, `onelogin`) only: a base URL that replaces the vendor's endpoints (sovereign clouds, tests), `https` or `http` on a loopback address. Claim handling stays the vendor's.")),
                ("client_id", optional(string(), "The OAuth client id registered at the identity provider. Required for every kind but `saml`.")),
                ("client_secret", sensitive(optional(string(), "The OAuth client secret, for Terraform older than 1.11: sensitive, but kept in the state. Prefer `client_secret_wo`. At most one of `client_secret` and `client_secret_wo`."))),
                ("client_secret_wo", write_only(optional(string(), "The OAuth client secret, write-only (Terraform 1.11 or later): never stored in the plan or the state. Sent on create and whenever `client_secret_wo_version` changes. At most one of `client_secret` and `client_secret_wo`."))),
                ("client_secret_wo_version", optional(AttributeType::Number, "Required with `client_secret_wo`: change it (for example increment it) to send the current `client_secret_wo` to the server.")),
                ("scopes", optional_computed(set_of_strings(), "Scopes asked of the identity provider; must include `openid`. Default `openid`, `email`, `profile`; not for `saml`.")),
                ("email_domains", optional(set_of_strings(), "Lowercase email domains (`example.com`) whose users sign in through this connection (`?email=` sign-in); a domain belongs to one connection of the workspace.")),
                ("require_mfa", optional(AttributeType::Bool, "Sign-in succeeds only with proof of multi-factor authentication (`amr`, or an `acr` from `acr_values`). Default false.")),
                ("acr_values", optional(AttributeType::List(Box::new(AttributeType::String)), "`acr` values asked for, in order of preference, and accepted as proof of MFA.")),
                ("allowed_groups", optional(set_of_strings(), "IdP groups whose members may sign in; unset or empty allows any.")),
                ("group_mappings", optional(map_of_strings(), "IdP group → StatusPulse group, the `group` principal of `statuspulse_role_binding`.")),
                ("sp_entity_id", computed(string(), "Kind `saml`: StatusPulse's service provider entity id (also its metadata URL), to register at the IdP.")),
                ("acs_url", computed(string(), "Kind `saml`: the assertion consumer service URL (POST binding), to register at the IdP.")),
                ("id", computed(string(), "Id of the connection (`sso_…`); also the import id.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) the connection belongs to.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        );
        schema.block.blocks.extend([
            ("okta".to_owned(), optional_block("Kind `okta`: the Okta org (`https://{domain}`) or a custom authorization server (`https://{domain}/oauth2/{authorization_server_id}`).", vec![
                ("domain", required(string(), "The Okta domain, e.g. `example.okta.com`.")),
                ("authorization_server_id", optional(string(), "A custom authorization server's id (e.g. `default`); unset for the org authorization server.")),
            ])),
            ("azure_ad".to_owned(), optional_block("Kind `azure_ad`: Microsoft Entra ID (Azure AD), issuer `https://login.microsoftonline.com/{tenant_id}/v2.0`.", vec![
                ("tenant_id", required(string(), "The tenant GUID (lowercase), or `common` / `organizations` for multi-tenant sign-in.")),
                ("allowed_tenants", optional(set_of_strings(), "Tenant GUIDs accepted from the token's `tid`; required with `common` or `organizations`, not allowed otherwise.")),
            ])),
            ("onelogin".to_owned(), optional_block("Kind `onelogin`: issuer `https://{subdomain}.onelogin.com/oidc/2`.", vec![
                ("subdomain", required(string(), "The account's subdomain (`example` of example.onelogin.com).")),
            ])),
            ("oidc".to_owned(), optional_block("Kind `oidc`: any OpenID provider with discovery (PingIdentity, Auth0, Keycloak).", vec![
                ("issuer", required(string(), "The issuer URL: `https`, or `http` on a loopback address. Discovery is read from `{issuer}/.well-known/openid-configuration`.")),
            ])),
            ("saml".to_owned(), optional_block("Kind `saml`: a SAML 2.0 identity provider.", vec![
                ("idp_entity_id", required(string(), "The IdP's entity id.")),
                ("idp_sso_url", required(string(), "The IdP's single sign-on URL (Redirect binding), `https`.")),
                ("idp_certificate", required(string(), "The IdP's signing certificate, PEM (`-----BEGIN CERTIFICATE-----`).")),
                ("groups_attribute", optional(string(), "The assertion attribute that carries group names.")),
            ])),
        ]);
        schema
    }

    fn validate(diags: &mut Diagnostics, config: &SsoConnectionState) {
        validate_config(diags, config);
    }

    fn write_only_from_config(planned: &mut SsoConnectionState, config: &SsoConnectionState) {
        planned.client_secret_wo = config.client_secret_wo.clone();
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: SsoConnectionState,
    ) -> Option<SsoConnectionState> {
        let client = self.client.get(diags)?;
        let api: SsoConnection = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(sso_connection_state(api, &state))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: SsoConnectionState,
    ) -> Option<SsoConnectionState> {
        let client = self.client.get(diags)?;
        let secret = opt_of(&planned.client_secret).or_else(|| opt_of(&planned.client_secret_wo));
        let api = client
            .create::<_, SsoConnection>(TARGET.collection, &create_body(&planned, secret))
            .await
            .or_report(diags, "create the SSO connection")?;
        Some(sso_connection_state(api, &planned))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: SsoConnectionState,
        planned: SsoConnectionState,
    ) -> Option<SsoConnectionState> {
        let client = self.client.get(diags)?;
        // A secret is sent only when it changed: the sensitive form by value, the write-only form
        // by its version (Terraform never shows the provider a prior write-only value).
        let secret =
            if planned.client_secret.is_value() && planned.client_secret != prior.client_secret {
                opt_of(&planned.client_secret)
            } else if planned.client_secret_wo.is_value()
                && planned.client_secret_wo_version != prior.client_secret_wo_version
            {
                opt_of(&planned.client_secret_wo)
            } else {
                None
            };
        let api = client
            .patch::<_, SsoConnection>(
                &TARGET.path(known(&prior.id)?),
                &update_body(&planned, secret),
            )
            .await
            .or_report(diags, "update the SSO connection")?;
        Some(sso_connection_state(api, &planned))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: SsoConnectionState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`sso_…`), or by name as `name:<name>`.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<SsoConnectionState> {
        let client = self.client.get(diags)?;
        let api =
            crate::resources::crud::import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(sso_connection_state(api, &SsoConnectionState::default()))
    }
}

/// Reports a refused field on its attribute (nested fields inside their block).
fn refuse(diags: &mut Diagnostics, summary: &'static str, err: rules::FieldError) {
    let at = field_path(&err.field);
    diags.add(summary, err.detail, at);
}

/// The plan-time checks: each value that is known is checked with the server's rule.
fn validate_config(diags: &mut Diagnostics, config: &SsoConnectionState) {
    validate::name(diags, &config.name, "name");
    let kind = known(&config.kind);
    if let Some(kind) = kind {
        if !KINDS.contains(&kind) {
            diags.add(
                "Invalid kind",
                format!("kind must be one of {}.", KINDS.join(", ")),
                AttributePath::new("kind"),
            );
        }
    }
    // Blocks consistent with the kind.
    let blocks = [
        ("okta", !config.okta.is_null()),
        ("azure_ad", !config.azure_ad.is_null()),
        ("onelogin", !config.onelogin.is_null()),
        ("oidc", !config.oidc.is_null()),
        ("saml", !config.saml.is_null()),
    ];
    if let Some(kind) = kind.filter(|k| KINDS.contains(k)) {
        for (block, present) in blocks {
            if present && block != kind {
                diags.add(
                    "Block does not match the kind",
                    format!("The {block} block does not apply to a connection of kind `{kind}`: give only the {kind} block."),
                    AttributePath::new(block),
                );
            }
            if !present && block == kind {
                diags.add(
                    "Missing block for the kind",
                    format!("A connection of kind `{kind}` needs its {kind} block."),
                    AttributePath::new("kind"),
                );
            }
        }
        let native = NATIVE_KINDS.contains(&kind);
        if !native && !config.endpoint_override.is_null() {
            diags.add(
                "endpoint_override does not apply",
                format!(
                    "endpoint_override is only for the native kinds ({}).",
                    NATIVE_KINDS.join(", ")
                ),
                AttributePath::new("endpoint_override"),
            );
        }
        if kind == "saml" {
            for (attribute, value) in [
                ("client_id", config.client_id.is_null()),
                ("client_secret", config.client_secret.is_null()),
                ("client_secret_wo", config.client_secret_wo.is_null()),
                ("scopes", config.scopes.is_null()),
            ] {
                if !value {
                    diags.add(
                        "Attribute does not apply to SAML",
                        format!("{attribute} is for OAuth kinds; a saml connection has none."),
                        AttributePath::new(attribute),
                    );
                }
            }
        } else if config.client_id.is_null() {
            diags.add(
                "Missing client_id",
                format!("A connection of kind `{kind}` needs the client_id registered at the identity provider."),
                AttributePath::new("client_id"),
            );
        }
    }
    validate::secret_forms(
        diags,
        &validate::SecretForms {
            what: "client secret",
            sensitive: (&config.client_secret, "client_secret"),
            write_only: (&config.client_secret_wo, "client_secret_wo"),
            version: (&config.client_secret_wo_version, "client_secret_wo_version"),
        },
    );
    for secret in [&config.client_secret, &config.client_secret_wo] {
        if let Some(s) = known(secret) {
            if let Err(e) = rules::client_secret(s) {
                refuse(diags, "Invalid client secret", e);
            }
        }
    }
    if let Some(id) = known(&config.client_id) {
        if let Err(e) = rules::opaque("client_id", id, 512) {
            refuse(diags, "Invalid client_id", e);
        }
    }
    if let Some(url) = known(&config.endpoint_override) {
        if let Err(e) = rules::https_url("endpoint_override", url) {
            refuse(diags, "Invalid endpoint_override", e);
        }
    }
    // Per-kind blocks.
    if let Some(b) = config.okta.as_ref_option() {
        if let Some(domain) = known(&b.domain) {
            if rules::email_domain("okta.domain", domain).is_err() {
                diags.add(
                    "Invalid Okta domain",
                    format!("`{domain}` is not a host name: use lowercase labels like example.okta.com."),
                    field_path("okta.domain"),
                );
            }
        }
    }
    if let Some(b) = config.azure_ad.as_ref_option() {
        let multi = matches!(known(&b.tenant_id), Some("common" | "organizations"));
        if let Some(tenant) = known(&b.tenant_id).filter(|_| !multi) {
            if let Err(e) = rules::guid("azure_ad.tenant_id", tenant) {
                refuse(diags, "Invalid tenant_id", e);
            }
        }
        for t in set_to_vec(&b.allowed_tenants) {
            if let Err(e) = rules::guid("azure_ad.allowed_tenants", &t) {
                refuse(diags, "Invalid allowed tenant", e);
            }
        }
        let none_allowed = b.allowed_tenants.is_null()
            || b.allowed_tenants
                .as_ref_option()
                .is_some_and(std::collections::BTreeSet::is_empty);
        if multi && none_allowed {
            diags.add(
                "allowed_tenants required",
                "With tenant_id `common` or `organizations` any Azure AD tenant could sign in: list the tenant GUIDs allowed in allowed_tenants.",
                field_path("azure_ad.allowed_tenants"),
            );
        }
        if known(&b.tenant_id).is_some() && !multi && !none_allowed {
            diags.add(
                "allowed_tenants does not apply",
                "allowed_tenants applies only to tenant_id `common` or `organizations`.",
                field_path("azure_ad.allowed_tenants"),
            );
        }
    }
    if let Some(b) = config.oidc.as_ref_option() {
        if let Some(issuer) = known(&b.issuer) {
            if let Err(e) = rules::https_url("oidc.issuer", issuer) {
                refuse(diags, "Invalid issuer", e);
            }
        }
    }
    if let Some(b) = config.saml.as_ref_option() {
        if let Some(url) = known(&b.idp_sso_url) {
            if let Err(e) = rules::https_url("saml.idp_sso_url", url) {
                refuse(diags, "Invalid idp_sso_url", e);
            }
        }
        if let Some(pem) = known(&b.idp_certificate) {
            if let Err(e) = rules::pem_certificate("saml.idp_certificate", pem) {
                refuse(diags, "Invalid idp_certificate", e);
            }
        }
    }
    // Lists: checked when every element is known.
    let all_known = |v: &Value<StringSet>| {
        v.as_ref_option()
            .is_some_and(|s| s.iter().all(Value::is_value))
    };
    if all_known(&config.email_domains) {
        if let Err(e) = rules::email_domains(&set_to_vec(&config.email_domains)) {
            refuse(diags, "Invalid email domain", e);
        }
    }
    if all_known(&config.scopes) {
        if let Err(e) = rules::sso_scopes(&set_to_vec(&config.scopes)) {
            refuse(diags, "Invalid scopes", e);
        }
    }
    if all_known(&config.allowed_groups) {
        if let Err(e) = rules::allowed_groups(&set_to_vec(&config.allowed_groups)) {
            refuse(diags, "Invalid allowed_groups", e);
        }
    }
    if config
        .acr_values
        .as_ref_option()
        .is_some_and(|v| v.iter().all(Value::is_value))
    {
        if let Err(e) = rules::acr_values(&list_to_vec(&config.acr_values)) {
            refuse(diags, "Invalid acr_values", e);
        }
    }
    if config
        .group_mappings
        .as_ref_option()
        .is_some_and(|m| m.values().all(Value::is_value))
    {
        if let Err(e) = rules::group_mappings(&mappings(&config.group_mappings)) {
            refuse(diags, "Invalid group_mappings", e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(issuer: &str) -> SsoConnectionState {
        SsoConnectionState {
            name: Value::Value("corp".into()),
            kind: Value::Value("oidc".into()),
            oidc: Value::Value(OidcBlock {
                issuer: Value::Value(issuer.into()),
            }),
            client_id: Value::Value("c".into()),
            ..Default::default()
        }
    }

    fn errors(config: &SsoConnectionState) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_config(diags, config))
    }

    #[test]
    fn a_good_oidc_connection_passes_and_http_issuers_only_on_loopback() {
        assert!(errors(&oidc("https://idp.example.com")).is_empty());
        assert!(errors(&oidc("http://127.0.0.1:8080/realm")).is_empty());
        let bad = errors(&oidc("http://idp.example.com"));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].1, field_path("oidc.issuer"));
    }

    #[test]
    fn blocks_must_match_the_kind() {
        let mut config = oidc("https://idp.example.com");
        config.okta = Value::Value(OktaBlock {
            domain: Value::Value("example.okta.com".into()),
            authorization_server_id: Value::Null,
        });
        assert_eq!(errors(&config)[0].1, AttributePath::new("okta"));
        config.kind = Value::Value("saml".into());
        let e = errors(&config);
        assert!(
            e.iter().any(|(_, at)| *at == AttributePath::new("kind")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|(_, at)| *at == AttributePath::new("client_id")),
            "{e:?}"
        );
    }

    #[test]
    fn the_secret_is_given_once_and_the_write_only_form_needs_its_version() {
        let mut config = oidc("https://idp.example.com");
        config.client_secret = Value::Value("a".into());
        config.client_secret_wo = Value::Value("b".into());
        let e = errors(&config);
        assert!(
            e.iter().any(|(s, _)| s == "Give the client secret once"),
            "{e:?}"
        );
        assert!(e
            .iter()
            .any(|(s, _)| s == "client_secret_wo needs client_secret_wo_version"));
    }

    #[test]
    fn email_domains_and_azure_tenants_are_checked() {
        let mut config = oidc("https://idp.example.com");
        config.email_domains = Value::Value([Value::Value("Example.COM".to_owned())].into());
        assert_eq!(errors(&config)[0].1, AttributePath::new("email_domains"));
        let azure = SsoConnectionState {
            kind: Value::Value("azure_ad".into()),
            oidc: Value::Null,
            azure_ad: Value::Value(AzureAdBlock {
                tenant_id: Value::Value("common".into()),
                allowed_tenants: Value::Null,
            }),
            ..oidc("https://x.example.com")
        };
        assert_eq!(errors(&azure)[0].1, field_path("azure_ad.allowed_tenants"));
    }

    #[test]
    fn the_state_keeps_the_configured_secret_forms_and_a_heredoc_certificate() {
        let api: SsoConnection = serde_json::from_value(serde_json::json!({
            "id": "sso_1", "workspace_id": "ws_1", "name": "s", "kind": "saml",
            "saml": {"idp_entity_id": "e", "idp_sso_url": "https://i.example/sso", "idp_certificate": "PEM"},
            "client_secret_set": false, "created_at": "t"
        }))
        .unwrap();
        let prior = SsoConnectionState {
            saml: Value::Value(SamlBlock {
                idp_certificate: Value::Value("PEM\n".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let state = sso_connection_state(api, &prior);
        let saml = state.saml.as_ref_option().unwrap();
        assert_eq!(saml.idp_certificate, Value::Value("PEM\n".into()));
        assert!(state.scopes.is_null() && state.client_secret_wo.is_null());
    }
}
