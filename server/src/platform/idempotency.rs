//! Storage of idempotent creates: reservations and first answers, sealed (CONTRACT
//! "Idempotency"; the HTTP side is `http::idempotency`).
//!
//! The `Idempotency-Key` header value is never stored. From it and the workspace id, HKDF-SHA-256
//! derives two independent values: the row's lookup hash, and a ChaCha20-Poly1305 key that seals
//! the stored answer. The answer to an API key create holds the key's secret; sealed this way, the
//! database alone does not give it back: only a client presenting the same header value again
//! can open it, and that client already had it. Rows bind their ciphertext to the workspace, the
//! lookup hash, the request and the status (AEAD associated data), so a row cannot be moved to
//! answer another request.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::aead::{LessSafeKey, UnboundKey, CHACHA20_POLY1305};
use ring::hkdf;
use sqlx::{Any, Transaction};

use super::clock::DAY_MS;
use super::db::Db;

/// How long a first answer is kept, and replayed: 24 hours from the first request.
pub const RETENTION_MS: i64 = DAY_MS;
/// How long a request may hold its reservation. One that has not finished by then (it died, or
/// it hangs) loses it: its create is refused at commit, and a retry may take over.
pub const RESERVATION_MS: i64 = 60_000;
/// Most idempotency keys a workspace may have within 24 hours; past it, creates with a key are
/// refused (429) until old ones expire. At most a few KiB each, so at most some hundred MiB.
pub const MAX_PER_WORKSPACE: i64 = 50_000;
/// Longest header value (CONTRACT: 1 to 255 visible ASCII characters).
pub const MAX_KEY_LEN: usize = 255;

const HKDF_SALT: &[u8] = b"statuspulse idempotency-key v1";

/// Whether a header value is a valid idempotency key: 1 to 255 visible ASCII characters.
pub fn is_valid_key(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= MAX_KEY_LEN && value.iter().all(u8::is_ascii_graphic)
}

/// What an idempotency key value yields in one workspace: the lookup hash and the sealing key.
pub struct KeyMaterial {
    pub key_hash: String,
    sealing: LessSafeKey,
    /// Keys the request hash, so a stored hash cannot confirm a guess of a body's secret.
    request: ring::hmac::Key,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("key_hash", &self.key_hash)
            .finish_non_exhaustive()
    }
}

/// A length for HKDF output that is not an algorithm's key.
struct Bytes32;

impl hkdf::KeyType for Bytes32 {
    fn len(&self) -> usize {
        32
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the stored answer does not open with this idempotency key (corrupt or moved)")]
    Open,
    #[error("the sealing primitive failed")]
    Crypto,
    #[error("the stored answer is not valid base64")]
    Encoding,
}

impl From<ring::error::Unspecified> for SealError {
    fn from(_: ring::error::Unspecified) -> Self {
        SealError::Crypto
    }
}

impl KeyMaterial {
    /// Derives the lookup hash and the sealing key of `value` (the header) in `workspace_id`.
    pub fn derive(value: &[u8], workspace_id: &str) -> Result<Self, SealError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(value);
        let ws = workspace_id.as_bytes();
        let mut lookup = [0u8; 32];
        prk.expand(&[b"lookup\0", ws], Bytes32)?.fill(&mut lookup)?;
        let info: [&[u8]; 2] = [b"answer\0", ws];
        let okm = prk.expand(&info, &CHACHA20_POLY1305)?;
        let sealing = LessSafeKey::new(UnboundKey::from(okm));
        let mut request = [0u8; 32];
        prk.expand(&[b"request\0", ws], Bytes32)?
            .fill(&mut request)?;
        Ok(Self {
            key_hash: hex::encode(lookup),
            sealing,
            request: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &request),
        })
    }

    /// What a request is, for "same request": who sends it (the key's row id), method, path with
    /// query, and body, each length-prefixed; hex HMAC-SHA-256 under a key derived from the
    /// idempotency key. Keyed because bodies can carry secrets (an SSO client secret): a plain
    /// hash in the database would let anyone holding it test guesses of the secret offline.
    pub fn request_hash(
        &self,
        principal_id: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> String {
        let mut mac = ring::hmac::Context::with_key(&self.request);
        for part in [
            principal_id.as_bytes(),
            method.as_bytes(),
            path.as_bytes(),
            body,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.sign().as_ref())
    }

    fn aad(&self, workspace_id: &str, request_hash: &str, status: u16) -> Vec<u8> {
        format!(
            "{workspace_id}\0{}\0{request_hash}\0{status}",
            self.key_hash
        )
        .into_bytes()
    }

    /// Seals an answer: base64 of a random nonce, the ciphertext and its tag.
    pub fn seal(
        &self,
        workspace_id: &str,
        request_hash: &str,
        status: u16,
        answer: &[u8],
    ) -> Result<String, SealError> {
        let aad = self.aad(workspace_id, request_hash, status);
        Ok(B64.encode(super::aead::seal(&self.sealing, &aad, answer)?))
    }

    /// Opens what [`Self::seal`] sealed for the same workspace, request and status.
    pub fn open(
        &self,
        workspace_id: &str,
        request_hash: &str,
        status: u16,
        stored: &str,
    ) -> Result<Vec<u8>, SealError> {
        let sealed = B64.decode(stored).map_err(|_| SealError::Encoding)?;
        let aad = self.aad(workspace_id, request_hash, status);
        super::aead::open(&self.sealing, &aad, &sealed)
            .map(|plain| plain.to_vec())
            .ok_or(SealError::Open)
    }
}

/// A stored idempotency key.
#[derive(Debug, sqlx::FromRow)]
pub struct Record {
    pub request_hash: String,
    pub token: String,
    pub locked_until: i64,
    pub status: Option<i64>,
    pub answer: Option<String>,
    pub created_at: i64,
}

pub async fn find(
    db: &Db,
    workspace_id: &str,
    key_hash: &str,
) -> Result<Option<Record>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, token, locked_until, status, answer, created_at \
         FROM idempotency_keys WHERE workspace_id = $1 AND key_hash = $2",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .fetch_optional(db.pool())
    .await
}

/// Idempotency keys of the workspace still within their 24 hours, counted up to the cap.
pub async fn live_count(db: &Db, workspace_id: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM idempotency_keys \
         WHERE workspace_id = $1 AND created_at > $2 LIMIT $3) AS live",
    )
    .bind(workspace_id)
    .bind(now - RETENTION_MS)
    .bind(MAX_PER_WORKSPACE)
    .fetch_one(db.pool())
    .await
}

/// Reserves the key for the request `token`: true when this request inserted it. Of requests
/// racing with one key, the primary key lets exactly one in.
pub async fn reserve(
    db: &Db,
    workspace_id: &str,
    key_hash: &str,
    request_hash: &str,
    token: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys \
         (workspace_id, key_hash, request_hash, token, locked_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, key_hash) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .bind(request_hash)
    .bind(token)
    .bind(now + RESERVATION_MS)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Takes over a reservation whose holder ran out of time without an answer: true when `token`
/// now holds it. The holder's create cannot commit any more ([`complete`] needs its token).
pub async fn take_over(
    db: &Db,
    workspace_id: &str,
    key_hash: &str,
    token: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE idempotency_keys SET token = $3, locked_until = $4 \
         WHERE workspace_id = $1 AND key_hash = $2 AND status IS NULL AND locked_until <= $5",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .bind(token)
    .bind(now + RESERVATION_MS)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Records the answer of the reservation `token` inside `tx` (the create's own transaction, so
/// the object and its answer commit together). False when the reservation is no longer this
/// request's: it ran out of time and another took over, so this create must not commit.
pub async fn complete(
    tx: &mut Transaction<'static, Any>,
    workspace_id: &str,
    key_hash: &str,
    token: &str,
    status: u16,
    sealed: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET status = $4, answer = $5 \
         WHERE workspace_id = $1 AND key_hash = $2 AND token = $3 AND status IS NULL",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .bind(token)
    .bind(i64::from(status))
    .bind(sealed)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops the reservation `token` without an answer (the request failed in a way a retry should
/// run again): the next request with the key executes.
pub async fn release(
    db: &Db,
    workspace_id: &str,
    key_hash: &str,
    token: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM idempotency_keys \
         WHERE workspace_id = $1 AND key_hash = $2 AND token = $3 AND status IS NULL",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .bind(token)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await
}

/// Deletes one key's row if it is past its 24 hours (so the key starts afresh).
pub async fn delete_expired(
    db: &Db,
    workspace_id: &str,
    key_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM idempotency_keys \
         WHERE workspace_id = $1 AND key_hash = $2 AND created_at <= $3",
    )
    .bind(workspace_id)
    .bind(key_hash)
    .bind(now - RETENTION_MS)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await
}

/// Deletes every idempotency key past its 24 hours; returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(now - RETENTION_MS)
        .execute(&mut *tx.tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_answer_opens_only_with_its_key_workspace_request_and_status() {
        let material = KeyMaterial::derive(b"key-1", "ws_a").unwrap();
        let sealed = material.seal("ws_a", "req", 201, b"secret answer").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            material.open("ws_a", "req", 201, &sealed).unwrap(),
            b"secret answer"
        );
        assert!(material.open("ws_a", "other", 201, &sealed).is_err());
        assert!(material.open("ws_a", "req", 200, &sealed).is_err());
        let other_key = KeyMaterial::derive(b"key-2", "ws_a").unwrap();
        assert!(other_key.open("ws_a", "req", 201, &sealed).is_err());
        let other_ws = KeyMaterial::derive(b"key-1", "ws_b").unwrap();
        assert_ne!(other_ws.key_hash, material.key_hash);
        assert!(other_ws.open("ws_a", "req", 201, &sealed).is_err());
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(is_valid_key(b"a"));
        assert!(is_valid_key(&[b'x'; 255]));
        assert!(!is_valid_key(b""));
        assert!(!is_valid_key(&[b'x'; 256]));
        assert!(!is_valid_key(b"has space"));
        assert!(!is_valid_key("é".as_bytes()));
        assert!(!is_valid_key(b"tab\there"));
    }
}
