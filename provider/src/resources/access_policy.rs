//! `statuspulse_access_policy`: a conditional access rule for the scopes StatusPulse's OAuth
//! server issues (`/v1/access-policies`).
//!
//! Every condition is optional and updates in place. An unset condition is null in the state
//! (the server answers `[]` or `false`), and removing one from the configuration clears it on
//! the server: the update sends every attribute.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::access_policies::MAX_CONDITION_ENTRIES;
use statuspulse_api::validate as rules;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{AccessPolicy, CreateAccessPolicy, IdKind, UpdateAccessPolicy};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::resources::oauth_client::oauth_scope_list;
use crate::schema::{computed, optional, required, schema, set_of_strings, string};
use crate::state::{known, set_from_api, set_to_vec, string_from_api, StringSet};
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessPolicyState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub description: Value<String>,
    pub enabled: Value<bool>,
    pub scopes: Value<StringSet>,
    pub groups: Value<StringSet>,
    pub client_ids: Value<StringSet>,
    pub require_mfa: Value<bool>,
    pub amr: Value<StringSet>,
    pub networks: Value<StringSet>,
    pub regions: Value<StringSet>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct AccessPolicyResource {
    client: ClientSlot,
}

impl AccessPolicyResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::AccessPolicy,
    noun: "access policy",
    collection: "/v1/access-policies",
};

/// A boolean the server always answers: null in the state while it has its default and the
/// configuration leaves it out.
fn bool_from_api(value: bool, default: bool, prior: &Value<bool>) -> Value<bool> {
    match prior {
        Value::Null if value == default => Value::Null,
        _ => Value::Value(value),
    }
}

/// The state for an answer; `prior` (the configuration or the earlier state) decides whether a
/// default is null.
pub fn access_policy_state(api: AccessPolicy, prior: &AccessPolicyState) -> AccessPolicyState {
    let when = api.conditions;
    AccessPolicyState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        description: string_from_api(Some(api.description), &prior.description),
        enabled: bool_from_api(api.enabled, true, &prior.enabled),
        scopes: Value::Value(api.scopes.into_iter().map(Value::Value).collect()),
        groups: set_from_api(when.groups, &prior.groups),
        client_ids: set_from_api(when.client_ids, &prior.client_ids),
        require_mfa: bool_from_api(when.require_mfa, false, &prior.require_mfa),
        amr: set_from_api(when.amr, &prior.amr),
        networks: set_from_api(when.networks, &prior.networks),
        regions: set_from_api(when.regions, &prior.regions),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

/// The whole policy as configured: an unset attribute is its default.
fn create_body(state: &AccessPolicyState) -> CreateAccessPolicy {
    CreateAccessPolicy {
        name: known(&state.name).unwrap_or_default().to_owned(),
        description: known(&state.description).unwrap_or_default().to_owned(),
        enabled: state.enabled.as_ref_option().copied().unwrap_or(true),
        scopes: set_to_vec(&state.scopes),
        groups: set_to_vec(&state.groups),
        client_ids: set_to_vec(&state.client_ids),
        require_mfa: state.require_mfa.as_ref_option().copied().unwrap_or(false),
        amr: set_to_vec(&state.amr),
        networks: set_to_vec(&state.networks),
        regions: set_to_vec(&state.regions),
    }
}

/// Every attribute, always: one left out of the configuration goes back to its default.
fn update_body(state: &AccessPolicyState) -> UpdateAccessPolicy {
    let body = create_body(state);
    UpdateAccessPolicy {
        name: Some(body.name),
        description: Some(body.description),
        enabled: Some(body.enabled),
        scopes: Some(body.scopes),
        groups: Some(body.groups),
        client_ids: Some(body.client_ids),
        require_mfa: Some(body.require_mfa),
        amr: Some(body.amr),
        networks: Some(body.networks),
        regions: Some(body.regions),
    }
}

impl PlanRules for AccessPolicyState {
    // Every configurable attribute updates in place.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &[];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }
}

pub const RESOURCE_DOC: &str = "A conditional access policy of StatusPulse's OAuth 2.0 / OIDC \
    server (`/v1/access-policies`; the provider's key needs `admin:access`). It governs some \
    OAuth `scopes` and names the conditions under which they are issued: the person's `groups`, \
    the OAuth client (`client_ids`), multi-factor authentication (`require_mfa`, `amr`), the \
    client's `networks` and `regions`.\n\n\
    Each condition that is set must hold, and within one condition any listed entry will do. A \
    scope that no enabled policy governs is issued as scope negotiation decides (asked ∩ the \
    client's `allowed_scopes` ∩ the person's role bindings); a governed one only when **every** \
    enabled policy that governs it holds, so a policy can only narrow what is issued. Policies \
    are evaluated when a person authorizes a client and again at every refresh: a tightened \
    policy narrows tokens at their next refresh (at most 15 minutes of access tokens already \
    issued), and one that leaves a grant nothing ends it. The \
    `statuspulse_effective_access` data source shows the result for a person or a group.\n\n\
    Networks are evaluated on the client's address (the TCP peer, or what a proxy trusted by the \
    server's `--trusted-proxies` forwards); regions on the server's `--network-regions` map or a \
    trusted proxy's `--region-header`. A request whose address or region is unknown meets no \
    network or region condition.\n\n\
    Import by id (`ap_…`) or by name (`name:<name>`).";

#[async_trait]
impl ManagedResource for AccessPolicyResource {
    type State = AccessPolicyState;

    fn schema(&self) -> Schema {
        let max = MAX_CONDITION_ENTRIES;
        schema(
            RESOURCE_DOC,
            [
                ("name", required(string(), "Name of the policy, unique in the workspace; named in the `access_denied` and `invalid_grant` answers and in audit events when it withholds a scope. Updated in place.")),
                ("description", optional(string(), "What the policy is for. Updated in place.")),
                ("enabled", optional(AttributeType::Bool, "Default true. A disabled policy restricts nothing. Updated in place.")),
                ("scopes", required(set_of_strings(), &format!("The OAuth scopes the policy governs, at least one of {}. Updated in place.", oauth_scope_list()))),
                ("groups", optional(set_of_strings(), &format!("Condition: the person is in one of these StatusPulse groups (role binding `group`s, after the SSO connection's group mappings), at most {max}."))),
                ("client_ids", optional(set_of_strings(), &format!("Condition: the token goes to one of these OAuth clients (`statuspulse_oauth_client` ids, `oc_…`, of this workspace), at most {max}."))),
                ("require_mfa", optional(AttributeType::Bool, "Condition: the sign-in proved multi-factor authentication (the SSO connection's check of the ID token's `amr`/`acr`, or the SAML context class). Default false.")),
                ("amr", optional(set_of_strings(), &format!("Condition: the sign-in's `amr` names one of these authentication methods (RFC 8176: `hwk`, `otp`, `mfa`, …), at most {max}."))),
                ("networks", optional(set_of_strings(), &format!("Condition: the client's address is in one of these CIDR blocks, written in canonical form (`10.0.0.0/8`, `203.0.113.7/32`, `2001:db8::/32`), at most {max}."))),
                ("regions", optional(set_of_strings(), &format!("Condition: the client's region is one of these (lowercase, such as `eu-west-1` or `de`), at most {max}."))),
                ("id", computed(string(), "Id of the policy (`ap_…`); import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) whose tokens the policy governs.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &AccessPolicyState) {
        validate_config(diags, config);
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: AccessPolicyState,
    ) -> Option<AccessPolicyState> {
        let client = self.client.get(diags)?;
        let api: AccessPolicy = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(access_policy_state(api, &state))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: AccessPolicyState,
    ) -> Option<AccessPolicyState> {
        let client = self.client.get(diags)?;
        let created = client
            .create::<_, AccessPolicy>(TARGET.collection, &create_body(&planned))
            .await
            .or_report(diags, "create the access policy")?;
        Some(access_policy_state(created, &planned))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: AccessPolicyState,
        planned: AccessPolicyState,
    ) -> Option<AccessPolicyState> {
        let client = self.client.get(diags)?;
        let api = client
            .patch::<_, AccessPolicy>(&TARGET.path(known(&prior.id)?), &update_body(&planned))
            .await
            .or_report(diags, "update the access policy")?;
        Some(access_policy_state(api, &planned))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: AccessPolicyState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`ap_…`), or by name as `name:<name>`.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<AccessPolicyState> {
        let client = self.client.get(diags)?;
        let api: AccessPolicy = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(access_policy_state(api, &AccessPolicyState::default()))
    }
}

/// Whether a set and every element of it are known (null counts: it is an empty condition).
fn settled(value: &Value<StringSet>) -> bool {
    match value {
        Value::Null => true,
        Value::Value(items) => items.iter().all(Value::is_value),
        Value::Unknown => false,
    }
}

/// The plan-time checks, with the server's rules (`statuspulse_api::validate::access_policy`):
/// each known attribute on its own, and "at least one condition" once every condition is known.
fn validate_config(diags: &mut Diagnostics, config: &AccessPolicyState) {
    validate::name(diags, &config.name, "name");
    validate::description(diags, &config.description, "description");
    let lists: [(&'static str, &Value<StringSet>); 6] = [
        ("scopes", &config.scopes),
        ("groups", &config.groups),
        ("client_ids", &config.client_ids),
        ("amr", &config.amr),
        ("networks", &config.networks),
        ("regions", &config.regions),
    ];
    // The whole rule on a policy made of the one list (and a stand-in for the others), so that
    // each list is judged exactly as the server judges it and reported on its attribute.
    for (attribute, value) in lists {
        if !matches!(value, Value::Value(_)) || !settled(value) {
            continue;
        }
        let items = set_to_vec(value);
        let mut probe = CreateAccessPolicy {
            name: "plan".to_owned(),
            description: String::new(),
            enabled: true,
            scopes: vec!["openid".to_owned()],
            groups: vec![],
            client_ids: vec![],
            require_mfa: true,
            amr: vec![],
            networks: vec![],
            regions: vec![],
        };
        match attribute {
            "scopes" => probe.scopes = items,
            "groups" => probe.groups = items,
            "client_ids" => probe.client_ids = items,
            "amr" => probe.amr = items,
            "networks" => probe.networks = items,
            _ => probe.regions = items,
        }
        if let Err(e) = rules::access_policy(&probe) {
            diags.add(
                format!("Invalid {attribute}"),
                e.detail,
                field_path(&e.field),
            );
        }
    }
    let conditions_known =
        lists[1..].iter().all(|(_, v)| settled(v)) && !matches!(config.require_mfa, Value::Unknown);
    if conditions_known {
        let none = lists[1..].iter().all(|(_, v)| set_to_vec(v).is_empty())
            && !config.require_mfa.as_ref_option().copied().unwrap_or(false);
        if none {
            diags.add(
                "Access policy without a condition",
                "Set at least one of groups, client_ids, require_mfa, amr, networks or regions: a \
                 policy without a condition restricts nothing.",
                AttributePath::new("scopes"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> Value<StringSet> {
        Value::Value(
            items
                .iter()
                .map(|s| Value::Value((*s).to_owned()))
                .collect(),
        )
    }

    fn mfa_policy() -> AccessPolicyState {
        AccessPolicyState {
            name: Value::Value("writes need mfa".into()),
            scopes: set(&["statuspulse:alerts:manage"]),
            require_mfa: Value::Value(true),
            ..Default::default()
        }
    }

    fn errors(config: &AccessPolicyState) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_config(diags, config))
    }

    #[test]
    fn a_good_policy_passes_and_each_bad_list_is_refused_on_its_attribute() {
        assert!(errors(&mfa_policy()).is_empty());
        let bad = AccessPolicyState {
            scopes: set(&["read:checks"]),
            networks: set(&["10.1.2.3/8"]),
            regions: set(&["EU"]),
            client_ids: set(&["sa_1"]),
            ..mfa_policy()
        };
        let at: Vec<AttributePath> = errors(&bad).into_iter().map(|(_, at)| at).collect();
        assert_eq!(
            at,
            [
                AttributePath::new("scopes"),
                AttributePath::new("client_ids"),
                AttributePath::new("networks"),
                AttributePath::new("regions"),
            ]
        );
    }

    #[test]
    fn a_policy_needs_a_condition_once_every_condition_is_known() {
        let none = AccessPolicyState {
            require_mfa: Value::Null,
            ..mfa_policy()
        };
        assert_eq!(errors(&none)[0].0, "Access policy without a condition");
        let pending = AccessPolicyState {
            networks: Value::Unknown,
            ..none.clone()
        };
        assert!(errors(&pending).is_empty());
        let off = AccessPolicyState {
            require_mfa: Value::Value(false),
            groups: set(&[]),
            ..none
        };
        assert_eq!(errors(&off).len(), 1);
    }

    #[test]
    fn defaults_stay_null_unless_configured() {
        let api: AccessPolicy = serde_json::from_value(serde_json::json!({
            "id": "ap_1", "workspace_id": "ws_1", "name": "n", "description": "",
            "enabled": true, "scopes": ["openid"], "groups": [], "client_ids": [],
            "require_mfa": true, "amr": [], "networks": ["10.0.0.0/8"], "regions": [],
            "created_at": "t", "updated_at": "u"
        }))
        .unwrap();
        let state = access_policy_state(api.clone(), &AccessPolicyState::default());
        assert_eq!(state.enabled, Value::Null);
        assert_eq!(state.groups, Value::Null);
        assert_eq!(state.description, Value::Null);
        assert_eq!(state.require_mfa, Value::Value(true));
        assert_eq!(state.networks, set(&["10.0.0.0/8"]));
        let configured = AccessPolicyState {
            enabled: Value::Value(true),
            groups: set(&[]),
            ..Default::default()
        };
        let state = access_policy_state(api, &configured);
        assert_eq!(state.enabled, Value::Value(true));
        assert_eq!(state.groups, set(&[]));
    }
}
