//! The master key: a database holding secrets sealed with a key the server was not given refuses
//! to start, and says which key it needs without showing any key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use statuspulse_server::platform::config::{MasterKeySource, SecretArg};
use statuspulse_server::platform::secrets;
use statuspulse_server::{build_state, Clock, Settings};

use crate::helpers::{Backend, TestDb};
use crate::on_both_backends;

on_both_backends!(a_database_sealed_with_another_master_key_refuses_to_start);

fn key(byte: u8) -> SecretArg {
    STANDARD.encode([byte; 32]).parse().unwrap()
}

fn settings(url: &str, current: Option<SecretArg>, previous: Vec<SecretArg>) -> Settings {
    let mut settings = Settings::for_database(url);
    settings.master_key = current.map_or(MasterKeySource::Default, MasterKeySource::Value);
    settings.master_key_previous = previous;
    settings
}

async fn a_database_sealed_with_another_master_key_refuses_to_start(backend: Backend) {
    let db = TestDb::new(backend).await;
    // A server seals a secret with key A.
    let state = build_state(settings(&db.url, Some(key(1)), vec![]), Clock::system())
        .await
        .unwrap();
    let keys = state.master_keys.clone().unwrap();
    let sealed = keys.seal(b"an sso client secret", "test:context").unwrap();
    let mut tx = state.db.begin_write().await.unwrap();
    secrets::record_use(&mut tx.tx, keys.current_id(), 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let key_a_id = keys.current_id().to_owned();
    drop(state);

    // Given key B only, or no key at all, it refuses, naming key A by id and never a key.
    for (current, label) in [(Some(key(2)), "another key"), (None, "no key")] {
        let refused = build_state(settings(&db.url, current, vec![]), Clock::system())
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {label}"));
        let message = format!("{refused:#}");
        assert!(message.contains(&key_a_id), "{label}: {message}");
        assert!(message.contains("STATUSPULSE_MASTER_KEY"), "{message}");
        for byte in [1, 2] {
            assert!(!message.contains(key(byte).0.as_str()), "{message}");
        }
    }

    // Rotated to B with A still listed as previous, it starts and opens the old value.
    let rotated = build_state(
        settings(&db.url, Some(key(2)), vec![key(1)]),
        Clock::system(),
    )
    .await
    .unwrap();
    let keys = rotated.master_keys.clone().unwrap();
    assert_ne!(keys.current_id(), key_a_id);
    assert_eq!(
        keys.open(&sealed, "test:context").unwrap().as_slice(),
        b"an sso client secret"
    );
}
