//! `statuspulse_effective_access`: what an API key, a service account, a person or a group can
//! actually reach once role bindings, environment clusters, the key's own restrictions and (for
//! people and groups) conditional access apply (`GET /v1/effective-access`). It turns the least-privilege model into something a
//! configuration can output, check in a `postcondition`, or review in a plan.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{ClusterAccess, EffectiveAccess, IdKind, PolicyWithholding};
use crate::provider::ClientSlot;
use crate::schema::{computed, optional, optional_computed, schema, set_of_strings, string};
use crate::state::{known, set_to_vec, StringSet};
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
    pub user_id: Value<String>,
    pub group: Value<String>,
    // The circumstances conditional access is evaluated in (people and groups only).
    pub client_id: Value<String>,
    pub mfa: Value<bool>,
    pub amr: Value<StringSet>,
    pub ip: Value<String>,
    pub region: Value<String>,
    pub principal_type: Value<String>,
    pub principal_id: Value<String>,
    pub key_id: Value<String>,
    pub environment: Value<String>,
    pub status: Value<String>,
    pub requested_scopes: Value<StringSet>,
    pub scopes: Value<StringSet>,
    pub withheld_scopes: Value<StringSet>,
    pub environment_clusters: Value<Vec<ClusterAccessObject>>,
    pub groups: Value<StringSet>,
    pub oauth_scopes: Value<StringSet>,
    pub withheld_oauth_scopes: Value<Vec<WithheldObject>>,
}

/// One OAuth scope conditional access withholds, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithheldObject {
    pub scope: String,
    pub policy_id: String,
    pub policy_name: String,
    pub condition: String,
    pub detail: String,
}

impl From<PolicyWithholding> for WithheldObject {
    fn from(api: PolicyWithholding) -> Self {
        Self {
            scope: api.scope,
            policy_id: api.policy_id,
            policy_name: api.policy_name,
            condition: api.condition,
            detail: api.detail,
        }
    }
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
        user_id: config.user_id.clone(),
        group: config.group.clone(),
        client_id: config.client_id.clone(),
        mfa: config.mfa,
        amr: config.amr.clone(),
        ip: config.ip.clone(),
        region: config.region.clone(),
        groups: set(api.groups),
        oauth_scopes: set(api.oauth_scopes),
        withheld_oauth_scopes: Value::Value(
            api.withheld_oauth_scopes
                .into_iter()
                .map(Into::into)
                .collect(),
        ),
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

/// The four principals one may ask about, by attribute.
const PRINCIPALS: [&str; 4] = ["api_key_id", "service_account_id", "user_id", "group"];

/// Exactly one principal, each id of the right shape; the circumstances (`client_id`, `mfa`,
/// `amr`, `ip`, `region`) only for a person or a group. An unknown value may still turn out null,
/// so only known values count.
fn validate_config(diags: &mut Diagnostics, config: &EffectiveAccessState) {
    let arguments = [
        &config.api_key_id,
        &config.service_account_id,
        &config.user_id,
        &config.group,
    ];
    let given: Vec<&str> = arguments
        .iter()
        .zip(PRINCIPALS)
        .filter(|(a, _)| a.is_value())
        .map(|(_, name)| name)
        .collect();
    let unknown = arguments.iter().filter(|a| a.is_unknown()).count();
    if given.len() > 1 {
        diags.add(
            "Set exactly one of api_key_id, service_account_id, user_id and group",
            format!(
                "Ask about one principal, not {}. A key's answer already names its service account.",
                given.join(" and ")
            ),
            AttributePath::new(given[1]),
        );
    } else if given.is_empty() && unknown == 0 {
        diags.add(
            "Set exactly one of api_key_id, service_account_id, user_id and group",
            "Ask about an API key (`api_key_id = \"key_…\"`), a service account \
             (`service_account_id = \"sa_…\"`), a person signed in through SSO \
             (`user_id = \"usr_…\"`) or a group (`group = \"ops\"`).",
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
    if let Some(user) = known(&config.user_id) {
        if !statuspulse_api::ids::has_prefix(user, statuspulse_api::ids::USER) {
            diags.add(
                "Invalid id",
                format!("`{user}` is not a user id: it must look like `usr_…`."),
                AttributePath::new("user_id"),
            );
        }
    }
    validate::name(diags, &config.group, "group");
    validate::id(diags, IdKind::OAuthClient, &config.client_id, "client_id");
    if let Some(ip) = known(&config.ip) {
        if ip.parse::<std::net::IpAddr>().is_err() {
            diags.add(
                "Invalid ip",
                format!("`{ip}` is not an IPv4 or IPv6 address."),
                AttributePath::new("ip"),
            );
        }
    }
    if let Some(region) = known(&config.region) {
        if let Err(e) = statuspulse_api::validate::region("region", region) {
            diags.add("Invalid region", e.detail, AttributePath::new("region"));
        }
    }
    let about_keys = config.api_key_id.is_value() || config.service_account_id.is_value();
    let circumstances: [(&str, bool); 5] = [
        ("client_id", config.client_id.is_value()),
        ("mfa", config.mfa.is_value()),
        ("amr", config.amr.is_value()),
        ("ip", config.ip.is_value()),
        ("region", config.region.is_value()),
    ];
    if about_keys {
        if let Some((attribute, _)) = circumstances.iter().find(|(_, set)| *set) {
            diags.add(
                "Circumstances are for people and groups",
                "client_id, mfa, amr, ip and region describe a sign-in, which conditional access \
                 evaluates: ask about a user_id or a group to use them.",
                AttributePath::new(*attribute),
            );
        }
    }
}

/// The query string for a validated configuration.
fn query(config: &EffectiveAccessState) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("api_key_id", &config.api_key_id),
        ("service_account_id", &config.service_account_id),
        ("user_id", &config.user_id),
        ("group", &config.group),
        ("client_id", &config.client_id),
        ("ip", &config.ip),
        ("region", &config.region),
    ] {
        if let Some(value) = known(value) {
            query.append_pair(name, value);
        }
    }
    if let Some(mfa) = config.mfa.as_ref_option() {
        query.append_pair("mfa", if *mfa { "true" } else { "false" });
    }
    if config.amr.is_value() {
        query.append_pair("amr", &set_to_vec(&config.amr).join(","));
    }
    query.finish()
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
        let withheld = AttributeType::Object(HashMap::from(
            ["scope", "policy_id", "policy_name", "condition", "detail"]
                .map(|name| (name.to_owned(), AttributeType::String)),
        ));
        Some(schema(
            "What an API key, a service account, a person or a group can actually reach, after \
             role bindings, environment clusters and conditional access (`GET \
             /v1/effective-access`; the provider's key needs `admin:access`). Set exactly one of \
             `api_key_id`, `service_account_id`, `user_id` and `group`.\n\n\
             A service account's key holds only the scopes its bindings grant, and only in the \
             clusters they name: `scopes` is what is effective, `withheld_scopes` what the key asks \
             for but no binding grants (for example after a binding was narrowed), and \
             `environment_clusters` where each scope applies.\n\n\
             For a person (`user_id`) or a group, `oauth_scopes` is what StatusPulse's OAuth server \
             would issue after their group bindings and `statuspulse_access_policy` rules, in the \
             circumstances given by `client_id`, `mfa`, `amr`, `ip` and `region`; \
             `withheld_oauth_scopes` says which policy withholds what, and why. A circumstance left \
             out counts as not met, so without them the answer is the floor: what is issued \
             wherever and however the person signs in.",
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
                    "user_id",
                    optional(
                        string(),
                        "Id of a person signed in through SSO (`usr_…`): their groups as their \
                         sessions see them now, and what the OAuth server would issue them.",
                    ),
                ),
                (
                    "group",
                    optional(
                        string(),
                        "A StatusPulse group (a role binding `group`): what its members hold \
                         through it, and what the OAuth server would issue them.",
                    ),
                ),
                (
                    "client_id",
                    optional(
                        string(),
                        "People and groups: the OAuth client the tokens would go to (`oc_…`); \
                         without it, a client allowed every scope, and policies naming clients \
                         count as unmet.",
                    ),
                ),
                (
                    "mfa",
                    optional(
                        AttributeType::Bool,
                        "People and groups: whether the sign-in proved multi-factor \
                         authentication (default false).",
                    ),
                ),
                (
                    "amr",
                    optional(
                        set_of_strings(),
                        "People and groups: the sign-in's authentication methods (`pwd`, `hwk`, …).",
                    ),
                ),
                (
                    "ip",
                    optional(
                        string(),
                        "People and groups: the client's address, for `networks` conditions.",
                    ),
                ),
                (
                    "region",
                    optional(
                        string(),
                        "People and groups: the client's region, for `regions` conditions.",
                    ),
                ),
                (
                    "principal_type",
                    computed(
                        string(),
                        "`service_account`, `api_key` for a key of no service account (its \
                         scopes are then not limited by bindings), `user` or `group`.",
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
                (
                    "groups",
                    computed(
                        set_of_strings(),
                        "A person's StatusPulse groups (after the SSO connection's group \
                         mappings); a group's own name. Empty for keys and service accounts.",
                    ),
                ),
                (
                    "oauth_scopes",
                    computed(
                        set_of_strings(),
                        "People and groups: the OAuth scopes the authorization server would \
                         issue in the circumstances given.",
                    ),
                ),
                (
                    "withheld_oauth_scopes",
                    computed(
                        AttributeType::List(Box::new(withheld)),
                        "People and groups: each OAuth scope the bindings allow but an access \
                         policy withholds: `scope`, `policy_id`, `policy_name`, the first unmet \
                         `condition` (`groups`, `client_ids`, `require_mfa`, `amr`, `networks`, \
                         `regions`) and a `detail` for people.",
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
        let (attribute, noun) = if config.api_key_id.is_value() {
            ("api_key_id", "API key")
        } else if config.user_id.is_value() {
            ("user_id", "user")
        } else if config.group.is_value() {
            ("group", "group")
        } else {
            ("service_account_id", "service account")
        };
        let query = query(&config);
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
    fn circumstances_are_for_people_and_groups_and_reach_the_query_encoded() {
        let key_with_mfa = EffectiveAccessState {
            api_key_id: Value::Value("key_1".into()),
            mfa: Value::Value(true),
            ..Default::default()
        };
        assert_eq!(errors_at(&key_with_mfa), vec![at("mfa")]);
        let group = EffectiveAccessState {
            group: Value::Value("on call".into()),
            mfa: Value::Value(true),
            amr: Value::Value(
                ["pwd", "hwk"]
                    .into_iter()
                    .map(|s| Value::Value(s.to_owned()))
                    .collect(),
            ),
            ip: Value::Value("2001:db8::1".into()),
            region: Value::Value("eu-west-1".into()),
            ..Default::default()
        };
        assert!(errors_at(&group).is_empty());
        assert_eq!(
            query(&group),
            "group=on+call&ip=2001%3Adb8%3A%3A1&region=eu-west-1&mfa=true&amr=hwk%2Cpwd"
        );
        let bad = EffectiveAccessState {
            user_id: Value::Value("sa_1".into()),
            ip: Value::Value("10.1".into()),
            region: Value::Value("EU".into()),
            ..Default::default()
        };
        assert_eq!(errors_at(&bad), vec![at("user_id"), at("ip"), at("region")]);
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
