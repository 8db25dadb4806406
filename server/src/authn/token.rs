//! API keys as the server holds them: generated from the OS CSPRNG, kept in `secrecy` types,
//! hashed with Argon2id.
//!
//! The format itself (`sp_live_`/`sp_test_`, key id, secret, CRC-32 checksum), [`KeyRef::parse`]
//! and [`MalformedKey`] are the shared API crate's (`statuspulse_api::key`), so clients check keys
//! exactly as the server does: a malformed or mistyped key is refused by [`PlainApiKey::parse`]
//! without touching the database or a hash.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use statuspulse_api::key::{checksum, prefix_of, KEY_ID_LEN, SECRET_LEN};
// The prefixes are defined (and must never change) in `statuspulse_api::key`.
pub use statuspulse_api::key::{KeyId, KeyRef, MalformedKey};

use crate::authz::scopes::Environment;

/// A whole key as presented by a client or freshly generated. `Debug` never shows the secret.
pub struct PlainApiKey {
    environment: Environment,
    key_id: KeyId,
    full: SecretString,
}

impl fmt::Debug for PlainApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainApiKey")
            .field("environment", &self.environment)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PlainApiKey {
    /// A new random key: 96 bits of key id, 252 bits of secret, both from the OS CSPRNG.
    pub fn generate(environment: Environment) -> Self {
        let mut rng = rand::rngs::OsRng;
        let key_id = random_base64url(&mut rng, KEY_ID_LEN);
        let secret = random_base64url(&mut rng, SECRET_LEN);
        let prefix = prefix_of(environment);
        let checksum = checksum(prefix, &key_id, &secret);
        let mut full =
            String::with_capacity(prefix.len() + key_id.len() + secret.len() + checksum.len());
        full.push_str(prefix);
        full.push_str(&key_id);
        full.push_str(&secret);
        // base64url is ASCII, so each byte is its own character.
        full.extend(checksum.iter().copied().map(char::from));
        Self {
            environment,
            key_id: KeyId::from_trusted(key_id),
            full: full.into(),
        }
    }

    /// Parses a presented key. Pure computation: no I/O, no hashing.
    pub fn parse(presented: &str) -> Result<Self, MalformedKey> {
        KeyRef::parse(presented).map(Self::from)
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The whole key. Call only to show it once to its creator or to hash it.
    pub fn expose(&self) -> &str {
        self.full.expose_secret()
    }

    /// Argon2id PHC string of the whole key, the only form the database ever holds.
    pub fn hash(&self, hasher: &KeyHasher) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Ok(hasher
            .argon2()
            .hash_password(self.expose().as_bytes(), &salt)?
            .to_string())
    }

    /// Checks the key against a stored PHC string. Argon2's own comparison is constant-time.
    pub fn matches(&self, phc: &str, hasher: &KeyHasher) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => hasher
                .argon2()
                .verify_password(self.expose().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// The owned copy of a parsed key that Argon2 needs; verification makes it only on a cache miss.
impl From<KeyRef<'_>> for PlainApiKey {
    fn from(key: KeyRef<'_>) -> Self {
        Self {
            environment: key.environment(),
            key_id: KeyId::from_trusted(key.key_id().to_owned()),
            full: key.expose().to_owned().into(),
        }
    }
}

/// Argon2id parameters (docs/CONTRACT.md default m=19456 KiB, t=2, p=1), checked while compiling: invalid
/// ones would fail the build instead of the first key creation.
const CONTRACT_PARAMS: Params = match Params::new(19_456, 2, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("the contract's Argon2 parameters are invalid"),
};

/// Argon2id with the contract's parameters.
#[derive(Clone, Debug)]
pub struct KeyHasher {
    params: Params,
}

impl Default for KeyHasher {
    fn default() -> Self {
        Self {
            params: CONTRACT_PARAMS,
        }
    }
}

impl KeyHasher {
    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Argon2id PHC string of another secret held like a key (an OAuth client secret).
    pub fn hash_secret(&self, secret: &[u8]) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Ok(self.argon2().hash_password(secret, &salt)?.to_string())
    }

    /// Checks such a secret against its PHC string (constant-time).
    pub fn secret_matches(&self, phc: &str, secret: &[u8]) -> bool {
        PasswordHash::new(phc)
            .is_ok_and(|parsed| self.argon2().verify_password(secret, &parsed).is_ok())
    }
}

fn random_base64url(rng: &mut impl RngCore, chars: usize) -> String {
    // 3 bytes encode to 4 characters; draw enough and cut to length (each char stays uniform).
    let mut bytes = vec![0u8; chars.div_ceil(4) * 3];
    rng.fill_bytes(&mut bytes);
    let mut encoded = URL_SAFE_NO_PAD.encode(bytes);
    encoded.truncate(chars);
    encoded
}

#[cfg(test)]
mod tests {
    use statuspulse_api::key::{BODY_LEN, PREFIX_LEN};

    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_parse_back() {
        for env in [Environment::Live, Environment::Test] {
            let key = PlainApiKey::generate(env);
            let text = key.expose();
            assert_eq!(text.len(), PREFIX_LEN + BODY_LEN);
            assert!(text.starts_with(prefix_of(env)));
            let parsed = PlainApiKey::parse(text).unwrap();
            assert_eq!(parsed.key_id(), key.key_id());
            assert_eq!(parsed.environment(), env);
        }
    }

    #[test]
    fn secret_parts_are_the_prefix_and_the_secret_within_one_sha256_block() {
        let key = PlainApiKey::generate(Environment::Live);
        let [prefix, secret] = KeyRef::parse(key.expose()).unwrap().secret_parts();
        assert_eq!(prefix, b"sp_live_");
        assert_eq!(secret, &key.expose().as_bytes()[24..66]);
        // A SHA-256 block holds 55 bytes of message after the 64-byte HMAC key block.
        assert!(prefix.len() + secret.len() <= 55);
    }

    #[test]
    fn every_single_character_typo_is_refused_before_any_lookup() {
        let key = PlainApiKey::generate(Environment::Live);
        let text = key.expose().to_owned();
        for i in PREFIX_LEN..text.len() {
            let mut typo = text.clone().into_bytes();
            typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(typo).unwrap();
            assert!(PlainApiKey::parse(&typo).is_err(), "typo at {i} accepted");
        }
    }

    #[test]
    fn wrong_prefix_length_and_alphabet_are_told_apart() {
        let key = PlainApiKey::generate(Environment::Test);
        let body = &key.expose()[PREFIX_LEN..];
        assert_eq!(
            PlainApiKey::parse(&format!("sp_prod_{body}")).unwrap_err(),
            MalformedKey::Prefix
        );
        assert_eq!(
            PlainApiKey::parse(&key.expose()[..70]).unwrap_err(),
            MalformedKey::Shape
        );
        let bad_char = format!("sp_test_{}+", &body[..63]);
        assert_eq!(
            PlainApiKey::parse(&bad_char).unwrap_err(),
            MalformedKey::Shape
        );
        // A live body behind a test prefix fails the checksum, which covers the prefix.
        let live = PlainApiKey::generate(Environment::Live);
        let swapped = format!("sp_test_{}", &live.expose()[PREFIX_LEN..]);
        assert_eq!(
            PlainApiKey::parse(&swapped).unwrap_err(),
            MalformedKey::Checksum
        );
    }

    #[test]
    fn hash_is_argon2id_phc_and_verifies_only_the_same_key() {
        let hasher = KeyHasher::default();
        let key = PlainApiKey::generate(Environment::Live);
        let phc = key.hash(&hasher).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!phc.contains(key.expose()));
        assert!(key.matches(&phc, &hasher));
        let other = PlainApiKey::generate(Environment::Live);
        assert!(!other.matches(&phc, &hasher));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let key = PlainApiKey::generate(Environment::Live);
        assert!(!format!("{key:?}").contains(&key.expose()[PREFIX_LEN + KEY_ID_LEN..]));
    }
}
