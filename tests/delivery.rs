//! The delivery engine end to end on the embedded store: the real binary,
//! the real wasm webhook plugin, real HTTP receivers on loopback.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, ADMIN_TOKEN};
use common::receiver::{Received, Receiver, Reply};
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn verify_standard(secret: &str, request: &Received) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&request.body, &request.header_map())
        .unwrap_or_else(|e| panic!("signature does not verify with {secret}: {e:?}"));
}

fn verify_hex(secret: &str, request: &Received) {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&request.body);
    let expected = format!("sha256={}", hex_lower(&mac.finalize().into_bytes()));
    assert_eq!(
        request.header("x-hookmesh-signature"),
        Some(expected.as_str())
    );
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn numbered(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| json!({ "event": "user.created", "payload": { "n": i } }))
        .collect()
}

fn sequence(received: &[Received]) -> Vec<u64> {
    received
        .iter()
        .map(|r| r.json()["payload"]["n"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_arrive_in_order_and_signed_and_fan_out_per_endpoint() {
    let host = Host::start("order", HostConfig::default());
    let project = host.create_project("acme").await;
    let receivers: Vec<Receiver> = (0..3).map(|_| Receiver::ok()).collect();
    let mut secrets = Vec::new();
    for receiver in &receivers {
        let (_, secret) = host
            .create_webhook(
                &project,
                json!({ "url": receiver.url("/hook"), "events": ["user.*"] }),
            )
            .await;
        secrets.push(secret);
    }
    assert_ne!(secrets[0], secrets[1]);
    host.send_bulk(&project, numbered(0..500)).await;
    for chunk in numbered(500..1000).chunks(100) {
        host.send_bulk(&project, chunk.to_vec()).await;
    }
    for (receiver, secret) in receivers.iter().zip(&secrets) {
        let received = receiver.wait_for(1000, LONG).await;
        assert_eq!(received.len(), 1000, "no duplicates");
        assert_eq!(
            sequence(&received),
            (0..1000).collect::<Vec<u64>>(),
            "ingestion order"
        );
        for request in &received {
            verify_standard(secret, request);
            verify_hex(secret, request);
            assert_eq!(request.json()["event"], "user.created");
        }
        let other = secrets.iter().find(|s| *s != secret).unwrap();
        assert!(standardwebhooks::Webhook::new(other)
            .unwrap()
            .verify(&received[0].body, &received[0].header_map())
            .is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_retries_alone_while_others_flow() {
    let host = Host::start("independence", HostConfig {
        delivery: "retry_schedule = [\"1s\"]\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("acme").await;
    const FAILS: usize = 3;
    let flaky = Receiver::start(|n, _| {
        if n < FAILS {
            Reply::status(503)
        } else {
            Reply::status(200)
        }
    });
    let healthy = Receiver::ok();
    let (flaky_id, _) = host
        .create_webhook(&project, json!({ "url": flaky.url("/"), "events": ["*"] }))
        .await;
    host.create_webhook(
        &project,
        json!({ "url": healthy.url("/"), "events": ["*"] }),
    )
    .await;
    host.send_bulk(&project, numbered(0..20)).await;

    healthy.wait_for(20, LONG).await;
    assert!(
        flaky.count() < 20,
        "the healthy endpoint must not wait for the flaky one's retries"
    );
    let received = flaky.wait_for(20, LONG).await;
    assert_eq!(sequence(&received), (0..20).collect::<Vec<u64>>());
    assert_eq!(flaky.seen(), 20 + FAILS);

    let (status, page) = host
        .get(
            &format!(
                "/projects/{}/integrations/webhooks/{flaky_id}/deliveries?limit=250",
                project.id
            ),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200);
    let first = page["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(first["status"], "succeeded");
    let log = first["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), FAILS + 1, "{first}");
    for attempt in &log[..FAILS] {
        assert_eq!(attempt["status_code"], 503);
        assert_eq!(attempt["outcome"], "retry");
    }
    assert_eq!(log[FAILS]["outcome"], "success");
    let gap = log[1]["started_at"].as_u64().unwrap() - log[0]["started_at"].as_u64().unwrap();
    assert!(gap >= 1000, "retry waited only {gap} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_across_a_kill_9() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved); // receiver down: connections are refused
    let mut host = Host::start_process("kill9", HostConfig {
        delivery: "retry_schedule = [\"300ms\"]\njitter = 0.0\ntimeout = \"2s\"\nconnect_timeout = \"500ms\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("acme").await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let (_, secret) = host
        .create_webhook(&project, json!({ "url": url, "events": ["*"] }))
        .await;
    host.send_bulk(&project, numbered(0..50)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.kill9();

    let receiver = Receiver::start_on(
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
        |_, _| Reply::status(200),
    );
    host.restart();
    let received = receiver.wait_for(50, LONG).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let received_after = receiver.received();
    assert_eq!(received_after.len(), 50, "each event exactly once");
    assert_eq!(sequence(&received), (0..50).collect::<Vec<u64>>());
    for request in &received_after {
        verify_standard(&secret, request);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_signs_with_both_secrets_during_the_grace_window_only() {
    let host = Host::start("rotation", HostConfig::default());
    let project = host.create_project("acme").await;
    let receiver = Receiver::ok();
    let (id, old_secret) = host
        .create_webhook(
            &project,
            json!({ "url": receiver.url("/"), "events": ["*"] }),
        )
        .await;
    let path = format!("/projects/{}/integrations/webhooks/{id}/rotate", project.id);
    let (status, rotated) = host
        .post(&path, &project.secret_key, json!({ "grace": "4s" }))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);

    host.send_event(&project, "user.created", json!({ "n": 0 }))
        .await;
    let during = receiver.wait_for(1, LONG).await.remove(0);
    assert_eq!(
        during
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    verify_standard(&new_secret, &during);
    verify_standard(&old_secret, &during);
    verify_hex(&new_secret, &during);

    tokio::time::sleep(Duration::from_millis(4300)).await;
    host.send_event(&project, "user.created", json!({ "n": 1 }))
        .await;
    let after = receiver.wait_for(2, LONG).await.remove(1);
    assert_eq!(
        after
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    verify_standard(&new_secret, &after);
    assert!(standardwebhooks::Webhook::new(&old_secret)
        .unwrap()
        .verify(&after.body, &after.header_map())
        .is_err());
    assert_eq!(after.header("x-hookmesh-signature-previous"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_and_exhaustion_alerts_the_projects_alert_endpoint() {
    let host = Host::start("exhaust", HostConfig {
        delivery: "retry_schedule = [\"50ms\"]\nmax_attempts = 3\njitter = 0.0\ntimeout = \"2s\"\nconnect_timeout = \"500ms\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("acme").await;
    let broken = Receiver::start(|_, _| Reply::status(500));
    let gone = Receiver::start(|_, _| Reply::status(410));
    let alerts = Receiver::ok();
    let (broken_id, _) = host
        .create_webhook(
            &project,
            json!({ "url": broken.url("/"), "events": ["user.*"] }),
        )
        .await;
    let (gone_id, _) = host
        .create_webhook(
            &project,
            json!({ "url": gone.url("/"), "events": ["user.*"] }),
        )
        .await;
    host.create_webhook(
        &project,
        json!({ "url": alerts.url("/"), "events": ["delivery.exhausted", "endpoint.disabled"] }),
    )
    .await;
    host.send_event(&project, "user.created", json!({ "n": 0 }))
        .await;

    // The 410 endpoint: dead letter + disabled at once; the 500 endpoint:
    // dead letter after max_attempts.
    let got = alerts.wait_for(3, LONG).await;
    let alert = |event: &str, endpoint: &str| {
        got.iter()
            .any(|r| r.json()["event"] == event && r.json()["payload"]["endpoint_id"] == endpoint)
    };
    assert!(
        alert("delivery.exhausted", &broken_id),
        "exhausted alert names the broken endpoint"
    );
    assert!(alert("delivery.exhausted", &gone_id));
    assert!(alert("endpoint.disabled", &gone_id));
    assert_eq!(broken.seen(), 3, "max_attempts");
    assert_eq!(gone.seen(), 1, "410 is not retried");

    let (_, endpoint) = host
        .get(
            &format!("/projects/{}/integrations/webhooks/{gone_id}", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(endpoint["active"], false);
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{endpoint}"
    );

    let path = format!(
        "/projects/{}/integrations/webhooks/{broken_id}/deliveries?status=failed",
        project.id
    );
    let (_, page) = host.get(&path, &project.secret_key).await;
    let dead = &page["data"][0];
    assert_eq!(dead["status"], "failed");
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{dead}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_recover_idempotency_and_test_ping() {
    let host = Host::start("replay", HostConfig {
        delivery: "retry_schedule = [\"50ms\"]\nmax_attempts = 1\njitter = 0.0\ntimeout = \"2s\"\nconnect_timeout = \"500ms\"".into(),
        ..HostConfig::default()
    });
    let project = host.create_project("acme").await;
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = failing.clone();
    let receiver = Receiver::start(move |_, _| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    });
    let (id, _) = host
        .create_webhook(
            &project,
            json!({ "url": receiver.url("/"), "events": ["*"] }),
        )
        .await;

    // Idempotency: the same key twice stores one event.
    let events = format!("/projects/{}/events", project.id);
    let send = |key: &'static str| {
        host.http
            .post(host.url(&events))
            .bearer_auth(&project.secret_key)
            .header("Idempotency-Key", key)
            .json(&json!({ "event": "order.paid", "payload": { "order": 1 } }))
            .send()
    };
    let first: Value = send("order-1").await.unwrap().json().await.unwrap();
    let second: Value = send("order-1").await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);

    let deliveries = format!(
        "/projects/{}/integrations/webhooks/{id}/deliveries",
        project.id
    );
    let failed: Value = host
        .eventually(LONG, || async {
            let (_, page) = host
                .get(&format!("{deliveries}?status=failed"), &project.secret_key)
                .await;
            (page["data"].as_array().unwrap().len() == 1).then(|| page["data"][0].clone())
        })
        .await;
    assert_eq!(receiver.seen(), 1, "max_attempts = 1 and one stored event");

    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let replay = format!("{deliveries}/{}/replay", failed["id"].as_str().unwrap());
    let (status, replayed) = host.post(&replay, &project.secret_key, json!({})).await;
    assert_eq!(status, 202, "{replayed}");
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(
        got[0].json()["uuid"],
        first["id"],
        "replay sends the same event"
    );

    let (status, recovered) = host
        .post(
            &format!(
                "/projects/{}/integrations/webhooks/{id}/recover",
                project.id
            ),
            &project.secret_key,
            json!({ "since": 0 }),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(recovered["replayed"], 1);
    receiver.wait_for(2, LONG).await;

    let (status, ping) = host
        .post(
            &format!("/projects/{}/integrations/webhooks/{id}/test", project.id),
            &project.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ping["ok"], true, "{ping}");
    assert_eq!(ping["status"], 200);
    assert!(ping["duration_ms"].is_u64());
    let pinged = receiver.wait_for(3, LONG).await;
    assert_eq!(pinged[2].json()["event"], "test.ping");

    let _ = ADMIN_TOKEN;
}

/// The delivery path reads the clock it is given, not the wall clock:
/// signatures carry its time, attempts are stamped with it, and a retry
/// an hour away goes out as soon as that clock (not the wall's) has moved
/// an hour.
#[tokio::test]
async fn the_delivery_path_runs_on_the_injected_clock() {
    use hookmesh::clock::ManualClock;
    use std::sync::{Arc, Mutex};
    const HOUR_MS: u64 = 3_600_000;
    // Twelve hours behind the wall (events younger than `max_age` by
    // either clock), on a whole second.
    let start_ms = common::now_ms() / 1000 * 1000 - 12 * HOUR_MS;
    let clock = Arc::new(ManualClock::at(start_ms));
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let seen_stamps = Arc::clone(&stamps);
    let receiver = Receiver::start(move |n, request| {
        let stamp = request.header("webhook-timestamp").unwrap_or_default();
        seen_stamps.lock().unwrap().push(stamp.to_string());
        Reply::status(if n == 0 { 503 } else { 200 })
    });
    let config = HostConfig {
        delivery: "retry_schedule = [\"1h\"]\njitter = 0.0\ntimeout = \"5s\"".into(),
        ..HostConfig::default()
    };
    let host = Host::start_with_clock("clock", config, clock.clone());
    let project = host.create_project("clock").await;
    let (webhook, _) = host
        .create_webhook(
            &project,
            json!({ "url": receiver.url("/hook"), "events": ["user.created"] }),
        )
        .await;
    host.send_event(&project, "user.created", json!({ "n": 1 }))
        .await;
    let deliveries = format!(
        "/projects/{}/integrations/webhooks/{webhook}/deliveries",
        project.id
    );
    let first = host
        .eventually(Duration::from_secs(10), || async {
            let (_, body) = host.get(&deliveries, &project.secret_key).await;
            let delivery = body["data"][0].clone();
            (delivery["attempts"] == 1).then_some(delivery)
        })
        .await;
    assert_eq!(
        first["next_attempt_at"],
        json!(start_ms + HOUR_MS),
        "the retry is scheduled on the given clock: {first}"
    );
    assert_eq!(first["attempt_log"][0]["started_at"], json!(start_ms));
    assert_eq!(
        stamps.lock().unwrap().as_slice(),
        [(start_ms / 1000).to_string()],
        "the signature carries the given clock's time"
    );

    // A second event wakes the endpoint, but on the given clock the head
    // is not due: nothing leaves, in order.
    host.send_event(&project, "user.created", json!({ "n": 2 }))
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.seen(), 1, "nothing is due before the clock moves");

    // An hour later on the given clock (a moment on the wall's), a wake-up
    // finds the retry due and both go out, in order.
    clock.advance(Duration::from_millis(HOUR_MS));
    host.send_event(&project, "user.created", json!({ "n": 3 }))
        .await;
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    let order: Vec<Value> = received
        .iter()
        .map(|r| r.json()["payload"]["n"].clone())
        .collect();
    assert_eq!(order, [json!(1), json!(2), json!(3)]);
    let retried_at = ((start_ms + HOUR_MS) / 1000).to_string();
    assert_eq!(stamps.lock().unwrap()[1], retried_at);
}
