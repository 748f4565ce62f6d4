//! Templates over an event, rendered with minijinja (Jinja2 syntax).
//!
//! Available with the `templates` feature of `hookmesh-sdk` (off by
//! default: it adds minijinja to the plugin's WebAssembly).
//!
//! The context every template sees (built by [`context`]):
//!
//! | name | value |
//! |---|---|
//! | `event` | the event type, e.g. `order.created` |
//! | `id` | the event id, `evt_…` |
//! | `resource`, `resource_id` | as sent by the app (may be undefined) |
//! | `payload` | the event payload (parsed JSON) |
//! | `time_created` | Unix milliseconds when hookmesh accepted the event |
//!
//! Undefined lookups are chainable (`payload.a.b` of a missing `a` is
//! undefined, not an error) and `none`/undefined print as nothing. Every
//! interpolated string passes through the caller's [`Escape`] (e.g. Slack's
//! `&`, `<`, `>` entities; [`no_escape`] for none); `| safe` opts a value out.
//!
//! Three ways to render:
//!
//! - [`render_text`]: a text template.
//! - [`render_json`]: a JSON template (e.g. Slack `blocks`, Discord
//!   `embeds`), rendered as text and then parsed. Inside it `{{ … }}` output
//!   is escaped for a JSON string, so `"text": "Order {{ payload.note }}"`
//!   stays valid whatever the note holds; numbers and booleans print as
//!   themselves, lists and objects as JSON, and `| tojson` prints any value
//!   as a complete JSON value (quotes included).
//! - [`render_value`]: keeps types. A source that is exactly one
//!   `{{ expression }}` evaluates to the expression's value (a number stays a
//!   number, an object an object); any other source renders as text.
//!
//! A syntax error is a config error naming the field; a failure that depends
//! on the event (a type error, JSON that does not parse) is an event error.

use crate::{Event, PluginError};
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior};
use std::borrow::Cow;

/// The context templates render against, as built by [`context`].
pub use minijinja::Value;

/// Escapes an interpolated string for its destination.
pub type Escape = fn(&str) -> Cow<'_, str>;

/// No escaping (for values that are not message text, e.g. a channel id).
///
/// ```
/// assert_eq!(hookmesh_sdk::template::no_escape("<b>"), "<b>");
/// ```
pub fn no_escape(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// The context templates render against (see the module doc).
///
/// ```
/// use hookmesh_sdk::template::{context, no_escape, render_text};
/// let event = hookmesh_sdk::testing::event("user.signup").build();
/// let ctx = context(&event)?;
/// assert_eq!(render_text("text", "{{ event }} {{ id }}", &ctx, no_escape)?, "user.signup evt_test");
/// # Ok::<(), hookmesh_sdk::PluginError>(())
/// ```
pub fn context(event: &Event) -> Result<Value, PluginError> {
    let payload = event.payload_value()?;
    Ok(Value::from_serialize(serde_json::json!({
        "event": event.event_type,
        "id": event.id,
        "resource": event.resource,
        "resource_id": event.resource_id,
        "payload": payload,
        "time_created": event.time_created_ms,
    })))
}

/// Renders the text template in config field `field`.
///
/// ```
/// use hookmesh_sdk::template::{context, render_text};
/// use hookmesh_sdk::{serde_json::json, testing::event, PluginError};
/// use std::borrow::Cow;
/// fn slack_escape(s: &str) -> Cow<'_, str> {
///     Cow::Owned(s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
/// }
/// let ctx = context(&event("a.b").payload(json!({"who": "<!channel>"})).build())?;
/// assert_eq!(render_text("text", "Hi {{ payload.who }}", &ctx, slack_escape)?, "Hi &lt;!channel&gt;");
/// assert!(matches!(render_text("text", "{{ oops", &ctx, slack_escape), Err(PluginError::InvalidConfig(_))));
/// # Ok::<(), PluginError>(())
/// ```
pub fn render_text(
    field: &str,
    source: &str,
    ctx: &Value,
    escape: Escape,
) -> Result<String, PluginError> {
    environment(false, escape)
        .render_str(source, ctx)
        .map_err(|e| template_error(field, &e))
}

/// Renders the JSON template in config field `field` and parses the result.
///
/// ```
/// use hookmesh_sdk::template::{context, no_escape, render_json};
/// use hookmesh_sdk::{serde_json::json, testing::event};
/// let ctx = context(&event("a.b").payload(json!({"note": "say \"hi\"", "n": 3})).build())?;
/// let blocks = render_json("blocks", r#"[{"text": "{{ payload.note }}", "n": {{ payload.n }}}]"#, &ctx, no_escape)?;
/// assert_eq!(blocks, json!([{"text": "say \"hi\"", "n": 3}]));
/// # Ok::<(), hookmesh_sdk::PluginError>(())
/// ```
pub fn render_json(
    field: &str,
    source: &str,
    ctx: &Value,
    escape: Escape,
) -> Result<serde_json::Value, PluginError> {
    let text = environment(true, escape)
        .render_str(source, ctx)
        .map_err(|e| template_error(field, &e))?;
    serde_json::from_str(&text).map_err(|e| {
        PluginError::InvalidEvent(format!(
            "`{field}` did not render to valid JSON ({e}); rendered: {}",
            excerpt(&text)
        ))
    })
}

/// Renders config field `field` keeping the value's type when the source
/// is a single `{{ expression }}` (see the module doc); `None` when the
/// value is undefined or `none`.
///
/// ```
/// use hookmesh_sdk::template::{context, render_value};
/// use hookmesh_sdk::{serde_json::json, testing::event};
/// let ctx = context(&event("a.b").payload(json!({"amount": 4999})).build())?;
/// assert_eq!(render_value("map.amount", "{{ payload.amount }}", &ctx)?, Some(json!(4999)));
/// assert_eq!(render_value("map.note", "{{ payload.amount }} paise", &ctx)?, Some(json!("4999 paise")));
/// assert_eq!(render_value("map.x", "{{ payload.missing }}", &ctx)?, None);
/// # Ok::<(), hookmesh_sdk::PluginError>(())
/// ```
pub fn render_value(
    field: &str,
    source: &str,
    ctx: &Value,
) -> Result<Option<serde_json::Value>, PluginError> {
    let Some(expression) = single_expression(source) else {
        return render_text(field, source, ctx, no_escape).map(|t| Some(t.into()));
    };
    let env = environment(false, no_escape);
    let value = env
        .compile_expression(expression)
        .and_then(|e| e.eval(ctx))
        .map_err(|e| template_error(field, &e))?;
    if value.is_undefined() || value.is_none() {
        return Ok(None);
    }
    serde_json::to_value(&value).map(Some).map_err(|e| {
        PluginError::InvalidEvent(format!("`{field}` rendered a value that is not JSON: {e}"))
    })
}

/// `expr` of a source that is exactly `{{ expr }}` (with no other tags).
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    let nested = ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|t| inner.contains(t));
    (!nested && !inner.trim().is_empty()).then_some(inner)
}

fn environment(json: bool, escape: Escape) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_formatter(move |out, state, value| format_value(out, state, value, json, escape));
    env
}

/// How `{{ value }}` is written (see the module doc).
fn format_value(
    out: &mut Output,
    _state: &State,
    value: &Value,
    json: bool,
    escape: Escape,
) -> Result<(), Error> {
    let write_err = |_| Error::new(ErrorKind::WriteFailure, "cannot write template output");
    if value.is_safe() {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(write_err);
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(()),
        ValueKind::Number => write!(out, "{value}").map_err(write_err),
        ValueKind::Bool if json => {
            let b = value.is_true();
            out.write_str(if b { "true" } else { "false" })
                .map_err(write_err)
        }
        ValueKind::String if json => {
            let escaped = escape(value.as_str().unwrap_or_default());
            let quoted = serde_json::to_string(escaped.as_ref())
                .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            let inner = &quoted[1..quoted.len() - 1];
            out.write_str(inner).map_err(write_err)
        }
        ValueKind::String => out
            .write_str(&escape(value.as_str().unwrap_or_default()))
            .map_err(write_err),
        _ if json => {
            let encoded = serde_json::to_string(value)
                .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            out.write_str(&escape(&encoded)).map_err(write_err)
        }
        _ => out
            .write_str(&escape(&value.to_string()))
            .map_err(write_err),
    }
}

fn template_error(field: &str, error: &Error) -> PluginError {
    if error.kind() == ErrorKind::SyntaxError {
        PluginError::InvalidConfig(format!("`{field}` is not a valid template: {error}"))
    } else {
        PluginError::InvalidEvent(format!(
            "`{field}` cannot be rendered for this event: {error}"
        ))
    }
}

/// The first characters of `text`, for error messages.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &str) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: "order.created".into(),
            resource: Some("order".into()),
            resource_id: None,
            payload: payload.as_bytes().to_vec(),
            time_created_ms: 1_700_000_000_000,
        }
    }

    fn angle(s: &str) -> Cow<'_, str> {
        Cow::Owned(s.replace('<', "&lt;"))
    }

    #[test]
    fn text_sees_the_whole_context() {
        let ctx = context(&event(
            r#"{"order_id": 42, "total_cents": 4999, "currency": "eur"}"#,
        ))
        .unwrap();
        let text = render_text(
            "text",
            "{{ event }} {{ id }} {{ resource }}{{ resource_id }}: order {{ payload.order_id }} — \
             {{ payload.total_cents / 100 }} {{ payload.currency | upper }} at {{ time_created }}",
            &ctx,
            no_escape,
        )
        .unwrap();
        assert_eq!(
            text,
            "order.created evt_1 order: order 42 — 49.99 EUR at 1700000000000"
        );
    }

    #[test]
    fn missing_values_are_empty_and_strings_are_escaped() {
        let ctx = context(&event(r#"{"who": "<!channel>", "n": null}"#)).unwrap();
        let text = render_text(
            "text",
            "[{{ payload.a.b }}|{{ payload.n }}] {{ payload.who }} {{ payload.who | safe }}",
            &ctx,
            angle,
        )
        .unwrap();
        assert_eq!(text, "[|] &lt;!channel> <!channel>");
    }

    #[test]
    fn json_templates_escape_strings_and_keep_types() {
        let ctx = context(&event(
            r#"{"note": "say \"hi\"\n", "n": 3, "ok": true, "tags": ["a"]}"#,
        ))
        .unwrap();
        let value = render_json(
            "blocks",
            r#"{"t": "Note: {{ payload.note }}", "n": {{ payload.n }}, "ok": {{ payload.ok }},
                "tags": {{ payload.tags }}, "j": {{ payload.note | tojson }}}"#,
            &ctx,
            no_escape,
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"t": "Note: say \"hi\"\n", "n": 3, "ok": true,
                "tags": ["a"], "j": "say \"hi\"\n"})
        );
    }

    #[test]
    fn single_expressions_keep_their_type() {
        let ctx = context(&event(
            r#"{"amount": 4999, "total": 49.99, "customer": {"name": "A"}, "ok": true}"#,
        ))
        .unwrap();
        let value = |source: &str| render_value("map.x", source, &ctx).unwrap();
        assert_eq!(value("{{ payload.amount }}"), Some(4999.into()));
        assert_eq!(value(" {{- payload.amount * 2 -}} "), Some(9998.into()));
        assert_eq!(
            value("{{ (payload.total * 100) | round | int }}"),
            Some(4999.into())
        );
        assert_eq!(
            value("{{ payload.customer }}"),
            Some(serde_json::json!({"name": "A"}))
        );
        assert_eq!(value("{{ payload.ok }}"), Some(true.into()));
        assert_eq!(value("{{ payload.missing }}"), None);
        assert_eq!(
            value("{{ payload.amount }} paise"),
            Some("4999 paise".into())
        );
        assert_eq!(value("{{ 1 }}{{ 2 }}"), Some("12".into()));
        assert_eq!(value("INR"), Some("INR".into()));
    }

    #[test]
    fn errors_name_the_field() {
        let ctx = context(&event("{}")).unwrap();
        match render_text("text", "{{ oops", &ctx, no_escape) {
            Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`text`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match render_json("blocks", "[{{ payload.x }}", &ctx, no_escape) {
            Err(PluginError::InvalidEvent(m)) => assert!(m.contains("`blocks`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match render_value("map.amount", "{{ payload.x + }}", &ctx) {
            Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`map.amount`"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            render_text("text", "{{ payload.x / 0 }}", &ctx, no_escape),
            Err(PluginError::InvalidEvent(_))
        ));
        let bad = Event {
            payload: b"{nope".to_vec(),
            ..event("{}")
        };
        assert!(matches!(context(&bad), Err(PluginError::InvalidEvent(_))));
    }
}
