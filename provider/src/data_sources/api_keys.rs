//! `statuspulse_api_keys`: the workspace's API keys (metadata, never secrets), filtered by
//! service account, status and `rotation_due`, so a team can find keys nobody manages or keys
//! due for rotation (`GET /v1/api-keys`, every page).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{ApiKeyView, IdKind, Page};
use crate::provider::ClientSlot;
use crate::schema::{computed, optional, schema, set_of_strings, string};
use crate::state::known;
use crate::validate;

/// The statuses a key can have, as the filter takes them.
const STATUSES: [&str; 4] = ["active", "rotating", "expired", "revoked"];
/// Keys listed at most: a guard against a runaway workspace filling a plan.
const MAX_KEYS: usize = 50_000;

/// One key of the answer. Plain fields: the whole list is computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySummary {
    pub id: String,
    pub name: String,
    pub key_id: String,
    pub environment: String,
    pub service_account_id: Option<String>,
    pub status: String,
    pub scopes: BTreeSet<String>,
    pub created_at: String,
    pub expires_at: String,
    pub rotate_after: String,
    pub rotation_due: bool,
}

impl From<ApiKeyView> for KeySummary {
    fn from(api: ApiKeyView) -> Self {
        Self {
            id: api.id,
            name: api.name,
            key_id: api.key_id,
            environment: api.environment,
            service_account_id: api.service_account_id,
            status: api.status.as_str().to_owned(),
            scopes: api.scopes.into_iter().collect(),
            created_at: api.created_at,
            expires_at: api.expires_at,
            rotate_after: api.rotate_after,
            rotation_due: api.rotation_due,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeysState {
    pub service_account_id: Value<String>,
    pub status: Value<String>,
    pub rotation_due: Value<bool>,
    pub ids: Value<Vec<Value<String>>>,
    pub keys: Value<Vec<KeySummary>>,
}

fn validate_config(diags: &mut Diagnostics, config: &ApiKeysState) {
    validate::id(
        diags,
        IdKind::ServiceAccount,
        &config.service_account_id,
        "service_account_id",
    );
    if let Some(status) = known(&config.status) {
        if !STATUSES.contains(&status) {
            diags.add(
                "Invalid status",
                format!(
                    "`{status}` is not a key status: use one of {}.",
                    STATUSES.join(", ")
                ),
                AttributePath::new("status"),
            );
        }
    }
}

/// The list query for the filters the server applies (`rotation_due` is applied here).
fn query(config: &ApiKeysState, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", "200");
    if let Some(sa) = known(&config.service_account_id) {
        query.append_pair("service_account_id", sa);
    }
    if let Some(status) = known(&config.status) {
        query.append_pair("status", status);
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    format!("/v1/api-keys?{}", query.finish())
}

pub struct ApiKeysDataSource {
    client: ClientSlot,
}

impl ApiKeysDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for ApiKeysDataSource {
    type State<'a> = ApiKeysState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let key = AttributeType::Object(HashMap::from([
            ("id".to_owned(), AttributeType::String),
            ("name".to_owned(), AttributeType::String),
            ("key_id".to_owned(), AttributeType::String),
            ("environment".to_owned(), AttributeType::String),
            ("service_account_id".to_owned(), AttributeType::String),
            ("status".to_owned(), AttributeType::String),
            ("scopes".to_owned(), set_of_strings()),
            ("created_at".to_owned(), AttributeType::String),
            ("expires_at".to_owned(), AttributeType::String),
            ("rotate_after".to_owned(), AttributeType::String),
            ("rotation_due".to_owned(), AttributeType::Bool),
        ]));
        Some(schema(
            "The workspace's API keys, oldest first, filtered by service account, status and \
             `rotation_due` (`GET /v1/api-keys`; the provider's key needs `admin:keys`): metadata \
             only, never a secret. Use it to find keys due for rotation, or keys that exist on \
             the server but in no configuration (for example a successor made by a rotation \
             outside Terraform).",
            [
                ("service_account_id", optional(string(), "Only the keys of this service account (`sa_…`).")),
                ("status", optional(string(), "Only keys with this status: `active`, `rotating`, `expired` or `revoked` (revoked keys stay listed for their 30-day quarantine).")),
                ("rotation_due", optional(AttributeType::Bool, "Only keys whose rotation is due (true) or not (false).")),
                ("ids", computed(AttributeType::List(Box::new(AttributeType::String)), "Ids (`key_…`) of the keys listed, oldest first.")),
                ("keys", computed(AttributeType::List(Box::new(key)), "The keys listed, oldest first: `id`, `name`, `key_id`, `environment`, `service_account_id`, `status`, `scopes`, `created_at`, `expires_at`, `rotate_after`, `rotation_due`.")),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ApiKeysState) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ApiKeysState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ApiKeysState> {
        validate_config(diags, &config);
        if !diags.errors.is_empty() {
            return None;
        }
        let client = self.client.get(diags)?;
        let due = config.rotation_due.as_ref_option().copied();
        let mut keys: Vec<KeySummary> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match client
                .get::<Page<ApiKeyView>>(&query(&config, cursor.as_deref()))
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    diags.api_error("list the API keys", &err);
                    return None;
                }
            };
            keys.extend(
                page.items
                    .into_iter()
                    .filter(|k| due.is_none_or(|due| k.rotation_due == due))
                    .map(KeySummary::from),
            );
            if keys.len() > MAX_KEYS {
                diags.add(
                    "Too many API keys",
                    format!(
                        "More than {MAX_KEYS} keys match; narrow the list with \
                         service_account_id or status."
                    ),
                    AttributePath::new("status"),
                );
                return None;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Some(ApiKeysState {
            ids: Value::Value(keys.iter().map(|k| Value::Value(k.id.clone())).collect()),
            keys: Value::Value(keys),
            ..config
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_the_list_query_and_bad_ones_are_refused_on_their_attribute() {
        let config = ApiKeysState {
            service_account_id: Value::Value("sa_1".into()),
            status: Value::Value("active".into()),
            ..Default::default()
        };
        assert_eq!(
            query(&config, Some("abc")),
            "/v1/api-keys?limit=200&service_account_id=sa_1&status=active&cursor=abc"
        );
        let mut diags = Diagnostics::default();
        validate_config(
            &mut diags,
            &ApiKeysState {
                service_account_id: Value::Value("key_1".into()),
                status: Value::Value("gone".into()),
                ..Default::default()
            },
        );
        let at: Vec<AttributePath> = diags.errors.into_iter().map(|d| d.attribute).collect();
        assert_eq!(
            at,
            [
                AttributePath::new("service_account_id"),
                AttributePath::new("status")
            ]
        );
    }
}
