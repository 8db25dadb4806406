//! Retention: `/v1/audit-settings` (scope `admin:audit`) and the job that prunes events past a
//! workspace's retention from the front of its chain.
//!
//! Pruning never breaks verification: events go in segments, each in one transaction that
//! moves the chain head's anchor (`pruned_seq`, `pruned_hash`: the last pruned event and its
//! hash), so the remaining chain verifies from the anchor, and an event removed by anyone else
//! is still a gap. Each segment is itself recorded (`audit.pruned`, with its range and last
//! hash), so a SIEM holding the events sees where the stored chain now starts. Events a sink
//! has not delivered yet are kept until it has (a sink's copy is the point of it), and the head
//! is never pruned.

use axum::extract::State;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Actor, EventType, NewEvent};
use crate::app::AppState;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{Caller, Json};
use statuspulse_api::v1::audit::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
pub use statuspulse_api::v1::{AuditSettings, UpdateAuditSettings};

/// Events removed per transaction.
const SEGMENT: i64 = 10_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        get_audit_settings,
        update_audit_settings,
        reset_audit_settings
    ))
}

async fn retention_days<'e, E>(executor: E, workspace_id: &str) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_scalar("SELECT retention_days FROM audit_settings WHERE workspace_id = $1")
        .bind(workspace_id)
        .fetch_optional(executor)
        .await
}

async fn settings(state: &AppState, workspace_id: &str) -> Result<AuditSettings, sqlx::Error> {
    let stored = retention_days(state.db.pool(), workspace_id).await?;
    let head: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT seq, pruned_seq, pruned_hash FROM audit_chain_heads WHERE workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(state.db.pool())
    .await?;
    let (head_seq, pruned_seq, pruned_hash) =
        head.unwrap_or((0, 0, super::GENESIS_HASH.to_owned()));
    Ok(AuditSettings {
        workspace_id: workspace_id.to_owned(),
        retention_days: stored.unwrap_or(DEFAULT_RETENTION_DAYS),
        is_default: stored.is_none(),
        pruned_through_seq: pruned_seq,
        pruned_through_hash: pruned_hash,
        head_seq,
    })
}

/// Read the workspace's retention and where its stored chain starts.
#[utoipa::path(get, path = "/v1/audit-settings", tag = "audit",
    responses((status = 200, body = AuditSettings)), security(("bearer" = ["admin:audit"])))]
pub async fn get_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}

/// Set the workspace's retention. A shorter one prunes within the hour; recording is always on.
#[utoipa::path(put, path = "/v1/audit-settings", tag = "audit", request_body = UpdateAuditSettings,
    responses((status = 200, body = AuditSettings), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn update_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<UpdateAuditSettings>,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&body.retention_days) {
        return Err(ApiError::invalid(
            "retention_days",
            "invalid_retention",
            format!(
                "retention_days must be {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} (the 30-day \
                 key quarantine must stay auditable)"
            ),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let before = retention_days(&mut *tx.tx, caller.workspace_id()).await?;
    if before == Some(body.retention_days) {
        // Nothing changes, so nothing is recorded.
        drop(tx);
        return Ok(axum::Json(settings(&state, caller.workspace_id()).await?));
    }
    sqlx::query(
        "INSERT INTO audit_settings (workspace_id, retention_days, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id) DO UPDATE SET retention_days = excluded.retention_days, \
         updated_at = excluded.updated_at",
    )
    .bind(caller.workspace_id())
    .bind(body.retention_days)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AuditSettingsUpdated,
        caller.actor(),
    )
    .target("workspace", caller.workspace_id())
    .details(json!({
        "before": {"retention_days": before.unwrap_or(DEFAULT_RETENTION_DAYS)},
        "after": {"retention_days": body.retention_days},
    }));
    super::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}

/// Go back to the default retention (365 days).
#[utoipa::path(delete, path = "/v1/audit-settings", tag = "audit",
    responses((status = 200, body = AuditSettings)), security(("bearer" = ["admin:audit"])))]
pub async fn reset_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<AuditSettings>> {
    caller.require(Scope::AdminAudit)?;
    let mut tx = state.db.begin_write().await?;
    let before = retention_days(&mut *tx.tx, caller.workspace_id()).await?;
    if let Some(before) = before {
        sqlx::query("DELETE FROM audit_settings WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .execute(&mut *tx.tx)
            .await?;
        let event = NewEvent::success(
            caller.workspace_id(),
            EventType::AuditSettingsUpdated,
            caller.actor(),
        )
        .target("workspace", caller.workspace_id())
        .details(json!({
            "before": {"retention_days": before},
            "after": {"retention_days": DEFAULT_RETENTION_DAYS, "default": true},
        }));
        super::commit_with(tx, &state.clock, &event).await?;
    }
    Ok(axum::Json(settings(&state, caller.workspace_id()).await?))
}

/// Prunes every chain's events past retention (the job, on one replica). Returns how many
/// events were removed.
pub async fn prune(state: &AppState) -> Result<u64, sqlx::Error> {
    let chains: Vec<(String,)> =
        sqlx::query_as("SELECT workspace_id FROM audit_chain_heads ORDER BY workspace_id")
            .fetch_all(state.db.pool())
            .await?;
    let mut removed = 0;
    for (workspace_id,) in chains {
        let days = retention_days(state.db.pool(), &workspace_id)
            .await?
            .unwrap_or(DEFAULT_RETENTION_DAYS);
        while let Some(n) = prune_segment(state, &workspace_id, days).await? {
            removed += n;
        }
    }
    Ok(removed)
}

/// Removes one segment of `workspace_id`'s chain past retention; `None` when there is none.
async fn prune_segment(
    state: &AppState,
    workspace_id: &str,
    days: i64,
) -> Result<Option<u64>, sqlx::Error> {
    let cutoff = state.clock.now_ms() - days * DAY_MS;
    let mut tx = state.db.begin_write().await?;
    let (head_seq, pruned_seq): (i64, i64) =
        sqlx::query_as("SELECT seq, pruned_seq FROM audit_chain_heads WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&mut *tx.tx)
            .await?;
    // Never the head, never what an enabled sink has yet to deliver, one segment at a time.
    let undelivered: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(delivered_seq) FROM audit_sinks WHERE workspace_id = $1 AND enabled = 1",
    )
    .bind(workspace_id)
    .fetch_one(&mut *tx.tx)
    .await?;
    let limit = (head_seq - 1)
        .min(undelivered.unwrap_or(i64::MAX))
        .min(pruned_seq + SEGMENT);
    if limit <= pruned_seq {
        return Ok(None);
    }
    let end: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM audit_events WHERE workspace_id = $1 AND seq > $2 AND seq <= $3 \
         AND occurred_at < $4",
    )
    .bind(workspace_id)
    .bind(pruned_seq)
    .bind(limit)
    .bind(cutoff)
    .fetch_one(&mut *tx.tx)
    .await?;
    let Some(end) = end else { return Ok(None) };
    let hash: String =
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE workspace_id = $1 AND seq = $2")
            .bind(workspace_id)
            .bind(end)
            .fetch_one(&mut *tx.tx)
            .await?;
    let removed =
        sqlx::query("DELETE FROM audit_events WHERE workspace_id = $1 AND seq > $2 AND seq <= $3")
            .bind(workspace_id)
            .bind(pruned_seq)
            .bind(end)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
    sqlx::query(
        "UPDATE audit_chain_heads SET pruned_seq = $1, pruned_hash = $2 WHERE workspace_id = $3",
    )
    .bind(end)
    .bind(&hash)
    .bind(workspace_id)
    .execute(&mut *tx.tx)
    .await?;
    let event =
        NewEvent::success(workspace_id, EventType::AuditPruned, Actor::System).details(json!({
            "from_seq": pruned_seq + 1,
            "through_seq": end,
            "through_hash": hash,
            "events_removed": removed,
            "retention_days": days,
        }));
    super::append(&mut tx.tx, &state.clock, &event).await?;
    tx.commit().await?;
    tracing::info!(workspace = %workspace_id, through_seq = end, removed, "pruned audit events past retention");
    Ok(Some(removed))
}
