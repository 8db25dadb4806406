//! `statuspulse_service_account`: looks up an existing service account by id or by name.

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{IdKind, ObjectId, ServiceAccount};
use crate::provider::ClientSlot;
use crate::resources::{service_account_state, ServiceAccountState};
use crate::schema::{computed, optional_computed, schema, string};
use crate::state::known;

pub struct ServiceAccountDataSource {
    client: ClientSlot,
}

impl ServiceAccountDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for ServiceAccountDataSource {
    type State<'a> = ServiceAccountState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads an existing service account, by `id` or by `name` (exactly one of them).",
            [
                (
                    "id",
                    optional_computed(string(), "Id of the service account (`sa_…`)."),
                ),
                (
                    "name",
                    optional_computed(
                        string(),
                        "Name of the service account; must match exactly one.",
                    ),
                ),
                (
                    "description",
                    computed(string(), "What the service account is for."),
                ),
                (
                    "workspace_id",
                    computed(
                        string(),
                        "Workspace (`ws_…`) the service account belongs to.",
                    ),
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
        config: ServiceAccountState,
    ) -> Option<()> {
        match (&config.id, &config.name) {
            (Value::Null, Value::Null) | (Value::Value(_), Value::Value(_)) => diags.add(
                "Set exactly one of id and name",
                "Look the service account up either by `id` or by `name`.",
                AttributePath::root(),
            ),
            _ => {}
        }
        if let Some(id) = known(&config.id) {
            if let Err(detail) = ObjectId::parse(IdKind::ServiceAccount, id) {
                diags.add(
                    "Invalid service account id",
                    detail,
                    AttributePath::new("id"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ServiceAccountState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ServiceAccountState> {
        let client = self.client.get(diags)?;
        let found = if let Some(id) = known(&config.id) {
            client
                .get::<ServiceAccount>(&format!("/v1/service-accounts/{id}"))
                .await
                .map(Some)
        } else {
            let name = known(&config.name)?.to_owned();
            crate::resources::crud::find_by_name::<ServiceAccount>(
                &client,
                "/v1/service-accounts",
                &name,
            )
            .await
        };
        match found {
            Ok(Some(api)) => Some(service_account_state(api, &Value::Null)),
            Ok(None) => {
                diags.add(
                    "Service account not found",
                    "No service account with that name exists in the provider key's workspace.",
                    AttributePath::new("name"),
                );
                None
            }
            Err(err) if err.is_not_found() => {
                diags.add(
                    "Service account not found",
                    "No service account with that id exists in the provider key's workspace.",
                    AttributePath::new("id"),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the service account", &err);
                None
            }
        }
    }
}
