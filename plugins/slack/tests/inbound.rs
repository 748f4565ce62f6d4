//! Slack inbound: the official signing example, rejections, normalization.

use hookmesh_plugin_slack::Slack;
use hookmesh_sdk::signing::hex_hmac_sha256;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

// https://api.slack.com/authentication/verifying-requests-from-slack
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP: u64 = 1_531_420_618;
const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn ctx(secret: &str, now_secs: u64) -> Context {
    context()
        .now_ms(now_secs * 1000 + 250)
        .delivery_id("in_1")
        .config("signing_secret", secret)
        .build()
}

fn request(body: &str, timestamp: &str, signature: &str, content_type: &str) -> InboundRequest {
    inbound()
        .header("Content-Type", content_type)
        .header("X-Slack-Request-Timestamp", timestamp)
        .header("X-Slack-Signature", signature)
        .body(body)
        .build()
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A correctly signed request with `body` at `TIMESTAMP`.
fn signed(body: &str, content_type: &str) -> InboundRequest {
    let base = format!("v0:{TIMESTAMP}:{body}");
    let signature = format!("v0={}", hex_hmac_sha256(SECRET.as_bytes(), base.as_bytes()));
    request(body, &TIMESTAMP.to_string(), &signature, content_type)
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <Slack as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn official_example_verifies_and_becomes_a_command() {
    let req = request(BODY, "1531420618", SIGNATURE, FORM);
    let result = verify(req, ctx(SECRET, TIMESTAMP + 299)).unwrap();
    assert_eq!(result.events.len(), 1);
    let event = &result.events[0];
    assert_eq!(event.event_type, "slack.command");
    assert_eq!(event.resource.as_deref(), Some("/webhook-collect"));
    let trigger = "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    assert_eq!(event.dedupe_id.as_deref(), Some(trigger));
    let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(payload["user_name"], "roadrunner");
    assert_eq!(
        payload["response_url"],
        "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
    );
    assert!(
        payload.get("token").is_none(),
        "the legacy token is dropped"
    );
    let reply = result.reply.unwrap();
    assert_eq!((reply.status, reply.body.len()), (200, 0));
}

#[test]
fn tampered_body_is_rejected() {
    let tampered = BODY.replace("roadrunner", "coyote");
    let msg = unauthorized(verify(
        request(&tampered, "1531420618", SIGNATURE, FORM),
        ctx(SECRET, TIMESTAMP),
    ));
    assert!(msg.contains("does not match"), "{msg}");
}

#[test]
fn wrong_secret_is_rejected() {
    let msg = unauthorized(verify(
        request(BODY, "1531420618", SIGNATURE, FORM),
        ctx("8f742231b10e8888abcd99yyyzzz85a6", TIMESTAMP),
    ));
    assert!(msg.contains("`signing_secret`"), "{msg}");
}

#[test]
fn stale_or_future_timestamps_are_rejected() {
    for now in [TIMESTAMP + 301, TIMESTAMP - 302] {
        let msg = unauthorized(verify(
            request(BODY, "1531420618", SIGNATURE, FORM),
            ctx(SECRET, now),
        ));
        assert!(msg.contains("at most 300 s"), "{msg}");
    }
}

#[test]
fn missing_or_malformed_headers_are_rejected() {
    let mut req = request(BODY, "1531420618", SIGNATURE, FORM);
    req.headers.retain(|h| h.name != "X-Slack-Signature");
    assert!(unauthorized(verify(req, ctx(SECRET, TIMESTAMP))).contains("X-Slack-Signature"));
    let req = request(BODY, "yesterday", SIGNATURE, FORM);
    assert!(unauthorized(verify(req, ctx(SECRET, TIMESTAMP))).contains("Unix time"));
    let req = request(BODY, "1531420618", &SIGNATURE.replace("v0=", "v1="), FORM);
    assert!(unauthorized(verify(req, ctx(SECRET, TIMESTAMP))).contains("v0="));
    let req = request(BODY, "1531420618", "v0=zz", FORM);
    unauthorized(verify(req, ctx(SECRET, TIMESTAMP)));
}

#[test]
fn missing_secret_is_a_config_error() {
    let mut context = ctx(SECRET, TIMESTAMP);
    context.config.clear();
    let err = verify(request(BODY, "1531420618", SIGNATURE, FORM), context).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidConfig(m) if m == "`signing_secret` is required to verify Slack requests"),
        "{err:?}"
    );
}

#[test]
fn url_verification_replies_with_the_challenge() {
    let body = r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let result = verify(signed(body, "application/json"), ctx(SECRET, TIMESTAMP)).unwrap();
    assert!(result.events.is_empty());
    let reply = result.reply.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[test]
fn event_callbacks_become_events() {
    let body = r#"{"token":"t","team_id":"T1","type":"event_callback","event_id":"Ev08MFMKH6",
        "event":{"type":"app_mention","text":"<@U1> hi","channel":"C1"}}"#;
    let result = verify(signed(body, "application/json"), ctx(SECRET, TIMESTAMP)).unwrap();
    assert!(result.reply.is_none());
    let event = &result.events[0];
    assert_eq!(event.event_type, "slack.event_callback");
    assert_eq!(event.resource.as_deref(), Some("app_mention"));
    assert_eq!(event.dedupe_id.as_deref(), Some("Ev08MFMKH6"));
    let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(payload["event"]["text"], "<@U1> hi");
    assert!(payload.get("token").is_none());
}

#[test]
fn interactions_become_events() {
    let body = "payload=%7B%22type%22%3A%22block_actions%22%2C%22token%22%3A%22t%22%2C%22trigger_id%22%3A%2212.34%22%2C%22actions%22%3A%5B%5D%7D";
    let result = verify(signed(body, FORM), ctx(SECRET, TIMESTAMP)).unwrap();
    let event = &result.events[0];
    assert_eq!(event.event_type, "slack.interaction");
    assert_eq!(event.resource.as_deref(), Some("block_actions"));
    assert_eq!(event.dedupe_id.as_deref(), Some("12.34"));
    let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"type": "block_actions", "trigger_id": "12.34", "actions": []})
    );
    assert_eq!(result.reply.unwrap().status, 200);
}

#[test]
fn bad_bodies_are_event_errors_not_panics() {
    for (body, content_type) in [
        ("{nope", "application/json"),
        ("[1]", "application/json"),
        (r#"{"type":"Weird Type"}"#, "application/json"),
        ("payload=%7Bnope", FORM),
        ("team_id=T1", FORM),
        ("", ""),
    ] {
        let err = verify(signed(body, content_type), ctx(SECRET, TIMESTAMP)).unwrap_err();
        assert!(
            matches!(err, PluginError::InvalidEvent(_)),
            "{body}: {err:?}"
        );
    }
    let ssl = verify(signed("ssl_check=1&token=t", FORM), ctx(SECRET, TIMESTAMP)).unwrap();
    assert!(ssl.events.is_empty());
}
