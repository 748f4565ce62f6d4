//! The event log end to end, on both backends: listing with every filter
//! and cursor paging past 1,000 events, one event with its deliveries,
//! attempts and the requests sent (credentials redacted), inbound
//! provenance, and payloads kept byte for byte.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject, ADMIN_TOKEN};
use common::receiver::{Receiver, Reply};
use common::redis_server::RedisServer;
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// A project accepting `order.paid` and `invoice.sent` besides the built-in types.
async fn project(host: &Host, id: &str) -> TestProject {
    let (status, body) = host
        .post(
            "/projects",
            ADMIN_TOKEN,
            json!({ "name": id, "id": id, "custom_event_types": ["order.paid", "invoice.sent"] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    TestProject {
        id: id.into(),
        secret_key: body["secret_key"].as_str().unwrap().into(),
        publishable_key: body["publishable_key"].as_str().unwrap().into(),
    }
}

fn redis_config(redis: &RedisServer) -> HostConfig {
    HostConfig {
        storage: format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url()),
        ..HostConfig::default()
    }
}

fn owned(ids: &[&String]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// The ids of a list answer, in order.
fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn list(host: &Host, project: &TestProject, query: &str) -> Value {
    let (status, page) = host
        .get(
            &format!("/projects/{}/events?{query}", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{query}: {page}");
    page
}

async fn send(host: &Host, project: &TestProject, event: Value) -> String {
    let (status, body) = host
        .post(
            &format!("/projects/{}/events", project.id),
            &project.secret_key,
            event,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // Ids sort by the millisecond they were made in: keep these apart.
    tokio::time::sleep(Duration::from_millis(3)).await;
    body["id"].as_str().unwrap().to_string()
}

/// Every filter, one event in full, and the access rules.
async fn lookups_and_filters(host: &Host) {
    let project = project(host, "shop").await;
    let ok = Receiver::ok();
    let refusing = Receiver::start(|_, _| Reply::status(400));
    host.create_webhook(
        &project,
        json!({ "url": ok.url("/users"), "events": ["user.*"] }),
    )
    .await;
    let (orders, _) = host
        .create_webhook(
            &project,
            json!({
                "url": refusing.url("/orders"), "events": ["order.paid"],
                "config": { "header.Authorization": "Bearer sk_live_do_not_log" },
            }),
        )
        .await;
    let user_1 = send(
        host,
        &project,
        json!({ "event": "user.created", "resource": "user", "resource_id": "usr_1", "payload": { "n": 1 } }),
    )
    .await;
    let order = send(
        host,
        &project,
        json!({ "event": "order.paid", "resource": "order", "resource_id": "ord_77", "payload": { "n": 2 } }),
    )
    .await;
    let user_2 = send(
        host,
        &project,
        json!({ "event": "user.created", "resource": "user", "resource_id": "usr_2", "payload": { "n": 3 } }),
    )
    .await;
    let invoice = send(
        host,
        &project,
        json!({ "event": "invoice.sent", "payload": { "n": 4 } }),
    )
    .await;
    ok.wait_for(2, LONG).await;
    host.eventually(LONG, || async {
        let page = list(host, &project, "status=failed").await;
        (ids(&page) == [order.clone()]).then_some(())
    })
    .await;
    // A receiver's answer can come before its attempt is recorded.
    host.eventually(LONG, || async {
        let page = list(host, &project, "status=succeeded").await;
        (ids(&page) == [user_2.clone(), user_1.clone()]).then_some(())
    })
    .await;

    // Giving the order up raised `delivery.exhausted`: an event of the
    // project too (no endpoint subscribes to it).
    let exhausted = host
        .eventually(LONG, || async {
            let page = list(host, &project, "event=delivery.exhausted").await;
            ids(&page).pop()
        })
        .await;
    let newest_first = |mut ids: Vec<&String>| {
        ids.sort_unstable_by(|a, b| b.cmp(a));
        owned(&ids)
    };
    let all = list(host, &project, "").await;
    let everything = newest_first(vec![&invoice, &user_2, &order, &user_1, &exhausted]);
    assert_eq!(ids(&all), everything, "newest first");
    assert_eq!(all["next_cursor"], Value::Null);
    let logged = |id: &str| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    let paid = logged(&order);
    assert_eq!(paid["event"], "order.paid");
    assert_eq!(paid["resource_id"], "ord_77");
    assert_eq!(paid["status"], "failed");
    assert_eq!(
        paid["deliveries"],
        json!({ "total": 1, "succeeded": 0, "pending": 0, "failed": 1 })
    );
    assert_eq!(paid["source"], Value::Null, "sent by the app");
    assert_eq!(logged(&exhausted)["resource_id"], orders.as_str());

    for (query, expected) in [
        ("event=user.created", vec![&user_2, &user_1]),
        ("event=user.*", vec![&user_2, &user_1]),
        ("event=order.*", vec![&order]),
        ("event=ord.*", vec![]),
        ("resource=order", vec![&order]),
        ("resource_id=usr_2", vec![&user_2]),
        ("resource=user&resource_id=usr_1", vec![&user_1]),
        ("status=succeeded", vec![&user_2, &user_1]),
        (
            "status=unrouted",
            newest_first(vec![&invoice, &exhausted]).iter().collect(),
        ),
        ("status=pending", vec![]),
    ] {
        assert_eq!(
            ids(&list(host, &project, query).await),
            owned(&expected),
            "{query}"
        );
    }
    let paid_at = paid["created_at"].as_u64().unwrap();
    let since = list(host, &project, &format!("since={paid_at}")).await;
    assert_eq!(
        ids(&since),
        newest_first(vec![&invoice, &user_2, &order, &exhausted])
    );
    let until = list(host, &project, &format!("until={paid_at}")).await;
    assert_eq!(ids(&until), owned(&[&order, &user_1]));
    let page_1 = list(host, &project, "limit=3").await;
    assert_eq!(ids(&page_1), everything[..3]);
    let cursor = page_1["next_cursor"].as_str().unwrap();
    let page_2 = list(host, &project, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&page_2), everything[3..]);
    assert_eq!(page_2["next_cursor"], Value::Null);

    // One event in full: its delivery, the attempt, the request as sent.
    let (status, detail) = host
        .get(
            &format!("/projects/{}/events/{order}", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["payload"], json!({ "n": 2 }));
    assert_eq!(detail["status"], "failed");
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["endpoint_id"], orders.as_str());
    let attempt = &delivery["attempt_log"][0];
    assert_eq!(attempt["status_code"], 400);
    let request = &attempt["requests"][0];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], refusing.url("/orders"));
    let header = |name: &str| {
        request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h["value"].as_str().unwrap().to_string())
    };
    assert_eq!(header("authorization").as_deref(), Some("[redacted]"));
    assert!(header("webhook-signature").unwrap().starts_with("v1,"));
    assert!(
        !detail.to_string().contains("sk_live_do_not_log"),
        "the credential appears nowhere: {detail}"
    );
    assert!(request["body_bytes"].as_u64().unwrap() > 0);
    assert_eq!(request["body_sha256"].as_str().unwrap().len(), 64);
    let delivery_id = delivery["id"].as_str().unwrap();
    let attempts = format!(
        "/projects/{}/integrations/webhooks/{orders}/deliveries/{delivery_id}/attempts",
        project.id
    );
    let (status, one) = host
        .get(&format!("{attempts}/1"), &project.secret_key)
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(&one, attempt);
    let (status, _) = host
        .get(&format!("{attempts}/9"), &project.secret_key)
        .await;
    assert_eq!(status, 404);

    // Who may read, and what is refused.
    let path = format!("/projects/{}/events", project.id);
    let (status, _) = host.get(&path, &project.publishable_key).await;
    assert_eq!(status, 403, "the publishable key cannot read the log");
    let other = self::project(host, "elsewhere").await;
    let (status, _) = host
        .get(
            &format!("/projects/{}/events/{order}", other.id),
            &other.secret_key,
        )
        .await;
    assert_eq!(status, 404, "another project's event is not found");
    for (query, field) in [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("cursor=nope", "cursor"),
        ("since=9&until=1", "since"),
    ] {
        let (status, error) = host
            .get(&format!("{path}?{query}"), &project.secret_key)
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some(field)),
            "{query}"
        );
    }
}

/// 1,100 events paged 250 at a time: each once, newest first.
async fn paging_past_a_thousand(host: &Host) {
    let project = project(host, "bulk").await;
    let mut sent = Vec::new();
    for batch in [0..1000, 1000..1100] {
        let events: Vec<Value> = batch
            .map(|i| json!({ "event": "invoice.sent", "payload": { "i": i } }))
            .collect();
        let answer = host.send_bulk(&project, events).await;
        sent.extend(
            answer["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list(
            host,
            &project,
            &format!("event=invoice.sent&limit=250&cursor={cursor}")
                .replace("&cursor=", if cursor.is_empty() { "" } else { "&cursor=" }),
        )
        .await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1100);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, once each"
    );
    sent.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_searchable_on_the_embedded_store() {
    let host = Host::start("event-log", HostConfig::default());
    lookups_and_filters(&host).await;
    paging_past_a_thousand(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_searchable_on_redis() {
    let redis = RedisServer::start("event-log");
    let host = Host::start("event-log-redis", redis_config(&redis));
    lookups_and_filters(&host).await;
    paging_past_a_thousand(&host).await;
}

/// What the app sent — key order, spacing, number spelling — is what the
/// receiver gets, signed, and what the log shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_kept_byte_for_byte() {
    let host = Host::start("byte-exact", HostConfig::default());
    let project = project(&host, "exact").await;
    let receiver = Receiver::ok();
    let (_, secret) = host
        .create_webhook(
            &project,
            json!({ "url": receiver.url("/hook"), "events": ["order.paid"] }),
        )
        .await;
    let payload = r#"{"zeta": 1.0,  "alpha" : [3, 1e2], "name":"caf\u00e9 é"}"#;
    let bulk_payload = r#"{ "b":2,"a":1.50 }"#;
    let single = format!(r#"{{"event":"order.paid","payload": {payload} }}"#);
    let bulk = format!(r#"{{"events":[{{"event":"order.paid","payload":{bulk_payload}}}]}}"#);
    for (path, body) in [("events", single), ("events/bulk", bulk)] {
        let answer = host
            .http
            .post(host.url(&format!("/projects/{}/{path}", project.id)))
            .bearer_auth(&project.secret_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 202);
    }
    let received = receiver.wait_for(2, LONG).await;
    for (request, expected) in received.iter().zip([payload, bulk_payload]) {
        let body = String::from_utf8(request.body.clone()).unwrap();
        assert!(
            body.contains(&format!(r#""payload":{expected}"#)),
            "{expected} inside {body}"
        );
        standardwebhooks::Webhook::new(&secret)
            .unwrap()
            .verify(&request.body, &request.header_map())
            .unwrap();
    }
    let event_id = received[0].json()["uuid"].as_str().unwrap().to_string();
    let shown = host
        .http
        .get(host.url(&format!("/projects/{}/events/{event_id}", project.id)))
        .bearer_auth(&project.secret_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains(&format!(r#""payload":{payload}"#)),
        "{shown}"
    );
}

/// A provider's webhook shows where it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_events_show_their_source() {
    use hmac::Mac;
    const SECRET: &str = "rzp_webhook_s3cret";
    let host = Host::start("provenance", HostConfig::default());
    let project = project(&host, "payments").await;
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/{}/integrations/providers/razorpay", project.id),
            Some(&project.secret_key),
            Some(&json!({ "config": { "webhook_secret": SECRET } })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = serde_json::to_vec(&json!({
        "entity": "event", "event": "payment.captured", "contains": ["payment"],
        "payload": { "payment": { "entity": { "id": "pay_1" } } },
    }))
    .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let signature = hex::encode(mac.finalize().into_bytes());
    let answer = host
        .http
        .post(host.url(&format!("/inbound/{}/razorpay", project.id)))
        .header("x-razorpay-signature", signature)
        .header("x-razorpay-event-id", "evt_rzp_9")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let page = list(&host, &project, "event=razorpay.*").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(
        page["data"][0]["source"],
        json!({ "integration": "razorpay", "provider_event_id": "evt_rzp_9" })
    );
    assert_eq!(page["data"][0]["resource_id"], "pay_1");
}

/// With a tiny retention: finished events, their deliveries and attempts
/// go; a delivery still pending past the retention stays and is
/// delivered; at a steady rate the store file stops growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_what_finished_and_keeps_what_is_pending() {
    let host = Host::start("retention", retention_config(""));
    let sizes = retention(&host, Some(host.dir.join("hookmesh.redb"))).await;
    // Without the purge each period adds about as much as the first (the
    // file doubles from period 2 to 4); with it, freed pages are reused.
    // (Loose: a loaded machine ingests unevenly across periods.)
    let (_, second) = sizes[1];
    let (_, last) = sizes[3];
    assert!(
        last <= second + second / 2,
        "the file stops growing after the first periods: {sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_on_redis_expires_what_finished_and_keeps_what_is_pending() {
    let redis = RedisServer::start("retention");
    let storage = format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url());
    let host = Host::start("retention-redis", retention_config(&storage));
    retention(&host, None).await;
}

/// A 2 s retention, and retries that keep a refused delivery pending.
fn retention_config(storage: &str) -> HostConfig {
    HostConfig {
        storage: format!("retention = \"2s\"\n{storage}"),
        delivery:
            "retry_schedule = [\"300ms\"]\nmax_attempts = 1000\njitter = 0.0\ntimeout = \"5s\""
                .into(),
        ..HostConfig::default()
    }
}

/// A receiver answering `503` until the flag it returns is set, then `200`:
/// a delivery that stays pending as long as a test wants.
fn late_receiver() -> (Receiver, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let up = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&up);
    let late = Receiver::start(move |_, _| {
        Reply::status(if flag.load(Ordering::SeqCst) {
            200
        } else {
            503
        })
    });
    (late, up)
}

/// Four retention periods of steady ingestion; the store's file size after
/// each (when it has a file).
async fn retention(host: &Host, store_file: Option<std::path::PathBuf>) -> Vec<(usize, u64)> {
    use std::sync::atomic::Ordering;
    const RETENTION: Duration = Duration::from_secs(2);
    let project = project(host, "short").await;
    let ok = Receiver::ok();
    let (late, up) = late_receiver();
    let (users, _) = host
        .create_webhook(
            &project,
            json!({ "url": ok.url("/u"), "events": ["user.created"] }),
        )
        .await;
    host.create_webhook(
        &project,
        json!({ "url": late.url("/o"), "events": ["order.paid"] }),
    )
    .await;
    let finished = send(
        host,
        &project,
        json!({ "event": "user.created", "payload": {} }),
    )
    .await;
    let pending = send(
        host,
        &project,
        json!({ "event": "order.paid", "payload": {} }),
    )
    .await;
    ok.wait_for(1, LONG).await;
    let event_path = |id: &str| format!("/projects/{}/events/{id}", project.id);
    let (_, shown) = host.get(&event_path(&finished), &project.secret_key).await;
    let delivery = shown["deliveries"][0]["id"].as_str().unwrap().to_string();
    let delivery_path = format!(
        "/projects/{}/integrations/webhooks/{users}/deliveries/{delivery}",
        project.id
    );

    // A steady trickle for four retention periods, sampling the file.
    let mut sizes = Vec::new();
    for period in 0..4 {
        let started = std::time::Instant::now();
        let mut n = 0;
        while started.elapsed() < RETENTION {
            let events = (0..20)
                .map(|i| json!({ "event": "invoice.sent", "payload": { "period": period, "i": i, "pad": "x".repeat(900) } }))
                .collect();
            host.send_bulk(&project, events).await;
            n += 20;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let size = store_file
            .as_ref()
            .map_or(0, |f| std::fs::metadata(f).unwrap().len());
        sizes.push((n, size));
    }
    eprintln!("events per period and file size after it: {sizes:?}");

    let (status, _) = host.get(&event_path(&finished), &project.secret_key).await;
    assert_eq!(status, 404, "a finished event past retention is gone");
    let (status, _) = host.get(&delivery_path, &project.secret_key).await;
    assert_eq!(status, 404, "its delivery and attempts too");
    let (status, waiting) = host.get(&event_path(&pending), &project.secret_key).await;
    assert_eq!(status, 200, "a pending event stays: {waiting}");
    assert_eq!(waiting["status"], "pending");
    up.store(true, Ordering::SeqCst);
    let delivered = late.wait_for(1, LONG).await;
    assert_eq!(delivered[0].json()["uuid"], pending.as_str());
    sizes
}

/// A project's own retention on the embedded store: see
/// [`per_project_retention`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_keeps_its_records_for_its_own_retention() {
    let host = Host::start("own-retention", own_retention_config(""));
    per_project_retention(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_keeps_its_records_for_its_own_retention_on_redis() {
    let redis = RedisServer::start("own-retention");
    let storage = format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url());
    let host = Host::start("own-retention-redis", own_retention_config(&storage));
    per_project_retention(&host).await;
}

/// The server keeps an hour; retries keep a refused delivery pending.
fn own_retention_config(storage: &str) -> HostConfig {
    HostConfig {
        storage: format!("retention = \"1h\"\n{storage}"),
        ..retention_config("")
    }
}

/// `brief` keeps 2 s (its own `retention`), `kept` the server's hour: past
/// 2 s, `brief`'s finished event, delivery and attempt answer `404` while
/// `kept`'s stay; `brief`'s pending delivery, older than its retention,
/// stays and is delivered. The field is validated as `/openapi.json` says.
async fn per_project_retention(host: &Host) {
    use std::sync::atomic::Ordering;
    let create = |id: &str, retention: Value| json!({ "name": id, "id": id, "custom_event_types": ["order.paid"], "retention": retention });
    for (bad, why) in [
        (json!("0s"), "must be between 1s and 365d"),
        (json!("366d"), "must be between 1s and 365d"),
        (json!("2w"), "is not a duration"),
        (json!("1.5h"), "is not a duration"),
    ] {
        let (status, body) = host
            .post("/projects", ADMIN_TOKEN, create("bad", bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.to_string().contains("retention"), "{bad}: {body}");
        assert!(body.to_string().contains(why), "{bad}: {body}");
    }
    let (status, body) = host
        .post("/projects", ADMIN_TOKEN, create("brief", json!("2s")))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["retention"], &body["effective_retention"]),
        (&json!("2s"), &json!("2s"))
    );
    let brief = TestProject {
        id: "brief".into(),
        secret_key: body["secret_key"].as_str().unwrap().into(),
        publishable_key: body["publishable_key"].as_str().unwrap().into(),
    };
    let kept = project(host, "kept").await;
    let (_, shown) = host.get("/projects/kept", &kept.secret_key).await;
    assert_eq!(
        (&shown["retention"], &shown["effective_retention"]),
        (&Value::Null, &json!("1h"))
    );
    // PUT sets it, `null` gives the server's back, absent leaves it.
    let put = |body: Value| {
        let key = kept.secret_key.clone();
        async move {
            host.call(
                reqwest::Method::PUT,
                "/projects/kept",
                Some(&key),
                Some(&body),
            )
            .await
        }
    };
    let (status, changed) = put(json!({ "retention": "90d" })).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["effective_retention"], "90d");
    let (_, unchanged) = put(json!({ "name": "kept" })).await;
    assert_eq!(unchanged["retention"], "90d");
    let (status, _) = put(json!({ "retention": "0s" })).await;
    assert_eq!(status, 400);
    let (_, reset) = put(json!({ "retention": null })).await;
    assert_eq!(
        (&reset["retention"], &reset["effective_retention"]),
        (&Value::Null, &json!("1h"))
    );

    let ok = Receiver::ok();
    let (late, up) = late_receiver();
    let mut hooks = Vec::new();
    for project in [&brief, &kept] {
        let (hook, _) = host
            .create_webhook(
                project,
                json!({ "url": ok.url(&format!("/{}", project.id)), "events": ["user.created"] }),
            )
            .await;
        hooks.push(hook);
    }
    host.create_webhook(
        &brief,
        json!({ "url": late.url("/late"), "events": ["order.paid"] }),
    )
    .await;
    let started = std::time::Instant::now();
    let user = || json!({ "event": "user.created", "payload": { "n": 1 } });
    let gone = send(host, &brief, user()).await;
    let stays = send(host, &kept, user()).await;
    let pending = send(
        host,
        &brief,
        json!({ "event": "order.paid", "payload": {} }),
    )
    .await;
    ok.wait_for(2, LONG).await;
    // Each finished event's delivery and its first attempt.
    let mut paths = Vec::new();
    for ((project, event), hook) in [(&brief, &gone), (&kept, &stays)].into_iter().zip(&hooks) {
        let event_path = format!("/projects/{}/events/{event}", project.id);
        let shown = host
            .eventually(LONG, || async {
                let (_, shown) = host.get(&event_path, &project.secret_key).await;
                (shown["status"] == "succeeded").then_some(shown)
            })
            .await;
        let delivery = shown["deliveries"][0]["id"].as_str().unwrap().to_string();
        let delivery_path = format!(
            "/projects/{}/integrations/webhooks/{hook}/deliveries/{delivery}",
            project.id
        );
        let attempt_path = format!("{delivery_path}/attempts/1");
        for path in [&event_path, &delivery_path, &attempt_path] {
            let (status, body) = host.get(path, &project.secret_key).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
        paths.push((project, [event_path, delivery_path, attempt_path]));
    }

    // `brief`'s finished records go once past its 2 s.
    let [event_path, delivery_path, attempt_path] = &paths[0].1;
    host.eventually(LONG, || async {
        let (status, _) = host.get(event_path, &brief.secret_key).await;
        (status == 404).then_some(())
    })
    .await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    for path in [delivery_path, attempt_path] {
        let (status, body) = host.get(path, &brief.secret_key).await;
        assert_eq!(status, 404, "{path} is past brief's retention: {body}");
    }
    let (status, page) = host
        .get("/projects/brief/events?limit=10", &brief.secret_key)
        .await;
    assert_eq!(status, 200);
    assert!(!ids(&page).contains(&gone), "{page}");
    // `kept`'s, as old, stay.
    for path in &paths[1].1 {
        let (status, body) = host.get(path, &kept.secret_key).await;
        assert_eq!(status, 200, "{path} is within the server's hour: {body}");
    }
    // The pending delivery, older than brief's retention, stays and goes out.
    let pending_path = format!("/projects/brief/events/{pending}");
    let (status, waiting) = host.get(&pending_path, &brief.secret_key).await;
    assert_eq!(status, 200, "a pending event stays: {waiting}");
    assert_eq!(waiting["status"], "pending");
    up.store(true, Ordering::SeqCst);
    let delivered = late.wait_for(1, LONG).await;
    assert_eq!(delivered[0].json()["uuid"], pending.as_str());
}
