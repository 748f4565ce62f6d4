//! The binary record format shared by the backends: a format version byte,
//! then the record in postcard.

use super::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Leading byte of every encoded record.
const RECORD_FORMAT: u8 = 1;

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![RECORD_FORMAT];
    postcard::to_io(value, &mut bytes).map_err(|e| StoreError::Backend(format!("encode: {e}")))?;
    Ok(bytes)
}

/// Decodes a record stored under `key` (named in the error).
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((&RECORD_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))
        }
        Some((other, _)) => Err(corrupt(format!("unknown record format {other}"))),
        None => Err(corrupt("empty record".into())),
    }
}
