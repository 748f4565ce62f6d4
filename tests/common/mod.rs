//! Shared harness for the integration tests: finds (or builds) the plugin
//! components and loads them into a sandboxed host.
#![allow(dead_code)]

use hookmesh::plugin::{
    ConfigEntry, Context, Endpoint, Event, LoadedPlugin, PluginHost, SandboxLimits,
};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Names a directory of already built components to use instead of this
/// checkout's `target/plugins` (e.g. those built in another worktree of the
/// repository); nothing is built when it is set.
pub const PLUGINS_DIR_ENV: &str = "HOOKMESH_TEST_PLUGINS_DIR";

/// Where `plugins/build.sh` puts components, or `$HOOKMESH_TEST_PLUGINS_DIR`.
pub fn plugins_dir() -> PathBuf {
    match std::env::var_os(PLUGINS_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("target/plugins"),
    }
}

/// Builds the plugins once per test binary when a component is missing
/// (tests/run.sh builds them up front, so this is the fallback for a bare
/// `cargo test`).
fn ensure_built(path: &Path) {
    static BUILT: OnceLock<()> = OnceLock::new();
    if path.is_file() {
        return;
    }
    assert!(
        std::env::var_os(PLUGINS_DIR_ENV).is_none(),
        "{} missing ({PLUGINS_DIR_ENV} is set, so plugins/build.sh is not run)",
        path.display()
    );
    BUILT.get_or_init(|| {
        let status = std::process::Command::new("bash")
            .arg(repo_root().join("plugins/build.sh"))
            .status()
            .expect("run plugins/build.sh");
        assert!(status.success(), "plugins/build.sh failed");
    });
    assert!(
        path.is_file(),
        "{} missing after plugins/build.sh",
        path.display()
    );
}

/// Path of a product plugin (`webhook`, `slack`, …).
pub fn plugin(name: &str) -> PathBuf {
    let path = plugins_dir().join(format!("{name}.wasm"));
    ensure_built(&path);
    path
}

/// Path of an example plugin (`template`).
pub fn example_plugin(name: &str) -> PathBuf {
    let path = plugins_dir().join("examples").join(format!("{name}.wasm"));
    ensure_built(&path);
    path
}

/// Path of a test plugin (`misbehave`, `wrong-abi`).
pub fn test_plugin(name: &str) -> PathBuf {
    let path = plugins_dir().join("test").join(format!("{name}.wasm"));
    ensure_built(&path);
    path
}

/// Loads `path` in a fresh host with `limits`.
pub fn load(path: &Path, limits: SandboxLimits) -> LoadedPlugin {
    let host = PluginHost::new(limits).expect("engine");
    host.load_file(path)
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

/// A sample event.
pub fn event(id: &str, payload: &str) -> Event {
    Event {
        id: id.into(),
        event_type: "user.signup".into(),
        resource: Some("user".into()),
        resource_id: Some("usr_2048".into()),
        payload: payload.as_bytes().to_vec(),
        time_created_ms: 1_774_137_600_000,
    }
}

/// A context for `url` with `secrets` and `config`, at `now_ms`.
pub fn context(url: &str, secrets: &[&str], config: &[(&str, &str)], now_ms: u64) -> Context {
    Context {
        now_ms,
        delivery_id: "dlv_test".into(),
        attempt: 1,
        endpoint: Some(Endpoint {
            id: "ep_test".into(),
            url: url.into(),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        }),
        config: config
            .iter()
            .map(|(k, v)| ConfigEntry {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
    }
}

/// Unix ms now.
pub fn now_ms() -> u64 {
    hookmesh::now_ms()
}

pub mod browser;
pub mod host;
pub use hookmesh_test_support::receiver;
#[allow(unused_imports)] // not every test binary uses Redis
pub use hookmesh_test_support::redis as redis_server;
