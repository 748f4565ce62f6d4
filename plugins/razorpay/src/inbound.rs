//! Razorpay webhooks → hookmesh events.
//!
//! Razorpay signs the raw body: `X-Razorpay-Signature` is the hex
//! HMAC-SHA256 of the body keyed by the webhook's secret (config
//! `webhook_secret`), compared here in constant time. A verified envelope
//!
//! ```json
//! {"entity": "event", "account_id": "acc_…", "event": "payment.captured",
//!  "contains": ["payment"], "payload": {"payment": {"entity": {"id": "pay_…", …}}},
//!  "created_at": 1567674606}
//! ```
//!
//! becomes one event: type `razorpay.payment.captured`, resource the first
//! of `contains` (`payment`), resource id that entity's `id`, dedupe id the
//! `X-Razorpay-Event-Id` header (the same on Razorpay's retries). The event
//! payload is the whole envelope as Razorpay sent it, so nothing is lost
//! (`account_id`, `created_at`) and Razorpay's documentation describes it:
//! the payment is at `payload.payload.payment.entity`.

use hookmesh_sdk::http::header_value;
use hookmesh_sdk::signing::verify_hex_hmac_sha256;
use hookmesh_sdk::{Context, InboundEvent, InboundRequest, InboundResult, PluginError};
use serde_json::Value;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-razorpay-signature";
/// Razorpay's id of the delivery, stable across its retries.
pub const EVENT_ID_HEADER: &str = "x-razorpay-event-id";

/// Verifies and normalizes one Razorpay webhook.
pub fn verify(request: &InboundRequest, ctx: &Context) -> Result<InboundResult, PluginError> {
    let secret = ctx
        .config_value("webhook_secret")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            PluginError::InvalidConfig(
                "`webhook_secret` is required to verify Razorpay webhooks".into(),
            )
        })?;
    let signature = header_value(&request.headers, SIGNATURE_HEADER)
        .ok_or_else(|| PluginError::Unauthorized("missing X-Razorpay-Signature header".into()))?;
    if !verify_hex_hmac_sha256(secret.as_bytes(), &request.body, signature) {
        return Err(PluginError::Unauthorized(
            "X-Razorpay-Signature does not match the body under `webhook_secret`".into(),
        ));
    }
    let dedupe_id = header_value(&request.headers, EVENT_ID_HEADER)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let event = normalize(&request.body, dedupe_id)?;
    Ok(InboundResult {
        events: vec![event],
        reply: None,
    })
}

/// Turns a verified envelope into an event (see the module doc).
pub fn normalize(body: &[u8], dedupe_id: Option<String>) -> Result<InboundEvent, PluginError> {
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|e| PluginError::InvalidEvent(format!("body is not valid JSON: {e}")))?;
    if !envelope.is_object() {
        return Err(PluginError::InvalidEvent(
            "body is not a JSON object".into(),
        ));
    }
    let name = envelope
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| PluginError::InvalidEvent("body has no `event` name".into()))?;
    let resource = envelope
        .get("contains")
        .and_then(|c| c.get(0))
        .and_then(Value::as_str)
        .map(str::to_string);
    let resource_id = resource.as_deref().and_then(|r| {
        envelope
            .get("payload")?
            .get(r)?
            .get("entity")?
            .get("id")?
            .as_str()
            .map(str::to_string)
    });
    Ok(InboundEvent {
        dedupe_id,
        event_type: event_type(name)?,
        resource,
        resource_id,
        payload: body.to_vec(),
    })
}

/// `razorpay.<event>`, checked to be a valid hookmesh event type.
fn event_type(name: &str) -> Result<String, PluginError> {
    let valid = !name.is_empty()
        && name.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        });
    if !valid {
        return Err(PluginError::InvalidEvent(format!(
            "unexpected Razorpay event name `{name}`"
        )));
    }
    Ok(format!("razorpay.{name}"))
}
