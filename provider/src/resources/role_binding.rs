//! `statuspulse_role_binding`: what a principal may be granted, and where.
//!
//! Least privilege is enforced by the server: a service account's keys can only hold scopes its
//! bindings grant, in the clusters they name. So a configuration binds a service account before it
//! creates its keys (reference the binding from the key, e.g. with `depends_on`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::diag::{DiagnosticsExt, OrReport};
use crate::model::{IdKind, RoleBinding, RoleBindingCreate, RoleBindingUpdate};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id, read_or_gone, ImportTarget};
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

fn validate_config(diags: &mut Diagnostics, config: &RoleBindingState) {
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

#[async_trait]
impl Resource for RoleBindingResource {
    type State<'a> = RoleBindingState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
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
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: RoleBindingState) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: RoleBindingState,
        _private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(RoleBindingState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: RoleBinding = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some((role_binding_state(api, &state), ValueEmpty::Null))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: RoleBindingState,
        _config_state: RoleBindingState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(RoleBindingState, ValueEmpty)> {
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
        _prior_state: RoleBindingState,
        proposed_state: RoleBindingState,
        _config_state: RoleBindingState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(RoleBindingState, ValueEmpty, Vec<AttributePath>)> {
        validate_config(diags, &proposed_state);
        // The principal of a binding is fixed on the server.
        let replace = vec![
            AttributePath::new("service_account_id"),
            AttributePath::new("group"),
        ];
        Some((proposed_state, ValueEmpty::Null, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: RoleBindingState,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        // Terraform 1.0 never calls this, so nothing may depend on it.
        Some(ValueEmpty::Null)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: RoleBindingState,
        _config_state: RoleBindingState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(RoleBindingState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let body = RoleBindingCreate {
            service_account_id: known(&planned_state.service_account_id).map(str::to_owned),
            group: known(&planned_state.group).map(str::to_owned),
            scopes: set_to_vec(&planned_state.scopes),
            environment_clusters: set_to_vec(&planned_state.environment_clusters),
        };
        let api = client
            .post::<_, RoleBinding>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the role binding")?;
        Some((role_binding_state(api, &planned_state), ValueEmpty::Null))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: RoleBindingState,
        planned_state: RoleBindingState,
        _config_state: RoleBindingState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(RoleBindingState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let path = TARGET.path(known(&prior_state.id)?);
        let body = RoleBindingUpdate {
            scopes: set_to_vec(&planned_state.scopes),
            environment_clusters: set_to_vec(&planned_state.environment_clusters),
        };
        let api = client
            .patch::<_, RoleBinding>(&path, &body)
            .await
            .or_report(diags, "update the role binding")?;
        Some((role_binding_state(api, &planned_state), ValueEmpty::Null))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: RoleBindingState,
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
    ) -> Option<(RoleBindingState, ValueEmpty)> {
        let client = self.client.get(diags)?;
        let api: RoleBinding = import_by_id(&client, diags, &TARGET, &id).await?;
        Some((
            role_binding_state(api, &RoleBindingState::default()),
            ValueEmpty::Null,
        ))
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
        validate_config(&mut diags, &config);
        assert_eq!(diags.errors.len(), 1);
        config.service_account_id = Value::Value("sa_1".into());
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, &config);
        assert!(diags.errors.is_empty());
    }
}
