//! The generic webhook plugin: posts the event envelope to the endpoint's URL,
//! signed the Standard Webhooks way and with a plain HMAC of the body.
//!
//! Headers sent:
//! - `webhook-id`: the event id (`evt_…`), the same on every retry and replay,
//!   so receivers can dedupe;
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: `v1,<base64>` per endpoint secret, newest first,
//!   space-separated (two during a rotation's grace window); a `whsec_<base64>`
//!   secret keys it by its base64 content, any other secret by its UTF-8
//!   bytes (`hookmesh_sdk::signing::endpoint_secret_key`);
//! - the body signature, `x-hookmesh-signature: sha256=<hex HMAC-SHA256 of the
//!   raw body>` keyed by the newest secret string, unless the endpoint's config
//!   says otherwise (`signature_header`, `signature_format`: `sha256=hex`,
//!   `hex` or `base64`); during a grace window the previous secret's value is
//!   in `<signature_header>-previous`;
//! - custom headers from config entries named `header.<Name>`.
//!
//! `classify`: the SDK's default, except that `success_statuses = "2xx,3xx"`
//! counts a `3xx` answer as delivered (redirects are never followed).
//!
//! Layout: [`receiver`] reads and checks the endpoint's config.

pub mod receiver;

use hookmesh_sdk::classify::default_outcome;
use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::signing::endpoint_signature_header;
use hookmesh_sdk::{
    export_plugin, ConfigField, Context, Event, HttpRequest, HttpResponse, Manifest, Outcome,
    Plugin, PluginError,
};
use receiver::Receiver;

/// The generic webhook provider.
pub struct Webhook;

impl Plugin for Webhook {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "webhook",
            env!("CARGO_PKG_VERSION"),
            "Generic HTTPS webhook signed with Standard Webhooks and an HMAC-SHA256 of the body",
        )
        .field(ConfigField::new("header.<Name>").describe("extra request header, e.g. `header.X-Tenant = \"acme\"` (visible ASCII, spaces and tabs)"))
        .field(ConfigField::new("signature_header").describe("name of the body-signature header (default `x-hookmesh-signature`), e.g. `X-Event-Signature`"))
        .field(ConfigField::new("signature_format").describe("how the body signature is written: `sha256=hex` (default), `hex` or `base64`"))
        .field(ConfigField::new("success_statuses").describe("`2xx` (default) or `2xx,3xx` to count redirects as delivered (never followed)"))
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        let receiver = Receiver::from_context(&ctx)?;
        let secrets = ctx.endpoint_secrets();
        let Some(newest) = secrets.first() else {
            return Err(PluginError::InvalidConfig(
                "endpoint has no signing secret".into(),
            ));
        };
        let body = event.envelope_json(ctx.now_ms)?;
        let timestamp = ctx.now_ms / 1000;
        let signature = endpoint_signature_header(secrets, &event.id, timestamp, &body);
        let format = receiver.signature_format;
        let mut request = RequestBuilder::post(ctx.endpoint_url()?)
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(receiver.signature_header, format.sign(newest, &body));
        if let Some(previous) = secrets.get(1) {
            request = request.header(receiver.previous_header(), format.sign(previous, &body));
        }
        for (name, value) in &receiver.headers {
            request = request.header(*name, *value);
        }
        Ok(vec![request.json_bytes(body).build()])
    }

    fn classify(response: HttpResponse, ctx: Context) -> Outcome {
        let redirects_succeed = Receiver::from_context(&ctx).is_ok_and(|r| r.redirects_succeed);
        if redirects_succeed && (300..400).contains(&response.status) {
            return Outcome::Success;
        }
        default_outcome(&response, ctx.now_ms)
    }
}

export_plugin!(Webhook);
