//! Issuing API keys: the key, shown once, and the record stored (by the
//! key's SHA-256). Used by the keys API, project creation and the
//! config's declared keys.

use crate::signing::{hash_api_key, new_api_key};
use crate::store::{ApiKey, KeyKind, KeyOrigin};

/// Prefix of secret (`manage`) keys.
pub const SECRET_KEY_PREFIX: &str = "hm_sk_";
/// Prefix of publishable (`ingest`) keys.
pub const PUBLISHABLE_KEY_PREFIX: &str = "hm_pk_";
/// Prefix of portal session tokens.
pub const PORTAL_TOKEN_PREFIX: &str = "hm_ps_";

/// What a new key is.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Secret (`manage`) or publishable (`ingest`).
    pub kind: KeyKind,
    /// Its label.
    pub label: Option<String>,
    /// When it stops working (Unix ms).
    pub expires_ms: Option<u64>,
    /// API or config.
    pub origin: KeyOrigin,
}

impl NewKey {
    /// A key made through the API, with no label and no expiry.
    pub fn api(kind: KeyKind) -> Self {
        Self {
            kind,
            label: None,
            expires_ms: None,
            origin: KeyOrigin::Api,
        }
    }
}

/// A new API key for `project_id`: the record to store and the key to show once.
pub fn issue_key(project_id: &str, new: NewKey, now_ms: u64) -> (ApiKey, String) {
    let key = new_api_key(key_prefix(new.kind));
    (key_record(project_id, &key, new, now_ms), key)
}

/// The record of `key` (given in full: declared, or just issued).
pub fn key_record(project_id: &str, key: &str, new: NewKey, now_ms: u64) -> ApiKey {
    ApiKey {
        hash: hash_api_key(key),
        project_id: project_id.to_string(),
        kind: new.kind,
        prefix: key.chars().take(key_prefix(new.kind).len() + 4).collect(),
        created_ms: now_ms,
        label: new.label,
        expires_ms: new.expires_ms,
        origin: new.origin,
        last_used_ms: None,
        portal: None,
    }
}

fn key_prefix(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Secret => SECRET_KEY_PREFIX,
        KeyKind::Publishable => PUBLISHABLE_KEY_PREFIX,
        KeyKind::Portal => PORTAL_TOKEN_PREFIX,
    }
}
