//! The quarantine purge: revoked and expired keys are deleted for good 30 days later.

use serde_json::json;

use crate::app::App;
use crate::audit::{self, Actor, EventType, NewEvent};
use crate::management::api_keys::QUARANTINE_MS;

/// Keys whose quarantine has ended: revoked 30 days ago, or expired 30 days ago unrevoked.
const QUARANTINE_OVER: &str = "((purge_after IS NOT NULL AND purge_after <= $1) \
    OR (revoked_at IS NULL AND expires_at <= $2))";

/// Deletes every key whose quarantine has ended, each with an `api_key.purged` event in its
/// workspace's chain. Returns how many were purged.
pub async fn purge_quarantined(app: &App) -> anyhow::Result<usize> {
    let now = app.clock.now_ms();
    let due: Vec<(String, String, String, String)> = sqlx::query_as(&format!(
        "SELECT id, key_id, workspace_id, name FROM api_keys WHERE {QUARANTINE_OVER} \
         ORDER BY id LIMIT 1000"
    ))
    .bind(now)
    .bind(now - QUARANTINE_MS)
    .fetch_all(app.db.pool())
    .await?;
    let mut purged = 0;
    for (id, key_id, workspace_id, name) in &due {
        let mut tx = app.db.begin_write().await?;
        // Conditional again: another replica may have purged it, or a change moved it out of
        // quarantine, since the list was read. Only a real deletion is recorded.
        let deleted = sqlx::query(&format!(
            "DELETE FROM api_keys WHERE id = $3 AND {QUARANTINE_OVER}"
        ))
        .bind(now)
        .bind(now - QUARANTINE_MS)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        if deleted.rows_affected() == 0 {
            continue;
        }
        purged += 1;
        let event = NewEvent::success(workspace_id, EventType::ApiKeyPurged, Actor::System)
            .target("api_key", id)
            .details(json!({"key_id": key_id, "name": name}));
        audit::commit_with(tx, &app.clock, &event).await?;
    }
    if purged > 0 {
        tracing::info!(purged, "purged keys whose quarantine ended");
    }
    Ok(purged)
}
