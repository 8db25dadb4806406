//! `statuspulse_role_binding`: reads an existing role binding by id, e.g. to show what a
//! binding managed elsewhere grants and where.

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{IdKind, ObjectId, RoleBinding};
use crate::provider::ClientSlot;
use crate::resources::{role_binding_state, RoleBindingState};
use crate::schema::{computed, required, schema, set_of_strings, string};
use crate::state::{known, StringSet};
use crate::validate;

pub struct RoleBindingDataSource {
    client: ClientSlot,
}

impl RoleBindingDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for RoleBindingDataSource {
    type State<'a> = RoleBindingState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads an existing role binding by id: which principal it binds, the scopes it grants \
             and the environment clusters it is confined to. The provider's key needs \
             `admin:access`.",
            [
                ("id", required(string(), "Id of the role binding (`rb_…`).")),
                (
                    "service_account_id",
                    computed(string(), "Service account (`sa_…`) the binding applies to, if any."),
                ),
                ("group", computed(string(), "SSO group the binding applies to, if any.")),
                ("scopes", computed(set_of_strings(), "Scopes granted.")),
                (
                    "environment_clusters",
                    computed(
                        set_of_strings(),
                        "Environment cluster names the grant is confined to; empty means every cluster.",
                    ),
                ),
                (
                    "workspace_id",
                    computed(string(), "Workspace (`ws_…`) of the binding."),
                ),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: RoleBindingState) -> Option<()> {
        validate::id(diags, IdKind::RoleBinding, &config.id, "id");
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: RoleBindingState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<RoleBindingState> {
        let client = self.client.get(diags)?;
        let id = match ObjectId::parse(IdKind::RoleBinding, known(&config.id)?) {
            Ok(id) => id,
            Err(detail) => {
                diags.add("Invalid id", detail, AttributePath::new("id"));
                return None;
            }
        };
        match client
            .get::<RoleBinding>(&format!("/v1/role-bindings/{id}"))
            .await
        {
            // `[]` rather than null for "every cluster", so expressions need no null check.
            Ok(api) => Some(role_binding_state(
                api,
                &RoleBindingState {
                    environment_clusters: Value::Value(StringSet::new()),
                    ..Default::default()
                },
            )),
            Err(err) if err.is_not_found() => {
                diags.add(
                    "Role binding not found",
                    format!("No role binding `{id}` exists in the provider key's workspace."),
                    AttributePath::new("id"),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the role binding", &err);
                None
            }
        }
    }
}
