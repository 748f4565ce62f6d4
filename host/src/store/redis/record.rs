//! A delivery's record as the scripts keep it (one MessagePack array per
//! delivery, its attempts inside: see `scripts.rs`), read back into a
//! [`Delivery`] and its attempts' records, and the [`READ`] call that
//! fetches records by id.

use super::keys::Keys;
use super::scripts::{eval, DELIVERY_HEADER_LEN, READ};
use crate::store::types::{Delivery, DeliveryStatus};
use crate::store::StoreError;
use redis::Cmd;
use rmpv::Value;

/// The record format the scripts write (its first field).
const FORMAT: u64 = 1;

/// A delivery's record, decoded.
pub(super) struct Record {
    pub(super) delivery: Delivery,
    /// Its attempts' records (the store's binary format), oldest first;
    /// empty when read without them.
    pub(super) attempts: Vec<Vec<u8>>,
}

/// Decodes the record of delivery `id` of endpoint `endpoint_id`, stored
/// under `key` (named in errors).
pub(super) fn decode(
    endpoint_id: &str,
    id: &str,
    key: &str,
    bytes: &[u8],
) -> Result<Record, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let value = rmpv::decode::read_value(&mut &bytes[..])
        .map_err(|e| corrupt(format!("not a delivery record: {e}")))?;
    let Value::Array(mut fields) = value else {
        return Err(corrupt("a delivery record is an array".into()));
    };
    if fields.len() < DELIVERY_HEADER_LEN {
        return Err(corrupt(format!(
            "{} fields in a delivery record",
            fields.len()
        )));
    }
    let attempts = fields
        .split_off(DELIVERY_HEADER_LEN)
        .iter()
        .map(|a| raw(a).map(<[u8]>::to_vec).ok_or("attempt"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|name| corrupt(format!("field `{name}` invalid")))?;
    let delivery = delivery_of(endpoint_id, id, &fields)
        .map_err(|name| corrupt(format!("field `{name}` missing or invalid")))?;
    Ok(Record { delivery, attempts })
}

/// The header fields as a delivery; `Err(name)` names a bad field.
fn delivery_of(endpoint_id: &str, id: &str, f: &[Value]) -> Result<Delivery, &'static str> {
    let number = |i: usize, name: &'static str| whole(&f[i]).ok_or(name);
    let text = |i: usize, name: &'static str| {
        raw(&f[i])
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or(name)
    };
    if number(0, "format")? != FORMAT {
        return Err("format");
    }
    let status = match raw(&f[3]) {
        Some(b"p") => DeliveryStatus::Pending,
        Some(b"s") => DeliveryStatus::Succeeded,
        Some(b"f") => DeliveryStatus::Failed,
        _ => return Err("status"),
    };
    let code = match &f[8] {
        Value::Boolean(false) | Value::Nil => None,
        other => Some(
            whole(other)
                .and_then(|c| u16::try_from(c).ok())
                .ok_or("code")?,
        ),
    };
    let error = match &f[9] {
        Value::Boolean(false) | Value::Nil => None,
        _ => Some(text(9, "error")?),
    };
    Ok(Delivery {
        id: id.to_string(),
        event_id: text(1, "event")?,
        endpoint_id: endpoint_id.to_string(),
        seq: number(2, "seq")?,
        status,
        attempts: u32::try_from(number(4, "attempts")?).map_err(|_| "attempts")?,
        next_attempt_ms: number(5, "next")?,
        created_ms: number(6, "created")?,
        updated_ms: number(7, "updated")?,
        last_status_code: code,
        last_error: error,
        test: matches!(f[10], Value::Boolean(true)),
    })
}

/// A text or binary field's bytes.
fn raw(value: &Value) -> Option<&[u8]> {
    match value {
        Value::String(s) => Some(s.as_bytes()),
        Value::Binary(b) => Some(b),
        _ => None,
    }
}

/// A whole number (Lua's numbers are doubles; its MessagePack writes the
/// whole ones as integers, but a float holding one reads too).
fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => i.as_u64(),
        Value::F64(x) if x.fract() == 0.0 && *x >= 0.0 && *x < 2f64.powi(53) => Some(*x as u64),
        _ => None,
    }
}

/// The [`READ`] call for deliveries `ids` of endpoint `endpoint_id`, with
/// or without their attempts.
pub(super) fn read_cmd(keys: &Keys, endpoint_id: &str, ids: &[&str], with_attempts: bool) -> Cmd {
    let prefix = keys.endpoint_prefix(endpoint_id);
    let slot_key = keys.queue(endpoint_id);
    let mut args: Vec<&[u8]> = vec![prefix.as_bytes(), if with_attempts { b"1" } else { b"0" }];
    args.extend(ids.iter().map(|id| id.as_bytes()));
    eval(READ, &[&slot_key], &args)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn packed(fields: Vec<Value>) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &Value::Array(fields)).unwrap();
        out
    }

    fn header(status: &str, code: Value, error: Value) -> Vec<Value> {
        vec![
            Value::from(1),
            Value::from("evt_1"),
            Value::from(7),
            Value::from(status),
            Value::from(2),
            Value::F64(1_733_600_000_123.0),
            Value::from(1_733_600_000_000_u64),
            Value::from(1_733_600_000_456_u64),
            code,
            error,
            Value::Boolean(false),
        ]
    }

    #[test]
    fn a_record_reads_as_its_delivery_and_attempts() {
        let mut fields = header("s", Value::from(204), Value::Boolean(false));
        fields.push(Value::Binary(vec![4, 0, 255]));
        fields.push(Value::from("second"));
        let record = decode("ep_1", "dlv_1", "k", &packed(fields)).unwrap();
        let d = &record.delivery;
        assert_eq!((d.id.as_str(), d.endpoint_id.as_str()), ("dlv_1", "ep_1"));
        assert_eq!((d.event_id.as_str(), d.seq, d.attempts), ("evt_1", 7, 2));
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.next_attempt_ms, 1_733_600_000_123);
        assert_eq!(d.last_status_code, Some(204));
        assert_eq!(d.last_error, None);
        assert!(!d.test);
        assert_eq!(record.attempts, vec![vec![4, 0, 255], b"second".to_vec()]);
    }

    #[test]
    fn a_bad_record_names_its_key_and_field() {
        let fields = header("x", Value::Boolean(false), Value::from("boom"));
        let err = decode("ep_1", "dlv_1", "the-key", &packed(fields))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("the-key") && err.contains("status"), "{err}");
        let short = decode("ep_1", "dlv_1", "k", &packed(vec![Value::from(1)]));
        assert!(short.is_err());
        assert!(decode("ep_1", "dlv_1", "k", b"").is_err());
    }

    /// Against a real Redis: a delivery written by an earlier version (a
    /// hash and a list of attempts) reads as before, and moves into one
    /// record, its older keys removed, when its next attempt is recorded.
    #[tokio::test]
    async fn a_delivery_stored_in_the_older_form_reads_and_moves_into_a_record() {
        use super::super::ingest::tests::{new_event, open};
        use crate::store::codec::encode;
        use crate::store::types::{Attempt, AttemptOutcome, DeliveryChange, DeliveryQuery};
        use crate::store::Backend;
        use hookmesh_test_support::redis::RedisServer;

        let server = RedisServer::start("older-deliveries");
        let store = open(&server);
        store
            .ingest(vec![new_event("e1", &["a"], None)], 5)
            .await
            .unwrap();
        let (id, new_key) = ("dlv_e1_a", "hm:{ep:a}:r:dlv_e1_a");
        assert_eq!(server.command(&["TYPE", new_key]), "string");
        // Rewrite it as an earlier version stored it, one attempt made.
        let attempt = |number: u32, outcome: AttemptOutcome| Attempt {
            response_excerpt: "try again".into(),
            ..Attempt::bare(id, number, 100 * u64::from(number), Some(500), outcome)
        };
        let first = encode(&attempt(1, AttemptOutcome::Retry)).unwrap();
        server.command(&["DEL", new_key]);
        server.command(&[
            "HSET",
            "hm:{ep:a}:d:dlv_e1_a",
            "id",
            id,
            "event",
            "e1",
            "endpoint",
            "a",
            "seq",
            "1",
            "status",
            "pending",
            "attempts",
            "1",
            "next",
            "700",
            "created",
            "5",
            "updated",
            "103",
            "code",
            "500",
        ]);
        let mut push = redis::cmd("RPUSH");
        push.arg("hm:{ep:a}:a:dlv_e1_a").arg(&first);
        let mut conn = redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: i64 = push.query(&mut conn).unwrap();

        // Its history entry as the sorted set held it.
        server.command(&["DEL", "hm:{ep:a}:hs"]);
        server.command(&["ZADD", "hm:{ep:a}:h", "1", id]);

        let peeked = store.queue_peek("a", 10).await.unwrap();
        assert_eq!(peeked.len(), 1);
        let d = &peeked[0];
        assert_eq!((d.id.as_str(), d.event_id.as_str(), d.seq), (id, "e1", 1));
        assert_eq!((d.attempts, d.next_attempt_ms, d.created_ms), (1, 700, 5));
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.last_status_code, Some(500));
        assert_eq!(store.delivery("a", id).await.unwrap().as_ref(), Some(d));
        let history = store
            .deliveries_of("a", &DeliveryQuery::default())
            .await
            .unwrap();
        assert_eq!(history.items, vec![d.clone()]);
        assert_eq!(
            store.deliveries_of_events(&["e1"]).await.unwrap(),
            vec![vec![d.clone()]]
        );
        assert_eq!(
            store.attempts_of("a", id).await.unwrap(),
            vec![attempt(1, AttemptOutcome::Retry)]
        );
        assert_eq!(
            server.command(&["EXISTS", new_key]),
            "0",
            "reading changes nothing"
        );

        let second = std::sync::Arc::new(attempt(2, AttemptOutcome::Success));
        let done = store
            .record_attempt("a", second, DeliveryChange::Ack)
            .await
            .unwrap();
        assert_eq!(
            (done.status, done.attempts, done.seq),
            (DeliveryStatus::Succeeded, 2, 1)
        );
        assert_eq!(server.command(&["TYPE", new_key]), "string");
        let older = ["EXISTS", "hm:{ep:a}:d:dlv_e1_a", "hm:{ep:a}:a:dlv_e1_a"];
        assert_eq!(server.command(&older), "0", "the older form is gone");
        let attempts = store.attempts_of("a", id).await.unwrap();
        assert_eq!(
            attempts,
            vec![
                attempt(1, AttemptOutcome::Retry),
                attempt(2, AttemptOutcome::Success)
            ]
        );
        assert!(store.queue_peek("a", 10).await.unwrap().is_empty());
    }
}
