//! `/v1/audit-sinks` (scope `admin:audit`): create, read, change and delete sinks, and replay
//! a sink from an earlier chain position. Every change is audited, never with a secret.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{head_seq, secret_context, AuditSink, SinkRow, COLUMNS};
use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::db::list_for_storage;
use crate::platform::egress;
use crate::platform::{ids, secrets};
use statuspulse_api::v1::audit_sinks::{MAX_SINKS, WEBHOOK_SECRET_PREFIX};
pub use statuspulse_api::v1::{
    CloudWatchSettings, CreateAuditSink, CreatedAuditSink, ReplayAuditSink, UpdateAuditSink,
    WebhookSettings,
};
use statuspulse_api::validate::FieldError;

/// How long a rotated-out webhook secret keeps signing, beside the new one.
pub const PREVIOUS_SECRET_GRACE_MS: i64 = 24 * 3600 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_sinks, create_audit_sink))
        .routes(routes!(
            get_audit_sink,
            update_audit_sink,
            delete_audit_sink
        ))
        .routes(routes!(replay_audit_sink))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<SinkRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "audit_sinks",
        COLUMNS,
        ids::AUDIT_SINK,
        caller.workspace_id(),
        id,
    )
    .await
}

/// Refuses a pattern that matches no event type this server records (a typo would otherwise
/// forward nothing, silently).
pub(crate) fn known_patterns(field: &str, patterns: &[String]) -> Result<(), FieldError> {
    for pattern in patterns {
        let known = EventType::ALL
            .iter()
            .any(|t| statuspulse_api::validate::event_type_matches(pattern, t.as_str()));
        if !known {
            return Err(FieldError::new(
                field,
                "unknown_event_type",
                format!("`{pattern}` matches no event type this server records (see server/API.md, \"Audit\")"),
            ));
        }
    }
    Ok(())
}

/// The field rules, then what only the server knows: every pattern names an event it records,
/// and the destination is an address this server may call.
fn checked(state: &AppState, body: &CreateAuditSink) -> ApiResult<CreateAuditSink> {
    let body = statuspulse_api::validate::audit_sink(body)?;
    if let Some(patterns) = &body.event_types {
        known_patterns("event_types", patterns)?;
    }
    let addresses = state.settings.sink_addresses;
    let destination = match (&body.webhook, &body.cloudwatch) {
        (Some(webhook), _) => Some(("webhook.url", webhook.url.as_str())),
        (_, Some(cloudwatch)) => cloudwatch
            .endpoint_override
            .as_deref()
            .map(|url| ("cloudwatch.endpoint_override", url)),
        _ => None,
    };
    if let Some((field, url)) = destination {
        egress::check_addresses(url, addresses).map_err(|why| {
            ApiError::invalid(
                field,
                "sink_url_refused",
                format!(
                    "{why}: sinks deliver to public https addresses only, unless the server's \
                     operator allows loopback (--allow-loopback-sinks, development) or private \
                     networks (--allow-private-sinks)"
                ),
            )
        })?;
    }
    Ok(body)
}

/// Seals a sink secret, or refuses when the server has no master key.
fn seal(state: &AppState, sink_id: &str, field: &str, secret: &str) -> ApiResult<(String, String)> {
    let Some(keys) = &state.master_keys else {
        return Err(ApiError::conflict(
            "master_key_required",
            "this server has no master key, so it cannot store a secret it must read back; set \
             STATUSPULSE_MASTER_KEY or STATUSPULSE_MASTER_KEY_FILE and restart",
        )
        .with_field(field));
    };
    let sealed = keys
        .seal(secret.as_bytes(), &secret_context(sink_id))
        .map_err(|e| ApiError::internal(anyhow::anyhow!("sealing a sink secret: {e}")))?;
    Ok((sealed, keys.current_id().to_owned()))
}

/// A new Standard Webhooks secret: 32 random bytes.
fn generate_webhook_secret() -> String {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    format!(
        "{WEBHOOK_SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(*bytes)
    )
}

/// The kind's settings as stored: the block without its secret.
fn settings_for_storage(body: &CreateAuditSink) -> ApiResult<(&'static str, String)> {
    let (kind, value) = match (&body.webhook, &body.cloudwatch) {
        (Some(webhook), _) => (
            "webhook",
            serde_json::to_string(&WebhookSettings {
                url: webhook.url.clone(),
                previous_secret_valid_until: None,
            }),
        ),
        (_, Some(cw)) => (
            "cloudwatch",
            serde_json::to_string(&CloudWatchSettings {
                region: cw.region.clone(),
                log_group: cw.log_group.clone(),
                log_stream: cw.log_stream.clone(),
                access_key_id: cw.access_key_id.clone(),
                secret_access_key_set: false,
                role_arn: cw.role_arn.clone(),
                external_id: cw.external_id.clone(),
                endpoint_override: cw.endpoint_override.clone(),
            }),
        ),
        (None, None) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "validated sink without a block"
            )))
        }
    };
    Ok((kind, value.map_err(ApiError::internal)?))
}

async fn view_in_tx(
    tx: &mut crate::platform::db::WriteTx<'_>,
    caller: &Caller,
    id: &str,
) -> ApiResult<AuditSink> {
    let row = crate::platform::db::find_in_tx::<SinkRow>(
        tx,
        "audit_sinks",
        COLUMNS,
        caller.workspace_id(),
        id,
    )
    .await?;
    let head = head_seq(&mut *tx.tx, caller.workspace_id()).await?;
    Ok(row.view(head)?)
}

/// Create a sink. Delivery starts with the next event recorded (replay sends earlier ones).
/// A webhook sink created without a secret answers with a generated one, shown only here.
#[utoipa::path(post, path = "/v1/audit-sinks", tag = "audit", request_body = CreateAuditSink,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = CreatedAuditSink), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn create_audit_sink(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateAuditSink>,
) -> ApiResult<(StatusCode, axum::Json<CreatedAuditSink>)> {
    caller.require(Scope::AdminAudit)?;
    let body = checked(&state, &body)?;
    if let Some(cw) = &body.cloudwatch {
        if cw.access_key_id.is_some() && cw.secret_access_key.is_none() {
            return Err(ApiError::invalid(
                "cloudwatch.secret_access_key",
                "credentials_incomplete",
                "an access_key_id needs its secret_access_key (or give neither, and the server \
                 uses its own AWS credentials)",
            ));
        }
    }
    let id = ids::new_id(ids::AUDIT_SINK);
    let now = state.clock.now_ms();
    let generated = match &body.webhook {
        Some(webhook) if webhook.secret.is_none() => Some(generate_webhook_secret()),
        _ => None,
    };
    let secret = match (&body.webhook, &body.cloudwatch) {
        (Some(webhook), _) => Some((
            "webhook.secret",
            webhook.secret.as_ref().or(generated.as_ref()),
        )),
        (_, Some(cw)) => Some((
            "cloudwatch.secret_access_key",
            cw.secret_access_key.as_ref(),
        )),
        _ => None,
    };
    let sealed = match secret {
        Some((field, Some(secret))) => Some(seal(&state, &id, field, secret)?),
        _ => None,
    };
    let (kind, settings) = settings_for_storage(&body)?;
    let mut tx = state.db.begin_write().await?;
    let existing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_sinks WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .fetch_one(&mut *tx.tx)
            .await?;
    if existing >= i64::try_from(MAX_SINKS).unwrap_or(i64::MAX) {
        return Err(ApiError::conflict(
            "sink_limit_reached",
            format!("a workspace has at most {MAX_SINKS} audit sinks; delete one or widen an existing sink's event_types"),
        ));
    }
    let event_types = match &body.event_types {
        Some(patterns) => patterns.clone(),
        None => audit::settings::default_event_types(&mut *tx.tx, caller.workspace_id()).await?,
    };
    let start = head_seq(&mut *tx.tx, caller.workspace_id()).await?;
    sqlx::query(
        "INSERT INTO audit_sinks (id, workspace_id, name, kind, event_types, enabled, settings, \
         secret_sealed, delivered_seq, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&body.name)
    .bind(kind)
    .bind(list_for_storage(&event_types))
    .bind(i64::from(body.enabled))
    .bind(&settings)
    .bind(sealed.as_ref().map(|(s, _)| s.as_str()))
    .bind(start)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    if let Some((_, key_id)) = &sealed {
        secrets::record_use(&mut tx.tx, key_id, now).await?;
    }
    let sink = view_in_tx(&mut tx, &caller, &id).await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSinkCreated,
        caller.actor(),
    )
    .target("audit_sink", &id)
    .details(json!({"before": null, "after": sink, "secret_changed": sealed.is_some()}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let answer = CreatedAuditSink {
        sink,
        webhook_secret: generated,
    };
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read a sink and its delivery state: `delivered_seq`, `lag`, `last_error`, last success.
#[utoipa::path(get, path = "/v1/audit-sinks/{id}", tag = "audit", params(("id" = String, Path)),
    responses((status = 200, body = AuditSink), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn get_audit_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AuditSink>> {
    caller.require(Scope::AdminAudit)?;
    let row = find(&state, &caller, &id).await?;
    let head = head_seq(state.db.pool(), caller.workspace_id()).await?;
    Ok(axum::Json(row.view(head)?))
}

/// List the workspace's sinks, oldest first.
#[utoipa::path(get, path = "/v1/audit-sinks", tag = "audit", params(PageParams),
    responses((status = 200, body = Page<AuditSink>)), security(("bearer" = ["admin:audit"])))]
pub async fn list_audit_sinks(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<AuditSink>>> {
    caller.require(Scope::AdminAudit)?;
    let limit = page.limit()?;
    let rows: Vec<SinkRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_sinks WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let head = head_seq(state.db.pool(), caller.workspace_id()).await?;
    let views = rows
        .iter()
        .map(|r| r.view(head))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(views, limit, |s| s.id.clone(), |s| s)))
}

/// The stored sink as a create body, for merging an update over it (secrets not included).
fn as_create(before: &AuditSink) -> CreateAuditSink {
    use statuspulse_api::v1::{CloudWatchSettingsInput, WebhookSettingsInput};
    CreateAuditSink {
        name: before.name.clone(),
        event_types: Some(before.event_types.clone()),
        enabled: before.enabled,
        webhook: before.webhook.as_ref().map(|w| WebhookSettingsInput {
            url: w.url.clone(),
            secret: None,
        }),
        cloudwatch: before.cloudwatch.as_ref().map(|c| CloudWatchSettingsInput {
            region: c.region.clone(),
            log_group: c.log_group.clone(),
            log_stream: c.log_stream.clone(),
            access_key_id: c.access_key_id.clone(),
            secret_access_key: None,
            role_arn: c.role_arn.clone(),
            external_id: c.external_id.clone(),
            endpoint_override: c.endpoint_override.clone(),
        }),
    }
}

/// What happens to the stored secrets on an update.
enum SecretChange {
    Keep,
    /// A new secret; a webhook's old one keeps signing for [`PREVIOUS_SECRET_GRACE_MS`].
    Replace(String),
    /// The credentials were removed (a CloudWatch sink back on the server's own).
    Drop,
}

/// Change a sink's name, filter, destination or secret, or pause it. A changed destination
/// or secret is tried at once, without waiting out a backoff.
#[utoipa::path(patch, path = "/v1/audit-sinks/{id}", tag = "audit", params(("id" = String, Path)),
    request_body = UpdateAuditSink,
    responses((status = 200, body = AuditSink), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn update_audit_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateAuditSink>,
) -> ApiResult<axum::Json<AuditSink>> {
    caller.require(Scope::AdminAudit)?;
    let row = find(&state, &caller, &id).await?;
    let before = row.view(head_seq(state.db.pool(), caller.workspace_id()).await?)?;
    let kind_change = match row.kind.as_str() {
        "webhook" => body.cloudwatch.is_some().then_some("cloudwatch"),
        _ => body.webhook.is_some().then_some("webhook"),
    };
    if let Some(block) = kind_change {
        return Err(ApiError::invalid(
            block,
            "kind_immutable",
            format!(
                "this is a {} sink; a sink's destination kind cannot change: create a new sink",
                row.kind
            ),
        ));
    }
    let mut merged = as_create(&before);
    if let Some(name) = &body.name {
        merged.name.clone_from(name);
    }
    if let Some(event_types) = &body.event_types {
        merged.event_types = Some(event_types.clone());
    }
    if let Some(enabled) = body.enabled {
        merged.enabled = enabled;
    }
    let mut secret = SecretChange::Keep;
    if let Some(webhook) = &body.webhook {
        if let Some(new) = &webhook.secret {
            secret = SecretChange::Replace(new.clone());
        }
        merged.webhook = Some(webhook.clone());
    }
    if let Some(cw) = &body.cloudwatch {
        let same_key = cw.access_key_id
            == merged
                .cloudwatch
                .as_ref()
                .and_then(|c| c.access_key_id.clone());
        secret = match (&cw.secret_access_key, &cw.access_key_id) {
            (Some(new), _) => SecretChange::Replace(new.clone()),
            (None, None) => SecretChange::Drop,
            (None, Some(_)) if same_key && row.secret_sealed.is_some() => SecretChange::Keep,
            (None, Some(_)) => {
                return Err(ApiError::invalid(
                    "cloudwatch.secret_access_key",
                    "credentials_incomplete",
                    "a new access_key_id needs its secret_access_key",
                ))
            }
        };
        merged.cloudwatch = Some(cw.clone());
    }
    let merged = checked(&state, &merged)?;
    let (_, settings) = settings_for_storage(&merged)?;
    let now = state.clock.now_ms();
    let field = if row.kind == "webhook" {
        "webhook.secret"
    } else {
        "cloudwatch.secret_access_key"
    };
    let (secret_sealed, previous, previous_until, sealed_with) = match &secret {
        SecretChange::Keep => (
            row.secret_sealed.clone(),
            row.previous_secret_sealed.clone(),
            row.previous_secret_until,
            None,
        ),
        SecretChange::Drop => (None, None, None, None),
        SecretChange::Replace(new) => {
            let (sealed, key_id) = seal(&state, &id, field, new)?;
            let (previous, until) = if row.kind == "webhook" {
                (
                    row.secret_sealed.clone(),
                    Some(now + PREVIOUS_SECRET_GRACE_MS),
                )
            } else {
                (None, None)
            };
            (Some(sealed), previous, until, Some(key_id))
        }
    };
    let destination_changed = settings != row.settings || !matches!(secret, SecretChange::Keep);
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE audit_sinks SET name = $1, event_types = $2, enabled = $3, settings = $4, \
         secret_sealed = $5, previous_secret_sealed = $6, previous_secret_until = $7, \
         next_attempt_at = CASE WHEN $8 = 1 THEN 0 ELSE next_attempt_at END, updated_at = $9 \
         WHERE id = $10 AND workspace_id = $11",
    )
    .bind(&merged.name)
    .bind(list_for_storage(
        merged.event_types.as_deref().unwrap_or_default(),
    ))
    .bind(i64::from(merged.enabled))
    .bind(&settings)
    .bind(secret_sealed)
    .bind(previous)
    .bind(previous_until)
    .bind(i64::from(destination_changed))
    .bind(now)
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    if let Some(key_id) = &sealed_with {
        secrets::record_use(&mut tx.tx, key_id, now).await?;
    }
    let after = view_in_tx(&mut tx, &caller, &id).await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSinkUpdated,
        caller.actor(),
    )
    .target("audit_sink", &id)
    .details(json!({
        "before": before,
        "after": after,
        "secret_changed": !matches!(secret, SecretChange::Keep),
    }));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(after))
}

/// Delete a sink: delivery to it stops (a batch in flight may still arrive).
#[utoipa::path(delete, path = "/v1/audit-sinks/{id}", tag = "audit", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn delete_audit_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAudit)?;
    let row = find(&state, &caller, &id).await?;
    let before = row.view(head_seq(state.db.pool(), caller.workspace_id()).await?)?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSinkDeleted,
        caller.actor(),
    )
    .target("audit_sink", &id)
    .details(json!({"before": before, "after": null}));
    audit::delete_recorded(&state, "audit_sinks", caller.workspace_id(), &id, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a sink's events again from `from_seq` (for a SIEM that lost data). The cursor moves
/// back; batches get new message ids, so receivers that de-duplicate by `webhook-id` keep them
/// (by `event_id` they can still drop what they hold).
#[utoipa::path(post, path = "/v1/audit-sinks/{id}/replay", tag = "audit", params(("id" = String, Path)),
    request_body = ReplayAuditSink,
    responses((status = 202, body = AuditSink), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn replay_audit_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReplayAuditSink>,
) -> ApiResult<(StatusCode, axum::Json<AuditSink>)> {
    caller.require(Scope::AdminAudit)?;
    let row = find(&state, &caller, &id).await?;
    let mut tx = state.db.begin_write().await?;
    let head = head_seq(&mut *tx.tx, caller.workspace_id()).await?;
    if body.from_seq < 1 || body.from_seq > head + 1 {
        return Err(ApiError::invalid(
            "from_seq",
            "invalid_from_seq",
            format!(
                "from_seq must be between 1 and {} (the chain's head + 1)",
                head + 1
            ),
        ));
    }
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .fetch_one(&mut *tx.tx)
            .await?;
    if oldest.is_some_and(|oldest| body.from_seq < oldest) {
        return Err(ApiError::invalid(
            "from_seq",
            "events_pruned",
            format!(
                "events before seq {} are past the workspace's retention and were pruned",
                oldest.unwrap_or_default()
            ),
        ));
    }
    sqlx::query(
        "UPDATE audit_sinks SET delivered_seq = $1, generation = generation + 1, \
         next_attempt_at = 0, updated_at = $2 WHERE id = $3 AND workspace_id = $4",
    )
    .bind(body.from_seq - 1)
    .bind(state.clock.now_ms())
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    let after = view_in_tx(&mut tx, &caller, &id).await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSinkReplayed,
        caller.actor(),
    )
    .target("audit_sink", &id)
    .details(json!({"from_seq": body.from_seq, "previous_delivered_seq": row.delivered_seq}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(after)))
}
