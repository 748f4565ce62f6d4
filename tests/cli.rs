//! The `hookmesh` binary as a user runs it: help, the plugin author's
//! commands on the built webhook plugin, config checking, and `serve`
//! answering its health routes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{plugin, plugins_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn serve_answers_health_and_readiness() {
    let _ = plugin("webhook");
    let dir = scratch("serve");
    let config = write(
        &dir,
        "hookmesh.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"env:HOOKMESH_TEST_ADMIN\"\n[storage]\npath = \"{}\"\n[plugins]\ndir = \"{}\"\n",
            dir.join("store.redb").display(),
            plugins_dir().display()
        ),
    );
    let mut child = hookmesh()
        .args(["serve", "--config"])
        .arg(&config)
        .env("HOOKMESH_TEST_ADMIN", "a-test-admin-token-of-some-length")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);
    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = http_get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains(r#""name":"webhook""#), "{ready}");
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}

/// Reads the server's log until it says where it listens.
fn listening_addr(child: &mut std::process::Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("addr=").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    rx.recv_timeout(deadline - Instant::now())
        .expect("server did not report its address")
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
