//! The stored forms of the two records every event leaves behind, made
//! compact (issue #14's footprint): an event's payload compressed (zstd;
//! deflate in stores written before) when that saves at least an eighth
//! of it, and an attempt's requests with the
//! usual header names as one byte, the body hash as 32 bytes, signatures,
//! timestamps and HTTP dates in binary, and no delivery id (the attempt's
//! key names it; readers put it back). Both read back to exactly what was
//! written: the payload byte for byte.

use super::types::{Attempt, AttemptOutcome, Event, EventSource, SentRequest};
use flate2::{Decompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::RefCell;

/// Payloads shorter than this are kept as they are.
const COMPRESS_FROM_BYTES: usize = 256;
/// zstd's level for payloads: its fastest regular one (a 1 KiB payload
/// takes a few microseconds, and the tables it resets are sized to the
/// input, unlike deflate's 160 KiB per record: issue #13).
const ZSTD_LEVEL: i32 = 1;
/// Largest payload a stored record may inflate to (the ingestion limit is
/// far below; this bounds what a corrupt record can make us allocate).
const MAX_INFLATED_BYTES: u64 = 64 << 20;

/// A payload as stored (new variants go last: the discriminant is stored).
#[derive(Serialize, Deserialize)]
enum StoredPayload<'a> {
    /// As received.
    Plain(#[serde(borrow)] Cow<'a, [u8]>),
    /// Raw deflate of what was received (written until 2026-12-02).
    Deflated(#[serde(borrow)] Cow<'a, [u8]>),
    /// A zstd frame of what was received.
    Zstd(#[serde(borrow)] Cow<'a, [u8]>),
}

impl<'a> StoredPayload<'a> {
    fn of(payload: &'a [u8]) -> Self {
        if payload.len() < COMPRESS_FROM_BYTES {
            return Self::Plain(Cow::Borrowed(payload));
        }
        match squeeze(payload, payload.len() - payload.len() / 8) {
            Some(packed) => Self::Zstd(Cow::Owned(packed)),
            None => Self::Plain(Cow::Borrowed(payload)),
        }
    }

    fn bytes(self) -> Result<Vec<u8>, postcard::Error> {
        let unpacked = match self {
            Self::Plain(bytes) => return Ok(bytes.into_owned()),
            Self::Deflated(packed) => inflate(&packed),
            Self::Zstd(packed) => unsqueeze(&packed),
        };
        unpacked.ok_or(postcard::Error::DeserializeBadEncoding)
    }
}

thread_local! {
    /// Each thread's zstd compressor and decompressor, reused between
    /// records.
    static SQUEEZER: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        RefCell::new(zstd::bulk::Compressor::new(ZSTD_LEVEL).ok());
    static UNSQUEEZER: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        RefCell::new(zstd::bulk::Decompressor::new().ok());
    /// Each thread's deflate decompressor, for payloads stored deflated.
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// A zstd frame of `bytes`, when it fits in `at_most` bytes.
fn squeeze(bytes: &[u8], at_most: usize) -> Option<Vec<u8>> {
    SQUEEZER.with(|squeezer| {
        let mut squeezer = squeezer.borrow_mut();
        let mut out = Vec::with_capacity(at_most);
        squeezer
            .as_mut()?
            .compress_to_buffer(bytes, &mut out)
            .ok()?;
        Some(out)
    })
}

/// What the zstd frame `packed` holds (at most [`MAX_INFLATED_BYTES`]; the
/// frame states its size).
fn unsqueeze(packed: &[u8]) -> Option<Vec<u8>> {
    let size = zstd::zstd_safe::get_frame_content_size(packed).ok()??;
    if size > MAX_INFLATED_BYTES {
        return None;
    }
    UNSQUEEZER.with(|unsqueezer| {
        let mut unsqueezer = unsqueezer.borrow_mut();
        let mut out = Vec::with_capacity(usize::try_from(size).ok()?);
        let written = unsqueezer
            .as_mut()?
            .decompress_to_buffer(packed, &mut out)
            .ok()?;
        (written as u64 == size).then_some(out)
    })
}

/// Raw deflate of `bytes` (what stores written before zstd hold; tests).
#[cfg(test)]
fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut deflater = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let status = deflater.compress_vec(bytes, &mut out, flate2::FlushCompress::Finish);
    assert!(matches!(status, Ok(Status::StreamEnd)));
    out
}

/// What raw deflate `packed` inflates to (at most [`MAX_INFLATED_BYTES`]).
fn inflate(packed: &[u8]) -> Option<Vec<u8>> {
    INFLATER.with(|inflater| {
        let mut inflater = inflater.borrow_mut();
        inflater.reset(false);
        let mut out = Vec::with_capacity(packed.len() * 4);
        loop {
            let (read, written) = (inflater.total_in(), inflater.total_out());
            let rest = packed.get(usize::try_from(read).ok()?..)?;
            let status = inflater
                .decompress_vec(rest, &mut out, FlushDecompress::None)
                .ok()?;
            if status == Status::StreamEnd {
                return Some(out);
            }
            let stuck = inflater.total_in() == read && inflater.total_out() == written;
            if out.len() == out.capacity() && (out.len() as u64) < MAX_INFLATED_BYTES {
                out.reserve(out.capacity().max(1024));
            } else if stuck || out.len() == out.capacity() {
                // Truncated or corrupt, or past the limit.
                return None;
            }
        }
    })
}

/// An event as stored (format 3).
#[derive(Serialize, Deserialize)]
struct StoredEvent<'a> {
    id: Cow<'a, str>,
    project_id: Cow<'a, str>,
    event_type: Cow<'a, str>,
    resource: Option<Cow<'a, str>>,
    resource_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: StoredPayload<'a>,
    time_created_ms: u64,
    source: Option<EventSource>,
}

/// Appends `event`'s compact form to `out`.
pub(super) fn encode_event(event: &Event, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
    let stored = StoredEvent {
        id: Cow::Borrowed(&event.id),
        project_id: Cow::Borrowed(&event.project_id),
        event_type: Cow::Borrowed(&event.event_type),
        resource: event.resource.as_deref().map(Cow::Borrowed),
        resource_id: event.resource_id.as_deref().map(Cow::Borrowed),
        payload: StoredPayload::of(&event.payload),
        time_created_ms: event.time_created_ms,
        source: event.source.clone(),
    };
    postcard::to_io(&stored, out)
}

/// Reads what [`encode_event`] wrote.
pub(super) fn decode_event(body: &[u8]) -> Result<Event, postcard::Error> {
    let stored: StoredEvent = postcard::from_bytes(body)?;
    Ok(Event {
        id: stored.id.into_owned(),
        project_id: stored.project_id.into_owned(),
        event_type: stored.event_type.into_owned(),
        resource: stored.resource.map(Cow::into_owned),
        resource_id: stored.resource_id.map(Cow::into_owned),
        payload: stored.payload.bytes()?,
        time_created_ms: stored.time_created_ms,
        source: stored.source,
    })
}

/// Header names most requests and answers carry, stored as their index.
const KNOWN_HEADERS: [&str; 16] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "x-hookmesh-signature",
    "user-agent",
    "authorization",
    "content-length",
    "date",
    "server",
    "connection",
    "cache-control",
    "x-request-id",
    "vary",
    "etag",
    "x-powered-by",
];

/// A header name as stored.
#[derive(Serialize, Deserialize)]
enum StoredName<'a> {
    Known(u8),
    Other(#[serde(borrow)] Cow<'a, str>),
}

impl<'a> StoredName<'a> {
    fn of(name: &'a str) -> Self {
        KNOWN_HEADERS
            .iter()
            .position(|known| *known == name)
            .and_then(|i| u8::try_from(i).ok())
            .map_or(Self::Other(Cow::Borrowed(name)), Self::Known)
    }

    fn name(self) -> Result<String, postcard::Error> {
        match self {
            Self::Known(i) => KNOWN_HEADERS
                .get(usize::from(i))
                .map(|name| (*name).to_string())
                .ok_or(postcard::Error::DeserializeBadEncoding),
            Self::Other(name) => Ok(name.into_owned()),
        }
    }
}

type StoredHeaders<'a> = Vec<(StoredName<'a>, Cow<'a, str>)>;

#[cfg(test)]
fn stored_headers(headers: &[(String, String)]) -> StoredHeaders<'_> {
    headers
        .iter()
        .map(|(name, value)| (StoredName::of(name), Cow::Borrowed(value.as_str())))
        .collect()
}

fn headers_of(stored: StoredHeaders) -> Result<Vec<(String, String)>, postcard::Error> {
    stored
        .into_iter()
        .map(|(name, value)| Ok((name.name()?, value.into_owned())))
        .collect()
}

/// A body hash as stored: 32 bytes when it is hex SHA-256 (always, as the
/// host writes it), the text otherwise.
#[derive(Serialize, Deserialize)]
enum StoredHash<'a> {
    Sha256([u8; 32]),
    Text(#[serde(borrow)] Cow<'a, str>),
}

impl<'a> StoredHash<'a> {
    fn of(hash: &'a str) -> Self {
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(hash, &mut bytes) {
            Ok(()) if hash.bytes().all(|b| !b.is_ascii_uppercase()) => Self::Sha256(bytes),
            _ => Self::Text(Cow::Borrowed(hash)),
        }
    }

    fn text(self) -> String {
        match self {
            Self::Sha256(bytes) => hex::encode(bytes),
            Self::Text(text) => text.into_owned(),
        }
    }
}

/// A request as stored, its headers' values `V`: [`StoredValue`] (format
/// 4) or text (format 3).
#[derive(Serialize, Deserialize)]
struct StoredRequest<'a, V> {
    method: Cow<'a, str>,
    url: Cow<'a, str>,
    #[serde(borrow)]
    headers: Vec<(StoredName<'a>, V)>,
    body_bytes: u64,
    #[serde(borrow)]
    body_sha256: StoredHash<'a>,
}

/// An attempt as stored, its headers' values `V` (see [`StoredRequest`]).
#[derive(Serialize, Deserialize)]
struct StoredAttempt<'a, V> {
    delivery_id: Cow<'a, str>,
    number: u32,
    started_ms: u64,
    duration_ms: u64,
    status_code: Option<u16>,
    response_excerpt: Cow<'a, str>,
    error: Option<Cow<'a, str>>,
    outcome: AttemptOutcome,
    #[serde(borrow)]
    requests: Vec<StoredRequest<'a, V>>,
    #[serde(borrow)]
    response_headers: Vec<(StoredName<'a>, V)>,
}

/// A header value as stored (format 4): signatures and timestamps in
/// binary (a hex or base64 signature of 32 bytes is 64 or 44 characters
/// of text), anything else as text. A binary form is used only when it
/// reads back to exactly the text.
#[derive(Serialize, Deserialize)]
enum StoredValue<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    /// A decimal number without leading zeros (`webhook-timestamp`).
    Number(u64),
    /// A short prefix and the lowercase hex of the bytes (`sha256=…`).
    Hex(#[serde(borrow)] Cow<'a, str>, Vec<u8>),
    /// A short prefix and the padded standard base64 of the bytes
    /// (`v1,…`).
    Base64(#[serde(borrow)] Cow<'a, str>, Vec<u8>),
    /// An HTTP date (`Tue, 08 Dec 2026 02:23:55 GMT`, an answer's
    /// `date`), as seconds since the Unix epoch.
    HttpDate(u64),
}

/// Shortest run of hex or base64 stored as bytes.
const BINARY_FROM_CHARS: usize = 16;
/// Longest prefix before it (`sha256=`, `v1,`), separator included.
const PREFIX_MAX_CHARS: usize = 16;

impl<'a> StoredValue<'a> {
    fn of(value: &'a str) -> Self {
        if let Some(number) = decimal(value) {
            return Self::Number(number);
        }
        if let Some(seconds) = http_date(value) {
            return Self::HttpDate(seconds);
        }
        let split = value
            .find([',', '='])
            .filter(|at| *at < PREFIX_MAX_CHARS)
            .map_or(0, |at| at + 1);
        let (prefix, rest) = value.split_at(split);
        if rest.len() < BINARY_FROM_CHARS {
            return Self::Text(Cow::Borrowed(value));
        }
        let prefix = Cow::Borrowed(prefix);
        let lower_hex = rest.len() % 2 == 0
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if lower_hex {
            if let Ok(bytes) = hex::decode(rest) {
                return Self::Hex(prefix, bytes);
            }
        }
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        match engine.decode(rest) {
            Ok(bytes) if engine.encode(&bytes) == rest => Self::Base64(prefix, bytes),
            _ => Self::Text(Cow::Borrowed(value)),
        }
    }

    fn text(self) -> String {
        use base64::Engine as _;
        match self {
            Self::Text(text) => text.into_owned(),
            Self::Number(number) => number.to_string(),
            Self::Hex(prefix, bytes) => format!("{prefix}{}", hex::encode(bytes)),
            Self::Base64(prefix, bytes) => format!(
                "{prefix}{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            Self::HttpDate(seconds) => httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds),
            ),
        }
    }
}

/// `text` as seconds since the Unix epoch when it is an HTTP date written
/// exactly as [`httpdate::fmt_http_date`] writes it back.
fn http_date(text: &str) -> Option<u64> {
    if text.len() != 29 || !text.ends_with(" GMT") {
        return None;
    }
    let time = httpdate::parse_http_date(text).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    (httpdate::fmt_http_date(time) == text).then_some(seconds)
}

/// `text` as a number when it is one written without leading zeros.
fn decimal(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    let number: u64 = text.parse().ok().filter(|_| digits)?;
    (number.to_string() == text).then_some(number)
}

fn stored_values(headers: &[(String, String)]) -> Vec<(StoredName<'_>, StoredValue<'_>)> {
    headers
        .iter()
        .map(|(name, value)| (StoredName::of(name), StoredValue::of(value)))
        .collect()
}

fn values_of(
    stored: Vec<(StoredName, StoredValue)>,
) -> Result<Vec<(String, String)>, postcard::Error> {
    stored
        .into_iter()
        .map(|(name, value)| Ok((name.name()?, value.text())))
        .collect()
}

/// Appends `attempt`'s compact form (format 4) to `out`.
pub(super) fn encode_attempt(attempt: &Attempt, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_io(&stored_attempt(attempt, stored_values), out)
}

/// Writes headers with values `V`.
type WriteValues<'a, V> = fn(&'a [(String, String)]) -> Vec<(StoredName<'a>, V)>;

/// `attempt` as stored, its header values written by `values`.
fn stored_attempt<'a, V>(attempt: &'a Attempt, values: WriteValues<'a, V>) -> StoredAttempt<'a, V> {
    StoredAttempt {
        // Its key names the delivery (records written before 2026-12-08
        // hold it here too).
        delivery_id: Cow::Borrowed(""),
        number: attempt.number,
        started_ms: attempt.started_ms,
        duration_ms: attempt.duration_ms,
        status_code: attempt.status_code,
        response_excerpt: Cow::Borrowed(&attempt.response_excerpt),
        error: attempt.error.as_deref().map(Cow::Borrowed),
        outcome: attempt.outcome.clone(),
        requests: attempt
            .requests
            .iter()
            .map(|r| StoredRequest {
                method: Cow::Borrowed(&r.method),
                url: Cow::Borrowed(&r.url),
                headers: values(&r.headers),
                body_bytes: r.body_bytes,
                body_sha256: StoredHash::of(&r.body_sha256),
            })
            .collect(),
        response_headers: values(&attempt.response_headers),
    }
}

/// Reads what [`encode_attempt`] wrote (the delivery id empty: the
/// reader sets it from the attempt's key).
pub(super) fn decode_attempt(body: &[u8]) -> Result<Attempt, postcard::Error> {
    let stored: StoredAttempt<StoredValue> = postcard::from_bytes(body)?;
    attempt_of(stored, values_of)
}

/// Reads an attempt in format 3 (header values as text; written until
/// 2026-12-02).
pub(super) fn decode_attempt_v3(body: &[u8]) -> Result<Attempt, postcard::Error> {
    let stored: StoredAttempt<Cow<str>> = postcard::from_bytes(body)?;
    attempt_of(stored, headers_of)
}

/// Reads stored headers with values `V` back.
type ReadValues<V> =
    for<'a> fn(Vec<(StoredName<'a>, V)>) -> Result<Vec<(String, String)>, postcard::Error>;

/// The attempt a stored one holds, its header values read by `values`.
fn attempt_of<V>(
    stored: StoredAttempt<V>,
    values: ReadValues<V>,
) -> Result<Attempt, postcard::Error> {
    let requests = stored
        .requests
        .into_iter()
        .map(|r| {
            Ok(SentRequest {
                method: r.method.into_owned(),
                url: r.url.into_owned(),
                headers: values(r.headers)?,
                body_bytes: r.body_bytes,
                body_sha256: r.body_sha256.text(),
            })
        })
        .collect::<Result<_, postcard::Error>>()?;
    Ok(Attempt {
        delivery_id: stored.delivery_id.into_owned(),
        number: stored.number,
        started_ms: stored.started_ms,
        duration_ms: stored.duration_ms,
        status_code: stored.status_code,
        response_excerpt: stored.response_excerpt.into_owned(),
        error: stored.error.map(Cow::into_owned),
        outcome: stored.outcome,
        requests,
        response_headers: values(stored.response_headers)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &[u8]) -> Event {
        Event {
            id: "evt_1".into(),
            project_id: "p".into(),
            event_type: "order.paid".into(),
            resource: Some("order".into()),
            resource_id: None,
            payload: payload.to_vec(),
            time_created_ms: 7,
            source: None,
        }
    }

    #[test]
    fn payloads_come_back_byte_for_byte_and_large_ones_are_compressed() {
        let order = format!(
            r#"{{ "id":"ord_77", "items":[{}], "total": 1.0 }}"#,
            vec![r#"{"sku":"SKU-1","name":"Coffee mug","quantity":2}"#; 20].join(",")
        );
        for payload in [&b"{}"[..], order.as_bytes(), &[0xffu8; 300][..]] {
            let bytes = encode_event(&event(payload), Vec::new()).unwrap();
            assert_eq!(decode_event(&bytes).unwrap(), event(payload));
        }
        let packed = encode_event(&event(order.as_bytes()), Vec::new()).unwrap();
        assert!(
            packed.len() * 4 < order.len(),
            "{} of {}",
            packed.len(),
            order.len()
        );
    }

    #[test]
    fn the_reused_compressor_round_trips_large_and_successive_payloads() {
        let large = vec![b'a'; 1 << 20];
        let packed = squeeze(&large, large.len()).unwrap();
        assert!(packed.len() * 100 < large.len());
        assert_eq!(unsqueeze(&packed).unwrap(), large);
        // The same thread's compressor between payloads of other sizes.
        for n in [300usize, 5_000, 300] {
            let payload: Vec<u8> = (0..n).map(|i| b'a' + (i % 7) as u8).collect();
            let bytes = encode_event(&event(&payload), Vec::new()).unwrap();
            assert_eq!(decode_event(&bytes).unwrap().payload, payload);
        }
        // What does not fit in the room given is not compressed.
        assert!(squeeze(&large, 16).is_none());
    }

    #[test]
    fn truncated_corrupt_or_oversized_frames_are_refused() {
        let payload = vec![b'x'; 10_000];
        let packed = squeeze(&payload, payload.len()).unwrap();
        assert!(unsqueeze(&packed[..packed.len() / 2]).is_none());
        assert!(unsqueeze(&[0xff; 40]).is_none());
        assert!(unsqueeze(&[]).is_none());
        // A frame claiming more than the limit is not even started.
        let huge = squeeze(&vec![0u8; (MAX_INFLATED_BYTES + 1) as usize], 1 << 20).unwrap();
        assert!(unsqueeze(&huge).is_none());
    }

    #[test]
    fn payloads_stored_deflated_by_earlier_versions_still_read() {
        let payload =
            br#"{"id":"ord_1","note":"an order stored deflated, as before zstd"}"#.repeat(8);
        let stored = StoredEvent {
            id: Cow::Borrowed("evt_1"),
            project_id: Cow::Borrowed("p"),
            event_type: Cow::Borrowed("order.paid"),
            resource: Some(Cow::Borrowed("order")),
            resource_id: None,
            payload: StoredPayload::Deflated(Cow::Owned(deflate(&payload))),
            time_created_ms: 7,
            source: None,
        };
        let bytes = postcard::to_allocvec(&stored).unwrap();
        assert_eq!(decode_event(&bytes).unwrap(), event(&payload));
        // …and a truncated deflate stream is refused, not half read.
        let packed = deflate(&payload);
        assert!(inflate(&packed[..packed.len() / 2]).is_none());
        assert!(inflate(&[0xff; 40]).is_none());
    }

    #[test]
    fn incompressible_payloads_are_kept_as_they_are() {
        let noise: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let bytes = encode_event(&event(&noise), Vec::new()).unwrap();
        assert!(bytes.len() < noise.len() + 40, "{}", bytes.len());
        assert_eq!(decode_event(&bytes).unwrap().payload, noise);
    }

    #[test]
    fn attempts_come_back_as_recorded() {
        let attempt = Attempt {
            delivery_id: String::new(), // see the next test
            number: 2,
            started_ms: 10,
            duration_ms: 3,
            status_code: Some(200),
            response_excerpt: "ok".into(),
            error: None,
            outcome: AttemptOutcome::Success,
            requests: vec![SentRequest {
                method: "POST".into(),
                url: "https://example.com/h".into(),
                headers: vec![
                    ("webhook-id".into(), "evt_1".into()),
                    ("x-custom".into(), "1".into()),
                    ("authorization".into(), "[redacted]".into()),
                ],
                body_bytes: 12,
                body_sha256: hex::encode([7u8; 32]),
            }],
            response_headers: vec![("date".into(), "now".into()), ("X-Odd".into(), "v".into())],
        };
        let bytes = encode_attempt(&attempt, Vec::new()).unwrap();
        assert_eq!(decode_attempt(&bytes).unwrap(), attempt);
        let odd_hash = Attempt {
            requests: vec![SentRequest {
                body_sha256: "ABC".into(),
                ..attempt.requests[0].clone()
            }],
            ..attempt
        };
        let bytes = encode_attempt(&odd_hash, Vec::new()).unwrap();
        assert_eq!(decode_attempt(&bytes).unwrap(), odd_hash);
    }

    #[test]
    fn the_delivery_id_is_left_to_the_key() {
        let attempt = Attempt {
            delivery_id: "dlv_01a25376f6d56f201508ba".into(),
            ..with_headers(&[])
        };
        let bytes = encode_attempt(&attempt, Vec::new()).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"dlv_"));
        let read = decode_attempt(&bytes).unwrap();
        assert_eq!(read.delivery_id, "");
        assert_eq!(
            Attempt {
                delivery_id: attempt.delivery_id.clone(),
                ..read
            },
            attempt
        );
    }

    fn with_headers(values: &[&str]) -> Attempt {
        Attempt {
            delivery_id: String::new(),
            number: 1,
            started_ms: 10,
            duration_ms: 3,
            status_code: Some(200),
            response_excerpt: String::new(),
            error: None,
            outcome: AttemptOutcome::Success,
            requests: vec![SentRequest {
                method: "POST".into(),
                url: "https://example.com/h".into(),
                headers: values
                    .iter()
                    .map(|v| ("x-value".to_string(), v.to_string()))
                    .collect(),
                body_bytes: 12,
                body_sha256: hex::encode([7u8; 32]),
            }],
            response_headers: values
                .iter()
                .map(|v| ("x-answer".to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn header_values_come_back_exactly_and_signatures_take_their_bytes() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let hex64 = hex::encode([9u8; 32]);
        let values = [
            "1733140000".to_string(),              // a timestamp: a number
            "0".to_string(),                       // a number
            "0123".to_string(),                    // a leading zero: text
            "99999999999999999999".to_string(),    // past u64: text
            format!("v1,{b64}"),                   // Standard Webhooks
            format!("v1,{b64} v1,{b64}"),          // two (a rotation): text
            format!("sha256={hex64}"),             // hex with a prefix
            hex64.clone(),                         // hex alone
            hex64.to_uppercase(),                  // upper-case hex: text
            format!("sha256={}", &hex64[..63]),    // odd length: text
            b64.trim_end_matches('=').to_string(), // unpadded base64: text
            b64.clone(),                           // base64 alone
            "application/json".to_string(),
            "hookmesh/1.0 (+https://example.com)".to_string(),
            String::new(),
            "a=b,c".to_string(),
            "Tue, 08 Dec 2026 02:23:55 GMT".to_string(), // an HTTP date
            "Tue, 8 Dec 2026 02:23:55 GMT".to_string(),  // not as written back: text
            "Mon, 08 Dec 2026 02:23:55 GMT".to_string(), // the wrong weekday: text
            "Tue, 08 Dec 2026 02:23:55 UTC".to_string(), // not GMT: text
        ];
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let attempt = with_headers(&refs);
        let bytes = encode_attempt(&attempt, Vec::new()).unwrap();
        assert_eq!(decode_attempt(&bytes).unwrap(), attempt);

        let signed = with_headers(&[&format!("v1,{b64}"), &format!("sha256={hex64}")]);
        let text = with_headers(&[&format!("v1,{b64} "), &format!("sha256={hex64} ")]);
        let (signed, text) = (
            encode_attempt(&signed, Vec::new()).unwrap(),
            encode_attempt(&text, Vec::new()).unwrap(),
        );
        // Both twice (request and answer): 2 × (12 + 32) bytes saved.
        assert!(
            signed.len() + 80 < text.len(),
            "{} vs {}",
            signed.len(),
            text.len()
        );
        let dated = encode_attempt(
            &with_headers(&["Tue, 08 Dec 2026 02:23:55 GMT"]),
            Vec::new(),
        );
        let plain = encode_attempt(
            &with_headers(&["Tue, 08 Dec 2026 02:23:55 XYZ"]),
            Vec::new(),
        );
        // Twice: 2 × (30 - 6) bytes saved.
        assert!(dated.unwrap().len() + 40 < plain.unwrap().len());
    }

    #[test]
    fn attempts_written_in_format_3_still_read() {
        let attempt = with_headers(&["1733140000", "v1,abc", "text"]);
        let v3: StoredAttempt<Cow<str>> = stored_attempt(&attempt, stored_headers);
        let body = postcard::to_allocvec(&v3).unwrap();
        assert_eq!(decode_attempt_v3(&body).unwrap(), attempt);
        // …and through the record's format byte.
        let mut record = vec![3u8];
        record.extend_from_slice(&body);
        assert_eq!(
            crate::store::codec::decode::<Attempt>("a", &record).unwrap(),
            attempt
        );
    }
}
