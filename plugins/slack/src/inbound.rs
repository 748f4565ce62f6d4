//! Slack's signed requests → hookmesh events.
//!
//! Every request must carry `X-Slack-Request-Timestamp` (Unix seconds,
//! within [`MAX_SKEW_SECS`] of the host's clock) and `X-Slack-Signature:
//! v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">` under config
//! `signing_secret`. Then:
//!
//! | body | event type | resource | resource id / dedupe id |
//! |---|---|---|---|
//! | JSON `url_verification` | none: replies with the `challenge` | | |
//! | JSON `event_callback` (Events API) | `slack.event_callback` | inner `event.type`, e.g. `message` | `event_id` |
//! | other JSON `type` | `slack.<type>` | | |
//! | form with `command` (slash command) | `slack.command` | the command, e.g. `/deploy` | `trigger_id` |
//! | form with `payload` (interactivity) | `slack.interaction` | its `type`, e.g. `block_actions` | `trigger_id` |
//! | form with `ssl_check` | none | | |
//!
//! The event payload is the JSON body, the fields of a slash command as a
//! JSON object, or the decoded `payload` of an interaction, without Slack's
//! legacy verification `token`. Commands and interactions get an empty
//! `200` reply, which Slack takes as a plain acknowledgement.

use crate::form;
use hookmesh_sdk::http::header_value;
use hookmesh_sdk::signing::verify_hex_hmac_sha256;
use hookmesh_sdk::{
    Context, Header, HttpResponse, InboundEvent, InboundRequest, InboundResult, PluginError,
};
use serde_json::{Map, Value};

/// How far a request's timestamp may be from the host's clock.
pub const MAX_SKEW_SECS: u64 = 300;

/// Verifies and normalizes one Slack request.
pub fn verify(request: &InboundRequest, ctx: &Context) -> Result<InboundResult, PluginError> {
    let secret = ctx.config_value("signing_secret").filter(|s| !s.is_empty());
    let secret = secret.ok_or_else(|| {
        PluginError::InvalidConfig("`signing_secret` is required to verify Slack requests".into())
    })?;
    check_signature(&request.headers, &request.body, secret, ctx.now_ms)?;
    normalize(request)
}

/// Checks `X-Slack-Signature` and the timestamp's freshness.
pub fn check_signature(
    headers: &[Header],
    body: &[u8],
    secret: &str,
    now_ms: u64,
) -> Result<(), PluginError> {
    let unauthorized = |m: &str| PluginError::Unauthorized(m.to_string());
    let timestamp = header_value(headers, "x-slack-request-timestamp")
        .ok_or_else(|| unauthorized("missing X-Slack-Request-Timestamp header"))?;
    let signature = header_value(headers, "x-slack-signature")
        .ok_or_else(|| unauthorized("missing X-Slack-Signature header"))?;
    let seconds: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| unauthorized("X-Slack-Request-Timestamp is not a Unix time in seconds"))?;
    let now = now_ms / 1000;
    let skew = now.abs_diff(seconds);
    if skew > MAX_SKEW_SECS {
        return Err(PluginError::Unauthorized(format!(
            "X-Slack-Request-Timestamp is {skew} s from now (at most {MAX_SKEW_SECS} s): stale or replayed request"
        )));
    }
    let hex = signature
        .trim()
        .strip_prefix("v0=")
        .ok_or_else(|| unauthorized("X-Slack-Signature is not a `v0=` signature"))?;
    let signed = [b"v0:", timestamp.trim().as_bytes(), b":", body].concat();
    if !verify_hex_hmac_sha256(secret.as_bytes(), &signed, hex) {
        return Err(unauthorized(
            "X-Slack-Signature does not match the body under `signing_secret`",
        ));
    }
    Ok(())
}

/// Turns a verified body into events (see the module doc).
pub fn normalize(request: &InboundRequest) -> Result<InboundResult, PluginError> {
    let content_type = header_value(&request.headers, "content-type").unwrap_or("");
    let is_form = content_type.contains("application/x-www-form-urlencoded")
        || (!content_type.contains("json")
            && request.body.trim_ascii_start().first() != Some(&b'{'));
    if is_form {
        form_body(&request.body)
    } else {
        json_body(&request.body)
    }
}

fn json_body(body: &[u8]) -> Result<InboundResult, PluginError> {
    let Value::Object(mut json) = serde_json::from_slice(body)
        .map_err(|e| PluginError::InvalidEvent(format!("body is not valid JSON: {e}")))?
    else {
        return Err(PluginError::InvalidEvent(
            "body is not a JSON object".into(),
        ));
    };
    json.remove("token");
    let kind = str_field(&json, "type")
        .ok_or_else(|| PluginError::InvalidEvent("body has no `type`".into()))?
        .to_string();
    if kind == "url_verification" {
        let challenge = str_field(&json, "challenge").ok_or_else(|| {
            PluginError::InvalidEvent("`url_verification` without a `challenge`".into())
        })?;
        let reply = HttpResponse {
            status: 200,
            headers: vec![Header {
                name: "content-type".into(),
                value: "text/plain".into(),
            }],
            body: challenge.as_bytes().to_vec(),
        };
        return Ok(InboundResult {
            events: Vec::new(),
            reply: Some(reply),
        });
    }
    let event_id = str_field(&json, "event_id").map(str::to_string);
    let resource = json
        .get("event")
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let event = InboundEvent {
        dedupe_id: event_id.clone(),
        event_type: event_type(&kind)?,
        resource,
        resource_id: event_id,
        payload: encode(&json)?,
    };
    Ok(InboundResult {
        events: vec![event],
        reply: None,
    })
}

fn form_body(body: &[u8]) -> Result<InboundResult, PluginError> {
    let fields: Map<String, Value> = form::parse(body)
        .into_iter()
        .filter(|(name, _)| name != "token")
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let event = if let Some(raw) = str_field(&fields, "payload") {
        let Value::Object(mut payload) = serde_json::from_str(raw).map_err(|e| {
            PluginError::InvalidEvent(format!("interaction `payload` is not valid JSON: {e}"))
        })?
        else {
            return Err(PluginError::InvalidEvent(
                "interaction `payload` is not a JSON object".into(),
            ));
        };
        payload.remove("token");
        InboundEvent {
            dedupe_id: str_field(&payload, "trigger_id").map(str::to_string),
            event_type: "slack.interaction".into(),
            resource: str_field(&payload, "type").map(str::to_string),
            resource_id: str_field(&payload, "trigger_id").map(str::to_string),
            payload: encode(&payload)?,
        }
    } else if let Some(command) = str_field(&fields, "command") {
        InboundEvent {
            dedupe_id: str_field(&fields, "trigger_id").map(str::to_string),
            event_type: "slack.command".into(),
            resource: Some(command.to_string()),
            resource_id: str_field(&fields, "trigger_id").map(str::to_string),
            payload: encode(&fields)?,
        }
    } else if fields.contains_key("ssl_check") {
        return Ok(InboundResult {
            events: Vec::new(),
            reply: Some(empty_ok()),
        });
    } else {
        return Err(PluginError::InvalidEvent(
            "form body is neither a slash command (`command`) nor an interaction (`payload`)"
                .into(),
        ));
    };
    Ok(InboundResult {
        events: vec![event],
        reply: Some(empty_ok()),
    })
}

/// `slack.<type>`, checked to be a valid hookmesh event type.
fn event_type(kind: &str) -> Result<String, PluginError> {
    let valid = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(PluginError::InvalidEvent(format!(
            "unexpected Slack request type `{kind}`"
        )));
    }
    Ok(format!("slack.{kind}"))
}

fn str_field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object.get(name).and_then(Value::as_str)
}

fn encode(object: &Map<String, Value>) -> Result<Vec<u8>, PluginError> {
    serde_json::to_vec(object)
        .map_err(|e| PluginError::InvalidEvent(format!("cannot encode the payload: {e}")))
}

fn empty_ok() -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    }
}
