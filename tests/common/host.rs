//! Runs the real `hookmesh` binary on loopback with a throw-away config and
//! store, and talks to its API.

use super::plugins_dir;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// base64 of "0123456789abcdef0123456789abcdef".
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Sections of the test config; defaults suit tests with loopback receivers.
#[derive(Clone)]
pub struct HostConfig {
    pub security: String,
    pub delivery: String,
    pub ingest: String,
    /// Extra `[storage]` keys (e.g. the Redis backend); the embedded
    /// store in the host's own directory when empty.
    pub storage: String,
    /// Extra TOML appended at the end (e.g. `[[projects]]`).
    pub extra: String,
    /// Plugins dir; the built plugins when `None`.
    pub plugins: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            security: "https_only = false\nallow_private_targets = true".into(),
            delivery: "retry_schedule = [\"100ms\"]\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
            ingest: "events_per_second = 100000\nburst = 100000".into(),
            storage: String::new(),
            extra: String::new(),
            plugins: None,
        }
    }
}

/// A running hookmesh process.
pub struct Host {
    child: Option<Child>,
    /// The host's log lines (the latest [`LOG_LINES_KEPT`]).
    logs: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
    pub addr: String,
    pub dir: PathBuf,
    config: PathBuf,
    pub http: reqwest::Client,
}

/// Log lines a [`Host`] keeps for [`Host::log_value`].
const LOG_LINES_KEPT: usize = 2_000;

/// A project created through the API.
#[derive(Debug, Clone)]
pub struct TestProject {
    pub id: String,
    pub secret_key: String,
    pub publishable_key: String,
}

fn unique_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir =
        std::env::temp_dir().join(format!("hookmesh-it-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Host {
    /// Starts a host with `config`.
    pub fn start(name: &str, config: HostConfig) -> Self {
        let dir = unique_dir(name);
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\
             [storage]\npath = \"{store}\"\n{storage}\n[plugins]\ndir = \"{plugins}\"\n\
             [security]\nmaster_key = \"{MASTER_KEY}\"\n{security}\n[delivery]\n{delivery}\n\
             [ingest]\n{ingest}\n{extra}\n",
            store = dir.join("hookmesh.redb").display(),
            storage = config.storage,
            plugins = config.plugins.clone().unwrap_or_else(plugins_dir).display(),
            security = config.security,
            delivery = config.delivery,
            ingest = config.ingest,
            extra = config.extra,
        );
        let config_path = dir.join("hookmesh.toml");
        std::fs::write(&config_path, toml).unwrap();
        let _ = super::plugin("webhook");
        let mut host = Self {
            child: None,
            logs: Default::default(),
            addr: String::new(),
            dir,
            config: config_path,
            http: reqwest::Client::new(),
        };
        host.spawn();
        host
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookmesh"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("HOOKMESH_CONFIG")
            .env(
                "RUST_LOG",
                std::env::var("HOOKMESH_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hookmesh");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let echo = std::env::var_os("HOOKMESH_TEST_LOG").is_some();
        let logs = std::sync::Arc::clone(&self.logs);
        std::thread::spawn(move || {
            // Keep draining so the host never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[host] {line}");
                }
                if let Ok(mut logs) = logs.lock() {
                    if logs.len() == LOG_LINES_KEPT {
                        logs.pop_front();
                    }
                    logs.push_back(line.clone());
                }
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
        self.addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("hookmesh did not report its address");
        self.child = Some(child);
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, then waits (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("host running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                panic!("hookmesh did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts again on the same store and config (new port).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Starts a stopped host again.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "host still running");
        self.spawn();
    }

    /// The value of the last `key=value` field logged under `key`
    /// (e.g. `owner` from the Redis store's start-up line).
    pub fn log_value(&self, key: &str) -> Option<String> {
        let needle = format!("{key}=");
        let logs = self.logs.lock().unwrap();
        logs.iter().rev().find_map(|line| {
            let rest = line.split(&needle).nth(1)?;
            let value = rest.split_whitespace().next()?;
            Some(value.trim_matches('"').to_string())
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request with `key` as bearer; returns status and JSON body
    /// (`Value::Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request to hookmesh");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(key), Some(&body))
            .await
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(key), None).await
    }

    pub async fn create_project(&self, id: &str) -> TestProject {
        let (status, body) = self
            .post(
                "/projects",
                ADMIN_TOKEN,
                json!({ "name": id, "id": id, "custom_event_types": ["order.paid"] }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        TestProject {
            id: body["id"].as_str().unwrap().into(),
            secret_key: body["secret_key"].as_str().unwrap().into(),
            publishable_key: body["publishable_key"].as_str().unwrap().into(),
        }
    }

    /// Registers a webhook; returns its id and secret.
    pub async fn create_webhook(&self, project: &TestProject, body: Value) -> (String, String) {
        let path = format!("/projects/{}/integrations/webhooks", project.id);
        let (status, created) = self.post(&path, &project.secret_key, body).await;
        assert_eq!(status, 201, "{created}");
        (
            created["id"].as_str().unwrap().into(),
            created["secret"].as_str().unwrap().into(),
        )
    }

    /// Ingests one event; asserts `202`.
    pub async fn send_event(&self, project: &TestProject, event: &str, payload: Value) -> String {
        let (status, body) = self
            .post(
                &format!("/projects/{}/events", project.id),
                &project.publishable_key,
                json!({ "event": event, "payload": payload }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().into()
    }

    /// Ingests events in one bulk request (secret key); asserts `202`.
    pub async fn send_bulk(&self, project: &TestProject, events: Vec<Value>) -> Value {
        let (status, body) = self
            .post(
                &format!("/projects/{}/events/bulk", project.id),
                &project.secret_key,
                json!({ "events": events }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body
    }

    /// Polls `check` until it returns `Some` or `timeout` passes.
    pub async fn eventually<T, F, Fut>(&self, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill9();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
