//! Providers as the host sees them: the provider API (list from loaded
//! manifests, configure checked against the manifest, toggle), payload
//! filters on subscriptions, and inbound routing refusals.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig};
use common::receiver::Receiver;
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_api_lists_configures_and_toggles() {
    let host = Host::start("providers", HostConfig::default());
    let project = host.create_project("acme").await;
    let base = format!("/projects/{}/integrations/providers", project.id);

    let (status, list) = host.get(&base, &project.secret_key).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in ["discord", "razorpay", "slack", "webhook"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let webhook = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "webhook")
        .unwrap();
    assert_eq!(webhook["status"], "not_configured");
    assert_eq!(webhook["manifest"]["capabilities"], json!(["outbound"]));

    let (status, err) = host
        .call(
            reqwest::Method::PUT,
            &format!("{base}/webhook"),
            Some(&project.secret_key),
            Some(&json!({ "config": { "colour": "red" } })),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["field"], "config.colour");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a config field of provider `webhook`"),
        "{err}"
    );
    let (status, _) = host
        .call(
            reqwest::Method::PUT,
            &format!("{base}/fax"),
            Some(&project.secret_key),
            Some(&json!({ "config": {} })),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = host
        .post(
            &format!("{base}/webhook/toggle"),
            &project.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "toggling an unconfigured provider");

    let (status, configured) = host
        .call(
            reqwest::Method::PUT,
            &format!("{base}/webhook"),
            Some(&project.secret_key),
            Some(&json!({ "config": { "header.X-Team": "payments" } })),
        )
        .await;
    assert_eq!(status, 200, "{configured}");
    assert_eq!(configured["status"], "enabled");
    assert_eq!(configured["config"]["header.X-Team"], "payments");

    // Project-level settings reach the plugin: the header is sent.
    let receiver = Receiver::ok();
    let (endpoint_id, _) = host
        .create_webhook(
            &project,
            json!({ "url": receiver.url("/"), "events": ["*"] }),
        )
        .await;
    host.send_event(&project, "user.created", json!({ "n": 1 }))
        .await;
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].header("x-team"), Some("payments"));

    // Disabled: deliveries wait, untried, until it is enabled again.
    let (_, toggled) = host
        .post(
            &format!("{base}/webhook/toggle"),
            &project.secret_key,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(toggled["status"], "disabled");
    host.send_event(&project, "user.created", json!({ "n": 2 }))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deliveries = format!(
        "/projects/{}/integrations/webhooks/{endpoint_id}/deliveries?status=pending",
        project.id
    );
    let (_, page) = host.get(&deliveries, &project.secret_key).await;
    assert_eq!(
        page["data"][0]["attempts"], 0,
        "no attempt burnt while the provider is off: {page}"
    );
    assert_eq!(receiver.count(), 1);
    let (_, toggled) = host
        .post(
            &format!("{base}/webhook/toggle"),
            &project.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(toggled["enabled"], true);
    let got = receiver.wait_for(2, LONG).await;
    assert_eq!(got[1].json()["payload"]["n"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_filters_narrow_a_subscription() {
    let host = Host::start("filters", HostConfig::default());
    let project = host.create_project("acme").await;
    let pro = Receiver::ok();
    let all = Receiver::ok();
    host.create_webhook(&project, json!({ "url": pro.url("/"), "events": ["user.*"], "filter": { "payload.plan": "pro", "payload.seats": 3 } }))
        .await;
    host.create_webhook(
        &project,
        json!({ "url": all.url("/"), "events": ["user.*"] }),
    )
    .await;
    for (plan, seats) in [("free", 3), ("pro", 3), ("pro", 4), ("pro", 3)] {
        host.send_event(
            &project,
            "user.created",
            json!({ "plan": plan, "seats": seats }),
        )
        .await;
    }
    all.wait_for(4, LONG).await;
    let got = pro.wait_for(2, LONG).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pro.count(), 2, "only matching events");
    assert!(got
        .iter()
        .all(|r| r.json()["payload"]["plan"] == "pro" && r.json()["payload"]["seats"] == 3));

    let (status, err) = host
        .post(
            &format!("/projects/{}/integrations/webhooks", project.id),
            &project.secret_key,
            json!({ "url": pro.url("/"), "events": ["*"], "filter": { "headers.x": 1 } }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["field"], "filter.headers.x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_needs_an_inbound_provider_enabled_for_the_project() {
    let host = Host::start("inbound-refusals", HostConfig::default());
    let project = host.create_project("acme").await;
    let post = |path: String| host.http.post(host.url(&path)).body("{}").send();
    let status = post(format!("/inbound/{}/webhook", project.id))
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 404, "the webhook plugin has no inbound capability");
    let status = post("/inbound/nope/razorpay".into())
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 404, "unknown project");
    let status = post(format!("/inbound/{}/fax", project.id))
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 404, "unknown provider");
}
