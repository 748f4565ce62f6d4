//! Inbound sources end to end: GitHub, Stripe, Shopify and the
//! configurable `hmac` source (as named instances), each through
//! `POST /inbound/{p}/{provider}` to a subscribed endpoint.
//!
//! Signatures come from the providers' own code, never ours: GitHub's
//! `@octokit/webhooks-methods` (`sign`, run with `node` from `tests/node`)
//! and its documented vector, Stripe's Python library
//! (`stripe.WebhookSignature.generate_signature_header`), and Shopify's
//! documented algorithm (and the `hmac` source's) with Python's `hmac`.
//! `tests/run.sh` installs `stripe` (pip) and the npm package; a missing
//! tool fails the test with a message saying so.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::receiver::Receiver;
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
/// Long enough for a wrongly routed delivery to have arrived.
const SETTLE: Duration = Duration::from_millis(500);

#[path = "inbound_sources/signers.rs"]
mod signers;

#[path = "inbound_sources/github.rs"]
mod github;
#[path = "inbound_sources/hmac_source.rs"]
mod hmac_source;
#[path = "inbound_sources/limits_and_api.rs"]
mod limits_and_api;
#[path = "inbound_sources/shopify.rs"]
mod shopify;
#[path = "inbound_sources/stripe.rs"]
mod stripe;

// The host side, shared by the modules above.

async fn configure(host: &Host, project: &TestProject, provider: &str, config: Value) -> Value {
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/{}/integrations/providers/{provider}", project.id),
            Some(&project.secret_key),
            Some(&json!({ "config": config })),
        )
        .await;
    assert_eq!(status, 200, "configure {provider}: {body}");
    body
}

async fn subscriber(host: &Host, project: &TestProject, events: &[&str]) -> Receiver {
    let receiver = Receiver::ok();
    host.create_webhook(
        project,
        json!({ "url": receiver.url("/hook"), "events": events }),
    )
    .await;
    receiver
}

/// The answer to one inbound request.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

async fn inbound(
    host: &Host,
    project: &TestProject,
    provider: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = host
        .http
        .post(host.url(&format!("/inbound/{}/{provider}", project.id)))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry_after,
    }
}

/// `401` whose message names `header`.
fn assert_unauthorized(answer: &Answer, header: &str, case: &str) {
    assert_eq!(answer.status, 401, "{case}: {}", answer.body);
    assert_eq!(answer.body["error"], "unauthorized", "{case}");
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message
            .to_ascii_lowercase()
            .contains(&header.to_ascii_lowercase()),
        "{case}: `{message}` should name {header}"
    );
}

/// `200` with one stored (not duplicate) event.
fn assert_stored(answer: &Answer, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    assert_eq!(answer.body["received"], 1, "{case}: {}", answer.body);
    assert_eq!(answer.body["duplicates"], 0, "{case}: {}", answer.body);
}

fn assert_duplicate(answer: &Answer, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    assert_eq!(answer.body["duplicates"], 1, "{case}: {}", answer.body);
}

/// Waits for delivery `n` (1-based) and checks its type and payload.
async fn assert_delivered(receiver: &Receiver, n: usize, event_type: &str, payload: &str) {
    let got = receiver.wait_for(n, LONG).await;
    let envelope = got[n - 1].json();
    assert_eq!(envelope["event"], event_type, "{envelope}");
    let sent: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(
        envelope["payload"], sent,
        "the payload is what the provider sent"
    );
}

fn now_secs() -> u64 {
    common::now_ms() / 1000
}
