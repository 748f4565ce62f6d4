//! Criterion micro-benchmark: one call of the generic webhook plugin through
//! the sandboxed plugin host (wasmtime, epoch deadline and memory cap on),
//! the library equivalent of `hookmesh plugin bench`.
//!
//! - `render/webhook/warm`: `LoadedPlugin::render` of `render-event.json`
//!   (831 bytes) with `render-context.json` (one `whsec_` secret): envelope,
//!   Standard Webhooks v1 signature, hex HMAC-SHA256 header, request out,
//!   host-side target check; a warm instance is reused (the default);
//! - `render/webhook/fresh-instance`: the same with
//!   `reuse_instances = false` (a new instance per call);
//! - `classify/webhook/200`: `LoadedPlugin::classify` of a `200` answer.
//!
//! Needs the plugin component: run `bash plugins/build.sh` first (it writes
//! `target/plugins/webhook.wasm`; `HOOKMESH_BENCH_PLUGIN` may point at
//! another file). Then:
//!
//! ```sh
//! cargo bench -p hookmesh --bench render
//! ```

use criterion::{criterion_main, Criterion};
use hookmesh::plugin::{Context, Event, Header, HttpResponse, LoadedPlugin, SandboxLimits};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The webhook plugin component built by `plugins/build.sh`.
fn plugin_path() -> PathBuf {
    match std::env::var_os("HOOKMESH_BENCH_PLUGIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/webhook.wasm"),
    }
}

fn load(limits: SandboxLimits) -> LoadedPlugin {
    let path = plugin_path();
    if !path.is_file() {
        panic!(
            "{} not found: build the plugins first with `bash plugins/build.sh` \
             (from the workspace root), then run this bench again",
            path.display()
        );
    }
    hookmesh::tools::load(&path, limits)
        .unwrap_or_else(|e| panic!("cannot load {}: {e:#}", path.display()))
}

/// The bench inputs, read as `hookmesh plugin bench` reads them.
fn inputs() -> (Event, Context) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    hookmesh::tools::read_call(
        &dir.join("render-event.json"),
        Some(&dir.join("render-context.json")),
    )
    .unwrap_or_else(|e| panic!("cannot read the bench inputs in {}: {e:#}", dir.display()))
}

/// Renders once and checks the request is the signed webhook it should be,
/// so the bench never measures an error path.
fn check_render(plugin: &LoadedPlugin, event: &Event, ctx: &Context) {
    let requests = plugin
        .render(event, ctx)
        .unwrap_or_else(|e| panic!("render failed: {e}"));
    assert_eq!(requests.len(), 1, "the webhook plugin renders one request");
    let names: Vec<&str> = requests[0]
        .headers
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    for wanted in ["webhook-signature", "x-hookmesh-signature"] {
        assert!(names.contains(&wanted), "no `{wanted}` header in {names:?}");
    }
}

fn render(c: &mut Criterion) {
    let (event, ctx) = inputs();
    let mut group = c.benchmark_group("render/webhook");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let warm = load(SandboxLimits::default());
    check_render(&warm, &event, &ctx);
    group.bench_function("warm", |b| {
        b.iter(|| warm.render(black_box(&event), black_box(&ctx)))
    });

    let fresh = load(SandboxLimits {
        reuse_instances: false,
        ..SandboxLimits::default()
    });
    check_render(&fresh, &event, &ctx);
    group.bench_function("fresh-instance", |b| {
        b.iter(|| fresh.render(black_box(&event), black_box(&ctx)))
    });
    group.finish();

    let response = HttpResponse {
        status: 200,
        headers: vec![Header {
            name: "content-type".into(),
            value: "text/plain".into(),
        }],
        body: b"ok".to_vec(),
    };
    warm.classify(&response, &ctx)
        .unwrap_or_else(|e| panic!("classify failed: {e}"));
    let mut group = c.benchmark_group("classify/webhook");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("200", |b| {
        b.iter(|| warm.classify(black_box(&response), black_box(&ctx)))
    });
    group.finish();
}

/// The generated group stays private: no public item to document.
mod group {
    criterion::criterion_group!(benches, super::render);
}
criterion_main!(group::benches);
