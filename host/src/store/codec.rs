//! The binary record format shared by the backends: a format byte, then
//! the record in postcard. A record type whose layout changes takes a new
//! format byte and keeps decoding the older ones ([`Record::decode_older`]),
//! so a store written by an earlier version stays readable.

use super::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A record the store keeps.
pub(crate) trait Record: Serialize + DeserializeOwned {
    /// The format byte written now.
    const FORMAT: u8 = 1;

    /// Decodes a record written in an older `format`; `None` when that
    /// format is unknown.
    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        let _ = (format, body);
        None
    }
}

/// Encodes a record.
pub(crate) fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![T::FORMAT];
    postcard::to_io(value, &mut bytes).map_err(|e| StoreError::Backend(format!("encode: {e}")))?;
    Ok(bytes)
}

/// Decodes a record stored under `key` (named in the error).
pub(crate) fn decode<T: Record>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let Some((&format, body)) = bytes.split_first() else {
        return Err(corrupt("empty record".into()));
    };
    let decoded = if format == T::FORMAT {
        postcard::from_bytes(body)
    } else {
        T::decode_older(format, body)
            .ok_or_else(|| corrupt(format!("unknown record format {format}")))?
    };
    decoded.map_err(|e| corrupt(e.to_string()))
}
