//! `statuspulse_scopes`: the scope catalog, so configurations can refer to scopes by name and
//! check them against the server they run against.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::ScopeCatalog;
use crate::provider::ClientSlot;
use crate::schema::{computed, optional, schema, string};
use crate::state::known;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScopeObject {
    pub name: String,
    pub description: String,
    pub kind: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScopesState {
    pub kind: Value<String>,
    pub names: Value<Vec<String>>,
    pub scopes: Value<Vec<ScopeObject>>,
}

pub struct ScopesDataSource {
    client: ClientSlot,
}

impl ScopesDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for ScopesDataSource {
    type State<'a> = ScopesState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let object = AttributeType::Object(HashMap::from([
            ("name".to_owned(), AttributeType::String),
            ("description".to_owned(), AttributeType::String),
            ("kind".to_owned(), AttributeType::String),
        ]));
        Some(schema(
            "The scope catalog of the StatusPulse server (`GET /v1/scopes`): resource scopes such \
             as `read:checks` and management scopes such as `admin:keys`.",
            [
                (
                    "kind",
                    optional(
                        string(),
                        "Only list scopes of this kind: `resource` or `management`.",
                    ),
                ),
                (
                    "names",
                    computed(
                        AttributeType::List(Box::new(AttributeType::String)),
                        "Scope names, in catalog order.",
                    ),
                ),
                (
                    "scopes",
                    computed(
                        AttributeType::List(Box::new(object)),
                        "Scopes with their `name`, `description` and `kind`.",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ScopesState) -> Option<()> {
        if let Some(kind) = known(&config.kind) {
            if kind != "resource" && kind != "management" {
                diags.add(
                    "Invalid scope kind",
                    format!("`{kind}` is not a scope kind: use \"resource\" or \"management\"."),
                    AttributePath::new("kind"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ScopesState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ScopesState> {
        let client = self.client.get(diags)?;
        let catalog = match client.get::<ScopeCatalog>("/v1/scopes").await {
            Ok(catalog) => catalog.items,
            Err(err) => {
                diags.api_error("read the scope catalog", &err);
                return None;
            }
        };
        let wanted = known(&config.kind).map(str::to_owned);
        let scopes: Vec<ScopeObject> = catalog
            .into_iter()
            .filter(|s| wanted.as_deref().is_none_or(|k| s.kind.as_str() == k))
            .map(|s| ScopeObject {
                name: s.name,
                description: s.description,
                kind: s.kind.as_str().to_owned(),
            })
            .collect();
        Some(ScopesState {
            kind: config.kind,
            names: Value::Value(scopes.iter().map(|s| s.name.clone()).collect()),
            scopes: Value::Value(scopes),
        })
    }
}
