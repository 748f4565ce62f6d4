//! Runs hookmesh on loopback with a throw-away config and store, and talks
//! to its API. [`Host::start`] runs the server in-process
//! (`hookmesh::server::serve` on a port-0 listener of the test's, on a
//! thread and actix system of its own); [`Host::start_process`] runs the
//! real binary, for tests that kill, signal or restart it.

use super::plugins_dir;
use hookmesh::clock::{Clock, SystemClock};
use hookmesh_test_support::process::{HostProcess, Launch};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// base64 of "0123456789abcdef0123456789abcdef".
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// How long an in-process host may take to stop before the test moves on.
const IN_PROCESS_STOP_WAIT: Duration = Duration::from_secs(15);

/// Sections of the test config; defaults suit tests with loopback receivers.
#[derive(Clone)]
pub struct HostConfig {
    pub security: String,
    pub delivery: String,
    pub ingest: String,
    /// `[management]`: the management API's per-caller limit.
    pub management: String,
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
            management: "requests_per_second = 100000\nburst = 100000".into(),
            storage: String::new(),
            extra: String::new(),
            plugins: None,
        }
    }
}

/// How a [`Host`] runs.
enum Running {
    /// `serve` on a thread of this test process.
    InProcess(InProcess),
    /// The `hookmesh` binary.
    Process(HostProcess),
}

/// An in-process server: told to stop through `stop`, reports on `done`.
struct InProcess {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<Result<(), String>>>,
}

impl InProcess {
    fn start(config: &std::path::Path, clock: Arc<dyn Clock>) -> (Self, String) {
        let settings = hookmesh::config::load(Some(config)).expect("the test config is valid");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (report, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("hookmesh-in-process".into())
            .spawn(move || {
                let served = actix_web::rt::System::new().block_on(
                    hookmesh::server::serve_with_clock(listener, settings, clock, async {
                        let _ = stopped.await;
                    }),
                );
                let _ = report.send(served.map_err(|e| format!("{e:#}")));
            })
            .unwrap();
        (
            Self {
                stop: Some(stop),
                done: std::sync::Mutex::new(done),
            },
            addr,
        )
    }

    /// Asks the server to stop and waits (bounded) until it did.
    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        match done.recv_timeout(IN_PROCESS_STOP_WAIT) {
            Ok(Err(error)) if !std::thread::panicking() => panic!("the host failed: {error}"),
            _ => {}
        }
    }
}

/// A running hookmesh.
pub struct Host {
    running: Option<Running>,
    /// The delivery path's clock (in-process hosts).
    clock: Arc<dyn Clock>,
    pub addr: String,
    pub dir: PathBuf,
    config: PathBuf,
    pub http: reqwest::Client,
}

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
    /// Runs a host with `config` in-process.
    pub fn start(name: &str, config: HostConfig) -> Self {
        Self::start_with_clock(name, config, Arc::new(SystemClock))
    }

    /// Runs a host in-process whose delivery path reads `clock`.
    pub fn start_with_clock(name: &str, config: HostConfig, clock: Arc<dyn Clock>) -> Self {
        let mut host = Self::prepare(name, config, clock);
        let (server, addr) = InProcess::start(&host.config, Arc::clone(&host.clock));
        host.running = Some(Running::InProcess(server));
        host.addr = addr;
        host
    }

    /// Runs the `hookmesh` binary with `config`: for tests that kill,
    /// signal or restart it.
    pub fn start_process(name: &str, config: HostConfig) -> Self {
        let mut host = Self::prepare(name, config, Arc::new(SystemClock));
        host.spawn();
        host
    }

    fn prepare(name: &str, config: HostConfig, clock: Arc<dyn Clock>) -> Self {
        let dir = unique_dir(name);
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\
             [storage]\npath = \"{store}\"\n{storage}\n[plugins]\ndir = \"{plugins}\"\n\
             [security]\nmaster_key = \"{MASTER_KEY}\"\n{security}\n[delivery]\n{delivery}\n\
             [ingest]\n{ingest}\n[management]\n{management}\n{extra}\n",
            store = dir.join("hookmesh.redb").display(),
            storage = config.storage,
            plugins = config.plugins.clone().unwrap_or_else(plugins_dir).display(),
            security = config.security,
            delivery = config.delivery,
            ingest = config.ingest,
            management = config.management,
            extra = config.extra,
        );
        let config_path = dir.join("hookmesh.toml");
        std::fs::write(&config_path, toml).unwrap();
        let _ = super::plugin("webhook");
        Self {
            running: None,
            clock,
            addr: String::new(),
            dir,
            config: config_path,
            http: client(),
        }
    }

    fn spawn(&mut self) {
        let filter = std::env::var("HOOKMESH_TEST_LOG").unwrap_or_else(|_| "info".into());
        let process = HostProcess::start(&Launch {
            bin: std::path::Path::new(env!("CARGO_BIN_EXE_hookmesh")),
            config: &self.config,
            log_filter: &filter,
            echo: std::env::var_os("HOOKMESH_TEST_LOG").is_some(),
            start_timeout: Duration::from_secs(60),
        })
        .expect("start hookmesh");
        self.addr = process.addr.clone();
        self.running = Some(Running::Process(process));
    }

    fn process(&mut self) -> &mut HostProcess {
        match &mut self.running {
            Some(Running::Process(process)) => process,
            Some(Running::InProcess(_)) => {
                panic!("only a host from Host::start_process can be killed or signalled")
            }
            None => panic!("the host is not running"),
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        self.process().kill9();
        self.running = None;
    }

    /// SIGTERM, then waits (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let status = self.process().terminate(timeout).expect("hookmesh exits");
        self.running = None;
        status
    }

    /// Kills the process and starts it again on the same store and config
    /// (new port).
    pub fn restart(&mut self) {
        if self.running.is_some() {
            self.kill9();
        }
        self.spawn();
    }

    /// Starts a stopped process again.
    pub fn start_again(&mut self) {
        assert!(self.running.is_none(), "host still running");
        self.spawn();
    }

    /// The value of the last `key=value` field the process logged under
    /// `key` (e.g. `owner` from the Redis store's start-up line).
    pub fn log_value(&self, key: &str) -> Option<String> {
        match &self.running {
            Some(Running::Process(process)) => process.log_value(key),
            _ => panic!("only a host from Host::start_process keeps its logs"),
        }
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
        // Close this client's idle keep-alive connections first: a
        // graceful stop waits for open connections.
        self.http = client();
        match self.running.take() {
            Some(Running::InProcess(server)) => server.stop(),
            Some(Running::Process(mut process)) => process.kill9(),
            None => {}
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The tests' HTTP client: it drops an idle connection well before the
/// server's keep-alive (5 s) would, so a request never goes out on a
/// connection the server is closing (seen as `IncompleteMessage` after a
/// test paused, e.g. while a browser ran).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

/// Which store a test's host runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Embedded,
    Redis,
}

/// A host on a [`Backend`]; its Redis server (if any) is stopped after it.
pub struct OnBackend {
    pub host: Host,
    pub _redis: Option<crate::common::redis_server::RedisServer>,
}

impl Host {
    /// Runs a host with `config` on `backend`: on Redis, a server of the
    /// test's own on a free port.
    pub fn start_on(name: &str, backend: Backend, mut config: HostConfig) -> OnBackend {
        let redis = match backend {
            Backend::Embedded => None,
            Backend::Redis => {
                let redis = crate::common::redis_server::RedisServer::start(name);
                config.storage = format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url());
                Some(redis)
            }
        };
        OnBackend {
            host: Host::start(name, config),
            _redis: redis,
        }
    }
}
