//! `statuspulse_audit_sink`: forwarding of the workspace's audit chain to a SIEM, through a
//! signed webhook or CloudWatch Logs (`/v1/audit-sinks`).
//!
//! Three things make it unlike the other resources:
//! - The destination is one of two nested blocks. The server cannot change a sink's kind, so
//!   swapping `webhook` for `cloudwatch` replaces the sink; anything inside a block updates in
//!   place (the server's PATCH replaces the whole block, keeping a secret left out).
//! - The webhook secret may come from the server: left out, the create answer carries a
//!   generated one, shown only then, which the state keeps (sensitive) so it can be handed to
//!   the receiver. A configured secret that changes is sent again, which rotates it.
//! - The delivery state (`status`, `delivered_seq`, `lag`, …) moves on its own all the time. It is
//!   refreshed but never compared: a plan marks it unknown only when it updates the sink anyway
//!   ([`PlanRules::recomputed_by_update`]).
//!
//! The AWS secret access key has the two forms of the SSO client secret: `secret_access_key_wo`
//! (write-only, Terraform 1.11+) with its version, or `secret_access_key` (sensitive, in state).
//! The server never returns secrets, so a refresh keeps what the configuration said.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use statuspulse_api::v1::audit_sinks::{MAX_EVENT_TYPES, MAX_SINKS};
use statuspulse_api::validate as rules;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt, OrReport};
use crate::model::{
    AuditSink, CloudWatchSettingsInput, CreateAuditSink, CreatedAuditSink, IdKind, UpdateAuditSink,
    WebhookSettingsInput,
};
use crate::plan::{KnownAfterApply, PlanRules, Replacement};
use crate::provider::ClientSlot;
use crate::resources::crud::{import_by_id_or_name, read_or_gone, ImportTarget};
use crate::resources::managed::ManagedResource;
use crate::schema::{
    computed, optional, optional_block, optional_computed, required, sensitive, string, write_only,
};
use crate::state::{known, list_to_vec, opt_of, opt_string, string_of, StringList};
use crate::validate;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookBlock {
    pub url: Value<String>,
    pub secret: Value<String>,
    pub secret_wo: Value<String>,
    pub secret_wo_version: Value<i64>,
    pub previous_secret_valid_until: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudWatchBlock {
    pub region: Value<String>,
    pub log_group: Value<String>,
    pub log_stream: Value<String>,
    pub access_key_id: Value<String>,
    pub secret_access_key: Value<String>,
    pub secret_access_key_wo: Value<String>,
    pub secret_access_key_wo_version: Value<i64>,
    pub role_arn: Value<String>,
    pub external_id: Value<String>,
    pub endpoint_override: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSinkState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub event_types: Value<StringList>,
    pub enabled: Value<bool>,
    #[serde(with = "value::serde_as_vec")]
    pub webhook: Value<WebhookBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub cloudwatch: Value<CloudWatchBlock>,
    pub status: Value<String>,
    pub delivered_seq: Value<i64>,
    pub lag: Value<i64>,
    pub last_error: Value<String>,
    pub last_success_at: Value<String>,
    pub workspace_id: Value<String>,
    pub created_at: Value<String>,
}

pub struct AuditSinkResource {
    client: ClientSlot,
}

impl AuditSinkResource {
    pub fn new(client: ClientSlot) -> Self {
        Self { client }
    }
}

const TARGET: ImportTarget = ImportTarget {
    kind: IdKind::AuditSink,
    noun: "audit sink",
    collection: "/v1/audit-sinks",
};

/// The server stores an endpoint override without its trailing slash; a configured one that
/// only differs by it is kept, so the state agrees with the plan.
fn endpoint_from_api(api: Option<String>, prior: Option<&CloudWatchBlock>) -> Value<String> {
    let configured = prior.and_then(|b| known(&b.endpoint_override));
    match (api, configured) {
        (Some(api), Some(c)) if c.trim_end_matches('/') == api => Value::Value(c.to_owned()),
        (api, _) => opt_string(api),
    }
}

/// Builds state from the server's answer. `prior` (the plan, or the stored state) supplies what
/// the server never returns, the secrets; `generated` is a webhook secret the create answer
/// carried.
pub fn audit_sink_state(
    api: AuditSink,
    prior: &AuditSinkState,
    generated: Option<String>,
) -> AuditSinkState {
    let prior_webhook = prior.webhook.as_ref_option();
    let prior_cloudwatch = prior.cloudwatch.as_ref_option();
    let kept = |secret: Option<&Value<String>>| match secret {
        Some(Value::Value(s)) => Value::Value(s.clone()),
        _ => Value::Null,
    };
    AuditSinkState {
        id: Value::Value(api.id),
        name: Value::Value(api.name),
        event_types: Value::Value(api.event_types.into_iter().map(Value::Value).collect()),
        enabled: Value::Value(api.enabled),
        webhook: api.webhook.map_or(Value::Null, |w| {
            Value::Value(WebhookBlock {
                url: Value::Value(w.url),
                secret: generated
                    .map_or_else(|| kept(prior_webhook.map(|b| &b.secret)), Value::Value),
                secret_wo: Value::Null,
                secret_wo_version: prior_webhook.map_or(Value::Null, |b| b.secret_wo_version),
                previous_secret_valid_until: opt_string(w.previous_secret_valid_until),
            })
        }),
        cloudwatch: api.cloudwatch.map_or(Value::Null, |c| {
            Value::Value(CloudWatchBlock {
                region: Value::Value(c.region),
                log_group: Value::Value(c.log_group),
                log_stream: Value::Value(c.log_stream),
                access_key_id: opt_string(c.access_key_id),
                secret_access_key: kept(prior_cloudwatch.map(|b| &b.secret_access_key)),
                secret_access_key_wo: Value::Null,
                secret_access_key_wo_version: prior_cloudwatch
                    .map_or(Value::Null, |b| b.secret_access_key_wo_version),
                role_arn: opt_string(c.role_arn),
                external_id: opt_string(c.external_id),
                endpoint_override: endpoint_from_api(c.endpoint_override, prior_cloudwatch),
            })
        }),
        status: Value::Value(api.status),
        delivered_seq: Value::Value(api.delivered_seq),
        lag: Value::Value(api.lag),
        last_error: opt_string(api.last_error),
        last_success_at: opt_string(api.last_success_at),
        workspace_id: Value::Value(api.workspace_id),
        created_at: Value::Value(api.created_at),
    }
}

/// The webhook secret a configuration gives, in either form (none: the server generates one).
fn configured_webhook_secret(block: &WebhookBlock) -> Option<String> {
    opt_of(&block.secret).or_else(|| opt_of(&block.secret_wo))
}

/// The AWS secret access key a configuration gives, in either form.
fn configured_aws_secret(block: &CloudWatchBlock) -> Option<String> {
    opt_of(&block.secret_access_key).or_else(|| opt_of(&block.secret_access_key_wo))
}

fn webhook_input(block: &WebhookBlock, secret: Option<String>) -> WebhookSettingsInput {
    WebhookSettingsInput {
        url: string_of(&block.url),
        secret,
    }
}

fn cloudwatch_input(block: &CloudWatchBlock, secret: Option<String>) -> CloudWatchSettingsInput {
    CloudWatchSettingsInput {
        region: string_of(&block.region),
        log_group: string_of(&block.log_group),
        log_stream: string_of(&block.log_stream),
        access_key_id: opt_of(&block.access_key_id),
        secret_access_key: secret,
        role_arn: opt_of(&block.role_arn),
        external_id: opt_of(&block.external_id),
        endpoint_override: opt_of(&block.endpoint_override),
    }
}

fn create_body(planned: &AuditSinkState) -> CreateAuditSink {
    CreateAuditSink {
        name: string_of(&planned.name),
        // Left out, the sink gets the workspace's default_event_types (statuspulse_audit_settings).
        event_types: planned
            .event_types
            .is_value()
            .then(|| list_to_vec(&planned.event_types)),
        enabled: planned.enabled.as_ref_option().copied().unwrap_or(true),
        // An unknown secret is one the server is to generate.
        webhook: planned
            .webhook
            .as_ref_option()
            .map(|b| webhook_input(b, configured_webhook_secret(b))),
        cloudwatch: planned
            .cloudwatch
            .as_ref_option()
            .map(|b| cloudwatch_input(b, configured_aws_secret(b))),
    }
}

/// Every attribute, always (the configuration is the whole truth); a secret only when it is to
/// change, since sending one rotates it.
fn update_body(prior: &AuditSinkState, planned: &AuditSinkState) -> UpdateAuditSink {
    let webhook = planned.webhook.as_ref_option().map(|b| {
        let before = prior.webhook.as_ref_option();
        let changed = (b.secret.is_value() && before.map(|p| &p.secret) != Some(&b.secret))
            || (b.secret_wo.is_value()
                && before.map(|p| p.secret_wo_version) != Some(b.secret_wo_version));
        webhook_input(b, changed.then(|| configured_webhook_secret(b)).flatten())
    });
    let cloudwatch = planned.cloudwatch.as_ref_option().map(|b| {
        let before = prior.cloudwatch.as_ref_option();
        // The server keeps the stored secret only for the same access key id: a new id needs
        // its secret sent again, changed or not.
        let changed = match before {
            None => true,
            Some(p) => {
                p.access_key_id != b.access_key_id
                    || (b.secret_access_key.is_value()
                        && p.secret_access_key != b.secret_access_key)
                    || (b.secret_access_key_wo.is_value()
                        && p.secret_access_key_wo_version != b.secret_access_key_wo_version)
            }
        };
        let secret = changed.then(|| configured_aws_secret(b)).flatten();
        cloudwatch_input(b, secret)
    });
    UpdateAuditSink {
        name: opt_of(&planned.name),
        event_types: Some(list_to_vec(&planned.event_types)),
        enabled: planned.enabled.as_ref_option().copied(),
        webhook,
        cloudwatch,
    }
}

/// The state without its write-only values, which the configuration carries and the prior
/// state never does: what "the plan changes nothing" compares.
fn without_write_only(state: &AuditSinkState) -> AuditSinkState {
    let mut state = state.clone();
    if let Value::Value(block) = &mut state.webhook {
        block.secret_wo = Value::Null;
    }
    if let Value::Value(block) = &mut state.cloudwatch {
        block.secret_access_key_wo = Value::Null;
    }
    state
}

impl PlanRules for AuditSinkState {
    // A kind change is a replacement too, declared in `force_replacement`: only a block swapped
    // for the other replaces, never a change inside one.
    const REPLACE_ON_CHANGE: &'static [&'static str] = &[];

    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
        let mut assigned: Vec<&mut dyn KnownAfterApply> = vec![
            &mut self.id,
            &mut self.status,
            &mut self.delivered_seq,
            &mut self.lag,
            &mut self.last_error,
            &mut self.last_success_at,
            &mut self.workspace_id,
            &mut self.created_at,
        ];
        // Left out, the sink gets the workspace's default_event_types.
        if self.event_types.is_null() {
            assigned.push(&mut self.event_types);
        }
        if let Value::Value(webhook) = &mut self.webhook {
            // Left out (in both forms), the server generates the secret.
            if webhook.secret.is_null() && webhook.secret_wo.is_null() {
                assigned.push(&mut webhook.secret);
            }
            assigned.push(&mut webhook.previous_secret_valid_until);
        }
        assigned
    }

    fn fill_defaults(&mut self) {
        if self.enabled.is_null() {
            self.enabled = Value::Value(true);
        }
    }

    /// A configuration that moves to the write-only secret no longer holds one in state: the
    /// proposal's prior `secret` would otherwise stay there, stale once `secret_wo` rotates it.
    fn adopt_config(&mut self, _prior: &Self, config: &Self) {
        if let (Value::Value(planned), Some(config)) =
            (&mut self.webhook, config.webhook.as_ref_option())
        {
            if config.secret.is_null() && !config.secret_wo.is_null() {
                planned.secret = Value::Null;
            }
        }
    }

    fn force_replacement(&self, planned: &mut Self, replace: &mut Replacement) {
        let kind = |s: &Self| match (&s.webhook, &s.cloudwatch) {
            (Value::Value(_), Value::Null) => Some("webhook"),
            (Value::Null, Value::Value(_)) => Some("cloudwatch"),
            _ => None,
        };
        if let (Some(before), Some(after)) = (kind(self), kind(planned)) {
            if before != after {
                replace.when_changed("webhook");
                replace.when_changed("cloudwatch");
            }
        }
    }

    fn recomputed_by_update(&self, planned: &mut Self) {
        if without_write_only(self) == without_write_only(planned) {
            return;
        }
        planned.status.set_unknown();
        planned.last_error.set_unknown();
        planned.last_success_at.set_unknown();
        planned.delivered_seq.set_unknown();
        planned.lag.set_unknown();
        let prior_webhook = self.webhook.as_ref_option();
        if let Value::Value(webhook) = &mut planned.webhook {
            let rotated = prior_webhook.map(|b| &b.secret) != Some(&webhook.secret)
                || prior_webhook.map(|b| b.secret_wo_version) != Some(webhook.secret_wo_version);
            if rotated {
                webhook.previous_secret_valid_until.set_unknown();
            }
        }
    }
}

/// The resource's documentation; `{MAX_SINKS}` stands for the server's limit.
const RESOURCE_DOC: &str = "An audit sink: the workspace's audit events forwarded to a SIEM \
    as they are recorded, through a signed `webhook` or to AWS CloudWatch Logs (`cloudwatch`) \
    (`/v1/audit-sinks`; the provider's key needs `admin:audit`). Give exactly one of the two \
    blocks; swapping one for the other replaces the sink, changes inside a block update it in \
    place.\n\n\
    **Delivery guarantees.** Each sink keeps a cursor on the workspace's audit chain in the \
    server's database. Delivery is *at least once* and *in chain order*: a batch that fails is \
    retried (exponential backoff with jitter, honouring `Retry-After`) until the sink accepts \
    it, across server restarts, and nothing after it is sent before it. A sink failing for a \
    long time turns `status = \"failing\"` (an audit event and a metric) and keeps being \
    retried; nothing is dropped. Every event carries its `event_id` and its chain position: \
    `seq`, `prev_hash` and `hash`, so a receiver can de-duplicate and prove it holds every event \
    (`hash` of one event is `prev_hash` of the next; a batch's `from_seq`..`to_seq` covers the \
    events the filter passed over too). A new sink starts with the next event recorded; \
    `POST /v1/audit-sinks/{id}/replay` with `{\"from_seq\": n}` sends earlier ones again.\n\n\
    **Webhook.** Batches are POSTed as JSON (`{\"type\": \"audit.events\", \"timestamp\", \
    \"data\": {\"sink_id\", \"workspace_id\", \"from_seq\", \"to_seq\", \"events\": [...]}}`) and \
    signed per the [Standard Webhooks](https://www.standardwebhooks.com/) specification: \
    headers `webhook-id` (the same for every retry of a batch: de-duplicate by it; a replay \
    sends new ids), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of \
    \"{id}.{timestamp}.{body}\">`, keyed with the `whsec_` secret. Any Standard Webhooks \
    library verifies them. Changing `webhook.secret` rotates it: for 24 hours deliveries carry \
    two signatures, the old secret's and the new one's, so the receiver can switch without \
    losing a batch. See the [SIEM forwarding guide](../guides/siem-forwarding.md).\n\n\
    **CloudWatch.** One log event per audit event, written with PutLogEvents to `log_group` \
    (which must exist) and `log_stream` (created when missing), with an access key pair, an \
    IAM role assumed through STS, or the server's own AWS credentials.\n\n\
    **Secrets.** The server seals them with its master key (`STATUSPULSE_MASTER_KEY`; without \
    one a secret is refused with `master_key_required`) and never returns them. The webhook \
    secret left out is generated by the server and kept in the state (sensitive) to hand to \
    the receiver; the AWS secret access key is best given write-only (`secret_access_key_wo`, \
    Terraform 1.11 or later).\n\n\
    **Delivery state.** `status`, `delivered_seq`, `lag`, `last_error` and `last_success_at` \
    are read on every refresh and never cause a change (Terraform before 1.2 still lists their \
    new values under \"Objects have changed outside of Terraform\", a note that plans nothing). \
    A workspace has at most {MAX_SINKS} sinks.\n\n\
    Import by id (`snk_…`) or by name (`name:<name>`). An imported sink has no secret in \
    state: a secret set in the configuration is then sent by the next apply (for a webhook, \
    which rotates it).";

#[async_trait]
impl ManagedResource for AuditSinkResource {
    type State = AuditSinkState;

    fn schema(&self) -> Schema {
        let doc = RESOURCE_DOC.replace("{MAX_SINKS}", &MAX_SINKS.to_string());
        let mut schema = crate::schema::schema(
            &doc,
            [
                ("name", required(string(), "Name of the sink, unique in the workspace. Updated in place.")),
                ("event_types", optional_computed(AttributeType::List(Box::new(AttributeType::String)), &format!("Event types forwarded, 1 to {MAX_EVENT_TYPES} patterns, each `*` (every event), a family such as `auth.*`, or an exact type such as `api_key.revoked`; each must match an event type the server records. Left out, the sink gets the workspace's `default_event_types` (`statuspulse_audit_settings`; `[\"*\"]` unless set) when it is created, and keeps that filter. Updated in place; events the sink has already passed are not revisited."))),
                ("enabled", optional_computed(AttributeType::Bool, "Whether events are delivered. A disabled sink keeps its place in the chain and resumes from it when enabled again. Default true.")),
                ("status", computed(string(), "`active`, `failing` (deliveries have failed for a long time; still retried, nothing is dropped) or `disabled`. Refreshed, never a change.")),
                ("delivered_seq", computed(AttributeType::Number, "The last chain position (`seq`) delivered, or passed over by the filter. Refreshed, never a change.")),
                ("lag", computed(AttributeType::Number, "Events of the chain not yet delivered. Refreshed, never a change.")),
                ("last_error", computed(string(), "Why the last attempt failed, while deliveries fail (never a secret). Refreshed, never a change.")),
                ("last_success_at", computed(string(), "When the sink last accepted a batch (RFC 3339). Refreshed, never a change.")),
                ("id", computed(string(), "Id of the sink (`snk_…`), used by `POST /v1/audit-sinks/{id}/replay`; import by it, or by name as `name:<name>`.")),
                ("workspace_id", computed(string(), "Workspace (`ws_…`) whose audit chain the sink forwards.")),
                ("created_at", computed(string(), "Creation time (RFC 3339).")),
            ],
        );
        schema.block.blocks.extend([
            ("webhook".to_owned(), optional_block("Deliver batches of events to an HTTPS endpoint, signed per Standard Webhooks. Exactly one of `webhook` and `cloudwatch`; replacing one by the other replaces the sink.", vec![
                ("url", required(string(), "Where batches are POSTed: `https` on a public address, without query or credentials (`http` and loopback or private addresses only where the server's operator allows them: `--allow-loopback-sinks`, `--allow-private-sinks`). Updated in place.")),
                ("secret", sensitive(optional_computed(string(), "The signing secret, `whsec_` followed by the base64 of 24 to 64 random bytes. Left out (with `secret_wo`), the server generates one when the sink is created, and the state keeps it (sensitive) to configure the receiver with; removing it from the configuration later keeps the current secret. A new value rotates the secret: the old one keeps signing, beside it, for 24 hours. At most one of `secret` and `secret_wo`."))),
                ("secret_wo", write_only(optional(string(), "A signing secret you choose, write-only (Terraform 1.11 or later): never stored in the plan or the state, for example read from a vault with an ephemeral resource. Same format as `secret`. Sent on create and whenever `secret_wo_version` changes, which rotates it (the old secret keeps signing beside it for 24 hours)."))),
                ("secret_wo_version", optional(AttributeType::Number, "Required with `secret_wo`: change it (for example increment it) to send the current `secret_wo` to the server, rotating the secret.")),
                ("previous_secret_valid_until", computed(string(), "After a rotation: until when (RFC 3339) the previous secret still signs deliveries, as a second signature.")),
            ])),
            ("cloudwatch".to_owned(), optional_block("Write events to AWS CloudWatch Logs, one log event per audit event. Exactly one of `webhook` and `cloudwatch`; replacing one by the other replaces the sink.", vec![
                ("region", required(string(), "AWS region, e.g. `eu-west-1`.")),
                ("log_group", required(string(), "The log group; it must exist.")),
                ("log_stream", required(string(), "The log stream; created when missing.")),
                ("access_key_id", optional(string(), "Access key id of the credentials, given with its secret access key. Unset, the server's own AWS credentials are used.")),
                ("secret_access_key", sensitive(optional(string(), "The secret access key, for Terraform older than 1.11: sensitive, but kept in the state. Prefer `secret_access_key_wo`. At most one of `secret_access_key` and `secret_access_key_wo`; sent on create, when it changes and when `access_key_id` changes."))),
                ("secret_access_key_wo", write_only(optional(string(), "The secret access key, write-only (Terraform 1.11 or later): never stored in the plan or the state. Sent on create, whenever `secret_access_key_wo_version` changes and when `access_key_id` changes."))),
                ("secret_access_key_wo_version", optional(AttributeType::Number, "Required with `secret_access_key_wo`: change it (for example increment it) to send the current `secret_access_key_wo` to the server.")),
                ("role_arn", optional(string(), "An IAM role (`arn:aws:iam::<account>:role/<name>`) assumed through STS, with the credentials above, before writing.")),
                ("external_id", optional(string(), "The external id the role's trust policy requires; only with `role_arn`.")),
                ("endpoint_override", optional(string(), "A base URL replacing `https://logs.<region>.amazonaws.com` and STS's (VPC endpoints, tests): `https`, or `http` on a loopback address where the operator allows it.")),
            ])),
        ]);
        schema
    }

    fn validate(diags: &mut Diagnostics, config: &AuditSinkState) {
        validate_config(diags, config);
    }

    fn write_only_from_config(planned: &mut AuditSinkState, config: &AuditSinkState) {
        if let (Value::Value(planned), Some(config)) =
            (&mut planned.webhook, config.webhook.as_ref_option())
        {
            planned.secret_wo.clone_from(&config.secret_wo);
        }
        if let (Value::Value(planned), Some(config)) =
            (&mut planned.cloudwatch, config.cloudwatch.as_ref_option())
        {
            planned
                .secret_access_key_wo
                .clone_from(&config.secret_access_key_wo);
        }
    }

    async fn read(&self, diags: &mut Diagnostics, state: AuditSinkState) -> Option<AuditSinkState> {
        let client = self.client.get(diags)?;
        let api: AuditSink = read_or_gone(&client, diags, &TARGET, known(&state.id)?).await?;
        Some(audit_sink_state(api, &state, None))
    }

    async fn create(
        &self,
        diags: &mut Diagnostics,
        planned: AuditSinkState,
    ) -> Option<AuditSinkState> {
        let client = self.client.get(diags)?;
        let created = client
            .create::<_, CreatedAuditSink>(TARGET.collection, &create_body(&planned))
            .await
            .or_report(diags, "create the audit sink")?;
        Some(audit_sink_state(
            created.sink,
            &planned,
            created.webhook_secret,
        ))
    }

    async fn update(
        &self,
        diags: &mut Diagnostics,
        prior: AuditSinkState,
        planned: AuditSinkState,
    ) -> Option<AuditSinkState> {
        let client = self.client.get(diags)?;
        let api = client
            .patch::<_, AuditSink>(
                &TARGET.path(known(&prior.id)?),
                &update_body(&prior, &planned),
            )
            .await
            .or_report(diags, "update the audit sink")?;
        Some(audit_sink_state(api, &planned, None))
    }

    async fn destroy(&self, diags: &mut Diagnostics, prior: AuditSinkState) -> Option<()> {
        let client = self.client.get(diags)?;
        TARGET.delete(&client, diags, known(&prior.id)?).await
    }

    /// By id (`snk_…`), or by name as `name:<name>`.
    async fn import(&self, diags: &mut Diagnostics, id: String) -> Option<AuditSinkState> {
        let client = self.client.get(diags)?;
        let api: AuditSink = import_by_id_or_name(&client, diags, &TARGET, &id).await?;
        Some(audit_sink_state(api, &AuditSinkState::default(), None))
    }
}

/// Reports a refused field on its attribute (nested fields inside their block).
fn refuse(diags: &mut Diagnostics, err: rules::FieldError) {
    diags.add(
        format!("Invalid {}", err.field),
        err.detail,
        field_path(&err.field),
    );
}

/// A value the rule can judge: the known one, a placeholder the rule accepts for an unknown one
/// (judged again once known), or none.
fn probe(value: &Value<String>, placeholder: &str) -> Option<String> {
    match value {
        Value::Value(v) => Some(v.clone()),
        Value::Unknown => Some(placeholder.to_owned()),
        Value::Null => None,
    }
}

/// The plan-time checks: every known value with the server's own rule
/// (`statuspulse_api::validate::audit_sink` and its parts), reported on its attribute.
fn validate_config(diags: &mut Diagnostics, config: &AuditSinkState) {
    validate::name(diags, &config.name, "name");
    validate::event_types(diags, &config.event_types, "event_types");
    match (&config.webhook, &config.cloudwatch) {
        (Value::Value(_), Value::Value(_)) => diags.add(
            "One destination per sink",
            "A sink has one destination: give either a webhook block or a cloudwatch block.",
            AttributePath::new("cloudwatch"),
        ),
        (Value::Null, Value::Null) => diags.add(
            "A destination is needed",
            "A sink needs a destination: add a webhook block or a cloudwatch block.",
            AttributePath::new("webhook"),
        ),
        _ => {}
    }
    if let Some(webhook) = config.webhook.as_ref_option() {
        if let Some(url) = known(&webhook.url) {
            if let Err(e) = rules::https_url("webhook.url", url) {
                refuse(diags, e);
            }
        }
        validate::secret_forms(
            diags,
            &validate::SecretForms {
                what: "webhook secret",
                sensitive: (&webhook.secret, "webhook.secret"),
                write_only: (&webhook.secret_wo, "webhook.secret_wo"),
                version: (&webhook.secret_wo_version, "webhook.secret_wo_version"),
            },
        );
        for (secret, field) in [
            (&webhook.secret, "webhook.secret"),
            (&webhook.secret_wo, "webhook.secret_wo"),
        ] {
            if let Some(secret) = known(secret) {
                if let Err(e) = rules::webhook_secret(secret) {
                    refuse(diags, e.with_field(field));
                }
            }
        }
    }
    if let Some(cloudwatch) = config.cloudwatch.as_ref_option() {
        validate_cloudwatch(diags, cloudwatch);
    }
}

fn validate_cloudwatch(diags: &mut Diagnostics, block: &CloudWatchBlock) {
    validate::secret_forms(
        diags,
        &validate::SecretForms {
            what: "secret access key",
            sensitive: (&block.secret_access_key, "cloudwatch.secret_access_key"),
            write_only: (
                &block.secret_access_key_wo,
                "cloudwatch.secret_access_key_wo",
            ),
            version: (
                &block.secret_access_key_wo_version,
                "cloudwatch.secret_access_key_wo_version",
            ),
        },
    );
    let sensitive_form = !block.secret_access_key.is_null();
    let write_only_form = !block.secret_access_key_wo.is_null();
    // The server accepts a key id alone at creation, but every later change of the block
    // would then be refused for want of the secret: ask for the pair up front.
    if !block.access_key_id.is_null() && !sensitive_form && !write_only_form {
        diags.add(
            "access_key_id needs its secret",
            "Give the secret access key with the access key id (secret_access_key_wo, or \
             secret_access_key before Terraform 1.11), or remove access_key_id to use the \
             server's own AWS credentials.",
            field_path("cloudwatch.access_key_id"),
        );
    }
    let secret = probe(&block.secret_access_key, "placeholder-secret-access-key")
        .or_else(|| probe(&block.secret_access_key_wo, "placeholder-secret-access-key"));
    let body = CloudWatchSettingsInput {
        region: probe(&block.region, "eu-west-1").unwrap_or_default(),
        log_group: probe(&block.log_group, "plan").unwrap_or_default(),
        log_stream: probe(&block.log_stream, "plan").unwrap_or_default(),
        access_key_id: probe(&block.access_key_id, "AKIAPLACEHOLDER0000"),
        secret_access_key: secret,
        role_arn: probe(&block.role_arn, "arn:aws:iam::000000000000:role/plan"),
        external_id: probe(&block.external_id, "plan"),
        endpoint_override: probe(&block.endpoint_override, "https://logs.example.com"),
    };
    if let Err(e) = rules::cloudwatch_settings(&body) {
        refuse(diags, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan_create, plan_update};

    fn webhook(url: &str, secret: Value<String>) -> AuditSinkState {
        AuditSinkState {
            name: Value::Value("siem".into()),
            webhook: Value::Value(WebhookBlock {
                url: Value::Value(url.into()),
                secret,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn cloudwatch() -> CloudWatchBlock {
        CloudWatchBlock {
            region: Value::Value("eu-west-1".into()),
            log_group: Value::Value("audit".into()),
            log_stream: Value::Value("statuspulse".into()),
            access_key_id: Value::Value("AKIAIOSFODNN7EXAMPLE".into()),
            secret_access_key_wo: Value::Value("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            secret_access_key_wo_version: Value::Value(1),
            ..Default::default()
        }
    }

    fn errors(config: &AuditSinkState) -> Vec<(String, AttributePath)> {
        crate::diag::errors_of(|diags| validate_config(diags, config))
    }

    #[test]
    fn a_good_webhook_passes_and_bad_values_point_at_their_attribute() {
        assert!(errors(&webhook("https://siem.example.com/in", Value::Null)).is_empty());
        let bad = errors(&webhook("http://siem.example.com/in", Value::Null));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].1, field_path("webhook.url"));
        let bad = errors(&webhook(
            "https://siem.example.com/in",
            Value::Value("secret".into()),
        ));
        assert_eq!(bad[0].1, field_path("webhook.secret"));
        let mut duplicated = webhook("https://siem.example.com/in", Value::Null);
        duplicated.event_types = Value::Value(vec![
            Value::Value("auth.*".into()),
            Value::Value("auth.*".into()),
        ]);
        assert_eq!(errors(&duplicated)[0].1, AttributePath::new("event_types"));
    }

    #[test]
    fn cloudwatch_settings_are_judged_by_the_server_rule_with_unknowns_left_for_later() {
        let mut config = AuditSinkState {
            name: Value::Value("cw".into()),
            cloudwatch: Value::Value(cloudwatch()),
            ..Default::default()
        };
        assert!(errors(&config).is_empty(), "{:?}", errors(&config));
        if let Value::Value(block) = &mut config.cloudwatch {
            block.access_key_id = Value::Unknown;
            block.region = Value::Value("Europe".into());
        }
        let e = errors(&config);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, field_path("cloudwatch.region"));
        if let Value::Value(block) = &mut config.cloudwatch {
            block.region = Value::Value("eu-west-1".into());
            block.secret_access_key_wo = Value::Null;
            block.secret_access_key_wo_version = Value::Null;
        }
        assert_eq!(errors(&config)[0].1, field_path("cloudwatch.access_key_id"));
    }

    #[test]
    fn a_create_plans_the_generated_secret_and_the_delivery_state_as_unknown() {
        let planned = plan_create(webhook("https://siem.example.com/in", Value::Null));
        let block = planned.webhook.as_ref_option().unwrap();
        assert!(block.secret.is_unknown());
        assert!(planned.lag.is_unknown() && planned.status.is_unknown());
        assert_eq!(planned.enabled, Value::Value(true));
        // Left out, the filter is the workspace's default_event_types: the server's to say.
        assert!(planned.event_types.is_unknown());
        assert_eq!(create_body(&planned).event_types, None);
        let given = plan_create(webhook(
            "https://siem.example.com/in",
            Value::Value("whsec_x".into()),
        ));
        assert_eq!(
            given.webhook.as_ref_option().unwrap().secret,
            Value::Value("whsec_x".into())
        );
    }

    fn stored() -> AuditSinkState {
        let mut state = plan_create(webhook(
            "https://siem.example.com/in",
            Value::Value("whsec_a".into()),
        ));
        state.id = Value::Value("snk_1".into());
        state.event_types = Value::Value(vec![Value::Value("*".into())]);
        state.status = Value::Value("active".into());
        state.delivered_seq = Value::Value(7);
        state.lag = Value::Value(3);
        state.last_error = Value::Null;
        state.last_success_at = Value::Null;
        state.workspace_id = Value::Value("ws_1".into());
        state.created_at = Value::Value("t".into());
        if let Value::Value(block) = &mut state.webhook {
            block.previous_secret_valid_until = Value::Null;
        }
        state
    }

    #[test]
    fn delivery_state_never_makes_a_diff_but_is_recomputed_by_an_update() {
        let (unchanged, replace) = plan_update(&stored(), stored());
        assert_eq!(unchanged, stored());
        assert!(replace.is_empty());

        let mut proposed = stored();
        if let Value::Value(block) = &mut proposed.webhook {
            block.secret = Value::Value("whsec_b".into());
        }
        let (planned, replace) = plan_update(&stored(), proposed);
        assert!(replace.is_empty());
        assert!(planned.lag.is_unknown() && planned.delivered_seq.is_unknown());
        let block = planned.webhook.as_ref_option().unwrap();
        assert!(block.previous_secret_valid_until.is_unknown());
    }

    #[test]
    fn a_write_only_secret_is_sent_on_create_and_when_its_version_changes_only() {
        let mut config = webhook("https://siem.example.com/in", Value::Null);
        if let Value::Value(block) = &mut config.webhook {
            block.secret_wo = Value::Value(format!("whsec_{}", "A".repeat(32)));
            block.secret_wo_version = Value::Value(1);
        }
        assert!(errors(&config).is_empty(), "{:?}", errors(&config));
        let planned = plan_create(config.clone());
        let block = planned.webhook.as_ref_option().unwrap();
        assert!(block.secret.is_null(), "a chosen secret is not generated");
        let sent = create_body(&planned).webhook.unwrap().secret;
        assert_eq!(
            sent.as_deref(),
            config
                .webhook
                .as_ref_option()
                .unwrap()
                .secret_wo
                .as_ref_option()
                .map(String::as_str)
        );

        // Stored without it (write-only), then planned again with the same version: not sent.
        let mut prior = planned.clone();
        if let Value::Value(block) = &mut prior.webhook {
            block.secret_wo = Value::Null;
        }
        assert_eq!(update_body(&prior, &config).webhook.unwrap().secret, None);
        let mut bumped = config.clone();
        if let Value::Value(block) = &mut bumped.webhook {
            block.secret_wo_version = Value::Value(2);
        }
        assert!(update_body(&prior, &bumped)
            .webhook
            .unwrap()
            .secret
            .is_some());

        // Both forms, or the write-only one without its version, are refused on their attribute.
        let mut both = config.clone();
        if let Value::Value(block) = &mut both.webhook {
            block.secret = Value::Value(format!("whsec_{}", "B".repeat(32)));
        }
        assert_eq!(errors(&both)[0].1, field_path("webhook.secret"));
        let mut unversioned = config;
        if let Value::Value(block) = &mut unversioned.webhook {
            block.secret_wo_version = Value::Null;
            block.secret_wo = Value::Value("whsec_short".into());
        }
        let e = errors(&unversioned);
        assert!(
            e.iter()
                .any(|(_, p)| *p == field_path("webhook.secret_wo_version")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|(_, p)| *p == field_path("webhook.secret_wo")),
            "{e:?}"
        );
    }

    #[test]
    fn swapping_the_destination_kind_replaces_the_sink() {
        let mut proposed = stored();
        proposed.webhook = Value::Null;
        proposed.cloudwatch = Value::Value(cloudwatch());
        let (_, replace) = plan_update(&stored(), proposed);
        assert_eq!(
            replace,
            [
                AttributePath::new("webhook"),
                AttributePath::new("cloudwatch")
            ]
        );
    }

    #[test]
    fn a_secret_is_sent_only_when_it_changes_and_a_new_key_id_sends_its_secret() {
        let prior = stored();
        let body = update_body(&prior, &prior);
        assert_eq!(body.webhook.unwrap().secret, None);
        let mut rotated = stored();
        if let Value::Value(block) = &mut rotated.webhook {
            block.secret = Value::Value("whsec_b".into());
        }
        let body = update_body(&prior, &rotated);
        assert_eq!(body.webhook.unwrap().secret.as_deref(), Some("whsec_b"));

        let cw = AuditSinkState {
            cloudwatch: Value::Value(cloudwatch()),
            ..stored()
        };
        assert_eq!(
            update_body(&cw, &cw).cloudwatch.unwrap().secret_access_key,
            None
        );
        let mut new_key = cw.clone();
        if let Value::Value(block) = &mut new_key.cloudwatch {
            block.access_key_id = Value::Value("AKIAIOSFODNN7EXAMPL2".into());
        }
        assert!(update_body(&cw, &new_key)
            .cloudwatch
            .unwrap()
            .secret_access_key
            .is_some());
    }

    #[test]
    fn the_state_keeps_configured_secrets_and_takes_a_generated_one() {
        let api: AuditSink = serde_json::from_value(serde_json::json!({
            "id": "snk_1", "workspace_id": "ws_1", "name": "siem", "kind": "webhook",
            "event_types": ["*"], "enabled": true,
            "webhook": {"url": "https://siem.example.com/in"},
            "status": "active", "delivered_seq": 4, "head_seq": 4, "lag": 0,
            "created_at": "t", "updated_at": "t"
        }))
        .unwrap();
        let planned = plan_create(webhook("https://siem.example.com/in", Value::Null));
        let state = audit_sink_state(api.clone(), &planned, Some("whsec_generated".into()));
        let block = state.webhook.as_ref_option().unwrap();
        assert_eq!(block.secret, Value::Value("whsec_generated".into()));
        let imported = audit_sink_state(api, &AuditSinkState::default(), None);
        assert!(imported.webhook.as_ref_option().unwrap().secret.is_null());
    }
}
