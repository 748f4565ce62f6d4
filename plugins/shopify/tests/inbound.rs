//! Shopify inbound: Shopify's algorithm (base64 HMAC-SHA256 of the raw
//! body, computed with Python's `hmac` as Shopify documents), topics,
//! webhook ids and refusals.

use hookmesh_plugin_shopify::Shopify;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

const SECRET: &str = "shpss_app_s3cret";
const BODY: &str = r#"{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}"#;
/// `base64.b64encode(hmac.new(SECRET, BODY, hashlib.sha256).digest())` in Python.
const SIGNATURE: &str = "fSlfBCvhRSmgoS0G76jszxysYXUaq7PPHhPVF+qTBaw=";

fn ctx(secret: &str) -> Context {
    context()
        .delivery_id("in_1")
        .config("webhook_secret", secret)
        .build()
}

fn request(body: &str, headers: &[(&str, &str)]) -> InboundRequest {
    inbound().headers(headers).body(body).build()
}

fn webhook(body: &str, signature: &str) -> InboundRequest {
    request(
        body,
        &[
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Hmac-Sha256", signature),
            ("X-Shopify-Shop-Domain", "example.myshopify.com"),
            (
                "X-Shopify-Webhook-Id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            ),
        ],
    )
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <Shopify as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn a_signed_order_verifies_and_normalizes() {
    let result = verify(webhook(BODY, SIGNATURE), ctx(SECRET)).unwrap();
    let event = &result.events[0];
    assert_eq!(event.event_type, "shopify.orders.create");
    assert_eq!(
        event.dedupe_id.as_deref(),
        Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    );
    assert_eq!(event.resource.as_deref(), Some("orders"));
    assert_eq!(event.resource_id.as_deref(), Some("820982911946154508"));
    assert_eq!(event.payload, BODY.as_bytes());
}

#[test]
fn tampered_wrong_secret_and_missing_signatures_are_refused() {
    assert_eq!(
        unauthorized(verify(
            webhook(&BODY.replace("403.00", "0.01"), SIGNATURE),
            ctx(SECRET)
        )),
        "X-Shopify-Hmac-Sha256 does not match the body under `webhook_secret`"
    );
    unauthorized(verify(webhook(BODY, SIGNATURE), ctx("shpss_other")));
    unauthorized(verify(webhook(BODY, "not base64!"), ctx(SECRET)));
    let mut unsigned = webhook(BODY, SIGNATURE);
    unsigned
        .headers
        .retain(|h| h.name != "X-Shopify-Hmac-Sha256");
    assert_eq!(
        unauthorized(verify(unsigned, ctx(SECRET))),
        "missing X-Shopify-Hmac-Sha256 header"
    );
}

#[test]
fn a_signed_webhook_without_a_topic_or_json_is_an_event_error() {
    let no_topic = request(BODY, &[("X-Shopify-Hmac-Sha256", SIGNATURE)]);
    match verify(no_topic, ctx(SECRET)) {
        Err(PluginError::InvalidEvent(m)) => assert_eq!(m, "missing X-Shopify-Topic header"),
        other => panic!("{other:?}"),
    }
    use hookmesh_sdk::signing::hmac_sha256;
    let text = "not json";
    let mac = hmac_sha256(SECRET.as_bytes(), &[text.as_bytes()]);
    let signature = base64_encode(&mac);
    assert!(matches!(
        verify(webhook(text, &signature), ctx(SECRET)),
        Err(PluginError::InvalidEvent(_))
    ));
}

/// Standard base64 with padding (the test's own, to stay off the SDK's).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
