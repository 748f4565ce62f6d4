//! The webhook plugin natively: signatures per receiver config, secrets of
//! any form, and which statuses count as delivered.

#![allow(clippy::unwrap_used)]

use hookmesh_plugin_webhook::Webhook;
use hookmesh_sdk::signing::{hex_hmac_sha256, standard_webhooks_form, verify_standard_webhooks};
use hookmesh_sdk::testing::{context, event as test_event, request_header as header, response};
use hookmesh_sdk::{Context, Event, HttpRequest, HttpResponse, Outcome, Plugin, PluginError};

fn event() -> Event {
    test_event("user.signup")
        .id("evt_1")
        .resource("user", "usr_2048")
        .payload_bytes(br#"{"plan":"pro"}"#)
        .created_at(1_774_137_600_000)
        .build()
}

fn ctx(secrets: &[&str], config: &[(&str, &str)]) -> Context {
    let ctx = context()
        .now_ms(1_774_137_600_500)
        .delivery_id("dlv_1")
        .endpoint("https://customer.example/hooks");
    secrets
        .iter()
        .fold(ctx, |ctx, secret| ctx.secret(secret))
        .configs(config)
        .build()
}

fn render(secrets: &[&str], config: &[(&str, &str)]) -> HttpRequest {
    Webhook::render(event(), ctx(secrets, config))
        .unwrap()
        .remove(0)
}

#[test]
fn a_brought_secret_signs_both_ways() {
    let secret = "whsec_your_signing_secret";
    let request = render(&[secret], &[]);
    let hex = hex_hmac_sha256(secret.as_bytes(), &request.body);
    assert_eq!(
        header(&request, "x-hookmesh-signature"),
        Some(format!("sha256={hex}").as_str())
    );
    let timestamp: u64 = header(&request, "webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let signature = header(&request, "webhook-signature").unwrap();
    let form = standard_webhooks_form(secret);
    assert!(verify_standard_webhooks(&form, "evt_1", timestamp, &request.body, signature).unwrap());
}

#[test]
fn the_body_signature_follows_the_receiver_config() {
    let secret = "my-own-signing-secret-0001";
    let new = "another-signing-secret-0002";
    let request = render(
        &[new, secret],
        &[
            ("signature_header", "X-Event-Signature"),
            ("signature_format", "hex"),
        ],
    );
    assert_eq!(header(&request, "x-hookmesh-signature"), None);
    assert_eq!(
        header(&request, "X-Event-Signature"),
        Some(hex_hmac_sha256(new.as_bytes(), &request.body).as_str())
    );
    assert_eq!(
        header(&request, "X-Event-Signature-previous"),
        Some(hex_hmac_sha256(secret.as_bytes(), &request.body).as_str())
    );
    let request = render(&[secret], &[("signature_format", "base64")]);
    assert_eq!(header(&request, "x-hookmesh-signature").unwrap().len(), 44);
}

#[test]
fn bad_config_fails_render_naming_the_key() {
    let error = Webhook::render(
        event(),
        ctx(
            &["whsec_your_signing_secret"],
            &[("header.X-A", "a\r\nX-Injected: 1")],
        ),
    )
    .unwrap_err();
    assert!(
        matches!(&error, PluginError::InvalidConfig(m) if m.starts_with("`header.X-A`:")),
        "{error:?}"
    );
}

fn answer(status: u16) -> HttpResponse {
    response(status)
        .header("location", "https://elsewhere.example/")
        .build()
}

#[test]
fn redirects_succeed_only_when_the_endpoint_says_so() {
    let strict = Webhook::classify(answer(302), ctx(&[], &[]));
    assert!(matches!(strict, Outcome::Fail(_)), "{strict:?}");
    let meshes = ctx(&[], &[("success_statuses", "2xx,3xx")]);
    assert!(matches!(
        Webhook::classify(answer(302), meshes.clone()),
        Outcome::Success
    ));
    assert!(matches!(
        Webhook::classify(answer(204), meshes.clone()),
        Outcome::Success
    ));
    assert!(matches!(
        Webhook::classify(answer(404), meshes),
        Outcome::Fail(_)
    ));
}
