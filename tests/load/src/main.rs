//! `hookmesh-bench`: the load tool. Starts a hookmesh host (the release
//! binary beside this one) on a throw-away embedded store, runs its own fast
//! receiver on loopback, drives a scenario, and reports ingest throughput
//! and `202` latency, end-to-end delivered events/s and ingest→delivered
//! latency, errors, the host's peak RSS, and the raw ceiling: the same
//! receiver driven by a plain HTTP client loop at the same concurrency. It
//! also reports the relay floor: the same loop through a forwarder that
//! accepts over HTTP and delivers over HTTP and does nothing else (no
//! storage, signing, ordering or retries), the most any webhook service
//! measured this way can reach on the machine.
//!
//! ```sh
//! cargo build --release -p hookmesh -p hookmesh-bench
//! target/release/hookmesh-bench --scenario ordered --events 20000 --concurrency 32
//! ```
//!
//! `--backend redis` runs the host on a private `redis-server` it starts
//! (or on `--redis-url`). Everything is loopback-only and bounded by
//! `--events` and `--timeout`.
//!
//! `--scenario soak` instead sends a steady `--rate` (default 500 events/s)
//! for `--duration` (default 10 min) to one endpoint, the host keeping
//! `--retention` (default 2 min), and every `--sample-every` (default 10 s)
//! prints the store's size (the redb file, or Redis `used_memory`), the
//! host's RSS and the window's ingest→delivered p50/p99, then the table:
//!
//! ```sh
//! target/release/hookmesh-bench --scenario soak --payload-bytes 1024
//! ```

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use hookmesh_test_support::loopback;
use hookmesh_test_support::process::{HostProcess, Launch};
use hookmesh_test_support::redis::RedisServer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: &str = "bench-admin-token-0123456789";
const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scenario {
    /// One ordered endpoint receives every event.
    Ordered,
    /// Events spread over many endpoints (one per shard, by payload filter).
    FanIn,
    /// Every event goes to every endpoint.
    FanOut,
    /// One endpoint whose receiver fails 5% of requests (retries on).
    Failing,
    /// Register `--endpoints` endpoints, then restart: start-up time and RSS.
    Endpoints,
    /// A steady `--rate` (default 500/s) for `--duration` with a short
    /// `--retention`: storage, RSS and latency sampled over time.
    Soak,
}

/// Load tool for hookmesh.
#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "ordered")]
    scenario: Scenario,
    /// Events to ingest.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Concurrent ingestion requests (and raw-ceiling client loops).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Endpoints (fan-in: shards; fan-out: receivers of every event).
    #[arg(long, default_value_t = 1)]
    endpoints: usize,
    /// Pace ingestion at this many events/s (default: as fast as possible;
    /// soak: 500).
    #[arg(long)]
    rate: Option<f64>,
    /// Soak: how long to send.
    #[arg(long, default_value = "10m")]
    duration: humantime::Duration,
    /// Soak: the host's `storage.retention`.
    #[arg(long, default_value = "2m")]
    retention: humantime::Duration,
    /// Soak: time between samples.
    #[arg(long, default_value = "10s")]
    sample_every: humantime::Duration,
    /// Payload padding in bytes.
    #[arg(long, default_value_t = 512)]
    payload_bytes: usize,
    /// What the padding is made of: one repeated letter (compresses to
    /// nothing; the earlier runs' payload) or pseudo-random hex (about as
    /// compressible as a JSON payload of ids and hashes).
    #[arg(long, value_enum, default_value = "repeat")]
    padding: Padding,
    /// Give up after this long.
    #[arg(long, default_value = "300s")]
    timeout: humantime::Duration,
    /// The hookmesh binary (default: beside this one).
    #[arg(long)]
    host_bin: Option<PathBuf>,
    /// Plugins dir for the host.
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    /// Storage backend of the host.
    #[arg(long, value_enum, default_value = "embedded")]
    backend: Backend,
    /// With `--backend redis`: use this Redis (`redis://127.0.0.1:6379/`,
    /// keys under a fresh `bench<pid>` prefix) instead of starting a
    /// private `redis-server` (AOF on, `appendfsync everysec`).
    #[arg(long)]
    redis_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Padding {
    /// `xxxx…`
    Repeat,
    /// Pseudo-random lower-case hex digits (the same every run).
    Hex,
}

/// `bytes` of padding of `kind`.
fn padding(kind: Padding, bytes: usize) -> String {
    match kind {
        Padding::Repeat => "x".repeat(bytes),
        Padding::Hex => {
            let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
            (0..bytes)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    char::from(b"0123456789abcdef"[(state >> 60) as usize])
                })
                .collect()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// One redb file (fsync per group commit).
    Embedded,
    /// Redis (one server).
    Redis,
}

/// What the receiver saw.
struct Sink {
    /// Per event sequence number: arrivals (fan-out counts each endpoint).
    arrivals: AtomicUsize,
    /// Sum and samples of ingest→delivered latency, µs.
    latencies_us: Mutex<Vec<u64>>,
    /// Requests answered 500 on purpose.
    failed_on_purpose: AtomicU64,
    /// Send instants by sequence number (set by the ingest loop).
    sent: Mutex<Vec<Option<Instant>>>,
    failing: bool,
    seen: AtomicU64,
    /// TCP connections the receiver accepted.
    connections: Arc<AtomicU64>,
}

async fn receive(
    sink: actix_web::web::Data<Sink>,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let n = sink.seen.fetch_add(1, Ordering::Relaxed);
    // Every 20th request fails: 5% of attempts, retried by hookmesh.
    if sink.failing && n % 20 == 7 {
        sink.failed_on_purpose.fetch_add(1, Ordering::Relaxed);
        return actix_web::HttpResponse::InternalServerError().finish();
    }
    let seq = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["payload"]["seq"].as_u64());
    if let Some(seq) = seq {
        let sent = sink
            .sent
            .lock()
            .ok()
            .and_then(|s| s.get(seq as usize).copied().flatten());
        if let Some(sent) = sent {
            let us = sent.elapsed().as_micros() as u64;
            if let Ok(mut l) = sink.latencies_us.lock() {
                l.push(us);
            }
        }
    }
    sink.arrivals.fetch_add(1, Ordering::Relaxed);
    actix_web::HttpResponse::NoContent().finish()
}

fn start_receiver(sink: Arc<Sink>) -> anyhow::Result<String> {
    let connections = Arc::clone(&sink.connections);
    let data = actix_web::web::Data::from(sink);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let configure = move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(data.clone())
            .default_service(actix_web::web::to(receive));
    };
    loopback::serve_counting(listener, 2, configure, connections)?;
    Ok(format!("http://{addr}"))
}

/// Serves what `configure` sets up on a free loopback port, 2 workers, on
/// its own thread; returns its base URL.
fn serve_on_loopback(
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    loopback::serve(listener, 2, configure)?;
    Ok(format!("http://{addr}"))
}

/// The relay floor's forwarding side.
struct Relay {
    client: reqwest::Client,
    target: String,
}

/// Forwards the body to the receiver and answers `202` once it arrived:
/// what any service that accepts over HTTP and delivers over HTTP must do
/// at the least, without storing, signing or ordering anything.
async fn relay(
    relay: actix_web::web::Data<Relay>,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let forwarded = relay
        .client
        .post(&relay.target)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match forwarded {
        Ok(answer) if answer.status().is_success() => actix_web::HttpResponse::Accepted().finish(),
        _ => actix_web::HttpResponse::BadGateway().finish(),
    }
}

/// Starts the relay floor (2 workers, like the receiver) in front of `target`.
fn start_relay(target: String) -> anyhow::Result<String> {
    let data = actix_web::web::Data::new(Relay {
        client: reqwest::Client::new(),
        target,
    });
    serve_on_loopback(move |cfg| {
        cfg.app_data(data.clone())
            .default_service(actix_web::web::to(relay));
    })
}

/// Requests/s of `total` JSON posts to `url` by `concurrency` client loops.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    total: usize,
    padding: &str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let (client, counter, url) = (client.clone(), counter.clone(), url.to_string());
        let body = json!({ "event": "user.created", "payload": { "padding": padding } });
        loops.push(tokio::spawn(async move {
            while counter.fetch_add(1, Ordering::Relaxed) < total {
                let _ = client.post(&url).json(&body).send().await;
            }
        }));
    }
    for l in loops {
        l.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

struct Host {
    process: HostProcess,
    /// The private redis-server of a `--backend redis` run.
    redis: Option<RedisServer>,
    addr: String,
    dir: PathBuf,
    bin: PathBuf,
    config: PathBuf,
}

impl Host {
    /// Kills and starts the host again on the same store; returns the start-up time.
    fn restart(&mut self) -> anyhow::Result<Duration> {
        self.process.kill9();
        let started = Instant::now();
        let (process, addr) = spawn_host(&self.bin, &self.config)?;
        self.process = process;
        self.addr = addr;
        Ok(started.elapsed())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.process.kill9();
        if let Some(redis) = &mut self.redis {
            redis.kill();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn start_host(args: &Args) -> anyhow::Result<Host> {
    let bin = match &args.host_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("hookmesh"),
    };
    let dir = std::env::temp_dir().join(format!("hookmesh-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (redis_child, redis_url) = match (args.backend, &args.redis_url) {
        (Backend::Embedded, _) => (None, None),
        (Backend::Redis, Some(url)) => (None, Some(url.clone())),
        (Backend::Redis, None) => {
            let redis = RedisServer::start("bench");
            let url = redis.url();
            (Some(redis), Some(url))
        }
    };
    let redis = match &redis_url {
        Some(url) => format!(
            "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"bench{}\"\n",
            std::process::id()
        ),
        None => String::new(),
    };
    let retention = match args.scenario {
        Scenario::Soak => format!("retention = \"{}\"\n", args.retention),
        _ => String::new(),
    };
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN}\"\nmax_body_kb = 4096\n[storage]\npath = \"{}\"\n{retention}{redis}\
         [plugins]\ndir = \"{}\"\n[security]\nmaster_key = \"{MASTER_KEY}\"\nhttps_only = false\nallow_private_targets = true\n\
         [delivery]\nretry_schedule = [\"100ms\"]\njitter = 0.0\n[ingest]\nevents_per_second = 10000000\nburst = 10000000\n\
         [management]\nrequests_per_second = 10000000\nburst = 10000000\n",
        dir.join("bench.redb").display(),
        std::fs::canonicalize(&args.plugins).with_context(|| format!("plugins dir {}", args.plugins.display()))?.display()
    );
    let config_path = dir.join("bench.toml");
    std::fs::write(&config_path, config)?;
    let (process, addr) = spawn_host(&bin, &config_path)?;
    Ok(Host {
        process,
        redis: redis_child,
        addr,
        dir,
        bin,
        config: config_path,
    })
}

/// Starts the host binary and waits for its address.
fn spawn_host(
    bin: &std::path::Path,
    config_path: &std::path::Path,
) -> anyhow::Result<(HostProcess, String)> {
    let process = HostProcess::start(&Launch {
        bin,
        config: config_path,
        log_filter: "warn,hookmesh::server=info",
        echo: false,
        start_timeout: Duration::from_secs(600),
    })
    .with_context(|| format!("starting {}", bin.display()))?;
    let addr = format!("http://{}", process.addr);
    Ok((process, addr))
}

/// The host's process id.
fn host_pid(host: &Host) -> u32 {
    host.process.pid().unwrap_or_default()
}

/// What the store holds now: the redb file's size, or Redis `used_memory`
/// (only for a Redis the tool started).
fn stored_bytes(host: &Host) -> Option<u64> {
    match &host.redis {
        Some(redis) => redis
            .command(&["INFO", "memory"])
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok()),
        None => std::fs::metadata(host.dir.join("bench.redb"))
            .ok()
            .map(|m| m.len()),
    }
}

/// Zeroes a Redis the tool started's command counters.
fn reset_redis_stats(host: &Host) {
    if let Some(redis) = &host.redis {
        redis.command(&["CONFIG", "RESETSTAT"]);
    }
}

/// Commands a Redis the tool started ran since [`reset_redis_stats`]
/// (`INFO commandstats`, the calls scripts make counted too).
fn redis_commands(host: &Host) -> Option<u64> {
    let stats = host.redis.as_ref()?.command(&["INFO", "commandstats"]);
    Some(
        stats
            .lines()
            .filter_map(|line| line.split("calls=").nth(1))
            .filter_map(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .sum(),
    )
}

/// CPU time (user + system) the process has used, in seconds: fields 14
/// and 15 of `/proc/PID/stat`, in clock ticks of 1/100 s (Linux's
/// USER_HZ).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is 3rd.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// CPU seconds a Redis the tool started has used (`INFO cpu`).
fn redis_cpu_seconds(host: &Host) -> Option<f64> {
    let info = host.redis.as_ref()?.command(&["INFO", "cpu"]);
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find_map(|line| line.strip_prefix(name))?
            .trim()
            .parse()
            .ok()
    };
    Some(field("used_cpu_sys:")? + field("used_cpu_user:")?)
}

fn rss_mib(pid: u32) -> Option<f64> {
    proc_status_mib(pid, "VmRSS:")
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    proc_status_mib(pid, "VmHWM:")
}

fn proc_status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Mean attempt, render and classify times from the host's own metrics.
async fn breakdown(client: &reqwest::Client, host: &str) -> String {
    let Ok(response) = client.get(format!("{host}/metrics")).send().await else {
        return "n/a".into();
    };
    let text = response.text().await.unwrap_or_default();
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let mean_us = |metric: &str, labels: &str| -> String {
        match (
            value(&format!("{metric}_sum{labels}")),
            value(&format!("{metric}_count{labels}")),
        ) {
            (Some(sum), Some(count)) if count > 0.0 => format!("{:.0} µs", sum / count * 1e6),
            _ => "n/a".into(),
        }
    };
    format!(
        "attempt incl. its record {} (render {}, classify {})",
        mean_us(
            "hookmesh_attempt_duration_seconds",
            "{provider=\"webhook\"}"
        ),
        mean_us(
            "hookmesh_plugin_call_duration_seconds",
            "{call=\"render\",plugin=\"webhook\"}"
        ),
        mean_us(
            "hookmesh_plugin_call_duration_seconds",
            "{call=\"classify\",plugin=\"webhook\"}"
        ),
    )
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = client.post(url).bearer_auth(key).json(body).send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url}: {status}: {value}");
    }
    Ok(value)
}

/// Registers `--endpoints` idle endpoints, then measures a restart.
async fn endpoint_scale(
    args: &Args,
    client: &reqwest::Client,
    host: &mut Host,
    key: &str,
    receiver: &str,
) -> anyhow::Result<()> {
    let total = args.endpoints;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, key) = (client.clone(), next.clone(), key.to_string());
        let url = format!("{}/projects/bench/integrations/webhooks", host.addr);
        let hook = json!({ "url": format!("{receiver}/idle"), "events": ["user.created"], "filter": { "payload.never": true } });
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                post(&client, &url, &key, &hook).await?;
            }
            anyhow::Ok(())
        }));
    }
    let progress = {
        let next = next.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                eprintln!(
                    "  registered {:>8}",
                    next.load(Ordering::Relaxed).min(total)
                );
            }
        })
    };
    for w in workers {
        w.await??;
    }
    progress.abort();
    let register_secs = started.elapsed().as_secs_f64();
    let rss_registered = proc_status_mib(host_pid(host), "VmRSS:");
    let startup = host.restart()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = proc_status_mib(host_pid(host), "VmRSS:");
    // One event is routed through all of them (none matches the filter).
    let t = Instant::now();
    post(
        client,
        &format!("{}/projects/bench/events", host.addr),
        key,
        &json!({ "event": "user.created", "payload": {} }),
    )
    .await?;
    let first_route = t.elapsed();
    let t = Instant::now();
    post(
        client,
        &format!("{}/projects/bench/events", host.addr),
        key,
        &json!({ "event": "user.created", "payload": {} }),
    )
    .await?;
    let cached_route = t.elapsed();
    let ready: Value = client
        .get(format!("{}/readyz", host.addr))
        .send()
        .await?
        .json()
        .await?;
    println!(
        "scenario            Endpoints ({total} registered, concurrency {})",
        args.concurrency
    );
    println!(
        "registration        {:.0} endpoints/s ({register_secs:.1} s)",
        total as f64 / register_secs
    );
    println!(
        "RSS after register  {}",
        rss_registered.map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    println!("restart to ready    {:.2} s", startup.as_secs_f64());
    println!(
        "RSS idle, restarted {}",
        rss_idle.map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    println!(
        "first event routed  {:.1} ms (loads the routing table), next {:.1} ms",
        first_route.as_secs_f64() * 1e3,
        cached_route.as_secs_f64() * 1e3
    );
    println!("endpoint actors     {}", ready["endpoint_actors"]);
    println!(
        "host peak RSS       {}",
        peak_rss_mib(host_pid(host)).map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    Ok(())
}

/// One soak sample: what the window since the previous one saw.
struct Sample {
    at: Duration,
    sent: usize,
    delivered: usize,
    stored: Option<u64>,
    rss: Option<f64>,
    /// Ingest→delivered of the window's deliveries, ms (sorted µs inside).
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1}", b as f64 / 1_048_576.0))
}

/// The soak run: a steady rate to one endpoint for `--duration`, sampling
/// every `--sample-every`; prints a table (markdown) at the end.
async fn soak(
    args: &Args,
    client: &reqwest::Client,
    host: &Host,
    key: &str,
    sink: Arc<Sink>,
    rate: f64,
    events: usize,
) -> anyhow::Result<()> {
    let padding = padding(args.padding, args.payload_bytes);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    // Each kind of answer other than 202 (status or transport error), counted.
    let error_kinds = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let started = Instant::now();
    let stop = started + *args.duration;
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, errors, sink) =
            (client.clone(), next.clone(), errors.clone(), sink.clone());
        let error_kinds = Arc::clone(&error_kinds);
        let url = format!("{}/projects/bench/events", host.addr);
        let (key, padding) = (key.to_string(), padding.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= events || Instant::now() > stop {
                    break;
                }
                let due = started + Duration::from_secs_f64(seq as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let body = json!({ "event": "user.created", "payload": { "seq": seq, "padding": padding } });
                if let Ok(mut sent) = sink.sent.lock() {
                    sent[seq] = Some(Instant::now());
                }
                match client.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 202 => {}
                    answer => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let kind = match answer {
                            Ok(r) => format!("HTTP {}", r.status().as_u16()),
                            Err(e) => format!("no answer: {e}"),
                        };
                        if let Ok(mut kinds) = error_kinds.lock() {
                            *kinds.entry(kind).or_insert(0usize) += 1;
                        }
                    }
                }
            }
        }));
    }
    let pid = host_pid(host);
    let mut samples: Vec<Sample> = Vec::new();
    let (mut last_sent, mut last_delivered, mut last_errors) = (0usize, 0usize, 0usize);
    let every = *args.sample_every;
    let mut tick = 1u32;
    loop {
        let due = started + every * tick;
        let finished = workers.iter().all(|w| w.is_finished());
        if finished && Instant::now() >= stop {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        tick += 1;
        let sent = next.load(Ordering::Relaxed).min(events);
        let delivered = sink.arrivals.load(Ordering::Relaxed);
        let errs = errors.load(Ordering::Relaxed);
        let mut window = sink
            .latencies_us
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        window.sort_unstable();
        let sample = Sample {
            at: started.elapsed(),
            sent: sent - last_sent,
            delivered: delivered - last_delivered,
            stored: stored_bytes(host),
            rss: rss_mib(pid),
            p50_ms: percentile(&window, 0.5),
            p99_ms: percentile(&window, 0.99),
            errors: errs - last_errors,
        };
        eprintln!(
            "  t {:>5.0} s  sent {:>6}  delivered {:>6}  store {:>7} MiB  RSS {:>6} MiB  p50 {:>7.1} ms  p99 {:>7.1} ms  errors {}",
            sample.at.as_secs_f64(),
            sample.sent,
            sample.delivered,
            mib(sample.stored),
            sample.rss.map_or("n/a".into(), |r| format!("{r:.1}")),
            sample.p50_ms,
            sample.p99_ms,
            sample.errors
        );
        (last_sent, last_delivered, last_errors) = (sent, delivered, errs);
        samples.push(sample);
    }
    for w in workers {
        w.await?;
    }
    let sent = next.load(Ordering::Relaxed).min(events);
    let drain_until = Instant::now() + Duration::from_secs(60);
    while sink.arrivals.load(Ordering::Relaxed) < sent && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = sink.arrivals.load(Ordering::Relaxed);
    let secs = every.as_secs_f64();
    println!(
        "scenario            Soak ({rate:.0} events/s for {}, retention {}, {} B padding, concurrency {}, {:?} store)",
        args.duration, args.retention, args.payload_bytes, args.concurrency, args.backend
    );
    println!(
        "sent {sent}, delivered {delivered}, errors {}; host peak RSS {}",
        errors.load(Ordering::Relaxed),
        peak_rss_mib(pid).map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    if let Ok(kinds) = error_kinds.lock() {
        for (kind, count) in kinds.iter() {
            println!("  not accepted: {count} × {kind}");
        }
    }
    let store = match args.backend {
        Backend::Embedded => "redb file MiB",
        Backend::Redis => "Redis used_memory MiB",
    };
    println!();
    println!("| t (s) | sent/s | delivered/s | {store} | host RSS MiB | ingest→delivered p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &samples {
        println!(
            "| {:.0} | {:.0} | {:.0} | {} | {} | {:.1} | {:.1} | {} |",
            s.at.as_secs_f64(),
            s.sent as f64 / secs,
            s.delivered as f64 / secs,
            mib(s.stored),
            s.rss.map_or("n/a".into(), |r| format!("{r:.1}")),
            s.p50_ms,
            s.p99_ms,
            s.errors
        );
    }
    if delivered < sent {
        bail!("only {delivered} of {sent} deliveries arrived");
    }
    Ok(())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    let soak_rate = args.rate.unwrap_or(500.0);
    if matches!(args.scenario, Scenario::Soak) {
        args.events = (soak_rate * args.duration.as_secs_f64()).ceil() as usize;
    }
    let endpoints = match args.scenario {
        Scenario::Ordered | Scenario::Failing | Scenario::Endpoints | Scenario::Soak => 1,
        _ => args.endpoints.max(1),
    };
    let deliveries_expected = match args.scenario {
        Scenario::FanOut => args.events * endpoints,
        _ => args.events,
    };
    let sink = Arc::new(Sink {
        arrivals: AtomicUsize::new(0),
        latencies_us: Mutex::new(Vec::with_capacity(deliveries_expected)),
        failed_on_purpose: AtomicU64::new(0),
        sent: Mutex::new(vec![None; args.events]),
        failing: matches!(args.scenario, Scenario::Failing),
        seen: AtomicU64::new(0),
        connections: Arc::default(),
    });
    let receiver = start_receiver(Arc::clone(&sink))?;
    let mut host = start_host(&args)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    let project = post(
        &client,
        &format!("{}/projects", host.addr),
        ADMIN,
        &json!({ "name": "bench", "id": "bench" }),
    )
    .await?;
    let key = project["secret_key"]
        .as_str()
        .context("secret key")?
        .to_string();
    if matches!(args.scenario, Scenario::Endpoints) {
        return endpoint_scale(&args, &client, &mut host, &key, &receiver).await;
    }
    for shard in 0..endpoints {
        let mut hook = json!({ "url": format!("{receiver}/hook/{shard}"), "events": ["*"] });
        if matches!(args.scenario, Scenario::FanIn) {
            hook["filter"] = json!({ "payload.shard": shard });
        }
        post(
            &client,
            &format!("{}/projects/bench/integrations/webhooks", host.addr),
            &key,
            &hook,
        )
        .await?;
    }
    if matches!(args.scenario, Scenario::Soak) {
        let events = args.events;
        return soak(&args, &client, &host, &key, sink, soak_rate, events).await;
    }
    eprintln!(
        "scenario {:?}: {} events, {endpoints} endpoint(s), concurrency {}, {:?} store",
        args.scenario, args.events, args.concurrency, args.backend
    );

    let padding = padding(args.padding, args.payload_bytes);
    let baseline_bytes = stored_bytes(&host);
    reset_redis_stats(&host);
    let cpu_before = (cpu_seconds(host_pid(&host)), redis_cpu_seconds(&host));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let accepted_us = Arc::new(Mutex::new(Vec::with_capacity(args.events)));
    let started = Instant::now();
    let deadline = started + *args.timeout;
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, errors, accepted_us, sink) = (
            client.clone(),
            next.clone(),
            errors.clone(),
            accepted_us.clone(),
            sink.clone(),
        );
        let url = format!("{}/projects/bench/events", host.addr);
        let (key, padding, events, shards, rate) = (
            key.clone(),
            padding.clone(),
            args.events,
            endpoints,
            args.rate,
        );
        workers.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= events || Instant::now() > deadline {
                    break;
                }
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(seq as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let body = json!({ "event": "user.created", "payload": { "seq": seq, "shard": seq % shards, "padding": padding } });
                let t = Instant::now();
                if let Ok(mut sent) = sink.sent.lock() {
                    sent[seq] = Some(t);
                }
                match client.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 202 => {
                        if let Ok(mut a) = accepted_us.lock() {
                            a.push(t.elapsed().as_micros() as u64);
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let progress = {
        let (next, sink) = (next.clone(), sink.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprintln!(
                    "  ingested {:>8}   delivered {:>8}",
                    next.load(Ordering::Relaxed).min(args.events),
                    sink.arrivals.load(Ordering::Relaxed)
                );
            }
        })
    };
    for w in workers {
        w.await?;
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    while sink.arrivals.load(Ordering::Relaxed) < deliveries_expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let e2e_secs = started.elapsed().as_secs_f64();
    progress.abort();
    let delivered = sink.arrivals.load(Ordering::Relaxed);
    let rss = peak_rss_mib(host_pid(&host));
    let cpu_used = (
        cpu_seconds(host_pid(&host))
            .zip(cpu_before.0)
            .map(|(after, before)| after - before),
        redis_cpu_seconds(&host)
            .zip(cpu_before.1)
            .map(|(after, before)| after - before),
    );
    // Attempt records reach the file within the flush interval.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = stored_bytes(&host)
        .zip(baseline_bytes)
        .map(|(after, before)| after.saturating_sub(before));
    let breakdown = breakdown(&client, &host.addr).await;

    let mut accepted = accepted_us.lock().map(|a| a.clone()).unwrap_or_default();
    accepted.sort_unstable();
    let mut latencies = sink
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();

    // Before the ceiling and relay runs, which use the receiver too.
    let connections = sink.connections.load(Ordering::Relaxed);
    // The raw ceiling: the same receiver, a plain client loop, same concurrency.
    let ceiling_url = format!("{receiver}/ceiling");
    let total = deliveries_expected;
    let ceiling_rate = drive(&client, &ceiling_url, args.concurrency, total, &padding).await?;
    // The relay floor: the same loop through a forwarder that stores nothing.
    let relay_url = start_relay(ceiling_url)?;
    let relay_rate = drive(&client, &relay_url, args.concurrency, total, &padding).await?;
    let e2e_rate = delivered as f64 / e2e_secs;

    println!(
        "scenario            {:?} ({} events, {endpoints} endpoints, concurrency {}, {:?} store)",
        args.scenario, args.events, args.concurrency, args.backend
    );
    println!(
        "ingest              {:.0} events/s; 202 p50 {:.2} ms, p99 {:.2} ms; errors {}",
        args.events as f64 / ingest_secs,
        percentile(&accepted, 0.5),
        percentile(&accepted, 0.99),
        errors.load(Ordering::Relaxed)
    );
    println!("delivered           {delivered} of {deliveries_expected} in {e2e_secs:.2} s = {e2e_rate:.0} deliveries/s");
    println!(
        "ingest→delivered    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "connections opened  {connections} ({:.3} per delivery)",
        connections as f64 / delivered.max(1) as f64
    );
    println!(
        "failed on purpose   {}",
        sink.failed_on_purpose.load(Ordering::Relaxed)
    );
    println!(
        "raw ceiling         {ceiling_rate:.0} requests/s → hookmesh at {:.0}% of it",
        100.0 * e2e_rate / ceiling_rate
    );
    println!(
        "relay floor         {relay_rate:.0} requests/s ({:.0}% of the ceiling) → hookmesh at {:.0}% of it",
        100.0 * relay_rate / ceiling_rate,
        100.0 * e2e_rate / relay_rate
    );
    println!("mean per attempt    {breakdown}");
    println!(
        "stored per event    {}",
        stored.map_or("n/a".into(), |bytes| format!(
            "{:.0} bytes ({} bytes of payload padding; {})",
            bytes as f64 / args.events as f64,
            args.payload_bytes,
            match args.backend {
                Backend::Embedded => "growth of the redb file",
                Backend::Redis => "growth of Redis used_memory",
            }
        ))
    );
    println!(
        "host peak RSS       {}",
        rss.map_or("n/a".into(), |r| format!("{r:.1} MiB"))
    );
    if let Some(host_cpu) = cpu_used.0 {
        let per_event = |seconds: f64| 1000.0 * seconds / args.events as f64;
        println!(
            "host CPU            {host_cpu:.2} s = {:.3} ms per event{}",
            per_event(host_cpu),
            cpu_used.1.map_or(String::new(), |redis| format!(
                " (Redis: {redis:.2} s = {:.3} ms per event)",
                per_event(redis)
            ))
        );
    }
    if let Some(commands) = redis_commands(&host) {
        println!(
            "redis commands      {:.1} per event ({commands} in all, scripts' own calls included; INFO commandstats)",
            commands as f64 / args.events as f64
        );
    }
    if delivered < deliveries_expected {
        bail!("only {delivered} of {deliveries_expected} deliveries arrived before the timeout");
    }
    Ok(())
}
