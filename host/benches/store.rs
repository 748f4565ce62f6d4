//! Criterion micro-benchmark: the delivery queue's hot operations per call,
//! for each storage backend, through the async `Backend` trait (each call
//! awaited on a current-thread runtime, as one caller would):
//!
//! - `enqueue`: `Backend::ingest` of one event (the 831-byte payload of
//!   `render-event.json`) with one delivery, one call per event;
//! - `ack`: `Backend::record_attempt` of a successful attempt with
//!   `DeliveryChange::Ack` on the head of a queue (queued beforehand,
//!   untimed, so every ack has a queued delivery; the endpoint is claimed
//!   first, as the dispatcher does);
//! - `peek-head` / `peek-64`: `Backend::queue_peek` of 1 and of 64 (the
//!   dispatcher's window) deliveries of a queue 1,000 deep.
//!
//! Backends:
//!
//! - `embedded`: redb in a fresh temporary directory. Every `ingest` is a
//!   durable commit (fsync; one caller here, so the group commit holds one
//!   event): that fsync is the real cost of accepting an event. Acks are
//!   committed without fsync (made durable every 50 ms by the flusher);
//! - `redis`: a private `redis-server` on a free loopback port started by
//!   this bench through the test harness (`tests/common/redis.rs`: AOF on,
//!   `appendfsync everysec`, killed when the bench ends); one client, so
//!   each call is at least one loopback round trip.
//!
//! At the end, the Redis part prints the server's own time per script call
//! (`INFO commandstats`, the `cmdstat_eval*` lines), summed over every call
//! the run made; a filter (`-- redis/peek-64`) narrows it to one operation
//! (plus the untimed queue filling).
//!
//! `redis-server` must be on `PATH` (`tests/run.sh` installs it). Run:
//!
//! ```sh
//! cargo bench -p hookmesh --bench store
//! ```

use hookmesh_test_support::redis as redis_server;

use criterion::{criterion_main, BatchSize, Criterion};
use hookmesh::store::embedded::EmbeddedStore;
use hookmesh::store::redis::{RedisOptions, RedisStore};
use hookmesh::store::{
    Attempt, AttemptOutcome, Backend, DeliveryChange, DeliveryStatus, Event, InProcess, NewEvent,
};
use redis_server::RedisServer;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs one store call to completion.
fn wait<T>(call: impl std::future::Future<Output = T>) -> T {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
    }
    RUNTIME.with(|runtime| runtime.block_on(call))
}

const ENQUEUE_EP: &str = "ep_enqueue";
const ACK_EP: &str = "ep_ack";
const PEEK_EP: &str = "ep_peek";
/// Deliveries queued on [`PEEK_EP`].
const PEEK_DEPTH: usize = 1_000;
/// The dispatcher's read window (`WORK_WINDOW` in `dispatch/deliver.rs`).
const PEEK_WINDOW: usize = 64;
/// Events per untimed `ingest` call when filling a queue.
const FILL_BATCH: usize = 500;

/// Builds unique events with the bench payload.
struct Events {
    payload: Vec<u8>,
    next: AtomicU64,
}

impl Events {
    fn new() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/render-event.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let input: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Self {
            payload: input["payload"].to_string().into_bytes(),
            next: AtomicU64::new(0),
        }
    }

    /// One event with one delivery to `endpoint`; the delivery's id.
    fn one(&self, endpoint: &str) -> (NewEvent, String) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("evt_bench{n:010}");
        let delivery_id = format!("dlv_bench{n:010}");
        let event = NewEvent {
            event: Event {
                id,
                project_id: "proj_bench".into(),
                event_type: "user.created".into(),
                resource: Some("user".into()),
                resource_id: Some("usr_2048".into()),
                payload: self.payload.clone(),
                time_created_ms: hookmesh::now_ms(),
                source: None,
            },
            deliveries: vec![(endpoint.to_string(), delivery_id.clone())],
            idempotency: None,
        };
        (event, delivery_id)
    }

    /// Queues `count` deliveries on `endpoint` (few large `ingest` calls);
    /// their ids in queue order.
    fn fill(&self, store: &dyn Backend, endpoint: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let n = FILL_BATCH.min(count - ids.len());
            let (batch, batch_ids): (Vec<NewEvent>, Vec<String>) =
                (0..n).map(|_| self.one(endpoint)).unzip();
            wait(store.ingest(batch, hookmesh::now_ms()))
                .unwrap_or_else(|e| panic!("filling {endpoint}: {e}"));
            ids.extend(batch_ids);
        }
        ids
    }
}

/// A successful first attempt of `delivery_id`.
fn success(delivery_id: &str) -> Attempt {
    Attempt {
        delivery_id: delivery_id.to_string(),
        number: 1,
        started_ms: hookmesh::now_ms(),
        duration_ms: 3,
        status_code: Some(200),
        response_excerpt: "ok".into(),
        error: None,
        outcome: AttemptOutcome::Success,
        requests: Vec::new(),
        response_headers: Vec::new(),
    }
}

/// Measurement settings of one backend.
struct Settings {
    /// Samples of `enqueue` (small where each call fsyncs).
    enqueue_samples: usize,
    /// Samples of the other operations.
    samples: usize,
}

fn bench_backend(c: &mut Criterion, name: &str, store: &dyn Backend, settings: &Settings) {
    let events = Events::new();
    let mut group = c.benchmark_group(format!("store/{name}"));
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.sample_size(settings.enqueue_samples);
    group.bench_function("enqueue", |b| {
        b.iter_batched(
            || vec![events.one(ENQUEUE_EP).0],
            |batch| {
                wait(store.ingest(batch, hookmesh::now_ms()))
                    .unwrap_or_else(|e| panic!("ingest: {e}"))
            },
            BatchSize::SmallInput,
        )
    });

    group.sample_size(settings.samples);
    assert!(wait(store.claim(ACK_EP)).unwrap_or_else(|e| panic!("claim: {e}")));
    group.bench_function("ack", |b| {
        b.iter_custom(|iters| {
            let count = usize::try_from(iters).unwrap_or(usize::MAX);
            let attempts: Vec<Arc<Attempt>> = events
                .fill(store, ACK_EP, count)
                .iter()
                .map(|id| Arc::new(success(id)))
                .collect();
            let started = Instant::now();
            for attempt in &attempts {
                let delivery = wait(store.record_attempt(
                    ACK_EP,
                    black_box(Arc::clone(attempt)),
                    DeliveryChange::Ack,
                ))
                .unwrap_or_else(|e| panic!("ack: {e}"));
                debug_assert_eq!(delivery.status, DeliveryStatus::Succeeded);
            }
            let elapsed = started.elapsed();
            let left = wait(store.queue_head(ACK_EP)).unwrap_or_else(|e| panic!("queue_head: {e}"));
            assert!(left.is_none(), "every queued delivery was acked");
            elapsed
        })
    });

    events.fill(store, PEEK_EP, PEEK_DEPTH);
    for (label, limit) in [("peek-head", 1), ("peek-64", PEEK_WINDOW)] {
        let peeked = wait(store.queue_peek(PEEK_EP, limit)).unwrap_or_else(|e| panic!("peek: {e}"));
        assert_eq!(peeked.len(), limit);
        group.bench_function(label, |b| {
            b.iter(|| wait(store.queue_peek(black_box(PEEK_EP), limit)))
        });
    }
    group.finish();
}

/// A fresh directory for the embedded store, removed at the end.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookmesh-bench-store-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn embedded(c: &mut Criterion) {
    let dir = scratch_dir();
    let store = InProcess::new(
        EmbeddedStore::open(&dir.join("hookmesh.redb"))
            .unwrap_or_else(|e| panic!("cannot open the embedded store: {e}")),
    );
    let settings = Settings {
        enqueue_samples: 10,
        samples: 30,
    };
    bench_backend(c, "embedded", &store, &settings);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}

fn redis(c: &mut Criterion) {
    let server = RedisServer::start("bench-store");
    let store = RedisStore::open(RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        prefix: "bench:".into(),
        lease_ttl: Duration::from_secs(30),
        retention: Duration::from_secs(3600),
    })
    .unwrap_or_else(|e| panic!("cannot open the Redis store on {}: {e}", server.url()));
    let settings = Settings {
        enqueue_samples: 30,
        samples: 30,
    };
    bench_backend(c, "redis", &store, &settings);
    // Where the time goes: the server's own time per script call (`eval`
    // or `evalsha`), over everything this run sent; run one bench alone (e.g.
    // `-- redis/peek-64`) to see its share.
    let stats = server.command(&["INFO", "commandstats"]);
    for line in stats.lines().filter(|l| l.starts_with("cmdstat_eval")) {
        println!("redis-server {}", line.trim());
    }
    drop(store);
    drop(server);
}

/// The generated group stays private: no public item to document.
mod group {
    criterion::criterion_group!(benches, super::embedded, super::redis);
}
criterion_main!(group::benches);
