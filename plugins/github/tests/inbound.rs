//! GitHub inbound: GitHub's documented signature vector, event types,
//! deduplication ids, form-encoded bodies and refusals.

use hookmesh_plugin_github::inbound::signature_valid;
use hookmesh_plugin_github::Github;
use hookmesh_sdk::signing::hex_hmac_sha256;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

const SECRET: &str = "gh-hook-s3cret";
const ISSUE: &str = r#"{"action":"opened","issue":{"number":1347,"title":"Found a bug"},"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}"#;

fn ctx(secret: &str) -> Context {
    context()
        .delivery_id("in_1")
        .config("webhook_secret", secret)
        .build()
}

fn request(body: &str, headers: &[(&str, &str)]) -> InboundRequest {
    inbound().headers(headers).body(body).build()
}

fn signature(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        hex_hmac_sha256(secret.as_bytes(), body.as_bytes())
    )
}

fn delivery(event: &str, body: &str) -> InboundRequest {
    let sig = signature(SECRET, body);
    request(
        body,
        &[
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("X-Hub-Signature-256", &sig),
        ],
    )
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <Github as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn githubs_documented_vector_verifies() {
    // docs.github.com, "Validating webhook deliveries": testing the signature.
    let secret = "It's a Secret to Everybody";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(signature_valid(secret, b"Hello, World!", expected));
    assert!(signature_valid(
        secret,
        b"Hello, World!",
        &expected.to_uppercase().replace("SHA256=", "sha256=")
    ));
    assert!(!signature_valid(secret, b"Hello, World?", expected));
    assert!(!signature_valid(
        "It's a secret to everybody",
        b"Hello, World!",
        expected
    ));
    assert!(!signature_valid(secret, b"Hello, World!", &expected[7..]));
    assert!(!signature_valid(
        secret,
        b"Hello, World!",
        &expected.replace("sha256=", "sha1=")
    ));
}

#[test]
fn an_issue_event_gets_its_action_repository_and_delivery_id() {
    let result = verify(delivery("issues", ISSUE), ctx(SECRET)).unwrap();
    assert!(result.reply.is_none());
    let event = &result.events[0];
    assert_eq!(event.event_type, "github.issues.opened");
    assert_eq!(
        event.dedupe_id.as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    assert_eq!(event.resource.as_deref(), Some("repository"));
    assert_eq!(event.resource_id.as_deref(), Some("octocat/Hello-World"));
    assert_eq!(
        event.payload,
        ISSUE.as_bytes(),
        "the body, as GitHub sent it"
    );
}

#[test]
fn ping_and_push_have_no_action() {
    let ping = r#"{"zen":"Design for failure.","hook_id":30,"hook":{"type":"Repository"}}"#;
    let event = &verify(delivery("ping", ping), ctx(SECRET)).unwrap().events[0];
    assert_eq!(event.event_type, "github.ping");
    assert_eq!(event.resource, None);
    let push = r#"{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}"#;
    let event = &verify(delivery("push", push), ctx(SECRET)).unwrap().events[0];
    assert_eq!(event.event_type, "github.push");
}

#[test]
fn form_encoded_deliveries_are_verified_on_the_raw_body() {
    let body = "payload=%7B%22zen%22%3A%22Keep+it+logically+awesome.%22%2C%22hook_id%22%3A1%7D";
    let sig = signature(SECRET, body);
    let req = request(
        body,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-github-event", "ping"),
            ("x-hub-signature-256", &sig),
        ],
    );
    let event = &verify(req, ctx(SECRET)).unwrap().events[0];
    assert_eq!(event.event_type, "github.ping");
    assert_eq!(
        event.payload,
        br#"{"zen":"Keep it logically awesome.","hook_id":1}"#
    );
    assert_eq!(event.dedupe_id, None);
}

#[test]
fn tampered_wrong_secret_and_missing_signatures_are_refused() {
    let mut tampered = delivery("issues", ISSUE);
    tampered.body = ISSUE.replace("1347", "1348").into_bytes();
    assert_eq!(
        unauthorized(verify(tampered, ctx(SECRET))),
        "X-Hub-Signature-256 does not match the body under `webhook_secret`"
    );
    unauthorized(verify(delivery("issues", ISSUE), ctx("another-secret")));
    let mut unsigned = delivery("issues", ISSUE);
    unsigned
        .headers
        .retain(|h| !h.name.eq_ignore_ascii_case("x-hub-signature-256"));
    assert_eq!(
        unauthorized(verify(unsigned, ctx(SECRET))),
        "missing X-Hub-Signature-256 header"
    );
}

#[test]
fn signed_but_unreadable_deliveries_are_event_errors() {
    let mut no_event = delivery("issues", ISSUE);
    no_event
        .headers
        .retain(|h| !h.name.eq_ignore_ascii_case("x-github-event"));
    for req in [
        no_event,
        delivery("issues", "not json"),
        delivery("Bad Event", "{}"),
        delivery("issues", r#"{"action":"re opened"}"#),
    ] {
        match verify(req, ctx(SECRET)) {
            Err(PluginError::InvalidEvent(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let bad_form = "payload=%7";
    let sig = signature(SECRET, bad_form);
    let req = request(
        bad_form,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-github-event", "ping"),
            ("x-hub-signature-256", &sig),
        ],
    );
    assert!(matches!(
        verify(req, ctx(SECRET)),
        Err(PluginError::InvalidEvent(_))
    ));
}

#[test]
fn a_missing_secret_is_a_config_error() {
    let mut context = ctx(SECRET);
    context.config.clear();
    match verify(delivery("issues", ISSUE), context) {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`webhook_secret`"), "{m}"),
        other => panic!("{other:?}"),
    }
}
