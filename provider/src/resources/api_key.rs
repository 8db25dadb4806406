//! `statuspulse_api_key`: a scoped API key, rotated by replacement.
//!
//! GitOps rotation rests on three rules (docs/CONTRACT.md, issue 3):
//! - the secret is returned only by create, so `key` lives in state from creation on and is null
//!   after import;
//! - a key that is due for rotation, revoked, expired, or rotating outside Terraform is replaced
//!   at the next plan (a 404 means it is gone and Terraform recreates it);
//! - destroy revokes, so with `create_before_destroy` the successor exists before the old key is
//!   refused;
//! - with a `secret_store` block (issue 13) the key goes to the store instead of the state, and a
//!   key the store did not take is revoked at once (`secret_store.rs` has that block's rules).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics};

use crate::client::ApiError;
use crate::diag::{field_path, DiagnosticsExt, OrReport};
use statuspulse_api::validate::{DEFAULT_ROTATION_DAYS, MAX_LIFETIME_DAYS};

use crate::model::{
    ApiKeyView, CreateApiKey, CreatedApiKey, IdKind, PlainKey, RevokeApiKey, UpdateApiKey,
};
use crate::plan::{KnownAfterApply, PlanRules, Replacement};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::resources::secret_store::{self, SecretStoreBlock, Store};
use crate::schema::{
    computed, map_of_strings, optional, optional_computed, required, schema, sensitive,
    set_of_strings, string,
};
use crate::state::{known, set_from_api, set_to_vec, StringSet};
use crate::validate;

/// The state of one API key, attribute for attribute with the schema.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub environment: Value<String>,
    pub service_account_id: Value<String>,
    pub scopes: Value<StringSet>,
    pub check_group_ids: Value<StringSet>,
    pub alert_route_ids: Value<StringSet>,
    pub environment_clusters: Value<StringSet>,
    pub rotation_days: Value<i64>,
    pub expires_in_days: Value<i64>,
    pub keepers: Value<BTreeMap<String, Value<String>>>,
    pub revoke_grace_period_hours: Value<i64>,
    pub key: Value<String>,
    pub key_id: Value<String>,
    pub status: Value<String>,
    pub created_at: Value<String>,
    pub expires_at: Value<String>,
    pub rotate_after: Value<String>,
    pub rotation_due: Value<bool>,
    #[serde(with = "value::serde_as_vec")]
    pub secret_store: Value<SecretStoreBlock>,
}

pub struct ApiKeyResource {
    client: ClientSlot,
}

impl ApiKeyResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }

    /// Plan time asks the server whether it would create this key (`POST /v1/api-keys/check`,
    /// which applies every rule of the create and changes nothing), so what only the server
    /// knows fails the plan rather than the apply: the provider credential's authority on every
    /// dimension, the `admin:all` policy for service accounts, a cluster of the other
    /// environment (docs/CONTRACT.md: "a `sp_test_` key bound to a live cluster"), an unknown
    /// service account. Two refusals can be cured by the same apply (a cluster, a role binding
    /// created beside the key, in dependency order), so they are warnings: a cluster that does
    /// not exist yet, and scopes or clusters beyond the service account's bindings. Skipped
    /// while a value it needs is unknown; the create itself checks again.
    async fn check_with_server(&self, diags: &mut Diagnostics, planned: &ApiKeyState) {
        let Some(body) = create_body(planned) else {
            return;
        };
        let mut lookups = Diagnostics::default();
        let Some(client) = self.client.get(&mut lookups) else {
            return;
        };
        let Err(ApiError::Problem {
            status,
            code,
            detail,
            field,
            ..
        }) = client.check("/v1/api-keys/check", &body).await
        else {
            // Accepted, or no answer to judge by (an older server, the network): the apply
            // will tell.
            return;
        };
        if !(403..500).contains(&status) || status == 404 || status == 405 || status == 429 {
            return;
        }
        let at = field
            .as_deref()
            .filter(|f| !f.is_empty())
            .map_or_else(AttributePath::root, crate::diag::field_path);
        let detail = detail.unwrap_or_default();
        let apply_may_cure = matches!(
            code.as_str(),
            "unknown_cluster" | "scopes_exceed_bindings" | "cluster_not_in_bindings"
        );
        if apply_may_cure {
            diags.warn(
                "StatusPulse would refuse this key now",
                format!(
                    "{detail} (code `{code}`).\n\nIf this configuration creates what is missing \
                     (an environment cluster, a role binding), make the key depend on it \
                     (`depends_on`) and this apply will succeed; otherwise the create will fail."
                ),
                at,
            );
        } else {
            let summary = match code.as_str() {
                "cluster_environment_mismatch" => "Environment cluster in another environment",
                "admin_all_forbidden" => "admin:all is not granted to service accounts",
                _ if status == 403 => "The provider's credential cannot grant this key",
                _ => "StatusPulse would refuse this key",
            };
            diags.add(
                summary,
                format!("{detail}\n\nStatusPulse's check answered HTTP {status} with code `{code}`; nothing was created."),
                at,
            );
        }
    }
}

/// The create request for a planned key; `None` while a value the server judges is unknown. At
/// plan time a service account created in the same apply has no id yet: it is left out, which
/// still judges the rest, since a service account's key may hold no more than a workspace key
/// the same credential could create.
fn create_body(planned: &ApiKeyState) -> Option<CreateApiKey> {
    let all_known = |set: &Value<StringSet>| match set {
        Value::Value(items) => items.iter().all(Value::is_value),
        Value::Null => true,
        Value::Unknown => false,
    };
    let known_sets = [
        &planned.scopes,
        &planned.check_group_ids,
        &planned.alert_route_ids,
        &planned.environment_clusters,
    ]
    .into_iter()
    .all(all_known);
    if !known_sets {
        return None;
    }
    Some(CreateApiKey {
        name: known(&planned.name)?.to_owned(),
        environment: known(&planned.environment)?.to_owned(),
        service_account_id: known(&planned.service_account_id).map(str::to_owned),
        scopes: set_to_vec(&planned.scopes),
        check_group_ids: set_to_vec(&planned.check_group_ids),
        alert_route_ids: set_to_vec(&planned.alert_route_ids),
        environment_clusters: set_to_vec(&planned.environment_clusters),
        rotation_days: Some(
            planned
                .rotation_days
                .as_option()
                .unwrap_or(DEFAULT_ROTATION_DAYS),
        ),
        expires_in_days: planned.expires_in_days.as_option(),
    })
}

/// Documentation of the server-assigned attributes, shared with the `statuspulse_api_key` data
/// source so both pages say the same thing.
pub fn api_key_doc(attribute: &str) -> &'static str {
    match attribute {
        "id" => "Id of the API key (`key_…`); also the import id.",
        "key_id" => "Public key id embedded in the secret; shown in listings and the audit trail.",
        "status" => "`active`, `rotating` (a successor exists, grace period running), `expired` or `revoked`.",
        "created_at" => "Creation time (RFC 3339).",
        "expires_at" => "Hard expiry (RFC 3339), at most 365 days after creation.",
        "rotate_after" => "Time after which the key is due for rotation (RFC 3339): `created_at` + `rotation_days`.",
        "rotation_due" => "True once `rotate_after` has passed. The key still works, but the next plan replaces it.",
        _ => "",
    }
}

/// Plan-time checks on everything that is known; unknown values are checked at the next call.
fn validate_config(diags: &mut Diagnostics, config: &ApiKeyState) {
    validate::key_request(
        diags,
        &validate::KeyRequest {
            name: &config.name,
            environment: &config.environment,
            service_account_id: &config.service_account_id,
            scopes: &config.scopes,
            environment_clusters: &config.environment_clusters,
            check_group_ids: &config.check_group_ids,
            alert_route_ids: &config.alert_route_ids,
        },
    );
    validate::rotation_days(diags, &config.rotation_days);
    validate::expires_in_days(diags, &config.expires_in_days);
    validate::revoke_grace_period_hours(diags, &config.revoke_grace_period_hours);
    secret_store::validate(diags, &config.secret_store);
}

/// Hours a replaced key keeps working by default: a day for consumers to pick up its successor.
const DEFAULT_REPLACEMENT_GRACE_HOURS: i64 = 24;

/// The newest active key of the same name, service account and environment created after
/// `prior` (ids are time-ordered): the key replacing it, if this destroy is a replacement.
async fn replacement_of(
    client: &crate::client::ApiClient,
    prior: &ApiKeyState,
) -> Result<Option<String>, crate::client::ApiError> {
    let (Some(id), Some(name), Some(environment)) = (
        known(&prior.id),
        known(&prior.name),
        known(&prior.environment),
    ) else {
        return Ok(None);
    };
    let service_account = known(&prior.service_account_id);
    let collection = match service_account {
        Some(sa) => format!("/v1/api-keys?status=active&service_account_id={sa}"),
        None => "/v1/api-keys?status=active".to_owned(),
    };
    let mut newest: Option<String> = None;
    client
        .visit_pages(&collection, |key: ApiKeyView| {
            if key.id.as_str() > id
                && key.name == name
                && key.environment == environment
                && key.service_account_id.as_deref() == service_account
            {
                newest = Some(key.id);
            }
            false
        })
        .await?;
    Ok(newest)
}

/// Revokes as `body` says; a key already purged needs nothing more (revocation is idempotent).
async fn revoke(
    client: &crate::client::ApiClient,
    diags: &mut Diagnostics,
    body: &RevokeApiKey,
) -> Option<()> {
    match client
        .post::<_, serde_json::Value>("/v1/api-keys/revoke", body)
        .await
    {
        Ok(_) => Some(()),
        Err(err) if err.is_not_found() => Some(()),
        Err(err) => {
            diags.api_error("revoke the API key", &err);
            None
        }
    }
}

/// A key its secret store did not take is revoked at once (grace 0), so that no live key exists
/// that nothing holds; then the store's error is reported, saying what became of the key.
async fn revoke_unstored(
    client: &crate::client::ApiClient,
    diags: &mut Diagnostics,
    id: &str,
    error: &statuspulse_aws::Error,
) {
    let body = RevokeApiKey {
        id: id.to_owned(),
        reason: Some("its secret store did not take it (revoked by Terraform)".to_owned()),
        grace_period_hours: Some(0),
        successor_id: None,
    };
    let mut revoking = Diagnostics::default();
    let outcome = if revoke(client, &mut revoking, &body).await.is_some() {
        format!("The new key `{id}` was revoked, so no live key exists outside the store.")
    } else {
        let why = revoking
            .errors
            .iter()
            .map(|d| d.summary.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        format!(
            "The new key `{id}` could NOT be revoked ({why}) and is still active: revoke it \
             (POST /v1/api-keys/revoke) before applying again."
        )
    };
    diags.add(
        "Could not store the API key in AWS Secrets Manager",
        format!(
            "{}\n\n{outcome} Fix the cause and apply again: a new key will be created.",
            error.message
        ),
        field_path("secret_store.aws_secrets_manager"),
    );
}

/// Refresh of a key with a secret store: is its version still the secret's current one? Never an
/// error: a store that cannot be checked is a warning, and the plan goes on.
async fn check_store(diags: &mut Diagnostics, state: &mut ApiKeyState) {
    let Some(block) = secret_store::aws_mut(&mut state.secret_store) else {
        return;
    };
    let mut opening = Diagnostics::default();
    match Store::open(&mut opening, block) {
        Some(store) => store.check_current(diags, block).await,
        None => {
            for problem in opening.errors {
                diags.warn(
                    "Could not check the secret store",
                    format!(
                        "{}: {} Whether the secret still holds this key is unknown; the state \
                         is kept as it was.",
                        problem.summary,
                        problem.detail.replace(" No key was created.", "")
                    ),
                    problem.attribute,
                );
            }
        }
    }
}

/// The keys still in their grace period whose successor chain leads to `prior`: the
/// generations it replaced.
async fn predecessors_in_grace(
    client: &crate::client::ApiClient,
    prior: &ApiKeyState,
) -> Result<Vec<String>, crate::client::ApiError> {
    let Some(id) = known(&prior.id) else {
        return Ok(Vec::new());
    };
    let collection = match known(&prior.service_account_id) {
        Some(sa) => format!("/v1/api-keys?status=rotating&service_account_id={sa}"),
        None => "/v1/api-keys?status=rotating".to_owned(),
    };
    let mut rotating: Vec<(String, String)> = Vec::new();
    client
        .visit_pages(&collection, |key: ApiKeyView| {
            if let Some(successor) = key.successor_id {
                rotating.push((key.id, successor));
            }
            false
        })
        .await?;
    let mut chain = vec![id.to_owned()];
    let mut found = Vec::new();
    while let Some(next) = chain.pop() {
        for (key, successor) in &rotating {
            if *successor == next && !found.contains(key) {
                found.push(key.clone());
                chain.push(key.clone());
            }
        }
    }
    Ok(found)
}

/// Builds state from the server's answer, keeping what only Terraform knows (`key`, `keepers`)
/// and the null-versus-empty choice of the configuration.
fn state_from_api(api: ApiKeyView, shown: Option<PlainKey>, prior: &ApiKeyState) -> ApiKeyState {
    ApiKeyState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        environment: Value::Value(api.environment),
        service_account_id: api.service_account_id.into(),
        scopes: Value::Value(api.scopes.into_iter().map(Value::Value).collect()),
        check_group_ids: set_from_api(api.check_group_ids, &prior.check_group_ids),
        alert_route_ids: set_from_api(api.alert_route_ids, &prior.alert_route_ids),
        environment_clusters: set_from_api(api.environment_clusters, &prior.environment_clusters),
        rotation_days: Value::Value(api.rotation_days),
        // Servers before this field answer 0: keep what the configuration said.
        expires_in_days: if api.expires_in_days > 0 {
            Value::Value(api.expires_in_days)
        } else {
            prior.expires_in_days
        },
        keepers: match &prior.keepers {
            Value::Value(keepers) => Value::Value(keepers.clone()),
            _ => Value::Null,
        },
        // Terraform's own setting: after an import, the default.
        revoke_grace_period_hours: match prior.revoke_grace_period_hours {
            Value::Value(hours) => Value::Value(hours),
            _ => Value::Value(DEFAULT_REPLACEMENT_GRACE_HOURS),
        },
        // With a secret store the key is never written to state, whatever happens.
        key: match (shown, prior.secret_store.is_null()) {
            (_, false) => Value::Null,
            (Some(secret), true) => Value::Value(secret.expose().to_owned()),
            (None, true) => match &prior.key {
                Value::Value(secret) => Value::Value(secret.clone()),
                _ => Value::Null,
            },
        },
        key_id: Value::Value(api.key_id),
        status: Value::Value(api.status.as_str().to_owned()),
        created_at: Value::Value(api.created_at),
        expires_at: Value::Value(api.expires_at),
        rotate_after: Value::Value(api.rotate_after),
        rotation_due: Value::Value(api.rotation_due),
        // Only Terraform knows it: after an import, none.
        secret_store: prior.secret_store.clone(),
    }
}

impl PlanRules for ApiKeyState {
    /// The server has no PATCH for these, so a change forces a new key.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &[
        "environment",
        "service_account_id",
        "rotation_days",
        "expires_in_days",
        "keepers",
        "secret_store",
    ];

    /// With a secret store, `key` is not among them: it stays null, in the plan too.
    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        let stored = !self.secret_store.is_null();
        let mut assigned: Vec<&mut dyn KnownAfterApply> = vec![
            &mut self.id,
            &mut self.key_id,
            &mut self.status,
            &mut self.created_at,
            &mut self.expires_at,
            &mut self.rotate_after,
            &mut self.rotation_due,
        ];
        if !stored {
            assigned.push(&mut self.key);
        }
        if let Some(aws) = secret_store::aws_mut(&mut self.secret_store) {
            assigned.push(&mut aws.version_id);
            assigned.push(&mut aws.arn);
        }
        assigned
    }

    fn fill_defaults(&mut self) {
        if self.rotation_days.is_null() {
            self.rotation_days = Value::Value(DEFAULT_ROTATION_DAYS);
        }
        if self.expires_in_days.is_null() {
            self.expires_in_days = Value::Value(MAX_LIFETIME_DAYS);
        }
        if self.revoke_grace_period_hours.is_null() {
            self.revoke_grace_period_hours = Value::Value(DEFAULT_REPLACEMENT_GRACE_HOURS);
        }
    }

    /// Rotation and out-of-band revocation are not configuration changes: the key itself is no
    /// longer one Terraform should keep.
    fn force_replacement(&self, planned: &mut Self, replace: &mut Replacement) {
        if self.rotation_due == Value::Value(true) {
            replace.force("rotation_due", &mut planned.rotation_due);
        }
        if matches!(&self.status, Value::Value(status) if status != "active") {
            replace.force("status", &mut planned.status);
        }
        // Refresh found the store no longer holding this key (secret_store.rs).
        let lost = secret_store::aws(&self.secret_store)
            .is_some_and(|aws| aws.version_id.is_null() && !self.id.is_null());
        if let (true, Some(aws)) = (lost, secret_store::aws_mut(&mut planned.secret_store)) {
            replace.force_at(secret_store::version_id_path(), &mut aws.version_id);
        }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::ApiKey,
    noun: "API key",
    collection: "/v1/api-keys",
};

#[async_trait]
impl ManagedResource for ApiKeyResource {
    type State = ApiKeyState;

    fn schema(&self) -> Schema {
        let mut schema = schema(
            "A scoped StatusPulse API key, bound to one environment and optionally to a service \
             account.\n\nRotation is replacement: when the key is due for rotation (`rotation_due`), \
             when `keepers` change, or when the key was revoked or deleted outside Terraform, the \
             next plan replaces it. Add `lifecycle { create_before_destroy = true }` so the new key \
             exists before the old one is retired: the old key then keeps working for \
             `revoke_grace_period_hours` (default 24) with the new one as its successor, so \
             rotation has no downtime. A plain destroy revokes the key at once (it stays readable \
             as `revoked` during a 30-day quarantine).\n\nThe secret (`key`) is known only to the \
             Terraform run that created the key; after `terraform import` it is null, because \
             StatusPulse never shows a secret twice.\n\nWith a `secret_store` block the secret never \
             enters Terraform at all: the provider writes the new key straight to AWS Secrets \
             Manager as the secret's new `AWSCURRENT` version, `key` stays null in plan and state, \
             and only the version id is kept. If the store refuses the key, the provider revokes \
             it at once and reports the error, so no live key exists outside the store. With \
             `create_before_destroy`, a replacement writes the new key to the secret before the \
             old key starts its grace period, so a consumer that reads the secret again within \
             `revoke_grace_period_hours` is never refused. Refresh checks that the secret's \
             current version is still this key's: if it was overwritten or deleted outside \
             Terraform, a warning says so and the plan replaces the key. A plain destroy revokes \
             the key and leaves the secret (holding the revoked key) alone: delete it with the \
             AWS provider if it should go too.",
            [
                ("name", required(string(), "Human-readable name of the key, e.g. the pipeline that uses it. Updated in place.")),
                ("environment", required(string(), "`live` (keys start with `sp_live_`) or `test` (`sp_test_`). Changing it replaces the key.")),
                ("service_account_id", optional(string(), "Id of the service account (`sa_…`) the key acts as. Without it the key belongs to the workspace. Changing it replaces the key.")),
                ("scopes", required(set_of_strings(), "Scopes granted to the key, from the catalog of the `statuspulse_scopes` data source (e.g. `read:checks`, `write:alerts`). Updated in place.")),
                ("check_group_ids", optional(set_of_strings(), "Restricts the key to these check groups. Updated in place.")),
                ("alert_route_ids", optional(set_of_strings(), "Restricts the key to these alert routes. Updated in place.")),
                ("environment_clusters", optional(set_of_strings(), "Confines the key to these environment clusters (names, e.g. `eu-prod-1`) of its environment; they must lie within the service account's role bindings. Updated in place.")),
                ("rotation_days", optional_computed(AttributeType::Number, "Days after creation at which the key is due for rotation (1 to 365, default 90). Changing it replaces the key.")),
                ("expires_in_days", optional_computed(AttributeType::Number, "Days after creation at which the key expires and stops working (1 to 365, default 365). Keep it above `rotation_days`, so that the key is replaced before it expires. Changing it replaces the key.")),
                ("keepers", optional(map_of_strings(), "Arbitrary values that, when changed, force a new key (like `random_id` keepers). Use it to rotate on demand.")),
                ("revoke_grace_period_hours", optional_computed(AttributeType::Number, "When this key is destroyed because it is being replaced (a newer active key of the same name, service account and environment exists: the replacement `create_before_destroy` made), it keeps working for this many hours (0 to 168, default 24) with status `rotating` and the new key recorded as its successor, so consumers that read the new key a little later are never refused. A plain destroy, with no replacement, revokes at once. Changing it changes nothing on the server.")),
                ("key", sensitive(computed(string(), "The secret API key. Known only in the state of the run that created it; null after import, and always null with a `secret_store` (the key is in the store instead)."))),
                ("id", computed(string(), api_key_doc("id"))),
                ("key_id", computed(string(), api_key_doc("key_id"))),
                ("status", computed(string(), api_key_doc("status"))),
                ("created_at", computed(string(), api_key_doc("created_at"))),
                ("expires_at", computed(string(), api_key_doc("expires_at"))),
                ("rotate_after", computed(string(), api_key_doc("rotate_after"))),
                ("rotation_due", computed(AttributeType::Bool, api_key_doc("rotation_due"))),
            ],
        );
        schema
            .block
            .blocks
            .insert("secret_store".to_owned(), secret_store::block());
        schema
    }

    fn validate(diags: &mut Diagnostics, config: &ApiKeyState) {
        validate_config(diags, config);
    }

    async fn check_plan(
        &self,
        diags: &mut Diagnostics,
        prior: Option<&ApiKeyState>,
        planned: &ApiKeyState,
    ) {
        // A new key, or a change of what it may do; never on a plan that changes nothing, so a
        // refresh of thousands of keys costs no check.
        let judged = |s: &ApiKeyState| {
            (
                s.scopes.clone(),
                s.environment_clusters.clone(),
                s.check_group_ids.clone(),
                s.alert_route_ids.clone(),
            )
        };
        if prior.is_none_or(|prior| judged(prior) != judged(planned)) {
            self.check_with_server(diags, planned).await;
        }
    }

    async fn read(&self, diags: &mut Diagnostics, state: ApiKeyState) -> Option<ApiKeyState> {
        let client = self.client.get(diags)?;
        let api: ApiKeyView = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        let mut refreshed = state_from_api(api, None, &state);
        check_store(diags, &mut refreshed).await;
        Some(refreshed)
    }

    async fn create(&self, diags: &mut Diagnostics, planned: ApiKeyState) -> Option<ApiKeyState> {
        let client = self.client.get(diags)?;
        // Resolved first: a store that cannot be used must not cost a key.
        let store = match secret_store::aws(&planned.secret_store) {
            Some(block) => Some(Store::open(diags, block)?),
            None => None,
        };
        // At apply every value is known.
        let body = create_body(&planned)?;
        let created = client
            .create::<_, CreatedApiKey>(TARGET.collection, &body)
            .await
            .or_report(diags, "create the API key")?;
        let Some(store) = store else {
            return Some(state_from_api(created.api_key, Some(created.key), &planned));
        };
        let id = created.api_key.id.clone();
        let written = match store.write(&created.key, &id, &body.name).await {
            Ok(written) => written,
            Err(e) => {
                revoke_unstored(&client, diags, &id, &e).await;
                return None;
            }
        };
        let mut state = state_from_api(created.api_key, None, &planned);
        if let Some(aws) = secret_store::aws_mut(&mut state.secret_store) {
            aws.version_id = Value::Value(written.version_id);
            aws.arn = Value::Value(written.arn);
        }
        Some(state)
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: ApiKeyState,
        planned: ApiKeyState,
    ) -> Option<ApiKeyState> {
        let client = self.client.get(diags)?;
        let body = UpdateApiKey {
            name: Some(known(&planned.name).unwrap_or_default().to_owned()),
            scopes: Some(set_to_vec(&planned.scopes)),
            check_group_ids: Some(set_to_vec(&planned.check_group_ids)),
            alert_route_ids: Some(set_to_vec(&planned.alert_route_ids)),
            environment_clusters: Some(set_to_vec(&planned.environment_clusters)),
        };
        let api = client
            .patch::<_, ApiKeyView>(&TARGET.path(known(&prior.id)?), &body)
            .await
            .or_report(diags, "update the API key")?;
        // The secret is not in the answer; keep the one the state already holds.
        let keep = ApiKeyState {
            key: prior.key,
            ..planned
        };
        Some(state_from_api(api, None, &keep))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: ApiKeyState) -> Option<()> {
        let client = self.client.get(diags)?;
        let id = known(&prior.id)?.to_owned();
        // Terraform does not say whether a destroy is half of a replacement; the replacement
        // `create_before_destroy` made is there already: a newer usable key like this one.
        let successor = match replacement_of(&client, &prior).await {
            Ok(found) => found,
            Err(err) => {
                diags.api_error("look for the key replacing this one", &err);
                return None;
            }
        };
        let body = match &successor {
            Some(successor_id) => RevokeApiKey {
                id,
                reason: Some("replaced by Terraform".to_owned()),
                grace_period_hours: match prior.revoke_grace_period_hours {
                    Value::Value(hours) => Some(hours),
                    _ => Some(DEFAULT_REPLACEMENT_GRACE_HOURS),
                },
                successor_id: Some(successor_id.clone()),
            },
            None => RevokeApiKey {
                id,
                reason: Some("revoked by Terraform (destroyed)".to_owned()),
                grace_period_hours: None,
                successor_id: None,
            },
        };
        let plain_destroy = successor.is_none();
        revoke(&client, diags, &body).await?;
        if plain_destroy {
            // The keys this one replaced may still be in their grace period: destroying the
            // resource ends every generation of it, so nothing it made keeps working (and its
            // service account can be deleted next).
            let predecessors = match predecessors_in_grace(&client, &prior).await {
                Ok(found) => found,
                Err(err) => {
                    diags.api_error("look for the keys this one replaced", &err);
                    return None;
                }
            };
            for id in predecessors {
                let body = RevokeApiKey {
                    id,
                    reason: Some("revoked by Terraform (its successor was destroyed)".to_owned()),
                    grace_period_hours: None,
                    successor_id: None,
                };
                revoke(&client, diags, &body).await?;
            }
        }
        Some(())
    }

    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<ApiKeyState> {
        let client = self.client.get(diags)?;
        let api: ApiKeyView = import_by_id(&client, diags, &TARGET, &id).await?;
        // The secret is never readable again, so `key` stays null after import.
        Some(state_from_api(api, None, &ApiKeyState::default()))
    }
}

#[cfg(test)]
mod tests {
    use tf_provider::value::ValueEmpty;
    use tf_provider::Resource;

    use super::*;
    use crate::resources::managed::Managed;

    fn config() -> ApiKeyState {
        ApiKeyState {
            name: Value::Value("ci".into()),
            environment: Value::Value("test".into()),
            scopes: Value::Value([Value::Value("read:checks".to_owned())].into()),
            ..Default::default()
        }
    }

    fn errors_at(config: &ApiKeyState) -> Vec<String> {
        let mut diags = Diagnostics::default();
        validate_config(&mut diags, config);
        diags
            .errors
            .iter()
            .map(|d| d.attribute.to_string())
            .collect()
    }

    #[test]
    fn a_valid_config_has_no_diagnostics() {
        assert!(errors_at(&config()).is_empty());
    }

    #[test]
    fn each_invalid_attribute_gets_its_own_diagnostic() {
        let mut bad = config();
        bad.environment = Value::Value("prod".into());
        bad.rotation_days = Value::Value(400);
        bad.expires_in_days = Value::Value(0);
        bad.service_account_id = Value::Value("key_123".into());
        bad.scopes = Value::Value([Value::Value("read:everything".to_owned())].into());
        let mut at = errors_at(&bad);
        at.sort();
        assert_eq!(
            at,
            [
                "environment",
                "expires_in_days",
                "rotation_days",
                "scopes",
                "service_account_id"
            ]
        );
    }

    #[test]
    fn unknown_values_are_not_judged_yet() {
        let mut later = config();
        later.environment = Value::Unknown;
        later.scopes = Value::Unknown;
        later.rotation_days = Value::Unknown;
        assert!(errors_at(&later).is_empty());
    }

    /// Plans an update whose configuration is unchanged, through the adapter Terraform calls.
    async fn plan_unchanged(prior: ApiKeyState) -> (ApiKeyState, Vec<AttributePath>) {
        let resource = Managed(ApiKeyResource::new(ClientSlot::default()));
        let mut diags = Diagnostics::default();
        let (planned, _, replace) = resource
            .plan_update(
                &mut diags,
                prior.clone(),
                prior,
                config(),
                ValueEmpty::Null,
                ValueEmpty::Null,
            )
            .await
            .unwrap();
        (planned, replace)
    }

    #[tokio::test]
    async fn a_key_due_for_rotation_is_planned_for_replacement() {
        let mut prior = config();
        prior.rotation_days = Value::Value(90);
        prior.status = Value::Value("active".into());
        prior.rotation_due = Value::Value(true);
        let (planned, replace) = plan_unchanged(prior).await;
        assert!(planned.rotation_due.is_unknown());
        assert!(replace.contains(&AttributePath::new("rotation_due")));
    }

    fn with_store(mut key: ApiKeyState, version_id: Value<String>) -> ApiKeyState {
        key.secret_store = Value::Value(SecretStoreBlock {
            aws_secrets_manager: Value::Value(secret_store::AwsSecretsManagerBlock {
                secret_id: Value::Value("ci/key".into()),
                version_id,
                ..Default::default()
            }),
        });
        key
    }

    #[test]
    fn with_a_secret_store_the_key_is_planned_null_and_the_version_unknown() {
        let planned = crate::plan::plan_create(with_store(config(), Value::Null));
        assert!(planned.key.is_null(), "{:?}", planned.key);
        assert!(planned.id.is_unknown());
        let aws = secret_store::aws(&planned.secret_store).unwrap();
        assert!(aws.version_id.is_unknown() && aws.arn.is_unknown());
        // Without one, the key is known after apply as before.
        assert!(crate::plan::plan_create(config()).key.is_unknown());
    }

    #[test]
    fn the_key_never_reaches_state_when_a_store_is_configured() {
        let api: ApiKeyView = serde_json::from_value(serde_json::json!({
            "id": "key_0190f3a1b2c3d4e5f60718293a4b5c6d", "workspace_id": "ws_1", "name": "ci", "environment": "test",
            "scopes": ["read:checks"], "key_id": "k", "status": "active",
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-12-01T00:00:00Z",
            "rotate_after": "2026-04-01T00:00:00Z", "rotation_due": false, "rotation_days": 90
        }))
        .unwrap();
        let shown = PlainKey::new("sp_test_secret".into());
        let state = state_from_api(api, Some(shown), &with_store(config(), Value::Null));
        assert!(state.key.is_null());
    }

    #[tokio::test]
    async fn a_key_its_store_no_longer_holds_is_planned_for_replacement() {
        let mut prior = with_store(config(), Value::Null);
        prior.id = Value::Value("key_1".into());
        prior.status = Value::Value("active".into());
        prior.rotation_due = Value::Value(false);
        let resource = Managed(ApiKeyResource::new(ClientSlot::default()));
        let mut diags = Diagnostics::default();
        let (planned, _, replace) = resource
            .plan_update(
                &mut diags,
                prior.clone(),
                prior,
                with_store(config(), Value::Null),
                ValueEmpty::Null,
                ValueEmpty::Null,
            )
            .await
            .unwrap();
        assert!(replace.contains(&secret_store::version_id_path()));
        let aws = secret_store::aws(&planned.secret_store).unwrap();
        assert!(aws.version_id.is_unknown());
    }

    #[tokio::test]
    async fn a_revoked_key_is_planned_for_replacement() {
        let mut prior = config();
        prior.status = Value::Value("revoked".into());
        prior.rotation_due = Value::Value(false);
        let (planned, replace) = plan_unchanged(prior).await;
        assert!(planned.status.is_unknown());
        assert!(replace.contains(&AttributePath::new("status")));
    }
}
