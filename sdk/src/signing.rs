//! Signing helpers: Standard Webhooks v1, plain hex HMAC-SHA256, and the
//! HMAC checks inbound providers need (SHA-1/256/512, hex or base64,
//! constant-time; [`verify_hmac`], [`constant_time_eq`]).
//!
//! Standard Webhooks signs `"{id}.{timestamp}.{body}"` with HMAC-SHA256 under
//! the base64 key inside a `whsec_…` secret and sends
//! `webhook-signature: v1,<base64>`; several signatures (old and new secret
//! during a rotation) are separated by spaces. The hex form,
//! `sha256=<hex HMAC-SHA256 of the raw body>` keyed by the secret string as
//! given, serves receivers that already verify that way (as GitHub's and
//! Razorpay's customers do).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The prefix of Standard Webhooks secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// The only Standard Webhooks signature scheme version.
pub const SIGNATURE_VERSION: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// A hash for HMAC signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1: weak, accepted only for legacy senders that cannot do better.
    Sha1,
    /// HMAC-SHA256: what most providers use.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// Parses `sha1`, `sha256` or `sha512` (ASCII case-insensitive).
    ///
    /// ```
    /// use hookmesh_sdk::signing::Algorithm;
    /// assert_eq!(Algorithm::parse("SHA512"), Some(Algorithm::Sha512));
    /// assert_eq!(Algorithm::parse("md5"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// True for algorithms kept only for legacy senders (SHA-1).
    ///
    /// ```
    /// use hookmesh_sdk::signing::Algorithm;
    /// assert!(Algorithm::Sha1.is_weak() && !Algorithm::Sha256.is_weak());
    /// ```
    pub fn is_weak(self) -> bool {
        self == Self::Sha1
    }
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hex digits, either case.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

impl Encoding {
    /// Parses `hex` or `base64` (ASCII case-insensitive).
    ///
    /// ```
    /// use hookmesh_sdk::signing::Encoding;
    /// assert_eq!(Encoding::parse("Base64"), Some(Encoding::Base64));
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }

    /// The bytes `text` encodes, or `None` when it is not this encoding.
    ///
    /// ```
    /// use hookmesh_sdk::signing::Encoding;
    /// assert_eq!(Encoding::Hex.decode("6869"), Some(b"hi".to_vec()));
    /// assert_eq!(Encoding::Base64.decode("aGk="), Some(b"hi".to_vec()));
    /// assert_eq!(Encoding::Hex.decode("zz"), None);
    /// ```
    pub fn decode(self, text: &str) -> Option<Vec<u8>> {
        let text = text.trim();
        match self {
            Self::Hex => hex::decode(text).ok(),
            Self::Base64 => BASE64.decode(text).ok(),
        }
    }
}

fn mac_matches<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    parts: &[&[u8]],
    expected: &[u8],
) -> bool {
    let mut mac = <M as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}

/// True when `expected` is the HMAC of the concatenated `parts` under `key`
/// with `algorithm`; compared in constant time (a wrong length is refused
/// at once, which reveals nothing about the key).
///
/// ```
/// use hookmesh_sdk::signing::{hmac_sha256, verify_hmac, Algorithm};
/// let expected = hmac_sha256(b"key", &[b"1700000000", b".", b"{}"]);
/// assert!(verify_hmac(Algorithm::Sha256, b"key", &[b"1700000000.{}"], &expected));
/// assert!(!verify_hmac(Algorithm::Sha256, b"other", &[b"1700000000.{}"], &expected));
/// ```
pub fn verify_hmac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    match algorithm {
        Algorithm::Sha1 => mac_matches::<Hmac<Sha1>>(key, parts, expected),
        Algorithm::Sha256 => mac_matches::<HmacSha256>(key, parts, expected),
        Algorithm::Sha512 => mac_matches::<Hmac<Sha512>>(key, parts, expected),
    }
}

/// Checks a base64 HMAC-SHA256 of `data` (Shopify's form) in constant time.
///
/// ```
/// use hookmesh_sdk::signing::{verify_base64_hmac_sha256, BodySignatureFormat};
/// let signature = BodySignatureFormat::Base64.sign("key", b"{}");
/// assert!(verify_base64_hmac_sha256(b"key", b"{}", &signature));
/// ```
pub fn verify_base64_hmac_sha256(key: &[u8], data: &[u8], signature_base64: &str) -> bool {
    Encoding::Base64
        .decode(signature_base64)
        .is_some_and(|expected| verify_hmac(Algorithm::Sha256, key, &[data], &expected))
}

/// Compares two byte strings in constant time for equal lengths (API keys,
/// tokens). Unequal lengths are unequal at once.
///
/// ```
/// use hookmesh_sdk::signing::constant_time_eq;
/// assert!(constant_time_eq(b"api-key-1", b"api-key-1"));
/// assert!(!constant_time_eq(b"api-key-1", b"api-key-2"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A secret that cannot be used for signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSecret(pub String);

impl std::fmt::Display for InvalidSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid signing secret: {}", self.0)
    }
}

impl std::error::Error for InvalidSecret {}

/// HMAC-SHA256 of `data` under `key`.
///
/// ```
/// let mac = hookmesh_sdk::signing::hmac_sha256(b"key", &[b"id", b".", b"body"]);
/// assert_eq!(mac, hookmesh_sdk::signing::hmac_sha256(b"key", &[b"id.body"]));
/// ```
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in data {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lower-case hex HMAC-SHA256 of `data` under `key`.
///
/// ```
/// let hex = hookmesh_sdk::signing::hex_hmac_sha256(b"key", b"body");
/// assert_eq!(hex.len(), 64);
/// ```
pub fn hex_hmac_sha256(key: &[u8], data: &[u8]) -> String {
    hex::encode(hmac_sha256(key, &[data]))
}

/// Checks a hex HMAC-SHA256 (case-insensitive) in constant time.
///
/// ```
/// use hookmesh_sdk::signing::{hex_hmac_sha256, verify_hex_hmac_sha256};
/// let signature = hex_hmac_sha256(b"key", b"body").to_uppercase();
/// assert!(verify_hex_hmac_sha256(b"key", b"body", &signature));
/// ```
pub fn verify_hex_hmac_sha256(key: &[u8], data: &[u8], signature_hex: &str) -> bool {
    Encoding::Hex
        .decode(signature_hex)
        .is_some_and(|expected| verify_hmac(Algorithm::Sha256, key, &[data], &expected))
}

/// The `x-hookmesh-signature` value: `sha256=<hex HMAC of body keyed by the secret string>`.
///
/// ```
/// let value = hookmesh_sdk::signing::hookmesh_hex_signature("s3cret", b"{}");
/// assert!(value.starts_with("sha256="));
/// ```
pub fn hookmesh_hex_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex_hmac_sha256(secret.as_bytes(), body))
}

/// The HMAC key inside a Standard Webhooks secret (`whsec_<base64>`; the
/// prefix is optional, as in the reference libraries).
///
/// ```
/// use hookmesh_sdk::signing::standard_webhooks_key;
/// assert_eq!(standard_webhooks_key("whsec_aGk=").unwrap(), b"hi");
/// assert!(standard_webhooks_key("whsec_not base64").is_err());
/// ```
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = BASE64
        .decode(encoded)
        .map_err(|e| InvalidSecret(format!("not base64 after `{SECRET_PREFIX}`: {e}")))?;
    if key.is_empty() {
        return Err(InvalidSecret("empty key".into()));
    }
    Ok(key)
}

/// The HMAC key an endpoint secret stands for: the bytes inside
/// `whsec_<base64>` (a Standard Webhooks secret), or, for any other string a
/// customer brought (`whsec_your_signing_secret`, `s3cr3t-…`), its UTF-8
/// bytes. Unlike [`standard_webhooks_key`], a bare base64 string is not
/// decoded: only the `whsec_` prefix says "base64 inside".
///
/// ```
/// use hookmesh_sdk::signing::endpoint_secret_key;
/// assert_eq!(endpoint_secret_key("whsec_aGk="), b"hi");
/// assert_eq!(endpoint_secret_key("whsec_your_signing_secret"), b"whsec_your_signing_secret");
/// ```
pub fn endpoint_secret_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The Standard Webhooks form (`whsec_<base64 of the key>`) of an endpoint
/// secret: the secret itself when it is one already, otherwise the secret's
/// UTF-8 bytes in base64, which Standard Webhooks verifiers take.
///
/// ```
/// use hookmesh_sdk::signing::standard_webhooks_form;
/// assert_eq!(standard_webhooks_form("hi"), "whsec_aGk=");
/// assert_eq!(standard_webhooks_form("whsec_aGk="), "whsec_aGk=");
/// ```
pub fn standard_webhooks_form(secret: &str) -> String {
    format!(
        "{SECRET_PREFIX}{}",
        BASE64.encode(endpoint_secret_key(secret))
    )
}

/// The `webhook-signature` header for an endpoint's secrets (newest first),
/// each keyed by [`endpoint_secret_key`].
///
/// ```
/// use hookmesh_sdk::signing::endpoint_signature_header;
/// let header = endpoint_signature_header(&["new-secret", "old-secret"], "evt_1", 1_700_000_000, b"{}");
/// assert_eq!(header.split(' ').count(), 2);
/// assert!(header.starts_with("v1,"));
/// ```
pub fn endpoint_signature_header<S: AsRef<str>>(
    secrets: &[S],
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| {
            sign_with_key(
                &endpoint_secret_key(secret.as_ref()),
                msg_id,
                timestamp_secs,
                body,
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the hex-HMAC header writes the HMAC-SHA256 of the raw body (keyed
/// by the secret string's UTF-8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySignatureFormat {
    /// `sha256=<hex>` (GitHub-style; the default).
    PrefixedHex,
    /// `<hex>` alone.
    Hex,
    /// Standard base64.
    Base64,
}

impl BodySignatureFormat {
    /// The config spellings: `sha256=hex`, `hex`, `base64`.
    pub const NAMES: [&'static str; 3] = ["sha256=hex", "hex", "base64"];

    /// Parses one of [`Self::NAMES`].
    ///
    /// ```
    /// use hookmesh_sdk::signing::BodySignatureFormat;
    /// assert_eq!(BodySignatureFormat::parse("hex"), Some(BodySignatureFormat::Hex));
    /// assert_eq!(BodySignatureFormat::parse("sha1"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256=hex" => Some(Self::PrefixedHex),
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }

    /// The header value for `body` signed with `secret`.
    ///
    /// ```
    /// use hookmesh_sdk::signing::{hookmesh_hex_signature, BodySignatureFormat};
    /// assert_eq!(BodySignatureFormat::PrefixedHex.sign("s", b"{}"), hookmesh_hex_signature("s", b"{}"));
    /// ```
    pub fn sign(self, secret: &str, body: &[u8]) -> String {
        let mac = hmac_sha256(secret.as_bytes(), &[body]);
        match self {
            Self::PrefixedHex => format!("sha256={}", hex::encode(mac)),
            Self::Hex => hex::encode(mac),
            Self::Base64 => BASE64.encode(mac),
        }
    }
}

/// One Standard Webhooks signature, `v1,<base64>`.
///
/// ```
/// use hookmesh_sdk::signing::{standard_webhooks_signature, verify_standard_webhooks};
/// let signature = standard_webhooks_signature("whsec_aGk=", "evt_1", 1_700_000_000, b"{}")?;
/// assert!(verify_standard_webhooks("whsec_aGk=", "evt_1", 1_700_000_000, b"{}", &signature)?);
/// # Ok::<(), hookmesh_sdk::signing::InvalidSecret>(())
/// ```
pub fn standard_webhooks_signature(
    secret: &str,
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
) -> Result<String, InvalidSecret> {
    let key = standard_webhooks_key(secret)?;
    Ok(sign_with_key(&key, msg_id, timestamp_secs, body))
}

fn sign_with_key(key: &[u8], msg_id: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let timestamp = timestamp_secs.to_string();
    let mac = hmac_sha256(
        key,
        &[msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!("{SIGNATURE_VERSION},{}", BASE64.encode(mac))
}

/// The `webhook-signature` header value: one signature per secret, in the
/// order given, separated by single spaces.
///
/// ```
/// use hookmesh_sdk::signing::standard_webhooks_header;
/// let header = standard_webhooks_header(&["whsec_aGk=", "whsec_aGk="], "evt_1", 1_700_000_000, b"{}")?;
/// assert_eq!(header.split(' ').count(), 2);
/// # Ok::<(), hookmesh_sdk::signing::InvalidSecret>(())
/// ```
pub fn standard_webhooks_header<S: AsRef<str>>(
    secrets: &[S],
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
) -> Result<String, InvalidSecret> {
    let mut header = String::new();
    for secret in secrets {
        if !header.is_empty() {
            header.push(' ');
        }
        header.push_str(&standard_webhooks_signature(
            secret.as_ref(),
            msg_id,
            timestamp_secs,
            body,
        )?);
    }
    Ok(header)
}

/// Verifies a `webhook-signature` header: true when any `v1` signature in it
/// matches `secret` (constant-time per candidate).
///
/// ```
/// use hookmesh_sdk::signing::{standard_webhooks_header, verify_standard_webhooks};
/// let header = standard_webhooks_header(&["whsec_b2xk", "whsec_aGk="], "evt_1", 1_700_000_000, b"{}")?;
/// assert!(verify_standard_webhooks("whsec_aGk=", "evt_1", 1_700_000_000, b"{}", &header)?);
/// assert!(!verify_standard_webhooks("whsec_aGk=", "evt_2", 1_700_000_000, b"{}", &header)?);
/// # Ok::<(), hookmesh_sdk::signing::InvalidSecret>(())
/// ```
pub fn verify_standard_webhooks(
    secret: &str,
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
    signature_header: &str,
) -> Result<bool, InvalidSecret> {
    let key = standard_webhooks_key(secret)?;
    let timestamp = timestamp_secs.to_string();
    let matches = signature_header
        .split(' ')
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .any(|expected| {
            let mut mac =
                <HmacSha256 as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
            for part in [msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
                mac.update(part);
            }
            mac.verify_slice(&expected).is_ok()
        });
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the Standard Webhooks reference libraries' test suites.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: u64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn reference_vector_reproduces() {
        let sig = standard_webhooks_signature(SECRET, MSG_ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(sig, EXPECTED);
    }

    #[test]
    fn prefix_is_optional() {
        let bare = SECRET.strip_prefix(SECRET_PREFIX).unwrap();
        let sig = standard_webhooks_signature(bare, MSG_ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(sig, EXPECTED);
    }

    #[test]
    fn header_lists_every_secret_in_order() {
        let other = "whsec_dGhpcyBpcyBhIHNlY29uZCBzZWNyZXQ=";
        let header = standard_webhooks_header(&[SECRET, other], MSG_ID, TIMESTAMP, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], EXPECTED);
        assert!(verify_standard_webhooks(other, MSG_ID, TIMESTAMP, BODY, &header).unwrap());
    }

    #[test]
    fn verify_rejects_tampering() {
        assert!(verify_standard_webhooks(SECRET, MSG_ID, TIMESTAMP, BODY, EXPECTED).unwrap());
        assert!(!verify_standard_webhooks(SECRET, MSG_ID, TIMESTAMP + 1, BODY, EXPECTED).unwrap());
        assert!(!verify_standard_webhooks(SECRET, MSG_ID, TIMESTAMP, b"{}", EXPECTED).unwrap());
        assert!(!verify_standard_webhooks(SECRET, MSG_ID, TIMESTAMP, BODY, "v2,abc").unwrap());
    }

    #[test]
    fn endpoint_secrets_of_any_form_sign() {
        // A whsec_ secret keys by its base64 content, as Standard Webhooks does.
        assert_eq!(
            endpoint_signature_header(&[SECRET], MSG_ID, TIMESTAMP, BODY),
            EXPECTED
        );
        assert_eq!(standard_webhooks_form(SECRET), SECRET);
        // Any other string keys by its UTF-8 bytes; its whsec_ form verifies.
        for brought in [
            "whsec_your_signing_secret",
            "my-own-secret-0123456789",
            "QUJDREVGR0hJSktMTU5PUA==",
        ] {
            let header = endpoint_signature_header(&[brought], MSG_ID, TIMESTAMP, BODY);
            assert_eq!(endpoint_secret_key(brought), brought.as_bytes());
            let form = standard_webhooks_form(brought);
            assert!(verify_standard_webhooks(&form, MSG_ID, TIMESTAMP, BODY, &header).unwrap());
        }
        assert_eq!(
            BodySignatureFormat::PrefixedHex.sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            BodySignatureFormat::Base64.sign("Jefe", b"what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert_eq!(
            BodySignatureFormat::parse("hex"),
            Some(BodySignatureFormat::Hex)
        );
        assert_eq!(BodySignatureFormat::parse("HEX"), None);
    }

    #[test]
    fn bad_secrets_are_errors() {
        assert!(standard_webhooks_key("whsec_!!!").is_err());
        assert!(standard_webhooks_key("whsec_").is_err());
    }

    #[test]
    fn every_algorithm_matches_rfc_vectors() {
        // RFC 2202 case 2 (SHA-1) and RFC 4231 case 2 (SHA-256, SHA-512): key "Jefe".
        let data: &[&[u8]] = &[b"what do ya ", b"want for nothing?"];
        let vectors = [
            (Algorithm::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Algorithm::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Algorithm::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (algorithm, mac) in vectors {
            let expected = Encoding::Hex.decode(mac).unwrap();
            assert!(
                verify_hmac(algorithm, b"Jefe", data, &expected),
                "{algorithm:?}"
            );
            assert!(
                !verify_hmac(algorithm, b"Jeff", data, &expected),
                "{algorithm:?}"
            );
            assert!(
                !verify_hmac(algorithm, b"Jefe", data, &expected[1..]),
                "{algorithm:?}"
            );
        }
        assert!(Algorithm::parse("SHA1").unwrap().is_weak());
        assert!(!Algorithm::parse("sha512").unwrap().is_weak());
        assert_eq!(Algorithm::parse("md5"), None);
    }

    #[test]
    fn base64_signatures_and_constant_time_eq() {
        // base64 of RFC 4231 case 2's MAC.
        let b64 = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
        assert!(verify_base64_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            b64
        ));
        assert!(!verify_base64_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing!",
            b64
        ));
        assert!(!verify_base64_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            "%%"
        ));
        assert_eq!(Encoding::parse("Base64"), Some(Encoding::Base64));
        assert_eq!(Encoding::Hex.decode("zz"), None);
        assert!(constant_time_eq(b"key-1", b"key-1"));
        assert!(!constant_time_eq(b"key-1", b"key-2"));
        assert!(!constant_time_eq(b"key-1", b"key-12"));
    }

    #[test]
    fn hex_hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe".
        let mac = hex_hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hex_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            &mac.to_uppercase()
        ));
        assert!(!verify_hex_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing!",
            &mac
        ));
    }
}
