//! `statuspulse_role_binding`: what a principal may be granted, and where.
//!
//! Least privilege is enforced by the server: a service account's keys can only hold scopes its
//! bindings grant, in the clusters they name. So a configuration binds a service account before it
//! creates its keys (reference the binding from the key, e.g. with `depends_on`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{DiagnosticsExt, OrReport};
use crate::model::{CreateRoleBinding, IdKind, RoleBinding, UpdateRoleBinding};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{computed, optional, required, schema, set_of_strings, string};
use crate::state::{known, set_from_api, set_to_vec, StringSet};
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleBindingState {
    pub id: Value<String>,
    pub service_account_id: Value<String>,
    pub group: Value<String>,
    pub scopes: Value<StringSet>,
    pub environment_clusters: Value<StringSet>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct RoleBindingResource {
    client: ClientSlot,
}

impl RoleBindingResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::RoleBinding,
    noun: "role binding",
    collection: "/v1/role-bindings",
};

/// The state for an API object; `prior` decides whether no clusters is null or `[]`.
pub fn role_binding_state(api: RoleBinding, prior: &RoleBindingState) -> RoleBindingState {
    RoleBindingState {
        id: Value::Value(api.id),
        service_account_id: api.service_account_id.into(),
        group: api.group.into(),
        scopes: Value::Value(api.scopes.into_iter().map(Value::Value).collect()),
        environment_clusters: set_from_api(api.environment_clusters, &prior.environment_clusters),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

impl PlanRules for RoleBindingState {
    // The principal of a binding is fixed on the server.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["service_account_id", "group"];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }
}

#[async_trait]
impl ManagedResource for RoleBindingResource {
    type State = RoleBindingState;

    fn schema(&self) -> Schema {
        schema(
            "Grants scopes to a principal, optionally only in some environment clusters. A service \
             account's API keys can hold only the scopes its bindings grant (least privilege is \
             enforced by the server), and narrowing a binding narrows its keys at once.",
            [
                ("service_account_id", optional(string(), "Service account (`sa_…`) the binding applies to. Exactly one of `service_account_id` and `group`. Changing it replaces the binding.")),
                ("group", optional(string(), "SSO group the binding applies to. Exactly one of `service_account_id` and `group`. Changing it replaces the binding.")),
                ("scopes", required(set_of_strings(), "Scopes granted (see the `statuspulse_scopes` data source). Updated in place.")),
                ("environment_clusters", optional(set_of_strings(), "Environment cluster names the grant is confined to; unset or empty means every cluster. Updated in place.")),
                ("id", computed(string(), "Id of the role binding (`rb_…`); also the import id.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) of the binding.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &RoleBindingState) {
        let principals = [&config.service_account_id, &config.group];
        let set = principals.iter().filter(|p| !p.is_null()).count();
        if set != 1 && principals.iter().all(|p| !p.is_unknown()) {
            diags.add(
                "Set exactly one principal",
                "A role binding binds either a service account (`service_account_id`) or an SSO group (`group`).",
                AttributePath::new("service_account_id"),
            );
        }
        validate::id(
            diags,
            IdKind::ServiceAccount,
            &config.service_account_id,
            "service_account_id",
        );
        validate::name(diags, &config.group, "group");
        validate::scopes(diags, &config.scopes);
        validate::cluster_names(diags, &config.environment_clusters);
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: RoleBindingState,
    ) -> Option<RoleBindingState> {
        let client = self.client.get(diags)?;
        let api: RoleBinding = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(role_binding_state(api, &state))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: RoleBindingState,
    ) -> Option<RoleBindingState> {
        let client = self.client.get(diags)?;
        let body = CreateRoleBinding {
            service_account_id: known(&planned.service_account_id).map(str::to_owned),
            group: known(&planned.group).map(str::to_owned),
            scopes: set_to_vec(&planned.scopes),
            environment_clusters: set_to_vec(&planned.environment_clusters),
        };
        let api = client
            .create::<_, RoleBinding>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the role binding")?;
        Some(role_binding_state(api, &planned))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: RoleBindingState,
        planned: RoleBindingState,
    ) -> Option<RoleBindingState> {
        let client = self.client.get(diags)?;
        let body = UpdateRoleBinding {
            scopes: Some(set_to_vec(&planned.scopes)),
            environment_clusters: Some(set_to_vec(&planned.environment_clusters)),
        };
        let api = client
            .patch::<_, RoleBinding>(&TARGET.path(known(&prior.id)?), &body)
            .await
            .or_report(diags, "update the role binding")?;
        Some(role_binding_state(api, &planned))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: RoleBindingState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<RoleBindingState> {
        let client = self.client.get(diags)?;
        let api: RoleBinding = import_by_id(&client, diags, &TARGET, &id).await?;
        Some(role_binding_state(api, &RoleBindingState::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_needs_exactly_one_principal() {
        let mut config = RoleBindingState {
            scopes: Value::Value([Value::Value("read:checks".to_owned())].into()),
            ..Default::default()
        };
        let mut diags = Diagnostics::default();
        RoleBindingResource::validate(&mut diags, &config);
        assert_eq!(diags.errors.len(), 1);
        config.service_account_id = Value::Value("sa_1".into());
        let mut diags = Diagnostics::default();
        RoleBindingResource::validate(&mut diags, &config);
        assert!(diags.errors.is_empty());
    }
}
