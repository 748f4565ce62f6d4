//! Stripe webhooks → hookmesh events.
//!
//! Stripe sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`:
//! each `v1` is the hex HMAC-SHA256 of `"<t>.<raw body>"` keyed by the
//! endpoint's signing secret (config `webhook_secret`, used as the string it
//! is, `whsec_` included). While a secret is being rolled Stripe sends one
//! `v1` per active secret, so any one may match; other schemes (`v0`) are
//! ignored. Comparisons are constant-time. The timestamp must then be
//! within `tolerance_secs` (default 300) of the host's clock, old or ahead:
//! a captured delivery cannot be replayed later.
//!
//! A verified event becomes one hookmesh event: type `stripe.<type>`
//! (`stripe.payment_intent.succeeded`), dedupe id the event `id`
//! (`evt_…`, the same on Stripe's retries), resource the object's kind and
//! id (`data.object.object`/`id`, or a thin event's `related_object`), and
//! the event JSON as Stripe sent it as payload.

use hookmesh_sdk::inbound::{
    check_timestamp, event_type, json_body, json_text, require_header, tolerance_secs,
    DEFAULT_TOLERANCE_SECS,
};
use hookmesh_sdk::signing::{verify_hmac, Algorithm, Encoding};
use hookmesh_sdk::{Context, InboundEvent, InboundRequest, InboundResult, PluginError};
use serde_json::Value;

/// The config field holding the signing secret.
pub const SECRET_FIELD: &str = "webhook_secret";
/// The config field holding the timestamp tolerance in seconds.
pub const TOLERANCE_FIELD: &str = "tolerance_secs";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// The parts of a `Stripe-Signature` header.
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// `t`, as sent (it is signed as text).
    pub timestamp: &'a str,
    /// Every `v1` signature.
    pub v1: Vec<&'a str>,
}

/// Verifies and normalizes one Stripe event.
pub fn verify(request: &InboundRequest, ctx: &Context) -> Result<InboundResult, PluginError> {
    let secret = ctx.require_config(SECRET_FIELD)?;
    let tolerance = tolerance_secs(ctx, TOLERANCE_FIELD, DEFAULT_TOLERANCE_SECS)?;
    let header = parse_header(require_header(&request.headers, SIGNATURE_HEADER)?)?;
    if !any_v1_matches(&header, secret, &request.body) {
        return Err(PluginError::Unauthorized(format!(
            "{SIGNATURE_HEADER} has no v1 signature matching the body under `{SECRET_FIELD}`"
        )));
    }
    let timestamp: i64 = header
        .timestamp
        .parse()
        .map_err(|_| unreadable("`t` is not a number"))?;
    check_timestamp(timestamp, ctx.now_ms, tolerance)
        .map_err(|e| PluginError::Unauthorized(format!("{SIGNATURE_HEADER} timestamp {e}")))?;
    normalize(&request.body).map(InboundResult::one)
}

fn unreadable(why: &str) -> PluginError {
    PluginError::Unauthorized(format!("{SIGNATURE_HEADER} is unreadable: {why}"))
}

/// Splits `t=…,v1=…,v1=…` (the first `t` counts, as in Stripe's libraries).
pub fn parse_header(value: &str) -> Result<SignatureHeader<'_>, PluginError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => timestamp = Some(t),
            Some(("v1", signature)) => v1.push(signature),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| unreadable("no timestamp `t=`"))?;
    if v1.is_empty() {
        return Err(unreadable("no `v1=` signature"));
    }
    Ok(SignatureHeader { timestamp, v1 })
}

/// True when any `v1` is the HMAC of `"<t>.<body>"` under `secret`.
fn any_v1_matches(header: &SignatureHeader<'_>, secret: &str, body: &[u8]) -> bool {
    let signed: [&[u8]; 3] = [header.timestamp.as_bytes(), b".", body];
    header.v1.iter().any(|candidate| {
        Encoding::Hex
            .decode(candidate)
            .is_some_and(|mac| verify_hmac(Algorithm::Sha256, secret.as_bytes(), &signed, &mac))
    })
}

/// One hookmesh event from a verified Stripe event (see the module doc).
pub fn normalize(body: &[u8]) -> Result<InboundEvent, PluginError> {
    let event = json_body(body)?;
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| PluginError::InvalidEvent("body has no event `type`".into()))?;
    let id = event.get("id").and_then(json_text);
    let object = event
        .pointer("/data/object")
        .or_else(|| event.get("related_object"));
    let resource = object
        .and_then(|o| o.get("object").or_else(|| o.get("type")))
        .and_then(Value::as_str)
        .map(str::to_string);
    let resource_id = object.and_then(|o| o.get("id")).and_then(json_text);
    Ok(InboundEvent {
        dedupe_id: id,
        event_type: event_type("stripe", kind)?,
        resource,
        resource_id,
        payload: body.to_vec(),
    })
}
