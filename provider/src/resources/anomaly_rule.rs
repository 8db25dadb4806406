//! `statuspulse_anomaly_rule`: what the server's anomaly detector watches the audit log for
//! (`/v1/anomaly-rules`). Every workspace starts with one rule of each kind, named
//! `default-<kind>`; importing those by name (`name:default-rapid-rotation`) puts them under
//! Terraform without creating anything.
//!
//! Thresholds are optional and computed: left out, a new rule gets its kind's defaults (shown
//! in the plan) and an existing one keeps its values. A threshold its kind does not take is
//! refused at plan time.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::anomaly_rules::{
    AnomalyKind, MAX_KEY_AGE_HOURS, MAX_THRESHOLD, MAX_WINDOW_MINUTES,
};
use statuspulse_api::validate as rules;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{AnomalyRule, CreateAnomalyRule, IdKind, UpdateAnomalyRule};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{computed, optional, optional_computed, required, schema, string};
use crate::state::known;
use crate::validate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalyRuleState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub kind: Value<String>,
    pub enabled: Value<bool>,
    pub threshold: Value<i64>,
    pub window_minutes: Value<i64>,
    pub min_key_age_hours: Value<i64>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct AnomalyRuleResource {
    client: ClientSlot,
}

impl AnomalyRuleResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::AnomalyRule,
    noun: "anomaly rule",
    collection: "/v1/anomaly-rules",
};

fn int(value: Option<i64>) -> Value<i64> {
    value.map_or(Value::Null, Value::Value)
}

/// The state for an answer; `enabled` stays null while it has its default and the
/// configuration leaves it out.
pub fn anomaly_rule_state(api: AnomalyRule, prior: &AnomalyRuleState) -> AnomalyRuleState {
    AnomalyRuleState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        kind: Value::Value(api.kind),
        enabled: match prior.enabled {
            Value::Null if api.enabled => Value::Null,
            _ => Value::Value(api.enabled),
        },
        threshold: int(api.threshold),
        window_minutes: Value::Value(api.window_minutes),
        min_key_age_hours: int(api.min_key_age_hours),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

fn create_body(state: &AnomalyRuleState) -> CreateAnomalyRule {
    CreateAnomalyRule {
        name: known(&state.name).unwrap_or_default().to_owned(),
        kind: known(&state.kind).unwrap_or_default().to_owned(),
        enabled: state.enabled.as_ref_option().copied().unwrap_or(true),
        threshold: state.threshold.as_ref_option().copied(),
        window_minutes: state.window_minutes.as_ref_option().copied(),
        min_key_age_hours: state.min_key_age_hours.as_ref_option().copied(),
    }
}

/// Every updatable attribute: the configuration is the whole truth.
fn update_body(state: &AnomalyRuleState) -> UpdateAnomalyRule {
    let body = create_body(state);
    UpdateAnomalyRule {
        name: Some(body.name),
        enabled: Some(body.enabled),
        threshold: body.threshold,
        window_minutes: body.window_minutes,
        min_key_age_hours: body.min_key_age_hours,
    }
}

impl PlanRules for AnomalyRuleState {
    // A rule's thresholds mean something only for its kind.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["kind"];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }

    /// A new kind is a new rule: the old kind's thresholds, which Terraform carries over for
    /// attributes the configuration leaves out, give way to the new kind's defaults.
    fn adopt_config(&mut self, prior: &Self, config: &Self) {
        if prior.kind != self.kind {
            self.threshold = config.threshold;
            self.window_minutes = config.window_minutes;
            self.min_key_age_hours = config.min_key_age_hours;
        }
    }

    fn fill_defaults(&mut self) {
        let Some(kind) = known(&self.kind).and_then(AnomalyKind::parse) else {
            return;
        };
        let d = kind.defaults();
        if self.threshold.is_null() {
            self.threshold = int(d.threshold);
        }
        if self.window_minutes.is_null() {
            self.window_minutes = Value::Value(d.window_minutes);
        }
        if self.min_key_age_hours.is_null() {
            self.min_key_age_hours = int(d.min_key_age_hours);
        }
    }
}

pub const RESOURCE_DOC: &str = "An anomaly rule (`/v1/anomaly-rules`; the provider's key needs \
    `admin:audit`): a pattern in the workspace's audit log that the server alerts on. An alert \
    is an `anomaly.detected` audit event, delivered to the audit sinks like any other, with its \
    evidence (counts, first and last time, regions, networks, key id or session) and never a \
    secret. It is raised once per incident: while matching events keep coming within the \
    window the incident stays open, and a new one opens only after a quiet window.\n\n\
    Kinds:\n\
    - `rapid_rotation`: `threshold` (default 3) rotations of one key (its rotation lineage) or of \
    one service account's keys within `window_minutes` (default 60). A 90-day rotation never fires.\n\
    - `cross_region_token_exchange`: one refresh-token family or session, or one workload identity \
    subject (RFC 8693 exchanges), used from two regions within `window_minutes` (default 60). \
    Regions come from the server's `--network-regions` map or a trusted proxy's \
    `--region-header`; requests in no known region never fire.\n\
    - `failed_auth_burst`: `threshold` (default 20) failed authentications of one key id, or from \
    one client network (/24, /64), within `window_minutes` (default 5).\n\
    - `revoked_key_use`: a revoked key (in its 30-day quarantine) presented again; fires at the \
    first presentation.\n\
    - `new_network`: a key used successfully from a network (/24, /64) it never used before, once \
    it has a history: at least one earlier network, and older than `min_key_age_hours` \
    (default 24).\n\n\
    Every workspace starts with one enabled rule of each kind, named `default-rapid-rotation`, \
    `default-cross-region-token-exchange`, `default-failed-auth-burst`, \
    `default-revoked-key-use` and `default-new-network`: import them by name to change or \
    disable them. More rules of a kind, with other thresholds, may be added.\n\n\
    Import by id (`anr_…`) or by name (`name:<name>`).";

#[async_trait]
impl ManagedResource for AnomalyRuleResource {
    type State = AnomalyRuleState;

    fn schema(&self) -> Schema {
        schema(
            RESOURCE_DOC,
            [
                ("name", required(string(), "Name of the rule, unique in the workspace; named in its alerts. Updated in place.")),
                ("kind", required(string(), &format!("What the rule watches for: {}. Changing it replaces the rule.", AnomalyKind::NAMES.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")))),
                ("enabled", optional(AttributeType::Bool, "Default true. A disabled rule watches nothing. Updated in place.")),
                ("threshold", optional_computed(AttributeType::Number, &format!("`rapid_rotation` (at least 2, default 3) and `failed_auth_burst` (default 20) only: the count that fires the rule, at most {MAX_THRESHOLD}. Left out, a new rule gets its kind's default and an existing one keeps its value. Updated in place."))),
                ("window_minutes", optional_computed(AttributeType::Number, &format!("1 to {MAX_WINDOW_MINUTES}: the window the count or the regions are taken over, and how long an incident must be quiet before a new one opens. Default 60 (`failed_auth_burst`: 5). Updated in place."))),
                ("min_key_age_hours", optional_computed(AttributeType::Number, &format!("`new_network` only: 0 to {MAX_KEY_AGE_HOURS}; a key younger than this is still being rolled out and its new networks are expected. Default 24. Updated in place."))),
                ("id", computed(string(), "Id of the rule (`anr_…`); import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) whose audit log the rule watches.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &AnomalyRuleState) {
        validate_config(diags, config);
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: AnomalyRuleState,
    ) -> Option<AnomalyRuleState> {
        let client = self.client.get(diags)?;
        let api: AnomalyRule = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(anomaly_rule_state(api, &state))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: AnomalyRuleState,
    ) -> Option<AnomalyRuleState> {
        let client = self.client.get(diags)?;
        let created = client
            .create::<_, AnomalyRule>(TARGET.collection, &create_body(&planned))
            .await
            .or_report(diags, "create the anomaly rule")?;
        Some(anomaly_rule_state(created, &planned))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: AnomalyRuleState,
        planned: AnomalyRuleState,
    ) -> Option<AnomalyRuleState> {
        let client = self.client.get(diags)?;
        let api = client
            .patch::<_, AnomalyRule>(&TARGET.path(known(&prior.id)?), &update_body(&planned))
            .await
            .or_report(diags, "update the anomaly rule")?;
        Some(anomaly_rule_state(api, &planned))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: AnomalyRuleState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`anr_…`), or by name as `name:<name>` (the defaults: `name:default-new-network`).
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<AnomalyRuleState> {
        let client = self.client.get(diags)?;
        let api: AnomalyRule = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(anomaly_rule_state(api, &AnomalyRuleState::default()))
    }
}

/// The plan-time checks, with the server's rule (`statuspulse_api::validate::anomaly_rule`)
/// once the kind and the thresholds are known.
fn validate_config(diags: &mut Diagnostics, config: &AnomalyRuleState) {
    validate::name(diags, &config.name, "name");
    if known(&config.kind).is_none() {
        return;
    }
    let numbers = [
        &config.threshold,
        &config.window_minutes,
        &config.min_key_age_hours,
    ];
    if numbers.iter().any(|v| matches!(v, Value::Unknown)) {
        return;
    }
    let probe = CreateAnomalyRule {
        name: "plan".to_owned(),
        ..create_body(config)
    };
    if let Err(e) = rules::anomaly_rule(&probe) {
        diags.add(
            format!("Invalid {}", e.field),
            e.detail,
            field_path(&e.field),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::AttributePath;

    fn errors(config: &AnomalyRuleState) -> Vec<AttributePath> {
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, config);
        diags.errors.into_iter().map(|d| d.attribute).collect()
    }

    fn rule(kind: &str) -> AnomalyRuleState {
        AnomalyRuleState {
            name: Value::Value("r".into()),
            kind: Value::Value(kind.into()),
            ..Default::default()
        }
    }

    #[test]
    fn thresholds_are_checked_against_the_kind_on_their_attribute() {
        assert!(errors(&rule("rapid_rotation")).is_empty());
        assert_eq!(errors(&rule("port_scan")), [AttributePath::new("kind")]);
        let not_taken = AnomalyRuleState {
            threshold: Value::Value(3),
            ..rule("new_network")
        };
        assert_eq!(errors(&not_taken), [AttributePath::new("threshold")]);
        let too_long = AnomalyRuleState {
            window_minutes: Value::Value(MAX_WINDOW_MINUTES + 1),
            ..rule("failed_auth_burst")
        };
        assert_eq!(errors(&too_long), [AttributePath::new("window_minutes")]);
    }

    #[test]
    fn a_new_kind_plans_its_own_defaults_not_the_old_kinds_thresholds() {
        let prior = AnomalyRuleState {
            threshold: Value::Value(3),
            window_minutes: Value::Value(60),
            ..rule("rapid_rotation")
        };
        let mut proposed = AnomalyRuleState {
            kind: Value::Value("new_network".into()),
            ..prior.clone()
        };
        proposed.adopt_config(&prior, &rule("new_network"));
        assert!(errors(&proposed).is_empty());
        let (planned, _) = crate::plan::plan_update(&prior, proposed);
        assert_eq!(
            (planned.threshold, planned.min_key_age_hours),
            (Value::Null, Value::Value(24))
        );
    }

    #[test]
    fn the_plan_shows_the_kinds_defaults() {
        let mut planned = rule("new_network");
        planned.fill_defaults();
        assert_eq!(
            (
                planned.threshold,
                planned.window_minutes,
                planned.min_key_age_hours
            ),
            (Value::Null, Value::Value(60), Value::Value(24))
        );
    }
}
