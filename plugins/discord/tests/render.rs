//! Discord rendering: templates, defaults, mentions and every message limit.

use hookmesh_plugin_discord::Discord;
use hookmesh_sdk::testing::{context, event as test_event};
use hookmesh_sdk::{Context, Event, HttpRequest, Plugin, PluginError};
use serde_json::{json, Value};

const HOOK: &str = "https://discord.com/api/webhooks/123/abc";

fn event(payload: Value) -> Event {
    test_event("order.created")
        .id("evt_1")
        .resource("order", "ord_7")
        .payload(payload)
        .created_at(1)
        .build()
}

fn ctx(config: &[(&str, &str)]) -> Context {
    context()
        .now_ms(2)
        .delivery_id("dlv_1")
        .endpoint(HOOK)
        .configs(config)
        .build()
}

fn render(payload: Value, config: &[(&str, &str)]) -> Result<Vec<HttpRequest>, PluginError> {
    <Discord as Plugin>::render(event(payload), ctx(config))
}

fn body(payload: Value, config: &[(&str, &str)]) -> Value {
    let requests = render(payload, config).expect("render");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url, HOOK);
    serde_json::from_slice(&requests[0].body).expect("JSON body")
}

/// The render error for a message; panics unless it is an event error.
fn limit_error(payload: Value, config: &[(&str, &str)]) -> String {
    match render(payload, config) {
        Err(PluginError::InvalidEvent(message)) => message,
        other => panic!("expected an invalid-event error, got {other:?}"),
    }
}

/// An embeds template of one embed with the members `inner`.
fn one_embed(inner: &str) -> String {
    format!("[{{{inner}}}]")
}

#[test]
fn content_and_embeds_render_from_templates() {
    let embeds = r#"[{"title": "Order {{ payload.id }}", "color": 5814783,
        "fields": [{% for item in payload.items %}{% if not loop.first %},{% endif %}
            {"name": "{{ item.name }}", "value": "{{ item.qty }} × {{ item.price }}", "inline": true}{% endfor %}]}]"#;
    let sent = body(
        json!({"id": "A-1", "items": [{"name": "Tea \"green\"", "qty": 2, "price": 3.5}]}),
        &[
            ("content", "New order **{{ payload.id }}** @everyone"),
            ("embeds", embeds),
            ("username", "Shop {{ resource }}"),
            ("avatar_url", "https://example.com/a.png"),
        ],
    );
    assert_eq!(
        sent,
        json!({
            "content": "New order **A-1** @everyone",
            "embeds": [{"title": "Order A-1", "color": 5814783,
                "fields": [{"name": "Tea \"green\"", "value": "2 × 3.5", "inline": true}]}],
            "username": "Shop order",
            "avatar_url": "https://example.com/a.png",
            "allowed_mentions": {"parse": []},
        })
    );
}

#[test]
fn default_content_names_the_event() {
    let sent = body(json!({}), &[]);
    assert_eq!(sent["content"], "`order.created` event evt_1 (order ord_7)");
}

#[test]
fn allowed_mentions_are_opt_in() {
    let sent = body(json!({}), &[("allowed_mentions", "users, roles")]);
    assert_eq!(
        sent["allowed_mentions"],
        json!({"parse": ["users", "roles"]})
    );
    match render(json!({}), &[("allowed_mentions", "here")]) {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`allowed_mentions`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_single_embed_object_is_accepted() {
    let sent = body(json!({}), &[("embeds", r#"{"description": "hi"}"#)]);
    assert_eq!(sent["embeds"], json!([{"description": "hi"}]));
    assert!(sent.get("content").is_none());
}

#[test]
fn empty_messages_are_refused() {
    let m = limit_error(json!({}), &[("content", "{{ payload.missing }}")]);
    assert!(m.contains("the message is empty"), "{m}");
    let m = limit_error(json!({}), &[("embeds", "[]")]);
    assert!(m.contains("the message is empty"), "{m}");
}

#[test]
fn content_limit() {
    let config = [("content", "{{ payload.s }}")];
    body(json!({"s": "é".repeat(2000)}), &config);
    let m = limit_error(json!({"s": "é".repeat(2001)}), &config);
    assert_eq!(
        m,
        "discord message: content too long: 2001 characters, limit is 2000"
    );
}

#[test]
fn embed_count_limit() {
    let ten = format!("[{}]", [r#"{"title": "t"}"#; 10].join(","));
    body(json!({}), &[("embeds", &ten)]);
    let eleven = format!("[{}]", [r#"{"title": "t"}"#; 11].join(","));
    let m = limit_error(json!({}), &[("embeds", &eleven)]);
    assert_eq!(m, "discord message: too many embeds: 11, limit is 10");
}

#[test]
fn embed_text_limits() {
    let cases = [
        (r#""title": "{{ payload.s }}""#, 256, "embeds[0].title"),
        (
            r#""description": "{{ payload.s }}""#,
            4096,
            "embeds[0].description",
        ),
        (
            r#""footer": {"text": "{{ payload.s }}"}"#,
            2048,
            "embeds[0].footer.text",
        ),
        (
            r#""author": {"name": "{{ payload.s }}"}"#,
            256,
            "embeds[0].author.name",
        ),
        (
            r#""fields": [{"name": "{{ payload.s }}", "value": "v"}]"#,
            256,
            "embeds[0].fields[0].name",
        ),
        (
            r#""fields": [{"name": "n", "value": "{{ payload.s }}"}]"#,
            1024,
            "embeds[0].fields[0].value",
        ),
    ];
    for (inner, max, path) in cases {
        let embeds = one_embed(inner);
        body(json!({"s": "x".repeat(max)}), &[("embeds", &embeds)]);
        let m = limit_error(json!({"s": "x".repeat(max + 1)}), &[("embeds", &embeds)]);
        assert_eq!(
            m,
            format!(
                "discord message: {path} too long: {} characters, limit is {max}",
                max + 1
            )
        );
    }
}

#[test]
fn field_count_limit() {
    let fields = |n: usize| vec![r#"{"name": "n", "value": "v"}"#; n].join(",");
    body(
        json!({}),
        &[(
            "embeds",
            &one_embed(&format!(r#""fields": [{}]"#, fields(25))),
        )],
    );
    let m = limit_error(
        json!({}),
        &[(
            "embeds",
            &one_embed(&format!(r#""fields": [{}]"#, fields(26))),
        )],
    );
    assert_eq!(
        m,
        "discord message: embeds[0] has too many fields: 26, limit is 25"
    );
}

#[test]
fn total_embed_characters_limit() {
    // Two embeds of 3,000 description characters fit; one more character does not.
    let embeds = r#"[{"description": "{{ payload.a }}"}, {"description": "{{ payload.b }}", "title": "{{ payload.t }}"}]"#;
    body(
        json!({"a": "x".repeat(3000), "b": "y".repeat(3000), "t": ""}),
        &[("embeds", embeds)],
    );
    let m = limit_error(
        json!({"a": "x".repeat(3000), "b": "y".repeat(3000), "t": "!"}),
        &[("embeds", embeds)],
    );
    assert_eq!(
        m,
        "discord message: embeds too long: 6001 characters in all, limit is 6000"
    );
}

#[test]
fn malformed_embeds_are_clear_errors() {
    for (embeds, expected) in [
        (r#""just text""#, "`embeds` must render to a JSON array"),
        (r#"[1]"#, "embeds[0] is not a JSON object"),
        (r#"[{"title": 5}]"#, "embeds[0].title is not a string"),
        (r#"[{"fields": {}}]"#, "embeds[0].fields is not an array"),
        (
            r#"[{"fields": [{"name": "n", "value": ""}]}]"#,
            "embeds[0].fields[0].value is empty",
        ),
        (
            r#"[{"title": "{{ payload.x }}"#,
            "did not render to valid JSON",
        ),
    ] {
        let m = limit_error(json!({}), &[("embeds", embeds)]);
        assert!(m.contains(expected), "{embeds}: {m}");
    }
}

#[test]
fn username_limits() {
    let m = limit_error(json!({}), &[("username", &"u".repeat(81))]);
    assert_eq!(
        m,
        "discord message: username too long: 81 characters, limit is 80"
    );
    let m = limit_error(json!({}), &[("username", "Discord Bot")]);
    assert!(m.contains("may not contain"), "{m}");
}

#[test]
fn template_syntax_errors_are_config_errors() {
    match render(json!({}), &[("content", "{% if %}")]) {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`content`"), "{m}"),
        other => panic!("{other:?}"),
    }
}
