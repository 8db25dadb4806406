//! `statuspulse_environment_cluster`: a named slice of an environment (e.g. `eu-prod-1` in `live`)
//! that role bindings and keys are confined to.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::diag::{DiagnosticsExt, OrReport};
use crate::model::{
    check_cluster_name, EnvironmentCluster, EnvironmentClusterCreate, EnvironmentClusterUpdate,
    IdKind,
};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id, read_or_gone, ImportTarget};
use crate::schema::{computed, optional, required, schema, string};
use crate::state::{known, string_from_api};
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvironmentClusterState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub environment: Value<String>,
    pub description: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct EnvironmentClusterResource {
    client: ClientSlot,
}

impl EnvironmentClusterResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::EnvironmentCluster,
    noun: "environment cluster",
    collection: "/v1/environment-clusters",
};

/// The state for an API object; `prior` is the description the configuration used.
pub fn environment_cluster_state(
    api: EnvironmentCluster,
    prior: &Value<String>,
) -> EnvironmentClusterState {
    EnvironmentClusterState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        environment: Value::Value(api.environment),
        description: string_from_api(api.description, prior),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

fn validate_config(diags: &mut Diagnostics, config: &EnvironmentClusterState) {
    if let Some(name) = known(&config.name) {
        if let Err(detail) = check_cluster_name(name) {
            diags.add("Invalid cluster name", detail, AttributePath::new("name"));
        }
    }
    validate::environment(diags, &config.environment);
}

#[async_trait]
impl Resource for EnvironmentClusterResource {
    type State<'a> = EnvironmentClusterState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A named slice of an environment, such as `eu-prod-1` in `live`. Role bindings and API \
             keys can be confined to clusters; a cluster belongs to exactly one environment, so a \
             `test` key can never be bound to a `live` cluster.\n\nA cluster cannot be deleted \
             while a binding or key still names it.",
            [
                ("name", required(string(), "Cluster name: 1 to 63 of `a-z 0-9 -`, e.g. `eu-prod-1`. Changing it replaces the cluster.")),
                ("environment", required(string(), "`live` or `test`. Changing it replaces the cluster.")),
                ("description", optional(string(), "What runs in the cluster. Updated in place.")),
                ("id", computed(string(), "Id of the cluster (`ec_…`); also the import id.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) of the cluster.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        ))
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EnvironmentClusterState,
    ) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: EnvironmentClusterState,
        _private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(EnvironmentClusterState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: EnvironmentCluster =
            read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some((
            environment_cluster_state(api, &state.description),
            ValueEmpty::Null,
        ))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: EnvironmentClusterState,
        _config_state: EnvironmentClusterState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(EnvironmentClusterState, ValueEmpty)> {
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
        _prior_state: EnvironmentClusterState,
        proposed_state: EnvironmentClusterState,
        _config_state: EnvironmentClusterState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(EnvironmentClusterState, ValueEmpty, Vec<AttributePath>)> {
        validate_config(diags, &proposed_state);
        // Bindings and keys refer to clusters by name, so the server never renames one.
        let replace = vec![
            AttributePath::new("name"),
            AttributePath::new("environment"),
        ];
        Some((proposed_state, ValueEmpty::Null, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: EnvironmentClusterState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        // Terraform 1.0 never calls this, so nothing may depend on it.
        Some(ValueEmpty::Null)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: EnvironmentClusterState,
        _config_state: EnvironmentClusterState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(EnvironmentClusterState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let body = EnvironmentClusterCreate {
            name: known(&planned_state.name).unwrap_or_default(),
            environment: known(&planned_state.environment).unwrap_or_default(),
            description: known(&planned_state.description).unwrap_or_default(),
        };
        let api = client
            .post::<_, EnvironmentCluster>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the environment cluster")?;
        Some((
            environment_cluster_state(api, &planned_state.description),
            ValueEmpty::Null,
        ))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: EnvironmentClusterState,
        planned_state: EnvironmentClusterState,
        _config_state: EnvironmentClusterState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(EnvironmentClusterState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let path = TARGET.path(known(&prior_state.id)?);
        let body = EnvironmentClusterUpdate {
            description: known(&planned_state.description).unwrap_or_default(),
        };
        let api = client
            .patch::<_, EnvironmentCluster>(&path, &body)
            .await
            .or_report(diags, "update the environment cluster")?;
        Some((
            environment_cluster_state(api, &planned_state.description),
            ValueEmpty::Null,
        ))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: EnvironmentClusterState,
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
    ) -> Option<(EnvironmentClusterState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: EnvironmentCluster = import_by_id(&client, diags, &TARGET, &id).await?;
        Some((
            environment_cluster_state(api, &Value::Null),
            ValueEmpty::Null,
        ))
    }
}
