//! A third party's path, outside this repository: `hookmesh plugin new`
//! scaffolds a crate in a temporary directory, `hookmesh plugin build`
//! turns it into a component, and a host loading it delivers an event
//! through it to a real HTTP receiver.
//!
//! The build reuses what `plugins/build.sh` compiled (see
//! [`shared_target_dir`]), and the scaffold starts from the workspace's
//! `Cargo.lock`, so the plugins' dependencies are not compiled again: the
//! build takes about 6 s after `plugins/build.sh` (1.5 s when the SDK was
//! already built without features), against minutes from cold.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig};
use common::receiver::Receiver;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn hookmesh(args: &[&str], target_dir: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_hookmesh"))
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "hookmesh {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "hookmesh-it-authoring-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `CARGO_TARGET_DIR` under which `plugin build` finds the artifacts of
/// `plugins/build.sh`: it builds in `target/wasm` with rustup's target and
/// in `target/wasm-debian` with Debian's toolchain, which is where `plugin
/// build` puts a Debian build under `CARGO_TARGET_DIR=target`.
fn shared_target_dir() -> PathBuf {
    let target = common::repo_root().join("target");
    match (
        target.join("wasm").is_dir(),
        target.join("wasm-debian").is_dir(),
    ) {
        (false, true) => target,
        _ => target.join("wasm"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_plugin_builds_outside_the_workspace_and_delivers() {
    let scratch = scratch_dir();
    assert!(
        !scratch.starts_with(common::repo_root()),
        "the crate must live outside the workspace"
    );
    let target_dir = shared_target_dir();
    let dir = scratch.to_str().unwrap();
    let created = hookmesh(&["plugin", "new", "echoer", "--dir", dir], &target_dir);
    assert!(String::from_utf8_lossy(&created.stdout).contains("created plugin `echoer`"));
    let crate_dir = scratch.join("echoer");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let sdk = std::fs::canonicalize(common::repo_root().join("sdk")).unwrap();
    assert!(
        manifest.contains(&format!("path = {:?}", sdk.display().to_string())),
        "{manifest}"
    );
    assert!(crate_dir.join("Cargo.lock").is_file());

    let plugins = scratch.join("plugins");
    let out = plugins.join("echoer.wasm");
    let started = Instant::now();
    let built = hookmesh(
        &[
            "plugin",
            "build",
            crate_dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &target_dir,
    );
    eprintln!("plugin build took {:.1?}", started.elapsed());
    let report = String::from_utf8_lossy(&built.stdout);
    assert!(report.contains("plugin `echoer` 0.1.0"), "{report}");
    assert!(out.is_file());
    std::fs::copy(common::plugin("webhook"), plugins.join("webhook.wasm")).unwrap();

    let host = Host::start(
        "authoring",
        HostConfig {
            plugins: Some(plugins.clone()),
            ..HostConfig::default()
        },
    );
    let project = host.create_project("acme").await;
    let providers_path = format!("/projects/{}/integrations/providers", project.id);
    let (_, providers) = host.get(&providers_path, &project.secret_key).await;
    let echoer = providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "echoer")
        .cloned()
        .unwrap_or_else(|| panic!("echoer is listed: {providers}"));
    assert_eq!(echoer["missing_required"], json!(["token"]), "{echoer}");
    let field = &echoer["manifest"]["config_fields"][0];
    assert_eq!(field["required_for"], "project", "{field}");
    assert_eq!(field["secret"], true, "{field}");

    let (status, configured) = host
        .call(
            reqwest::Method::PUT,
            &format!("{providers_path}/echoer"),
            Some(&project.secret_key),
            Some(&json!({ "config": { "token": "t0k-out-of-tree" } })),
        )
        .await;
    assert_eq!(status, 200, "{configured}");
    assert_eq!(configured["status"], "enabled", "{configured}");

    let receiver = Receiver::ok();
    host.create_webhook(
        &project,
        json!({ "url": receiver.url("/in"), "events": ["user.created"], "provider": "echoer" }),
    )
    .await;
    let id = host
        .send_event(&project, "user.created", json!({ "id": "usr_7" }))
        .await;
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer t0k-out-of-tree")
    );
    assert_eq!(got[0].header("idempotency-key"), Some(id.as_str()));
    assert_eq!(got[0].json()["payload"]["id"], "usr_7");
    std::fs::remove_dir_all(&scratch).ok();
}
