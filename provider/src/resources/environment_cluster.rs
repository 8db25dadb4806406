//! `statuspulse_environment_cluster`: a named slice of an environment (e.g. `eu-prod-1` in `live`)
//! that role bindings and keys are confined to.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::diag::OrReport;
use crate::model::{
    CreateEnvironmentCluster, EnvironmentCluster, IdKind, UpdateEnvironmentCluster,
};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
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
        description: string_from_api(Some(api.description), prior),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

impl PlanRules for EnvironmentClusterState {
    // Bindings and keys refer to clusters by name, so the server never renames one.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["name", "environment"];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }
}

#[async_trait]
impl ManagedResource for EnvironmentClusterResource {
    type State = EnvironmentClusterState;

    fn schema(&self) -> Schema {
        schema(
            "A named slice of an environment, such as `eu-prod-1` in `live`. Role bindings and API \
             keys can be confined to clusters; a cluster belongs to exactly one environment, so a \
             `test` key can never be bound to a `live` cluster.\n\nA cluster cannot be deleted \
             while a binding or key still names it.",
            [
                ("name", required(string(), "Cluster name: 1 to 63 of `a-z 0-9 -`, e.g. `eu-prod-1`. Changing it replaces the cluster.")),
                ("environment", required(string(), "`live` or `test`. Changing it replaces the cluster.")),
                ("description", optional(string(), "What runs in the cluster. Updated in place.")),
                ("id", computed(string(), "Id of the cluster (`ec_…`); import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) of the cluster.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &EnvironmentClusterState) {
        validate::cluster_name(diags, &config.name, "name");
        validate::environment(diags, &config.environment);
        validate::description(diags, &config.description, "description");
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: EnvironmentClusterState,
    ) -> Option<EnvironmentClusterState> {
        let client = self.client.get(diags)?;
        let api: EnvironmentCluster =
            read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(environment_cluster_state(api, &state.description))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: EnvironmentClusterState,
    ) -> Option<EnvironmentClusterState> {
        let client = self.client.get(diags)?;
        let body = CreateEnvironmentCluster {
            name: known(&planned.name).unwrap_or_default().to_owned(),
            environment: known(&planned.environment).unwrap_or_default().to_owned(),
            description: known(&planned.description).unwrap_or_default().to_owned(),
        };
        let api = client
            .create::<_, EnvironmentCluster>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the environment cluster")?;
        Some(environment_cluster_state(api, &planned.description))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: EnvironmentClusterState,
        planned: EnvironmentClusterState,
    ) -> Option<EnvironmentClusterState> {
        let client = self.client.get(diags)?;
        let body = UpdateEnvironmentCluster {
            description: known(&planned.description).unwrap_or_default().to_owned(),
        };
        let api = client
            .patch::<_, EnvironmentCluster>(&TARGET.path(known(&prior.id)?), &body)
            .await
            .or_report(diags, "update the environment cluster")?;
        Some(environment_cluster_state(api, &planned.description))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: EnvironmentClusterState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<EnvironmentClusterState> {
        let client = self.client.get(diags)?;
        let api: EnvironmentCluster = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(environment_cluster_state(api, &Value::Null))
    }
}
