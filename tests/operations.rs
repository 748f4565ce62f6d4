//! Deployment-level behaviour: declarative `[[projects]]` from the TOML,
//! the ingestion rate limit, unordered endpoints delivering concurrently,
//! idle endpoints holding no actors, and config errors stopping start-up.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::receiver::{Receiver, Reply};
use reqwest::Method;
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const SECRET_KEY: &str = "hm_sk_declared0000000000000000000000000000";
const PUBLISHABLE_KEY: &str = "hm_pk_declared0000000000000000000000000000";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn send_order(host: &Host, n: u64) {
    let (status, body) = host
        .post(
            "/projects/declared/events",
            PUBLISHABLE_KEY,
            json!({ "event": "order.paid", "payload": { "n": n } }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_projects_and_webhooks_work_and_survive_restarts() {
    let receiver = Receiver::ok();
    std::env::set_var("HOOKMESH_IT_DECLARED_HEADER", "from-the-toml");
    let extra = format!(
        "[[projects]]\nid = \"declared\"\nname = \"Declared Co\"\nsecret_key = \"{SECRET_KEY}\"\n\
         publishable_key = \"{PUBLISHABLE_KEY}\"\ncustom_event_types = [\"order.paid\"]\n\
         [projects.providers.webhook]\nconfig = {{ \"header.X-Declared\" = \"env:HOOKMESH_IT_DECLARED_HEADER\" }}\n\
         [[projects.webhooks]]\nid = \"ep_declared_orders\"\nurl = \"{}\"\nevents = [\"order.*\"]\n\
         secret = \"{WEBHOOK_SECRET}\"\nconfig = {{ \"header.X-Env\" = \"it\" }}\n",
        receiver.url("/orders")
    );
    let mut host = Host::start_process(
        "declared",
        HostConfig {
            extra,
            ..HostConfig::default()
        },
    );
    send_order(&host, 1).await;
    let got = receiver.wait_for(1, LONG).await;
    standardwebhooks::Webhook::new(WEBHOOK_SECRET)
        .unwrap()
        .verify(&got[0].body, &got[0].header_map())
        .unwrap();
    assert_eq!(got[0].header("x-env"), Some("it"));
    assert_eq!(
        got[0].header("x-declared"),
        Some("from-the-toml"),
        "declared provider settings apply"
    );
    let (status, hook) = host
        .get(
            "/projects/declared/integrations/webhooks/ep_declared_orders",
            SECRET_KEY,
        )
        .await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(hook["events"], json!(["order.*"]));

    host.restart();
    send_order(&host, 2).await;
    let got = receiver.wait_for(2, LONG).await;
    standardwebhooks::Webhook::new(WEBHOOK_SECRET)
        .unwrap()
        .verify(&got[1].body, &got[1].header_map())
        .unwrap();
    let (_, list) = host
        .get("/projects/declared/integrations/webhooks", SECRET_KEY)
        .await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "upsert, not duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_over_the_project_limit_gets_429_with_retry_after() {
    let host = Host::start(
        "ratelimit",
        HostConfig {
            ingest: "events_per_second = 5\nburst = 5".into(),
            ..HostConfig::default()
        },
    );
    let project = host.create_project("acme").await;
    let path = format!("/projects/{}/events", project.id);
    let event = json!({ "event": "user.created", "payload": {} });
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let response = host
            .http
            .post(host.url(&path))
            .bearer_auth(&project.secret_key)
            .json(&event)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "rate_limited");
        }
    }
    assert_eq!(&statuses[..5], &[202; 5], "{statuses:?}");
    assert!(statuses[5..].contains(&429), "{statuses:?}");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    let other = host.create_project("other").await;
    host.send_event(&other, "user.created", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_endpoints_deliver_concurrently_and_idle_endpoints_hold_no_actor() {
    let host = Host::start("unordered", HostConfig::default());
    let project = host.create_project("acme").await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), peak.clone());
    let slow = Receiver::start(move |_, _| {
        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(current, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        now.fetch_sub(1, Ordering::SeqCst);
        Reply::status(200)
    });
    host.create_webhook(
        &project,
        json!({ "url": slow.url("/"), "events": ["*"], "ordered": false }),
    )
    .await;
    for _ in 0..200 {
        host.create_webhook(
            &project,
            json!({ "url": "http://127.0.0.1:9/idle", "events": ["order.paid"] }),
        )
        .await;
    }
    let events: Vec<_> = (0..12)
        .map(|n| json!({ "event": "user.created", "payload": { "n": n } }))
        .collect();
    host.send_bulk(&project, events).await;
    slow.wait_for(12, LONG).await;
    assert!(
        peak.load(Ordering::SeqCst) > 1,
        "an unordered endpoint sends more than one at a time"
    );

    let actors = host
        .eventually(LONG, || async {
            let (_, ready) = host.call(Method::GET, "/readyz", None, None).await;
            let actors = ready["endpoint_actors"].as_u64().unwrap();
            (actors == 0).then_some(actors)
        })
        .await;
    assert_eq!(
        actors, 0,
        "201 registered endpoints, none with work: no actors"
    );
}

#[test]
fn config_errors_stop_start_up_naming_every_key() {
    let dir = std::env::temp_dir().join(format!("hookmesh-it-badconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[storage]\nbackend = \"mongodb\"\n[delivery]\nmax_age = \"forever\"\n[security]\nmaster_key = \"short\"\n\
         [[projects]]\nid = \"p\"\n[[projects.webhooks]]\nid = \"w\"\nurl = \"http://x.example\"\nevents = []\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookmesh"))
        .args(["serve", "--config"])
        .arg(&file)
        .env_remove("HOOKMESH_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "`server.admin_token`",
        "`storage.backend`",
        "`delivery.max_age`",
        "`security.master_key`",
        "`projects[0].webhooks[0].url`",
        "`projects[0].webhooks[0].events`",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_stats_count_ingestion_deliveries_retries_and_plugin_calls() {
    let host = Host::start("metrics", HostConfig::default());
    let project = host.create_project("acme").await;
    let flaky = Receiver::start(|n, _| {
        if n == 0 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    });
    let (webhook, _) = host
        .create_webhook(&project, json!({ "url": flaky.url("/"), "events": ["*"] }))
        .await;
    for n in 0..3 {
        host.send_event(&project, "user.created", json!({ "n": n }))
            .await;
    }
    let (status, _) = host
        .post(
            &format!("/projects/{}/events", project.id),
            &project.secret_key,
            json!({ "payload": {} }),
        )
        .await;
    assert_eq!(status, 400);
    flaky.wait_for(3, LONG).await;
    let text = host
        .eventually(LONG, || async {
            // A scrape samples the queues before it renders the counters, so
            // the last success can be counted while its queue row was read:
            // wait for both.
            let text = host.metrics_text().await;
            (text.contains("hookmesh_deliveries_total{outcome=\"success\",provider=\"webhook\"} 3")
                && text.contains("hookmesh_queue_depth{provider=\"webhook\"} 0"))
            .then_some(text)
        })
        .await;
    for line in [
        "hookmesh_ingest_requests_total{route=\"single\",status=\"202\"} 3",
        "hookmesh_ingest_requests_total{route=\"single\",status=\"400\"} 1",
        "hookmesh_ingested_events_total 3",
        "hookmesh_deliveries_total{outcome=\"success\",provider=\"webhook\"} 3",
        "hookmesh_deliveries_total{outcome=\"retry\",provider=\"webhook\"} 1",
        "hookmesh_retries_scheduled_total 1",
        "hookmesh_plugin_call_duration_seconds_count{call=\"render\",plugin=\"webhook\"} 4",
        "hookmesh_queue_depth{provider=\"webhook\"} 0",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    assert!(
        text.contains("hookmesh_attempt_duration_seconds_bucket"),
        "{text}"
    );

    // Webhook health: 4 attempts (one retried), per endpoint and project.
    let stats_path = format!(
        "/projects/{}/integrations/webhooks/{webhook}/stats",
        project.id
    );
    let (status, one) = host
        .get(
            &format!("{stats_path}?window=1h&interval=5m"),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(
        (
            &one["attempts"],
            &one["successes"],
            &one["retries"],
            &one["failures"]
        ),
        (&json!(4), &json!(3), &json!(1), &json!(0)),
        "{one}"
    );
    assert_eq!(
        (&one["success_rate"], &one["error_rate"]),
        (&json!(1.0), &json!(0.25))
    );
    assert!(one["latency_ms"]["p50"].as_u64().is_some(), "{one}");
    assert_eq!(
        (&one["window"], &one["interval"]),
        (&json!("1h"), &json!("5m"))
    );
    let series = one["series"].as_array().unwrap();
    assert!((12..=13).contains(&series.len()), "{one}");
    let volume: u64 = series.iter().map(|b| b["attempts"].as_u64().unwrap()).sum();
    assert_eq!(volume, 4, "the series holds every attempt: {one}");

    let (status, all) = host
        .get(
            &format!("/projects/{}/stats?window=2h", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"]["attempts"], 4, "{all}");
    assert_eq!(all["endpoints"][0]["endpoint_id"], json!(webhook), "{all}");
    assert_eq!(all["interval"], "2m", "default: 60 buckets over the window");
    for (query, field) in [
        ("window=soon", "window"),
        ("window=31d", "window"),
        ("window=1h&interval=30s", "interval"),
        ("window=1h&interval=1h30m", "interval"),
    ] {
        let (status, err) = host
            .get(&format!("{stats_path}?{query}"), &project.secret_key)
            .await;
        assert_eq!(status, 400, "{query}: {err}");
        assert!(err.to_string().contains(field), "{query}: {err}");
    }
    let (status, widened) = host
        .get(
            &format!("{stats_path}?window=30d&interval=1m"),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{widened}");
    assert_eq!(
        widened["interval"], "30m",
        "widened to 1440 buckets: {widened}"
    );
    let buckets = widened["series"].as_array().unwrap().len();
    assert!((1440..=1441).contains(&buckets), "{buckets} buckets");
}

/// A project whose one webhook's receiver takes 1.5 s to answer each request.
async fn project_with_a_slow_webhook(host: &Host) -> (TestProject, Receiver) {
    let project = host.create_project("acme").await;
    let slow = Receiver::start(|_, _| {
        std::thread::sleep(Duration::from_millis(1500));
        Reply::status(200)
    });
    host.create_webhook(&project, json!({ "url": slow.url("/"), "events": ["*"] }))
        .await;
    (project, slow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_queue_depth_and_oldest_age_per_endpoint_class() {
    let host = Host::start("queue-metrics", HostConfig::default());
    let (project, slow) = project_with_a_slow_webhook(&host).await;
    for n in 0..3 {
        host.send_event(&project, "user.created", json!({ "n": n }))
            .await;
    }
    // The first attempt is in flight: all three are still queued.
    host.eventually(LONG, || async { (slow.seen() == 1).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = host.metrics_text().await;
    assert!(
        text.contains("hookmesh_queue_depth{provider=\"webhook\"} 3"),
        "{text}"
    );
    let age: f64 = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("hookmesh_queue_oldest_age_seconds{provider=\"webhook\"} ")
        })
        .expect("oldest age of the webhook class")
        .parse()
        .unwrap();
    assert!((0.3..60.0).contains(&age), "oldest age {age}");
    // Every loaded plugin is a class with a series, idle ones at 0.
    assert!(
        text.contains("hookmesh_queue_depth{provider=\"slack\"} 0"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_attempt_in_flight_finish_and_record() {
    let mut host = Host::start_process("sigterm", HostConfig::default());
    let (project, slow) = project_with_a_slow_webhook(&host).await;
    host.send_event(&project, "user.created", json!({ "n": 1 }))
        .await;
    host.eventually(LONG, || async { (slow.seen() == 1).then_some(()) })
        .await;

    let status = host.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit: {status:?}");
    assert_eq!(slow.count(), 1, "the attempt in flight completed");

    host.start_again();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        slow.seen(),
        1,
        "the completed attempt was recorded: no re-delivery after restart"
    );
}

/// Checks the document against the OpenAPI 3.1 schema with the reference
/// validator (`openapi-spec-validator`, installed by `tests/run.sh`).
fn assert_valid_openapi(doc: &serde_json::Value, dir: &std::path::Path) {
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs (tests/run.sh installs openapi-spec-validator)");
    assert!(
        output.status.success(),
        "/openapi.json is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_every_listed_route_is_served() {
    let host = Host::start("openapi", HostConfig::default());
    let (status, doc) = host.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_valid_openapi(&doc, &host.dir);
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            let concrete = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = host
                .http
                .request(method.clone(), host.url(&concrete))
                .send()
                .await
                .unwrap();
            let code = response.status().as_u16();
            let body = response.text().await.unwrap();
            // The router's own 404 says "no route for", its 405 "this path answers".
            let routers = body.contains("no route for") || body.contains("this path answers");
            assert!(
                !(code == 404 || code == 405) || !routers,
                "{method} {path} is documented but not routed ({code}: {body})"
            );
        }
    }
    for expected in [
        "/projects",
        "/projects/{project}/events",
        "/projects/{project}/integrations/webhooks/{id}/rotate",
        "/inbound/{project}/{provider}",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} missing");
    }
    assert_eq!(
        operations,
        hookmesh::api::routes().len(),
        "one operation per registered route"
    );
    let unknown = host
        .http
        .get(host.url("/definitely/not/a/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    assert!(
        unknown.text().await.unwrap().contains("no route for"),
        "the router's 404 is told apart from a handler's"
    );
}
