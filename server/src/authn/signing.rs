//! The keys that sign StatusPulse's own tokens (access and ID tokens of the OAuth server), their
//! rotation, and the key ring every replica signs and verifies with.
//!
//! **Rotation by slots.** Time is cut into slots of the rotation period (6 h by default). The key
//! of a slot signs during that slot only; it is created two slots ahead, so it is in the JWKS a
//! whole period before it signs anything (clients cache the JWKS for [`JWKS_MAX_AGE_SECS`]), and
//! it stays published until every token it signed has expired: the end of its slot plus the
//! longest token lifetime (an exchanged workload token's, at most an hour), the JWKS cache
//! lifetime and the clock skew ([`retirement_grace_ms`]).
//! Which key signs at a given instant follows from the clock alone, so every replica signs with
//! the same key; `(alg, activates_at)` is unique, so replicas racing to create a slot's key
//! insert one row. The rotation job ([`KeyRing::rotate`]) runs under a lease anyway.
//!
//! **Algorithms.** Each OAuth client's tokens are signed with its `signing_alg`: ES256 (ECDSA
//! P-256, the default) or RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RSA [`RSA_BITS`] bits) for
//! clients that verify RSA only. Every algorithm has its own keys, one per slot, rotated alike.
//! `ring` signs and verifies both; it cannot generate RSA keys, so OpenSSL (already linked for
//! SAML) does, off the async runtime. RS256 keys are made only for an algorithm in use
//! (`oauth::keys` decides), since most deployments never need them.
//!
//! **Verification** trusts the key, never the header: the `kid` selects one of our published
//! keys, and the header's `alg` must be that key's algorithm (so an RS256 header naming an ES256
//! key, `none` or an HMAC is refused before any signature check).
//!
//! **At rest** the private key (PKCS#8) is sealed with the master key for the context
//! `signing_key:<kid>`; without a master key the server issues no tokens.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256,
};
use serde_json::{json, Value};
use sqlx::AnyPool;
pub use statuspulse_api::v1::SigningAlg;
use zeroize::Zeroizing;

use crate::platform::secrets::{self, MasterKeys};

/// How long clients may cache the JWKS (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE_SECS: i64 = 300;
/// Access tokens live this long (the retirement grace depends on it).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 900;
/// Clock skew tolerated on our tokens' times.
pub const SKEW_SECS: i64 = 60;
/// The modulus of RS256 keys. A key signs for one slot and is gone within a day, so 2048 bits
/// (what every RS256 verifier accepts) is ample, and signs four times faster than 3072.
pub const RSA_BITS: u32 = 2048;

/// How long a key stays published after its slot ends: every token it signed has expired, and
/// every cached JWKS that a verifier could still hold was fetched after those tokens.
pub fn retirement_grace_ms() -> i64 {
    (LONGEST_TOKEN_SECS + JWKS_MAX_AGE_SECS + SKEW_SECS) * 1000
}

/// The longest any token we sign lives: a person's access token lives [`ACCESS_TOKEN_TTL_SECS`],
/// a workload's exchanged token up to an hour.
pub const LONGEST_TOKEN_SECS: i64 = {
    let workload = statuspulse_api::v1::workload_identities::MAX_TOKEN_LIFETIME_SECONDS;
    if workload > ACCESS_TOKEN_TTL_SECS {
        workload
    } else {
        ACCESS_TOKEN_TTL_SECS
    }
};

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

/// A private key, opened for signing.
enum Signer {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Signer {
    fn open(alg: SigningAlg, pkcs8: &[u8]) -> Option<Self> {
        match alg {
            SigningAlg::Es256 => EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8,
                &SystemRandom::new(),
            )
            .ok()
            .map(Signer::Ec),
            SigningAlg::Rs256 => RsaKeyPair::from_pkcs8(pkcs8).ok().map(Signer::Rsa),
        }
    }

    fn public(&self) -> Option<Verifier> {
        match self {
            Signer::Ec(pair) => Verifier::ec(pair.public_key().as_ref().to_vec()),
            Signer::Rsa(pair) => Some(Verifier::Rsa(pair.public().into())),
        }
    }

    fn sign(&self, input: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Signer::Ec(pair) => pair.sign(&rng, input).ok().map(|s| s.as_ref().to_vec()),
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input, &mut signature)
                    .ok()
                    .map(|()| signature)
            }
        }
    }
}

/// A public key, for verification and the JWKS.
enum Verifier {
    /// The uncompressed P-256 point.
    Ec(Vec<u8>),
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
}

impl Verifier {
    fn ec(point: Vec<u8>) -> Option<Self> {
        (point.len() == 65 && point[0] == 4).then_some(Verifier::Ec(point))
    }

    /// The key of a JWK as [`Verifier::jwk`] writes it, for `alg`.
    fn of_jwk(alg: SigningAlg, jwk: &Value) -> Option<Self> {
        let member = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        match alg {
            SigningAlg::Es256 => {
                let (x, y) = (member("x")?, member("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                Verifier::ec([&[4][..], &x, &y].concat())
            }
            SigningAlg::Rs256 => Some(Verifier::Rsa(RsaPublicKeyComponents {
                n: member("n")?,
                e: member("e")?,
            })),
        }
    }

    /// The public JWK (RFC 7517, RFC 7518 §6) the JWKS publishes.
    fn jwk(&self, kid: &str, alg: SigningAlg) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Verifier::Ec(point) => json!({
                "kty": "EC", "crv": "P-256", "alg": alg.as_str(), "use": "sig", "kid": kid,
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            }),
            Verifier::Rsa(key) => json!({
                "kty": "RSA", "alg": alg.as_str(), "use": "sig", "kid": kid,
                "n": b64(&key.n), "e": b64(&key.e),
            }),
        }
    }

    fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        match self {
            Verifier::Ec(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(input, signature)
                .is_ok(),
            Verifier::Rsa(key) => key
                .verify(&RSA_PKCS1_2048_8192_SHA256, input, signature)
                .is_ok(),
        }
    }
}

/// A new key pair of `alg`: its PKCS#8 (wiped when dropped) and its public JWK. Read back with
/// `ring`, which signs with it, so a key that could not sign is never stored. RSA generation
/// takes tens of milliseconds: run it with `spawn_blocking`.
fn generate(alg: SigningAlg, kid: &str) -> Result<(Zeroizing<Vec<u8>>, Value), SigningError> {
    let failed = |what: &str| SigningError::Key(kid.to_owned(), format!("cannot {what}"));
    let pkcs8 = match alg {
        SigningAlg::Es256 => Zeroizing::new(
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| failed("generate"))?
                .as_ref()
                .to_vec(),
        ),
        SigningAlg::Rs256 => {
            let rsa = openssl::rsa::Rsa::generate(RSA_BITS).map_err(|_| failed("generate"))?;
            Zeroizing::new(
                openssl::pkey::PKey::from_rsa(rsa)
                    .and_then(|key| key.private_key_to_pkcs8())
                    .map_err(|_| failed("encode"))?,
            )
        }
    };
    let public = Signer::open(alg, &pkcs8)
        .and_then(|signer| signer.public())
        .ok_or_else(|| failed("read back"))?;
    Ok((pkcs8, public.jwk(kid, alg)))
}

/// One published key.
pub struct RingKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub activates_at: i64,
    pub public_jwk: Value,
    verifier: Verifier,
    /// Opened only for keys that sign now or soon.
    signer: Option<Signer>,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
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
    /// The key that signs `alg` tokens at `now`: the one whose slot (of `period_ms`) holds it.
    /// A key past its slot never signs, even when its successor is missing (the job did not
    /// run, or nothing made keys of `alg` for a while): it is deleted a grace after its slot
    /// ends, and could leave the JWKS before a token it signed late.
    pub fn signer_at(&self, alg: SigningAlg, now_ms: i64, period_ms: i64) -> Option<&RingKey> {
        self.keys.iter().rev().find(|k| {
            k.alg == alg
                && k.activates_at <= now_ms
                && now_ms < k.activates_at.saturating_add(period_ms)
                && k.signer.is_some()
        })
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
    /// Held while keys are made: one generation at a time on a replica, and those who waited
    /// find the keys the first one made instead of making their own.
    creating: tokio::sync::Mutex<()>,
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

    /// Makes sure each of `algs` has its key for the slot of `now`, the next and the one after,
    /// and deletes keys past their retirement (of every algorithm). Returns the keys created.
    pub async fn rotate(
        &self,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        now_ms: i64,
        period_ms: i64,
        algs: &[SigningAlg],
    ) -> Result<Vec<(String, SigningAlg)>, SigningError> {
        let master = master.ok_or(SigningError::NoMasterKey)?;
        let _creating = self.creating.lock().await;
        let slot = now_ms - now_ms.rem_euclid(period_ms);
        let mut created = Vec::new();
        for &alg in algs {
            for activates_at in [slot, slot + period_ms, slot + 2 * period_ms] {
                let exists: Option<(String,)> = sqlx::query_as(
                    "SELECT kid FROM signing_keys WHERE alg = $1 AND activates_at = $2",
                )
                .bind(alg.as_str())
                .bind(activates_at)
                .fetch_optional(pool)
                .await?;
                if exists.is_some() {
                    continue;
                }
                let kid = format!("sk_{}", uuid::Uuid::now_v7().simple());
                let (pkcs8, jwk) = {
                    let kid = kid.clone();
                    tokio::task::spawn_blocking(move || generate(alg, &kid)).await
                }
                .map_err(|e| SigningError::Key(kid.clone(), format!("generation: {e}")))??;
                let sealed = master
                    .seal(&pkcs8, &context(&kid))
                    .map_err(|e| SigningError::Key(kid.clone(), e.to_string()))?;
                let mut tx = pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, created_at, activates_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (alg, activates_at) DO NOTHING",
                )
                .bind(&kid)
                .bind(alg.as_str())
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
                    created.push((kid, alg));
                }
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

    /// Reads the keys again; opens the private keys of those that sign within the next reload.
    pub async fn reload(
        &self,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        now_ms: i64,
    ) -> Result<Arc<Loaded>, SigningError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT kid, alg, public_jwk, private_sealed, activates_at FROM signing_keys \
             ORDER BY activates_at",
        )
        .fetch_all(pool)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for (kid, alg, jwk, sealed, activates_at) in rows {
            let bad = |what: &str| SigningError::Key(kid.clone(), what.to_owned());
            let alg: SigningAlg = alg.parse().map_err(|()| bad("unknown algorithm"))?;
            let public_jwk: Value =
                serde_json::from_str(&jwk).map_err(|_| bad("stored JWK is not JSON"))?;
            let verifier = Verifier::of_jwk(alg, &public_jwk)
                .ok_or_else(|| bad("stored JWK is not its alg"))?;
            let signer = if activates_at <= now_ms + 2 * RELOAD_EVERY_MS {
                let master = master.ok_or(SigningError::NoMasterKey)?;
                let pkcs8 = master
                    .open(&sealed, &context(&kid))
                    .map_err(|e| SigningError::Key(kid.clone(), e.to_string()))?;
                Some(Signer::open(alg, &pkcs8).ok_or_else(|| bad("not PKCS#8 of its alg"))?)
            } else {
                None
            };
            keys.push(RingKey {
                kid,
                alg,
                activates_at,
                public_jwk,
                verifier,
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

/// Signs `claims` as a compact JWS with `key` (its algorithm, its `kid`).
pub fn sign(key: &RingKey, claims: &Value, typ: &str) -> Result<String, SigningError> {
    let signer = key
        .signer
        .as_ref()
        .ok_or_else(|| SigningError::Key(key.kid.clone(), "not opened for signing".into()))?;
    let header = json!({"alg": key.alg.as_str(), "kid": key.kid, "typ": typ});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .sign(input.as_bytes())
        .ok_or_else(|| SigningError::Key(key.kid.clone(), "signing failed".into()))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Why a token of ours is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFailure {
    Malformed,
    /// `alg` other than ours (`none`, HMAC, ...) or other than its key's, or a `typ` other than
    /// the one expected.
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

/// The header of a compact JWS: its `alg` (one of ours) and `kid`, after `typ` is checked.
fn header(token: &str, typ: &str) -> Result<(SigningAlg, String), TokenFailure> {
    let header = token.split('.').next().ok_or(TokenFailure::Malformed)?;
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenFailure::Malformed)?;
    // Only our algorithms, whatever else the header names (`none`, HMAC, ...).
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<SigningAlg>().ok())
        .filter(|_| header.get("typ").and_then(Value::as_str) == Some(typ))
        .ok_or(TokenFailure::WrongAlgorithm)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenFailure::Malformed)?;
    Ok((alg, kid))
}

/// The `kid` of a compact JWS of ours, after its `alg` and `typ` are checked.
pub fn header_kid(token: &str, typ: &str) -> Result<String, TokenFailure> {
    header(token, typ).map(|(_, kid)| kid)
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
    let (alg, kid) = header(token, typ)?;
    let key = ring.by_kid(&kid).ok_or(TokenFailure::UnknownKey)?;
    // The key decides how its signatures are checked; a header that disagrees is a forgery
    // (an RS256 header over an ES256 key, or the reverse).
    if key.alg != alg {
        return Err(TokenFailure::WrongAlgorithm);
    }
    let (input, signature) = token.rsplit_once('.').ok_or(TokenFailure::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenFailure::Malformed)?;
    if !key.verifier.verify(input.as_bytes(), &signature) {
        return Err(TokenFailure::BadSignature);
    }
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

    /// A key as `reload` makes it: generated, its verifier read back from the stored JWK.
    fn key(alg: SigningAlg, kid: &str, activates_at: i64) -> RingKey {
        let (pkcs8, public_jwk) = generate(alg, kid).unwrap();
        RingKey {
            kid: kid.into(),
            alg,
            activates_at,
            verifier: Verifier::of_jwk(alg, &public_jwk).unwrap(),
            public_jwk,
            signer: Signer::open(alg, &pkcs8),
        }
    }

    fn ring(keys: Vec<RingKey>) -> Loaded {
        Loaded {
            keys,
            loaded_at_ms: 1,
        }
    }

    fn with_header(token: &str, header: &Value) -> String {
        let rest = token.split_once('.').unwrap().1;
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_or_other_algorithm_is_refused() {
        for alg in SigningAlg::ALL {
            let ring = ring(vec![key(alg, "k1", 0)]);
            let key = ring.signer_at(alg, 10, 100).unwrap();
            let claims = json!({"iss": "https://a", "exp": 2000, "iat": 1000, "sub": "u"});
            let token = sign(key, &claims, "at+jwt").unwrap();
            let header: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(
                header,
                json!({"alg": alg.as_str(), "kid": "k1", "typ": "at+jwt"})
            );
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
            // alg none, HS256 keyed with the public key, and names of algorithms we do not use.
            for other in ["none", "HS256", "PS256", "ES384", "rs256"] {
                let header = URL_SAFE_NO_PAD
                    .encode(json!({"alg": other, "kid": "k1", "typ": "at+jwt"}).to_string());
                let forged = format!("{header}.{p}.");
                assert_eq!(
                    verify(&forged, "at+jwt", &ring, "https://a", 1500),
                    Err(TokenFailure::WrongAlgorithm),
                    "{other}"
                );
            }
            // Another key under the same kid: the signature does not verify.
            let other = super::tests::ring(vec![super::tests::key(alg, "k1", 0)]);
            assert_eq!(
                verify(&token, "at+jwt", &other, "https://a", 1500),
                Err(TokenFailure::BadSignature)
            );
        }
    }

    #[test]
    fn a_header_naming_another_algorithm_than_its_key_is_refused_before_any_signature_check() {
        let ring = ring(vec![
            key(SigningAlg::Es256, "ec", 0),
            key(SigningAlg::Rs256, "rsa", 0),
        ]);
        let claims = json!({"iss": "https://a", "exp": 2000, "iat": 1000, "sub": "u"});
        for (signer, other_kid) in [(SigningAlg::Rs256, "ec"), (SigningAlg::Es256, "rsa")] {
            let key = ring.signer_at(signer, 10, 100).unwrap();
            let token = sign(key, &claims, "at+jwt").unwrap();
            assert!(verify(&token, "at+jwt", &ring, "https://a", 1500).is_ok());
            // The header keeps its algorithm and names the other algorithm's key.
            let confused = with_header(
                &token,
                &json!({"alg": signer.as_str(), "kid": other_kid, "typ": "at+jwt"}),
            );
            assert_eq!(
                verify(&confused, "at+jwt", &ring, "https://a", 1500),
                Err(TokenFailure::WrongAlgorithm),
                "{signer} over {other_kid}"
            );
        }
    }

    #[test]
    fn the_signer_of_each_algorithm_is_the_key_of_its_slot_and_no_older_one() {
        let period = 100;
        let mut ring = ring(vec![key(SigningAlg::Es256, "k1", 100)]);
        let signer =
            |ring: &Loaded, alg, now| ring.signer_at(alg, now, period).map(|k| k.kid.clone());
        assert_eq!(signer(&ring, SigningAlg::Es256, 99), None);
        assert_eq!(signer(&ring, SigningAlg::Es256, 100).as_deref(), Some("k1"));
        assert_eq!(signer(&ring, SigningAlg::Rs256, 100), None);
        ring.keys.push(key(SigningAlg::Rs256, "r1", 100));
        ring.keys.push(key(SigningAlg::Es256, "k2", 200));
        assert_eq!(signer(&ring, SigningAlg::Es256, 199).as_deref(), Some("k1"));
        assert_eq!(signer(&ring, SigningAlg::Es256, 200).as_deref(), Some("k2"));
        assert_eq!(signer(&ring, SigningAlg::Rs256, 199).as_deref(), Some("r1"));
        // r1's slot is over and no RS256 key has the next one: nothing signs RS256.
        assert_eq!(signer(&ring, SigningAlg::Rs256, 200), None);
    }

    #[test]
    fn an_rs256_key_is_published_as_a_2048_bit_rsa_jwk() {
        let key = key(SigningAlg::Rs256, "r1", 0);
        let jwk = &key.public_jwk;
        assert_eq!(
            (
                &jwk["kty"],
                &jwk["alg"],
                &jwk["use"],
                &jwk["kid"],
                &jwk["e"]
            ),
            (
                &json!("RSA"),
                &json!("RS256"),
                &json!("sig"),
                &json!("r1"),
                &json!("AQAB")
            )
        );
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len() * 8, RSA_BITS as usize);
        assert_ne!(n[0], 0, "no leading zero (RFC 7518 §6.3.1.1)");
        assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
        let ec = super::tests::key(SigningAlg::Es256, "k1", 0).public_jwk;
        assert_eq!(
            (&ec["kty"], &ec["crv"], &ec["alg"]),
            (&json!("EC"), &json!("P-256"), &json!("ES256"))
        );
        assert!(ec.get("d").is_none());
    }
}
