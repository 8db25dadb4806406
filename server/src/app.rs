//! The application: its state (passed to every handler as `State<AppState>`; nothing is global),
//! how it is built from [`Settings`], served, and what runs in the background.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::audit::{self, AuditWriter};
use crate::authn::fanout::Fanout;
use crate::authn::Authenticator;
use crate::management;
use crate::platform::clock::Clock;
use crate::platform::config::Settings;
use crate::platform::db::Db;
use crate::platform::metrics::Metrics;
use crate::platform::rate_limit::RateLimiter;
use crate::platform::secrets::{self, MasterKeys};

#[derive(Debug)]
pub struct App {
    /// This process's id among the replicas sharing the database (job leases).
    pub replica_id: String,
    pub db: Db,
    pub clock: Clock,
    pub settings: Settings,
    pub authenticator: Arc<Authenticator>,
    pub rate_limiter: RateLimiter,
    pub audit: AuditWriter,
    pub metrics: Arc<Metrics>,
    pub fanout: Fanout,
    /// Seals and opens secrets the server must read back; `None` without a master key.
    pub master_keys: Option<Arc<MasterKeys>>,
    /// Our own tokens' signing keys and the sessions revoked since their tokens were issued.
    pub access_tokens: Arc<crate::authn::access_token::AccessTokens>,
    /// OAuth client secrets already checked.
    pub oauth_secrets: crate::oauth::ClientSecrets,
    /// The OIDC relying party of sign-in: discovery and keys of the connections' issuers.
    pub sign_in: crate::signin::oidc::RelyingParty,
    /// Keys of the workload platforms whose tokens are exchanged (`oauth::exchange`).
    pub workload_issuers: crate::oauth::exchange::WorkloadIssuers,
    /// Audit sink delivery of this replica (`audit::sinks::delivery`).
    pub sinks: crate::audit::sinks::Deliverer,
    /// Bytes of request bodies that may be buffered at once, across all requests (one permit per
    /// byte), so many slow or large bodies cannot take the memory.
    pub body_budget: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// A session was revoked: its access tokens are refused here at once, and on the other
    /// replicas as soon as Redis says so (or their poll finds it).
    pub async fn session_revoked(&self, session_id: &str, now_ms: i64) {
        self.access_tokens.session_revoked(session_id, now_ms);
        self.fanout.publish_session_revoked(session_id).await;
    }

    /// The base URL browsers and identity providers reach this server at, without a trailing
    /// `/` (`--public-url`, else the bound address).
    pub fn public_url(&self) -> String {
        self.settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.settings.listen))
    }
}

#[derive(Clone, Debug)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Connects to the database, migrates it and assembles the shared state (no listener, no jobs).
pub async fn build_state(settings: Settings, clock: Clock) -> anyhow::Result<AppState> {
    let db = Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    let master_keys = secrets::load(&settings)?.map(Arc::new);
    secrets::check_can_open_stored(db.pool(), master_keys.as_deref()).await?;
    let metrics = Arc::new(Metrics::default());
    let authenticator = Arc::new(Authenticator::new(
        db.clone(),
        clock.clone(),
        metrics.clone(),
        &settings,
    ));
    let access_tokens = Arc::new(crate::authn::access_token::AccessTokens::default());
    let fanout = match &settings.redis_url {
        Some(url) => Fanout::connect(
            url,
            authenticator.clone(),
            access_tokens.clone(),
            clock.clone(),
        )
        .await
        .context("connecting to redis")?,
        None => Fanout::default(),
    };
    let mut rate_limiter = RateLimiter::new(&settings.rate_limit_tiers, clock.clone());
    if let Some(url) = &settings.redis_url {
        rate_limiter = rate_limiter
            .share_through(url)
            .await
            .context("connecting to redis for shared rate limits")?;
    }
    let body_budget = Arc::new(tokio::sync::Semaphore::new(settings.body_memory_budget));
    Ok(AppState(Arc::new(App {
        replica_id: uuid::Uuid::new_v4().simple().to_string(),
        sinks: crate::audit::sinks::Deliverer::new(&settings),
        body_budget,
        master_keys,
        sign_in: crate::signin::oidc::RelyingParty::new(),
        workload_issuers: crate::oauth::exchange::WorkloadIssuers::default(),
        access_tokens,
        oauth_secrets: crate::oauth::ClientSecrets::default(),
        audit: AuditWriter::start(db.clone(), clock.clone()),
        rate_limiter,
        db,
        clock,
        settings,
        authenticator,
        metrics,
        fanout,
    })))
}

/// A running server: state, bound listener and background jobs.
pub struct Application {
    state: AppState,
    listener: TcpListener,
    local_addr: SocketAddr,
    jobs: Vec<JoinHandle<()>>,
}

impl Application {
    /// Builds on the system clock.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let local_addr = listener
            .local_addr()
            .with_context(|| format!("reading the address bound for {}", settings.listen))?;
        if settings.public_url.is_none() {
            settings.public_url = Some(format!("http://{local_addr}"));
        }
        let state = build_state(settings, clock).await?;
        let jobs = spawn_jobs(&state);
        Ok(Self {
            state,
            listener,
            local_addr,
            jobs,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then drains connections and flushes buffered state.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = crate::router::router(self.state.clone());
        crate::http::serve::serve(
            self.listener,
            router,
            &self.state.settings,
            self.state.metrics.clone(),
            shutdown,
        )
        .await;
        for job in &self.jobs {
            job.abort();
        }
        self.state.sinks.stop();
        if let Err(e) = self.state.authenticator.flush_last_used().await {
            tracing::warn!(error = %e, "could not write last_used_at at shutdown");
        }
        if let Err(e) = self.state.authenticator.flush_networks().await {
            tracing::warn!(error = %e, "could not write key networks at shutdown");
        }
        self.state.audit.flush().await;
        Ok(())
    }
}

/// How often idempotency keys past their 24 hours are deleted: at most this much past it they
/// take room (they are already ignored).
const IDEMPOTENCY_PURGE_EVERY: Duration = Duration::from_secs(600);

/// How often the signing keys are checked (a rotation slot is hours; a minute is plenty).
const SIGNING_KEY_CHECK_EVERY: Duration = Duration::from_secs(60);

/// How often expired sign-in states, replay-cache entries and long-ended sessions are deleted.
const SIGN_IN_PURGE_EVERY: Duration = Duration::from_secs(300);

/// Periodic work: the quarantine purge and idempotency key expiry (one replica each, under a
/// lease), and each replica's `last_used_at` write-back and pruning of in-memory limits.
fn spawn_jobs(state: &AppState) -> Vec<JoinHandle<()>> {
    use crate::jobs::{self, Job, Scope};
    [
        Job {
            name: "quarantine purge",
            every: state.settings.purge_interval,
            scope: Scope::OneReplica("quarantine_purge"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = jobs::purge::purge_quarantined(&s).await {
                        tracing::error!(error = format!("{e:#}"), "quarantine purge failed");
                    }
                })
            },
        },
        Job {
            name: "idempotency key expiry",
            every: IDEMPOTENCY_PURGE_EVERY,
            scope: Scope::OneReplica("idempotency_purge"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = jobs::idempotency::purge_expired(&s).await {
                        tracing::error!(error = format!("{e:#}"), "idempotency key expiry failed");
                    }
                })
            },
        },
        Job {
            name: "sign-in state expiry",
            every: SIGN_IN_PURGE_EVERY,
            scope: Scope::OneReplica("sign_in_purge"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = jobs::sign_in::purge_expired(&s).await {
                        tracing::error!(error = format!("{e:#}"), "sign-in state expiry failed");
                    }
                })
            },
        },
        Job {
            name: "anomaly detection",
            every: crate::anomaly::DETECT_EVERY,
            scope: Scope::OneReplica("anomaly_detection"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = crate::anomaly::detect(&s).await {
                        tracing::error!(error = format!("{e:#}"), "anomaly detection failed");
                    }
                })
            },
        },
        Job {
            name: "signing key rotation",
            every: SIGNING_KEY_CHECK_EVERY,
            scope: Scope::OneReplica("signing_key_rotation"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = crate::oauth::keys::rotate(&s).await {
                        tracing::error!(error = format!("{e:#}"), "signing key rotation failed");
                    }
                })
            },
        },
        Job {
            name: "audit sink delivery",
            every: crate::audit::sinks::delivery::DISPATCH_EVERY,
            scope: Scope::EachReplica,
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = crate::audit::sinks::delivery::dispatch(&s).await {
                        tracing::warn!(error = %e, "looking for audit sinks to deliver failed");
                    }
                })
            },
        },
        Job {
            name: "audit retention",
            every: Duration::from_secs(3600),
            scope: Scope::OneReplica("audit_retention"),
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = crate::audit::retention::prune(&s).await {
                        tracing::error!(error = %e, "pruning audit events past retention failed");
                    }
                })
            },
        },
        Job {
            name: "audit sink metrics",
            every: Duration::from_secs(15),
            scope: Scope::EachReplica,
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = crate::audit::sinks::delivery::refresh_metrics(&s).await {
                        tracing::warn!(error = %e, "reading audit sink state for metrics failed");
                    }
                })
            },
        },
        Job {
            name: "revoked sessions poll",
            every: Duration::from_millis(
                u64::try_from(crate::authn::access_token::REVOCATION_POLL_MS).unwrap_or(5_000),
            ),
            scope: Scope::EachReplica,
            run: |s| {
                Box::pin(async move {
                    let now = s.clock.now_ms();
                    if let Err(e) = s.access_tokens.poll_revocations(s.db.pool(), now).await {
                        tracing::warn!(error = %e, "reading revoked sessions failed");
                    }
                })
            },
        },
        Job {
            name: "last_used_at write-back",
            every: state.settings.last_used_flush,
            scope: Scope::EachReplica,
            run: |s| {
                Box::pin(async move {
                    if let Err(e) = s.authenticator.flush_last_used().await {
                        tracing::warn!(error = %e, "writing last_used_at failed");
                    }
                    if let Err(e) = s.authenticator.flush_networks().await {
                        tracing::warn!(error = %e, "writing key networks failed");
                    }
                })
            },
        },
        Job {
            name: "in-memory pruning",
            every: Duration::from_secs(60),
            scope: Scope::EachReplica,
            run: |s| {
                Box::pin(async move {
                    s.rate_limiter.prune();
                    s.authenticator.prune();
                })
            },
        },
    ]
    .into_iter()
    .map(|job| jobs::spawn(state, job))
    .collect()
}

/// `bootstrap`: creates the operator workspace and its admin key. Refuses if any workspace
/// exists, so the command cannot be used to mint keys later.
pub async fn bootstrap(
    settings: Settings,
    workspace_name: &str,
) -> anyhow::Result<(
    management::workspaces::Workspace,
    management::api_keys::CreatedApiKey,
)> {
    let state = build_state(settings, Clock::system()).await?;
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
        .fetch_one(state.db.pool())
        .await?;
    anyhow::ensure!(
        existing == 0,
        "the database already has workspaces; bootstrap runs once"
    );
    let name = management::validate::name("workspace_name", workspace_name)
        .map_err(|_| anyhow::anyhow!("the workspace name must be 1 to 200 characters"))?;
    let created =
        management::workspaces::provision(&state, &name, "standard", true, audit::Actor::System)
            .await?;
    state.audit.flush().await;
    Ok(created)
}
