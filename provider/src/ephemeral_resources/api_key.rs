//! `ephemeral "statuspulse_api_key"`: a short-lived key minted for one Terraform run and revoked
//! when the run closes it, for pipelines that need a credential only during apply.
//!
//! Terraform opens the ephemeral resource whenever the run needs its value (during plan, and again
//! during apply) and closes it at the end of each; every open mints a new key with the shortest
//! lifetime the server allows (1 day), so even a run that dies before closing leaves a key that
//! expires by itself. The key object id travels to close as private data.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{Diagnostics, EphemeralResource};

use crate::diag::{DiagnosticsExt, OrReport};
use crate::model::{CreateApiKey, CreatedApiKey, RevokeApiKey};
use crate::provider::ClientSlot;
use crate::resources::api_key_doc;
use crate::schema::{computed, optional, required, schema, sensitive, set_of_strings, string};
use crate::state::{known, set_to_vec, StringSet};
use crate::validate;

/// The reason recorded with the key (and in the audit trail) when Terraform closes it.
pub const EPHEMERAL_KEY_CLOSE_REASON: &str = "ephemeral key closed by Terraform";

/// Shortest lifetime the server allows (`rotation_days` and `expires_in_days` are 1 to 365).
const SHORTEST_LIFETIME_DAYS: i64 = 1;

/// Configuration and result of the ephemeral key, attribute for attribute with the schema.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EphemeralApiKeyState {
    pub name: Value<String>,
    pub environment: Value<String>,
    pub service_account_id: Value<String>,
    pub scopes: Value<StringSet>,
    pub check_group_ids: Value<StringSet>,
    pub alert_route_ids: Value<StringSet>,
    pub environment_clusters: Value<StringSet>,
    pub key: Value<String>,
    pub id: Value<String>,
    pub key_id: Value<String>,
    pub expires_at: Value<String>,
}

impl EphemeralApiKeyState {
    fn is_wholly_known(&self) -> bool {
        let strings = [&self.name, &self.environment, &self.service_account_id];
        let sets = [
            &self.scopes,
            &self.check_group_ids,
            &self.alert_route_ids,
            &self.environment_clusters,
        ];
        !strings.iter().any(|v| v.is_unknown())
            && !sets.iter().any(|set| match set {
                Value::Unknown => true,
                Value::Value(items) => items.iter().any(Value::is_unknown),
                Value::Null => false,
            })
    }
}

/// What close needs: the key object's id (`key_…`), never the secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpenedKey {
    pub id: String,
}

pub struct ApiKeyEphemeralResource {
    client: ClientSlot,
}

impl ApiKeyEphemeralResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

/// Plan-time checks, the same as the managed `statuspulse_api_key` for the shared attributes.
fn validate_config(diags: &mut Diagnostics, config: &EphemeralApiKeyState) {
    validate::key_request(
        diags,
        &validate::KeyRequest {
            name: &config.name,
            environment: &config.environment,
            service_account_id: &config.service_account_id,
            scopes: &config.scopes,
            environment_clusters: &config.environment_clusters,
            check_group_ids: &config.check_group_ids,
            alert_route_ids: &config.alert_route_ids,
        },
    );
}

fn create_body(config: &EphemeralApiKeyState) -> CreateApiKey {
    CreateApiKey {
        name: known(&config.name).unwrap_or_default().to_owned(),
        environment: known(&config.environment).unwrap_or_default().to_owned(),
        service_account_id: known(&config.service_account_id).map(str::to_owned),
        scopes: set_to_vec(&config.scopes),
        check_group_ids: set_to_vec(&config.check_group_ids),
        alert_route_ids: set_to_vec(&config.alert_route_ids),
        environment_clusters: set_to_vec(&config.environment_clusters),
        rotation_days: Some(SHORTEST_LIFETIME_DAYS),
        expires_in_days: Some(SHORTEST_LIFETIME_DAYS),
    }
}

#[async_trait]
impl EphemeralResource for ApiKeyEphemeralResource {
    type State<'a> = EphemeralApiKeyState;
    type PrivateState<'a> = OpenedKey;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A short-lived StatusPulse API key minted for one Terraform run and revoked when the \
             run ends; its secret never enters the plan or the state. Requires Terraform 1.10 or \
             later (`ephemeral` blocks).\n\nTerraform opens the ephemeral resource whenever a run \
             needs its value (during plan, and again during apply) and closes it at the end of \
             each: every open creates a new key with the shortest lifetime the server allows (it \
             expires after 1 day even if the run never closes it), and every close revokes it with \
             the reason \"ephemeral key closed by Terraform\". Use it for credentials a pipeline \
             needs only while Terraform runs: a provider block, a provisioner, a `check`. The name \
             must not collide with a usable managed key's name.",
            [
                ("name", required(string(), "Human-readable name of the key, e.g. the pipeline that uses it.")),
                ("environment", required(string(), "`live` (keys start with `sp_live_`) or `test` (`sp_test_`).")),
                ("service_account_id", optional(string(), "Id of the service account (`sa_…`) the key acts as. Without it the key belongs to the workspace.")),
                ("scopes", required(set_of_strings(), "Scopes granted to the key, from the catalog of the `statuspulse_scopes` data source (e.g. `read:checks`).")),
                ("check_group_ids", optional(set_of_strings(), "Restricts the key to these check groups.")),
                ("alert_route_ids", optional(set_of_strings(), "Restricts the key to these alert routes.")),
                ("environment_clusters", optional(set_of_strings(), "Confines the key to these environment clusters (names, e.g. `eu-prod-1`) of its environment; they must lie within the service account's role bindings.")),
                ("key", sensitive(computed(string(), "The secret API key, valid until the run closes the ephemeral resource."))),
                ("id", computed(string(), "Id of the API key object (`key_…`); the key is revoked by this id when the run closes it.")),
                ("key_id", computed(string(), api_key_doc("key_id"))),
                ("expires_at", computed(string(), "Hard expiry (RFC 3339), 1 day after creation: the latest the key works if the run never closes it.")),
            ],
        ))
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EphemeralApiKeyState,
    ) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn open<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EphemeralApiKeyState,
    ) -> Option<(EphemeralApiKeyState, OpenedKey, Option<SystemTime>)> {
        validate_config(diags, &config);
        if !diags.errors.is_empty() {
            return None;
        }
        if !config.is_wholly_known() {
            // Terraform opens only wholly known configurations; should one arrive anyway, mint
            // nothing and let the value stay unknown until the next open.
            let pending = EphemeralApiKeyState {
                key: Value::Unknown,
                id: Value::Unknown,
                key_id: Value::Unknown,
                expires_at: Value::Unknown,
                ..config
            };
            return Some((pending, OpenedKey::default(), None));
        }
        let client = self.client.get(diags)?;
        let created = client
            .post::<_, CreatedApiKey>("/v1/api-keys", &create_body(&config))
            .await
            .or_report(diags, "create the ephemeral API key")?;
        let opened = OpenedKey {
            id: created.api_key.id.clone(),
        };
        let result = EphemeralApiKeyState {
            key: Value::Value(created.key.expose().to_owned()),
            id: Value::Value(created.api_key.id),
            key_id: Value::Value(created.api_key.key_id),
            expires_at: Value::Value(created.api_key.expires_at),
            ..config
        };
        Some((result, opened, None))
    }

    async fn close<'a>(&self, diags: &mut Diagnostics, opened: OpenedKey) -> Option<()> {
        if opened.id.is_empty() {
            // Nothing was minted (see `open`).
            return Some(());
        }
        let client = self.client.get(diags)?;
        let body = RevokeApiKey {
            id: opened.id,
            reason: Some(EPHEMERAL_KEY_CLOSE_REASON.to_owned()),
            grace_period_hours: None,
            successor_id: None,
        };
        match client
            .post::<_, serde_json::Value>("/v1/api-keys/revoke", &body)
            .await
        {
            Ok(_) => Some(()),
            // Already purged: nothing is left to revoke.
            Err(err) if err.is_not_found() => Some(()),
            Err(err) => {
                diags.api_error("revoke the ephemeral API key", &err);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EphemeralApiKeyState {
        EphemeralApiKeyState {
            name: Value::Value("ci".into()),
            environment: Value::Value("test".into()),
            scopes: Value::Value([Value::Value("read:checks".to_owned())].into()),
            ..Default::default()
        }
    }

    #[test]
    fn validation_reuses_the_managed_key_rules() {
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, &config());
        assert!(diags.errors.is_empty());

        let mut bad = config();
        bad.environment = Value::Value("prod".into());
        bad.service_account_id = Value::Value("key_123".into());
        bad.scopes = Value::Value([Value::Value("read:everything".to_owned())].into());
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, &bad);
        let mut at: Vec<String> = diags
            .errors
            .iter()
            .map(|d| d.attribute.to_string())
            .collect();
        at.sort();
        assert_eq!(at, ["environment", "scopes", "service_account_id"]);
    }

    #[test]
    fn the_key_asks_for_the_shortest_lifetime() {
        let body = create_body(&config());
        assert_eq!(body.rotation_days, Some(1));
        assert_eq!(body.expires_in_days, Some(1));
        assert_eq!(body.scopes, ["read:checks"]);
    }

    #[tokio::test]
    async fn an_unknown_configuration_mints_nothing() {
        let resource = ApiKeyEphemeralResource::new(ClientSlot::default());
        let mut later = config();
        later.scopes = Value::Unknown;
        let mut diags = Diagnostics::default();
        let (result, opened, _) = resource.open(&mut diags, later).await.unwrap();
        assert!(diags.errors.is_empty());
        assert!(result.key.is_unknown());
        assert!(opened.id.is_empty());
        // and close of that has nothing to revoke (no client needed)
        assert!(resource.close(&mut diags, opened).await.is_some());
    }
}
