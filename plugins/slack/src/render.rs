//! Events → Slack messages: an incoming-webhook post or a `chat.postMessage` call.

use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::template::{self, no_escape};
use hookmesh_sdk::{Context, Event, HttpRequest, PluginError};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The Web API method used in `chat.postMessage` mode.
pub const POST_MESSAGE_URL: &str = "https://slack.com/api/chat.postMessage";
/// Slack's limit on blocks in one message.
pub const MAX_BLOCKS: usize = 50;

/// Where a message goes (config `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST` the endpoint URL, an incoming webhook.
    IncomingWebhook,
    /// `POST` [`POST_MESSAGE_URL`] with a bot token.
    PostMessage,
}

impl Mode {
    /// Reads config `mode`.
    pub fn from_config(ctx: &Context) -> Result<Self, PluginError> {
        match ctx.config_value("mode").map(str::trim) {
            None | Some("") | Some("incoming_webhook") => Ok(Mode::IncomingWebhook),
            Some("chat.postMessage") => Ok(Mode::PostMessage),
            Some(other) => Err(PluginError::InvalidConfig(format!(
                "`mode` must be `incoming_webhook` or `chat.postMessage`, not `{other}`"
            ))),
        }
    }
}

/// Slack's escaping of message text: `&`, `<`, `>` as entities, so event
/// data cannot form links or mentions (`<!channel>`).
pub fn slack_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    )
}

/// The request that posts `event` as configured.
pub fn render(event: &Event, ctx: &Context) -> Result<HttpRequest, PluginError> {
    let mode = Mode::from_config(ctx)?;
    let tctx = template::context(event)?;
    let message = message(event, ctx, &tctx)?;
    let mut body = Map::new();
    match mode {
        Mode::IncomingWebhook => {
            body.extend(message);
            let request = RequestBuilder::post(ctx.endpoint_url()?);
            encode(request, &body)
        }
        Mode::PostMessage => {
            let token = required(ctx, "bot_token")?;
            let channel_source = required(ctx, "channel")?;
            let channel = template::render_text("channel", channel_source, &tctx, no_escape)?;
            let channel = channel.trim();
            if channel.is_empty() {
                return Err(PluginError::InvalidEvent(
                    "`channel` rendered empty for this event".into(),
                ));
            }
            body.insert("channel".into(), Value::String(channel.into()));
            body.extend(message);
            let request = RequestBuilder::post(POST_MESSAGE_URL).bearer(token);
            encode(request, &body)
        }
    }
}

/// `text` and `blocks` of the message; `tctx` is the template context.
pub fn message(
    event: &Event,
    ctx: &Context,
    tctx: &template::Value,
) -> Result<Map<String, Value>, PluginError> {
    let mut message = Map::new();
    let text = match ctx.config_value("text").filter(|t| !t.trim().is_empty()) {
        Some(source) => template::render_text("text", source, tctx, slack_escape)?,
        None => String::new(),
    };
    let text = if text.trim().is_empty() {
        default_text(event)
    } else {
        text
    };
    message.insert("text".into(), Value::String(text));
    if let Some(source) = ctx.config_value("blocks").filter(|b| !b.trim().is_empty()) {
        let blocks = match template::render_json("blocks", source, tctx, slack_escape)? {
            Value::Object(mut o) if o.get("blocks").is_some_and(Value::is_array) => {
                o.remove("blocks").unwrap_or_default()
            }
            blocks @ Value::Array(_) => blocks,
            other => {
                return Err(PluginError::InvalidEvent(format!(
                    "`blocks` must render to a JSON array of blocks, not {}",
                    kind(&other)
                )))
            }
        };
        let count = blocks.as_array().map_or(0, Vec::len);
        if count > MAX_BLOCKS {
            return Err(PluginError::InvalidEvent(format!(
                "`blocks` rendered {count} blocks; Slack accepts at most {MAX_BLOCKS}"
            )));
        }
        if count > 0 {
            message.insert("blocks".into(), blocks);
        }
    }
    Ok(message)
}

/// The text when no template is configured, e.g. `` `order.created` event evt_1 (order ord_7) ``.
pub fn default_text(event: &Event) -> String {
    let mut text = format!(
        "`{}` event {}",
        slack_escape(&event.event_type),
        slack_escape(&event.id)
    );
    match (&event.resource, &event.resource_id) {
        (Some(r), Some(id)) => {
            text.push_str(&format!(" ({} {})", slack_escape(r), slack_escape(id)))
        }
        (Some(r), None) => text.push_str(&format!(" ({})", slack_escape(r))),
        (None, Some(id)) => text.push_str(&format!(" ({})", slack_escape(id))),
        (None, None) => {}
    }
    text
}

fn required<'a>(ctx: &'a Context, key: &str) -> Result<&'a str, PluginError> {
    ctx.config_value(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            PluginError::InvalidConfig(format!("`{key}` is required for chat.postMessage"))
        })
}

fn encode(request: RequestBuilder, body: &Map<String, Value>) -> Result<HttpRequest, PluginError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| PluginError::InvalidEvent(format!("cannot encode the message: {e}")))?;
    Ok(request
        .header("content-type", "application/json; charset=utf-8")
        .body(bytes)
        .build())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::{ConfigEntry, Endpoint};

    const HOOK: &str = "https://hooks.slack.com/services/T0/B0/X";

    fn event(payload: &str) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: "order.created".into(),
            resource: Some("order".into()),
            resource_id: Some("ord_7".into()),
            payload: payload.as_bytes().to_vec(),
            time_created_ms: 1,
        }
    }

    fn ctx(config: &[(&str, &str)]) -> Context {
        Context {
            now_ms: 2,
            delivery_id: "dlv_1".into(),
            attempt: 1,
            endpoint: Some(Endpoint {
                id: "ep_1".into(),
                url: HOOK.into(),
                secrets: vec![],
            }),
            config: config
                .iter()
                .map(|(k, v)| ConfigEntry {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        }
    }

    fn body(request: &HttpRequest) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    #[test]
    fn incoming_webhook_posts_the_rendered_text() {
        let text = "New order {{ payload.order_id }} — {{ payload.total_cents / 100 }} {{ payload.currency | upper }}";
        let request = render(
            &event(r#"{"order_id": "A-1", "total_cents": 4999, "currency": "eur"}"#),
            &ctx(&[("text", text)]),
        )
        .unwrap();
        assert_eq!(request.url, HOOK);
        assert!(request.headers.iter().all(|h| h.name != "authorization"));
        assert_eq!(
            body(&request),
            serde_json::json!({"text": "New order A-1 — 49.99 EUR"})
        );
    }

    #[test]
    fn default_text_names_the_event() {
        let request = render(&event("{}"), &ctx(&[])).unwrap();
        assert_eq!(
            body(&request)["text"],
            "`order.created` event evt_1 (order ord_7)"
        );
    }

    #[test]
    fn event_data_cannot_mention_everyone() {
        let request = render(
            &event(r#"{"name": "<!channel> & co"}"#),
            &ctx(&[("text", "<!here> signup: {{ payload.name }}")]),
        )
        .unwrap();
        assert_eq!(
            body(&request)["text"],
            "<!here> signup: &lt;!channel&gt; &amp; co"
        );
    }

    #[test]
    fn blocks_render_from_a_json_template() {
        let blocks = r#"[{"type": "section", "text": {"type": "mrkdwn", "text": "*{{ payload.title }}*"}}
            {% for i in payload.items %}, {"type": "context", "elements": [{"type": "plain_text", "text": "{{ i }}"}]}{% endfor %}]"#;
        let request = render(
            &event(r#"{"title": "Say \"hi\"", "items": ["a", "b"]}"#),
            &ctx(&[("blocks", blocks)]),
        )
        .unwrap();
        let sent = body(&request);
        assert_eq!(sent["blocks"][0]["text"]["text"], "*Say \"hi\"*");
        assert_eq!(sent["blocks"][2]["elements"][0]["text"], "b");
        assert_eq!(sent["text"], "`order.created` event evt_1 (order ord_7)");
    }

    #[test]
    fn blocks_must_be_an_array_within_limits() {
        let err = render(&event("{}"), &ctx(&[("blocks", r#""text""#)])).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidEvent(m) if m.contains("JSON array")),
            "{err:?}"
        );
        let many = format!("[{}]", vec![r#"{"type":"divider"}"#; 51].join(","));
        let err = render(&event("{}"), &ctx(&[("blocks", &many)])).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidEvent(m) if m.contains("at most 50")),
            "{err:?}"
        );
    }

    #[test]
    fn post_message_uses_the_bot_token_and_channel() {
        let config = [
            ("mode", "chat.postMessage"),
            ("bot_token", "xoxb-1"),
            ("channel", "#{{ payload.team }}"),
            ("text", "hi"),
        ];
        let request = render(&event(r#"{"team": "ops"}"#), &ctx(&config)).unwrap();
        assert_eq!(request.url, POST_MESSAGE_URL);
        assert!(request
            .headers
            .iter()
            .any(|h| h.name == "authorization" && h.value == "Bearer xoxb-1"));
        assert_eq!(
            body(&request),
            serde_json::json!({"channel": "#ops", "text": "hi"})
        );
    }

    #[test]
    fn post_message_config_errors_name_the_field() {
        let err = render(
            &event("{}"),
            &ctx(&[("mode", "chat.postMessage"), ("bot_token", "xoxb-1")]),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m == "`channel` is required for chat.postMessage"),
            "{err:?}"
        );
        let err = render(
            &event("{}"),
            &ctx(&[("mode", "chat.postMessage"), ("channel", "C1")]),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m == "`bot_token` is required for chat.postMessage"),
            "{err:?}"
        );
        let err = render(&event("{}"), &ctx(&[("mode", "rtm")])).unwrap_err();
        assert!(matches!(err, PluginError::InvalidConfig(m) if m.contains("`mode`")));
    }
}
