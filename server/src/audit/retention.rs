//! Retention: the job that prunes events past a workspace's retention (set through
//! `/v1/audit-settings`, settings.rs) from the front of its chain.
//!
//! Pruning never breaks verification: events go in segments, each in one transaction that
//! moves the chain head's anchor (`pruned_seq`, `pruned_hash`: the last pruned event and its
//! hash), so the remaining chain verifies from the anchor, and an event removed by anyone else
//! is still a gap. Each segment is itself recorded (`audit.pruned`, with its range and last
//! hash), so a SIEM holding the events sees where the stored chain now starts. Events a sink
//! has not delivered yet are kept until it has (a sink's copy is the point of it), and the head
//! is never pruned.

use serde_json::json;

use super::{Actor, EventType, NewEvent};
use crate::app::AppState;
use statuspulse_api::v1::audit::DEFAULT_RETENTION_DAYS;

/// Events removed per transaction.
const SEGMENT: i64 = 10_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The workspace's retention in days, when one was set.
async fn retention_days<'e, E>(executor: E, workspace_id: &str) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_scalar("SELECT retention_days FROM audit_settings WHERE workspace_id = $1")
        .bind(workspace_id)
        .fetch_optional(executor)
        .await
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
