//! Leases in the database (`job_leases`): which replica does a piece of cluster-wide work
//! (a job, an audit sink's delivery) while several share one database.

use crate::platform::db::Db;

/// Takes or renews the lease on `job` for `holder` until `now + ttl_ms`: true when `holder`
/// holds it now. One conditional upsert, so of replicas racing for a free lease exactly one wins.
/// It goes through the writer lock like every write: on SQLite a write beside it would make a
/// transaction that read first fail to upgrade (`SQLITE_BUSY_SNAPSHOT`, not waited for).
pub async fn try_lease(
    db: &Db,
    job: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4",
    )
    .bind(job)
    .bind(holder)
    .bind(now.saturating_add(ttl_ms))
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
