//! The generic webhook plugin: posts the event envelope to the endpoint's URL,
//! signed the Standard Webhooks way and with a plain hex HMAC.
//!
//! Headers sent:
//! - `webhook-id`: the event id (`evt_…`), the same on every retry and replay,
//!   so receivers can dedupe;
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: `v1,<base64>` per endpoint secret, newest first,
//!   space-separated (two during a rotation's grace window);
//! - `x-hookmesh-signature`: `sha256=<hex HMAC-SHA256 of the raw body>` keyed
//!   by the newest secret string; during a grace window the previous
//!   secret's value is in `x-hookmesh-signature-previous`;
//! - custom headers from config entries named `header.<Name>`.

use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::signing::{hookmesh_hex_signature, standard_webhooks_header};
use hookmesh_sdk::{export_plugin, Context, Event, HttpRequest, Manifest, Plugin, PluginError};

/// Prefix of config keys that become extra request headers.
const CUSTOM_HEADER_PREFIX: &str = "header.";

/// Headers the plugin owns; custom headers may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hookmesh-signature",
    "x-hookmesh-signature-previous",
];

/// The generic webhook provider.
pub struct Webhook;

impl Plugin for Webhook {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "webhook",
            env!("CARGO_PKG_VERSION"),
            "Generic HTTPS webhook signed with Standard Webhooks and hex HMAC-SHA256",
        )
        .config_field(
            "header.<Name>",
            "extra request header, e.g. `header.X-Tenant = \"acme\"`",
            false,
            false,
        )
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        let secrets = ctx.endpoint_secrets();
        let Some(newest) = secrets.first() else {
            return Err(PluginError::InvalidConfig(
                "endpoint has no signing secret".into(),
            ));
        };
        let body = event.envelope_json(ctx.now_ms)?;
        let timestamp = ctx.now_ms / 1000;
        let signature = standard_webhooks_header(secrets, &event.id, timestamp, &body)
            .map_err(|e| PluginError::InvalidConfig(format!("endpoint secret: {e}")))?;
        let hex_signature = hookmesh_hex_signature(newest, &body);

        let mut request = RequestBuilder::post(ctx.endpoint_url()?)
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("x-hookmesh-signature", hex_signature);
        if let Some(previous) = secrets.get(1) {
            request = request.header(
                "x-hookmesh-signature-previous",
                hookmesh_hex_signature(previous, &body),
            );
        }
        for (name, value) in custom_headers(&ctx)? {
            request = request.header(name, value);
        }
        Ok(vec![request.json_bytes(body).build()])
    }
}

/// The `header.<Name>` config entries, checked to be valid, non-reserved headers.
fn custom_headers(ctx: &Context) -> Result<Vec<(&str, &str)>, PluginError> {
    let mut headers = Vec::new();
    for entry in &ctx.config {
        let Some(name) = entry.key.strip_prefix(CUSTOM_HEADER_PREFIX) else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(PluginError::InvalidConfig(format!(
                "`{}`: `{name}` is not a valid header name",
                entry.key
            )));
        }
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(PluginError::InvalidConfig(format!(
                "`{}`: header `{name}` is set by the plugin and cannot be overridden",
                entry.key
            )));
        }
        if entry
            .value
            .bytes()
            .any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(PluginError::InvalidConfig(format!(
                "`{}`: header value contains a control character",
                entry.key
            )));
        }
        headers.push((name, entry.value.as_str()));
    }
    Ok(headers)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

export_plugin!(Webhook);
