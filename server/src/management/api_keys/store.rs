//! SQL for API keys.

use sqlx::{Any, AnyPool, Transaction};

use super::model::{KeyRow, KeyStatus};
use crate::authz::scopes::{Environment, Scopes};

const COLUMNS: &str = "id, key_id, workspace_id, name, environment, service_account_id, scopes, \
    check_group_ids, alert_route_ids, rotation_days, created_at, updated_at, expires_at, \
    rotate_after, last_used_at, revoked_at, revocation_reason, purge_after, successor_id, \
    environment_clusters";

/// Everything needed to store a freshly generated key.
pub struct NewKey<'a> {
    pub id: &'a str,
    pub key_id: &'a str,
    pub workspace_id: &'a str,
    pub name: &'a str,
    pub environment: Environment,
    pub service_account_id: Option<&'a str>,
    pub scopes: &'a Scopes,
    pub check_group_ids: &'a [String],
    pub alert_route_ids: &'a [String],
    pub environment_clusters: &'a [String],
    pub rotation_days: i64,
    pub secret_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_key(
    tx: &mut Transaction<'static, Any>,
    key: &NewKey<'_>,
) -> Result<(), sqlx::Error> {
    let rotate_after =
        (key.created_at + key.rotation_days * crate::platform::clock::DAY_MS).min(key.expires_at);
    sqlx::query(
        "INSERT INTO api_keys (id, key_id, workspace_id, name, environment, service_account_id, \
         scopes, check_group_ids, alert_route_ids, rotation_days, secret_hash, created_at, \
         updated_at, expires_at, rotate_after, environment_clusters) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15)",
    )
    .bind(key.id)
    .bind(key.key_id)
    .bind(key.workspace_id)
    .bind(key.name)
    .bind(key.environment.as_str())
    .bind(key.service_account_id)
    .bind(key.scopes.to_storage())
    .bind(crate::platform::db::list_for_storage(key.check_group_ids))
    .bind(crate::platform::db::list_for_storage(key.alert_route_ids))
    .bind(key.rotation_days)
    .bind(key.secret_hash)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(rotate_after)
    .bind(crate::platform::db::list_for_storage(
        key.environment_clusters,
    ))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn fetch(
    executor: impl sqlx::Executor<'_, Database = Any>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

pub struct ListFilter<'a> {
    pub status: Option<KeyStatus>,
    pub service_account_id: Option<&'a str>,
}

pub async fn list(
    pool: &AnyPool,
    workspace_id: &str,
    filter: &ListFilter<'_>,
    now: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let status_clause = match filter.status {
        None => "",
        Some(KeyStatus::Active) => " AND revoked_at IS NULL AND expires_at > $4",
        Some(KeyStatus::Rotating) => " AND revoked_at > $4 AND expires_at > $4",
        Some(KeyStatus::Revoked) => " AND revoked_at <= $4",
        Some(KeyStatus::Expired) => {
            " AND (revoked_at IS NULL OR revoked_at > $4) AND expires_at <= $4"
        }
    };
    let sa_clause = if filter.service_account_id.is_some() {
        " AND service_account_id = $5"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE workspace_id = $1 AND id > $2 \
         AND $4 = $4{status_clause}{sa_clause} ORDER BY id LIMIT $3"
    );
    let mut query = sqlx::query_as(&sql)
        .bind(workspace_id)
        .bind(after)
        .bind(limit + 1)
        .bind(now);
    if let Some(sa) = filter.service_account_id {
        query = query.bind(sa);
    }
    query.fetch_all(pool).await
}

pub struct Changes<'a> {
    pub name: &'a str,
    pub scopes: &'a Scopes,
    pub check_group_ids: &'a [String],
    pub alert_route_ids: &'a [String],
    pub environment_clusters: &'a [String],
}

/// Changes a key that is not revoked; `false` when it is (nothing changed).
pub async fn update(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    changes: &Changes<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_keys SET name = $1, scopes = $2, check_group_ids = $3, alert_route_ids = $4, \
         updated_at = $5, environment_clusters = $7 \
         WHERE id = $6 AND (revoked_at IS NULL OR revoked_at > $5)",
    )
    .bind(changes.name)
    .bind(changes.scopes.to_storage())
    .bind(crate::platform::db::list_for_storage(
        changes.check_group_ids,
    ))
    .bind(crate::platform::db::list_for_storage(
        changes.alert_route_ids,
    ))
    .bind(now)
    .bind(id)
    .bind(crate::platform::db::list_for_storage(
        changes.environment_clusters,
    ))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A change of a key's lifecycle state.
pub enum Transition<'a> {
    /// Active → rotating: revoked when the grace period ends, with its successor recorded.
    Rotate {
        grace_until: i64,
        successor_id: &'a str,
    },
    /// Active or rotating → revoked now.
    Revoke { reason: &'a str },
    /// Active or rotating → revoked at `grace_until` (only ever sooner than already set), with
    /// its successor if one is named: a revocation with a grace period.
    Retire {
        grace_until: i64,
        successor_id: Option<&'a str>,
        reason: &'a str,
    },
}

/// Applies a lifecycle transition as one conditional update (compare-and-set on the state it
/// starts from), so racing requests cannot both win or undo each other: `false` when the key
/// was no longer in that state, and nothing changed. Also starts the quarantine clock.
pub async fn transition(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    transition: &Transition<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (revoked_at, reason, successor_id, from_state) = match *transition {
        Transition::Rotate {
            grace_until,
            successor_id,
        } => (
            grace_until,
            "rotated",
            Some(successor_id),
            // Active: never revoked (not even in the future) and not expired.
            "revoked_at IS NULL AND expires_at > $5",
        ),
        Transition::Revoke { reason } => (
            now,
            reason,
            None,
            // Active or rotating: not yet revoked as of now.
            "(revoked_at IS NULL OR revoked_at > $5)",
        ),
        Transition::Retire {
            grace_until,
            successor_id,
            reason,
        } => (
            grace_until,
            reason,
            successor_id,
            // Not expired, and not already revoked by then: a grace period never grows.
            "(revoked_at IS NULL OR revoked_at > $1) AND expires_at > $5",
        ),
    };
    let done = sqlx::query(&format!(
        "UPDATE api_keys SET revoked_at = $1, revocation_reason = $2, purge_after = $3, \
         successor_id = COALESCE($4, successor_id), updated_at = $5 WHERE id = $6 AND {from_state}"
    ))
    .bind(revoked_at)
    .bind(reason)
    .bind(revoked_at + super::QUARANTINE_MS)
    .bind(successor_id)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The usable keys (active, or rotating within their grace period) of a service account: how
/// many, and the first [`NAMED_BLOCKERS`] by id and name, so a refusal can name them.
pub async fn usable_for_service_account(
    tx: &mut sqlx::Transaction<'static, Any>,
    service_account_id: &str,
    now: i64,
) -> Result<(i64, Vec<(String, String)>), sqlx::Error> {
    const USABLE: &str = "FROM api_keys WHERE service_account_id = $1 \
         AND (revoked_at IS NULL OR revoked_at > $2) AND expires_at > $2";
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {USABLE}"))
        .bind(service_account_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
    let named = sqlx::query_as(&format!("SELECT id, name {USABLE} ORDER BY id LIMIT $3"))
        .bind(service_account_id)
        .bind(now)
        .bind(NAMED_BLOCKERS)
        .fetch_all(&mut **tx)
        .await?;
    Ok((count, named))
}

/// How many blocking keys a refusal names; the rest are counted.
pub const NAMED_BLOCKERS: i64 = 10;
