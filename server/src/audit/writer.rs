//! Batched appends for events that are not part of a database change: failed authentications.
//!
//! A flood of bad credentials must not turn into one transaction per request, so failures are
//! aggregated ([`super::failures`]) and what is left is queued and appended in batches. The
//! queue is bounded: when it is full, the request that wants to record an event waits, which
//! slows the flood and never drops an event.
//!
//! Durability (issue 8): the first failure of a kind is committed before the request that caused
//! it is answered (unless the database takes longer than [`DURABLE_WAIT`]); repeats are stored
//! every [`FLUSH_INTERVAL`] and at shutdown, so a crash loses at most the last second of counts.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::failures::{Failure, FailureWindows};
use super::NewEvent;
use crate::platform::clock::Clock;
use crate::platform::db::Db;

const QUEUE: usize = 4096;
const BATCH: usize = 256;
/// How often aggregated repeats are stored: what a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long a failed request waits for its first-of-a-kind event to be committed before it is
/// answered anyway (the database is struggling; the event is still queued).
pub const DURABLE_WAIT: Duration = Duration::from_secs(2);

enum Message {
    /// An event, and who waits for it to be committed.
    Event(NewEvent, Option<oneshot::Sender<()>>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone, Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Message>,
    failures: Arc<FailureWindows>,
    clock: Clock,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

impl AuditWriter {
    /// Starts the background appender; it stops when every handle is dropped.
    pub fn start(db: Db, clock: Clock) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, clock.clone(), rx));
        let failures = Arc::new(FailureWindows::default());
        tokio::spawn(store_repeats(
            tx.downgrade(),
            Arc::downgrade(&failures),
            clock.clone(),
        ));
        Self {
            tx,
            failures,
            clock,
        }
    }

    pub async fn record(&self, event: NewEvent) {
        if self.tx.send(Message::Event(event, None)).await.is_err() {
            tracing::error!("audit writer stopped; event not recorded");
        }
    }

    /// Counts a failed authentication: no I/O and, for a repeat, no allocation. Returns the
    /// event to store with [`AuditWriter::store_durably`] when it is the first of its kind.
    pub fn count_failure(&self, failure: &Failure<'_>) -> Option<NewEvent> {
        self.failures.record(failure, self.clock.now_ms())
    }

    /// Queues an event and waits until it is committed (at most [`DURABLE_WAIT`]).
    pub async fn store_durably(&self, event: NewEvent) {
        let (done, committed) = oneshot::channel();
        if self
            .tx
            .send(Message::Event(event, Some(done)))
            .await
            .is_err()
        {
            tracing::error!("audit writer stopped; event not recorded");
            return;
        }
        if tokio::time::timeout(DURABLE_WAIT, committed).await.is_err() {
            tracing::warn!(
                "answering a failed authentication before its audit event is stored: the database is slow"
            );
        }
    }

    /// Waits until every event queued before this call is stored, aggregated repeats included.
    pub async fn flush(&self) {
        for event in self.failures.drain(self.clock.now_ms()) {
            self.record(event).await;
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(db: Db, clock: Clock, mut rx: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut waiters = Vec::new();
        let events: Vec<NewEvent> = batch
            .drain(..)
            .filter_map(|m| match m {
                Message::Event(e, done) => {
                    waiters.extend(done);
                    Some(e)
                }
                Message::Flush(done) => {
                    waiters.push(done);
                    None
                }
            })
            .collect();
        // Retry a failing database rather than lose events; the bounded queue applies pressure.
        let mut attempt = 0u32;
        while !events.is_empty() {
            match store(&db, &clock, &events).await {
                Ok(()) => break,
                Err(e) => {
                    attempt += 1;
                    tracing::error!(error = %e, attempt, "storing audit events failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(
                        (100 * 2u64.pow(attempt.min(6))).min(5000),
                    ))
                    .await;
                }
            }
        }
        for done in waiters {
            let _ = done.send(());
        }
    }
}

/// Stores aggregated repeats every [`FLUSH_INTERVAL`], until the writer is dropped.
async fn store_repeats(
    tx: mpsc::WeakSender<Message>,
    failures: Weak<FailureWindows>,
    clock: Clock,
) {
    let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (Some(tx), Some(failures)) = (tx.upgrade(), failures.upgrade()) else {
            return;
        };
        for event in failures.drain(clock.now_ms()) {
            if tx.send(Message::Event(event, None)).await.is_err() {
                return;
            }
        }
    }
}

async fn store(db: &Db, clock: &Clock, events: &[NewEvent]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for event in events {
        super::append(&mut tx.tx, clock, event).await?;
    }
    tx.commit().await
}
