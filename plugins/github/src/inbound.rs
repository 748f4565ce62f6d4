//! GitHub webhooks → hookmesh events.
//!
//! GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256 of the body>` keyed by the webhook's secret (config
//! `webhook_secret`), compared here in constant time. The older SHA-1
//! `X-Hub-Signature` is not accepted.
//!
//! A verified delivery becomes one event:
//! - type `github.<X-GitHub-Event>`, followed by `.<action>` when the body
//!   has one (`github.issues.opened`, `github.pull_request.closed`,
//!   `github.push`); GitHub's `ping`, sent when a webhook is created, is
//!   answered `200` and routed as `github.ping`;
//! - dedupe id `X-GitHub-Delivery` (the same GUID when GitHub redelivers);
//! - resource `repository`, resource id its `full_name`, when present;
//! - payload: the JSON GitHub sent, as sent. With content type
//!   `application/x-www-form-urlencoded` the body is `payload=<JSON>`: the
//!   signature covers that raw body and the event payload is the JSON.

use hookmesh_sdk::http::header_value;
use hookmesh_sdk::inbound::{event_type, json_body, optional_header, require_header};
use hookmesh_sdk::signing::verify_hex_hmac_sha256;
use hookmesh_sdk::{Context, InboundEvent, InboundRequest, InboundResult, PluginError};
use serde_json::Value;

/// The config field holding the webhook's secret.
pub const SECRET_FIELD: &str = "webhook_secret";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The event name header (`issues`, `push`, `ping`…).
pub const EVENT_HEADER: &str = "X-GitHub-Event";
/// The delivery GUID, stable across redeliveries.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// What precedes the hex digest in the signature header.
const SIGNATURE_PREFIX: &str = "sha256=";

/// Verifies and normalizes one GitHub delivery.
pub fn verify(request: &InboundRequest, ctx: &Context) -> Result<InboundResult, PluginError> {
    let secret = ctx.require_config(SECRET_FIELD)?;
    check_signature(request, secret)?;
    let name = optional_header(&request.headers, EVENT_HEADER)
        .ok_or_else(|| PluginError::InvalidEvent(format!("missing {EVENT_HEADER} header")))?;
    let payload = payload_json(request)?;
    let event = normalize(
        name,
        payload,
        optional_header(&request.headers, DELIVERY_HEADER),
    )?;
    Ok(InboundResult::one(event))
}

/// True when `signature` (an `X-Hub-Signature-256` value) is
/// `sha256=<hex HMAC-SHA256 of body under secret>`; constant-time.
pub fn signature_valid(secret: &str, body: &[u8], signature: &str) -> bool {
    signature
        .strip_prefix(SIGNATURE_PREFIX)
        .is_some_and(|hex| verify_hex_hmac_sha256(secret.as_bytes(), body, hex))
}

/// The signature header must be there and valid.
fn check_signature(request: &InboundRequest, secret: &str) -> Result<(), PluginError> {
    let signature = require_header(&request.headers, SIGNATURE_HEADER)?;
    if signature_valid(secret, &request.body, signature) {
        Ok(())
    } else {
        Err(PluginError::Unauthorized(format!(
            "{SIGNATURE_HEADER} does not match the body under `{SECRET_FIELD}`"
        )))
    }
}

/// The JSON GitHub sent: the body, or its `payload=` field when form-encoded.
fn payload_json(request: &InboundRequest) -> Result<Vec<u8>, PluginError> {
    let form = header_value(&request.headers, "content-type")
        .is_some_and(|t| t.trim().starts_with("application/x-www-form-urlencoded"));
    let json = if form {
        form_payload(&request.body)?
    } else {
        request.body.clone()
    };
    json_body(&json)?;
    Ok(json)
}

/// The decoded `payload` field of a form-encoded body.
fn form_payload(body: &[u8]) -> Result<Vec<u8>, PluginError> {
    body.split(|b| *b == b'&')
        .find_map(|pair| pair.strip_prefix(b"payload="))
        .map(percent_decode)
        .ok_or_else(|| {
            PluginError::InvalidEvent("form-encoded body has no `payload` field".into())
        })?
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(text: &[u8]) -> Result<Vec<u8>, PluginError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [
                    *bytes.next().unwrap_or(&b'!'),
                    *bytes.next().unwrap_or(&b'!'),
                ];
                let byte = std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        PluginError::InvalidEvent(
                            "form-encoded `payload` has a bad %-escape".into(),
                        )
                    })?;
                out.push(byte);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// One event from a verified delivery (see the module doc).
pub fn normalize(
    name: &str,
    payload: Vec<u8>,
    delivery: Option<&str>,
) -> Result<InboundEvent, PluginError> {
    let body = json_body(&payload)?;
    let action = body.get("action").and_then(Value::as_str);
    let full_name = match action {
        Some(action) => format!("{name}.{action}"),
        None => name.to_string(),
    };
    let repository = body
        .get("repository")
        .and_then(|r| r.get("full_name"))
        .and_then(Value::as_str);
    Ok(InboundEvent {
        dedupe_id: delivery.map(str::to_string),
        event_type: event_type("github", &full_name)?,
        resource: repository.map(|_| "repository".to_string()),
        resource_id: repository.map(str::to_string),
        payload,
    })
}
