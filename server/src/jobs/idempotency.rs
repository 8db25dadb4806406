//! Idempotency keys are kept 24 hours (CONTRACT "Idempotency"): this job deletes older ones.
//! Requests already treat an expired key as absent, so the job bounds storage, not correctness.

use crate::app::App;
use crate::platform::idempotency;

/// Deletes every idempotency key past its 24 hours; returns how many.
pub async fn purge_expired(app: &App) -> anyhow::Result<u64> {
    let purged = idempotency::purge_expired(&app.db, app.clock.now_ms()).await?;
    if purged > 0 {
        tracing::info!(purged, "deleted idempotency keys past their 24 hours");
    }
    Ok(purged)
}
