//! Bad input gets the documented status and a message naming the field;
//! nothing panics and the host keeps serving. Runs with the production
//! security defaults (https only, no private targets).

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, ADMIN_TOKEN};
use common::receiver::{Receiver, Reply};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn secure() -> HostConfig {
    HostConfig {
        security: String::new(),
        ..HostConfig::default()
    }
}

/// Sends raw bytes as JSON.
async fn post_raw(host: &Host, path: &str, key: &str, body: Vec<u8>) -> (u16, Value) {
    let response = host
        .http
        .post(host.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn expect(case: &str, got: (u16, Value), status: u16, field: Option<&str>, needle: &str) {
    let (code, body) = got;
    assert_eq!(code, status, "{case}: {body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{case}: {body}");
    }
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{case}: `{message}` lacks `{needle}`"
    );
    assert!(body["error"].is_string(), "{case}: {body}");
}

/// Projects accept any well-formed type unless strict: these tests check
/// the refusal of unknown ones.
async fn make_strict(host: &Host, p: &common::host::TestProject) {
    let (status, body) = host
        .call(
            Method::PUT,
            &format!("/projects/{}", p.id),
            Some(&p.secret_key),
            Some(&json!({ "strict_event_types": true })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ingestion_input() {
    let host = Host::start("bad-ingest", secure());
    let p = host.create_project("acme").await;
    make_strict(&host, &p).await;
    let events = format!("/projects/{}/events", p.id);
    let sk = p.secret_key.as_str();

    expect(
        "malformed",
        post_raw(&host, &events, sk, b"{\"event\": ".to_vec()).await,
        400,
        Some("body"),
        "malformed JSON",
    );
    expect(
        "empty",
        post_raw(&host, &events, sk, Vec::new()).await,
        400,
        Some("body"),
        "empty",
    );
    expect(
        "missing event",
        host.post(&events, sk, json!({ "payload": {} })).await,
        400,
        Some("body"),
        "missing field `event`",
    );
    expect(
        "event type",
        host.post(&events, sk, json!({ "event": 5, "payload": {} }))
            .await,
        400,
        Some("event"),
        "invalid type",
    );
    expect(
        "payload type",
        host.post(
            &events,
            sk,
            json!({ "event": "user.created", "payload": "x" }),
        )
        .await,
        400,
        Some("payload"),
        "JSON object",
    );
    expect(
        "unknown type",
        host.post(
            &events,
            sk,
            json!({ "event": "user.exploded", "payload": {} }),
        )
        .await,
        400,
        Some("event"),
        "unknown event type",
    );
    expect(
        "bad type name",
        host.post(
            &events,
            sk,
            json!({ "event": "User Created", "payload": {} }),
        )
        .await,
        400,
        Some("event"),
        "lower-case",
    );
    expect(
        "unknown field",
        host.post(
            &events,
            sk,
            json!({ "event": "user.created", "payload": {}, "extra": 1 }),
        )
        .await,
        400,
        Some("extra"),
        "unknown field",
    );
    let huge = json!({ "event": "user.created", "payload": { "blob": "x".repeat(300 * 1024) } });
    expect(
        "oversized",
        host.post(&events, sk, huge).await,
        413,
        None,
        "larger than the limit",
    );
    expect(
        "unknown project",
        host.post(
            "/projects/nope/events",
            ADMIN_TOKEN,
            json!({ "event": "user.created", "payload": {} }),
        )
        .await,
        404,
        None,
        "not found",
    );
    expect(
        "wrong key",
        host.post(
            &events,
            "hm_sk_wrong",
            json!({ "event": "user.created", "payload": {} }),
        )
        .await,
        401,
        None,
        "invalid API key",
    );
    let anonymous = host
        .call(Method::POST, &events, None, Some(&json!({})))
        .await;
    expect("no key", anonymous, 401, None, "missing credentials");

    let other = host.create_project("other").await;
    expect(
        "other project's key",
        host.post(
            &events,
            &other.secret_key,
            json!({ "event": "user.created", "payload": {} }),
        )
        .await,
        403,
        None,
        "another project",
    );

    let long_key = "k".repeat(300);
    let response = host
        .http
        .post(host.url(&events))
        .bearer_auth(sk)
        .header("Idempotency-Key", long_key)
        .json(&json!({ "event": "user.created", "payload": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    let bulk = format!("/projects/{}/events/bulk", p.id);
    let (status, body) = host
        .post(
            &bulk,
            sk,
            json!({ "events": [
            { "event": "user.created", "payload": { "n": 1 } },
            { "event": "user.created", "payload": 7 },
            { "payload": {} },
        ] }),
        )
        .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["data"][0]["status"], 202);
    assert!(body["data"][0]["id"].is_string());
    assert_eq!(body["data"][1]["status"], 400);
    assert_eq!(body["data"][1]["field"], "events[1].payload");
    assert_eq!(body["data"][2]["field"], "events[2]");
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({ "event": "user.created", "payload": {} }))
        .collect();
    expect(
        "bulk too big",
        host.post(&bulk, sk, json!({ "events": too_many })).await,
        400,
        Some("events"),
        "1-1000",
    );

    let (status, _) = host.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_management_input_and_ssrf_urls() {
    let host = Host::start("bad-manage", secure());
    let p = host.create_project("acme").await;
    make_strict(&host, &p).await;
    let hooks = format!("/projects/{}/integrations/webhooks", p.id);
    let sk = p.secret_key.as_str();
    let register = |url: &str| json!({ "url": url, "events": ["user.*"] });

    expect(
        "publishable on management",
        host.post(
            &hooks,
            &p.publishable_key,
            register("https://example.com/h"),
        )
        .await,
        403,
        None,
        "publishable keys can only send events",
    );
    expect(
        "publishable lists",
        host.get(&hooks, &p.publishable_key).await,
        403,
        None,
        "publishable",
    );
    expect(
        "key creates project",
        host.post("/projects", sk, json!({ "name": "x" })).await,
        403,
        None,
        "admin token",
    );
    expect(
        "duplicate project",
        host.post(
            "/projects",
            ADMIN_TOKEN,
            json!({ "name": "acme", "id": "acme" }),
        )
        .await,
        409,
        None,
        "already exists",
    );

    for (case, url, needle) in [
        ("loopback", "https://127.0.0.1/hook", "private"),
        ("private 10/8", "https://10.1.2.3/hook", "private"),
        (
            "metadata",
            "https://169.254.169.254/latest/meta-data",
            "private",
        ),
        ("ipv6 loopback", "https://[::1]/hook", "private"),
        (
            "http when https_only",
            "http://example.com/hook",
            "https_only",
        ),
        (
            "name resolving to loopback",
            "https://localhost:9/hook",
            "127.0.0.1 is private",
        ),
        ("not a url", "definitely not a url", "not a valid URL"),
        ("credentials", "https://user:pw@example.com/", "credentials"),
    ] {
        expect(
            case,
            host.post(&hooks, sk, register(url)).await,
            400,
            Some("url"),
            needle,
        );
    }
    expect(
        "no events",
        host.post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": [] }),
        )
        .await,
        400,
        Some("events"),
        "at least one",
    );
    expect(
        "bad rate limit",
        host.post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": ["user.*"], "rate_limit": "5 per second" }),
        )
        .await,
        400,
        Some("rate_limit"),
        "is not a rate",
    );
    let (status, limited) = host
        .post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": ["user.*"], "rate_limit": "600/m" }),
        )
        .await;
    assert_eq!(
        (status, &limited["rate_limit"]),
        (201, &json!("10/s")),
        "{limited}"
    );
    let limited_path = format!("{hooks}/{}", limited["id"].as_str().unwrap());
    expect(
        "rate limit of the wrong type",
        host.call(
            reqwest::Method::PUT,
            &limited_path,
            Some(sk),
            Some(&json!({ "rate_limit": 5 })),
        )
        .await,
        400,
        Some("rate_limit"),
        "or null",
    );
    let (status, unlimited) = host
        .call(
            reqwest::Method::PUT,
            &limited_path,
            Some(sk),
            Some(&json!({ "rate_limit": null })),
        )
        .await;
    assert_eq!(
        (status, &unlimited["rate_limit"]),
        (200, &Value::Null),
        "{unlimited}"
    );
    expect(
        "unknown subscription",
        host.post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": ["user.exploded"] }),
        )
        .await,
        400,
        Some("events[0]"),
        "unknown event type",
    );
    expect(
        "bad secret",
        host.post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": ["*"], "secret": "hunter2" }),
        )
        .await,
        400,
        Some("secret"),
        "whsec_",
    );
    expect(
        "unknown provider",
        host.post(
            &hooks,
            sk,
            json!({ "url": "https://example.com/", "events": ["*"], "provider": "fax" }),
        )
        .await,
        400,
        Some("provider"),
        "not a loaded provider",
    );
    expect(
        "unknown webhook",
        host.get(&format!("{hooks}/ep_missing"), sk).await,
        404,
        None,
        "not found",
    );
    expect(
        "bad status filter",
        host.get(&format!("{hooks}/ep_missing/deliveries"), sk)
            .await,
        404,
        None,
        "not found",
    );

    let (status, created) = host
        .post(&hooks, sk, register("https://example.com/hook"))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let (_, shown) = host.get(&format!("{hooks}/{id}"), sk).await;
    assert!(
        shown.get("secret").is_none(),
        "secret shown once only: {shown}"
    );
    expect(
        "bad status",
        host.get(&format!("{hooks}/{id}/deliveries?status=lost"), sk)
            .await,
        400,
        Some("status"),
        "pending, succeeded, failed",
    );
    expect(
        "bad limit",
        host.get(&format!("{hooks}/{id}/deliveries?limit=0"), sk)
            .await,
        400,
        Some("limit"),
        "1-250",
    );
    expect(
        "bad grace",
        host.post(
            &format!("{hooks}/{id}/rotate"),
            sk,
            json!({ "grace": "soonish" }),
        )
        .await,
        400,
        Some("grace"),
        "not a duration",
    );

    let (status, _) = host.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_allowed_cidrs_open_one_range() {
    let host = Host::start("redirect", HostConfig {
        security: "https_only = false\nallowed_cidrs = [\"127.0.0.1/32\"]".into(),
        delivery: "retry_schedule = [\"50ms\"]\nmax_attempts = 1\njitter = 0.0\ntimeout = \"2s\"\nconnect_timeout = \"500ms\"".into(),
        ..HostConfig::default()
    });
    let p = host.create_project("acme").await;
    let hooks = format!("/projects/{}/integrations/webhooks", p.id);
    let redirector =
        Receiver::start(|_, _| Reply::status(302).with_header("Location", "http://10.0.0.1/steal"));
    expect(
        "outside allowed_cidrs",
        host.post(&hooks, &p.secret_key, json!({ "url": format!("http://127.0.0.2:{}/", redirector.addr.port()), "events": ["*"] })).await,
        400,
        Some("url"),
        "private",
    );
    let (id, _) = host
        .create_webhook(&p, json!({ "url": redirector.url("/"), "events": ["*"] }))
        .await;
    host.send_event(&p, "user.created", json!({})).await;
    let deliveries = format!("{hooks}/{id}/deliveries?status=failed");
    let failed = host
        .eventually(Duration::from_secs(30), || async {
            let (_, page) = host.get(&deliveries, &p.secret_key).await;
            page["data"].as_array().and_then(|d| d.first().cloned())
        })
        .await;
    assert_eq!(failed["last_status_code"], 302, "{failed}");
    assert_eq!(failed["attempt_log"].as_array().unwrap().len(), 1);
    assert_eq!(redirector.seen(), 1);
}

/// A known path asked with a method it does not serve answers `405` with
/// `Allow`; an unknown path a JSON `404`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_methods_get_405_with_allow() {
    let host = Host::start("api-405", HostConfig::default());
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET"),
        ("DELETE", "/projects", "POST, GET"),
        ("PATCH", "/projects/p", "GET, PUT, DELETE"),
        ("GET", "/projects/p/events/bulk", "POST"),
        ("PUT", "/projects/p/events", "POST, GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = host
            .http
            .request(method.clone(), host.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 405, "{method} {path}");
        let allowed = answer.headers()["allow"].to_str().unwrap().to_string();
        assert_eq!(allowed, allow, "{method} {path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{body}");
    }
    let answer = host.http.get(host.url("/nowhere")).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("/nowhere"),
        "{body}"
    );
}
