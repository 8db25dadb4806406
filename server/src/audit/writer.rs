//! Batched appends for events that are not part of a database change: failed authentications.
//!
//! A flood of bad credentials must not turn into one transaction per request, so events are
//! queued and appended in batches. The queue is bounded: when it is full, the request that wants
//! to record an event waits, which slows the flood and never drops an event.

use tokio::sync::{mpsc, oneshot};

use super::NewEvent;
use crate::clock::Clock;
use crate::db::Db;

const QUEUE: usize = 4096;
const BATCH: usize = 256;

enum Message {
    Event(NewEvent),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone, Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Message>,
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
        tokio::spawn(run(db, clock, rx));
        Self { tx }
    }

    pub async fn record(&self, event: NewEvent) {
        if self.tx.send(Message::Event(event)).await.is_err() {
            tracing::error!("audit writer stopped; event not recorded");
        }
    }

    /// Waits until every event queued before this call is stored.
    pub async fn flush(&self) {
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
                Message::Event(e) => Some(e),
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

async fn store(db: &Db, clock: &Clock, events: &[NewEvent]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for event in events {
        super::append(&mut tx.tx, clock, event).await?;
    }
    tx.commit().await
}
