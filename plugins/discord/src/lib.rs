//! The `discord` provider plugin: posts events to a Discord channel through
//! an execute-webhook URL (the endpoint URL,
//! `https://discord.com/api/webhooks/{id}/{token}`).
//!
//! The message's `content` (a text template) and `embeds` (a JSON template
//! rendering to an array of embed objects) are minijinja templates over the
//! event; see [`hookmesh_sdk::template`] for the context and the JSON escaping rules.
//! Without either, the content is a one-line summary with the event type
//! and id. `username` and `avatar_url` override the webhook's defaults.
//!
//! Mentions in the rendered text do not ping unless config
//! `allowed_mentions` lists the kinds that may (`users`, `roles`,
//! `everyone`), so event data cannot ping `@everyone`.
//!
//! Discord's limits (content 2,000 characters, 10 embeds, 6,000 characters
//! across embeds…) are checked while rendering: see [`limits`].
//!
//! # Layout
//! - [`render`]: events → the execute-webhook request.
//! - [`limits`]: Discord's message limits.
//! - [`classify`]: Discord's answers → success, retry or failure.

pub mod classify;
pub mod limits;
pub mod render;

use hookmesh_sdk::{
    ConfigField, Context, Event, HttpRequest, HttpResponse, Manifest, Outcome, Plugin, PluginError,
};

/// The `discord` plugin.
pub struct Discord;

impl Plugin for Discord {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "discord",
            env!("CARGO_PKG_VERSION"),
            "Discord messages with content and embeds from templates, via execute-webhook URLs",
        )
        .allow_host("discord.com")
        .allow_host("*.discord.com")
        .allow_host("discordapp.com")
        .field(ConfigField::new("content").describe(
            "message text template (minijinja) over `event`, `id`, `resource`, \
             `resource_id`, `payload`, `time_created`; ≤ 2,000 characters",
        ))
        .field(
            ConfigField::new("embeds")
                .describe("embeds: a JSON template rendering to an array of embed objects (≤ 10)"),
        )
        .field(
            ConfigField::new("username")
                .describe("overrides the webhook's name (a template; ≤ 80 characters)"),
        )
        .field(
            ConfigField::new("avatar_url").describe("overrides the webhook's avatar (a template)"),
        )
        .field(ConfigField::new("allowed_mentions").describe(
            "comma-separated mention kinds that may ping: `users`, `roles`, `everyone`; \
             default: none",
        ))
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        render::render(&event, &ctx).map(|request| vec![request])
    }

    fn classify(response: HttpResponse, ctx: Context) -> Outcome {
        classify::classify(&response, ctx.now_ms)
    }
}

hookmesh_sdk::export_plugin!(Discord);
