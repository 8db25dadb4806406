//! `statuspulse_api_key`: reads an API key's metadata (never its secret) by id, e.g. to check a
//! key's `rotation_due` or `status` from another configuration.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{ApiKeyView, IdKind, ObjectId};
use crate::provider::ClientSlot;
use crate::resources::api_key_doc;
use crate::schema::{computed, required, schema, set_of_strings, string};
use crate::state::{known, StringSet};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyDataState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub environment: Value<String>,
    pub service_account_id: Value<String>,
    pub scopes: Value<StringSet>,
    pub check_group_ids: Value<StringSet>,
    pub alert_route_ids: Value<StringSet>,
    pub environment_clusters: Value<StringSet>,
    pub rotation_days: Value<i64>,
    pub key_id: Value<String>,
    pub status: Value<String>,
    pub created_at: Value<String>,
    pub expires_at: Value<String>,
    pub rotate_after: Value<String>,
    pub rotation_due: Value<bool>,
    pub revoked_at: Value<String>,
}

fn set(items: Vec<String>) -> Value<StringSet> {
    Value::Value(items.into_iter().map(Value::Value).collect())
}

impl From<ApiKeyView> for ApiKeyDataState {
    fn from(api: ApiKeyView) -> Self {
        Self {
            id: Value::Value(api.id),
            name: Value::Value(api.name),
            environment: Value::Value(api.environment),
            service_account_id: api.service_account_id.into(),
            scopes: set(api.scopes),
            check_group_ids: set(api.check_group_ids),
            alert_route_ids: set(api.alert_route_ids),
            environment_clusters: set(api.environment_clusters),
            rotation_days: Value::Value(api.rotation_days),
            key_id: Value::Value(api.key_id),
            status: Value::Value(api.status.as_str().to_owned()),
            created_at: Value::Value(api.created_at),
            expires_at: Value::Value(api.expires_at),
            rotate_after: Value::Value(api.rotate_after),
            rotation_due: Value::Value(api.rotation_due),
            revoked_at: api.revoked_at.into(),
        }
    }
}

pub struct ApiKeyDataSource {
    client: ClientSlot,
}

impl ApiKeyDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for ApiKeyDataSource {
    type State<'a> = ApiKeyDataState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads an API key's metadata by id. The secret is never readable: StatusPulse shows it \
             once, when the key is created.",
            [
                ("id", required(string(), "Id of the API key (`key_…`).")),
                ("name", computed(string(), "Name of the key.")),
                ("environment", computed(string(), "`live` or `test`.")),
                ("service_account_id", computed(string(), "Service account the key acts as, if any.")),
                ("scopes", computed(set_of_strings(), "Scopes granted to the key.")),
                ("check_group_ids", computed(set_of_strings(), "Check groups the key is restricted to (empty: all).")),
                ("alert_route_ids", computed(set_of_strings(), "Alert routes the key is restricted to (empty: all).")),
                ("environment_clusters", computed(set_of_strings(), "Environment clusters the key is confined to (empty: all of its environment).")),
                ("rotation_days", computed(AttributeType::Number, "Rotation period in days.")),
                ("key_id", computed(string(), api_key_doc("key_id"))),
                ("status", computed(string(), api_key_doc("status"))),
                ("created_at", computed(string(), api_key_doc("created_at"))),
                ("expires_at", computed(string(), api_key_doc("expires_at"))),
                ("rotate_after", computed(string(), api_key_doc("rotate_after"))),
                ("rotation_due", computed(AttributeType::Bool, api_key_doc("rotation_due"))),
                ("revoked_at", computed(string(), "Revocation time (RFC 3339), when revoked.")),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ApiKeyDataState) -> Option<()> {
        if let Some(id) = known(&config.id) {
            if let Err(detail) = ObjectId::parse(IdKind::ApiKey, id) {
                diags.add("Invalid API key id", detail, AttributePath::new("id"));
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ApiKeyDataState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ApiKeyDataState> {
        let client = self.client.get(diags)?;
        let id = known(&config.id)?.to_owned();
        match client
            .get::<ApiKeyView>(&format!("/v1/api-keys/{id}"))
            .await
        {
            Ok(api) => Some(api.into()),
            Err(err) if err.is_not_found() => {
                diags.add(
                    "API key not found",
                    format!("No API key `{id}` exists in the provider key's workspace."),
                    AttributePath::new("id"),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the API key", &err);
                None
            }
        }
    }
}
