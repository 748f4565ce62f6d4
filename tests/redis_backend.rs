//! The Redis backend end to end: real `hookmesh` processes sharing a real
//! `redis-server` (or a 3-master Redis Cluster) started by each test on
//! free loopback ports, the real wasm webhook plugin, a real receiver.
//!
//! - two instances, 10,000 events over 50 endpoints ingested through both:
//!   all delivered once, in order per endpoint;
//! - one instance killed with SIGKILL mid-load: its endpoints move to the
//!   other within the lease bound, nothing lost, order kept;
//! - Redis killed and restarted (AOF, `appendfsync always`) mid-load:
//!   ingestion answers 503 + Retry-After meanwhile, and every event that got
//!   a 202 is delivered;
//! - the same restart under load with two instances and ordered endpoints:
//!   every acknowledged event delivered, in order, at most one duplicate
//!   per endpoint;
//! - a 5/s endpoint rate limit holds with both instances running;
//! - the whole path on a Redis Cluster.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::receiver::{Received, Receiver, Reply};
use common::redis_server::{RedisCluster, RedisServer};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lease TTL of the test hosts: failover takes about 4/3 of it.
const LEASE_TTL: &str = "2s";
/// The failover bound the tests hold the hosts to.
const FAILOVER_BOUND: Duration = Duration::from_secs(10);

fn redis_config(storage: &str) -> HostConfig {
    HostConfig {
        storage: storage.to_string(),
        ..HostConfig::default()
    }
}

fn single(redis: &RedisServer) -> String {
    format!(
        "backend = \"redis\"\nredis_url = \"{}\"\nlease_ttl = \"{LEASE_TTL}\"",
        redis.url()
    )
}

/// 50 endpoints on one receiver, endpoint `i` at `/ep/{i}` taking the
/// events whose `payload.ep` is `i`.
async fn endpoints(host: &Host, project: &TestProject, receiver: &Receiver, n: usize) {
    for i in 0..n {
        host.create_webhook(
            project,
            json!({ "url": receiver.url(&format!("/ep/{i}")), "events": ["order.paid"],
                    "filter": { "payload.ep": i } }),
        )
        .await;
    }
}

/// Events `from..to` of every endpoint, interleaved, as bulk bodies of at most 1,000.
fn bulks(endpoints: usize, from: usize, to: usize) -> Vec<Vec<Value>> {
    let events: Vec<Value> = (from..to)
        .flat_map(|n| {
            (0..endpoints)
                .map(move |ep| json!({ "event": "order.paid", "payload": { "ep": ep, "n": n } }))
        })
        .collect();
    events.chunks(1000).map(<[Value]>::to_vec).collect()
}

/// Sends the bulks through `a` and `b` in turn, each answered before the next.
async fn ingest_alternately(a: &Host, b: &Host, project: &TestProject, bulks: Vec<Vec<Value>>) {
    for (i, events) in bulks.into_iter().enumerate() {
        let host = if i % 2 == 0 { a } else { b };
        host.send_bulk(project, events).await;
    }
}

/// Of two hosts, the one holding more endpoint leases, with that count.
fn busier<'h>(redis: &RedisServer, a: &'h mut Host, b: &'h mut Host) -> (&'h mut Host, usize) {
    let held_by = |host: &Host| {
        let owner = host
            .log_value("owner")
            .expect("the host logs its lease owner id");
        leases_held(redis, &owner)
    };
    let (held_a, held_b) = (held_by(a), held_by(b));
    if held_a >= held_b {
        (a, held_a)
    } else {
        (b, held_b)
    }
}

/// Per endpoint `0..endpoints`, the longest gap between two arrivals of
/// which the later came after `since`.
fn silences_after(received: &[Received], endpoints: u64, since: Instant) -> Vec<Duration> {
    (0..endpoints)
        .map(|ep| {
            let times: Vec<Instant> = received
                .iter()
                .filter(|r| r.path == format!("/ep/{ep}"))
                .map(|r| r.at)
                .collect();
            times
                .windows(2)
                .filter(|w| w[1] > since)
                .map(|w| w[1].duration_since(w[0]))
                .max()
                .unwrap_or_default()
        })
        .collect()
}

/// How many endpoint leases are held now.
fn leases(redis: &RedisServer) -> usize {
    let keys = redis.command(&["KEYS", "hm:*:lease"]);
    keys.lines().filter(|key| !key.is_empty()).count()
}

/// How many endpoint leases `owner` holds now.
fn leases_held(redis: &RedisServer, owner: &str) -> usize {
    let keys = redis.command(&["KEYS", "hm:*:lease"]);
    keys.lines()
        .filter(|key| !key.is_empty())
        .filter(|key| {
            redis
                .command(&["GET", key])
                .starts_with(&format!("{owner}/"))
        })
        .count()
}

/// Per endpoint: the `n`s in arrival order.
fn per_endpoint(received: &[Received]) -> HashMap<u64, Vec<u64>> {
    let mut by_endpoint: HashMap<u64, Vec<u64>> = HashMap::new();
    for r in received {
        let body = r.json();
        let (ep, n) = (
            body["payload"]["ep"].as_u64().unwrap(),
            body["payload"]["n"].as_u64().unwrap(),
        );
        by_endpoint.entry(ep).or_default().push(n);
    }
    by_endpoint
}

/// Every endpoint got `0..count` in order (first arrivals), and the number
/// of repeated arrivals (at-least-once re-sends).
fn check_order(received: &[Received], endpoints: usize, count: u64) -> usize {
    let by_endpoint = per_endpoint(received);
    assert_eq!(
        by_endpoint.len(),
        endpoints,
        "every endpoint received events"
    );
    let mut repeats = 0;
    for (ep, arrivals) in &by_endpoint {
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<u64> = arrivals
            .iter()
            .copied()
            .filter(|n| seen.insert(*n))
            .collect();
        repeats += arrivals.len() - firsts.len();
        let expected: Vec<u64> = (0..count).collect();
        assert_eq!(
            firsts, expected,
            "endpoint {ep}: first arrivals out of order or missing"
        );
    }
    repeats
}

/// The answer to one `POST /projects/{p}/events`.
enum Ingestion {
    /// 202, with the event id (the `webhook-id` of its deliveries).
    Accepted(String),
    /// 503 (with `Retry-After`): storage unavailable, not acknowledged.
    Unavailable,
}

/// Ingests one event with the publishable key (and `Idempotency-Key`
/// when given). Panics on an answer other than 202 or 503 + Retry-After.
async fn ingest(
    host: &Host,
    project: &TestProject,
    event: &Value,
    idempotency_key: Option<&str>,
) -> Ingestion {
    let mut request = host
        .http
        .post(host.url(&format!("/projects/{}/events", project.id)))
        .bearer_auth(&project.publishable_key)
        .json(event);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await;
    let answer = match response {
        Ok(r) => {
            let (status, retry_after) = (
                r.status().as_u16(),
                r.headers().get("retry-after").is_some(),
            );
            (status, retry_after, r.json::<Value>().await.ok())
        }
        Err(e) => panic!("unexpected answer {e:?}"),
    };
    match answer {
        (202, _, Some(body)) => Ingestion::Accepted(body["id"].as_str().unwrap().to_string()),
        (503, retry_after, _) => {
            assert!(retry_after, "503 without Retry-After");
            Ingestion::Unavailable
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Once `accepted()` reaches `threshold`: Redis dies (SIGKILL), stays
/// down for `down`, then comes back from its AOF (same port and dir).
/// Returns how long it was unreachable (kill to `PONG`).
async fn redis_outage_after(
    redis: &mut RedisServer,
    threshold: usize,
    accepted: impl Fn() -> usize,
    down: Duration,
) -> Duration {
    while accepted() < threshold {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| redis.kill());
    tokio::time::sleep(down).await;
    tokio::task::block_in_place(|| redis.restart());
    killed_at.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_every_event_once_in_order() {
    let redis = RedisServer::start("two-instances");
    let receiver = Receiver::ok();
    let a = Host::start("redis-a", redis_config(&single(&redis)));
    let b = Host::start("redis-b", redis_config(&single(&redis)));
    let project = a.create_project("acme").await;
    endpoints(&b, &project, &receiver, 50).await;
    let started = Instant::now();
    ingest_alternately(&a, &b, &project, bulks(50, 0, 200)).await;
    let received = receiver.wait_for(10_000, Duration::from_secs(180)).await;
    let elapsed = started.elapsed();
    // Idle endpoints keep their lease a third of the TTL, then give it back.
    let idle_since = Instant::now();
    while leases(&redis) > 0 && idle_since.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(leases(&redis), 0, "leases given back once idle");
    let received_all = receiver.received();
    assert_eq!(received_all.len(), 10_000, "no duplicates without failures");
    assert_eq!(check_order(&received, 50, 200), 0);
    eprintln!(
        "two instances: 10,000 deliveries over 50 endpoints in {elapsed:?} ({:.0}/s)",
        10_000.0 / elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_endpoints_move_to_the_other() {
    let redis = RedisServer::start("kill-instance");
    // Slow enough that the kill lands mid-load.
    let receiver = Receiver::start(|_, _| {
        std::thread::sleep(Duration::from_millis(2));
        Reply::status(200)
    });
    let mut a = Host::start_process("redis-kill-a", redis_config(&single(&redis)));
    let mut b = Host::start_process("redis-kill-b", redis_config(&single(&redis)));
    let project = a.create_project("acme").await;
    endpoints(&a, &project, &receiver, 50).await;
    ingest_alternately(&a, &b, &project, bulks(50, 0, 200)).await;
    receiver.wait_for(2_000, Duration::from_secs(120)).await;
    // Kill the instance holding more endpoint leases.
    let (victim, held) = busier(&redis, &mut a, &mut b);
    let killed_at = Instant::now();
    victim.kill9();
    let received = receiver.wait_for(10_000, Duration::from_secs(180)).await;
    // A second look after the last first-arrival, for late re-sends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = if receiver.count() > received.len() {
        receiver.received()
    } else {
        received
    };
    let repeats = check_order(&received, 50, 200);

    // The longest silence of any endpoint ending after the kill: the move
    // of the killed instance's endpoints to the other one.
    let silences = silences_after(&received, 50, killed_at);
    let worst = silences.iter().max().copied().unwrap_or_default();
    let moved = silences
        .iter()
        .filter(|s| **s > Duration::from_secs(1))
        .count();
    eprintln!(
        "after SIGKILL: {moved} endpoints moved, longest silence {worst:?}, {repeats} re-sent deliveries"
    );
    assert!(
        held > 0 && moved > 0,
        "the killed instance delivered no endpoint ({held} leases)"
    );
    assert!(worst < FAILOVER_BOUND, "endpoints moved after {worst:?}");
    // At most the deliveries in flight or recorded in the background per endpoint.
    assert!(repeats <= 50 * 20, "{repeats} re-sends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_no_acknowledged_event() {
    let mut redis = RedisServer::start_with("restart", &["--appendfsync", "always"]);
    let receiver = Receiver::ok();
    let host = Arc::new(Host::start("redis-restart", redis_config(&single(&redis))));
    let project = host.create_project("acme").await;
    endpoints(&host, &project, &receiver, 5).await;

    let accepted = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (host, project, accepted, unavailable, next) = (
                Arc::clone(&host),
                project.clone(),
                Arc::clone(&accepted),
                Arc::clone(&unavailable),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= 3_000 || Instant::now() > deadline {
                        return;
                    }
                    let event =
                        json!({ "event": "order.paid", "payload": { "ep": n % 5, "n": n } });
                    match ingest(&host, &project, &event, None).await {
                        Ingestion::Accepted(_) => accepted.lock().unwrap().push(n as u64),
                        Ingestion::Unavailable => {
                            unavailable.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect();
    // Mid-load: Redis dies (SIGKILL) and comes back from its AOF.
    redis_outage_after(
        &mut redis,
        500,
        || accepted.lock().unwrap().len(),
        Duration::from_millis(1500),
    )
    .await;
    for sender in senders {
        sender.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        unavailable.load(Ordering::SeqCst) > 0,
        "the outage was never seen"
    );
    assert!(
        accepted.len() > 1_000,
        "ingestion resumed after the restart"
    );
    let delivered = host
        .eventually(Duration::from_secs(120), || {
            let received = receiver.received();
            let seen: std::collections::HashSet<u64> = received
                .iter()
                .map(|r| r.json()["payload"]["n"].as_u64().unwrap())
                .collect();
            let missing = accepted.iter().filter(|n| !seen.contains(n)).count();
            std::future::ready((missing == 0).then_some(seen.len()))
        })
        .await;
    eprintln!(
        "redis restart: {} accepted, {} answered 503 during the outage, {delivered} distinct delivered",
        accepted.len(),
        unavailable.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_under_load_costs_at_most_one_duplicate_per_endpoint() {
    /// Ordered endpoints, each taking its own sequence of events.
    const ENDPOINTS: usize = 3;
    /// Events per endpoint.
    const EVENTS: usize = 400;
    /// Event `n` of an endpoint leaves no earlier than `n × PACE` after the start.
    const PACE: Duration = Duration::from_millis(5);
    let test_started = Instant::now();
    let mut redis = RedisServer::start_with(
        "restart-load",
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    // Slow enough that deliveries are in flight when Redis dies.
    let receiver = Receiver::start(|_, _| {
        std::thread::sleep(Duration::from_millis(2));
        Reply::status(200)
    });
    let a = Arc::new(Host::start(
        "redis-restart-load-a",
        redis_config(&single(&redis)),
    ));
    let b = Arc::new(Host::start(
        "redis-restart-load-b",
        redis_config(&single(&redis)),
    ));
    let project = a.create_project("acme").await;
    endpoints(&a, &project, &receiver, ENDPOINTS).await;

    // Event id -> (endpoint, n) of every event answered 202.
    let accepted = Arc::new(std::sync::Mutex::new(HashMap::<String, (u64, u64)>::new()));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    // One sender per endpoint, so its ingestion order is `n` order: each
    // event, through `a` and `b` in turn, is sent again (same
    // Idempotency-Key) until it gets a 202, before the next one.
    let senders: Vec<_> = (0..ENDPOINTS)
        .map(|ep| {
            let (a, b, project, accepted, unavailable) = (
                Arc::clone(&a),
                Arc::clone(&b),
                project.clone(),
                Arc::clone(&accepted),
                Arc::clone(&unavailable),
            );
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(15);
                for n in 0..EVENTS {
                    tokio::time::sleep_until(started + PACE * n as u32).await;
                    let host = if n % 2 == 0 { &a } else { &b };
                    let event = json!({ "event": "order.paid", "payload": { "ep": ep, "n": n } });
                    let key = format!("restart-load-{ep}-{n}");
                    loop {
                        match ingest(host, &project, &event, Some(&key)).await {
                            Ingestion::Accepted(id) => {
                                accepted.lock().unwrap().insert(id, (ep as u64, n as u64));
                                break;
                            }
                            Ingestion::Unavailable => {
                                unavailable.fetch_add(1, Ordering::SeqCst);
                                assert!(
                                    Instant::now() < deadline,
                                    "endpoint {ep}: event {n} still unacknowledged"
                                );
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // A third into the load: Redis dies (SIGKILL), ~1 s down, back from its AOF.
    let outage = redis_outage_after(
        &mut redis,
        ENDPOINTS * EVENTS / 3,
        || accepted.lock().unwrap().len(),
        Duration::from_secs(1),
    )
    .await;
    for sender in senders {
        sender.await.unwrap();
    }
    let load = started.elapsed();
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        unavailable.load(Ordering::SeqCst) > 0,
        "the outage was never seen"
    );
    assert_eq!(
        accepted.len(),
        ENDPOINTS * EVENTS,
        "every event acknowledged"
    );

    // Every accepted event delivered at least once…
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen: HashSet<String> = receiver
            .received()
            .iter()
            .filter_map(|r| r.header("webhook-id").map(str::to_string))
            .collect();
        let mut missing: Vec<(u64, u64)> = accepted
            .iter()
            .filter(|(id, _)| !seen.contains(*id))
            .map(|(_, ep_n)| *ep_n)
            .collect();
        if missing.is_empty() {
            break;
        }
        missing.sort_unstable();
        assert!(
            Instant::now() < deadline,
            "{} accepted events never delivered, (endpoint, n): {:?}…",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // …and a second look for late re-sends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    // Duplicates: arrivals of a webhook-id already received, per endpoint.
    let mut arrivals: Vec<HashMap<&str, usize>> = vec![HashMap::new(); ENDPOINTS];
    for r in &received {
        let id = r.header("webhook-id").expect("webhook-id header");
        let ep = r.json()["payload"]["ep"].as_u64().unwrap() as usize;
        assert_eq!(
            r.path,
            format!("/ep/{ep}"),
            "event of endpoint {ep} elsewhere"
        );
        *arrivals[ep].entry(id).or_default() += 1;
    }
    let duplicates: Vec<usize> = arrivals
        .iter()
        .map(|ids| ids.values().map(|count| count - 1).sum())
        .collect();
    let unacknowledged = arrivals
        .iter()
        .flat_map(HashMap::keys)
        .filter(|id| !accepted.contains_key(**id))
        .count();
    eprintln!(
        "redis restart under load: duplicates per endpoint {duplicates:?}; {} accepted, \
         {} answered 503, {unacknowledged} unacknowledged delivered, Redis down {outage:?}, \
         load {load:?}, test {:?}",
        accepted.len(),
        unavailable.load(Ordering::SeqCst),
        test_started.elapsed()
    );
    // …in order per endpoint (first arrivals)…
    check_order(&received, ENDPOINTS, EVENTS as u64);
    // …and at most one duplicate per endpoint.
    for (ep, count) in duplicates.iter().enumerate() {
        assert!(*count <= 1, "endpoint {ep}: {count} duplicate deliveries");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_rate_limit_holds_across_two_instances() {
    let redis = RedisServer::start("rate");
    let receiver = Receiver::ok();
    let a = Host::start("redis-rate-a", redis_config(&single(&redis)));
    let b = Host::start("redis-rate-b", redis_config(&single(&redis)));
    let project = a.create_project("acme").await;
    a.create_webhook(
        &project,
        json!({ "url": receiver.url("/limited"), "events": ["order.paid"], "rate_limit": "5/s" }),
    )
    .await;
    for n in 0..40 {
        let host = if n % 2 == 0 { &a } else { &b };
        host.send_event(&project, "order.paid", json!({ "n": n }))
            .await;
    }
    let received = receiver.wait_for(40, Duration::from_secs(30)).await;
    // After the first burst (5 tokens), the sustained rate.
    let steady = &received[5..];
    let span = steady
        .last()
        .unwrap()
        .at
        .duration_since(steady.first().unwrap().at);
    let rate = (steady.len() - 1) as f64 / span.as_secs_f64();
    eprintln!("rate-limited endpoint: {rate:.2} deliveries/s (limit 5/s)");
    assert!((4.5..=5.5).contains(&rate), "measured {rate:.2}/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_path_works_on_a_redis_cluster() {
    let cluster = RedisCluster::start("cluster", 3);
    let seeds: Vec<String> = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect();
    let storage = format!(
        "backend = \"redis\"\nredis_cluster = [{}]\nlease_ttl = \"{LEASE_TTL}\"",
        seeds.join(", ")
    );
    let receiver = Receiver::ok();
    let a = Host::start("cluster-a", redis_config(&storage));
    let b = Host::start("cluster-b", redis_config(&storage));
    let project = a.create_project("acme").await;
    endpoints(&a, &project, &receiver, 10).await;
    ingest_alternately(&a, &b, &project, bulks(10, 0, 50)).await;
    let received = receiver.wait_for(500, Duration::from_secs(60)).await;
    assert_eq!(check_order(&received, 10, 50), 0);
    // Keys really are spread over the three masters.
    for node in &cluster.nodes {
        let keys: u64 = node.command(&["DBSIZE"]).trim().parse().unwrap();
        assert!(keys > 0, "node {} holds no keys", node.addr());
    }
    // The delivery log reads back through the cluster too.
    let (status, list) = a
        .get(
            &format!("/projects/{}/integrations/webhooks", project.id),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200);
    let id = list["data"][0]["id"].as_str().unwrap();
    let (status, page) = b
        .get(
            &format!(
                "/projects/{}/integrations/webhooks/{id}/deliveries?limit=5",
                project.id
            ),
            &project.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 5, "{page}");
    assert_eq!(page["data"][0]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_hands_its_endpoints_over_without_waiting_for_the_ttl() {
    let redis = RedisServer::start("handover");
    let receiver = Receiver::start(|_, _| {
        std::thread::sleep(Duration::from_millis(2));
        Reply::status(200)
    });
    // A TTL far longer than the hand-over may take.
    let storage = format!(
        "backend = \"redis\"\nredis_url = \"{}\"\nlease_ttl = \"30s\"",
        redis.url()
    );
    let mut a = Host::start_process("handover-a", redis_config(&storage));
    let mut b = Host::start_process("handover-b", redis_config(&storage));
    let project = a.create_project("acme").await;
    endpoints(&a, &project, &receiver, 10).await;
    ingest_alternately(&a, &b, &project, bulks(10, 0, 200)).await;
    receiver.wait_for(300, Duration::from_secs(60)).await;
    let (victim, held) = busier(&redis, &mut a, &mut b);
    assert!(held > 0);
    let stopped_at = Instant::now();
    assert!(victim.terminate(Duration::from_secs(20)).success());
    let received = receiver.wait_for(2_000, Duration::from_secs(60)).await;
    check_order(&received, 10, 200);
    // The longest silence of any endpoint ending after the stop.
    let worst = silences_after(&received, 10, stopped_at)
        .into_iter()
        .max()
        .unwrap_or_default();
    let handover = Duration::from_secs(5);
    eprintln!("SIGTERM with {held} leases: longest silence {worst:?}");
    assert!(
        worst < handover,
        "hand-over took {worst:?} (lease TTL 30 s)"
    );
}
