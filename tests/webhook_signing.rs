//! The generic webhook plugin, run as a real wasm component through the
//! plugin host: the envelope it renders and its signatures, checked by an
//! independent Standard Webhooks verifier (the `standardwebhooks` crate,
//! which uses its own HMAC implementation) and a from-scratch hex HMAC.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{context, event, load, now_ms, plugin};
use hmac::{Hmac, Mac};
use hookmesh::plugin::{CallError, HttpRequest, LoadedPlugin, SandboxLimits};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_dGhlIG9sZCBzZWNyZXQgYmVmb3JlIHJvdGF0aW9u";
const URL: &str = "https://hooks.customer.example/hookmesh";

fn webhook() -> LoadedPlugin {
    load(&plugin("webhook"), SandboxLimits::default())
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn header_map(request: &HttpRequest) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for h in &request.headers {
        map.append(
            http::HeaderName::from_bytes(h.name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(&h.value).unwrap(),
        );
    }
    map
}

fn hex_hmac(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn render_one(plugin: &LoadedPlugin, secrets: &[&str], config: &[(&str, &str)]) -> HttpRequest {
    let now = now_ms();
    let mut requests = plugin
        .render(
            &event("evt_2b9x", r#"{"email":"ada@example.com","plan":"pro"}"#),
            &context(URL, secrets, config, now),
        )
        .expect("render");
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

#[test]
fn envelope_is_the_documented_body() {
    let now = now_ms();
    let requests = webhook()
        .render(
            &event("evt_2b9x", r#"{"email":"ada@example.com"}"#),
            &context(URL, &[SECRET], &[], now),
        )
        .unwrap();
    let request = &requests[0];
    assert_eq!(request.url, URL);
    assert_eq!(header(request, "content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "uuid": "evt_2b9x", "event": "user.signup", "resource": "user",
            "resource_id": "usr_2048", "payload": {"email": "ada@example.com"},
            "time_created": 1_774_137_600_000u64, "time_sent": now,
        })
    );
    assert_eq!(header(request, "webhook-id"), Some("evt_2b9x"));
    assert_eq!(
        header(request, "webhook-timestamp"),
        Some((now / 1000).to_string().as_str())
    );
}

#[test]
fn standard_webhooks_signature_verifies_independently() {
    let request = render_one(&webhook(), &[SECRET], &[]);
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    verifier
        .verify(&request.body, &header_map(&request))
        .expect("independent verifier accepts the plugin's signature");

    let mut tampered = request.body.clone();
    tampered[10] ^= 1;
    assert!(verifier.verify(&tampered, &header_map(&request)).is_err());
    let wrong = standardwebhooks::Webhook::new(OLD_SECRET).unwrap();
    assert!(wrong.verify(&request.body, &header_map(&request)).is_err());
}

#[test]
fn hex_signature_is_hmac_of_the_raw_body_keyed_by_the_secret_string() {
    let request = render_one(&webhook(), &[SECRET], &[]);
    let expected = format!("sha256={}", hex_hmac(SECRET.as_bytes(), &request.body));
    assert_eq!(
        header(&request, "x-hookmesh-signature"),
        Some(expected.as_str())
    );
    assert_eq!(header(&request, "x-hookmesh-signature-previous"), None);
}

#[test]
fn during_rotation_both_secrets_sign() {
    let request = render_one(&webhook(), &[SECRET, OLD_SECRET], &[]);
    let signature = header(&request, "webhook-signature").unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    for secret in [SECRET, OLD_SECRET] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&request.body, &header_map(&request))
            .unwrap_or_else(|e| panic!("{secret} does not verify: {e:?}"));
    }
    let previous = format!("sha256={}", hex_hmac(OLD_SECRET.as_bytes(), &request.body));
    assert_eq!(
        header(&request, "x-hookmesh-signature-previous"),
        Some(previous.as_str())
    );
}

#[test]
fn custom_headers_come_from_config() {
    let request = render_one(&webhook(), &[SECRET], &[("header.X-Tenant", "acme")]);
    assert_eq!(header(&request, "x-tenant"), Some("acme"));
}

#[test]
fn bad_config_is_a_clear_plugin_error() {
    let plugin = webhook();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (&[], &[], "endpoint has no signing secret"),
        (
            &[SECRET],
            &[("header.webhook-signature", "forged")],
            "cannot be overridden",
        ),
        (
            &[SECRET],
            &[("header.Bad Name", "x")],
            "not a valid header name",
        ),
        (
            &[SECRET],
            &[("header.X-A", "a\r\nX-Injected: 1")],
            "only visible ASCII",
        ),
    ];
    for (secrets, config, expected) in cases {
        let err = plugin
            .render(
                &event("evt_1", "{}"),
                &context(URL, secrets, config, now_ms()),
            )
            .unwrap_err();
        assert!(matches!(err, CallError::Plugin { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("plugin `webhook`"), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn invalid_payload_is_refused() {
    let err = webhook()
        .render(
            &event("evt_1", "{not json"),
            &context(URL, &[SECRET], &[], now_ms()),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("payload is not valid JSON"),
        "{err}"
    );
}
