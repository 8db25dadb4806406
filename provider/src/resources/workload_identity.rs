//! `statuspulse_workload_identity`: a trust policy through which a workload (a CI job, a
//! Kubernetes pod) exchanges the OIDC token its platform issues for a short-lived StatusPulse
//! access token acting as a service account (`/v1/workload-identities`).
//!
//! The issuer and the service account are the identity of the policy (the server has no way to
//! change them: another issuer or account is another trust policy), so a change replaces it;
//! everything else updates in place and applies to the next exchange.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::workload_identities::{
    DEFAULT_TOKEN_LIFETIME_SECONDS, MAX_CONDITIONS, MAX_TOKEN_LIFETIME_SECONDS,
    MIN_TOKEN_LIFETIME_SECONDS,
};
use statuspulse_api::validate::{self as rules, SHARED_ISSUERS};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{CreateWorkloadIdentity, IdKind, UpdateWorkloadIdentity, WorkloadIdentity};
use crate::plan::{KnownAfterApply, PlanRules};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{
    computed, map_of_strings, optional_computed, required, schema, set_of_strings, string,
};
use crate::state::{known, set_to_vec, StringSet};
use crate::validate;

/// A Terraform `map(string)`; values may individually be unknown during plan.
pub type StringMap = BTreeMap<String, Value<String>>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadIdentityState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub issuer: Value<String>,
    pub audience: Value<String>,
    pub conditions: Value<StringMap>,
    pub service_account_id: Value<String>,
    pub scopes: Value<StringSet>,
    pub token_lifetime_seconds: Value<i64>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct WorkloadIdentityResource {
    client: ClientSlot,
}

impl WorkloadIdentityResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::WorkloadIdentity,
    noun: "workload identity",
    collection: "/v1/workload-identities",
};

/// The state for an answer: every attribute is the server's.
pub fn workload_identity_state(api: WorkloadIdentity) -> WorkloadIdentityState {
    WorkloadIdentityState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        issuer: Value::Value(api.issuer),
        audience: Value::Value(api.audience),
        conditions: Value::Value(
            api.conditions
                .into_iter()
                .map(|(claim, pattern)| (claim, Value::Value(pattern)))
                .collect(),
        ),
        service_account_id: Value::Value(api.service_account_id),
        scopes: Value::Value(api.scopes.into_iter().map(Value::Value).collect()),
        token_lifetime_seconds: Value::Value(api.token_lifetime_seconds),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

/// The known entries of a map attribute (unknown ones only exist at plan time).
fn map_to_btree(value: &Value<StringMap>) -> BTreeMap<String, String> {
    value
        .as_ref_option()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn create_body(state: &WorkloadIdentityState) -> CreateWorkloadIdentity {
    CreateWorkloadIdentity {
        name: known(&state.name).unwrap_or_default().to_owned(),
        issuer: known(&state.issuer).unwrap_or_default().to_owned(),
        audience: known(&state.audience).unwrap_or_default().to_owned(),
        conditions: map_to_btree(&state.conditions),
        service_account_id: known(&state.service_account_id)
            .unwrap_or_default()
            .to_owned(),
        scopes: set_to_vec(&state.scopes),
        token_lifetime_seconds: state
            .token_lifetime_seconds
            .as_ref_option()
            .copied()
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECONDS),
    }
}

/// Every updatable attribute: the configuration is the whole truth.
fn update_body(state: &WorkloadIdentityState) -> UpdateWorkloadIdentity {
    let body = create_body(state);
    UpdateWorkloadIdentity {
        name: Some(body.name),
        audience: Some(body.audience),
        conditions: Some(body.conditions),
        scopes: Some(body.scopes),
        token_lifetime_seconds: Some(body.token_lifetime_seconds),
    }
}

impl PlanRules for WorkloadIdentityState {
    // The server keeps both for the life of the policy (UpdateWorkloadIdentity has neither).
    const REPLACE_ON_CHANGE: &'static [&'static str] = &["issuer", "service_account_id"];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        vec![&mut self.id, &mut self.workspace_id, &mut self.created_at]
    }

    fn fill_defaults(&mut self) {
        if self.token_lifetime_seconds.is_null() {
            self.token_lifetime_seconds = Value::Value(DEFAULT_TOKEN_LIFETIME_SECONDS);
        }
    }
}

pub const RESOURCE_DOC: &str = "A workload identity trust policy (`/v1/workload-identities`; the \
    provider's credential needs `admin:access`): a workload, such as a CI job or a Kubernetes \
    pod, exchanges the OIDC token its platform issues for a short-lived StatusPulse access token \
    acting as `service_account_id`, so that it holds no long-lived API key.\n\n\
    The exchange is RFC 8693 token exchange at `POST /oauth2/token` \
    (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, \
    `subject_token_type=urn:ietf:params:oauth:token-type:jwt`, `subject_token=<the workload's \
    JWT>`, optional `scope`, and `client_id=<id>` when several policies could match). The \
    server checks the token's signature against the issuer's published keys (OpenID discovery \
    at `<issuer>/.well-known/openid-configuration`), its expiry, its `aud` against `audience` \
    and every claim named in `conditions`; the access token it issues carries the requested \
    scopes ∩ `scopes` ∩ what the service account's role bindings grant, for \
    `token_lifetime_seconds`. The provider itself can authenticate this way: see the \
    provider's `oidc_token`, `oidc_token_file` and `workload_identity` settings and the \
    workload identity guide.\n\n\
    Import by id (`wi_…`) or by name (`name:<name>`).";

/// The claims a policy for each shared issuer must pin, for the docs.
fn shared_issuer_list() -> String {
    SHARED_ISSUERS
        .iter()
        .map(|(issuer, claims)| {
            format!(
                "`{issuer}`: one of {}",
                claims
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[async_trait]
impl ManagedResource for WorkloadIdentityResource {
    type State = WorkloadIdentityState;

    fn schema(&self) -> Schema {
        schema(
            RESOURCE_DOC,
            [
                ("name", required(string(), "Name of the trust policy, unique in the workspace. Updated in place.")),
                ("issuer", required(string(), "The issuer of the workload's tokens (their `iss`), an `https` URL without query, fragment or trailing slash, whose OpenID discovery document publishes the signing keys: `https://token.actions.githubusercontent.com` (GitHub Actions), `https://gitlab.com` (GitLab CI), or a Kubernetes cluster's service account issuer. Changing it replaces the trust policy.")),
                ("audience", required(string(), "The `aud` the workload's token must carry, such as `statuspulse` (GitHub Actions asks for it; GitLab CI sets it with `id_tokens: …: aud:`). Updated in place.")),
                ("conditions", required(map_of_strings(), &format!("Claim name → the value it must have, 1 to {MAX_CONDITIONS} entries, each an exact string or a glob where `*` matches any run of characters (`refs/heads/release-*`); a bare `*` is refused. Every condition must hold. For an issuer anyone can get tokens from, at least one condition must pin your own tenant without a leading `*` ({}). Updated in place.", shared_issuer_list()))),
                ("service_account_id", required(string(), "The service account (`sa_…`) the exchanged token acts as. Changing it replaces the trust policy.")),
                ("scopes", required(set_of_strings(), "Catalog scopes an exchanged token may carry, at least one and never `admin:all`; a token never has more than the service account's role bindings grant. Updated in place; tokens already exchanged keep theirs until they expire.")),
                ("token_lifetime_seconds", optional_computed(AttributeType::Number, &format!("Lifetime of an exchanged token, {MIN_TOKEN_LIFETIME_SECONDS} to {MAX_TOKEN_LIFETIME_SECONDS} seconds. Left out, a new trust policy gets {DEFAULT_TOKEN_LIFETIME_SECONDS} and an existing one keeps its lifetime. Updated in place; applies to the next exchange."))),
                ("id", computed(string(), "Id of the trust policy (`wi_…`), which an exchange names as `client_id` (the provider's `workload_identity`); import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) of the service account.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        )
    }

    fn validate(diags: &mut Diagnostics, config: &WorkloadIdentityState) {
        validate_config(diags, config);
    }

    async fn read(
        &self,
        diags: &mut Diagnostics,
        state: WorkloadIdentityState,
    ) -> Option<WorkloadIdentityState> {
        let client = self.client.get(diags)?;
        let api: WorkloadIdentity =
            read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(workload_identity_state(api))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: WorkloadIdentityState,
    ) -> Option<WorkloadIdentityState> {
        let client = self.client.get(diags)?;
        let created = client
            .create::<_, WorkloadIdentity>(TARGET.collection, &create_body(&planned))
            .await
            .or_report(diags, "create the workload identity")?;
        Some(workload_identity_state(created))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: WorkloadIdentityState,
        planned: WorkloadIdentityState,
    ) -> Option<WorkloadIdentityState> {
        let client = self.client.get(diags)?;
        let api = client
            .patch::<_, WorkloadIdentity>(&TARGET.path(known(&prior.id)?), &update_body(&planned))
            .await
            .or_report(diags, "update the workload identity")?;
        Some(workload_identity_state(api))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: WorkloadIdentityState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`wi_…`), or by name as `name:<name>`.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<WorkloadIdentityState> {
        let client = self.client.get(diags)?;
        let api: WorkloadIdentity = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(workload_identity_state(api))
    }
}

/// A trust policy the server accepts, into which one attribute at a time is put, so that each
/// is judged by the server's own rule (`rules::workload_identity`) and reported on itself.
fn probe() -> CreateWorkloadIdentity {
    CreateWorkloadIdentity {
        name: "plan".to_owned(),
        issuer: "https://issuer.example".to_owned(),
        audience: "statuspulse".to_owned(),
        conditions: BTreeMap::from([("sub".to_owned(), "plan".to_owned())]),
        service_account_id: "sa_plan".to_owned(),
        scopes: vec!["read:checks".to_owned()],
        token_lifetime_seconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
    }
}

/// Runs the rule on `body`; true when it passes, else reports the refusal on its attribute.
fn judge(diags: &mut Diagnostics, body: &CreateWorkloadIdentity) -> bool {
    match rules::workload_identity(body) {
        Ok(_) => true,
        Err(e) => {
            diags.add(
                format!("Invalid {}", e.field),
                e.detail,
                field_path(&e.field),
            );
            false
        }
    }
}

/// Whether a map and every value in it are known.
fn map_known(value: &Value<StringMap>) -> bool {
    matches!(value, Value::Value(map) if map.values().all(Value::is_value))
}

/// Whether a set and every element in it are known.
fn set_known(value: &Value<StringSet>) -> bool {
    matches!(value, Value::Value(set) if set.iter().all(Value::is_value))
}

/// The plan-time checks: each known attribute with the server's rule, then the pinning of a
/// shared issuer's tenant once the issuer and every condition are known and each is fine.
fn validate_config(diags: &mut Diagnostics, config: &WorkloadIdentityState) {
    validate::name(diags, &config.name, "name");
    let mut issuer_ok = false;
    if let Some(issuer) = known(&config.issuer) {
        issuer_ok = judge(
            diags,
            &CreateWorkloadIdentity {
                issuer: issuer.to_owned(),
                ..probe()
            },
        );
        // The server stores the issuer without it; the state would then differ from the plan.
        if issuer_ok && issuer.ends_with('/') {
            issuer_ok = false;
            diags.add(
                "Invalid issuer",
                format!(
                    "Remove the trailing slash: write `{}`, as the issuer's tokens spell their \
                     `iss`.",
                    issuer.trim_end_matches('/')
                ),
                AttributePath::new("issuer"),
            );
        }
    }
    if let Some(audience) = known(&config.audience) {
        judge(
            diags,
            &CreateWorkloadIdentity {
                audience: audience.to_owned(),
                ..probe()
            },
        );
    }
    let mut conditions_ok = false;
    if map_known(&config.conditions) {
        conditions_ok = judge(
            diags,
            &CreateWorkloadIdentity {
                conditions: map_to_btree(&config.conditions),
                ..probe()
            },
        );
    }
    validate::id(
        diags,
        IdKind::ServiceAccount,
        &config.service_account_id,
        "service_account_id",
    );
    if set_known(&config.scopes) {
        judge(
            diags,
            &CreateWorkloadIdentity {
                scopes: set_to_vec(&config.scopes),
                ..probe()
            },
        );
    }
    if let Value::Value(lifetime) = config.token_lifetime_seconds {
        judge(
            diags,
            &CreateWorkloadIdentity {
                token_lifetime_seconds: lifetime,
                ..probe()
            },
        );
    }
    if issuer_ok && conditions_ok {
        judge(
            diags,
            &CreateWorkloadIdentity {
                issuer: known(&config.issuer).unwrap_or_default().to_owned(),
                conditions: map_to_btree(&config.conditions),
                ..probe()
            },
        );
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

    fn map(items: &[(&str, &str)]) -> Value<StringMap> {
        Value::Value(
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::Value((*v).to_owned())))
                .collect(),
        )
    }

    fn github() -> WorkloadIdentityState {
        WorkloadIdentityState {
            name: Value::Value("infra deploys".into()),
            issuer: Value::Value("https://token.actions.githubusercontent.com".into()),
            audience: Value::Value("statuspulse".into()),
            conditions: map(&[("repository", "acme/infra"), ("ref", "refs/heads/main")]),
            service_account_id: Value::Value("sa_01J8Z3".into()),
            scopes: set(&["admin:keys", "admin:service_accounts"]),
            ..Default::default()
        }
    }

    fn errors(config: &WorkloadIdentityState) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_config(diags, config))
    }

    fn paths(config: &WorkloadIdentityState) -> Vec<AttributePath> {
        errors(config).into_iter().map(|(_, at)| at).collect()
    }

    #[test]
    fn a_github_policy_pinned_to_its_repository_passes() {
        assert!(errors(&github()).is_empty(), "{:?}", errors(&github()));
    }

    #[test]
    fn each_refusal_is_on_its_attribute() {
        let bad = WorkloadIdentityState {
            issuer: Value::Value("http://ci.example.com".into()),
            audience: Value::Value(" statuspulse".into()),
            conditions: map(&[("ref", "*")]),
            service_account_id: Value::Value("key_1".into()),
            scopes: set(&["admin:all"]),
            token_lifetime_seconds: Value::Value(30),
            ..github()
        };
        assert_eq!(
            paths(&bad),
            [
                AttributePath::new("issuer"),
                AttributePath::new("audience"),
                AttributePath::new("conditions"),
                AttributePath::new("service_account_id"),
                AttributePath::new("scopes"),
                AttributePath::new("token_lifetime_seconds"),
            ]
        );
    }

    #[test]
    fn a_shared_issuer_must_pin_the_tenant_once_issuer_and_conditions_are_known() {
        let unpinned = WorkloadIdentityState {
            conditions: map(&[("ref", "refs/heads/main")]),
            ..github()
        };
        let e = errors(&unpinned);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, AttributePath::new("conditions"));
        // The same conditions on a private issuer pin nothing shared.
        let private = WorkloadIdentityState {
            issuer: Value::Value("https://k8s.acme.example".into()),
            ..unpinned.clone()
        };
        assert!(errors(&private).is_empty());
        // Unknown values are judged later, when Terraform knows them.
        let pending = WorkloadIdentityState {
            issuer: Value::Unknown,
            ..unpinned.clone()
        };
        assert!(errors(&pending).is_empty());
        let pending_value = WorkloadIdentityState {
            conditions: Value::Value(StringMap::from([("ref".to_owned(), Value::Unknown)])),
            ..unpinned
        };
        assert!(errors(&pending_value).is_empty());
    }

    #[test]
    fn an_issuer_with_a_trailing_slash_is_refused_as_it_would_drift() {
        let slash = WorkloadIdentityState {
            issuer: Value::Value("https://gitlab.com/".into()),
            conditions: map(&[("project_path", "acme/infra")]),
            ..github()
        };
        let e = errors(&slash);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, AttributePath::new("issuer"));
    }

    #[test]
    fn the_lifetime_defaults_to_the_servers_and_is_sent() {
        let planned = crate::plan::plan_create(github());
        assert_eq!(
            planned.token_lifetime_seconds,
            Value::Value(DEFAULT_TOKEN_LIFETIME_SECONDS)
        );
        assert!(planned.id.is_unknown() && planned.created_at.is_unknown());
        let body = update_body(&planned);
        assert_eq!(body.token_lifetime_seconds, Some(900));
        assert_eq!(
            body.conditions.unwrap()["repository"],
            "acme/infra".to_owned()
        );
    }

    #[test]
    fn an_answer_becomes_the_whole_state() {
        let api: WorkloadIdentity = serde_json::from_value(serde_json::json!({
            "id": "wi_1", "workspace_id": "ws_1", "name": "ci",
            "issuer": "https://gitlab.com", "audience": "statuspulse",
            "conditions": {"project_path": "acme/infra", "ref_protected": "true"},
            "service_account_id": "sa_1", "scopes": ["read:checks"],
            "token_lifetime_seconds": 600, "created_at": "t", "updated_at": "u"
        }))
        .unwrap();
        let state = workload_identity_state(api);
        assert_eq!(
            state.conditions,
            map(&[("project_path", "acme/infra"), ("ref_protected", "true")])
        );
        assert_eq!(state.token_lifetime_seconds, Value::Value(600));
        assert_eq!(state.id, Value::Value("wi_1".into()));
    }
}
