//! What a StatusPulse resource implements ([`ManagedResource`]) and the one adapter ([`Managed`])
//! that serves it to Terraform as a `tf_provider::Resource`.
//!
//! The adapter does the planning through [`crate::plan`] from what the state declares, so no
//! resource writes `plan_create`, `plan_update` or `plan_destroy`. It also drops the private and
//! provider-meta states, which no StatusPulse resource uses.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::schema::Schema;
use tf_provider::value::ValueEmpty;
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::plan::{self, PlanRules};

/// A StatusPulse object managed by Terraform: its schema, its checks and its API calls.
#[async_trait]
pub trait ManagedResource: Send + Sync {
    /// The state, attribute for attribute with the schema; it declares how it is planned.
    type State: PlanRules + Serialize + DeserializeOwned + Send + Sync;

    /// The schema Terraform and the generated docs see; descriptions are Markdown.
    fn schema(&self) -> Schema;

    /// Checks on every known value, with a diagnostic on the offending attribute. Runs on the
    /// configuration and again on each plan, when values that were unknown may have become known.
    fn validate(diags: &mut Diagnostics, config: &Self::State);

    /// Plan-time checks that need the server; `prior` is `None` when the object is to be created.
    async fn check_plan(
        &self,
        _diags: &mut Diagnostics,
        _prior: Option<&Self::State>,
        _planned: &Self::State,
    ) {
    }

    /// Copies the write-only attributes of the configuration into the planned state before a
    /// create or update: Terraform plans them as null, so only the configuration carries them.
    /// The returned state must hold them as null again (the fork also enforces it).
    fn write_only_from_config(_planned: &mut Self::State, _config: &Self::State) {}

    /// Refreshes the state; `None` without a diagnostic means the object was deleted outside
    /// Terraform.
    async fn read(&self, diags: &mut Diagnostics, state: Self::State) -> Option<Self::State>;

    /// Creates the object; the returned state must agree with every known planned value.
    async fn create(&self, diags: &mut Diagnostics, planned: Self::State) -> Option<Self::State>;

    /// Changes in place what the server can change; the plan replaced the object for the rest.
    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State,
        planned: Self::State,
    ) -> Option<Self::State>;

    /// Deletes (or, for keys, revokes) the object; one already gone is what destroy wanted.
    async fn destroy(&self, diags: &mut Diagnostics, prior: Self::State) -> Option<()>;

    /// Reads an object by its id for `terraform import`.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<Self::State>;
}

/// Serves a [`ManagedResource`] to Terraform.
pub struct Managed<R>(pub R);

#[async_trait]
impl<R: ManagedResource> Resource for Managed<R> {
    type State<'a> = R::State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(self.0.schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: R::State) -> Option<()> {
        R::validate(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: R::State,
        _private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(R::State, ValueEmpty)> {
        let state = self.0.read(diags, state).await?;
        Some((state, ValueEmpty::Null))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: R::State,
        _config_state: R::State,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(R::State, ValueEmpty)> {
        R::validate(diags, &proposed_state);
        self.0.check_plan(diags, None, &proposed_state).await;
        Some((plan::plan_create(proposed_state), ValueEmpty::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: R::State,
        mut proposed_state: R::State,
        config_state: R::State,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(R::State, ValueEmpty, Vec<AttributePath>)> {
        proposed_state.adopt_config(&prior_state, &config_state);
        R::validate(diags, &proposed_state);
        self.0
            .check_plan(diags, Some(&prior_state), &proposed_state)
            .await;
        let (planned, replace) = plan::plan_update(&prior_state, proposed_state);
        Some((planned, ValueEmpty::Null, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: R::State,
        _prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        // Terraform 1.0 never calls this, so nothing may depend on it.
        Some(ValueEmpty::Null)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut planned_state: R::State,
        config_state: R::State,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(R::State, ValueEmpty)> {
        R::write_only_from_config(&mut planned_state, &config_state);
        let state = self.0.create(diags, planned_state).await?;
        Some((state, ValueEmpty::Null))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: R::State,
        mut planned_state: R::State,
        config_state: R::State,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(R::State, ValueEmpty)> {
        R::write_only_from_config(&mut planned_state, &config_state);
        let state = self.0.update(diags, prior_state, planned_state).await?;
        Some((state, ValueEmpty::Null))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: R::State,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        self.0.destroy(diags, prior_state).await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(R::State, ValueEmpty)> {
        let state = self.0.import(diags, id).await?;
        Some((state, ValueEmpty::Null))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tf_provider::schema::AttributeConstraint;
    use tf_provider::value::Value;

    use super::*;
    use crate::provider::ClientSlot;
    use crate::resources::{
        ApiKeyResource, AuditSettingsResource, AuditSinkResource, EnvironmentClusterResource,
        OAuthClientResource, RoleBindingResource, ServiceAccountResource, SsoConnectionResource,
        WorkloadIdentityResource,
    };

    /// The attributes a create plan leaves unknown, read back through serde because the
    /// declaration is typed field access, not names.
    fn planned_unknown<S: PlanRules + Serialize + Default>() -> BTreeSet<String> {
        let unknown = serde_json::to_value(Value::<String>::Unknown).unwrap();
        let planned = serde_json::to_value(plan::plan_create(S::default())).unwrap();
        let serde_json::Value::Object(attributes) = planned else {
            panic!("a state serializes as an object");
        };
        attributes
            .into_iter()
            .filter(|(_, value)| *value == unknown)
            .map(|(name, _)| name)
            .collect()
    }

    /// What a plan does must agree with the schema Terraform and the docs see.
    fn declarations_match_schema<R: ManagedResource>(resource: &R)
    where
        R::State: Default,
    {
        let schema = resource.schema();
        let attributes = schema.block.attributes;
        let with = |wanted: &dyn Fn(&AttributeConstraint) -> bool| -> BTreeSet<String> {
            attributes
                .iter()
                .filter(|(_, attribute)| wanted(&attribute.constraint))
                .map(|(name, _)| name.clone())
                .collect()
        };
        let output_only = with(&|c| *c == AttributeConstraint::Computed);
        let unknown = planned_unknown::<R::State>();
        assert!(
            unknown.is_superset(&output_only),
            "{unknown:?} ⊉ {output_only:?}"
        );
        // Beyond the outputs, only an optional attribute whose default the server chooses (a
        // sink's filter: the workspace's default) may be unknown when left out.
        let server_default = with(&|c| *c == AttributeConstraint::OptionalComputed);
        let extra: BTreeSet<String> = unknown.difference(&output_only).cloned().collect();
        assert!(
            extra.is_subset(&server_default),
            "{extra:?} are not optional and computed"
        );

        // Nested blocks are configuration too (a change of `secret_store` replaces a key).
        let mut configurable = with(&|c| *c != AttributeConstraint::Computed);
        configurable.extend(schema.block.blocks.keys().cloned());
        for name in R::State::REPLACE_ON_CHANGE {
            assert!(configurable.contains(*name), "`{name}` is not configurable");
        }
        for (name, attribute) in &attributes {
            if attribute
                .description
                .content
                .contains("Changing it replaces")
            {
                assert!(
                    R::State::REPLACE_ON_CHANGE.contains(&name.as_str()),
                    "the docs say changing `{name}` replaces the object, the plan does not"
                );
            }
        }
    }

    #[test]
    fn every_resource_plans_what_its_schema_documents() {
        let client = ClientSlot::default();
        declarations_match_schema(&ServiceAccountResource::new(client.clone()));
        declarations_match_schema(&ApiKeyResource::new(client.clone()));
        declarations_match_schema(&RoleBindingResource::new(client.clone()));
        declarations_match_schema(&EnvironmentClusterResource::new(client.clone()));
        declarations_match_schema(&SsoConnectionResource::new(client.clone()));
        declarations_match_schema(&OAuthClientResource::new(client.clone()));
        declarations_match_schema(&WorkloadIdentityResource::new(client.clone()));
        declarations_match_schema(&AuditSinkResource::new(client.clone()));
        declarations_match_schema(&AuditSettingsResource::new(client));
    }
}
