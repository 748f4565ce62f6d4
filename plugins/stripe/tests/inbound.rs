//! Stripe inbound: signatures made by Stripe's own Python library, rolled
//! secrets, the timestamp tolerance both ways, and normalization.

use hookmesh_plugin_stripe::inbound::{parse_header, SignatureHeader};
use hookmesh_plugin_stripe::Stripe;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

const SECRET: &str = "whsec_test_s3cret";
const BODY: &str = r#"{"id":"evt_3OdQ9L2eZvKYlo2C0pIu1Z4x","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_3OdQ9L2eZvKYlo2C0yLP2T4x","object":"payment_intent","amount":2000,"currency":"usd"}}}"#;
/// `stripe.WebhookSignature.generate_signature_header(BODY, SECRET, timestamp=1700000000)`
/// (stripe 16.1.0 on PyPI).
const HEADER: &str =
    "t=1700000000,v1=3e04f20fa3d9b82bca2701c39ccca6bfb9dcfff9945121e72d67922364bfa9da";
/// The same, under the secret being rolled to (`whsec_rolled_n3w`).
const ROLLED_V1: &str = "d2122fd6baf0884e308cfe83f04d3ca8f787e2289e7a7f7677f93ab115d1c64a";
const SIGNED_AT_MS: u64 = 1_700_000_000_000;

fn ctx(secret: &str, now_ms: u64, tolerance: Option<&str>) -> Context {
    let ctx = context()
        .now_ms(now_ms)
        .delivery_id("in_1")
        .config("webhook_secret", secret);
    match tolerance {
        Some(t) => ctx.config("tolerance_secs", t).build(),
        None => ctx.build(),
    }
}

fn request(body: &str, header: Option<&str>) -> InboundRequest {
    let headers: Vec<(&str, &str)> = header
        .map(|v| ("stripe-signature", v))
        .into_iter()
        .collect();
    inbound().headers(&headers).body(body).build()
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <Stripe as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn a_header_from_stripes_library_verifies_and_normalizes() {
    let result = verify(
        request(BODY, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS + 5_000, None),
    )
    .unwrap();
    let event = &result.events[0];
    assert_eq!(event.event_type, "stripe.payment_intent.succeeded");
    assert_eq!(
        event.dedupe_id.as_deref(),
        Some("evt_3OdQ9L2eZvKYlo2C0pIu1Z4x")
    );
    assert_eq!(event.resource.as_deref(), Some("payment_intent"));
    assert_eq!(
        event.resource_id.as_deref(),
        Some("pi_3OdQ9L2eZvKYlo2C0yLP2T4x")
    );
    assert_eq!(event.payload, BODY.as_bytes());
}

#[test]
fn any_v1_may_match_while_a_secret_rolls() {
    let both = format!("{HEADER},v1={ROLLED_V1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39");
    for secret in [SECRET, "whsec_rolled_n3w"] {
        assert!(
            verify(request(BODY, Some(&both)), ctx(secret, SIGNED_AT_MS, None)).is_ok(),
            "{secret}"
        );
    }
    let message = unauthorized(verify(
        request(BODY, Some(&both)),
        ctx("whsec_other", SIGNED_AT_MS, None),
    ));
    assert_eq!(
        message,
        "Stripe-Signature has no v1 signature matching the body under `webhook_secret`"
    );
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let stale = unauthorized(verify(
        request(BODY, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS + 301_000, None),
    ));
    assert_eq!(
        stale,
        "Stripe-Signature timestamp is 301 s old, beyond the tolerance of 300 s"
    );
    let future = unauthorized(verify(
        request(BODY, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS - 301_000, None),
    ));
    assert!(future.contains("in the future"), "{future}");
    assert!(verify(
        request(BODY, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS + 900_000, Some("1000")),
    )
    .is_ok());
    match verify(
        request(BODY, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS, Some("5 min")),
    ) {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`tolerance_secs`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tampered_bodies_timestamps_and_missing_headers_are_refused() {
    let tampered = BODY.replace("2000", "1");
    unauthorized(verify(
        request(&tampered, Some(HEADER)),
        ctx(SECRET, SIGNED_AT_MS, None),
    ));
    let moved = HEADER.replace("t=1700000000", "t=1700000100");
    unauthorized(verify(
        request(BODY, Some(&moved)),
        ctx(SECRET, SIGNED_AT_MS, None),
    ));
    assert_eq!(
        unauthorized(verify(request(BODY, None), ctx(SECRET, SIGNED_AT_MS, None))),
        "missing Stripe-Signature header"
    );
    for bad in ["v1=abc", "t=1700000000", "t=1700000000,v0=abc", "garbage"] {
        let message = unauthorized(verify(
            request(BODY, Some(bad)),
            ctx(SECRET, SIGNED_AT_MS, None),
        ));
        assert!(
            message.starts_with("Stripe-Signature is unreadable"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn header_parts() {
    assert_eq!(
        parse_header("t=1, v1=aa,v1=bb ,v0=cc").unwrap(),
        SignatureHeader {
            timestamp: "1",
            v1: vec!["aa", "bb"]
        }
    );
}

#[test]
fn signed_but_unreadable_events_are_event_errors() {
    use hookmesh_sdk::signing::hex_hmac_sha256;
    for body in ["not json", r#"{"id":"evt_1"}"#, r#"{"type":"Bad Type"}"#] {
        let v1 = hex_hmac_sha256(SECRET.as_bytes(), format!("1700000000.{body}").as_bytes());
        let header = format!("t=1700000000,v1={v1}");
        match verify(
            request(body, Some(&header)),
            ctx(SECRET, SIGNED_AT_MS, None),
        ) {
            Err(PluginError::InvalidEvent(_)) => {}
            other => panic!("{body}: {other:?}"),
        }
    }
}
