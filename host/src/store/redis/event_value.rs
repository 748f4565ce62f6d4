//! An event as Redis keeps it under `{ev:V}`: a mark byte, the record's
//! length (4 bytes, big-endian), the record (the store's binary format),
//! then its deliveries, one `DELIVERY ENDPOINT\n` entry each, to which a
//! replay appends (`APPEND`). One key instead of the record and a hash of
//! its deliveries saves about 200 bytes of RAM per event (issue #14).
//! Events stored before hold the bare record, their deliveries in the
//! hash `{ev:V}:deliveries`.

use crate::store::codec::{decode as decode_record, encode as encode_record};
use crate::store::types::Event;
use crate::store::StoreError;

/// The first byte of a value in this form (no record format byte is as
/// high).
pub(super) const MARK: u8 = 0xFE;

/// An event read back.
pub(super) struct EventValue {
    pub(super) event: Event,
    /// Its deliveries as (delivery id, endpoint id), oldest first; `None`
    /// for an event stored before (they are in its deliveries hash).
    pub(super) deliveries: Option<Vec<(String, String)>>,
}

/// The value for `event` with deliveries `deliveries` (endpoint id,
/// delivery id).
pub(super) fn encode(
    event: &Event,
    deliveries: &[(String, String)],
) -> Result<Vec<u8>, StoreError> {
    let record = encode_record(event)?;
    let length = u32::try_from(record.len())
        .map_err(|_| StoreError::Backend("event record over 4 GiB".into()))?;
    let mut value = Vec::with_capacity(5 + record.len() + deliveries.len() * 60);
    value.push(MARK);
    value.extend_from_slice(&length.to_be_bytes());
    value.extend_from_slice(&record);
    for (endpoint_id, delivery_id) in deliveries {
        value.extend_from_slice(&entry(delivery_id, endpoint_id));
    }
    Ok(value)
}

/// One delivery's entry, as appended.
pub(super) fn entry(delivery_id: &str, endpoint_id: &str) -> Vec<u8> {
    format!("{delivery_id} {endpoint_id}\n").into_bytes()
}

/// Reads the value stored under `key` (named in errors).
pub(super) fn decode(key: &str, bytes: &[u8]) -> Result<EventValue, StoreError> {
    let Some(rest) = bytes.strip_prefix(&[MARK]) else {
        return Ok(EventValue {
            event: decode_record(key, bytes)?,
            deliveries: None,
        });
    };
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let (length, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("event value without its record's length"))?;
    let length = usize::try_from(u32::from_be_bytes(*length)).unwrap_or(usize::MAX);
    if rest.len() < length {
        return Err(corrupt("event value shorter than its record"));
    }
    let (record, index) = rest.split_at(length);
    let deliveries = String::from_utf8_lossy(index)
        .lines()
        .map(|line| {
            line.split_once(' ')
                .map(|(d, e)| (d.to_string(), e.to_string()))
                .ok_or_else(|| corrupt("event delivery entry without an endpoint"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EventValue {
        event: decode_record(key, record)?,
        deliveries: Some(deliveries),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event() -> Event {
        Event {
            id: "evt_1".into(),
            project_id: "p".into(),
            event_type: "user.created".into(),
            resource: None,
            resource_id: None,
            payload: br#"{"a": 1.0}"#.to_vec(),
            time_created_ms: 7,
            source: None,
        }
    }

    #[test]
    fn an_event_reads_back_with_its_deliveries_and_appended_ones() {
        let pairs = vec![("ep_a".to_string(), "dlv_1".to_string())];
        let mut value = encode(&event(), &pairs).unwrap();
        value.extend(entry("dlv_2", "ep_b"));
        let read = decode("k", &value).unwrap();
        assert_eq!(read.event, event());
        let expected = vec![
            ("dlv_1".to_string(), "ep_a".to_string()),
            ("dlv_2".to_string(), "ep_b".to_string()),
        ];
        assert_eq!(read.deliveries, Some(expected));
        let none = decode("k", &encode(&event(), &[]).unwrap()).unwrap();
        assert_eq!(none.deliveries, Some(Vec::new()));
    }

    #[test]
    fn a_bare_record_is_an_event_stored_before() {
        let read = decode("k", &encode_record(&event()).unwrap()).unwrap();
        assert_eq!(read.event, event());
        assert!(read.deliveries.is_none());
    }

    #[test]
    fn a_cut_value_is_corrupt_and_names_its_key() {
        let value = encode(&event(), &[]).unwrap();
        let err = decode("the-key", &value[..value.len() - 3]).err().unwrap();
        assert!(err.to_string().contains("the-key"), "{err}");
        assert!(decode("k", &[MARK, 0]).is_err());
    }
}
