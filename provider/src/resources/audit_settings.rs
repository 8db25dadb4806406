//! `statuspulse_audit_settings`: how long the workspace keeps its audit events, and what a new
//! audit sink forwards by default (`/v1/audit-settings`).
//!
//! Unlike the other resources this is not an object the server creates and deletes but a
//! singleton every workspace has, with a default:
//! - its id is the workspace of the provider's credential (the API answer does not carry it, so
//!   it comes from `/v1/auth/verify`); every call checks that the credential still belongs to
//!   the state's workspace, since a PUT always lands on the credential's own;
//! - create and update are the same PUT; destroy puts the defaults back (DELETE), because
//!   recording is always on and there is nothing to delete;
//! - `default_event_types` left out means the default, `["*"]`: planned as such, so a filter
//!   changed outside Terraform shows as a change back;
//! - a read that finds the default (never set, or reset) holds `retention_days` as null, so the
//!   configured value shows as a change back, even when it equals the default;
//! - where the stored chain starts and its head move on their own (pruning, every event
//!   recorded): refreshed but never compared, planned unknown only when an update is made anyway.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::audit::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use statuspulse_api::v1::audit_sinks::MAX_EVENT_TYPES;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::client::ApiClient;
use crate::diag::{DiagnosticsExt, OrReport};
use crate::model::{AuditSettings, IdKind, ObjectId, UpdateAuditSettings, VerifiedCredential};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::managed::ManagedResource;
use crate::schema::{computed, optional_computed, required, schema, string};
use crate::state::{known, list_to_vec, StringList};
use crate::validate;

const PATH: &str = "/v1/audit-settings";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettingsState {
    pub id: Value<String>,
    pub retention_days: Value<i64>,
    pub default_event_types: Value<StringList>,
    pub pruned_through_seq: Value<i64>,
    pub pruned_through_hash: Value<String>,
    pub head_seq: Value<i64>,
}

pub struct AuditSettingsResource {
    client: ClientSlot,
}

impl AuditSettingsResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

/// The state for an answer about `workspace_id`. The default retention is null: the workspace
/// has no configured value, which is what a configuration that sets one must see as a change.
pub fn audit_settings_state(api: AuditSettings, workspace_id: String) -> AuditSettingsState {
    AuditSettingsState {
        id: Value::Value(workspace_id),
        retention_days: if api.is_default {
            Value::Null
        } else {
            Value::Value(api.retention_days)
        },
        default_event_types: Value::Value(
            api.default_event_types
                .into_iter()
                .map(Value::Value)
                .collect(),
        ),
        pruned_through_seq: Value::Value(api.pruned_through_seq),
        pruned_through_hash: Value::Value(api.pruned_through_hash),
        head_seq: Value::Value(api.head_seq),
    }
}

impl PlanRules for AuditSettingsState {
    const REPLACE_ON_CHANGE: &'static [&'static str] = &[];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![
            &mut self.id,
            &mut self.pruned_through_seq,
            &mut self.pruned_through_hash,
            &mut self.head_seq,
        ]
    }

    fn fill_defaults(&mut self) {
        if self.default_event_types.is_null() {
            self.default_event_types = Value::Value(vec![Value::Value("*".to_owned())]);
        }
    }

    /// Left out of the configuration, the filter is the default, not whatever the state held.
    fn adopt_config(&mut self, _prior: &Self, config: &Self) {
        if config.default_event_types.is_null() {
            self.default_event_types = Value::Null;
        }
    }

    fn recomputed_by_update(&self, planned: &mut Self) {
        // The PUT is itself an audit event (the head moves), and pruning may run meanwhile.
        if self.retention_days != planned.retention_days
            || self.default_event_types != planned.default_event_types
        {
            planned.pruned_through_seq.set_unknown();
            planned.pruned_through_hash.set_unknown();
            planned.head_seq.set_unknown();
        }
    }
}

/// The workspace of the provider's credential: the only one whose settings it can change.
async fn credential_workspace(client: &ApiClient, diags: &mut Diagnostics) -> Option<String> {
    let credential: VerifiedCredential = client
        .get("/v1/auth/verify")
        .await
        .or_report(diags, "find the workspace of the provider's credential")?;
    Some(credential.workspace_id)
}

/// Checks that the credential still belongs to the state's workspace (`id`): a PUT always
/// changes the credential's own, which would otherwise be recorded under the wrong id.
async fn check_same_workspace(client: &ApiClient, diags: &mut Diagnostics, id: &str) -> Option<()> {
    let current = credential_workspace(client, diags).await?;
    if current == id {
        return Some(());
    }
    diags.add(
        "Audit settings of another workspace",
        format!(
            "This state holds the audit settings of workspace `{id}`, but the provider's \
             credential belongs to workspace `{current}`, and audit settings are managed with a \
             credential of their own workspace. Configure the provider with a key of `{id}`, or \
             `terraform state rm` this resource to manage `{current}` instead."
        ),
        AttributePath::new("id"),
    );
    None
}

async fn put_settings(
    client: &ApiClient,
    diags: &mut Diagnostics,
    planned: &AuditSettingsState,
    action: &str,
) -> Option<AuditSettings> {
    let body = UpdateAuditSettings {
        retention_days: Some(*planned.retention_days.as_ref_option()?),
        default_event_types: Some(list_to_vec(&planned.default_event_types)),
    };
    client.put(PATH, &body).await.or_report(diags, action)
}

/// `retention_days` within the server's bounds (the shared constants), on its attribute.
fn validate_retention(diags: &mut Diagnostics, value: &Value<i64>) {
    if let Value::Value(days) = *value {
        if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) {
            diags.add(
                "Invalid retention_days",
                format!(
                    "retention_days is {days}; it must be between {MIN_RETENTION_DAYS} and \
                     {MAX_RETENTION_DAYS} days (at least {MIN_RETENTION_DAYS}, so that the \
                     30-day quarantine of a revoked key stays auditable; at most ten years)."
                ),
                AttributePath::new("retention_days"),
            );
        }
    }
}

/// The resource's documentation; `{MIN}`, `{MAX}` and `{DEFAULT}` stand for the shared bounds.
const RESOURCE_DOC: &str = "The audit settings of the workspace of the provider's credential \
    (`/v1/audit-settings`; the provider's key needs `admin:audit`): how many days its audit \
    events are kept, {MIN} to {MAX}, and the sink defaults: which events an audit sink \
    (`statuspulse_audit_sink`) created without its own `event_types` forwards.\n\n\
    **Recording is always on.** Every workspace records its events in a hash chain whether or \
    not this resource exists; it only sets the retention, which is {DEFAULT} days by default, \
    and the sink defaults. Destroying the resource puts the defaults back ({DEFAULT} days, and \
    sinks forwarding every event; events older than {DEFAULT} days are then pruned within the \
    hour); it never stops recording.\n\n\
    **Pruning.** Once an hour the server removes the events older than `retention_days` from \
    the front of the chain, in segments of at most 10,000 events, each in one transaction and \
    each recorded as an `audit.pruned` event (its range and last hash). The chain keeps the \
    hash of the last pruned event as its anchor (`pruned_through_seq`, `pruned_through_hash`): \
    the first stored event's `prev_hash`, so what remains still verifies (`GET \
    /v1/audit-events/verify`, `statuspulse-server audit verify`), and an event removed by \
    anything but pruning is still detected as a gap. The head is never pruned, and neither is \
    an event that an enabled audit sink (`statuspulse_audit_sink`) has not delivered yet: a \
    sink's copy is the point of it, so a failing sink holds pruning back until it catches up \
    (a disabled sink does not). Shortening the retention prunes within the hour.\n\n\
    **One per workspace.** The settings are a singleton: declare this resource once for a \
    workspace, or the declarations undo each other. Its `id` is the workspace id. Creating it \
    takes over whatever retention the workspace had. A retention changed outside Terraform \
    shows on the next plan as a change back to the configured value; so does a workspace found \
    at the default (never set), even when the configured value is the default. `pruned_through_seq`, `pruned_through_hash` \
    and `head_seq` move on their own and never cause a change (Terraform before 1.2 still lists \
    their new values under \"Objects have changed outside of Terraform\", a note that plans \
    nothing).\n\n\
    Import by the workspace id (`ws_…`), which must be the workspace of the provider's \
    credential.";

#[async_trait]
impl ManagedResource for AuditSettingsResource {
    type State = AuditSettingsState;

    fn schema(&self) -> Schema {
        let doc = RESOURCE_DOC
            .replace("{MIN}", &MIN_RETENTION_DAYS.to_string())
            .replace("{MAX}", &MAX_RETENTION_DAYS.to_string())
            .replace("{DEFAULT}", &DEFAULT_RETENTION_DAYS.to_string());
        schema(
            &doc,
            [
                ("retention_days", required(AttributeType::Number, &format!("Events older than this many days are pruned: {MIN_RETENTION_DAYS} (the 30-day quarantine of a revoked key must stay auditable) to {MAX_RETENTION_DAYS}. Updated in place; destroying the resource sets it back to the default, {DEFAULT_RETENTION_DAYS}."))),
                ("default_event_types", optional_computed(AttributeType::List(Box::new(AttributeType::String)), &format!("The sink defaults: the event types an audit sink created without its own `event_types` forwards, 1 to {MAX_EVENT_TYPES} patterns (`*`, a family such as `auth.*`, or an exact type such as `api_key.revoked`), each matching an event type the server records. Left out: `[\"*\"]`, every event. A sink keeps the filter it was created with; a new default applies to sinks created afterwards."))),
                ("id", computed(string(), "The workspace id (`ws_…`) of the provider's credential; import by it.")),
                ("pruned_through_seq", computed(AttributeType::Number, "The last pruned chain position (`seq`), 0 when nothing was pruned: the stored chain starts at the next one. Refreshed, never a change.")),
                ("pruned_through_hash", computed(string(), "The hash of the event at `pruned_through_seq` (64 zeros when nothing was pruned): the first stored event's `prev_hash`, from which the rest verifies. Refreshed, never a change.")),
                ("head_seq", computed(AttributeType::Number, "The chain's head: the position of the newest event. Refreshed, never a change.")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &AuditSettingsState) {
        validate_retention(diags, &config.retention_days);
        validate::event_types(diags, &config.default_event_types, "default_event_types");
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: AuditSettingsState,
    ) -> Option<AuditSettingsState> {
        let client = self.client.get(diags)?;
        let id = known(&state.id)?.to_owned();
        check_same_workspace(&client, diags, &id).await?;
        let api: AuditSettings = client
            .get(PATH)
            .await
            .or_report(diags, "read the audit settings")?;
        Some(audit_settings_state(api, id))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: AuditSettingsState,
    ) -> Option<AuditSettingsState> {
        let client = self.client.get(diags)?;
        let workspace = credential_workspace(&client, diags).await?;
        let api = put_settings(&client, diags, &planned, "set the audit settings").await?;
        Some(audit_settings_state(api, workspace))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: AuditSettingsState,
        planned: AuditSettingsState,
    ) -> Option<AuditSettingsState> {
        let client = self.client.get(diags)?;
        let id = known(&prior.id)?.to_owned();
        check_same_workspace(&client, diags, &id).await?;
        let api = put_settings(&client, diags, &planned, "update the audit settings").await?;
        Some(audit_settings_state(api, id))
    }

    /// Puts the defaults back: recording is always on, there is nothing to delete.
    async fn destroy(&self, diags: &mut Diagnostics, prior: AuditSettingsState) -> Option<()> {
        let client = self.client.get(diags)?;
        check_same_workspace(&client, diags, known(&prior.id)?).await?;
        client
            .delete(PATH)
            .await
            .or_report(diags, "restore the default audit settings")?;
        Some(())
    }

    /// By the workspace id (`ws_…`) of the provider's credential.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<AuditSettingsState> {
        if let Err(detail) = ObjectId::parse(IdKind::Workspace, &id) {
            diags.add(
                "Invalid import id",
                format!(
                    "{detail} Audit settings are imported by the id of the provider credential's \
                     workspace (`GET /v1/auth/verify` shows it as `workspace_id`)."
                ),
                AttributePath::root(),
            );
            return None;
        }
        let client = self.client.get(diags)?;
        let current = credential_workspace(&client, diags).await?;
        if current != id {
            diags.add(
                "Cannot import the audit settings of another workspace",
                format!(
                    "The provider's credential belongs to workspace `{current}`, not `{id}`: \
                     audit settings are managed with a credential of their own workspace."
                ),
                AttributePath::root(),
            );
            return None;
        }
        let api: AuditSettings = client
            .get(PATH)
            .await
            .or_report(diags, "import the audit settings")?;
        Some(audit_settings_state(api, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan_create, plan_update};

    fn answer(retention_days: i64, is_default: bool) -> AuditSettings {
        AuditSettings {
            workspace_id: "ws_1".to_owned(),
            retention_days,
            default_event_types: vec!["*".to_owned()],
            is_default,
            pruned_through_seq: 0,
            pruned_through_hash: "0".repeat(64),
            head_seq: 12,
            sinks: Vec::new(),
        }
    }

    fn errors(days: Value<i64>) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_retention(diags, &days))
    }

    #[test]
    fn retention_is_checked_with_the_shared_bounds_on_its_attribute() {
        for days in [
            MIN_RETENTION_DAYS,
            DEFAULT_RETENTION_DAYS,
            MAX_RETENTION_DAYS,
        ] {
            assert!(errors(Value::Value(days)).is_empty(), "{days}");
        }
        for days in [MIN_RETENTION_DAYS - 1, MAX_RETENTION_DAYS + 1, 0, -30] {
            let refused = errors(Value::Value(days));
            assert_eq!(refused.len(), 1, "{days}");
            assert_eq!(refused[0].1, AttributePath::new("retention_days"));
        }
        assert!(errors(Value::Unknown).is_empty());
    }

    #[test]
    fn a_default_retention_reads_as_unset_so_a_configured_one_shows_as_a_change_back() {
        let set = audit_settings_state(answer(365, false), "ws_1".into());
        assert_eq!(set.retention_days, Value::Value(365));
        assert_eq!(set.id, Value::Value("ws_1".into()));
        let reset = audit_settings_state(answer(365, true), "ws_1".into());
        assert_eq!(reset.retention_days, Value::Null);
        let mut proposed = reset.clone();
        proposed.retention_days = Value::Value(365);
        let (planned, replace) = plan_update(&reset, proposed);
        assert_ne!(planned, reset);
        assert!(replace.is_empty());
    }

    #[test]
    fn the_moving_chain_positions_never_make_a_diff_but_an_update_recomputes_them() {
        let stored = audit_settings_state(answer(90, false), "ws_1".into());
        let (unchanged, _) = plan_update(&stored, stored.clone());
        assert_eq!(unchanged, stored);

        let mut proposed = stored.clone();
        proposed.retention_days = Value::Value(400);
        let (planned, _) = plan_update(&stored, proposed);
        assert!(planned.head_seq.is_unknown() && planned.pruned_through_seq.is_unknown());
        assert!(planned.pruned_through_hash.is_unknown());
        assert_eq!(planned.id, stored.id);

        let created = plan_create(AuditSettingsState {
            retention_days: Value::Value(90),
            ..Default::default()
        });
        assert!(created.id.is_unknown() && created.head_seq.is_unknown());
    }
}
