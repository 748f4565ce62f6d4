//! The sandbox's guard rails, each provoked by a purpose-built plugin
//! (`tests/plugins/misbehave`, `tests/plugins/wrong-abi`), and each followed
//! by proof that the host still serves a good plugin.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{context, event, load, now_ms, plugin, plugins_dir, test_plugin};
use hookmesh::plugin::{CallError, LoadError, LoadedPlugin, PluginHost, SandboxLimits};
use std::sync::Arc;
use std::time::{Duration, Instant};

const URL: &str = "https://hooks.customer.example/in";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn limits() -> SandboxLimits {
    SandboxLimits {
        call_timeout: Duration::from_millis(50),
        max_memory_bytes: 32 << 20,
        max_output_bytes: 256 << 10,
        reuse_instances: true,
    }
}

fn render_mode(plugin: &LoadedPlugin, mode: &str) -> Result<usize, CallError> {
    plugin
        .render(
            &event("evt_1", "{}"),
            &context(URL, &[], &[("mode", mode)], now_ms()),
        )
        .map(|requests| requests.len())
}

/// The same host keeps serving: the misbehaving plugin's good mode and the
/// real webhook plugin both render.
fn assert_still_serves(host: &PluginHost, misbehave: &LoadedPlugin) {
    assert_eq!(
        render_mode(misbehave, "good").expect("good mode after a failure"),
        1
    );
    let webhook = host.load_file(&plugin("webhook")).expect("load webhook");
    let requests = webhook
        .render(
            &event("evt_2", r#"{"a":1}"#),
            &context(URL, &[SECRET], &[], now_ms()),
        )
        .expect("webhook renders after a failure");
    assert_eq!(requests[0].url, URL);
}

fn host_and_misbehave() -> (PluginHost, LoadedPlugin) {
    let host = PluginHost::new(limits()).unwrap();
    let misbehave = host.load_file(&test_plugin("misbehave")).unwrap();
    (host, misbehave)
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let (host, misbehave) = host_and_misbehave();
    let started = Instant::now();
    let err = render_mode(&misbehave, "spin").unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            CallError::Deadline {
                deadline_ms: 50,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("plugin `misbehave`"), "{err}");
    // Generous bound: the point is that it stops, not how fast a loaded CI box is.
    assert!(took < Duration::from_secs(5), "spin ran {took:?}");
    assert_still_serves(&host, &misbehave);
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    // A generous deadline: on a loaded machine filling 32 MiB can take
    // longer than the usual 50 ms, and this test is about the memory cap.
    let host = PluginHost::new(SandboxLimits {
        call_timeout: Duration::from_secs(10),
        ..limits()
    })
    .unwrap();
    let misbehave = host.load_file(&test_plugin("misbehave")).unwrap();
    let err = render_mode(&misbehave, "membomb").unwrap_err();
    match &err {
        CallError::MemoryCap {
            cap_bytes,
            requested_bytes,
            ..
        } => {
            assert_eq!(*cap_bytes, 32 << 20);
            assert!(requested_bytes > cap_bytes);
        }
        other => panic!("expected a memory cap error, got {other}"),
    }
    assert!(err.to_string().contains("exceeded the memory cap"), "{err}");
    assert_still_serves(&host, &misbehave);
}

#[test]
fn oversized_output_is_refused() {
    let host = PluginHost::new(SandboxLimits {
        max_memory_bytes: 256 << 20,
        // Filling 8 MiB is slow in an unoptimized test build; this test is
        // about the output cap, not the deadline.
        call_timeout: Duration::from_secs(5),
        ..limits()
    })
    .unwrap();
    let misbehave = host.load_file(&test_plugin("misbehave")).unwrap();
    let err = render_mode(&misbehave, "flood").unwrap_err();
    assert!(
        matches!(err, CallError::OutputCap { size_bytes, cap_bytes: 262_144, .. } if size_bytes > 8 << 20),
        "{err}"
    );
    assert_still_serves(&host, &misbehave);
}

#[test]
fn a_request_outside_the_allowed_hosts_is_refused() {
    let (host, misbehave) = host_and_misbehave();
    let err = render_mode(&misbehave, "escape").unwrap_err();
    match &err {
        CallError::ForbiddenTarget {
            plugin,
            url,
            reason,
        } => {
            assert_eq!(plugin, "misbehave");
            assert_eq!(url, "https://attacker.example.net/collect");
            assert!(reason.contains("attacker.example.net"), "{reason}");
        }
        other => panic!("expected a forbidden target, got {other}"),
    }
    assert_still_serves(&host, &misbehave);
}

#[test]
fn a_panic_is_a_trap_for_that_call_only() {
    let (host, misbehave) = host_and_misbehave();
    let err = render_mode(&misbehave, "panic").unwrap_err();
    assert!(
        matches!(err, CallError::Trap { call: "render", .. }),
        "{err}"
    );
    assert_still_serves(&host, &misbehave);
}

#[test]
fn the_wrong_abi_version_is_refused_at_load() {
    let host = PluginHost::new(limits()).unwrap();
    let path = test_plugin("wrong-abi");
    let err = host
        .load_file(&path)
        .err()
        .expect("wrong ABI must not load");
    assert!(matches!(err, LoadError::AbiMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("wrong-abi.wasm"), "{message}");
    assert!(
        message.contains("hookmesh:plugin/provider@0.2.0"),
        "{message}"
    );
    assert!(
        message.contains("hookmesh:plugin/provider@0.1.0"),
        "{message}"
    );
    let misbehave = host.load_file(&test_plugin("misbehave")).unwrap();
    assert_still_serves(&host, &misbehave);
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = std::env::temp_dir().join(format!("hookmesh-notwasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("junk.wasm");
    std::fs::write(&path, b"definitely not wasm").unwrap();
    let err = PluginHost::new(limits())
        .unwrap()
        .load_file(&path)
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("junk.wasm"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_plugins_dir_loads_every_provider() {
    let _ = plugin("webhook");
    let registry = PluginHost::new(limits())
        .unwrap()
        .load_dir(&plugins_dir())
        .expect("load plugins dir");
    let names: Vec<&str> = registry.iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        ["discord", "github", "hmac", "razorpay", "shopify", "slack", "stripe", "webhook"]
    );
    for p in registry.iter() {
        assert_eq!(p.manifest().abi_version, "0.1.0");
    }
}

#[test]
fn unimplemented_calls_say_so() {
    let discord = load(&plugin("discord"), limits());
    let request = hookmesh::plugin::InboundRequest {
        headers: Vec::new(),
        body: b"{}".to_vec(),
    };
    let err = discord
        .verify_inbound(&request, &context(URL, &[], &[], now_ms()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Plugin {
                kind: hookmesh::plugin::GuestErrorKind::Unsupported,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("`verify_inbound` not implemented"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_calls_each_get_an_instance() {
    let webhook = Arc::new(load(&plugin("webhook"), limits()));
    let misbehave = Arc::new(load(&test_plugin("misbehave"), limits()));
    let spinner = {
        let m = Arc::clone(&misbehave);
        tokio::spawn(async move {
            m.render_async(
                event("evt_s", "{}"),
                context(URL, &[], &[("mode", "spin")], now_ms()),
            )
            .await
        })
    };
    let mut renders = Vec::new();
    for i in 0..64 {
        let w = Arc::clone(&webhook);
        renders.push(tokio::spawn(async move {
            w.render_async(
                event(&format!("evt_{i}"), &format!(r#"{{"i":{i}}}"#)),
                context(URL, &[SECRET], &[], now_ms()),
            )
            .await
        }));
    }
    for (i, handle) in renders.into_iter().enumerate() {
        let requests = handle.await.unwrap().expect("render");
        let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(body["payload"]["i"], i);
    }
    assert!(matches!(
        spinner.await.unwrap(),
        Err(CallError::Deadline { .. })
    ));
}

/// Async calls run in place under a 10 ms deadline; one that needs longer
/// is cut off there and made again off the executor under the full
/// deadline, and the plugin's later calls go off the executor directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_too_slow_to_run_in_place_is_made_again_off_the_executor() {
    let limits = SandboxLimits {
        call_timeout: Duration::from_secs(5),
        ..limits()
    };
    let misbehave = Arc::new(load(&test_plugin("misbehave"), limits));
    let render = |mode: &'static str| {
        let plugin = Arc::clone(&misbehave);
        async move {
            let ctx = context(URL, &[], &[("mode", mode), ("rounds", "40")], now_ms());
            let started = Instant::now();
            let requests = plugin.render_async(event("evt_1", "{}"), ctx).await;
            (requests, started.elapsed())
        }
    };
    let (good, _) = render("good").await;
    assert_eq!(good.expect("good render")[0].body, br#"{"ok":true}"#);
    assert_eq!(misbehave.moved_calls(), 0);

    let (slow, took) = render("slow").await;
    println!("slow render (40 million rounds), moved off the executor: {took:?}");
    assert_eq!(
        slow.expect("slow render completes")[0].body,
        br#"{"ok":true}"#
    );
    assert!(took > Duration::from_millis(10), "{took:?}");
    assert_eq!(misbehave.moved_calls(), 1);

    let (again, _) = render("slow").await;
    assert!(again.is_ok());
    assert_eq!(misbehave.moved_calls(), 1, "went off the executor directly");
}

#[test]
fn compiled_plugins_are_cached_but_never_stale() {
    let dir = std::env::temp_dir().join(format!("hookmesh-cache-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("provider.wasm");
    let host = PluginHost::new(limits()).unwrap();

    std::fs::copy(plugin("webhook"), &path).unwrap();
    assert_eq!(host.load_file(&path).unwrap().name(), "webhook");
    let cached: Vec<_> = std::fs::read_dir(dir.join(".cache")).unwrap().collect();
    assert_eq!(cached.len(), 1, "the compiled artifact is kept");
    assert_eq!(
        host.load_file(&path).unwrap().name(),
        "webhook",
        "loads from the cache"
    );

    std::fs::copy(test_plugin("misbehave"), &path).unwrap();
    assert_eq!(
        host.load_file(&path).unwrap().name(),
        "misbehave",
        "a changed file is compiled again"
    );
    std::fs::remove_dir_all(&dir).ok();
}
