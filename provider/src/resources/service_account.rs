//! `statuspulse_service_account`: a non-human principal that API keys act as.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::diag::OrReport;
use crate::model::{IdKind, ServiceAccount, ServiceAccountInput};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id, read_or_gone, ImportTarget};
use crate::schema::{computed, optional, required, schema, string};
use crate::state::{known, string_from_api};
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAccountState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub description: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct ServiceAccountResource {
    client: ClientSlot,
}

impl ServiceAccountResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

/// Builds state from the server's answer; `prior` decides whether an empty description is null.
pub fn service_account_state(api: ServiceAccount, prior: &Value<String>) -> ServiceAccountState {
    ServiceAccountState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        description: string_from_api(api.description, prior),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

fn validate_config(diags: &mut Diagnostics, config: &ServiceAccountState) {
    validate::name(diags, &config.name, "name");
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::ServiceAccount,
    noun: "service account",
    collection: "/v1/service-accounts",
};

fn input(state: &ServiceAccountState) -> ServiceAccountInput<'_> {
    ServiceAccountInput {
        name: known(&state.name).unwrap_or_default(),
        // An empty description clears it; the server has no separate "unset" for it.
        description: known(&state.description).unwrap_or_default(),
    }
}

#[async_trait]
impl Resource for ServiceAccountResource {
    type State<'a> = ServiceAccountState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A StatusPulse service account: the principal that automation acts as. Give each \
             pipeline its own account and bind API keys to it with `statuspulse_api_key`'s \
             `service_account_id`.\n\nA service account cannot be deleted while it has keys that \
             are not revoked; Terraform destroys (revokes) its keys first when they reference it.",
            [
                ("name", required(string(), "Name of the service account. Updated in place.")),
                ("description", optional(string(), "What the service account is for. Updated in place.")),
                ("id", computed(string(), "Id of the service account (`sa_…`); also the import id.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) the service account belongs to: the provider key's workspace.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        ))
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ServiceAccountState,
    ) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ServiceAccountState,
        _private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ServiceAccountState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: ServiceAccount = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some((
            service_account_state(api, &state.description),
            ValueEmpty::Null,
        ))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: ServiceAccountState,
        _config_state: ServiceAccountState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ServiceAccountState, ValueEmpty)> {
        validate_config(diags, &proposed_state);
        let mut planned = proposed_state;
        planned.id = Value::Unknown;
        planned.workspace_id = Value::Unknown;
        planned.created_at = Value::Unknown;
        Some((planned, ValueEmpty::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior_state: ServiceAccountState,
        proposed_state: ServiceAccountState,
        _config_state: ServiceAccountState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ServiceAccountState, ValueEmpty, Vec<AttributePath>)> {
        // Every attribute updates in place; Terraform's proposal already keeps computed values.
        validate_config(diags, &proposed_state);
        Some((proposed_state, ValueEmpty::Null, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: ServiceAccountState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        // Terraform 1.0 never calls this, so nothing may depend on it.
        Some(ValueEmpty::Null)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: ServiceAccountState,
        _config_state: ServiceAccountState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ServiceAccountState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api = client
            .post::<_, ServiceAccount>(TARGET.collection, &input(&planned_state))
            .await
            .or_report(diags, "create the service account")?;
        Some((
            service_account_state(api, &planned_state.description),
            ValueEmpty::Null,
        ))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: ServiceAccountState,
        planned_state: ServiceAccountState,
        _config_state: ServiceAccountState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ServiceAccountState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let id = known(&prior_state.id)?.to_owned();
        let api = client
            .patch::<_, ServiceAccount>(&TARGET.path(&id), &input(&planned_state))
            .await
            .or_report(diags, "update the service account")?;
        Some((
            service_account_state(api, &planned_state.description),
            ValueEmpty::Null,
        ))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: ServiceAccountState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior_state.id)?).await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ServiceAccountState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: ServiceAccount = import_by_id(&client, diags, &TARGET, &id).await?;
        Some((service_account_state(api, &Value::Null), ValueEmpty::Null))
    }
}
