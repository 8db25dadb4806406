//! The signing keys' rotation job: runs on one replica under a lease (`jobs::Scope::OneReplica`),
//! and every replica's key ring follows (`authn::signing`).
//!
//! **Which algorithms get keys.** ES256 always: it is the default, and the first token must not
//! wait for a key. RS256 only while some client's `signing_alg` is RS256: an RSA key takes tens
//! of milliseconds to make (each slot, each replica that races for it) and puts a 256-byte
//! modulus in every JWKS fetch, which most deployments would pay for nothing. The first RS256
//! client makes its keys at once ([`ensure`], called when the client is created or switched), so
//! they are published before its first token; from then on the job keeps them two slots ahead
//! like ES256 ones. When no client uses RS256 any more, no new RS256 keys are made and the last
//! ones retire like any other.

use std::sync::Arc;

use serde_json::json;

use crate::app::App;
use crate::audit::{Actor, EventType, NewEvent, SYSTEM_CHAIN};
use crate::authn::signing::{Loaded, SigningAlg, SigningError};

/// Creates the keys of the coming slots and deletes retired ones; records each new key.
pub async fn rotate(app: &App) -> anyhow::Result<()> {
    let mut algs = vec![SigningAlg::Es256];
    let rs256_in_use: Option<(String,)> =
        sqlx::query_as("SELECT id FROM oauth_clients WHERE signing_alg = $1 LIMIT 1")
            .bind(SigningAlg::Rs256.as_str())
            .fetch_optional(app.db.pool())
            .await?;
    if rs256_in_use.is_some() {
        algs.push(SigningAlg::Rs256);
    }
    match create(app, &algs).await {
        // Without a master key the OAuth server is off; nothing to rotate.
        Ok(_) | Err(SigningError::NoMasterKey) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Makes sure `alg` has its keys for now and the next two slots, and returns the ring with them:
/// for the first client of an algorithm, and for a token of an algorithm that has no key yet.
pub async fn ensure(app: &App, alg: SigningAlg) -> Result<Arc<Loaded>, SigningError> {
    create(app, &[alg]).await
}

/// The rotation period (a slot), in milliseconds.
pub fn period_ms(app: &App) -> i64 {
    i64::try_from(app.settings.signing_key_rotation.as_millis()).unwrap_or(i64::MAX)
}

/// The keys of `algs` made (each recorded in the audit trail), then the ring reloaded.
async fn create(app: &App, algs: &[SigningAlg]) -> Result<Arc<Loaded>, SigningError> {
    let now = app.clock.now_ms();
    let period = period_ms(app);
    let ring = &app.access_tokens.ring;
    let master = app.master_keys.as_deref();
    let created = ring
        .rotate(app.db.pool(), master, now, period, algs)
        .await?;
    for (kid, alg) in created {
        let event = NewEvent::success(SYSTEM_CHAIN, EventType::SigningKeyRotated, Actor::System)
            .target("signing_key", &kid)
            .details(json!({"alg": alg.as_str(), "rotation_secs": period / 1000}));
        app.audit.record(event).await;
    }
    ring.reload(app.db.pool(), master, now).await
}
