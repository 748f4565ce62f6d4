//! Criterion micro-benchmark: request signing alone, natively, with the
//! SDK's real helpers (`hookmesh_sdk::signing`, the code the plugins compile
//! to WebAssembly), over the body the webhook plugin signs for
//! `render-event.json`: the envelope built by the SDK's
//! `Event::envelope_json` (the 831-byte event plus `uuid`/`time_*` fields).
//!
//! - `signing/standard-webhooks-v1/1-secret`: `standard_webhooks_header`
//!   with the one secret of `render-context.json` (`webhook-signature`);
//! - `signing/standard-webhooks-v1/2-secrets`: the same during a secret
//!   rotation (two signatures);
//! - `signing/hex-hmac-sha256`: `hookmesh_hex_signature`
//!   (`x-hookmesh-signature: sha256=<hex>`);
//! - `signing/webhook-plugin-both`: both, as the webhook plugin computes
//!   them per render.
//!
//! ```sh
//! cargo bench -p hookmesh --bench signing
//! ```

use criterion::{criterion_main, Criterion, Throughput};
use hookmesh_sdk::signing::{hookmesh_hex_signature, standard_webhooks_header};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// A second secret, as during a rotation's grace window.
const PREVIOUS_SECRET: &str = "whsec_dGhpcyBpcyBhIHNlY29uZCBzZWNyZXQ=";

/// What the webhook plugin signs: (message id, timestamp, body, secrets).
fn inputs() -> (String, u64, Vec<u8>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let (event, ctx) = hookmesh::tools::read_call(
        &dir.join("render-event.json"),
        Some(&dir.join("render-context.json")),
    )
    .unwrap_or_else(|e| panic!("cannot read the bench inputs in {}: {e:#}", dir.display()));
    let secrets = ctx
        .endpoint
        .map(|e| e.secrets)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("render-context.json has no endpoint secret"));
    let sdk_event = hookmesh_sdk::Event {
        id: event.id,
        event_type: event.event_type,
        resource: event.resource,
        resource_id: event.resource_id,
        payload: event.payload,
        time_created_ms: event.time_created_ms,
    };
    let body = sdk_event
        .envelope_json(ctx.now_ms)
        .unwrap_or_else(|_| panic!("render-event.json payload is not valid JSON"));
    (sdk_event.id, ctx.now_ms / 1000, body, secrets)
}

fn signing(c: &mut Criterion) {
    let (msg_id, timestamp, body, secrets) = inputs();
    let newest = secrets[0].clone();
    let rotation = [newest.clone(), PREVIOUS_SECRET.to_string()];
    println!("signed body: {} bytes", body.len());

    let mut group = c.benchmark_group("signing");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("standard-webhooks-v1/1-secret", |b| {
        b.iter(|| {
            standard_webhooks_header(
                black_box(&secrets[..1]),
                black_box(&msg_id),
                timestamp,
                black_box(&body),
            )
        })
    });
    group.bench_function("standard-webhooks-v1/2-secrets", |b| {
        b.iter(|| {
            standard_webhooks_header(
                black_box(&rotation),
                black_box(&msg_id),
                timestamp,
                black_box(&body),
            )
        })
    });
    group.bench_function("hex-hmac-sha256", |b| {
        b.iter(|| hookmesh_hex_signature(black_box(&newest), black_box(&body)))
    });
    group.bench_function("webhook-plugin-both", |b| {
        b.iter(|| {
            let v1 = standard_webhooks_header(
                black_box(&secrets[..1]),
                black_box(&msg_id),
                timestamp,
                black_box(&body),
            );
            let hex = hookmesh_hex_signature(black_box(&newest), black_box(&body));
            (v1, hex)
        })
    });
    group.finish();
}

/// The generated group stays private: no public item to document.
mod group {
    criterion::criterion_group!(benches, super::signing);
}
criterion_main!(group::benches);
