//! `statuspulse_service_account`: a non-human principal that API keys act as.

use crate::diag::DiagnosticsExt as _;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::diag::OrReport;
use crate::model::{CreateServiceAccount, IdKind, ServiceAccount, UpdateServiceAccount};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
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
        description: string_from_api(Some(api.description), prior),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::ServiceAccount,
    noun: "service account",
    collection: "/v1/service-accounts",
};

fn create_body(state: &ServiceAccountState) -> CreateServiceAccount {
    CreateServiceAccount {
        name: known(&state.name).unwrap_or_default().to_owned(),
        description: known(&state.description).unwrap_or_default().to_owned(),
    }
}

/// Both attributes, always: an empty description clears it (the server has no separate
/// "unset" for it).
fn update_body(state: &ServiceAccountState) -> UpdateServiceAccount {
    let CreateServiceAccount { name, description } = create_body(state);
    UpdateServiceAccount {
        name: Some(name),
        description: Some(description),
    }
}

impl PlanRules for ServiceAccountState {
    // Every configurable attribute updates in place.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &[];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }
}

#[async_trait]
impl ManagedResource for ServiceAccountResource {
    type State = ServiceAccountState;

    fn schema(&self) -> Schema {
        schema(
            "A StatusPulse service account: the principal that automation acts as. Give each \
             pipeline its own account and bind API keys to it with `statuspulse_api_key`'s \
             `service_account_id`.\n\nA service account cannot be deleted while it has keys that \
             are not revoked; Terraform destroys (revokes) its keys first when they reference it.",
            [
                ("name", required(string(), "Name of the service account. Updated in place.")),
                ("description", optional(string(), "What the service account is for. Updated in place.")),
                ("id", computed(string(), "Id of the service account (`sa_…`); import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) the service account belongs to: the provider key's workspace.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &ServiceAccountState) {
        validate::name(diags, &config.name, "name");
        validate::description(diags, &config.description, "description");
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: ServiceAccountState,
    ) -> Option<ServiceAccountState> {
        let client = self.client.get(diags)?;
        let api: ServiceAccount = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(service_account_state(api, &state.description))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: ServiceAccountState,
    ) -> Option<ServiceAccountState> {
        let client = self.client.get(diags)?;
        let api = client
            .create::<_, ServiceAccount>(TARGET.collection, &create_body(&planned))
            .await
            .or_report(diags, "create the service account")?;
        Some(service_account_state(api, &planned.description))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: ServiceAccountState,
        planned: ServiceAccountState,
    ) -> Option<ServiceAccountState> {
        let client = self.client.get(diags)?;
        let api = client
            .patch::<_, ServiceAccount>(&TARGET.path(known(&prior.id)?), &update_body(&planned))
            .await
            .or_report(diags, "update the service account")?;
        Some(service_account_state(api, &planned.description))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: ServiceAccountState) -> Option<()> {
        let client = self.client.get(diags)?;
        let id = known(&prior.id)?;
        // Keys Terraform replaced keep working through their grace period; once no active key
        // is left they serve no one, and they would block the deletion. Active keys (made
        // outside Terraform, say) still block it, and the server's refusal names them.
        if let Err(err) = end_grace_periods(&client, id).await {
            diags.api_error(
                "end the grace periods of the service account's replaced keys",
                &err,
            );
            return None;
        }
        TARGET.delete(&client, diags, id).await
    }

    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<ServiceAccountState> {
        let client = self.client.get(diags)?;
        let api: ServiceAccount = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(service_account_state(api, &Value::Null))
    }
}

/// Revokes the service account's keys still in a grace period when it has no active key left.
async fn end_grace_periods(
    client: &crate::client::ApiClient,
    service_account_id: &str,
) -> Result<(), crate::client::ApiError> {
    let mut active = false;
    let mut rotating = Vec::new();
    let collection = format!("/v1/api-keys?service_account_id={service_account_id}");
    let listed = client
        .visit_pages(&collection, |key: crate::model::ApiKeyView| {
            match key.status.as_str() {
                "active" => active = true,
                "rotating" => rotating.push(key.id),
                _ => {}
            }
            active
        })
        .await;
    match listed {
        Ok(()) => {}
        // A credential that manages service accounts but not keys: nothing to end here; if keys
        // are still usable, the server's refusal of the deletion names them.
        Err(err) if err.status() == Some(403) => return Ok(()),
        Err(err) => return Err(err),
    }
    if active {
        return Ok(());
    }
    for id in rotating {
        let body = crate::model::RevokeApiKey {
            id,
            reason: Some("revoked by Terraform (its service account was destroyed)".to_owned()),
            grace_period_hours: None,
            successor_id: None,
        };
        match client
            .post::<_, serde_json::Value>("/v1/api-keys/revoke", &body)
            .await
        {
            Ok(_) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
