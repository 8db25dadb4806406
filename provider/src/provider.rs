//! The `statuspulse` provider block: where the server is and which key manages it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tf_provider::value::Value;
use tf_provider::{
    AttributePath, Diagnostics, DynamicDataSource, DynamicEphemeralResource, DynamicFunction,
    DynamicResource, Provider,
};

use crate::client::{ApiClient, ApiError, ClientConfig, RetryPolicy};
use crate::data_sources::{
    ApiKeyDataSource, EffectiveAccessDataSource, EnvironmentClusterDataSource,
    OidcMetadataDataSource, RoleBindingDataSource, ScopesDataSource, ServiceAccountDataSource,
    SsoConnectionDataSource,
};
use crate::diag::DiagnosticsExt;
use crate::ephemeral_resources::ApiKeyEphemeralResource;
use crate::functions::KeyFunction;
use crate::model::check_api_key_format;
use crate::resources::{
    AccessPolicyResource, ApiKeyResource, EnvironmentClusterResource, Managed, OAuthClientResource,
    RoleBindingResource, ServiceAccountResource, SsoConnectionResource,
};
use crate::schema::{optional, schema, sensitive, string};

/// Used when neither the provider block nor STATUSPULSE_ENDPOINT names a server: the server's own
/// default listen address, so a local quickstart needs no configuration.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";
pub const ENDPOINT_ENV: &str = "STATUSPULSE_ENDPOINT";
pub const API_KEY_ENV: &str = "STATUSPULSE_API_KEY";

/// The configured client, shared by the provider and every resource and data source.
///
/// Terraform creates resources before it configures the provider, so they hold this slot and
/// read the client out of it on each call.
#[derive(Clone, Default)]
pub struct ClientSlot(Arc<RwLock<Option<Arc<ApiClient>>>>);

impl ClientSlot {
    /// The configured client, or one diagnostic explaining why there is none.
    pub fn get(&self, diags: &mut Diagnostics) -> Option<Arc<ApiClient>> {
        let client = self.0.read().ok().and_then(|slot| slot.clone());
        if client.is_none() {
            diags.add(
                "The StatusPulse provider is not configured",
                "The provider block's `endpoint` or `api_key` is not known yet (it depends on a \
                 resource that is not created), or configuring the provider failed above.",
                AttributePath::root(),
            );
        }
        client
    }

    fn set(&self, client: ApiClient) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(Arc::new(client));
        }
    }
}

/// The provider block as Terraform sends it. No `Debug`: it holds the API key.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub endpoint: Value<String>,
    pub api_key: Value<String>,
}

#[derive(Default)]
pub struct StatusPulseProvider {
    client: ClientSlot,
}

impl StatusPulseProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Resolves one setting: the HCL value wins, then the environment variable.
fn resolve(value: &Value<String>, env: &str) -> Value<String> {
    match value {
        Value::Value(v) if !v.is_empty() => Value::Value(v.clone()),
        Value::Unknown => Value::Unknown,
        _ => std::env::var(env)
            .ok()
            .filter(|v| !v.is_empty())
            .map_or(Value::Null, Value::Value),
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        Ok(())
    } else {
        Err(format!(
            "`{endpoint}` is not a URL: use the server's base URL, like https://auth.statuspulse.example"
        ))
    }
}

/// Validation shared by `validate` (HCL only) and `configure` (HCL and environment).
fn check_config(diags: &mut Diagnostics, endpoint: &Value<String>, api_key: &Value<String>) {
    if let Value::Value(endpoint) = endpoint {
        if let Err(detail) = check_endpoint(endpoint) {
            diags.add(
                "Invalid StatusPulse endpoint",
                detail,
                AttributePath::new("endpoint"),
            );
        }
    }
    if let Value::Value(key) = api_key {
        if let Err(detail) = check_api_key_format(key) {
            diags.add(
                "Malformed StatusPulse API key",
                detail,
                AttributePath::new("api_key"),
            );
        }
    }
}

#[async_trait]
impl Provider for StatusPulseProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = tf_provider::value::ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<tf_provider::schema::Schema> {
        Some(schema(
            "Manage [StatusPulse](https://statuspulse.example) authentication as code: service \
             accounts and scoped API keys, rotated by resource replacement.",
            [
                (
                    "endpoint",
                    optional(
                        string(),
                        "Base URL of the StatusPulse Auth server, e.g. `https://auth.statuspulse.example`. \
                         Defaults to the `STATUSPULSE_ENDPOINT` environment variable, then `http://127.0.0.1:8080`.",
                    ),
                ),
                (
                    "api_key",
                    sensitive(optional(
                        string(),
                        "API key the provider authenticates with (`sp_live_…` or `sp_test_…`), with \
                         the `admin:service_accounts`, `admin:keys` and `admin:access` scopes, and `admin:sso` for \
                         SSO connections and OAuth clients (or `admin:all`). \
                         Defaults to the `STATUSPULSE_API_KEY` environment variable.",
                    )),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        check_config(diags, &config.endpoint, &config.api_key);
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let endpoint = resolve(&config.endpoint, ENDPOINT_ENV);
        let api_key = resolve(&config.api_key, API_KEY_ENV);
        check_config(diags, &endpoint, &api_key);
        if !diags.errors.is_empty() {
            return None;
        }
        let (endpoint, api_key) = match (endpoint, api_key) {
            (Value::Unknown, _) | (_, Value::Unknown) => return Some(()),
            (_, Value::Null) => {
                diags.add(
                    "Missing StatusPulse API key",
                    format!(
                        "Set `api_key` in the provider \"statuspulse\" block or the {API_KEY_ENV} \
                         environment variable to a key with the admin:service_accounts, admin:keys \
                         and admin:access scopes."
                    ),
                    AttributePath::new("api_key"),
                );
                return None;
            }
            (endpoint, Value::Value(key)) => (
                endpoint
                    .as_option()
                    .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
                key,
            ),
        };
        let client = match ApiClient::new(ClientConfig {
            endpoint,
            api_key: SecretString::from(api_key),
            terraform_version,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }) {
            Ok(client) => client,
            Err(err) => {
                diags.api_error("configure the provider", &err);
                return None;
            }
        };
        // One verify call up front turns a wrong key into a single clear diagnostic here, instead
        // of one 401 per resource later in the plan.
        match client.get::<serde_json::Value>("/v1/auth/verify").await {
            Ok(_) => {}
            Err(ApiError::Problem { status: 401, .. }) => {
                diags.add(
                    "StatusPulse rejected the provider's API key",
                    format!(
                        "{} answered 401 Unauthorized for the key in `api_key` (or {API_KEY_ENV}). \
                         The key may be revoked, expired, or belong to another StatusPulse server.",
                        client.endpoint()
                    ),
                    AttributePath::new("api_key"),
                );
                return None;
            }
            Err(err) => {
                diags.api_error("check the provider's API key", &err);
                return None;
            }
        }
        self.client.set(client);
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(HashMap::from([
            (
                "service_account".to_owned(),
                Box::new(Managed(ServiceAccountResource::new(self.client.clone())))
                    as Box<dyn DynamicResource>,
            ),
            (
                "api_key".to_owned(),
                Box::new(Managed(ApiKeyResource::new(self.client.clone()))),
            ),
            (
                "role_binding".to_owned(),
                Box::new(Managed(RoleBindingResource::new(self.client.clone()))),
            ),
            (
                "environment_cluster".to_owned(),
                Box::new(Managed(EnvironmentClusterResource::new(
                    self.client.clone(),
                ))),
            ),
            (
                "sso_connection".to_owned(),
                Box::new(Managed(SsoConnectionResource::new(self.client.clone()))),
            ),
            (
                "oauth_client".to_owned(),
                Box::new(Managed(OAuthClientResource::new(self.client.clone()))),
            ),
            (
                "access_policy".to_owned(),
                Box::new(Managed(AccessPolicyResource::new(self.client.clone()))),
            ),
        ]))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(HashMap::from([
            (
                "scopes".to_owned(),
                Box::new(ScopesDataSource::new(self.client.clone())) as Box<dyn DynamicDataSource>,
            ),
            (
                "service_account".to_owned(),
                Box::new(ServiceAccountDataSource::new(self.client.clone())),
            ),
            (
                "api_key".to_owned(),
                Box::new(ApiKeyDataSource::new(self.client.clone())),
            ),
            (
                "effective_access".to_owned(),
                Box::new(EffectiveAccessDataSource::new(self.client.clone())),
            ),
            (
                "environment_cluster".to_owned(),
                Box::new(EnvironmentClusterDataSource::new(self.client.clone())),
            ),
            (
                "role_binding".to_owned(),
                Box::new(RoleBindingDataSource::new(self.client.clone())),
            ),
            (
                "sso_connection".to_owned(),
                Box::new(SsoConnectionDataSource::new(self.client.clone())),
            ),
            (
                "oidc_metadata".to_owned(),
                Box::new(OidcMetadataDataSource::new(self.client.clone())),
            ),
        ]))
    }

    /// Ephemeral resources (Terraform 1.10+): never in plan or state.
    fn get_ephemeral_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicEphemeralResource>>> {
        Some(HashMap::from([(
            "api_key".to_owned(),
            Box::new(ApiKeyEphemeralResource::new(self.client.clone()))
                as Box<dyn DynamicEphemeralResource>,
        )]))
    }

    /// Provider-defined functions (Terraform 1.8+): offline, no client needed.
    fn get_functions(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicFunction>>> {
        Some(HashMap::from([
            (
                "key_id".to_owned(),
                Box::new(KeyFunction::key_id()) as Box<dyn DynamicFunction>,
            ),
            (
                "key_environment".to_owned(),
                Box::new(KeyFunction::key_environment()),
            ),
        ]))
    }
}
