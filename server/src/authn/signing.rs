//! The keys that sign StatusPulse's own tokens (access and ID tokens of the OAuth server), their
//! rotation, and the key ring every replica signs and verifies with.
//!
//! **Rotation by slots.** Time is cut into slots of the rotation period (6 h by default). The key
//! of a slot signs during that slot only; it is created two slots ahead, so it is in the JWKS a
//! whole period before it signs anything (clients cache the JWKS for [`JWKS_MAX_AGE_SECS`]), and
//! it stays published until every token it signed has expired: the end of its slot plus the
//! access token lifetime, the JWKS cache lifetime and the clock skew ([`retirement_grace_ms`]).
//! Which key signs at a given instant follows from the clock alone, so every replica signs with
//! the same key; `(alg, activates_at)` is unique, so replicas racing to create a slot's key
//! insert one row. The rotation job ([`rotate`]) runs under a lease anyway.
//!
//! **At rest** the private key (PKCS#8) is sealed with the master key for the context
//! `signing_key:<kid>`; without a master key the server issues no tokens.
//!
//! **Algorithm.** ES256 (ECDSA P-256, SHA-256), through `ring`, for every token.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::platform::secrets::{self, MasterKeys};

/// The algorithm of our tokens.
pub const ALG: &str = "ES256";
/// How long clients may cache the JWKS (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE_SECS: i64 = 300;
/// Access tokens live this long (the retirement grace depends on it).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 900;
/// Clock skew tolerated on our tokens' times.
pub const SKEW_SECS: i64 = 60;

/// How long a key stays published after its slot ends: every token it signed has expired, and
/// every cached JWKS that a verifier could still hold was fetched after those tokens.
pub fn retirement_grace_ms() -> i64 {
    (ACCESS_TOKEN_TTL_SECS + JWKS_MAX_AGE_SECS + SKEW_SECS) * 1000
}

fn context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Why a key could not be made, stored or opened.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("the server has no master key, so it cannot keep signing keys")]
    NoMasterKey,
    #[error("no signing key is active")]
    NoActiveKey,
    #[error("signing key {0}: {1}")]
    Key(String, String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Makes sure the slots of `now`, the next and the one after have their key, and deletes keys
/// past their retirement. Returns the kids created.
pub async fn rotate(
    pool: &AnyPool,
    master: Option<&MasterKeys>,
    now_ms: i64,
    period_ms: i64,
) -> Result<Vec<String>, SigningError> {
    let master = master.ok_or(SigningError::NoMasterKey)?;
    let slot = now_ms - now_ms.rem_euclid(period_ms);
    let mut created = Vec::new();
    for activates_at in [slot, slot + period_ms, slot + 2 * period_ms] {
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT kid FROM signing_keys WHERE alg = $1 AND activates_at = $2")
                .bind(ALG)
                .bind(activates_at)
                .fetch_optional(pool)
                .await?;
        if exists.is_some() {
            continue;
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| SigningError::Key("new".into(), "cannot generate".into()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| SigningError::Key("new".into(), "cannot read back".into()))?;
        let kid = format!("sk_{}", uuid::Uuid::now_v7().simple());
        let jwk = public_jwk(&kid, pair.public_key().as_ref())
            .ok_or_else(|| SigningError::Key(kid.clone(), "not a P-256 point".into()))?;
        let sealed = master
            .seal(pkcs8.as_ref(), &context(&kid))
            .map_err(|e| SigningError::Key(kid.clone(), e.to_string()))?;
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, created_at, activates_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (alg, activates_at) DO NOTHING",
        )
        .bind(&kid)
        .bind(ALG)
        .bind(jwk.to_string())
        .bind(&sealed)
        .bind(now_ms)
        .bind(activates_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        secrets::record_use(&mut tx, master.current_id(), now_ms).await?;
        tx.commit().await?;
        if inserted == 1 {
            created.push(kid);
        }
    }
    sqlx::query("DELETE FROM signing_keys WHERE activates_at + $1 + $2 <= $3")
        .bind(period_ms)
        .bind(retirement_grace_ms())
        .bind(now_ms)
        .execute(pool)
        .await?;
    Ok(created)
}

/// The JWK of a P-256 public key given as an uncompressed point.
fn public_jwk(kid: &str, point: &[u8]) -> Option<Value> {
    if point.len() != 65 || point[0] != 4 {
        return None;
    }
    Some(json!({
        "kty": "EC", "crv": "P-256", "alg": ALG, "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }))
}

/// One published key.
pub struct RingKey {
    pub kid: String,
    pub activates_at: i64,
    pub public_jwk: Value,
    /// The uncompressed public point, for verification.
    public_point: Vec<u8>,
    /// Opened only for keys that sign now or soon.
    signer: Option<EcdsaKeyPair>,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// The keys as last read from the database.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Ascending by `activates_at`.
    pub keys: Vec<RingKey>,
    pub loaded_at_ms: i64,
}

impl Loaded {
    /// The key that signs at `now`: the last one activated.
    pub fn signer_at(&self, now_ms: i64) -> Option<&RingKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.activates_at <= now_ms && k.signer.is_some())
    }

    pub fn by_kid(&self, kid: &str) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>()})
    }
}

/// Every replica's view of the signing keys: read from the database at most every
/// [`RELOAD_EVERY_MS`], and at once when a token names a key not seen yet (at most every
/// [`RELOAD_UNKNOWN_EVERY_MS`], so made-up kids cannot make us query it per request).
#[derive(Debug, Default)]
pub struct KeyRing {
    loaded: RwLock<Arc<Loaded>>,
}

/// How stale the ring may get before signing or verifying reloads it.
pub const RELOAD_EVERY_MS: i64 = 60_000;
const RELOAD_UNKNOWN_EVERY_MS: i64 = 10_000;

impl KeyRing {
    pub fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |l| l.clone())
    }

    /// Reads the keys again; opens the private keys of those that sign within the next reload.
    pub async fn reload(
        &self,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        now_ms: i64,
    ) -> Result<Arc<Loaded>, SigningError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT kid, public_jwk, private_sealed, activates_at FROM signing_keys \
             WHERE alg = $1 ORDER BY activates_at",
        )
        .bind(ALG)
        .fetch_all(pool)
        .await?;
        let rng = SystemRandom::new();
        let mut keys = Vec::with_capacity(rows.len());
        for (kid, jwk, sealed, activates_at) in rows {
            let public_jwk: Value = serde_json::from_str(&jwk)
                .map_err(|e| SigningError::Key(kid.clone(), format!("stored JWK: {e}")))?;
            let public_point = point_of(&public_jwk)
                .ok_or_else(|| SigningError::Key(kid.clone(), "stored JWK is not P-256".into()))?;
            let signer = if activates_at <= now_ms + 2 * RELOAD_EVERY_MS {
                let master = master.ok_or(SigningError::NoMasterKey)?;
                let pkcs8 = master
                    .open(&sealed, &context(&kid))
                    .map_err(|e| SigningError::Key(kid.clone(), e.to_string()))?;
                Some(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
                        .map_err(|_| SigningError::Key(kid.clone(), "not PKCS#8".into()))?,
                )
            } else {
                None
            };
            keys.push(RingKey {
                kid,
                activates_at,
                public_jwk,
                public_point,
                signer,
            });
        }
        let loaded = Arc::new(Loaded {
            keys,
            loaded_at_ms: now_ms,
        });
        if let Ok(mut slot) = self.loaded.write() {
            *slot = loaded.clone();
        }
        Ok(loaded)
    }

    /// The ring, reloaded first when it is older than [`RELOAD_EVERY_MS`].
    pub async fn fresh(
        &self,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        now_ms: i64,
    ) -> Result<Arc<Loaded>, SigningError> {
        let loaded = self.current();
        if loaded.loaded_at_ms != 0 && now_ms - loaded.loaded_at_ms < RELOAD_EVERY_MS {
            return Ok(loaded);
        }
        self.reload(pool, master, now_ms).await
    }

    /// The ring for verifying a token signed by `kid`: reloaded when `kid` is unknown and the
    /// last reload is old enough.
    pub async fn for_kid(
        &self,
        kid: &str,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        now_ms: i64,
    ) -> Result<Arc<Loaded>, SigningError> {
        let loaded = self.current();
        let known = loaded.by_kid(kid).is_some();
        let stale = now_ms - loaded.loaded_at_ms >= RELOAD_EVERY_MS;
        let may_retry = now_ms - loaded.loaded_at_ms >= RELOAD_UNKNOWN_EVERY_MS;
        if stale || (!known && may_retry) {
            return self.reload(pool, master, now_ms).await;
        }
        Ok(loaded)
    }
}

fn point_of(jwk: &Value) -> Option<Vec<u8>> {
    let x = URL_SAFE_NO_PAD.decode(jwk.get("x")?.as_str()?).ok()?;
    let y = URL_SAFE_NO_PAD.decode(jwk.get("y")?.as_str()?).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut point = Vec::with_capacity(65);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some(point)
}

/// Signs `header.payload` JWT input with `key`.
pub fn sign(key: &RingKey, claims: &Value, typ: &str) -> Result<String, SigningError> {
    let signer = key
        .signer
        .as_ref()
        .ok_or_else(|| SigningError::Key(key.kid.clone(), "not opened for signing".into()))?;
    let header = json!({"alg": ALG, "kid": key.kid, "typ": typ});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| SigningError::Key(key.kid.clone(), "signing failed".into()))?;
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

/// Why a token of ours is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFailure {
    Malformed,
    /// `alg` other than ours (`none`, HMAC, ...), or a `typ` other than the one expected.
    WrongAlgorithm,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
}

impl TokenFailure {
    pub fn reason(self) -> &'static str {
        match self {
            TokenFailure::Malformed => "malformed_token",
            TokenFailure::WrongAlgorithm => "token_algorithm_refused",
            TokenFailure::UnknownKey => "token_key_unknown",
            TokenFailure::BadSignature => "token_signature_invalid",
            TokenFailure::Expired => "token_expired",
            TokenFailure::NotYetValid => "token_not_yet_valid",
            TokenFailure::WrongIssuer => "token_issuer_invalid",
        }
    }
}

/// The parts of a compact JWS: the header's `kid`, after its `alg` and `typ` are checked.
pub fn header_kid(token: &str, typ: &str) -> Result<String, TokenFailure> {
    let header = token.split('.').next().ok_or(TokenFailure::Malformed)?;
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenFailure::Malformed)?;
    // The algorithm is ours, whatever the header says: a header naming another is refused.
    if header.get("alg").and_then(Value::as_str) != Some(ALG)
        || header.get("typ").and_then(Value::as_str) != Some(typ)
    {
        return Err(TokenFailure::WrongAlgorithm);
    }
    header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenFailure::Malformed)
}

/// Verifies a compact JWS of ours and returns its claims after checking `iss`, `exp`, `nbf`
/// and `iat` (with [`SKEW_SECS`]).
pub fn verify(
    token: &str,
    typ: &str,
    ring: &Loaded,
    issuer: &str,
    now_secs: i64,
) -> Result<Value, TokenFailure> {
    let kid = header_kid(token, typ)?;
    let key = ring.by_kid(&kid).ok_or(TokenFailure::UnknownKey)?;
    let (input, signature) = token.rsplit_once('.').ok_or(TokenFailure::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenFailure::Malformed)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.public_point)
        .verify(input.as_bytes(), &signature)
        .map_err(|_| TokenFailure::BadSignature)?;
    let payload = input.split('.').nth(1).ok_or(TokenFailure::Malformed)?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenFailure::Malformed)?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(TokenFailure::WrongIssuer);
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = time("exp").ok_or(TokenFailure::Malformed)?;
    if now_secs >= exp + SKEW_SECS {
        return Err(TokenFailure::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf > now_secs + SKEW_SECS)
        || time("iat").is_some_and(|iat| iat > now_secs + SKEW_SECS)
    {
        return Err(TokenFailure::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with_one_key(activates_at: i64) -> Loaded {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let jwk = public_jwk("k1", pair.public_key().as_ref()).unwrap();
        Loaded {
            keys: vec![RingKey {
                kid: "k1".into(),
                activates_at,
                public_point: point_of(&jwk).unwrap(),
                public_jwk: jwk,
                signer: Some(pair),
            }],
            loaded_at_ms: 1,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_or_other_algorithm_is_refused() {
        let ring = ring_with_one_key(0);
        let key = ring.signer_at(10).unwrap();
        let claims = json!({"iss": "https://a", "exp": 2000, "iat": 1000, "sub": "u"});
        let token = sign(key, &claims, "at+jwt").unwrap();
        assert_eq!(
            verify(&token, "at+jwt", &ring, "https://a", 1500).unwrap(),
            claims
        );
        assert_eq!(
            verify(&token, "JWT", &ring, "https://a", 1500),
            Err(TokenFailure::WrongAlgorithm)
        );
        assert_eq!(
            verify(&token, "at+jwt", &ring, "https://b", 1500),
            Err(TokenFailure::WrongIssuer)
        );
        assert_eq!(
            verify(&token, "at+jwt", &ring, "https://a", 2061),
            Err(TokenFailure::Expired)
        );
        assert_eq!(
            verify(&token, "at+jwt", &ring, "https://a", 900),
            Err(TokenFailure::NotYetValid)
        );

        let mut parts = token.split('.');
        let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
        // Tampered payload.
        let evil = URL_SAFE_NO_PAD
            .encode(json!({"iss": "https://a", "exp": 9999, "sub": "admin"}).to_string());
        let forged = format!("{h}.{evil}.{}", token.rsplit('.').next().unwrap());
        assert_eq!(
            verify(&forged, "at+jwt", &ring, "https://a", 1500),
            Err(TokenFailure::BadSignature)
        );
        // alg none, and HS256 keyed with the public key.
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD
                .encode(json!({"alg": alg, "kid": "k1", "typ": "at+jwt"}).to_string());
            let forged = format!("{header}.{p}.");
            assert_eq!(
                verify(&forged, "at+jwt", &ring, "https://a", 1500),
                Err(TokenFailure::WrongAlgorithm)
            );
        }
        // Another key under the same kid: the signature does not verify.
        let other = ring_with_one_key(0);
        assert_eq!(
            verify(&token, "at+jwt", &other, "https://a", 1500),
            Err(TokenFailure::BadSignature)
        );
    }

    #[test]
    fn the_signer_is_the_last_activated_key() {
        let mut ring = ring_with_one_key(100);
        assert!(ring.signer_at(99).is_none());
        assert_eq!(ring.signer_at(100).unwrap().kid, "k1");
        let mut later = ring_with_one_key(200);
        let mut key = later.keys.remove(0);
        key.kid = "k2".into();
        ring.keys.push(key);
        assert_eq!(ring.signer_at(199).unwrap().kid, "k1");
        assert_eq!(ring.signer_at(200).unwrap().kid, "k2");
    }
}
