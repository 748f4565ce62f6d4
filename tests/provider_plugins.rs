//! The provider plugins end to end: the real host delivering through the
//! real Slack, Discord and Razorpay wasm plugins to mock provider servers on
//! loopback that answer the way the real ones document.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::receiver::{Receiver, Reply};
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// Slack's incoming webhooks answer `200 ok` in plain text.
fn slack_ok() -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        body: "ok".into(),
    }
}

async fn provider_endpoint(
    host: &Host,
    project: &TestProject,
    provider: &str,
    url: &str,
    events: &[&str],
    config: serde_json::Value,
) -> String {
    let (id, _) = host
        .create_webhook(
            project,
            json!({ "url": url, "events": events, "provider": provider, "config": config }),
        )
        .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_renders_templates_and_a_429_holds_only_its_endpoint() {
    let host = Host::start("slack", HostConfig::default());
    let project = host.create_project("shop").await;
    let slack = Receiver::start(|n, _| {
        if n == 0 {
            Reply {
                status: 429,
                headers: vec![("Retry-After".into(), "2".into())],
                body: "rate_limited".into(),
            }
        } else {
            slack_ok()
        }
    });
    let other = Receiver::ok();
    let template = "New order {{ payload.order_id }} — {{ payload.total_cents // 100 }} {{ payload.currency | upper }}";
    provider_endpoint(
        &host,
        &project,
        "slack",
        &slack.url("/services/T000/B000/XXXX"),
        &["order.paid"],
        json!({ "text": template }),
    )
    .await;
    host.create_webhook(
        &project,
        json!({ "url": other.url("/"), "events": ["order.paid"] }),
    )
    .await;
    for n in 0..3 {
        host.send_event(
            &project,
            "order.paid",
            json!({ "order_id": format!("A-{n}"), "total_cents": 2500, "currency": "inr" }),
        )
        .await;
    }
    let others = other.wait_for(3, LONG).await;
    let messages = slack.wait_for(3, LONG).await;
    let texts: Vec<String> = messages
        .iter()
        .map(|m| m.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "New order A-0 — 25 INR",
            "New order A-1 — 25 INR",
            "New order A-2 — 25 INR"
        ]
    );
    assert_eq!(slack.seen(), 4, "one 429, then three messages");
    let waited = messages[0].at.duration_since(others[0].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "the 429's Retry-After: 2 was honoured ({waited:?} after the other endpoint)"
    );
    assert!(
        others[2].at < messages[0].at,
        "the other endpoint did not wait for Slack's rate limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_limits_retry_after_and_gone_webhooks() {
    let host = Host::start("discord", HostConfig {
        delivery: "retry_schedule = [\"100ms\"]\nmax_attempts = 3\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("guild").await;

    // Limits: a 2,001-character content is refused at render, with the reason logged.
    let sink = Receiver::ok();
    let long = provider_endpoint(
        &host,
        &project,
        "discord",
        &sink.url("/api/webhooks/1/a"),
        &["user.created"],
        json!({ "content": "{{ payload.text }}" }),
    )
    .await;
    host.send_event(
        &project,
        "user.created",
        json!({ "text": "x".repeat(2001) }),
    )
    .await;
    let path = format!(
        "/projects/{}/integrations/webhooks/{long}/deliveries?status=failed",
        project.id
    );
    let failed = host
        .eventually(LONG, || async {
            let (_, page) = host.get(&path, &project.secret_key).await;
            page["data"].as_array().and_then(|d| d.first().cloned())
        })
        .await;
    let reason = failed["last_error"].as_str().unwrap();
    assert!(
        reason.contains("2000") || reason.contains("2,000"),
        "{reason}"
    );
    assert_eq!(sink.seen(), 0, "nothing was sent");

    // 429 with retry_after: 1.5 (seconds, JSON body) is honoured.
    let limited = Receiver::start(|n, _| {
        if n == 0 {
            Reply {
                status: 429,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body:
                    r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#
                        .into(),
            }
        } else {
            Reply::status(204)
        }
    });
    provider_endpoint(
        &host,
        &project,
        "discord",
        &limited.url("/api/webhooks/2/b"),
        &["user.updated"],
        json!({ "content": "updated {{ payload.id }}" }),
    )
    .await;
    let sent = std::time::Instant::now();
    host.send_event(&project, "user.updated", json!({ "id": "u1" }))
        .await;
    let got = limited.wait_for(1, LONG).await;
    assert!(
        got[0].at.duration_since(sent) >= Duration::from_millis(1450),
        "retry_after 1.5 s honoured"
    );
    assert_eq!(got[0].json()["content"], "updated u1");

    // 404: the webhook was deleted; the endpoint is disabled with the reason.
    let deleted = Receiver::start(|_, _| Reply {
        status: 404,
        headers: Vec::new(),
        body: r#"{"message":"Unknown Webhook","code":10015}"#.into(),
    });
    let gone = provider_endpoint(
        &host,
        &project,
        "discord",
        &deleted.url("/api/webhooks/3/c"),
        &["user.deleted"],
        json!({ "content": "bye" }),
    )
    .await;
    host.send_event(&project, "user.deleted", json!({})).await;
    let endpoint = host
        .eventually(LONG, || async {
            let (_, e) = host
                .get(
                    &format!("/projects/{}/integrations/webhooks/{gone}", project.id),
                    &project.secret_key,
                )
                .await;
            (e["active"] == false).then_some(e)
        })
        .await;
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{endpoint}"
    );
    assert_eq!(deleted.seen(), 1, "a deleted webhook is not retried");
}

fn razorpay_signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn razorpay_inbound_webhooks_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "rzp_webhook_s3cret";
    let host = Host::start("razorpay", HostConfig::default());
    let project = host.create_project("store").await;
    let base = format!("/projects/{}/integrations/providers/razorpay", project.id);
    let (status, configured) = host
        .call(
            reqwest::Method::PUT,
            &base,
            Some(&project.secret_key),
            Some(&json!({ "config": { "webhook_secret": SECRET } })),
        )
        .await;
    assert_eq!(status, 200, "{configured}");
    assert_eq!(
        configured["config"]["webhook_secret"], "********",
        "secrets are masked"
    );

    let (status, refused) = host
        .post(
            &format!("/projects/{}/integrations/webhooks", project.id),
            &project.secret_key,
            json!({ "url": "http://127.0.0.1:9/x", "events": ["order.paid"], "provider": "razorpay", "config": { "key_secret": "plain" } }),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["field"], "config.key_secret");

    let finance = Receiver::ok();
    host.create_webhook(
        &project,
        json!({ "url": finance.url("/payments"), "events": ["razorpay.payment.captured"] }),
    )
    .await;

    let body = serde_json::to_vec(&json!({
        "entity": "event", "account_id": "acc_BFQ7uQEaa7j2z7", "event": "payment.captured",
        "contains": ["payment"], "created_at": 1_700_000_000,
        "payload": { "payment": { "entity": { "id": "pay_29QQoUBi66xm2f", "amount": 50000, "currency": "INR", "status": "captured" } } },
    }))
    .unwrap();
    let inbound = format!("/inbound/{}/razorpay", project.id);
    let send = |body: Vec<u8>, signature: Option<String>, event_id: &'static str| {
        let mut request = host
            .http
            .post(host.url(&inbound))
            .header("content-type", "application/json")
            .header("x-razorpay-event-id", event_id)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Razorpay-Signature", signature);
        }
        request.send()
    };

    let ok = send(
        body.clone(),
        Some(razorpay_signature(SECRET, &body)),
        "evt_rzp_1",
    )
    .await
    .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let got = finance.wait_for(1, LONG).await;
    let delivered = got[0].json();
    assert_eq!(delivered["event"], "razorpay.payment.captured");
    assert_eq!(delivered["resource"], "payment");
    assert_eq!(delivered["resource_id"], "pay_29QQoUBi66xm2f");

    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'5').unwrap();
    tampered[at] = b'9';
    for (case, body, signature) in [
        (
            "tampered body",
            tampered,
            Some(razorpay_signature(SECRET, &body)),
        ),
        (
            "wrong secret",
            body.clone(),
            Some(razorpay_signature("not-the-secret", &body)),
        ),
        ("missing header", body.clone(), None),
    ] {
        let response = send(body, signature, "evt_rzp_2").await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{case}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"], "unauthorized", "{case}: {error}");
    }

    let again = send(
        body.clone(),
        Some(razorpay_signature(SECRET, &body)),
        "evt_rzp_1",
    )
    .await
    .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["duplicates"], 1, "{again}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        finance.count(),
        1,
        "a repeated Razorpay event id is routed once"
    );

    let (_, toggled) = host
        .post(
            &format!("{base}/toggle"),
            &project.secret_key,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(toggled["enabled"], false);
    let off = send(
        body.clone(),
        Some(razorpay_signature(SECRET, &body)),
        "evt_rzp_3",
    )
    .await
    .unwrap();
    assert_eq!(
        off.status().as_u16(),
        404,
        "inbound refused while the provider is off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_from_the_template_loads_and_delivers() {
    // A third party's plugins dir: the template plugin beside the webhook plugin.
    let dir = std::env::temp_dir().join(format!("hookmesh-it-thirdparty-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(common::plugin("webhook"), dir.join("webhook.wasm")).unwrap();
    std::fs::copy(
        common::example_plugin("template"),
        dir.join("template.wasm"),
    )
    .unwrap();
    let host = Host::start(
        "template",
        HostConfig {
            plugins: Some(dir.clone()),
            ..HostConfig::default()
        },
    );
    let project = host.create_project("acme").await;

    let (_, providers) = host
        .get(
            &format!("/projects/{}/integrations/providers", project.id),
            &project.secret_key,
        )
        .await;
    let template = providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "template")
        .cloned()
        .unwrap();
    assert_eq!(template["missing_required"], json!(["token"]), "{template}");
    let (status, configured) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/{}/integrations/providers/template", project.id),
            Some(&project.secret_key),
            Some(&json!({ "config": { "token": "t0ken-from-the-vault" } })),
        )
        .await;
    assert_eq!(status, 200, "{configured}");
    assert_eq!(configured["status"], "enabled");

    let receiver = Receiver::ok();
    provider_endpoint(
        &host,
        &project,
        "template",
        &receiver.url("/in"),
        &["user.created"],
        json!({}),
    )
    .await;
    host.send_event(&project, "user.created", json!({ "id": "usr_1" }))
        .await;
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer t0ken-from-the-vault")
    );
    assert_eq!(got[0].json()["payload"]["id"], "usr_1");
    std::fs::remove_dir_all(&dir).ok();
}

/// Slack's request signature (`v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`);
/// also used by the portal's provider test.
pub(crate) fn slack_signature(secret: &str, timestamp: u64, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!(
        "v0={}",
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_inbound_requests_and_failure_alerts_to_slack() {
    const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let host = Host::start("slack-inbound", HostConfig {
        delivery: "retry_schedule = [\"50ms\"]\nmax_attempts = 2\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("ops").await;
    let (status, _) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/{}/integrations/providers/slack", project.id),
            Some(&project.secret_key),
            Some(&json!({ "config": { "signing_secret": SIGNING_SECRET } })),
        )
        .await;
    assert_eq!(status, 200);
    let inbound = format!("/inbound/{}/slack", project.id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let post = |body: String, timestamp: u64, signature: String| {
        host.http
            .post(host.url(&inbound))
            .header("content-type", "application/json")
            .header("X-Slack-Request-Timestamp", timestamp.to_string())
            .header("X-Slack-Signature", signature)
            .body(body)
            .send()
    };

    // Slack's url_verification handshake is answered with the challenge.
    let challenge = r#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let answer = post(
        challenge.into(),
        now,
        slack_signature(SIGNING_SECRET, now, challenge),
    )
    .await
    .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
    // A tampered body and a stale timestamp are refused.
    let stale = now - 600;
    assert_eq!(
        post(
            challenge.into(),
            stale,
            slack_signature(SIGNING_SECRET, stale, challenge)
        )
        .await
        .unwrap()
        .status()
        .as_u16(),
        401
    );
    assert_eq!(
        post(
            challenge.replace("x", "y"),
            now,
            slack_signature(SIGNING_SECRET, now, challenge)
        )
        .await
        .unwrap()
        .status()
        .as_u16(),
        401
    );

    // Failure alerts: a dead endpoint's exhausted delivery reaches the project's Slack channel.
    let slack = Receiver::start(|_, _| slack_ok());
    provider_endpoint(&host, &project, "slack", &slack.url("/services/T/B/X"), &["delivery.exhausted"], json!({ "text": ":rotating_light: {{ payload.endpoint_id }} gave up: {{ payload.reason }}" })).await;
    let dead = Receiver::start(|_, _| Reply::status(500));
    let (dead_id, _) = host
        .create_webhook(
            &project,
            json!({ "url": dead.url("/"), "events": ["user.*"] }),
        )
        .await;
    host.send_event(&project, "user.created", json!({})).await;
    let alert = slack.wait_for(1, LONG).await;
    let text = alert[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with(&format!(":rotating_light: {dead_id} gave up:")),
        "{text}"
    );
    assert!(text.contains("gave up after 2 attempts"), "{text}");
}
