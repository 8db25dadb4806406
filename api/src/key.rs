//! The API key format: `sp_live_` or `sp_test_` followed by exactly 64 base64url characters.
//!
//! ```text
//! sp_live_ KKKKKKKKKKKKKKKK SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS CCCCCC
//!          key id (16)      secret (42 chars = 252 bits)               checksum (6)
//! ```
//! The key id is public (listings, state, audit) and is how a key is looked up. The checksum is a
//! CRC-32 of everything before it, so a malformed or mistyped key is refused by [`KeyRef::parse`]
//! without touching a database or a hash. Generation, hashing and the secret-holding types live in
//! the server (`api_keys/token.rs`), built on these pieces.

use std::fmt;

use crate::scopes::Environment;

// Never change these prefixes: customers' secret scanners and gateways match on them.
/// Prefix of production keys.
pub const LIVE_PREFIX: &str = "sp_live_";
/// Prefix of sandbox keys.
pub const TEST_PREFIX: &str = "sp_test_";
/// Length of either prefix.
pub const PREFIX_LEN: usize = 8;
/// Base64url characters after the prefix.
pub const BODY_LEN: usize = 64;
/// Characters of the public key id (96 bits).
pub const KEY_ID_LEN: usize = 16;
/// Characters of the secret (252 bits).
pub const SECRET_LEN: usize = 42;
/// Characters of the CRC-32 checksum.
pub const CHECKSUM_LEN: usize = 6;
const _: () = assert!(KEY_ID_LEN + SECRET_LEN + CHECKSUM_LEN == BODY_LEN);
const _: () = assert!(LIVE_PREFIX.len() == PREFIX_LEN && TEST_PREFIX.len() == PREFIX_LEN);

/// Why a presented string is not an API key. Each is a distinct audit reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedKey {
    /// Neither `sp_live_` nor `sp_test_`.
    Prefix,
    /// Not exactly 64 base64url characters after the prefix.
    Shape,
    /// Well-formed, but the checksum does not match the rest.
    Checksum,
}

impl fmt::Display for MalformedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MalformedKey::Prefix => "the key does not start with sp_live_ or sp_test_",
            MalformedKey::Shape => "the key is not 64 base64url characters after its prefix",
            MalformedKey::Checksum => {
                "the key's checksum does not match: it was mistyped or truncated"
            }
        })
    }
}

impl std::error::Error for MalformedKey {}

/// The prefix of keys bound to `environment`.
#[inline]
pub fn prefix_of(environment: Environment) -> &'static str {
    match environment {
        Environment::Live => LIVE_PREFIX,
        Environment::Test => TEST_PREFIX,
    }
}

/// Prefix and shape only, without the checksum: which environment the string claims, for callers
/// that want to say what is wrong with a value before anything is sent.
pub fn check_shape(presented: &str) -> Result<Environment, MalformedKey> {
    let environment = if presented.starts_with(LIVE_PREFIX) {
        Environment::Live
    } else if presented.starts_with(TEST_PREFIX) {
        Environment::Test
    } else {
        return Err(MalformedKey::Prefix);
    };
    let body = &presented[PREFIX_LEN..];
    if body.len() != BODY_LEN || !body.bytes().all(is_base64url) {
        return Err(MalformedKey::Shape);
    }
    Ok(environment)
}

/// A presented key checked for shape and checksum, borrowed from the request: the hot path of
/// verification allocates nothing until it needs an owned key for Argon2. No `Debug`: it holds
/// the secret.
#[derive(Clone, Copy)]
pub struct KeyRef<'a> {
    environment: Environment,
    key_id: &'a str,
    full: &'a str,
}

// The accessors are `#[inline]` so that the server's verification hot path, in another crate,
// compiles them away as it did when they lived beside it.
impl<'a> KeyRef<'a> {
    /// Parses a presented key. Pure computation on the stack: no I/O, no hashing, no allocation.
    pub fn parse(presented: &'a str) -> Result<Self, MalformedKey> {
        let environment = check_shape(presented)?;
        let body = &presented[PREFIX_LEN..];
        let (key_id, rest) = body.split_at(KEY_ID_LEN);
        let (secret, presented_checksum) = rest.split_at(SECRET_LEN);
        if checksum(prefix_of(environment), key_id, secret) != presented_checksum.as_bytes() {
            return Err(MalformedKey::Checksum);
        }
        Ok(Self {
            environment,
            key_id,
            full: presented,
        })
    }

    /// The environment the prefix names.
    #[inline]
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The public key id, safe to show anywhere.
    #[inline]
    pub fn key_id(&self) -> &'a str {
        self.key_id
    }

    /// The whole key. Never log or store it.
    #[inline]
    pub fn expose(&self) -> &'a str {
        self.full
    }

    /// What a keyed digest of this key needs: its environment prefix and its secret. The key id
    /// is where the digest is filed and the checksum follows from the rest, so leaving them out
    /// loses nothing and keeps the digest's input within one SHA-256 block.
    #[inline]
    pub fn secret_parts(&self) -> [&'a [u8]; 2] {
        let bytes = self.full.as_bytes();
        let secret_start = PREFIX_LEN + KEY_ID_LEN;
        [
            &bytes[..PREFIX_LEN],
            &bytes[secret_start..secret_start + SECRET_LEN],
        ]
    }

    /// The owned form the holder of secrets builds from a parsed key (the server's
    /// `PlainApiKey`): the only allocation verification makes, and only on a cache miss.
    pub fn to_owned<T: From<Self>>(self) -> T {
        T::from(self)
    }
}

/// The six base64url characters of the CRC-32 of everything before them, on the stack: every
/// verification computes one, and generation appends one.
pub fn checksum(prefix: &str, key_id: &str, secret: &str) -> [u8; CHECKSUM_LEN] {
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix.as_bytes());
    crc.update(key_id.as_bytes());
    crc.update(secret.as_bytes());
    // Unpadded base64url of the four big-endian bytes, by hand: 32 bits are five whole sextets
    // and two bits left over, so the encoding is a fixed shape that has no error to handle.
    let crc = crc.finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    for (i, c) in out.iter_mut().take(CHECKSUM_LEN - 1).enumerate() {
        *c = base64url_char(crc >> (26 - 6 * i));
    }
    out[CHECKSUM_LEN - 1] = base64url_char(crc << 4);
    out
}

/// The base64url character of the low six bits of `sextet`.
fn base64url_char(sextet: u32) -> u8 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ALPHABET[usize::from(sextet.to_le_bytes()[0] & 0x3f)]
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The public identifier inside a key; safe to show anywhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key id read back from storage.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

// Lets caches keyed by `KeyId` be probed with the `&str` inside a presented key, unallocated.
impl std::borrow::Borrow<str> for KeyId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lifecycle state, derived from the stored times (never stored itself, so it cannot go stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Rotated: still usable until its grace period ends, then revoked.
    Rotating,
    /// Past `expires_at`.
    Expired,
    /// Refused everywhere; readable for 30 days of quarantine, then purged.
    Revoked,
}

impl KeyStatus {
    /// The state at `now_ms` of a key with these times (milliseconds since the epoch).
    pub fn at(now_ms: i64, expires_at: i64, revoked_at: Option<i64>) -> Self {
        match revoked_at {
            Some(at) if at <= now_ms => KeyStatus::Revoked,
            _ if expires_at <= now_ms => KeyStatus::Expired,
            Some(_) => KeyStatus::Rotating,
            None => KeyStatus::Active,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotating => "rotating",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// The state of a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Rotating, Self::Expired, Self::Revoked]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    #[test]
    fn checksum_is_the_base64url_of_the_crc() {
        for (prefix, key_id, secret) in [
            ("sp_live_", "a", "b"),
            ("sp_test_", "", ""),
            ("x", "yy", "zzz"),
        ] {
            let mut crc = crc32fast::Hasher::new();
            crc.update(format!("{prefix}{key_id}{secret}").as_bytes());
            let expected = URL_SAFE_NO_PAD.encode(crc.finalize().to_be_bytes());
            assert_eq!(checksum(prefix, key_id, secret), expected.as_bytes());
        }
    }

    fn key(prefix: &str, key_id: &str, secret: &str) -> String {
        let sum = checksum(prefix, key_id, secret);
        format!(
            "{prefix}{key_id}{secret}{}",
            std::str::from_utf8(&sum).unwrap()
        )
    }

    #[test]
    fn a_key_with_its_checksum_parses_into_its_parts() {
        let text = key(
            TEST_PREFIX,
            &"k".repeat(KEY_ID_LEN),
            &"s".repeat(SECRET_LEN),
        );
        let parsed = KeyRef::parse(&text).unwrap();
        assert_eq!(parsed.environment(), Environment::Test);
        assert_eq!(parsed.key_id(), "k".repeat(KEY_ID_LEN));
        assert_eq!(parsed.expose(), text);
    }

    #[test]
    fn shape_without_checksum_is_told_apart_from_a_bad_prefix_or_length() {
        let body = "A".repeat(BODY_LEN);
        assert_eq!(
            check_shape(&format!("sp_live_{body}")),
            Ok(Environment::Live)
        );
        assert_eq!(
            KeyRef::parse(&format!("sp_live_{body}")).err(),
            Some(MalformedKey::Checksum)
        );
        assert_eq!(
            check_shape(&format!("sp_prod_{body}")),
            Err(MalformedKey::Prefix)
        );
        assert_eq!(check_shape(&body[..10]), Err(MalformedKey::Prefix));
        assert_eq!(
            check_shape(&format!("sp_test_{}", &body[1..])),
            Err(MalformedKey::Shape)
        );
        assert_eq!(
            check_shape(&format!("sp_test_{}+", &body[1..])),
            Err(MalformedKey::Shape)
        );
    }
}
