//! Optional Redis fan-out of key changes and session revocations between replicas.
//!
//! Correctness never depends on it: every replica re-reads cached keys within 30 s, and polls
//! revoked sessions every 5 s, anyway. With `STATUSPULSE_REDIS_URL` set, a revocation or scope
//! change on one replica is forgotten by all others as soon as the message arrives, and the
//! access tokens of a revoked session are refused there too.

use std::sync::Arc;

use futures::StreamExt;
use redis::AsyncCommands;

use crate::authn::access_token::AccessTokens;
use crate::authn::Authenticator;
use statuspulse_api::key::KeyId;

const CHANNEL: &str = "statuspulse:key-changes";
/// Messages about sessions carry this prefix; key ids (base64url) never contain a colon.
const SESSION_PREFIX: &str = "session:";

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
    pub async fn connect(
        url: &str,
        authenticator: Arc<Authenticator>,
        access_tokens: Arc<AccessTokens>,
        clock: crate::platform::clock::Clock,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let publisher = client.get_multiplexed_async_connection().await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        tokio::spawn(async move {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                match payload.strip_prefix(SESSION_PREFIX) {
                    Some(session_id) => access_tokens.session_revoked(session_id, clock.now_ms()),
                    None => authenticator.invalidate(&KeyId::from_trusted(payload)),
                }
            }
            tracing::warn!("redis subscription ended; relying on cache refresh for propagation");
        });
        Ok(Self {
            publisher: Some(publisher),
        })
    }

    /// Tells the other replicas that a session was revoked: they refuse its access tokens.
    pub async fn publish_session_revoked(&self, session_id: &str) {
        if let Some(conn) = &self.publisher {
            let mut conn = conn.clone();
            let message = format!("{SESSION_PREFIX}{session_id}");
            if let Err(e) = conn.publish::<_, _, ()>(CHANNEL, message).await {
                tracing::warn!(error = %e, "publishing a session revocation to redis failed");
            }
        }
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
