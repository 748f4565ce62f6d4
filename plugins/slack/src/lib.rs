//! The `slack` provider plugin: posts events to Slack as messages, and
//! accepts Slack's signed requests (Events API, slash commands,
//! interactivity) as hookmesh events.
//!
//! # Outbound
//! - `mode` unset or `incoming_webhook`: `POST` the endpoint URL (an
//!   incoming webhook, `https://hooks.slack.com/services/…`) with
//!   `{"text", "blocks"?}`.
//! - `mode = "chat.postMessage"`: `POST https://slack.com/api/chat.postMessage`
//!   with `Authorization: Bearer <bot_token>` and `{"channel", "text",
//!   "blocks"?}`; the endpoint URL is not used.
//!
//! The message `text` and the optional Block Kit `blocks` are minijinja
//! templates over the event (see [`hookmesh_sdk::template`] for the context and the
//! escaping rules), e.g.
//! `New order {{ payload.order_id }} — {{ payload.total_cents / 100 }} {{ payload.currency | upper }}`.
//! Without a `text` template (or when it renders empty) the text is a
//! one-line summary with the event type and id.
//!
//! # Inbound
//! Requests must carry a valid `X-Slack-Signature` (`v0=` HMAC-SHA256 of
//! `v0:{timestamp}:{body}` under `signing_secret`) and an
//! `X-Slack-Request-Timestamp` within 5 minutes of the host's clock. See
//! [`inbound`] for how bodies become events.
//!
//! # Layout
//! - [`render`]: events → requests.
//! - [`classify`]: Slack's answers → success, retry or failure.
//! - [`inbound`]: signature check and normalization; [`form`]: form bodies.

pub mod classify;
pub mod form;
pub mod inbound;
pub mod render;

use hookmesh_sdk::{
    Capability, ConfigField, Context, Event, HttpRequest, HttpResponse, InboundRequest,
    InboundResult, Manifest, Outcome, Plugin, PluginError,
};

/// The `slack` plugin.
pub struct Slack;

impl Plugin for Slack {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "slack",
            env!("CARGO_PKG_VERSION"),
            "Slack messages (incoming webhooks or chat.postMessage) from templates; \
             signed Slack requests (Events API, slash commands, interactivity) as events",
        )
        .capability(Capability::Inbound)
        .allow_host("hooks.slack.com")
        .allow_host("slack.com")
        .field(ConfigField::new("mode").describe(
            "`incoming_webhook` (default: post to the endpoint URL) or `chat.postMessage` \
             (post with `bot_token` to `channel`)",
        ))
        .field(ConfigField::new("text").describe(
            "message text template (minijinja) over `event`, `id`, `resource`, \
             `resource_id`, `payload`, `time_created`; default: a one-line summary",
        ))
        .field(
            ConfigField::new("blocks")
                .describe("Block Kit blocks: a JSON template rendering to an array of blocks"),
        )
        .field(ConfigField::new("channel").describe(
            "channel id or name for chat.postMessage (a template; required in that mode)",
        ))
        .field(
            ConfigField::new("bot_token")
                .describe("bot token (`xoxb-…`) for chat.postMessage (required in that mode)")
                .secret(),
        )
        .field(
            ConfigField::new("signing_secret")
                .describe(
                    "the app's signing secret, to verify inbound requests (required for inbound)",
                )
                .secret(),
        )
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        render::render(&event, &ctx).map(|request| vec![request])
    }

    fn classify(response: HttpResponse, ctx: Context) -> Outcome {
        classify::classify(&response, ctx.now_ms)
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        inbound::verify(&request, &ctx)
    }
}

hookmesh_sdk::export_plugin!(Slack);
