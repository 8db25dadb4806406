//! Secrets the server must read back (SSO client secrets, token signing keys, sink credentials)
//! are sealed with a key-encryption key, the master key (docs/CONTRACT.md, "Configuration":
//! `STATUSPULSE_MASTER_KEY` or `STATUSPULSE_MASTER_KEY_FILE`). Credentials the server only checks
//! (API keys, OAuth client secrets) are hashed instead and never come here.
//!
//! A sealed value is `sp1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, ChaCha20-Poly1305 with a
//! random 96-bit nonce (`ring`, already built for TLS). The key id names the master key that
//! sealed it, so the master key can be rotated: configure the new key as current and the old one
//! in `STATUSPULSE_MASTER_KEY_PREVIOUS`; values open with whichever key sealed them, and
//! [`MasterKeys::is_current`] tells a re-sealing job what is left to do.
//!
//! Every value is sealed for a *context* (for example `sso_connection:sso_…:client_secret`), bound
//! as associated data: a ciphertext copied into another row or column does not open there.
//!
//! The ids of the master keys that sealed anything are recorded in the database
//! (`master_keys_used`); a server whose configured keys do not include every recorded id refuses
//! to start ([`check_can_open_stored`]), rather than failing later on each secret.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{LessSafeKey, UnboundKey, CHACHA20_POLY1305};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use super::aead;

const FORMAT: &str = "sp1";
const KEY_LEN: usize = 32;

/// One master key: its id and the AEAD key. `Debug` shows only the id.
struct MasterKey {
    id: String,
    key: LessSafeKey,
}

impl MasterKey {
    fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() != KEY_LEN {
            return Err(SecretError::BadMasterKey(format!(
                "a master key is {KEY_LEN} bytes (base64 of 32 random bytes), not {}",
                bytes.len()
            )));
        }
        // The id names the key without revealing it: a hash under its own label.
        let mut hasher = Sha256::new();
        hasher.update(b"statuspulse master key id\n");
        hasher.update(bytes);
        let id = hex::encode(&hasher.finalize()[..6]);
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| SecretError::BadMasterKey("not a ChaCha20-Poly1305 key".into()))?;
        Ok(Self {
            id,
            key: LessSafeKey::new(key),
        })
    }

    fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = zeroize::Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| {
            SecretError::BadMasterKey("a master key is base64 of 32 random bytes".into())
        })?);
        Self::from_bytes(&bytes)
    }
}

/// The master keys this server holds: the current one seals, every one opens.
pub struct MasterKeys {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a secret could not be sealed or opened. Never carries secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("{0}")]
    BadMasterKey(String),
    #[error("no master key is configured (STATUSPULSE_MASTER_KEY or STATUSPULSE_MASTER_KEY_FILE)")]
    NoMasterKey,
    #[error("the value was sealed with master key {0}, which this server does not hold")]
    UnknownKey(String),
    #[error("the sealed value is malformed, altered, or belongs to another context")]
    Corrupt,
}

impl MasterKeys {
    /// The current key (base64) and any previous ones still needed to open older values.
    pub fn new(current: &str, previous: &[&str]) -> Result<Self, SecretError> {
        let current = MasterKey::from_base64(current)?;
        let previous = previous
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| MasterKey::from_base64(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { current, previous })
    }

    /// Reads the current key from a file (its whole content, base64).
    pub fn from_file(path: &Path, previous: &[&str]) -> anyhow::Result<Self> {
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("reading the master key file {}: {e}", path.display())
            })?);
        Ok(Self::new(&text, previous)?)
    }

    /// The embedded default: the key in `path`, created (32 random bytes, mode 0600) when it
    /// does not exist yet. Returns whether it was created, so the caller can say where.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(Self, bool)> {
        if path.exists() {
            return Ok((Self::from_file(path, &[])?, false));
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        let text = zeroize::Zeroizing::new(STANDARD.encode(bytes.as_ref()));
        write_private(path, text.as_bytes())?;
        Ok((Self::new(&text, &[])?, true))
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Ids of every key held.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| k.id.as_str())
    }

    /// Seals `plaintext` for `context` with the current key.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, SecretError> {
        let body = aead::seal(&self.current.key, context.as_bytes(), plaintext)
            .map_err(|_| SecretError::Corrupt)?;
        Ok(format!(
            "{FORMAT}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    /// Opens a value sealed for `context`, with whichever held key sealed it.
    pub fn open(
        &self,
        sealed: &str,
        context: &str,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SecretError> {
        let (key_id, body) = parse(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        aead::open(&key.key, context.as_bytes(), &body).ok_or(SecretError::Corrupt)
    }

    /// Whether `sealed` was sealed with the current key (a re-sealing job skips it).
    pub fn is_current(&self, sealed: &str) -> bool {
        parse(sealed).is_ok_and(|(id, _)| id == self.current.id)
    }
}

/// The key id and the decoded body of a sealed value.
fn parse(sealed: &str) -> Result<(&str, Vec<u8>), SecretError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(FORMAT), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SecretError::Corrupt);
    };
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SecretError::Corrupt)?;
    Ok((key_id, body))
}

/// Writes a new file readable by its owner only; never overwrites one.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("creating the master key file {}: {e}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Where the embedded default keeps its master key: beside the SQLite file, or `None` for a
/// database that is not a local file (PostgreSQL deployments configure a key explicitly).
pub fn default_key_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://")?;
    let file = rest
        .split('?')
        .next()
        .filter(|f| !f.is_empty() && *f != ":memory:")?;
    let file = Path::new(file);
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    Some(dir.unwrap_or(Path::new(".")).join("statuspulse-master.key"))
}

/// The master keys `settings` name, or the embedded default's key file; `None` when a database
/// that is not a local file runs without a configured key (nothing can be sealed then, and a
/// database holding sealed values refuses to start, see [`check_can_open_stored`]).
pub fn load(settings: &crate::Settings) -> anyhow::Result<Option<MasterKeys>> {
    use crate::platform::config::MasterKeySource;
    let previous: Vec<&str> = settings
        .master_key_previous
        .iter()
        .map(|k| k.0.as_str())
        .collect();
    match &settings.master_key {
        MasterKeySource::Value(key) => Ok(Some(MasterKeys::new(&key.0, &previous)?)),
        MasterKeySource::File(path) => Ok(Some(MasterKeys::from_file(path, &previous)?)),
        MasterKeySource::Default => {
            let Some(path) = default_key_path(&settings.database_url) else {
                return Ok(None);
            };
            let (keys, created) = MasterKeys::load_or_create(&path)?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    key_id = keys.current_id(),
                    "generated a master key for the embedded database; back it up with the \
                     database, or set STATUSPULSE_MASTER_KEY_FILE"
                );
            }
            Ok(Some(keys))
        }
    }
}

/// Records that `key_id` sealed something (idempotent); call in the transaction that stores the
/// sealed value.
pub async fn record_use(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    key_id: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO master_keys_used (key_id, first_used_at) VALUES ($1, $2) \
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(key_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refuses to run a server that could not open what the database holds: data sealed with
/// master keys it does not have (or with no master key configured at all).
pub async fn check_can_open_stored(
    pool: &sqlx::AnyPool,
    keys: Option<&MasterKeys>,
) -> anyhow::Result<()> {
    let used: Vec<(String,)> =
        sqlx::query_as("SELECT key_id FROM master_keys_used ORDER BY key_id")
            .fetch_all(pool)
            .await?;
    let missing: Vec<&str> = used
        .iter()
        .map(|(id,)| id.as_str())
        .filter(|id| keys.is_none_or(|keys| !keys.ids().any(|held| held == *id)))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the database holds secrets sealed with master key(s) {} that this server was not given; \
         set STATUSPULSE_MASTER_KEY (or STATUSPULSE_MASTER_KEY_FILE) to the key in use, and list \
         older keys in STATUSPULSE_MASTER_KEY_PREVIOUS until their values are re-sealed",
        missing.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_context_and_hides_the_plaintext() {
        let keys = MasterKeys::new(&key(1), &[]).unwrap();
        let sealed = keys
            .seal(b"client-secret-value", "sso_connection:a:client_secret")
            .unwrap();
        assert!(!sealed.contains("client-secret-value"));
        assert!(sealed.starts_with(&format!("sp1.{}.", keys.current_id())));
        assert_eq!(
            keys.open(&sealed, "sso_connection:a:client_secret")
                .unwrap()
                .as_slice(),
            b"client-secret-value"
        );
        // Copied into another row, it does not open.
        assert_eq!(
            keys.open(&sealed, "sso_connection:b:client_secret"),
            Err(SecretError::Corrupt)
        );
        // Two seals of one value differ (random nonces).
        assert_ne!(
            sealed,
            keys.seal(b"client-secret-value", "sso_connection:a:client_secret")
                .unwrap()
        );
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let keys = MasterKeys::new(&key(1), &[]).unwrap();
        let sealed = keys.seal(b"x", "c").unwrap();
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let altered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(
                keys.open(&altered, "c"),
                Err(SecretError::Corrupt),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        for garbage in ["", "sp1", "sp1.x", "sp2.abc.AAAA", "sp1.abc.!!!"] {
            assert!(keys.open(garbage, "c").is_err(), "{garbage}");
        }
    }

    #[test]
    fn rotation_opens_old_values_with_the_previous_key_and_seals_with_the_new_one() {
        let old = MasterKeys::new(&key(1), &[]).unwrap();
        let sealed_old = old.seal(b"v", "c").unwrap();
        let rotated = MasterKeys::new(&key(2), &[&key(1)]).unwrap();
        assert_eq!(rotated.open(&sealed_old, "c").unwrap().as_slice(), b"v");
        assert!(!rotated.is_current(&sealed_old));
        let resealed = rotated.seal(b"v", "c").unwrap();
        assert!(rotated.is_current(&resealed));
        // Without the previous key, the old value names the key it needs.
        let only_new = MasterKeys::new(&key(2), &[]).unwrap();
        assert_eq!(
            only_new.open(&sealed_old, "c"),
            Err(SecretError::UnknownKey(old.current_id().to_owned()))
        );
    }

    #[test]
    fn master_keys_must_be_32_bytes_of_base64_and_debug_shows_only_ids() {
        assert!(MasterKeys::new("not base64!", &[]).is_err());
        assert!(MasterKeys::new(&STANDARD.encode([0u8; 16]), &[]).is_err());
        let keys = MasterKeys::new(&key(7), &[]).unwrap();
        let shown = format!("{keys:?}");
        assert!(
            shown.contains(keys.current_id()) && !shown.contains(&key(7)),
            "{shown}"
        );
    }

    #[test]
    fn the_embedded_default_creates_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statuspulse-master.key");
        let (first, created) = MasterKeys::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = MasterKeys::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.current_id(), again.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_default_key_lives_beside_the_sqlite_file() {
        assert_eq!(
            default_key_path("sqlite://statuspulse.db?mode=rwc"),
            Some(PathBuf::from("./statuspulse-master.key"))
        );
        assert_eq!(
            default_key_path("sqlite:///var/lib/sp/db.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/sp/statuspulse-master.key"))
        );
        assert_eq!(default_key_path("postgres://localhost/sp"), None);
        assert_eq!(default_key_path("sqlite://:memory:"), None);
    }
}
