//! Application state, passed to every handler as `State<AppState>`; nothing is global.

use std::ops::Deref;
use std::sync::Arc;

use crate::audit::AuditWriter;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::fanout::Fanout;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::verify::Authenticator;

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
    /// Bytes of request bodies that may be buffered at once, across all requests (one permit per
    /// byte), so many slow or large bodies cannot take the memory.
    pub body_budget: Arc<tokio::sync::Semaphore>,
}

#[derive(Clone, Debug)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
