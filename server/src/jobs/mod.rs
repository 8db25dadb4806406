//! Background jobs: periodic work of each replica, and cluster-wide work that one replica at a
//! time does under a lease.
//!
//! A replica's own state (buffered `last_used_at` times, in-memory limits) is its own job. Work on
//! shared state (the quarantine purge, expired idempotency keys and sign-in state; anomaly detection, later outbox delivery)
//! takes the job's lease in the database first, so several replicas sharing one PostgreSQL do it
//! once, and another replica takes over within one lease period when the holder stops.

pub mod idempotency;
pub mod purge;
pub mod sign_in;

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::app::AppState;

/// Where a job runs.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// On every replica, for the replica's own state.
    EachReplica,
    /// On the one replica holding the named lease.
    OneReplica(&'static str),
}

/// A periodic job: a description, cheap to copy.
#[derive(Clone, Copy)]
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    pub scope: Scope,
    pub run: fn(AppState) -> BoxFuture<'static, ()>,
}

/// Runs `job` every period until the handle is aborted (at shutdown).
pub fn spawn(state: &AppState, job: Job) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(job.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The lease outlives one period, so the holder renews it before anyone else may take it.
        let ttl_ms = i64::try_from(job.every.as_millis().saturating_mul(2)).unwrap_or(i64::MAX);
        loop {
            ticker.tick().await;
            if let Scope::OneReplica(lease) = job.scope {
                let now = state.clock.now_ms();
                match try_lease(&state.db, lease, &state.replica_id, now, ttl_ms).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(job = job.name, error = %e, "could not take the job's lease");
                        continue;
                    }
                }
            }
            (job.run)(state.clone()).await;
        }
    })
}

pub use crate::platform::leases::try_lease;
