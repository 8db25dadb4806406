//! Sign-in leaves short-lived rows behind: states of sign-ins never finished (10 minutes), SAML
//! assertion ids and exchanged workload tokens kept against replay (until they expire), and
//! sessions long over.
//! Requests already ignore every expired one, so this job bounds storage, not correctness.

use crate::app::App;

/// Ended sessions stay listed (`GET /v1/sessions`) this long after they end, then go.
pub const ENDED_SESSIONS_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

/// Deletes expired sign-in states and replay-cache entries, and sessions ended more than
/// [`ENDED_SESSIONS_KEPT_MS`] ago; returns how many rows.
pub async fn purge_expired(app: &App) -> anyhow::Result<u64> {
    let now = app.clock.now_ms();
    let pool = app.db.pool();
    let states = sqlx::query("DELETE FROM sso_login_states WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
    let assertions = sqlx::query("DELETE FROM saml_assertions_seen WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
    let assertions = assertions
        + sqlx::query("DELETE FROM workload_tokens_seen WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    let cutoff = now - ENDED_SESSIONS_KEPT_MS;
    let idle_cutoff = cutoff - app.settings.session_lifetimes().idle_ms;
    let sessions = sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1 OR last_seen_at <= $2",
    )
    .bind(cutoff)
    .bind(idle_cutoff)
    .execute(pool)
    .await?
    .rows_affected()
        + sqlx::query(
            "DELETE FROM key_sessions WHERE expires_at <= $1 OR revoked_at <= $1 \
             OR last_seen_at <= $2",
        )
        .bind(cutoff)
        .bind(idle_cutoff)
        .execute(pool)
        .await?
        .rows_affected();
    let total = states + assertions + sessions;
    if total > 0 {
        tracing::info!(
            states,
            assertions,
            sessions,
            "deleted expired sign-in state"
        );
    }
    Ok(total)
}
