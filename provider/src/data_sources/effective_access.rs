//! `statuspulse_effective_access`: what an API key or a service account can actually reach once
//! role bindings, environment clusters and the key's own restrictions apply
//! (`GET /v1/effective-access`). It turns the least-privilege model into something a
//! configuration can output, check in a `postcondition`, or review in a plan.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{ClusterAccess, EffectiveAccess, IdKind, ObjectId};
use crate::provider::ClientSlot;
use crate::schema::{computed, optional_computed, schema, set_of_strings, string};
use crate::state::{known, StringSet};
use crate::validate;

/// One reachable cluster. Plain fields: the whole list is computed, so Terraform never sends an
/// unknown or null element back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterAccessObject {
    pub name: String,
    pub environment: String,
    pub scopes: BTreeSet<String>,
}

impl From<ClusterAccess> for ClusterAccessObject {
    fn from(api: ClusterAccess) -> Self {
        Self {
            name: api.name,
            environment: api.environment.to_string(),
            scopes: api.scopes.into_iter().collect(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EffectiveAccessState {
    pub api_key_id: Value<String>,
    pub service_account_id: Value<String>,
    pub principal_type: Value<String>,
    pub principal_id: Value<String>,
    pub key_id: Value<String>,
    pub environment: Value<String>,
    pub status: Value<String>,
    pub requested_scopes: Value<StringSet>,
    pub scopes: Value<StringSet>,
    pub withheld_scopes: Value<StringSet>,
    pub environment_clusters: Value<Vec<ClusterAccessObject>>,
}

fn set(items: Vec<String>) -> Value<StringSet> {
    Value::Value(items.into_iter().map(Value::Value).collect())
}

/// The state for an answer; the argument the configuration gave is kept as it was.
fn state_from_api(api: EffectiveAccess, config: &EffectiveAccessState) -> EffectiveAccessState {
    let mut clusters: Vec<ClusterAccessObject> = api
        .environment_clusters
        .into_iter()
        .map(Into::into)
        .collect();
    // Sorted so that the list (and any plan showing it) is stable whatever order the server uses.
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    // Asked about a key, the service account it acts as is worth knowing too.
    let service_account_id = match &config.service_account_id {
        Value::Value(id) => Value::Value(id.clone()),
        _ if api.principal_type == "service_account" => Value::Value(api.principal_id.clone()),
        _ => Value::Null,
    };
    EffectiveAccessState {
        api_key_id: match &config.api_key_id {
            Value::Value(id) => Value::Value(id.clone()),
            _ => api.api_key_id.into(),
        },
        service_account_id,
        principal_type: Value::Value(api.principal_type),
        principal_id: Value::Value(api.principal_id),
        key_id: api.key_id.into(),
        environment: api.environment.map(|e| e.to_string()).into(),
        status: api.status.map(|s| s.as_str().to_owned()).into(),
        requested_scopes: set(api.requested_scopes),
        scopes: set(api.scopes),
        withheld_scopes: set(api.withheld_scopes),
        environment_clusters: Value::Value(clusters),
    }
}

/// Exactly one of `api_key_id` and `service_account_id`, each of the right shape. An unknown
/// value may still turn out null, so only known values count.
fn validate_config(diags: &mut Diagnostics, config: &EffectiveAccessState) {
    let arguments = [&config.api_key_id, &config.service_account_id];
    let given = arguments.iter().filter(|a| a.is_value()).count();
    let unknown = arguments.iter().filter(|a| a.is_unknown()).count();
    if given == 2 {
        diags.add(
            "Set exactly one of api_key_id and service_account_id",
            "Ask either about an API key (`api_key_id`) or about a service account \
             (`service_account_id`), not both. A key's answer already names its service account.",
            AttributePath::new("service_account_id"),
        );
    } else if given == 0 && unknown == 0 {
        diags.add(
            "Set exactly one of api_key_id and service_account_id",
            "Ask either about an API key (`api_key_id = \"key_…\"`) or about a service account \
             (`service_account_id = \"sa_…\"`).",
            AttributePath::new("api_key_id"),
        );
    }
    validate::id(diags, IdKind::ApiKey, &config.api_key_id, "api_key_id");
    validate::id(
        diags,
        IdKind::ServiceAccount,
        &config.service_account_id,
        "service_account_id",
    );
}

pub struct EffectiveAccessDataSource {
    client: ClientSlot,
}

impl EffectiveAccessDataSource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DataSource for EffectiveAccessDataSource {
    type State<'a> = EffectiveAccessState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let cluster = AttributeType::Object(HashMap::from([
            ("name".to_owned(), AttributeType::String),
            ("environment".to_owned(), AttributeType::String),
            ("scopes".to_owned(), set_of_strings()),
        ]));
        Some(schema(
            "What an API key or a service account can actually reach, after role bindings and \
             environment clusters (`GET /v1/effective-access`; the provider's key needs \
             `admin:access`). Set exactly one of `api_key_id` and `service_account_id`.\n\n\
             A service account's key holds only the scopes its bindings grant, and only in the \
             clusters they name: `scopes` is what is effective, `withheld_scopes` what the key asks \
             for but no binding grants (for example after a binding was narrowed), and \
             `environment_clusters` where each scope applies.",
            [
                (
                    "api_key_id",
                    optional_computed(
                        string(),
                        "Id of the API key (`key_…`) to ask about. Exactly one of `api_key_id` and `service_account_id`.",
                    ),
                ),
                (
                    "service_account_id",
                    optional_computed(
                        string(),
                        "Id of the service account (`sa_…`) to ask about: the union of its bindings. \
                         Exactly one of `api_key_id` and `service_account_id`. When asking about a key, \
                         this is set to the service account the key acts as, if any.",
                    ),
                ),
                (
                    "principal_type",
                    computed(
                        string(),
                        "`service_account`, or `api_key` for a key of no service account (its \
                         scopes are then not limited by bindings).",
                    ),
                ),
                (
                    "principal_id",
                    computed(string(), "Id of the principal (`sa_…`, or the key's own `key_…`)."),
                ),
                (
                    "key_id",
                    computed(string(), "The key's public key id; null for a service account."),
                ),
                (
                    "environment",
                    computed(
                        string(),
                        "The key's environment (`live` or `test`); null for a service account, \
                         whose bindings may span both.",
                    ),
                ),
                (
                    "status",
                    computed(
                        string(),
                        "The key's status; a key that is not `active` or `rotating` reaches \
                         nothing. Null for a service account.",
                    ),
                ),
                (
                    "requested_scopes",
                    computed(
                        set_of_strings(),
                        "The key's own `scopes`; for a service account, what its bindings grant.",
                    ),
                ),
                (
                    "scopes",
                    computed(
                        set_of_strings(),
                        "Scopes effective somewhere the principal can act.",
                    ),
                ),
                (
                    "withheld_scopes",
                    computed(
                        set_of_strings(),
                        "Scopes the key asks for that no role binding grants: they are refused at \
                         verification.",
                    ),
                ),
                (
                    "environment_clusters",
                    computed(
                        AttributeType::List(Box::new(cluster)),
                        "Every reachable environment cluster, sorted by `name`, with its \
                         `environment` and the `scopes` effective there.",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EffectiveAccessState,
    ) -> Option<()> {
        validate_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EffectiveAccessState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<EffectiveAccessState> {
        validate_config(diags, &config);
        if !diags.errors.is_empty() {
            return None;
        }
        let client = self.client.get(diags)?;
        // Validated above: the ids are of `[A-Za-z0-9_-]`, so they need no URL encoding.
        let (attribute, noun, query) =
            match (known(&config.api_key_id), known(&config.service_account_id)) {
                (Some(id), None) => (
                    "api_key_id",
                    "API key",
                    format!("api_key_id={}", ObjectId::parse(IdKind::ApiKey, id).ok()?),
                ),
                (None, Some(id)) => (
                    "service_account_id",
                    "service account",
                    format!(
                        "service_account_id={}",
                        ObjectId::parse(IdKind::ServiceAccount, id).ok()?
                    ),
                ),
                _ => {
                    diags.add(
                        "Set exactly one of api_key_id and service_account_id",
                        "Ask either about an API key (`api_key_id`) or about a service account \
                     (`service_account_id`).",
                        AttributePath::new("api_key_id"),
                    );
                    return None;
                }
            };
        match client
            .get::<EffectiveAccess>(&format!("/v1/effective-access?{query}"))
            .await
        {
            Ok(api) => Some(state_from_api(api, &config)),
            Err(err) if err.is_not_found() => {
                diags.add(
                    format!("{} not found", capitalized(noun)),
                    format!("No {noun} with that id exists in the provider key's workspace."),
                    AttributePath::new(attribute),
                );
                None
            }
            Err(err) => {
                diags.api_error("read the effective access", &err);
                None
            }
        }
    }
}

fn capitalized(noun: &str) -> String {
    let mut chars = noun.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::AttributePathStep;

    fn errors_at(config: &EffectiveAccessState) -> Vec<Vec<AttributePathStep>> {
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, config);
        diags
            .errors
            .into_iter()
            .map(|d| d.attribute.steps)
            .collect()
    }

    fn at(name: &'static str) -> Vec<AttributePathStep> {
        vec![AttributePathStep::Attribute(name.into())]
    }

    #[test]
    fn exactly_one_principal_is_asked_about() {
        let none = EffectiveAccessState::default();
        assert_eq!(errors_at(&none), vec![at("api_key_id")]);
        let both = EffectiveAccessState {
            api_key_id: Value::Value("key_1".into()),
            service_account_id: Value::Value("sa_1".into()),
            ..Default::default()
        };
        assert_eq!(errors_at(&both), vec![at("service_account_id")]);
        let key = EffectiveAccessState {
            api_key_id: Value::Value("key_1".into()),
            ..Default::default()
        };
        assert!(errors_at(&key).is_empty());
        // Not known yet (e.g. the key is created in the same apply): decided once it is.
        let later = EffectiveAccessState {
            api_key_id: Value::Unknown,
            ..Default::default()
        };
        assert!(errors_at(&later).is_empty());
    }

    #[test]
    fn ids_of_the_wrong_kind_point_at_their_attribute() {
        let config = EffectiveAccessState {
            api_key_id: Value::Value("sa_1".into()),
            ..Default::default()
        };
        assert_eq!(errors_at(&config), vec![at("api_key_id")]);
    }

    #[test]
    fn answers_become_sets_and_clusters_sorted_by_name() {
        let api: EffectiveAccess = serde_json::from_value(serde_json::json!({
            "principal_type": "service_account",
            "principal_id": "sa_1",
            "api_key_id": "key_1",
            "key_id": "abcdefghijklmnop",
            "environment": "live",
            "status": "active",
            "requested_scopes": ["write:alerts", "read:checks", "write:checks"],
            "scopes": ["write:alerts", "read:checks"],
            "withheld_scopes": ["write:checks"],
            "environment_clusters": [
                {"name": "us-prod-1", "environment": "live", "scopes": ["read:checks"]},
                {"name": "eu-prod-1", "environment": "live", "scopes": ["write:alerts", "read:checks"]}
            ]
        }))
        .unwrap();
        let config = EffectiveAccessState {
            api_key_id: Value::Value("key_1".into()),
            ..Default::default()
        };
        let state = state_from_api(api, &config);
        assert_eq!(state.service_account_id, Value::Value("sa_1".into()));
        assert_eq!(state.withheld_scopes, set(vec!["write:checks".to_owned()]));
        let clusters = state.environment_clusters.as_option().unwrap();
        assert_eq!(
            clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["eu-prod-1", "us-prod-1"]
        );
        assert_eq!(
            clusters[0].scopes.iter().collect::<Vec<_>>(),
            ["read:checks", "write:alerts"]
        );
    }

    #[test]
    fn a_service_account_answer_has_no_key_fields() {
        let api: EffectiveAccess = serde_json::from_value(serde_json::json!({
            "principal_type": "service_account",
            "principal_id": "sa_1",
            "api_key_id": null,
            "key_id": null,
            "environment": null,
            "status": null,
            "requested_scopes": ["read:checks"],
            "scopes": ["read:checks"],
            "withheld_scopes": [],
            "environment_clusters": []
        }))
        .unwrap();
        let config = EffectiveAccessState {
            service_account_id: Value::Value("sa_1".into()),
            ..Default::default()
        };
        let state = state_from_api(api, &config);
        assert_eq!(state.api_key_id, Value::Null);
        assert_eq!(state.key_id, Value::Null);
        assert_eq!(state.withheld_scopes, Value::Value(StringSet::new()));
        assert_eq!(state.environment_clusters, Value::Value(vec![]));
    }
}
