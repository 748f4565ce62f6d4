//! Prometheus metrics, served at `GET /metrics` in the text format.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `hookmesh_ingest_requests_total` | `route`, `status` | ingestion requests by answer |
//! | `hookmesh_ingested_events_total` | | events stored (not counting idempotent repeats) |
//! | `hookmesh_deliveries_total` | `provider`, `outcome` = success, retry, failed | attempts by endpoint class and result |
//! | `hookmesh_attempt_duration_seconds` | `provider` | render → send → classify, per attempt |
//! | `hookmesh_retries_scheduled_total` | | attempts rescheduled |
//! | `hookmesh_rate_limited_total` | `scope` = ingest, management, delivery | requests refused (ingestion, the management API) or delivery waits imposed by rate limits |
//! | `hookmesh_plugin_call_duration_seconds` | `plugin`, `call` | sandboxed plugin calls |
//! | `hookmesh_plugin_call_failures_total` | `plugin`, `call` | plugin calls that failed |
//! | `hookmesh_endpoint_actors` | | endpoint actors alive (endpoints with work) |
//! | `hookmesh_queue_depth` | `provider` | deliveries queued, per endpoint class (sampled at scrape) |
//! | `hookmesh_queue_oldest_age_seconds` | `provider` | age of the class's oldest queued delivery (sampled at scrape) |
//!
//! An endpoint's class is the provider plugin it delivers through
//! (`webhook`, `slack`, `discord`, `razorpay`, …): every loaded plugin has
//! a queue series, `0` when it has nothing queued.

use crate::store::QueueSample;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

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
    /// Attempts by endpoint class and outcome.
    pub deliveries: IntCounterVec,
    /// Attempt latency by endpoint class.
    pub attempt_duration: HistogramVec,
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
    /// Queued deliveries by endpoint class.
    queue_depth: IntGaugeVec,
    /// Oldest queued delivery's age by endpoint class.
    queue_oldest_age: GaugeVec,
    /// Held while the queue gauges are replaced, so a scrape sees one sample.
    queue_sampling: Mutex<()>,
}

/// One endpoint class's queue.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct ClassQueue {
    depth: u64,
    oldest_ms: Option<u64>,
}

/// Per-endpoint samples summed per class; every name in `classes` is
/// present (empty when nothing is queued for it).
fn queues_by_class<'a>(
    samples: &[QueueSample],
    classes: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, ClassQueue> {
    let mut by_class: BTreeMap<String, ClassQueue> = classes
        .into_iter()
        .map(|class| (class.to_string(), ClassQueue::default()))
        .collect();
    for sample in samples {
        let class = by_class.entry(sample.provider.clone()).or_default();
        class.depth += sample.depth;
        class.oldest_ms = match (class.oldest_ms, sample.oldest_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    by_class
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
        let attempt_duration = HistogramVec::new(
            HistogramOpts::new(
                "hookmesh_attempt_duration_seconds",
                "Delivery attempt latency (render, send, classify) by endpoint class",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["provider"],
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
        let queue_depth = IntGaugeVec::new(
            Opts::new(
                "hookmesh_queue_depth",
                "Deliveries queued, per endpoint class (provider)",
            ),
            &["provider"],
        )?;
        registry.register(Box::new(queue_depth.clone()))?;
        let queue_oldest_age = GaugeVec::new(
            Opts::new(
                "hookmesh_queue_oldest_age_seconds",
                "Age of the oldest queued delivery, per endpoint class (provider)",
            ),
            &["provider"],
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
                "Delivery attempts by endpoint class and outcome",
                &["provider", "outcome"],
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
            queue_sampling: Mutex::new(()),
        })
    }

    /// Replaces the queue gauges with a fresh sample: one series per
    /// class in `classes` (the loaded plugins) and per class found queued.
    pub fn set_queues<'a>(
        &self,
        samples: &[QueueSample],
        classes: impl IntoIterator<Item = &'a str>,
        now_ms: u64,
    ) {
        let by_class = queues_by_class(samples, classes);
        let _one_sample = self.queue_sampling.lock();
        self.queue_depth.reset();
        self.queue_oldest_age.reset();
        for (class, queue) in by_class {
            self.queue_depth
                .with_label_values(&[class.as_str()])
                .set(i64::try_from(queue.depth).unwrap_or(i64::MAX));
            let age_ms = queue.oldest_ms.map_or(0, |ms| now_ms.saturating_sub(ms));
            self.queue_oldest_age
                .with_label_values(&[class.as_str()])
                .set(age_ms as f64 / 1000.0);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let _one_sample = self.queue_sampling.lock();
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(endpoint: &str, provider: &str, depth: u64, oldest_ms: Option<u64>) -> QueueSample {
        QueueSample {
            endpoint_id: endpoint.into(),
            provider: provider.into(),
            depth,
            oldest_ms,
        }
    }

    #[test]
    fn queues_sum_per_class_keep_the_oldest_and_list_idle_classes() {
        let samples = [
            sample("a", "webhook", 3, Some(50)),
            sample("b", "webhook", 2, Some(20)),
            sample("c", "slack", 1, None),
        ];
        let by_class = queues_by_class(&samples, ["webhook", "slack", "discord"]);
        assert_eq!(
            by_class["webhook"],
            ClassQueue {
                depth: 5,
                oldest_ms: Some(20)
            }
        );
        assert_eq!(by_class["slack"].depth, 1);
        assert_eq!(by_class["discord"], ClassQueue::default());
    }

    #[test]
    fn scrape_shows_one_series_per_class_with_the_oldest_age() {
        let metrics = Metrics::new().unwrap();
        metrics.set_queues(
            &[sample("a", "webhook", 4, Some(1_000))],
            ["webhook", "slack"],
            3_500,
        );
        let text = metrics.render();
        for line in [
            "hookmesh_queue_depth{provider=\"webhook\"} 4",
            "hookmesh_queue_depth{provider=\"slack\"} 0",
            "hookmesh_queue_oldest_age_seconds{provider=\"webhook\"} 2.5",
            "hookmesh_queue_oldest_age_seconds{provider=\"slack\"} 0",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
        metrics.set_queues(&[], ["webhook"], 4_000);
        let text = metrics.render();
        assert!(
            text.contains("hookmesh_queue_depth{provider=\"webhook\"} 0"),
            "{text}"
        );
        assert!(
            !text.contains("provider=\"slack\""),
            "stale series dropped: {text}"
        );
    }
}
