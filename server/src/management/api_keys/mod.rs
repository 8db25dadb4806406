//! API keys: creation, rotation, revocation with a 30-day quarantine, and the purge job.

mod model;
pub(crate) mod routes;
mod store;

pub use model::{ApiKeyView, CreatedApiKey, KeyStatus};
pub use routes::router;
pub use store::{insert_key, usable_for_service_account, NewKey};

use crate::platform::clock::DAY_MS;

/// How long a revoked (or expired) key stays readable before it is deleted for good (docs/CONTRACT.md,
/// "Credentials").
pub const QUARANTINE_MS: i64 = 30 * DAY_MS;
pub use crate::management::validate::{
    DEFAULT_GRACE_HOURS, DEFAULT_ROTATION_DAYS, MAX_GRACE_HOURS, MAX_LIFETIME_DAYS,
};

/// The public view of one key, for callers outside this module (effective access).
pub async fn fetch_view(
    app: &crate::app::App,
    workspace_id: &str,
    id: &str,
) -> anyhow::Result<ApiKeyView> {
    let row = store::fetch(app.db.pool(), workspace_id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("key {id} not found"))?;
    Ok(row.view(app.clock.now_ms()))
}

/// The public view of a key inside the transaction creating it (workspace provisioning).
pub async fn fetch_view_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    workspace_id: &str,
    id: &str,
    now: i64,
) -> anyhow::Result<ApiKeyView> {
    let row = store::fetch(&mut **tx, workspace_id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("key {id} not found"))?;
    Ok(row.view(now))
}
