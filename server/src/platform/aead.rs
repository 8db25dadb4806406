//! The one sealing format the server writes: ChaCha20-Poly1305 (`ring`) with a fresh random
//! nonce, as `nonce ‖ ciphertext ‖ tag`. Master-key secrets ([`super::secrets`]) and idempotent
//! answers ([`super::idempotency`]) wrap it in their own encodings and keys.

use ring::aead::{Aad, LessSafeKey, Nonce, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// Seals `plaintext` for `aad` (bound, not stored) under `key`.
pub fn seal(
    key: &LessSafeKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, ring::error::Unspecified> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + CHACHA20_POLY1305.tag_len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(plaintext);
    let mut tail = sealed.split_off(NONCE_LEN);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut tail,
    )?;
    sealed.append(&mut tail);
    Ok(sealed)
}

/// Opens what [`seal`] sealed for the same `aad`; `None` when it is truncated, altered, sealed
/// under another key or for another `aad`. The plaintext is wiped from memory when dropped.
pub fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buffer = zeroize::Zeroizing::new(ciphertext.to_vec());
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .ok()?
        .len();
    buffer.truncate(plain_len);
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::aead::UnboundKey;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_aad_and_never_truncated() {
        let key = |b: u8| LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[b; 32]).unwrap());
        let sealed = seal(&key(1), b"aad", b"secret").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 6 + CHACHA20_POLY1305.tag_len());
        assert_eq!(
            open(&key(1), b"aad", &sealed).unwrap().as_slice(),
            b"secret"
        );
        assert!(open(&key(2), b"aad", &sealed).is_none());
        assert!(open(&key(1), b"other", &sealed).is_none());
        assert!(open(&key(1), b"aad", &sealed[..NONCE_LEN + 3]).is_none());
        assert_ne!(sealed, seal(&key(1), b"aad", b"secret").unwrap());
    }
}
