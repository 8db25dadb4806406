//! The signing keys' rotation job: runs on one replica under a lease (`jobs::Scope::OneReplica`),
//! and every replica's key ring follows (`authn::signing`).

use serde_json::json;

use crate::app::App;
use crate::audit::{Actor, EventType, NewEvent, SYSTEM_CHAIN};
use crate::authn::signing;

/// Creates the keys of the coming slots and deletes retired ones; records each new key.
pub async fn rotate(app: &App) -> anyhow::Result<()> {
    let now = app.clock.now_ms();
    let period = i64::try_from(app.settings.signing_key_rotation.as_millis()).unwrap_or(i64::MAX);
    let created =
        match signing::rotate(app.db.pool(), app.master_keys.as_deref(), now, period).await {
            Ok(created) => created,
            // Without a master key the OAuth server is off; nothing to rotate.
            Err(signing::SigningError::NoMasterKey) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
    for kid in created {
        let event = NewEvent::success(SYSTEM_CHAIN, EventType::SigningKeyRotated, Actor::System)
            .target("signing_key", &kid)
            .details(json!({"alg": signing::ALG, "rotation_secs": period / 1000}));
        app.audit.record(event).await;
    }
    app.access_tokens
        .ring
        .reload(app.db.pool(), app.master_keys.as_deref(), now)
        .await?;
    Ok(())
}
