//! Optional Redis fan-out of key changes between replicas.
//!
//! Correctness never depends on it: every replica re-reads cached keys within 30 s anyway. With
//! `STATUSPULSE_REDIS_URL` set, a revocation or scope change on one replica is forgotten by all
//! others as soon as the message arrives.

use std::sync::Arc;

use futures::StreamExt;
use redis::AsyncCommands;

use crate::authn::Authenticator;
use statuspulse_api::key::KeyId;

const CHANNEL: &str = "statuspulse:key-changes";

#[derive(Clone, Default)]
pub struct Fanout {
    publisher: Option<redis::aio::MultiplexedConnection>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("redis", &self.publisher.is_some())
            .finish()
    }
}

impl Fanout {
    /// Connects to Redis and starts the subscriber that forgets changed keys locally.
    pub async fn connect(url: &str, authenticator: Arc<Authenticator>) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let publisher = client.get_multiplexed_async_connection().await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        tokio::spawn(async move {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                if let Ok(key_id) = message.get_payload::<String>() {
                    authenticator.invalidate(&KeyId::from_trusted(key_id));
                }
            }
            tracing::warn!("redis subscription ended; relying on cache refresh for propagation");
        });
        Ok(Self {
            publisher: Some(publisher),
        })
    }

    pub async fn publish_key_change(&self, key_id: &str) {
        if let Some(conn) = &self.publisher {
            let mut conn = conn.clone();
            if let Err(e) = conn.publish::<_, _, ()>(CHANNEL, key_id).await {
                tracing::warn!(error = %e, "publishing a key change to redis failed");
            }
        }
    }
}
