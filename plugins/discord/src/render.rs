//! Events → a Discord execute-webhook request.

use crate::limits;
use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::template::{self, no_escape};
use hookmesh_sdk::{Context, Event, HttpRequest, PluginError};
use serde_json::{json, Map, Value};

/// Mention kinds config `allowed_mentions` may list (Discord's `parse` values).
pub const MENTION_KINDS: &[&str] = &["users", "roles", "everyone"];

/// The request that posts `event` to the endpoint's webhook URL.
pub fn render(event: &Event, ctx: &Context) -> Result<HttpRequest, PluginError> {
    let url = ctx.endpoint_url()?;
    let body = body(event, ctx)?;
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| PluginError::InvalidEvent(format!("cannot encode the message: {e}")))?;
    Ok(RequestBuilder::post(url).json_bytes(bytes).build())
}

/// The execute-webhook JSON body, checked against Discord's limits.
pub fn body(event: &Event, ctx: &Context) -> Result<Map<String, Value>, PluginError> {
    let tctx = template::context(event)?;
    let render = |field: &str| -> Result<Option<String>, PluginError> {
        match config(ctx, field) {
            Some(source) => {
                let text = template::render_text(field, source, &tctx, no_escape)?;
                Ok(Some(text).filter(|t| !t.trim().is_empty()))
            }
            None => Ok(None),
        }
    };
    let content = match (config(ctx, "content"), config(ctx, "embeds")) {
        (None, None) => Some(default_content(event)),
        _ => render("content")?,
    };
    let embeds = match config(ctx, "embeds") {
        Some(source) => match template::render_json("embeds", source, &tctx, no_escape)? {
            Value::Array(embeds) => embeds,
            Value::Null => Vec::new(),
            embed @ Value::Object(_) => vec![embed],
            _ => {
                return Err(PluginError::InvalidEvent(
                    "`embeds` must render to a JSON array of embed objects".into(),
                ))
            }
        },
        None => Vec::new(),
    };
    limits::check_message(content.as_deref(), &embeds)?;

    let mut body = Map::new();
    if let Some(content) = content {
        body.insert("content".into(), Value::String(content));
    }
    if !embeds.is_empty() {
        body.insert("embeds".into(), Value::Array(embeds));
    }
    if let Some(username) = render("username")? {
        limits::check_username(&username)?;
        body.insert("username".into(), Value::String(username));
    }
    if let Some(avatar) = render("avatar_url")? {
        body.insert("avatar_url".into(), Value::String(avatar.trim().into()));
    }
    body.insert("allowed_mentions".into(), allowed_mentions(ctx)?);
    Ok(body)
}

/// The content when neither `content` nor `embeds` is configured.
pub fn default_content(event: &Event) -> String {
    let mut text = format!("`{}` event {}", event.event_type, event.id);
    match (&event.resource, &event.resource_id) {
        (Some(r), Some(id)) => text.push_str(&format!(" ({r} {id})")),
        (Some(r), None) | (None, Some(r)) => text.push_str(&format!(" ({r})")),
        (None, None) => {}
    }
    text
}

/// `{"parse": [...]}` from config `allowed_mentions` (comma-separated
/// `users`, `roles`, `everyone`); by default nothing pings, so event data
/// cannot mention `@everyone`.
fn allowed_mentions(ctx: &Context) -> Result<Value, PluginError> {
    let mut parse = Vec::new();
    for kind in config(ctx, "allowed_mentions")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        if !MENTION_KINDS.contains(&kind) {
            return Err(PluginError::InvalidConfig(format!(
                "`allowed_mentions`: `{kind}` is not one of {MENTION_KINDS:?}"
            )));
        }
        parse.push(kind);
    }
    Ok(json!({ "parse": parse }))
}

fn config<'a>(ctx: &'a Context, key: &str) -> Option<&'a str> {
    ctx.config_value(key).filter(|v| !v.trim().is_empty())
}
