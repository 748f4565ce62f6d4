//! Host-side secrets: generating webhook secrets, API keys and ids; hashing
//! API keys for storage; sealing endpoint secrets with the master key;
//! constant-time comparison. (Request signing itself happens in the
//! plugins, with `hookmesh_sdk::signing`.)

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::sync::{Mutex, PoisonError};
use subtle::ConstantTimeEq;

/// Random bytes in a new webhook secret.
const WEBHOOK_SECRET_BYTES: usize = 24;
/// Random bytes in a new API key.
const API_KEY_BYTES: usize = 24;
/// XChaCha20-Poly1305 nonce length.
const NONCE_BYTES: usize = 24;
/// The master key length.
pub const MASTER_KEY_BYTES: usize = 32;

/// A sealed secret could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Wrong master key or tampered data.
    #[error("cannot decrypt a stored secret: wrong master key or corrupted data")]
    Open,
    /// The master key is malformed.
    #[error("master key must be {MASTER_KEY_BYTES} bytes in base64, got {0}")]
    BadKey(String),
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A new Standard Webhooks secret, `whsec_<base64 of 24 random bytes>`.
pub fn new_webhook_secret() -> String {
    format!(
        "whsec_{}",
        BASE64.encode(random_bytes::<WEBHOOK_SECRET_BYTES>())
    )
}

/// A new API key with `prefix` (`hm_sk_` secret, `hm_pk_` publishable).
pub fn new_api_key(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(random_bytes::<API_KEY_BYTES>()))
}

/// Hex SHA-256 of an API key: what the store keeps. Keys are long random
/// strings, so a fast hash is enough (no password stretching needed).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two secrets without leaking where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A new id: `prefix` + 12 hex digits of Unix ms + 10 hex digits, so ids
/// sort by creation time. The 10 digits start at a random value in each
/// new millisecond and count up within it (as monotonic ULIDs do), so the
/// ids one process makes rise strictly: the store's tables then grow at
/// their end, where redb leaves full pages behind (random order within a
/// millisecond left them half full). Random starts keep instances apart.
pub fn new_id(prefix: &str) -> String {
    new_id_at(prefix, crate::now_ms())
}

/// A new id made at `now_ms` (an event's id carries its creation time, so
/// the event log's time ranges are id ranges).
pub fn new_id_at(prefix: &str, now_ms: u64) -> String {
    format!(
        "{}{:010x}",
        id_bound(prefix, now_ms),
        next_id_suffix(now_ms)
    )
}

/// Ids' low 40 bits (10 hex digits).
const ID_SUFFIX_LIMIT: u64 = 1 << 40;

/// The millisecond and suffix of the last id made at the latest time so far.
static LAST_ID: Mutex<(u64, u64)> = Mutex::new((0, 0));

/// The suffix for an id made at `ms`: one more than the last one in the
/// same millisecond, else a random start in the lower half (room to count
/// up). An id for an earlier millisecond (a clock step back, a test's
/// back-dated event) gets a random suffix and leaves the count alone.
fn next_id_suffix(ms: u64) -> u64 {
    let fresh = || rand::rng().next_u64() % (ID_SUFFIX_LIMIT / 2);
    let mut last = LAST_ID.lock().unwrap_or_else(PoisonError::into_inner);
    let suffix = match ms.cmp(&last.0) {
        Ordering::Less => return fresh(),
        Ordering::Equal if last.1 + 1 < ID_SUFFIX_LIMIT => last.1 + 1,
        // 2^39 ids in one millisecond: out of room; a new random start.
        Ordering::Equal | Ordering::Greater => fresh(),
    };
    *last = (ms, suffix);
    suffix
}

/// Sorts before every id made at `ms` or later, and after every id made
/// earlier (with the same prefix): a time bound as an id bound.
pub fn id_bound(prefix: &str, ms: u64) -> String {
    format!("{prefix}{ms:012x}")
}

/// Seals and opens secrets with the master key (XChaCha20-Poly1305, random
/// nonce per secret).
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// From a base64 master key of [`MASTER_KEY_BYTES`] bytes.
    pub fn from_base64(key: &str) -> Result<Self, SealError> {
        let bytes = BASE64
            .decode(key.trim())
            .map_err(|e| SealError::BadKey(format!("invalid base64 ({e})")))?;
        if bytes.len() != MASTER_KEY_BYTES {
            return Err(SealError::BadKey(format!("{} bytes", bytes.len())));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| SealError::BadKey("unusable key".into()))?;
        Ok(Self { cipher })
    }

    /// Nonce followed by ciphertext.
    pub fn seal(&self, secret: &str) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_BYTES>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(nonce, secret.as_bytes())
            .unwrap_or_default();
        [nonce_bytes.as_slice(), &ciphertext].concat()
    }

    /// The secret sealed by [`SecretBox::seal`].
    pub fn open(&self, sealed: &[u8]) -> Result<String, SealError> {
        if sealed.len() < NONCE_BYTES {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        BASE64.encode([7u8; MASTER_KEY_BYTES])
    }

    #[test]
    fn sealed_secrets_round_trip_and_resist_tampering() {
        let sb = SecretBox::from_base64(&key()).unwrap();
        let sealed = sb.seal("whsec_abc");
        assert_eq!(sb.open(&sealed).unwrap(), "whsec_abc");
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sb.open(&tampered).is_err());
        let other = SecretBox::from_base64(&BASE64.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn bad_master_keys_are_refused() {
        assert!(SecretBox::from_base64("short").is_err());
        assert!(SecretBox::from_base64(&BASE64.encode([1u8; 16])).is_err());
    }

    #[test]
    fn generated_values_have_their_shapes() {
        let secret = new_webhook_secret();
        assert!(hookmesh_sdk::signing::standard_webhooks_key(&secret).is_ok());
        assert_ne!(secret, new_webhook_secret());
        assert!(new_api_key("hm_sk_").starts_with("hm_sk_"));
        assert_eq!(hash_api_key("x").len(), 64);
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
        let (a, b) = (new_id("evt_"), new_id("evt_"));
        assert!(a.starts_with("evt_") && a != b && a.len() == 4 + 22);
    }

    #[test]
    fn ids_rise_strictly_within_a_millisecond_and_keep_their_time() {
        let ms = crate::now_ms() + 60_000;
        let ids: Vec<String> = (0..1000).map(|_| new_id_at("dlv_", ms)).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "ids must rise"
        );
        assert!(ids
            .iter()
            .all(|id| id.starts_with(&id_bound("dlv_", ms)) && id.len() == 4 + 22));
        // A back-dated id keeps its own time, and sorts before the later ones.
        let earlier = new_id_at("dlv_", ms - 5_000);
        assert!(earlier.starts_with(&id_bound("dlv_", ms - 5_000)) && earlier < ids[0]);
        assert!(
            new_id_at("dlv_", ms) > ids[999],
            "the count goes on after a back-dated id"
        );
    }
}
