//! The plugin author's commands: inspect a manifest, render an event, and
//! measure render calls. Output is JSON on stdout.

use crate::plugin::wire::{ContextInput, EventInput, ManifestView, RequestView};
use crate::plugin::{Context, Event, LoadedPlugin, PluginHost, SandboxLimits};
use anyhow::Context as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Loads `file` with `limits`.
pub fn load(file: &Path, limits: SandboxLimits) -> anyhow::Result<LoadedPlugin> {
    let host =
        PluginHost::new(limits).map_err(|e| anyhow::anyhow!("cannot start wasmtime: {e:#}"))?;
    Ok(host.load_file(file)?)
}

/// Reads the event and context files of a call.
pub fn read_call(event: &Path, context: Option<&Path>) -> anyhow::Result<(Event, Context)> {
    let now = crate::now_ms();
    let event: EventInput = read_json(event)?;
    let context: ContextInput = match context {
        Some(path) => read_json(path)?,
        None => ContextInput::default(),
    };
    Ok((event.into_event(now), context.into_context(now)))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The manifest as pretty JSON.
pub fn inspect(plugin: &LoadedPlugin) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&ManifestView::from(
        plugin.manifest(),
    ))?)
}

/// The rendered requests as pretty JSON.
pub fn render(plugin: &LoadedPlugin, event: &Event, ctx: &Context) -> anyhow::Result<String> {
    let requests = plugin.render(event, ctx)?;
    let views: Vec<RequestView> = requests.into_iter().map(RequestView::from).collect();
    Ok(serde_json::to_string_pretty(&views)?)
}

/// Timing of many render calls.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    /// The plugin.
    pub plugin: String,
    /// Calls measured.
    pub iterations: u32,
    /// Median per call, µs.
    pub median_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Mean, µs.
    pub mean_us: f64,
    /// Calls per second on one thread.
    pub calls_per_sec: f64,
}

/// Calls `render` `iterations` times (after a warm-up) and reports timing.
pub fn bench(
    plugin: &LoadedPlugin,
    event: &Event,
    ctx: &Context,
    iterations: u32,
) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(iterations > 0, "iterations must be at least 1");
    for _ in 0..(iterations / 100).max(10) {
        plugin.render(event, ctx)?;
    }
    let mut samples = Vec::with_capacity(iterations as usize);
    let started = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        plugin.render(event, ctx)?;
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort_unstable();
    let at = |q: f64| micros(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    Ok(BenchReport {
        plugin: plugin.name().to_string(),
        iterations,
        median_us: at(0.5),
        p99_us: at(0.99),
        mean_us: micros(total) / f64::from(iterations),
        calls_per_sec: f64::from(iterations) / total.as_secs_f64(),
    })
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
