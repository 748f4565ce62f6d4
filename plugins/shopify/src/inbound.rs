//! Shopify webhooks → hookmesh events.
//!
//! Shopify signs the raw body: `X-Shopify-Hmac-Sha256` is the base64
//! HMAC-SHA256 of the body keyed by the app's secret (config
//! `webhook_secret`), compared here in constant time.
//!
//! A verified webhook becomes one event: type `shopify.<X-Shopify-Topic>`
//! with `/` as `.` (`orders/create` → `shopify.orders.create`), dedupe id
//! `X-Shopify-Webhook-Id` (the same on Shopify's retries), resource the
//! topic's first word (`orders`) and resource id the body's `id`, and the
//! body as Shopify sent it as payload.

use hookmesh_sdk::inbound::{event_type, json_body, json_text, optional_header, require_header};
use hookmesh_sdk::signing::verify_base64_hmac_sha256;
use hookmesh_sdk::{Context, InboundEvent, InboundRequest, InboundResult, PluginError};

/// The config field holding the signing secret.
pub const SECRET_FIELD: &str = "webhook_secret";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Shopify-Hmac-Sha256";
/// The topic header (`orders/create`, `app/uninstalled`…).
pub const TOPIC_HEADER: &str = "X-Shopify-Topic";
/// The webhook's id, stable across Shopify's retries.
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";

/// Verifies and normalizes one Shopify webhook.
pub fn verify(request: &InboundRequest, ctx: &Context) -> Result<InboundResult, PluginError> {
    let secret = ctx.require_config(SECRET_FIELD)?;
    let signature = require_header(&request.headers, SIGNATURE_HEADER)?;
    if !verify_base64_hmac_sha256(secret.as_bytes(), &request.body, signature) {
        return Err(PluginError::Unauthorized(format!(
            "{SIGNATURE_HEADER} does not match the body under `{SECRET_FIELD}`"
        )));
    }
    let topic = optional_header(&request.headers, TOPIC_HEADER)
        .ok_or_else(|| PluginError::InvalidEvent(format!("missing {TOPIC_HEADER} header")))?;
    let webhook_id = optional_header(&request.headers, WEBHOOK_ID_HEADER);
    normalize(topic, &request.body, webhook_id).map(InboundResult::one)
}

/// One event from a verified webhook (see the module doc).
pub fn normalize(
    topic: &str,
    body: &[u8],
    webhook_id: Option<&str>,
) -> Result<InboundEvent, PluginError> {
    let json = json_body(body)?;
    let resource_id = json.get("id").and_then(json_text);
    let resource = topic
        .split('/')
        .next()
        .filter(|_| resource_id.is_some())
        .map(str::to_string);
    Ok(InboundEvent {
        dedupe_id: webhook_id.map(str::to_string),
        event_type: event_type("shopify", topic)?,
        resource,
        resource_id,
        payload: body.to_vec(),
    })
}
