//! The database: one SQL dialect for SQLite (the embedded default) and PostgreSQL (production and
//! scale-out), through sqlx's `Any` driver.
//!
//! Queries use `$n` placeholders, which both backends accept, and only TEXT and BIGINT columns.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, MutexGuard};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool plus what it takes to write safely on each backend.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; taking this before `BEGIN` turns lock-upgrade deadlocks
    /// (`SQLITE_BUSY` that no timeout cures) into an orderly queue. PostgreSQL does not need it.
    sqlite_writer: Arc<Mutex<()>>,
}

/// A write transaction; on SQLite it also holds the writer lock until it ends.
pub struct WriteTx<'a> {
    pub tx: Transaction<'static, sqlx::Any>,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL: expected sqlite:… or postgres://…");
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("running database migrations")
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn begin_write(&self) -> Result<WriteTx<'_>, sqlx::Error> {
        Ok(match self.backend {
            // IMMEDIATE takes SQLite's write lock at the start (waiting out `busy_timeout` if a
            // statement outside this lock is writing): a deferred transaction that reads first
            // would fail to upgrade, without waiting, if anyone wrote since its read.
            Backend::Sqlite => {
                let writer = self.sqlite_writer.lock().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _writer: Some(writer),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _writer: None,
            },
        })
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

impl WriteTx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Fetches the row of `table` with this typed id in this workspace. Anything else, including a
/// malformed id or another workspace's object, is the same 404: existence is never disclosed.
pub async fn find_in_workspace<T>(
    db: &Db,
    table: &str,
    columns: &str,
    prefix: &str,
    workspace_id: &str,
    id: &str,
) -> crate::error::ApiResult<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    crate::platform::ids::expect_prefix(id, prefix)?;
    sqlx::query_as(&format!(
        "SELECT {columns} FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(crate::error::ApiError::not_found)
}

/// Reads back, inside the transaction that wrote it, the row of `table` with this id in this
/// workspace: a create's answer, recorded before the create commits (idempotent creates).
pub async fn find_in_tx<T>(
    tx: &mut WriteTx<'_>,
    table: &str,
    columns: &str,
    workspace_id: &str,
    id: &str,
) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    sqlx::query_as(&format!(
        "SELECT {columns} FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_one(&mut *tx.tx)
    .await
}

/// Reads back a JSON list column (restrictions, cluster names). Only the server writes these, so
/// one that does not parse is corruption: an error, so the request fails closed, never an empty
/// list, which for restrictions and bindings would mean "everywhere".
pub fn stored_list(column: &str, text: &str) -> Result<Vec<String>, sqlx::Error> {
    serde_json::from_str(text)
        .map_err(|e| sqlx::Error::Decode(format!("stored {column} is corrupt: {e}").into()))
}

/// The JSON text of a list column (restrictions, cluster names), as [`stored_list`] reads it
/// back. Built through `Value`, whose rendering has no error case, unlike `to_string` of a `T`.
pub fn list_for_storage(items: &[String]) -> String {
    serde_json::Value::from(items).to_string()
}

/// Reads back a scopes column (names separated by spaces); see [`stored_list`] on corruption.
pub fn stored_scopes(text: &str) -> Result<statuspulse_api::scopes::Scopes, sqlx::Error> {
    statuspulse_api::scopes::Scopes::parse(text.split_whitespace())
        .map_err(|e| sqlx::Error::Decode(format!("stored scopes are corrupt: {e}").into()))
}

fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    Ok(())
}
