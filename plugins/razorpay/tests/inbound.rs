//! Razorpay inbound: signature checks and normalization.

use hookmesh_plugin_razorpay::Razorpay;
use hookmesh_sdk::signing::hex_hmac_sha256;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

const SECRET: &str = "whsec-razor-Test_123";
const BODY: &str = r#"{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","entity":"payment","amount":100,"currency":"INR","status":"captured","order_id":null,"method":"netbanking","email":"gaurav.kumar@example.com","contact":"+919876543210"}}},"created_at":1567674606}"#;
/// `BODY` signed with `SECRET` by Python's `hmac` module, as Razorpay signs.
const SIGNATURE: &str = "cbc36ce3b301706e43153e6e503c497a307a7c092676d97cc4a02e5f0d243462";

fn ctx(secret: &str) -> Context {
    context()
        .now_ms(1_567_674_607_000)
        .delivery_id("in_1")
        .config("webhook_secret", secret)
        .build()
}

fn request(body: &str, headers: &[(&str, &str)]) -> InboundRequest {
    inbound().headers(headers).body(body).build()
}

fn signed(body: &str) -> InboundRequest {
    let signature = hex_hmac_sha256(SECRET.as_bytes(), body.as_bytes());
    request(body, &[("X-Razorpay-Signature", &signature)])
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <Razorpay as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn a_signed_webhook_verifies_and_normalizes() {
    let req = request(
        BODY,
        &[
            ("Content-Type", "application/json"),
            ("X-Razorpay-Signature", SIGNATURE),
            ("X-Razorpay-Event-Id", "JXBQtMCJwEnXUE"),
        ],
    );
    let result = verify(req, ctx(SECRET)).unwrap();
    assert!(result.reply.is_none());
    assert_eq!(result.events.len(), 1);
    let event = &result.events[0];
    assert_eq!(event.event_type, "razorpay.payment.captured");
    assert_eq!(event.resource.as_deref(), Some("payment"));
    assert_eq!(event.resource_id.as_deref(), Some("pay_DESlfW9H8K9uqM"));
    assert_eq!(event.dedupe_id.as_deref(), Some("JXBQtMCJwEnXUE"));
    assert_eq!(
        event.payload,
        BODY.as_bytes(),
        "the whole envelope, as sent"
    );
}

#[test]
fn upper_case_signatures_verify() {
    let req = request(BODY, &[("x-razorpay-signature", &SIGNATURE.to_uppercase())]);
    assert!(verify(req, ctx(SECRET)).is_ok());
}

#[test]
fn tampered_body_is_rejected() {
    let tampered = BODY.replace("\"amount\":100", "\"amount\":100000");
    let msg = unauthorized(verify(
        request(&tampered, &[("X-Razorpay-Signature", SIGNATURE)]),
        ctx(SECRET),
    ));
    assert_eq!(
        msg,
        "X-Razorpay-Signature does not match the body under `webhook_secret`"
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let msg = unauthorized(verify(
        request(BODY, &[("X-Razorpay-Signature", SIGNATURE)]),
        ctx("whsec-razor-Test_124"),
    ));
    assert!(msg.contains("does not match"), "{msg}");
}

#[test]
fn missing_or_garbled_signature_is_rejected() {
    let msg = unauthorized(verify(request(BODY, &[]), ctx(SECRET)));
    assert_eq!(msg, "missing X-Razorpay-Signature header");
    for bad in ["", "sha256=abc", "not hex at all", &SIGNATURE[..10]] {
        unauthorized(verify(
            request(BODY, &[("X-Razorpay-Signature", bad)]),
            ctx(SECRET),
        ));
    }
}

#[test]
fn missing_secret_is_a_config_error() {
    let mut context = ctx(SECRET);
    context.config.clear();
    match verify(signed(BODY), context) {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains("`webhook_secret`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn envelopes_without_contains_or_event_id_still_normalize() {
    let body = r#"{"entity":"event","event":"payment_link.paid","payload":{}}"#;
    let event = &verify(signed(body), ctx(SECRET)).unwrap().events[0];
    assert_eq!(event.event_type, "razorpay.payment_link.paid");
    assert_eq!(
        (event.resource.as_deref(), event.resource_id.as_deref()),
        (None, None)
    );
    assert!(event.dedupe_id.is_none());

    let body = r#"{"event":"order.paid","contains":["payment","order"],"payload":{"payment":{"entity":{"id":"pay_1"}},"order":{"entity":{"id":"order_1"}}}}"#;
    let event = &verify(signed(body), ctx(SECRET)).unwrap().events[0];
    assert_eq!(event.resource_id.as_deref(), Some("pay_1"));
}

#[test]
fn signed_but_malformed_bodies_are_event_errors() {
    for body in [
        "not json",
        "[]",
        r#"{"entity":"event"}"#,
        r#"{"event":"Payment Captured"}"#,
        r#"{"event":"a..b"}"#,
    ] {
        match verify(signed(body), ctx(SECRET)) {
            Err(PluginError::InvalidEvent(_)) => {}
            other => panic!("{body}: {other:?}"),
        }
    }
}
