//! Rate limits end to end (issue #15 item 7), on both backends: a
//! project's own ingestion limit set through the API and the TOML, the
//! `X-RateLimit-*` headers on single, bulk and inbound answers, `429` with
//! `Retry-After` and nothing stored, `/inbound` drawing on the same
//! budget, the management API's per-caller limit, and (on Redis) buckets
//! shared by two instances.
//!
//! Rates are low (2/s, burst 3) so counts are exact; where a slow machine
//! could refill a token between two requests (every 500 ms at 2/s) the
//! assertions allow it. Nothing waits on a clock to pass.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject, ADMIN_TOKEN};
use common::redis_server::RedisServer;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// The `[ingest]` default of these hosts (projects without their own).
const DEFAULT_INGEST: &str = "events_per_second = 1000\nburst = 2000";

/// One answer: status, headers, JSON body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// A numeric header, or a failure naming it.
    fn number(&self, name: &str) -> u64 {
        let value = self
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} on a {}: {:?}", self.status, self.headers));
        value
            .to_str()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {value:?}"))
    }

    /// `(X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset)`.
    fn quota(&self) -> (u64, u64, u64) {
        (
            self.number("x-ratelimit-limit"),
            self.number("x-ratelimit-remaining"),
            self.number("x-ratelimit-reset"),
        )
    }

    fn has_quota(&self) -> bool {
        self.headers.contains_key("x-ratelimit-limit")
    }
}

async fn send(
    host: &Host,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let mut request = host.http.request(method, host.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request to hookmesh");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn event(host: &Host, project: &TestProject) -> Answer {
    let auth = bearer(&project.publishable_key);
    send(
        host,
        reqwest::Method::POST,
        &format!("/projects/{}/events", project.id),
        &[("Authorization", &auth)],
        Some(&json!({ "event": "user.signup", "payload": { "n": 1 } })),
    )
    .await
}

async fn bulk(host: &Host, project: &TestProject, n: usize) -> Answer {
    let auth = bearer(&project.secret_key);
    let events: Vec<Value> = (0..n)
        .map(|i| json!({ "event": "user.signup", "payload": { "i": i } }))
        .collect();
    send(
        host,
        reqwest::Method::POST,
        &format!("/projects/{}/events/bulk", project.id),
        &[("Authorization", &auth)],
        Some(&json!({ "events": events })),
    )
    .await
}

/// The `hmac.monitor` source of the project (an `X-API-Key` check).
async fn inbound(host: &Host, project: &TestProject) -> Answer {
    send(
        host,
        reqwest::Method::POST,
        &format!("/inbound/{}/hmac.monitor", project.id),
        &[
            ("X-API-Key", "monitor-key"),
            ("Content-Type", "application/json"),
        ],
        Some(&json!({ "up": true })),
    )
    .await
}

async fn management(host: &Host, method: reqwest::Method, path: &str, key: &str) -> Answer {
    let auth = bearer(key);
    send(host, method, path, &[("Authorization", &auth)], None).await
}

/// Creates a project through the API; `body` adds to `{name, id}`.
async fn create(host: &Host, id: &str, extra: Value) -> (TestProject, Value) {
    let mut body = json!({ "name": id, "id": id });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, created) = host.post("/projects", ADMIN_TOKEN, body).await;
    assert_eq!(status, 201, "{created}");
    let project = TestProject {
        id: id.into(),
        secret_key: created["secret_key"].as_str().unwrap().into(),
        publishable_key: created["publishable_key"].as_str().unwrap().into(),
    };
    (project, created)
}

/// How many events the project's log holds.
async fn logged(host: &Host, project: &TestProject) -> usize {
    let (status, page) = host
        .get(
            &format!("/projects/{}/events?limit=100", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().len()
}

/// Sends single events until one is refused (at most `tries`); returns
/// how many passed and the refusal.
async fn until_refused(host: &Host, project: &TestProject, tries: usize) -> (usize, Answer) {
    for passed in 0..tries {
        let answer = event(host, project).await;
        if answer.status != 202 {
            return (passed, answer);
        }
    }
    panic!("no 429 after {tries} events at 2/s, burst 3");
}

/// A `429` for an empty bucket of 3: `Retry-After` 1 (half a second at
/// 2/s, rounded up) and the headers.
fn assert_refused(answer: &Answer, limit: u64, case: &str) {
    assert_eq!(answer.status, 429, "{case}: {}", answer.body);
    assert_eq!(answer.body["error"], "rate_limited", "{case}");
    assert_eq!(answer.number("retry-after"), 1, "{case}: 1 token at 2/s");
    let (got_limit, remaining, reset) = answer.quota();
    assert_eq!((got_limit, remaining), (limit, 0), "{case}");
    assert!(
        (1..=2).contains(&reset),
        "{case}: an empty bucket of {limit} at 2/s is full in 1.5 s, got {reset}"
    );
}

async fn per_project_limits_with_headers(host: &Host) {
    let (limited, created) = create(
        host,
        "limited",
        json!({ "ingest_limit": { "events_per_second": 2, "burst": 3 } }),
    )
    .await;
    assert_eq!(
        created["ingest_limit"],
        json!({ "events_per_second": 2, "burst": 3 })
    );
    assert_eq!(created["effective_ingest_limit"], created["ingest_limit"]);
    let (open, created) = create(host, "open", json!({})).await;
    assert_eq!(created["ingest_limit"], Value::Null);
    assert_eq!(
        created["effective_ingest_limit"],
        json!({ "events_per_second": 1000, "burst": 2000 }),
        "projects without their own limit have the [ingest] default"
    );

    // A fresh bucket holds 3: one event leaves 2, full again in 0.5 s.
    let first = event(host, &limited).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.quota(), (3, 2, 1), "limit, remaining, reset");
    // A bulk of 2 takes the rest (one token may have come back meanwhile).
    let two = bulk(host, &limited, 2).await;
    assert_eq!(two.status, 202, "{}", two.body);
    let (limit, remaining, reset) = two.quota();
    assert_eq!(limit, 3);
    assert!(remaining <= 1, "3 - 1 - 2, plus a refill: {remaining}");
    assert!((1..=2).contains(&reset), "{reset}");
    let (passed, refused) = until_refused(host, &limited, 4).await;
    assert!(passed <= 2, "{passed} passed an empty bucket");
    assert_refused(&refused, 3, "single event");
    // Bulk and inbound meet the same empty bucket.
    let refused_bulk = bulk(host, &limited, 2).await;
    if refused_bulk.status == 202 {
        // A token came back; the next one cannot have.
        assert_refused(&bulk(host, &limited, 2).await, 3, "bulk after a refill");
    } else {
        assert_refused(&refused_bulk, 3, "bulk");
    }
    assert_eq!(
        logged(host, &limited).await,
        3 + passed + usize::from(refused_bulk.status == 202) * 2,
        "nothing stored for a 429"
    );

    // Another project's budget is its own, at the default.
    let other = event(host, &open).await;
    assert_eq!(other.status, 202, "{}", other.body);
    assert_eq!(other.quota(), (2000, 1999, 1));

    // A changed limit applies to the next request: 1000/s refills the
    // empty bucket within a few milliseconds.
    let path = format!("/projects/{}", limited.id);
    let raised = json!({ "ingest_limit": { "events_per_second": 1000 } });
    let (status, changed) = put(host, &path, &limited.secret_key, raised).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["ingest_limit"],
        json!({ "events_per_second": 1000, "burst": 2000 }),
        "burst defaults to two seconds' worth"
    );
    let after = host
        .eventually(std::time::Duration::from_secs(10), || async {
            let answer = event(host, &limited).await;
            (answer.status == 202).then_some(answer)
        })
        .await;
    assert_eq!(after.quota().0, 2000, "the new burst is the limit");
    // A 207 (some items invalid) took its valid items from the bucket.
    let auth = bearer(&limited.secret_key);
    let mixed = send(
        host,
        reqwest::Method::POST,
        &format!("/projects/{}/events/bulk", limited.id),
        &[("Authorization", &auth)],
        Some(&json!({ "events": [
            { "event": "user.signup", "payload": {} },
            { "event": "user.signup", "payload": [] },
        ] })),
    )
    .await;
    assert_eq!(mixed.status, 207, "{}", mixed.body);
    assert_eq!(mixed.quota().0, 2000, "207 answers carry the headers");
    let (status, reset) = put(
        host,
        &path,
        &limited.secret_key,
        json!({ "ingest_limit": null }),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["ingest_limit"], Value::Null);
    assert_eq!(reset["effective_ingest_limit"]["burst"], 2000);
    let (status, shown) = host.get(&path, &limited.secret_key).await;
    assert_eq!(status, 200);
    assert_eq!(shown["ingest_limit"], Value::Null, "{shown}");
}

async fn put(host: &Host, path: &str, key: &str, body: Value) -> (u16, Value) {
    host.call(reqwest::Method::PUT, path, Some(key), Some(&body))
        .await
}

async fn inbound_shares_the_budget(host: &Host) {
    let (project, _) = create(
        host,
        "inbound-limited",
        json!({ "ingest_limit": { "events_per_second": 2, "burst": 3 } }),
    )
    .await;
    let (status, body) = put(
        host,
        &format!(
            "/projects/{}/integrations/providers/hmac.monitor",
            project.id
        ),
        &project.secret_key,
        json!({ "config": { "api_key": "monitor-key", "event_type": "beat" } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first = inbound(host, &project).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.quota(),
        (3, 2, 1),
        "inbound answers carry the headers"
    );
    // The API's events take the rest of the same bucket…
    let two = bulk(host, &project, 2).await;
    assert_eq!(two.status, 202, "{}", two.body);
    // …so inbound meets it empty (allowing one refilled token).
    let mut refused = inbound(host, &project).await;
    if refused.status == 200 {
        refused = inbound(host, &project).await;
    }
    assert_refused(&refused, 3, "inbound");
}

async fn bad_limits_are_refused(host: &Host) {
    for (limit, field) in [
        (
            json!({ "events_per_second": 0 }),
            "ingest_limit.events_per_second",
        ),
        (
            json!({ "events_per_second": 5, "burst": 0 }),
            "ingest_limit.burst",
        ),
        (
            json!({ "events_per_second": 2_000_000 }),
            "ingest_limit.events_per_second",
        ),
        (
            json!({ "events_per_second": 5, "bursts": 9 }),
            "ingest_limit.bursts",
        ),
    ] {
        let (status, error) = host
            .post(
                "/projects",
                ADMIN_TOKEN,
                json!({ "name": "bad", "ingest_limit": limit }),
            )
            .await;
        assert_eq!(status, 400, "{limit}: {error}");
        assert_eq!(error["field"], field, "{limit}: {error}");
    }
}

fn limits_config(storage: String) -> HostConfig {
    HostConfig {
        ingest: DEFAULT_INGEST.into(),
        storage,
        ..HostConfig::default()
    }
}

fn redis_storage(redis: &RedisServer) -> String {
    format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_project_limits_on_the_embedded_store() {
    let host = Host::start("rate-limits", limits_config(String::new()));
    per_project_limits_with_headers(&host).await;
    inbound_shares_the_budget(&host).await;
    bad_limits_are_refused(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_project_limits_on_redis() {
    let redis = RedisServer::start("rate-limits");
    let host = Host::start("rate-limits-redis", limits_config(redis_storage(&redis)));
    per_project_limits_with_headers(&host).await;
    inbound_shares_the_budget(&host).await;
}

/// The management API: 2/s, burst 3 per caller.
fn management_config(storage: String) -> HostConfig {
    HostConfig {
        management: "requests_per_second = 2\nburst = 3".into(),
        ..limits_config(storage)
    }
}

async fn management_limit_per_key(host: &Host) {
    // The admin token's bucket: this creation takes its first token.
    let (project, _) = create(host, "managed", json!({})).await;
    let (other, _) = create(host, "other-team", json!({})).await;
    let path = format!("/projects/{}", project.id);
    let first = management(host, reqwest::Method::GET, &path, &project.secret_key).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.quota(), (3, 2, 1), "a key's own bucket, fresh");
    let mut passed = 1;
    let refused = loop {
        let answer = management(host, reqwest::Method::GET, &path, &project.secret_key).await;
        if answer.status != 200 {
            break answer;
        }
        passed += 1;
        assert!(
            passed <= 5,
            "no 429 after {passed} requests at 2/s, burst 3"
        );
    };
    assert!((3..=4).contains(&passed), "{passed} passed a bucket of 3");
    assert_refused(&refused, 3, "management");

    // A refused change does nothing.
    let hooks = format!("/projects/{}/integrations/webhooks", project.id);
    let auth = bearer(&project.secret_key);
    let mut create_hook = send(
        host,
        reqwest::Method::POST,
        &hooks,
        &[("Authorization", &auth)],
        Some(&json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] })),
    )
    .await;
    let mut created = 0;
    while create_hook.status == 201 {
        // A token came back between the requests.
        created += 1;
        assert!(created < 3, "the bucket should be empty");
        create_hook = send(
            host,
            reqwest::Method::POST,
            &hooks,
            &[("Authorization", &auth)],
            Some(&json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] })),
        )
        .await;
    }
    assert_refused(&create_hook, 3, "management write");

    // Other callers have their own buckets; ingestion is not management.
    let admin = management(host, reqwest::Method::GET, &path, ADMIN_TOKEN).await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(admin.quota().0, 3, "the admin token's own bucket");
    let others = management(
        host,
        reqwest::Method::GET,
        &format!("/projects/{}", other.id),
        &other.secret_key,
    )
    .await;
    assert_eq!(others.status, 200, "{}", others.body);
    assert_eq!(others.quota(), (3, 2, 1));
    let ingested = event(host, &project).await;
    assert_eq!(ingested.status, 202, "{}", ingested.body);
    assert_eq!(ingested.quota().0, 2000, "the project's ingestion bucket");
    let unauthenticated = send(host, reqwest::Method::GET, &path, &[], None).await;
    assert_eq!(unauthenticated.status, 401);
    assert!(
        !unauthenticated.has_quota(),
        "no credentials, no bucket: {:?}",
        unauthenticated.headers
    );
    let health = send(host, reqwest::Method::GET, "/healthz", &[], None).await;
    assert!(!health.has_quota(), "operations routes are not limited");

    // Once the wait has passed the webhook list shows nothing was created
    // by the refused request.
    let wait = create_hook.number("retry-after");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let list = management(host, reqwest::Method::GET, &hooks, &project.secret_key).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        created,
        "{}",
        list.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_is_limited_per_key_on_the_embedded_store() {
    let host = Host::start("manage-limits", management_config(String::new()));
    management_limit_per_key(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_is_limited_per_key_on_redis() {
    let redis = RedisServer::start("manage-limits");
    let host = Host::start(
        "manage-limits-redis",
        management_config(redis_storage(&redis)),
    );
    management_limit_per_key(&host).await;
}

/// Two instances on one Redis draw on one bucket per project and per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_redis_share_the_buckets() {
    let redis = RedisServer::start("shared-limits");
    let a = Host::start("shared-limits-a", management_config(redis_storage(&redis)));
    let b = Host::start("shared-limits-b", management_config(redis_storage(&redis)));
    let (project, _) = create(
        &a,
        "shared",
        json!({ "ingest_limit": { "events_per_second": 2, "burst": 3 } }),
    )
    .await;
    // A bulk of 9 passes a full bucket of 3 and leaves it 6 in debt:
    // 3.5 s until one token is back, whichever instance asks.
    let on_a = bulk(&a, &project, 9).await;
    assert_eq!(on_a.status, 202, "{}", on_a.body);
    assert_eq!(on_a.quota(), (3, 0, 5), "9 taken from 3: 4.5 s to refill");
    let on_b = event(&b, &project).await;
    assert_eq!(on_b.status, 429, "b sees a's debt: {}", on_b.body);
    let wait = on_b.number("retry-after");
    assert!((3..=4).contains(&wait), "3.5 s less what passed: {wait}");
    assert_eq!(on_b.quota().1, 0);

    let path = format!("/projects/{}", project.id);
    for _ in 0..3 {
        management(&a, reqwest::Method::GET, &path, &project.secret_key).await;
    }
    let mut on_b = management(&b, reqwest::Method::GET, &path, &project.secret_key).await;
    if on_b.status == 200 {
        on_b = management(&b, reqwest::Method::GET, &path, &project.secret_key).await;
    }
    assert_refused(&on_b, 3, "management on the other instance");
}

/// A declared project's limit comes from the TOML; a bad one stops
/// start-up naming its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_projects_take_their_limit_from_the_toml() {
    let sk = format!("hm_sk_{}", "d".repeat(40));
    let pk = format!("hm_pk_{}", "d".repeat(40));
    let host = Host::start(
        "declared-limits",
        HostConfig {
            extra: format!(
                "[[projects]]\nid = \"declared\"\nsecret_key = \"{sk}\"\npublishable_key = \"{pk}\"\n\
                 ingest_limit = {{ events_per_second = 2, burst = 3 }}\n"
            ),
            ..limits_config(String::new())
        },
    );
    let project = TestProject {
        id: "declared".into(),
        secret_key: sk,
        publishable_key: pk,
    };
    let (status, shown) = host.get("/projects/declared", &project.secret_key).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["ingest_limit"],
        json!({ "events_per_second": 2, "burst": 3 })
    );
    let first = event(&host, &project).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.quota(), (3, 2, 1));

    let dir = std::env::temp_dir().join(format!("hookmesh-limits-toml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = format!(
        "[server]\nadmin_token = \"t\"\n[security]\nmaster_key = \"{}\"\n",
        common::host::MASTER_KEY
    );
    let load = |name: &str, rest: &str| {
        let file = dir.join(name);
        std::fs::write(&file, format!("{base}{rest}")).unwrap();
        hookmesh::config::load(Some(&file)).unwrap_err().to_string()
    };
    let bad_values = load(
        "values.toml",
        "[management]\nburst = 1\n\
         [[projects]]\nid = \"a\"\ningest_limit = { events_per_second = 0 }\n\
         [[projects]]\nid = \"b\"\ningest_limit = { events_per_second = 5, burst = 0 }\n",
    );
    let unknown = load(
        "keys.toml",
        "[[projects]]\nid = \"a\"\ningest_limit = { events_per_second = 5, burts = 9 }\n",
    );
    std::fs::remove_dir_all(&dir).ok();
    for (error, key, words) in [
        (
            &bad_values,
            "projects[0].ingest_limit.events_per_second",
            "1-1000000",
        ),
        (&bad_values, "projects[1].ingest_limit.burst", "1-1000000"),
        (&bad_values, "management.burst", "below requests_per_second"),
        (
            &unknown,
            "projects[0].ingest_limit.burts",
            "did you mean `burst`",
        ),
    ] {
        let line = error
            .lines()
            .find(|l| l.contains(&format!("`{key}`")))
            .unwrap_or_else(|| panic!("{key} not named in:\n{error}"));
        assert!(line.contains(words), "{key}: `{line}` should say {words}");
    }
}
