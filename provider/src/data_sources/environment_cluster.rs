//! `statuspulse_environment_cluster`: looks up an existing environment cluster by id or by name,
//! e.g. to confine bindings and keys to a cluster another configuration manages.

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::client::ApiClient;
use crate::diag::DiagnosticsExt;
use crate::model::{EnvironmentCluster, IdKind, ObjectId, Page};
use crate::provider::ClientSlot;
use crate::resources::{environment_cluster_state, EnvironmentClusterState};
use crate::schema::{computed, optional_computed, schema, string};
use crate::state::known;
use crate::validate;

pub struct EnvironmentClusterDataSource {
    client: ClientSlot,
}

impl EnvironmentClusterDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

/// Exactly one of `id` and `name`, each of the right shape; unknown values are decided later.
fn validate_config(diags: &mut Diagnostics, config: &EnvironmentClusterState) {
    let arguments = [&config.id, &config.name];
    let given = arguments.iter().filter(|a| a.is_value()).count();
    let unknown = arguments.iter().filter(|a| a.is_unknown()).count();
    if given == 2 {
        diags.add(
            "Set exactly one of id and name",
            "Look the environment cluster up either by `id` or by `name`, not both.",
            AttributePath::new("name"),
        );
    } else if given == 0 && unknown == 0 {
        diags.add(
            "Set exactly one of id and name",
            "Look the environment cluster up by `id` (`ec_…`) or by `name` (e.g. `eu-prod-1`).",
            AttributePath::new("name"),
        );
    }
    validate::id(diags, IdKind::EnvironmentCluster, &config.id, "id");
    validate::cluster_name(diags, &config.name, "name");
}

#[async_trait]
impl DataSource for EnvironmentClusterDataSource {
    type State<'a> = EnvironmentClusterState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads an existing environment cluster, by `id` or by `name` (exactly one of them). \
             The provider's key needs `admin:access`.",
            [
                (
                    "id",
                    optional_computed(string(), "Id of the cluster (`ec_…`)."),
                ),
                (
                    "name",
                    optional_computed(
                        string(),
                        "Name of the cluster, e.g. `eu-prod-1` (unique in a workspace).",
                    ),
                ),
                (
                    "environment",
                    computed(
                        string(),
                        "`live` or `test`: the environment the cluster belongs to.",
                    ),
                ),
                (
                    "description",
                    computed(string(), "What runs in the cluster."),
                ),
                (
                    "workspace_id",
                    computed(string(), "Workspace (`ws_…`) of the cluster."),
                ),
                (
                    "created_at",
                    computed(string(), "Creation time (RFC 3339)."),
                ),
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
        config: EnvironmentClusterState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<EnvironmentClusterState> {
        validate_config(diags, &config);
        if !diags.errors.is_empty() {
            return None;
        }
        let client = self.client.get(diags)?;
        let (found, attribute) = if let Some(id) = known(&config.id) {
            let id = ObjectId::parse(IdKind::EnvironmentCluster, id).ok()?;
            let found = client
                .get::<EnvironmentCluster>(&format!("/v1/environment-clusters/{id}"))
                .await
                .map(Some);
            (found, "id")
        } else {
            (find_by_name(&client, known(&config.name)?).await, "name")
        };
        match found {
            Ok(Some(api)) => Some(environment_cluster_state(api, &Value::Null)),
            Ok(None) => {
                diags.add(
                    "Environment cluster not found",
                    "No environment cluster with that name exists in the provider key's workspace.",
                    AttributePath::new(attribute),
                );
                None
            }
            Err(err) if err.is_not_found() => {
                diags.add(
                    "Environment cluster not found",
                    "No environment cluster with that id exists in the provider key's workspace.",
                    AttributePath::new(attribute),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the environment cluster", &err);
                None
            }
        }
    }
}

/// Names are unique per workspace and the server filters by exact name; a cluster name is
/// `a-z 0-9 -` (validated above), so it needs no URL encoding.
async fn find_by_name(
    client: &ApiClient,
    name: &str,
) -> Result<Option<EnvironmentCluster>, crate::client::ApiError> {
    let page: Page<EnvironmentCluster> = client
        .get(&format!("/v1/environment-clusters?name={name}"))
        .await?;
    Ok(page.items.into_iter().find(|c| c.name == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(config: &EnvironmentClusterState) -> usize {
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, config);
        diags.errors.len()
    }

    #[test]
    fn exactly_one_of_id_and_name_is_given() {
        assert_eq!(errors(&EnvironmentClusterState::default()), 1);
        let by_name = EnvironmentClusterState {
            name: Value::Value("eu-prod-1".into()),
            ..Default::default()
        };
        assert_eq!(errors(&by_name), 0);
        let both = EnvironmentClusterState {
            id: Value::Value("ec_1".into()),
            ..by_name
        };
        assert_eq!(errors(&both), 1);
        let bad_name = EnvironmentClusterState {
            name: Value::Value("EU Prod".into()),
            ..Default::default()
        };
        assert_eq!(errors(&bad_name), 1);
    }
}
