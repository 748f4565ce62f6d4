//! Helpers for `verify_inbound`: the pieces every inbound provider repeats.
//!
//! - [`require_header`]: a header that must be there, else `Unauthorized`
//!   naming it (the host answers `401` with the message);
//! - [`check_timestamp`]: a signed timestamp within a tolerance, refusing
//!   stale *and* far-future values (replays, clock games);
//! - [`tolerance_secs`]: that tolerance from a config field, with a default;
//! - [`json_body`]: the body as JSON, else `InvalidEvent` (`400`);
//! - [`event_type`]: a provider's event name as a valid hookmesh type
//!   under the provider's prefix (`orders/create` → `shopify.orders.create`);
//! - [`json_text`]: a JSON string or number as text (ids);
//! - [`InboundResult::one`]: the common single-event answer.
//!
//! Signature checks themselves are in [`crate::signing`]: [`verify_hmac`]
//! (SHA-1/256/512), [`verify_hex_hmac_sha256`],
//! [`verify_base64_hmac_sha256`], [`constant_time_eq`].
//!
//! [`verify_hmac`]: crate::signing::verify_hmac
//! [`verify_hex_hmac_sha256`]: crate::signing::verify_hex_hmac_sha256
//! [`verify_base64_hmac_sha256`]: crate::signing::verify_base64_hmac_sha256
//! [`constant_time_eq`]: crate::signing::constant_time_eq

use crate::http::header_value;
use crate::{Context, Header, InboundEvent, InboundResult, PluginError};
use serde_json::Value;

/// The default tolerance for signed timestamps, as Stripe's and Slack's.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// Longest event type the host accepts.
const MAX_EVENT_TYPE_LEN: usize = 128;

/// The value of header `name`, or `Unauthorized("missing <name> header")`.
/// Pass the name as the provider documents it (`X-Hub-Signature-256`): it
/// is what the sender reads in the `401`.
///
/// ```
/// use hookmesh_sdk::{inbound::require_header, testing::inbound, PluginError};
/// let request = inbound().header("x-acme-signature", "abc").build();
/// assert_eq!(require_header(&request.headers, "X-Acme-Signature"), Ok("abc"));
/// assert_eq!(require_header(&request.headers, "X-Acme-Time"),
///     Err(PluginError::Unauthorized("missing X-Acme-Time header".into())));
/// ```
pub fn require_header<'a>(headers: &'a [Header], name: &str) -> Result<&'a str, PluginError> {
    header_value(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PluginError::Unauthorized(format!("missing {name} header")))
}

/// A header's value when present and not blank (ids, event names).
///
/// ```
/// use hookmesh_sdk::{inbound::optional_header, testing::inbound};
/// let request = inbound().header("X-Delivery", " d_1 ").header("X-Blank", "").build();
/// assert_eq!(optional_header(&request.headers, "x-delivery"), Some("d_1"));
/// assert_eq!(optional_header(&request.headers, "x-blank"), None);
/// ```
pub fn optional_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    header_value(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Why a signed timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampError {
    /// Older than the tolerance: possibly a replay.
    Stale {
        /// How old it is, in seconds.
        age_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// Further ahead than the tolerance: a wrong clock or a forged value.
    Future {
        /// How far ahead it is, in seconds.
        ahead_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
}

impl std::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stale {
                age_secs,
                tolerance_secs,
            } => write!(
                f,
                "is {age_secs} s old, beyond the tolerance of {tolerance_secs} s"
            ),
            Self::Future {
                ahead_secs,
                tolerance_secs,
            } => write!(
                f,
                "is {ahead_secs} s in the future, beyond the tolerance of {tolerance_secs} s"
            ),
        }
    }
}

impl std::error::Error for TimestampError {}

/// Checks Unix seconds `timestamp_secs` against the call's clock
/// (`now_ms`): at most `tolerance_secs` old or ahead.
///
/// ```
/// use hookmesh_sdk::inbound::{check_timestamp, TimestampError};
/// let now_ms = 1_700_000_000_000;
/// assert_eq!(check_timestamp(1_700_000_000 - 60, now_ms, 300), Ok(()));
/// assert!(matches!(check_timestamp(1_700_000_000 - 600, now_ms, 300), Err(TimestampError::Stale { .. })));
/// assert!(matches!(check_timestamp(1_700_000_000 + 600, now_ms, 300), Err(TimestampError::Future { .. })));
/// ```
pub fn check_timestamp(
    timestamp_secs: i64,
    now_ms: u64,
    tolerance_secs: u64,
) -> Result<(), TimestampError> {
    let now_secs = i128::from(now_ms / 1000);
    let delta = now_secs - i128::from(timestamp_secs);
    let secs = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
    if secs <= tolerance_secs {
        return Ok(());
    }
    Err(if delta > 0 {
        TimestampError::Stale {
            age_secs: secs,
            tolerance_secs,
        }
    } else {
        TimestampError::Future {
            ahead_secs: secs,
            tolerance_secs,
        }
    })
}

/// Config field `field` as whole seconds, or `default` when unset.
///
/// ```
/// use hookmesh_sdk::{inbound::tolerance_secs, testing::context};
/// assert_eq!(tolerance_secs(&context().build(), "tolerance_secs", 300), Ok(300));
/// let ctx = context().config("tolerance_secs", "60").build();
/// assert_eq!(tolerance_secs(&ctx, "tolerance_secs", 300), Ok(60));
/// ```
pub fn tolerance_secs(ctx: &Context, field: &str, default: u64) -> Result<u64, PluginError> {
    match ctx.config_value(field).map(str::trim) {
        None | Some("") => Ok(default),
        Some(value) => value.parse().map_err(|_| {
            PluginError::InvalidConfig(format!(
                "`{field}` must be whole seconds, e.g. 300; got `{value}`"
            ))
        }),
    }
}

/// The body as JSON, or `InvalidEvent` (the host answers `400`).
///
/// ```
/// use hookmesh_sdk::{inbound::json_body, PluginError};
/// assert_eq!(json_body(br#"{"type":"ping"}"#)?["type"], "ping");
/// assert!(matches!(json_body(b"a=1"), Err(PluginError::InvalidEvent(_))));
/// # Ok::<(), PluginError>(())
/// ```
pub fn json_body(body: &[u8]) -> Result<Value, PluginError> {
    serde_json::from_slice(body)
        .map_err(|e| PluginError::InvalidEvent(format!("body is not valid JSON: {e}")))
}

/// A JSON string, or a number, as text (`"evt_1"` → `evt_1`, `450789469` →
/// `450789469`); `None` for anything else.
///
/// ```
/// use hookmesh_sdk::{inbound::json_text, serde_json::json};
/// assert_eq!(json_text(&json!("evt_1")).as_deref(), Some("evt_1"));
/// assert_eq!(json_text(&json!(450789469)).as_deref(), Some("450789469"));
/// assert_eq!(json_text(&json!(null)), None);
/// ```
pub fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `<prefix>.<name>` as a hookmesh event type: `name` is lower-cased and
/// `/` becomes `.` (`orders/create` → `orders.create`); the result must be
/// dot-separated words of `a-z 0-9 _ -`, at most 128 characters, else
/// `InvalidEvent` naming the provider's name.
///
/// ```
/// use hookmesh_sdk::inbound::event_type;
/// assert_eq!(event_type("shopify", "orders/create")?, "shopify.orders.create");
/// assert!(event_type("acme", "has space").is_err());
/// # Ok::<(), hookmesh_sdk::PluginError>(())
/// ```
pub fn event_type(prefix: &str, name: &str) -> Result<String, PluginError> {
    let normalized = name.trim().to_ascii_lowercase().replace('/', ".");
    let full = format!("{prefix}.{normalized}");
    if !is_valid_event_type(&full) {
        return Err(PluginError::InvalidEvent(format!(
            "event name `{name}` does not make a valid event type under `{prefix}.` \
             (dot-separated words of a-z, 0-9, `_` or `-`)"
        )));
    }
    Ok(full)
}

/// The host's rule for event types: dot-separated non-empty words of
/// `a-z 0-9 _ -`, at most 128 characters.
///
/// ```
/// use hookmesh_sdk::inbound::is_valid_event_type;
/// assert!(is_valid_event_type("github.issues.opened"));
/// assert!(!is_valid_event_type("GitHub..x"));
/// ```
pub fn is_valid_event_type(name: &str) -> bool {
    name.len() <= MAX_EVENT_TYPE_LEN
        && name.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

impl InboundResult {
    /// One event, answered with the host's plain `200`.
    ///
    /// ```
    /// use hookmesh_sdk::{InboundEvent, InboundResult};
    /// let result = InboundResult::one(InboundEvent {
    ///     dedupe_id: None,
    ///     event_type: "acme.ping".into(),
    ///     resource: None,
    ///     resource_id: None,
    ///     payload: b"{}".to_vec(),
    /// });
    /// assert_eq!((result.events.len(), result.reply), (1, None));
    /// ```
    pub fn one(event: InboundEvent) -> Self {
        InboundResult {
            events: vec![event],
            reply: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn required_headers_name_themselves() {
        let headers = [header("x-a", " v "), header("x-blank", " ")];
        assert_eq!(require_header(&headers, "X-A"), Ok("v"));
        assert_eq!(
            require_header(&headers, "X-Blank"),
            Err(PluginError::Unauthorized("missing X-Blank header".into()))
        );
        assert_eq!(optional_header(&headers, "x-blank"), None);
        assert_eq!(optional_header(&headers, "x-none"), None);
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let now_ms = 1_700_000_000_500;
        assert_eq!(check_timestamp(1_700_000_000, now_ms, 300), Ok(()));
        assert_eq!(check_timestamp(1_699_999_700, now_ms, 300), Ok(()));
        assert_eq!(check_timestamp(1_700_000_300, now_ms, 300), Ok(()));
        assert_eq!(
            check_timestamp(1_699_999_699, now_ms, 300),
            Err(TimestampError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        let future = check_timestamp(1_700_000_301, now_ms, 300).unwrap_err();
        assert_eq!(
            future.to_string(),
            "is 301 s in the future, beyond the tolerance of 300 s"
        );
        assert!(check_timestamp(i64::MIN, now_ms, 300).is_err());
        assert!(check_timestamp(i64::MAX, now_ms, u64::MAX - 1).is_ok());
    }

    #[test]
    fn tolerance_comes_from_config_or_default() {
        let ctx = |value: &str| Context {
            now_ms: 0,
            delivery_id: "in_1".into(),
            attempt: 1,
            endpoint: None,
            config: vec![crate::ConfigEntry {
                key: "tolerance_secs".into(),
                value: value.into(),
            }],
        };
        assert_eq!(tolerance_secs(&ctx("60"), "tolerance_secs", 300), Ok(60));
        assert_eq!(tolerance_secs(&ctx(""), "tolerance_secs", 300), Ok(300));
        assert_eq!(tolerance_secs(&ctx("1"), "other", 300), Ok(300));
        match tolerance_secs(&ctx("5m"), "tolerance_secs", 300) {
            Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`tolerance_secs`"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn event_types_are_normalized_and_checked() {
        assert_eq!(
            event_type("shopify", "orders/create").unwrap(),
            "shopify.orders.create"
        );
        assert_eq!(
            event_type("stripe", "payment_intent.succeeded").unwrap(),
            "stripe.payment_intent.succeeded"
        );
        assert_eq!(event_type("x", "Monitor.Down").unwrap(), "x.monitor.down");
        for bad in ["", "a..b", "has space", "é", ".lead", &"a".repeat(200)] {
            assert!(
                matches!(event_type("x", bad), Err(PluginError::InvalidEvent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_helpers() {
        assert!(matches!(
            json_body(b"{nope"),
            Err(PluginError::InvalidEvent(_))
        ));
        assert_eq!(json_body(b"[1]").unwrap(), serde_json::json!([1]));
        assert_eq!(
            json_text(&serde_json::json!("evt_1")).as_deref(),
            Some("evt_1")
        );
        assert_eq!(json_text(&serde_json::json!(42)).as_deref(), Some("42"));
        assert_eq!(json_text(&serde_json::json!("")), None);
        assert_eq!(json_text(&serde_json::json!({})), None);
    }
}
