//! The `hookmesh` binary as a user runs it: help, the plugin author's
//! commands on the built webhook plugin, config checking, and `serve`
//! answering its health routes.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig};
use common::plugin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn hookmesh() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookmesh"));
    cmd.env_remove("HOOKMESH_CONFIG").env("RUST_LOG", "info");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run hookmesh")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookmesh-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_lists_the_commands() {
    let out = run(hookmesh().arg("--help"));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "config", "plugin"] {
        assert!(text.contains(word), "{text}");
    }
    let out = run(hookmesh().args(["plugin", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["inspect", "render", "bench"] {
        assert!(text.contains(word), "{text}");
    }
}

#[test]
fn inspect_prints_the_manifest() {
    let out = run(hookmesh()
        .args(["plugin", "inspect"])
        .arg(plugin("webhook")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["name"], "webhook");
    assert_eq!(manifest["abi_version"], "0.1.0");
    assert_eq!(manifest["capabilities"], serde_json::json!(["outbound"]));
}

#[test]
fn render_prints_signed_requests() {
    let dir = scratch("render");
    let event = write(
        &dir,
        "event.json",
        r#"{"event":"user.signup","resource":"user","resource_id":"usr_1","payload":{"plan":"pro"},"id":"evt_cli1"}"#,
    );
    let ctx = write(
        &dir,
        "ctx.json",
        &format!(
            r#"{{"endpoint":{{"url":"https://example.com/hook","secrets":["{SECRET}"]}},"config":{{"header.X-Env":"staging"}},"now_ms":1614265330000}}"#
        ),
    );
    let out = run(hookmesh()
        .args(["plugin", "render"])
        .arg(plugin("webhook"))
        .arg("--event")
        .arg(&event)
        .arg("--config")
        .arg(&ctx));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let request = &requests[0];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], "https://example.com/hook");
    let headers: Vec<(String, String)> =
        serde_json::from_value(request["headers"].clone()).unwrap();
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("webhook-id").as_deref(), Some("evt_cli1"));
    assert_eq!(get("webhook-timestamp").as_deref(), Some("1614265330"));
    assert_eq!(get("X-Env").as_deref(), Some("staging"));
    let body = request["body"].as_str().unwrap();
    let expected = hookmesh_sdk::signing::standard_webhooks_signature(
        SECRET,
        "evt_cli1",
        1_614_265_330,
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(get("webhook-signature"), Some(expected));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn render_reports_bad_input_without_panicking() {
    let dir = scratch("badinput");
    let event = write(&dir, "event.json", r#"{"payload":{}}"#);
    let out = run(hookmesh()
        .args(["plugin", "render"])
        .arg(plugin("webhook"))
        .arg("--event")
        .arg(&event));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing field `event`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_check_names_every_bad_key() {
    let dir = scratch("config");
    let file = write(
        &dir,
        "bad.toml",
        "[storage]\nbackend = \"cassandra\"\n[delivery]\ntimeout = \"a while\"\n",
    );
    let out = run(hookmesh().args(["config", "check", "--config"]).arg(&file));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "`server.admin_token`",
        "`storage.backend`",
        "`delivery.timeout`",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_health_and_readiness() {
    let host = Host::start("cli-serve", HostConfig::default());
    let (status, health) = host
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(status, 200, "{health}");
    let (status, ready) = host.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");
    let names: Vec<&str> = ready["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"webhook"), "{ready}");
}

/// The server runs in-process on a listener of the caller's (port 0), and
/// stops when the caller's shutdown future resolves: what embedders and
/// tests use instead of starting the binary.
#[test]
fn serve_runs_in_process_on_a_given_listener_until_told_to_stop() {
    let dir = scratch("in-process");
    let config = dir.join("hookmesh.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nadmin_token = \"{}\"\n[storage]\npath = \"{}\"\n[plugins]\ndir = \"{}\"\n\
             [security]\nmaster_key = \"{}\"\n",
            common::host::ADMIN_TOKEN,
            dir.join("store.redb").display(),
            common::plugins_dir().display(),
            common::host::MASTER_KEY,
        ),
    )
    .unwrap();
    let _ = plugin("webhook");
    let settings = hookmesh::config::load(Some(&config)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(hookmesh::server::serve(listener, settings, async {
            let _ = stopped.await;
        }))
    });
    let ready = (0..100).find_map(|_| {
        let answer = std::net::TcpStream::connect(addr)
            .ok()
            .and_then(|mut stream| {
                use std::io::{Read, Write};
                stream
                    .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .ok()?;
                let mut text = String::new();
                stream.read_to_string(&mut text).ok()?;
                Some(text)
            });
        if answer.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        answer
    });
    let ready = ready.expect("the in-process server answers");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"status\":\"ready\""), "{ready}");
    stop.send(()).unwrap();
    server.join().unwrap().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed after shutdown"
    );
}

/// `store stats` lists each table with its rows and bytes, without the
/// config's secrets (both are unset `env:` references here); it refuses a
/// file in use, a missing file and a Redis config, each with the reason.
#[test]
fn store_stats_shows_where_the_bytes_are() {
    use hookmesh::store::embedded::EmbeddedStore;
    use hookmesh::store::{BlockingBackend, Event, NewEvent};
    let dir = scratch("stats");
    let file = dir.join("store.redb");
    let config_for = |storage: &str| {
        write(
            &dir,
            "hookmesh.toml",
            &format!(
                "[server]\nadmin_token = \"env:HOOKMESH_TEST_UNSET_TOKEN\"\n\
                 [storage]\n{storage}\n\
                 [security]\nmaster_key = \"env:HOOKMESH_TEST_UNSET_KEY\"\n"
            ),
        )
    };
    let stats =
        |config: &std::path::Path| run(hookmesh().args(["store", "stats", "--config"]).arg(config));
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let config = config_for(&format!("path = \"{}\"", file.display()));
    let missing = stats(&config);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );

    let store = EmbeddedStore::open(&file).unwrap();
    let events: Vec<NewEvent> = (0..40)
        .map(|i| NewEvent {
            event: Event {
                id: format!("evt_{i:04}"),
                project_id: "p".into(),
                event_type: "user.created".into(),
                resource: None,
                resource_id: None,
                payload: format!(r#"{{"n": {i}}}"#).into_bytes(),
                time_created_ms: 1_000,
                source: None,
            },
            deliveries: vec![("ep_1".into(), format!("dlv_{i:04}"))],
            idempotency: None,
        })
        .collect();
    store.ingest(events, 1_000).unwrap();
    let in_use = stats(&config);
    assert!(!in_use.status.success(), "a store in use is refused");
    assert!(
        stderr(&in_use).contains("stop hookmesh"),
        "{}",
        stderr(&in_use)
    );
    drop(store);

    let out = stats(&config);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let table = |name: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no table {name} in {report}"))
    };
    for name in ["events", "deliveries", "queue", "history"] {
        assert_eq!(table(name)["rows"], 40, "{name}: {report}");
    }
    let events = table("events");
    assert!(
        events["stored_bytes"].as_u64().unwrap() > 40 * 20,
        "{report}"
    );
    assert!(
        events["page_bytes"].as_u64() >= events["stored_bytes"].as_u64(),
        "{report}"
    );
    let pages: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["page_bytes"].as_u64().unwrap())
        .sum();
    assert!(pages <= report["file_bytes"].as_u64().unwrap(), "{report}");

    let redis = stats(&config_for(
        "backend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"",
    ));
    assert!(!redis.status.success());
    assert!(
        stderr(&redis).contains("embedded store"),
        "{}",
        stderr(&redis)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `store compact` purges what is past retention and shrinks the file; it
/// refuses a file in use.
#[test]
fn store_compact_purges_and_shrinks_an_embedded_store() {
    use hookmesh::store::embedded::EmbeddedStore;
    use hookmesh::store::{BlockingBackend, Event, NewEvent};
    let dir = scratch("compact");
    let file = dir.join("store.redb");
    let config = write(
        &dir,
        "hookmesh.toml",
        &format!(
            "[server]\nadmin_token = \"{}\"\n[storage]\npath = \"{}\"\nretention = \"1s\"\n\
             [security]\nmaster_key = \"{}\"\n",
            common::host::ADMIN_TOKEN,
            file.display(),
            common::host::MASTER_KEY
        ),
    );
    let store = EmbeddedStore::open(&file).unwrap();
    let old: Vec<NewEvent> = (0..300)
        .map(|i| NewEvent {
            event: Event {
                id: format!("evt_{:012x}{i:010}", 1_000),
                project_id: "p".into(),
                event_type: "user.created".into(),
                resource: None,
                resource_id: None,
                payload: format!(r#"{{"pad": "{}"}}"#, "x".repeat(2000)).into_bytes(),
                time_created_ms: 1_000,
                source: None,
            },
            deliveries: Vec::new(),
            idempotency: None,
        })
        .collect();
    store.ingest(old, 1_000).unwrap();
    let in_use = run(hookmesh()
        .args(["store", "compact", "--config"])
        .arg(&config));
    assert!(!in_use.status.success(), "a store in use is refused");
    assert!(
        String::from_utf8_lossy(&in_use.stderr).contains("stop hookmesh"),
        "{}",
        String::from_utf8_lossy(&in_use.stderr)
    );
    drop(store);
    let out = run(hookmesh()
        .args(["store", "compact", "--config"])
        .arg(&config));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["purged_events"], 300, "{report}");
    assert!(
        report["bytes_after"].as_u64() < report["bytes_before"].as_u64(),
        "{report}"
    );
    let store = EmbeddedStore::open(&file).unwrap();
    assert!(store
        .project_events("p", None, None, 10)
        .unwrap()
        .is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
