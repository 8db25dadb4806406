//! A real server on port 0 over a fresh database per test, SQLite or PostgreSQL.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use statuspulse_server::app::AppState;
use statuspulse_server::audit::Actor;
use statuspulse_server::{Application, Clock, Settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each named `async fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`. The functions themselves are plain items, so rustfmt formats them.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Every log line every test server writes, to prove secrets never reach the logs.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || BufferWriter(writer.clone()))
            .try_init();
        buffer
    })
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    sqlite_dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("STATUSPULSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    sqlite_dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let name = format!("sp_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    sqlx::PgConnection::connect(&format!("{}/postgres", postgres_admin_url()))
                        .await
                        .expect("PostgreSQL must run on 127.0.0.1:5432 (see README)");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let url = format!("{}/{name}", postgres_admin_url());
                Self {
                    url,
                    sqlite_dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The SQLite database file and its WAL, for byte-level inspection.
    pub fn sqlite_files(&self) -> Vec<std::path::PathBuf> {
        let dir = self.sqlite_dir.as_ref().expect("sqlite test database");
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop cannot be async; a short-lived runtime on its own thread does the cleanup.
            let admin = format!("{}/postgres", postgres_admin_url());
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        use sqlx::Connection;
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                        }
                    });
            })
            .join();
        }
    }
}

/// One running server, the operator workspace and its admin key.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: Clock,
    pub admin_key: String,
    pub workspace_id: String,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A settings tweak: a fixed master key, for tests that seal secrets (SSO client secrets, sink
/// credentials, signing keys).
pub fn with_master_key(settings: &mut Settings) {
    settings.master_key = statuspulse_server::platform::config::MasterKeySource::Value(
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
            .parse()
            .unwrap(),
    );
}

pub struct Options {
    pub clock: Clock,
    pub tweak: fn(&mut Settings),
    /// The public URL, when it is not the bound address: replicas behind one name share it (it
    /// is the issuer of our tokens).
    pub public_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Clock::controllable(),
            tweak: |_| {},
            public_url: None,
        }
    }
}

impl TestApp {
    /// A server on a new database.
    pub async fn spawn(backend: Backend) -> (Self, TestDb) {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> (Self, TestDb) {
        let db = TestDb::new(backend).await;
        let mut app = Self::start(&db.url, options).await;
        let (workspace, key) = statuspulse_server::management::workspaces::provision(
            &app.state,
            "operator",
            "standard",
            true,
            Actor::System,
        )
        .await
        .unwrap();
        app.admin_key = key.key.expose().to_owned();
        app.workspace_id = workspace.id;
        (app, db)
    }

    /// Another replica on an existing database (no bootstrap).
    pub async fn start(url: &str, options: Options) -> Self {
        log_buffer();
        let mut settings = Settings::for_database(url);
        // The test IdPs run on loopback: the explicit development opt-in.
        settings.allow_loopback_idps = true;
        (options.tweak)(&mut settings);
        if let Some(public_url) = &options.public_url {
            settings.public_url = Some(public_url.clone());
        }
        let app = Application::build_with_clock(settings, options.clock.clone())
            .await
            .unwrap();
        let addr = app.local_addr();
        let state = app.state();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            state,
            clock: options.clock,
            admin_key: String::new(),
            workspace_id: String::new(),
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server gracefully (drains, flushes `last_used_at` and audit events).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional bearer key and JSON body; returns status, headers, body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::from(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn verify(&self, key: &str) -> StatusCode {
        self.get("/v1/auth/verify", key).await.status
    }

    /// A new tenant workspace and its admin key.
    pub async fn new_workspace(&self, name: &str) -> (String, String) {
        let answer = self
            .post("/v1/workspaces", &self.admin_key, json!({"name": name}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        (
            answer.body["workspace"]["id"].as_str().unwrap().to_owned(),
            answer.body["admin_key"]["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a key with the admin key; returns the whole answer (including `key`).
    pub async fn create_key(&self, admin_key: &str, body: Value) -> Value {
        let answer = self.post("/v1/api-keys", admin_key, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    /// A service account with one role binding; returns the account's id.
    pub async fn service_account_with(
        &self,
        admin_key: &str,
        name: &str,
        scopes: &[&str],
        clusters: &[&str],
    ) -> String {
        let sa = self
            .post("/v1/service-accounts", admin_key, json!({"name": name}))
            .await;
        assert_eq!(sa.status, StatusCode::CREATED, "{}", sa.body);
        let id = sa.body["id"].as_str().unwrap().to_owned();
        let binding = self
            .post("/v1/role-bindings", admin_key, json!({"service_account_id": id, "scopes": scopes, "environment_clusters": clusters}))
            .await;
        assert_eq!(binding.status, StatusCode::CREATED, "{}", binding.body);
        id
    }

    /// Waits until queued audit events are stored.
    pub async fn flush_audit(&self) {
        self.state.audit.flush().await;
    }

    /// Counts the workspace's audit events of a type.
    pub async fn audit_count(&self, workspace_id: &str, event_type: &str) -> i64 {
        self.flush_audit().await;
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE workspace_id = $1 AND event_type = $2",
        )
        .bind(workspace_id)
        .bind(event_type)
        .fetch_one(self.state.db.pool())
        .await
        .unwrap()
    }

    /// Every stored row of every table the schema has, as text in a stable order: what "changes
    /// nothing" is checked against, so a table added later is covered without touching a test.
    /// Left out: the audit trail (refusals are recorded on purpose: compare [`Self::audit_total`]),
    /// job leases and the signing keys the rotation job makes with the master keys they are
    /// sealed with (background work, which may land while a test runs), and `last_used_at`
    /// (looking with a key is a use). The anomaly detector's tables too (see below).
    pub async fn database_snapshot(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        use sqlx::{Column, Row};
        let pool = self.state.db.pool();
        let tables: Vec<String> = match self.state.db.backend() {
            statuspulse_server::platform::db::Backend::Sqlite => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            ),
            statuspulse_server::platform::db::Backend::Postgres => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            ),
        }
        .fetch_all(pool)
        .await
        .unwrap();
        let skipped = [
            "_sqlx_migrations",
            "audit_events",
            "audit_chain_heads",
            "job_leases",
            "signing_keys",
            "master_keys_used",
            // The anomaly detector's own state, which it moves in the background as it reads
            // the audit trail, and the networks keys were used from (looking with a key is a use).
            "anomaly_cursors",
            "anomaly_incidents",
            "api_key_networks",
        ];
        let mut snapshot = std::collections::BTreeMap::new();
        for table in tables
            .into_iter()
            .filter(|t| !skipped.contains(&t.as_str()))
        {
            let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(pool)
                .await
                .unwrap();
            let mut texts: Vec<String> = rows
                .iter()
                .map(|row| {
                    // The schema has only TEXT and BIGINT columns (migrations/0001_init.sql).
                    (0..row.len())
                        .filter(|&i| row.column(i).name() != "last_used_at")
                        .map(|i| match row.try_get::<Option<String>, _>(i) {
                            Ok(text) => format!("{text:?}"),
                            Err(_) => format!("{:?}", row.try_get::<Option<i64>, _>(i).unwrap()),
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            texts.sort();
            snapshot.insert(table, texts);
        }
        assert!(
            snapshot.contains_key("role_bindings"),
            "tables found: {snapshot:?}"
        );
        snapshot
    }

    /// Audit events in every chain.
    pub async fn audit_total(&self) -> i64 {
        self.flush_audit().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(self.state.db.pool())
            .await
            .unwrap()
    }

    /// The whole `/metrics` page.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Declares eu-prod-1 and us-prod-1 (live) and eu-sandbox (test).
    pub async fn standard_clusters(&self) {
        for (name, env) in [
            ("eu-prod-1", "live"),
            ("us-prod-1", "live"),
            ("eu-sandbox", "test"),
        ] {
            let answer = self
                .post(
                    "/v1/environment-clusters",
                    &self.admin_key,
                    json!({"name": name, "environment": env}),
                )
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        }
    }

    /// A Prometheus series value from `/metrics` (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics_text().await;
        text.lines()
            .filter(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
            .filter(|l| !series.contains('{') || l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}
