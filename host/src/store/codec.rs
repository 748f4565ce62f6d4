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

    /// Appends the record's body in the current format to `out`: the value
    /// in postcard, unless the type stores a more compact form.
    fn encode_body(&self, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_io(self, out)
    }

    /// Reads a body written by [`Record::encode_body`].
    fn decode_body(body: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(body)
    }
}

/// Encodes a record.
pub(crate) fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    value
        .encode_body(vec![T::FORMAT])
        .map_err(|e| StoreError::Backend(format!("encode: {e}")))
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
        T::decode_body(body)
    } else {
        T::decode_older(format, body)
            .ok_or_else(|| corrupt(format!("unknown record format {format}")))?
    };
    decoded.map_err(|e| corrupt(e.to_string()))
}
