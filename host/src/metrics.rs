//! Prometheus metrics, served at `GET /metrics` in the text format.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `hookmesh_ingest_requests_total` | `route`, `status` | ingestion requests by answer |
//! | `hookmesh_ingested_events_total` | | events stored (not counting idempotent repeats) |
//! | `hookmesh_deliveries_total` | `outcome` = success, retry, failed | attempts by result |
//! | `hookmesh_attempt_duration_seconds` | | render → send → classify, per attempt |
//! | `hookmesh_retries_scheduled_total` | | attempts rescheduled |
//! | `hookmesh_rate_limited_total` | `scope` = ingest, provider | requests refused or waits imposed by rate limits |
//! | `hookmesh_plugin_call_duration_seconds` | `plugin`, `call` | sandboxed plugin calls |
//! | `hookmesh_plugin_call_failures_total` | `plugin`, `call` | plugin calls that failed |
//! | `hookmesh_endpoint_actors` | | endpoint actors alive (endpoints with work) |
//! | `hookmesh_queue_depth` | | deliveries queued, all endpoints (sampled at scrape) |
//! | `hookmesh_queue_oldest_age_seconds` | | age of the oldest queued delivery (sampled at scrape) |

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds: 0.5 ms to 30 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every metric hookmesh exports.
pub struct Metrics {
    registry: Registry,
    /// Ingestion requests by route and status.
    pub ingest_requests: IntCounterVec,
    /// Events stored.
    pub ingested_events: IntCounter,
    /// Attempts by outcome.
    pub deliveries: IntCounterVec,
    /// Attempt latency.
    pub attempt_duration: Histogram,
    /// Retries scheduled.
    pub retries: IntCounter,
    /// Rate-limit refusals by scope.
    pub rate_limited: IntCounterVec,
    /// Plugin call latency.
    pub plugin_calls: HistogramVec,
    /// Plugin call failures.
    pub plugin_failures: IntCounterVec,
    /// Live endpoint actors.
    pub endpoint_actors: IntGauge,
    /// Queued deliveries.
    pub queue_depth: IntGauge,
    /// Oldest queued delivery's age.
    pub queue_oldest_age: prometheus::Gauge,
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let attempt_duration = Histogram::with_opts(
            HistogramOpts::new(
                "hookmesh_attempt_duration_seconds",
                "Delivery attempt latency (render, send, classify)",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(attempt_duration.clone()))?;
        let plugin_calls = HistogramVec::new(
            HistogramOpts::new(
                "hookmesh_plugin_call_duration_seconds",
                "Sandboxed plugin call latency",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["plugin", "call"],
        )?;
        registry.register(Box::new(plugin_calls.clone()))?;
        let ingested_events = IntCounter::new("hookmesh_ingested_events_total", "Events stored")?;
        registry.register(Box::new(ingested_events.clone()))?;
        let retries = IntCounter::new(
            "hookmesh_retries_scheduled_total",
            "Attempts rescheduled for a retry",
        )?;
        registry.register(Box::new(retries.clone()))?;
        let endpoint_actors = IntGauge::new("hookmesh_endpoint_actors", "Endpoint actors alive")?;
        registry.register(Box::new(endpoint_actors.clone()))?;
        let queue_depth =
            IntGauge::new("hookmesh_queue_depth", "Deliveries queued across endpoints")?;
        registry.register(Box::new(queue_depth.clone()))?;
        let queue_oldest_age = prometheus::Gauge::new(
            "hookmesh_queue_oldest_age_seconds",
            "Age of the oldest queued delivery",
        )?;
        registry.register(Box::new(queue_oldest_age.clone()))?;
        Ok(Self {
            ingest_requests: counter_vec(
                &registry,
                "hookmesh_ingest_requests_total",
                "Ingestion requests by answer",
                &["route", "status"],
            )?,
            deliveries: counter_vec(
                &registry,
                "hookmesh_deliveries_total",
                "Delivery attempts by outcome",
                &["outcome"],
            )?,
            rate_limited: counter_vec(
                &registry,
                "hookmesh_rate_limited_total",
                "Rate-limit refusals and waits",
                &["scope"],
            )?,
            plugin_failures: counter_vec(
                &registry,
                "hookmesh_plugin_call_failures_total",
                "Failed plugin calls",
                &["plugin", "call"],
            )?,
            registry,
            ingested_events,
            attempt_duration,
            retries,
            plugin_calls,
            endpoint_actors,
            queue_depth,
            queue_oldest_age,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
