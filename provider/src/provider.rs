//! The `statuspulse` provider block: where the server is and which credential manages it (an
//! API key, or an OIDC token exchanged for short-lived access tokens: `crate::auth`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::AttributeType;
use tf_provider::value::Value;
use tf_provider::{
    AttributePath, Diagnostics, DynamicDataSource, DynamicEphemeralResource, DynamicFunction,
    DynamicResource, Provider,
};

use crate::auth::{
    self, CredentialSettings, Credentials, Refusal, Resolution, API_KEY_ENV, DEFAULT_OIDC_AUDIENCE,
    OIDC_AUDIENCE_ENV, OIDC_TOKEN_ENV, OIDC_TOKEN_FILE_ENV,
};
use crate::client::{ApiClient, ApiError, ClientConfig, RetryPolicy};
use crate::data_sources::{
    ApiKeyDataSource, ApiKeysDataSource, EffectiveAccessDataSource, EnvironmentClusterDataSource,
    OidcMetadataDataSource, RoleBindingDataSource, ScopesDataSource, ServiceAccountDataSource,
    SsoConnectionDataSource,
};
use crate::diag::DiagnosticsExt;
use crate::ephemeral_resources::ApiKeyEphemeralResource;
use crate::functions::KeyFunction;
use crate::resources::{
    AccessPolicyResource, ApiKeyResource, AuditSettingsResource, AuditSinkResource,
    EnvironmentClusterResource, Managed, OAuthClientResource, RoleBindingResource,
    ServiceAccountResource, SsoConnectionResource, WorkloadIdentityResource,
};
use crate::schema::{optional, schema, sensitive, string};

/// Used when neither the provider block nor STATUSPULSE_ENDPOINT names a server: the server's own
/// default listen address, so a local quickstart needs no configuration.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";
pub const ENDPOINT_ENV: &str = "STATUSPULSE_ENDPOINT";
pub const REQUEST_TIMEOUT_ENV: &str = "STATUSPULSE_REQUEST_TIMEOUT";
pub const MAX_RETRIES_ENV: &str = "STATUSPULSE_MAX_RETRIES";
/// Seconds one request may take, by default and at most.
const REQUEST_TIMEOUT: (i64, std::ops::RangeInclusive<i64>) = (60, 1..=600);
/// Retries of a request that may be retried, by default and at most.
const MAX_RETRIES: (i64, std::ops::RangeInclusive<i64>) = (7, 0..=20);

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
                "The provider block's `endpoint` or credential is not known yet (it depends on a \
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

/// The provider block as Terraform sends it. No `Debug`: it holds the credentials.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub endpoint: Value<String>,
    pub api_key: Value<String>,
    pub oidc_token: Value<String>,
    pub oidc_token_file: Value<String>,
    pub workload_identity: Value<String>,
    pub oidc_audience: Value<String>,
    pub request_timeout: Value<i64>,
    pub max_retries: Value<i64>,
}

impl ProviderConfig {
    fn credential_settings(&self) -> CredentialSettings<'_> {
        CredentialSettings {
            api_key: Some(&self.api_key),
            oidc_token: Some(&self.oidc_token),
            oidc_token_file: Some(&self.oidc_token_file),
            workload_identity: Some(&self.workload_identity),
            oidc_audience: Some(&self.oidc_audience),
        }
    }
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

/// Resolves a whole-number setting: the HCL value, else the environment variable, else the
/// default; either must be within `range`. `Ok(None)` while the HCL value is unknown.
fn resolve_number(
    value: &Value<i64>,
    env: Option<String>,
    (default, range): (i64, std::ops::RangeInclusive<i64>),
    what: &str,
) -> Result<Option<i64>, String> {
    let (number, from) = match value {
        Value::Unknown => return Ok(None),
        Value::Value(n) => (*n, "the provider block"),
        Value::Null => match env.filter(|v| !v.trim().is_empty()) {
            Some(text) => (
                text.trim().parse::<i64>().map_err(|_| {
                    format!("{what} from the environment is `{text}`, not a whole number")
                })?,
                "the environment",
            ),
            None => (default, "the default"),
        },
    };
    if range.contains(&number) {
        Ok(Some(number))
    } else {
        Err(format!(
            "{what} is {number} (from {from}); it must be {} to {}",
            range.start(),
            range.end()
        ))
    }
}

/// The request timeout and retry count, from the provider block and the environment.
fn network_settings(
    diags: &mut Diagnostics,
    config: &ProviderConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(Duration, u32)> {
    let mut refused = |attribute: &'static str, detail: String| {
        diags.add(
            format!("Invalid {attribute}"),
            detail,
            AttributePath::new(attribute),
        );
        None
    };
    let timeout = match resolve_number(
        &config.request_timeout,
        env(REQUEST_TIMEOUT_ENV),
        REQUEST_TIMEOUT,
        "request_timeout",
    ) {
        Ok(t) => t,
        Err(detail) => return refused("request_timeout", detail),
    };
    let retries = match resolve_number(
        &config.max_retries,
        env(MAX_RETRIES_ENV),
        MAX_RETRIES,
        "max_retries",
    ) {
        Ok(r) => r,
        Err(detail) => return refused("max_retries", detail),
    };
    let timeout = Duration::from_secs(u64::try_from(timeout.unwrap_or(REQUEST_TIMEOUT.0)).ok()?);
    let retries = u32::try_from(retries.unwrap_or(MAX_RETRIES.0)).ok()?;
    Some((timeout, retries))
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
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(format!(
            "`{endpoint}` is not a URL: use the server's base URL, like https://auth.statuspulse.example"
        ));
    }
    // The provider adds `/v1/…` itself; a base URL ending in it would give `/v1/v1/…` and 404s.
    let path = endpoint.trim_end_matches('/');
    if path.ends_with("/v1") || path.contains("/v1/") {
        return Err(format!(
            "`{endpoint}` names an API path: use the server's base URL without `/v1`, like `{}`",
            &path[..path.rfind("/v1").unwrap_or(path.len())]
        ));
    }
    Ok(())
}

/// Validation shared by `validate` (HCL only) and `configure` (HCL and environment).
fn check_endpoint_setting(diags: &mut Diagnostics, endpoint: &Value<String>) {
    if let Value::Value(endpoint) = endpoint {
        if let Err(detail) = check_endpoint(endpoint) {
            diags.add(
                "Invalid StatusPulse endpoint",
                detail,
                AttributePath::new("endpoint"),
            );
        }
    }
}

/// A refused credential configuration, on the attribute at fault.
fn report(diags: &mut Diagnostics, refusal: Refusal) {
    diags.add(
        refusal.summary,
        refusal.detail,
        refusal
            .attribute
            .map_or_else(AttributePath::root, AttributePath::new),
    );
}

/// The process environment, as `auth::resolve` reads it.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A failed exchange at configure time, on the attribute that holds the OIDC token.
fn report_exchange_failure(diags: &mut Diagnostics, client: &ApiClient, err: &ApiError) {
    let Some(exchanger) = client.exchanger() else {
        diags.api_error("authenticate the provider", err);
        return;
    };
    let source = exchanger.source();
    let at = source
        .attribute()
        .map_or_else(AttributePath::root, AttributePath::new);
    let (summary, detail) = match err {
        ApiError::Exchange {
            error, description, ..
        } => {
            // The server says why in the description (RFC 8693 answers `invalid_request` for
            // any unacceptable token): the hint only says where to look.
            let replayed = description
                .as_deref()
                .is_some_and(|d| d.contains("already exchanged"));
            let hint = if error == "invalid_scope" {
                "The trust policy's `scopes` or the service account's role bindings do not give \
                 what was asked."
            } else if replayed {
                "StatusPulse exchanges each OIDC token once, and Terraform starts the provider \
                 afresh for each command and for each phase of one (`terraform apply` plans, \
                 then applies): give every start a new token. A GitHub Actions job does so by \
                 itself (leave `oidc_token` and `oidc_token_file` unset); otherwise plan and \
                 apply separately (`terraform plan -out=tfplan`, then `terraform apply tfplan`) \
                 with a fresh token for each."
            } else {
                "Compare the `statuspulse_workload_identity` trust policy's `issuer`, `audience` \
                 and `conditions` with the token's claims; when several policies match the \
                 token, name one with `workload_identity` (STATUSPULSE_WORKLOAD_IDENTITY)."
            };
            (
                "StatusPulse refused the provider's OIDC token",
                format!(
                    "StatusPulse answered `{error}` when the provider exchanged {} at \
                     {}/oauth2/token{}. {hint}",
                    source.describe(),
                    client.endpoint(),
                    description
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default(),
                ),
            )
        }
        ApiError::OidcToken(why) => (
            "Cannot obtain the provider's OIDC token",
            format!("Reading {}: {why}.", source.describe()),
        ),
        other => {
            diags.api_error("exchange the provider's OIDC token", other);
            return;
        }
    };
    diags.add(summary, detail, at);
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
                    "request_timeout",
                    optional(
                        AttributeType::Number,
                        &format!(
                            "Seconds one request to the server may take before it is abandoned \
                             (and retried if it may be), {} to {}; default {}, or the \
                             `{REQUEST_TIMEOUT_ENV}` environment variable. A hung server then \
                             costs this long per attempt, not a stalled plan.",
                            REQUEST_TIMEOUT.1.start(),
                            REQUEST_TIMEOUT.1.end(),
                            REQUEST_TIMEOUT.0
                        ),
                    ),
                ),
                (
                    "max_retries",
                    optional(
                        AttributeType::Number,
                        &format!(
                            "Retries of a request after 429, 5xx or a connection failure (reads, \
                             and creates, which carry an `Idempotency-Key` so a retry never makes \
                             a second object), with backoff and `Retry-After`, within 5 minutes; \
                             {} to {}, default {}, or the `{MAX_RETRIES_ENV}` environment \
                             variable. 0 fails at the first error.",
                            MAX_RETRIES.1.start(),
                            MAX_RETRIES.1.end(),
                            MAX_RETRIES.0
                        ),
                    ),
                ),
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
                         Defaults to the `STATUSPULSE_API_KEY` environment variable. Conflicts \
                         with `oidc_token` and `oidc_token_file`.",
                    )),
                ),
                (
                    "oidc_token",
                    sensitive(optional(
                        string(),
                        "An OIDC token (JWT) from the platform the provider runs on, exchanged at \
                         the server's `/oauth2/token` for a short-lived access token under a \
                         `statuspulse_workload_identity` trust policy, instead of an API key. The \
                         server exchanges a token once, and Terraform starts the provider once \
                         per command phase: give each `terraform plan -out` and `terraform apply \
                         tfplan` its own token. Defaults to the \
                         `STATUSPULSE_OIDC_TOKEN` environment variable. Conflicts with `api_key` \
                         and `oidc_token_file`.",
                    )),
                ),
                (
                    "oidc_token_file",
                    optional(
                        string(),
                        "Path of a file holding the OIDC token to exchange (as `oidc_token`), read \
                         again when the access token is about to expire, because platforms refresh it \
                         (a Kubernetes projected service account token, a token a CI step writes); \
                         until the file holds a new token, the current access token is used to its \
                         end. Defaults to \
                         the `STATUSPULSE_OIDC_TOKEN_FILE` environment variable. Conflicts with \
                         `api_key` and `oidc_token`.",
                    ),
                ),
                (
                    "workload_identity",
                    optional(
                        string(),
                        "Id (`wi_…`) of the trust policy to exchange the OIDC token under, sent as \
                         `client_id`; needed only when several policies match the token. \
                         Defaults to the `STATUSPULSE_WORKLOAD_IDENTITY` environment variable.",
                    ),
                ),
                (
                    "oidc_audience",
                    optional(
                        string(),
                        &format!(
                            "The audience the provider asks GitHub Actions' ID token endpoint for, \
                             when no `api_key`, `oidc_token` or `oidc_token_file` is set anywhere \
                             and the job has `permissions: id-token: write` \
                             (`ACTIONS_ID_TOKEN_REQUEST_URL`): the trust policy's `audience`. \
                             Defaults to the `{OIDC_AUDIENCE_ENV}` environment variable, then \
                             `{DEFAULT_OIDC_AUDIENCE}`."
                        ),
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        check_endpoint_setting(diags, &config.endpoint);
        network_settings(diags, &config, &|_| None);
        // The provider block alone: conflicts and malformed values are errors wherever it runs.
        if let Err(refusal) = auth::resolve(&config.credential_settings(), &|_| None) {
            report(diags, refusal);
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let endpoint = resolve(&config.endpoint, ENDPOINT_ENV);
        check_endpoint_setting(diags, &endpoint);
        let network = network_settings(diags, &config, &process_env);
        if !diags.errors.is_empty() {
            return None;
        }
        let (timeout, retries) = network?;
        let credentials = match auth::resolve(&config.credential_settings(), &process_env) {
            Err(refusal) => {
                report(diags, refusal);
                return None;
            }
            Ok(Resolution::Unknown) => return Some(()),
            Ok(Resolution::Missing) => {
                diags.add(
                    "Missing StatusPulse API key or OIDC token",
                    format!(
                        "Set `api_key` in the provider \"statuspulse\" block or the {API_KEY_ENV} \
                         environment variable to a key with the admin:service_accounts, admin:keys \
                         and admin:access scopes; or, in a pipeline, authenticate without a stored \
                         key through a workload identity trust policy: `oidc_token_file` \
                         ({OIDC_TOKEN_FILE_ENV}) or `oidc_token` ({OIDC_TOKEN_ENV}), or nothing at \
                         all in a GitHub Actions job with `permissions: id-token: write`."
                    ),
                    AttributePath::new("api_key"),
                );
                return None;
            }
            Ok(Resolution::Found(credentials)) => credentials,
        };
        if matches!(endpoint, Value::Unknown) {
            return Some(());
        }
        if endpoint.is_null() {
            diags.root_warning(
                "No StatusPulse endpoint configured",
                format!(
                    "Neither `endpoint` in the provider block nor {ENDPOINT_ENV} is set, so the \
                     provider talks to {DEFAULT_ENDPOINT}, the local quickstart server. Set one \
                     of them to manage another server."
                ),
            );
        }
        let oidc = matches!(credentials, Credentials::Oidc(_));
        let client = match ApiClient::new(ClientConfig {
            endpoint: endpoint
                .as_option()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
            credentials,
            terraform_version,
            retry: RetryPolicy {
                max_attempts: retries + 1,
                ..RetryPolicy::default()
            },
            timeout,
        }) {
            Ok(client) => client,
            Err(err) => {
                diags.api_error("configure the provider", &err);
                return None;
            }
        };
        if let Err(err) = client.authenticate().await {
            report_exchange_failure(diags, &client, &err);
            return None;
        }
        // One verify call up front turns a wrong credential into a single clear diagnostic
        // here, instead of one 401 per resource later in the plan.
        match client.get::<serde_json::Value>("/v1/auth/verify").await {
            Ok(_) => {}
            Err(ApiError::Problem { status: 401, .. }) if !oidc => {
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
            Err(ApiError::Problem { status: 401, .. }) => {
                diags.add(
                    "StatusPulse rejected the provider's exchanged access token",
                    format!(
                        "{} issued an access token for the provider's OIDC token but then \
                         answered 401 Unauthorized to it: the trust policy or its service account \
                         may have been deleted meanwhile.",
                        client.endpoint()
                    ),
                    AttributePath::root(),
                );
                return None;
            }
            Err(err) => {
                diags.api_error("check the provider's credential", &err);
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
            (
                "workload_identity".to_owned(),
                Box::new(Managed(WorkloadIdentityResource::new(self.client.clone()))),
            ),
            (
                "anomaly_rule".to_owned(),
                Box::new(Managed(crate::resources::AnomalyRuleResource::new(
                    self.client.clone(),
                ))),
            ),
            (
                "audit_sink".to_owned(),
                Box::new(Managed(AuditSinkResource::new(self.client.clone()))),
            ),
            (
                "audit_settings".to_owned(),
                Box::new(Managed(AuditSettingsResource::new(self.client.clone()))),
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
                "api_keys".to_owned(),
                Box::new(ApiKeysDataSource::new(self.client.clone())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_a_base_url_without_the_api_path() {
        assert!(check_endpoint("https://auth.example.com").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/").is_ok());
        assert!(check_endpoint("https://example.com/statuspulse").is_ok());
        let err = check_endpoint("https://auth.example.com/v1").unwrap_err();
        assert!(err.contains("`https://auth.example.com`"), "{err}");
        assert!(check_endpoint("https://auth.example.com/v1/").is_err());
        assert!(check_endpoint("auth.example.com").is_err());
    }

    #[test]
    fn timeouts_and_retries_come_from_the_block_then_the_environment_then_the_default() {
        let from = |value: Value<i64>, env: Option<&str>| {
            resolve_number(&value, env.map(str::to_owned), MAX_RETRIES, "max_retries")
        };
        assert_eq!(from(Value::Null, None), Ok(Some(7)));
        assert_eq!(from(Value::Null, Some("0")), Ok(Some(0)));
        assert_eq!(from(Value::Value(3), Some("9")), Ok(Some(3)));
        assert_eq!(from(Value::Unknown, Some("9")), Ok(None));
        let err = from(Value::Null, Some("lots")).unwrap_err();
        assert!(err.contains("not a whole number"), "{err}");
        let err = from(Value::Value(50), None).unwrap_err();
        assert!(
            err.contains("0 to 20") && err.contains("provider block"),
            "{err}"
        );

        let mut diags = Diagnostics::default();
        let config = ProviderConfig {
            request_timeout: Value::Value(0),
            ..ProviderConfig::default()
        };
        assert_eq!(network_settings(&mut diags, &config, &|_| None), None);
        assert_eq!(
            diags.errors[0].attribute,
            AttributePath::new("request_timeout")
        );
        let mut diags = Diagnostics::default();
        let env = |name: &str| (name == REQUEST_TIMEOUT_ENV).then(|| "5".to_owned());
        let settings = network_settings(&mut diags, &ProviderConfig::default(), &env);
        assert_eq!(settings, Some((Duration::from_secs(5), 7)));
    }
}
