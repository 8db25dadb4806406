//! `/v1/audit-settings` (scope `admin:audit`): a workspace's "Enable Audit Logging" settings.
//! Recording is always on; what a workspace chooses is how long its events are kept (pruned by
//! retention.rs) and the sink defaults: the `event_types` a sink created without its own
//! forwards. The answer also lists the sinks the events go to, so one read shows where a
//! workspace's audit log stands.

use axum::extract::State;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sinks::{self, SinkRow, COLUMNS};
use super::{EventType, NewEvent};
use crate::app::AppState;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{Caller, Json};
use crate::platform::db::{list_for_storage, stored_list};
use statuspulse_api::v1::audit::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use statuspulse_api::v1::AuditSinkSummary;
pub use statuspulse_api::v1::{AuditSettings, UpdateAuditSettings};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        get_audit_settings,
        update_audit_settings,
        reset_audit_settings
    ))
}

/// What a workspace has set; `None` when nothing ever was.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chosen {
    retention_days: i64,
    default_event_types: Vec<String>,
}

impl Chosen {
    fn defaults() -> Self {
        Chosen {
            retention_days: DEFAULT_RETENTION_DAYS,
            default_event_types: vec!["*".to_owned()],
        }
    }

    fn as_json(&self) -> serde_json::Value {
        json!({
            "retention_days": self.retention_days,
            "default_event_types": self.default_event_types,
        })
    }
}

async fn chosen<'e, E>(executor: E, workspace_id: &str) -> Result<Option<Chosen>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT retention_days, default_event_types FROM audit_settings WHERE workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(executor)
    .await?;
    row.map(|(retention_days, types)| {
        Ok(Chosen {
            retention_days,
            default_event_types: match types {
                Some(text) => stored_list("default_event_types", &text)?,
                None => Chosen::defaults().default_event_types,
            },
        })
    })
    .transpose()
}

/// The `event_types` of a sink created in `workspace_id` without its own.
pub async fn default_event_types<'e, E>(
    executor: E,
    workspace_id: &str,
) -> Result<Vec<String>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(chosen(executor, workspace_id)
        .await?
        .unwrap_or_else(Chosen::defaults)
        .default_event_types)
}

async fn settings(state: &AppState, workspace_id: &str) -> Result<AuditSettings, sqlx::Error> {
    let pool = state.db.pool();
    let stored = chosen(pool, workspace_id).await?;
    let head: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT seq, pruned_seq, pruned_hash FROM audit_chain_heads WHERE workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(pool)
    .await?;
    let (head_seq, pruned_seq, pruned_hash) =
        head.unwrap_or((0, 0, super::GENESIS_HASH.to_owned()));
    // At most MAX_SINKS rows: a workspace cannot create more.
    let rows: Vec<SinkRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_sinks WHERE workspace_id = $1 ORDER BY created_at, id"
    ))
    .bind(workspace_id)
    .fetch_all(pool)
    .await?;
    let sinks = rows
        .iter()
        .map(|row| {
            let sink = row.view(head_seq)?;
            Ok(AuditSinkSummary {
                id: sink.id,
                name: sink.name,
                kind: sink.kind,
                enabled: sink.enabled,
                event_types: sink.event_types,
                status: sink.status,
                lag: sink.lag,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let is_default = stored.is_none();
    let chosen = stored.unwrap_or_else(Chosen::defaults);
    Ok(AuditSettings {
        workspace_id: workspace_id.to_owned(),
        retention_days: chosen.retention_days,
        default_event_types: chosen.default_event_types,
        is_default,
        pruned_through_seq: pruned_seq,
        pruned_through_hash: pruned_hash,
        head_seq,
        sinks,
    })
}

/// Read the workspace's retention, sink defaults and sinks, and where its stored chain starts.
#[utoipa::path(get, path = "/v1/audit-settings", tag = "audit",
    responses((status = 200, body = AuditSettings)), security(("bearer" = ["admin:audit"])))]
pub async fn get_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}

/// Replace the workspace's settings (a field left out goes back to its default). A shorter
/// retention prunes within the hour; new sink defaults apply to sinks created from now on.
#[utoipa::path(put, path = "/v1/audit-settings", tag = "audit", request_body = UpdateAuditSettings,
    responses((status = 200, body = AuditSettings), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn update_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<UpdateAuditSettings>,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    let defaults = Chosen::defaults();
    let retention_days = body.retention_days.unwrap_or(defaults.retention_days);
    if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&retention_days) {
        return Err(ApiError::invalid(
            "retention_days",
            "invalid_retention",
            format!(
                "retention_days must be {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} (the 30-day \
                 key quarantine must stay auditable)"
            ),
        ));
    }
    let default_event_types = match &body.default_event_types {
        Some(list) => {
            let list = statuspulse_api::validate::event_types("default_event_types", list)?;
            sinks::known_patterns("default_event_types", &list)?;
            list
        }
        None => defaults.default_event_types,
    };
    let after = Chosen {
        retention_days,
        default_event_types,
    };
    let mut tx = state.db.begin_write().await?;
    let before = chosen(&mut *tx.tx, caller.workspace_id()).await?;
    if before.as_ref() == Some(&after) {
        // Nothing changes, so nothing is recorded.
        drop(tx);
        return Ok(axum::Json(settings(&state, caller.workspace_id()).await?));
    }
    sqlx::query(
        "INSERT INTO audit_settings (workspace_id, retention_days, default_event_types, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id) DO UPDATE SET \
         retention_days = excluded.retention_days, \
         default_event_types = excluded.default_event_types, updated_at = excluded.updated_at",
    )
    .bind(caller.workspace_id())
    .bind(after.retention_days)
    .bind(list_for_storage(&after.default_event_types))
    .bind(state.clock.now_ms())
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSettingsUpdated,
        caller.actor(),
    )
    .target("workspace", caller.workspace_id())
    .details(json!({
        "before": before.unwrap_or_else(Chosen::defaults).as_json(),
        "after": after.as_json(),
    }));
    super::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}

/// Go back to the defaults (365 days; sinks forward every event unless told otherwise).
#[utoipa::path(delete, path = "/v1/audit-settings", tag = "audit",
    responses((status = 200, body = AuditSettings)), security(("bearer" = ["admin:audit"])))]
pub async fn reset_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    let mut tx = state.db.begin_write().await?;
    let before = chosen(&mut *tx.tx, caller.workspace_id()).await?;
    if let Some(before) = before {
        sqlx::query("DELETE FROM audit_settings WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .execute(&mut *tx.tx)
            .await?;
        let mut after = Chosen::defaults().as_json();
        after["default"] = json!(true);
        let event = NewEvent::success(
            caller.workspace_id(),
            EventType::AuditSettingsUpdated,
            caller.actor(),
        )
        .target("workspace", caller.workspace_id())
        .details(json!({"before": before.as_json(), "after": after}));
        super::commit_with(tx, &state.clock, &event).await?;
    }
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}
