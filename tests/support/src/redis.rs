//! Real Redis servers for the integration tests (std only, no client crate).
//!
//! [`RedisServer::start`] runs a private `redis-server` on a free loopback
//! port with its own temporary directory and an append-only file, and waits
//! until it answers `PING`. Tests can [`kill`](RedisServer::kill) it (SIGKILL,
//! as a crash), [`shutdown`](RedisServer::shutdown) it (SIGTERM, as a clean
//! stop) and [`restart`](RedisServer::restart) it on the same port and
//! directory, so the AOF is replayed. [`RedisServer::command`] is a tiny RESP
//! client for looking inside (`CONFIG GET`, `DBSIZE`, `KEYS`…).
//! [`RedisCluster::start`] builds an N-master Redis Cluster out of such
//! servers.
//!
//! No server outlives its test process: `Drop` kills the server and removes
//! its directory, and for servers that are never dropped (statics) each
//! server has a watchdog, a `sh` whose stdin is a pipe held by the test
//! process. When the test process ends, however it ends (even by SIGKILL),
//! the kernel closes that pipe, the watchdog's `read` returns at once and it
//! SIGKILLs the server and removes its directory. `kill`/`shutdown`/`Drop`
//! SIGKILL the watchdog first, so it never signals a reused process id.
//!
//! `redis-server` (and `redis-cli` for clusters) must be on `PATH`;
//! `tests/run.sh` installs them. Tests never skip when they are missing:
//! they panic and say so.

use crate::local::{find_on_path, free_port};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM / SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `redis-cli --cluster create` may take.
const CLUSTER_CREATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a new cluster may take to report `cluster_state:ok` everywhere.
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect / read / write timeout of [`RedisServer::command`].
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(50);
/// Attempts at finding a port that is still free when redis binds it.
const PORT_ATTEMPTS: usize = 5;

/// Runs in `sh -c` beside each server: blocks on its stdin (a pipe whose
/// write end only the test process holds) and, once the pipe reaches EOF,
/// i.e. once the test process is gone, SIGKILLs the server (`$1`) and
/// removes its directory (`$2`).
const WATCHDOG: &str =
    r#"read -r _ignored; kill -9 "$1" 2>/dev/null; sleep 0.2; rm -rf -- "$2"; exit 0"#;

/// One private `redis-server` process on `127.0.0.1:port`, with its data,
/// AOF and log in `dir`.
#[derive(Debug)]
pub struct RedisServer {
    /// Its loopback port.
    pub port: u16,
    /// Its working directory (`--dir`): AOF (`appendonlydir/` on Redis 7),
    /// `redis.log`, `redis.stderr`, `nodes.conf` for cluster nodes.
    pub dir: PathBuf,
    /// The name given to `start`, for messages.
    name: String,
    /// Every command-line argument after the binary, kept for `restart`.
    args: Vec<String>,
    /// The running server, if any.
    child: Option<Child>,
    /// The watchdog and the write end of its stdin pipe.
    watchdog: Option<(Child, ChildStdin)>,
}

impl RedisServer {
    /// Starts a server with the default options (AOF on, `appendfsync
    /// everysec`, no RDB snapshots) and waits until it answers `PING`.
    /// `name` only labels the temporary directory and messages.
    ///
    /// Panics (with the tail of the server's log) when it does not come up
    /// within 10 s, and when `redis-server` is not on `PATH`.
    pub fn start(name: &str) -> RedisServer {
        Self::start_with(name, &[])
    }

    /// Like [`start`](Self::start) with extra `redis-server` options, which
    /// come after (and so override) the defaults, e.g.
    /// `&["--appendfsync", "always"]`.
    pub fn start_with(name: &str, extra_args: &[&str]) -> RedisServer {
        Self::launch(name, extra_args, false)
    }

    /// Starts a server; `cluster` adds the cluster-mode options (and picks a
    /// free cluster bus port too). Retries with new ports when the chosen
    /// one was taken in between.
    fn launch(name: &str, extra_args: &[&str], cluster: bool) -> RedisServer {
        let bin = redis_server_bin();
        let dir = unique_dir(name);
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &dir.display().to_string(),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                &dir.join("redis.log").display().to_string(),
            ]
            .iter()
            .map(ToString::to_string)
            .collect();
            if cluster {
                // The default bus port (port + 10000) may be past 65535 or
                // taken: choose one explicitly (Redis >= 7.0).
                let bus_port = free_port();
                args.extend([
                    "--cluster-enabled".to_string(),
                    "yes".to_string(),
                    "--cluster-config-file".to_string(),
                    dir.join("nodes.conf").display().to_string(),
                    "--cluster-node-timeout".to_string(),
                    "5000".to_string(),
                    "--cluster-port".to_string(),
                    bus_port.to_string(),
                ]);
            }
            args.extend(extra_args.iter().map(ToString::to_string));

            let mut server = RedisServer {
                port,
                dir: dir.clone(),
                name: name.to_string(),
                args,
                child: None,
                watchdog: None,
            };
            server.spawn(&bin);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(reason) => {
                    let log = server.log_tail();
                    if attempt < PORT_ATTEMPTS && log.contains("Address already in use") {
                        // Someone took the port between our probe and the
                        // bind: keep the dir (Drop must not remove it),
                        // clear the logs, try other ports.
                        server.kill();
                        let dir = std::mem::take(&mut server.dir);
                        let _ = fs::remove_file(dir.join("redis.log"));
                        let _ = fs::remove_file(dir.join("redis.stderr"));
                        continue;
                    }
                    panic!("{}", server.failure(&reason));
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id of the running `redis-server` (not of a wrapper), or
    /// `None` after `kill`/`shutdown`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends one command and returns the reply as text: a simple string or
    /// an integer as is, an error as its message (`ERR …`, `WRONGTYPE …`,
    /// `MOVED …`), a bulk string as its content, a null as `(nil)`, an
    /// array as its elements (recursively) joined by `\n`.
    ///
    /// Panics when the server cannot be reached or the reply is not RESP.
    pub fn command(&self, args: &[&str]) -> String {
        resp_command(&self.addr(), args, COMMAND_TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "redis `{}` on port {}: {:?} failed: {e}",
                self.name, self.port, args
            )
        })
    }

    /// SIGKILLs the server (as a crash: nothing more is written) and waits
    /// until it is gone. Does nothing when it is not running.
    pub fn kill(&mut self) {
        self.stop_watchdog();
        if let Some(mut child) = self.child.take() {
            // Err only when it already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM, as a clean shutdown: Redis flushes and
    /// fsyncs the AOF before it exits. Waits (10 s at most) until it is gone
    /// and panics when it is not, or when it exits with a failure.
    pub fn shutdown(&mut self) {
        self.stop_watchdog();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let status = Command::new("sh")
            .args(["-c", r#"kill -TERM "$1""#, "sh", &pid])
            .status()
            .expect("run `kill -TERM`");
        assert!(status.success(), "kill -TERM {pid} failed: {status}");
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) if status.success() => {}
            Some(status) => panic!(
                "redis `{}` on port {} exited with {status} after SIGTERM\n{}",
                self.name,
                self.port,
                self.log_tail()
            ),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "redis `{}` on port {} did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.name,
                    self.port,
                    self.log_tail()
                );
            }
        }
    }

    /// Starts the server again with the same port, directory and options, so
    /// it loads its AOF (and `nodes.conf` for a cluster node), and waits
    /// until it answers `PING` (i.e. has finished loading). A server still
    /// running is SIGKILLed first.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn(&redis_server_bin());
        if let Err(reason) = self.wait_ready() {
            panic!("{}", self.failure(&reason));
        }
    }

    /// The last lines of `redis.log` and everything in `redis.stderr`.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        let stderr = fs::read_to_string(self.dir.join("redis.stderr")).unwrap_or_default();
        format!(
            "--- tail of {} ---\n{tail}\n--- redis.stderr ---\n{}",
            self.dir.join("redis.log").display(),
            stderr.trim_end()
        )
    }

    /// Runs `redis-server` and its watchdog.
    fn spawn(&mut self, bin: &Path) {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.stderr"))
            .expect("create redis.stderr");
        let child = Command::new(bin)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let pid = child.id().to_string();
        self.child = Some(child);
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "sh", &pid])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the redis watchdog (sh)");
        let pipe = watchdog.stdin.take().expect("watchdog stdin is piped");
        self.watchdog = Some((watchdog, pipe));
    }

    /// SIGKILLs the watchdog before the server goes, so it can never signal
    /// a process id that has been reused.
    fn stop_watchdog(&mut self) {
        if let Some((mut watchdog, pipe)) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(pipe);
        }
    }

    /// Polls `PING` until `PONG`, the server exits, or [`START_TIMEOUT`].
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                self.stop_watchdog();
                return Err(format!("redis-server exited with {status}"));
            }
            match resp_command(&self.addr(), &["PING"], Duration::from_secs(1)) {
                Ok(reply) if reply == "PONG" => return Ok(()),
                // LOADING while it replays the AOF, refused before it binds.
                _ if Instant::now() >= deadline => {
                    return Err(format!("no PONG within {START_TIMEOUT:?}"));
                }
                _ => thread::sleep(POLL),
            }
        }
    }

    fn failure(&self, reason: &str) -> String {
        format!(
            "redis `{}` on port {} did not come up: {reason}\nargs: {:?}\n{}",
            self.name,
            self.port,
            self.args,
            self.log_tail()
        )
    }
}

impl Drop for RedisServer {
    /// Kills the server and removes its directory.
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A Redis Cluster of masters only (no replicas), each a [`RedisServer`]
/// with cluster mode on.
#[derive(Debug)]
pub struct RedisCluster {
    /// The masters, in the order given to `redis-cli --cluster create`
    /// (node 0 gets the lowest slots).
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` (at least 3) cluster-mode servers, joins them with
    /// `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`,
    /// and waits until `CLUSTER INFO` on every node says
    /// `cluster_state:ok`. Panics when that does not happen in time.
    pub fn start(name: &str, masters: usize) -> RedisCluster {
        assert!(
            masters >= 3,
            "a Redis Cluster needs at least 3 masters, got {masters}"
        );
        let cli = find_on_path("redis-cli").unwrap_or_else(|| {
            panic!("redis-cli not found: run tests/run.sh (it installs redis-tools)")
        });
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|i| RedisServer::launch(&format!("{name}-{i}"), &[], true))
            .collect();
        let cluster = RedisCluster { nodes };

        let out_path = cluster.nodes[0].dir.join("cluster-create.log");
        let out = File::create(&out_path).expect("create cluster-create.log");
        let mut create = Command::new(&cli);
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(node.addr());
        }
        let mut child = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", cli.display()));
        let status = wait_timeout(&mut child, CLUSTER_CREATE_TIMEOUT);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let output = fs::read_to_string(&out_path).unwrap_or_default();
        match status {
            Some(s) if s.success() => {}
            Some(s) => panic!("redis-cli --cluster create exited with {s}:\n{output}"),
            None => panic!(
                "redis-cli --cluster create did not finish within {CLUSTER_CREATE_TIMEOUT:?}:\n{output}"
            ),
        }

        let deadline = Instant::now() + CLUSTER_OK_TIMEOUT;
        loop {
            let states: Vec<String> = cluster
                .nodes
                .iter()
                .map(|n| {
                    resp_command(&n.addr(), &["CLUSTER", "INFO"], COMMAND_TIMEOUT)
                        .ok()
                        .and_then(|info| {
                            info.lines()
                                .find_map(|l| l.trim().strip_prefix("cluster_state:"))
                                .map(str::to_string)
                        })
                        .unwrap_or_else(|| "unreachable".into())
                })
                .collect();
            if states.iter().all(|s| s == "ok") {
                return cluster;
            }
            if Instant::now() >= deadline {
                panic!(
                    "cluster `{name}` not ok within {CLUSTER_OK_TIMEOUT:?}: states {states:?}\n{output}"
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Every node's [`RedisServer::url`], in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Sends one command to node 0 and follows `MOVED` redirections (a few
    /// at most), so keyed commands reach the node that owns the slot. The
    /// reply is as for [`RedisServer::command`].
    pub fn command(&self, args: &[&str]) -> String {
        let mut addr = self.nodes[0].addr();
        for _ in 0..5 {
            let reply = resp_command(&addr, args, COMMAND_TIMEOUT)
                .unwrap_or_else(|e| panic!("redis cluster node {addr}: {args:?} failed: {e}"));
            match reply.strip_prefix("MOVED ") {
                Some(target) => {
                    addr = target
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_else(|| panic!("malformed MOVED reply: {reply}"))
                        .to_string();
                }
                None => return reply,
            }
        }
        panic!("redis cluster: too many MOVED redirections for {args:?}")
    }
}

/// The `redis-server` binary on `PATH`; panics when there is none.
fn redis_server_bin() -> PathBuf {
    find_on_path("redis-server").unwrap_or_else(|| {
        panic!("redis-server not found: run tests/run.sh (it installs redis-server)")
    })
}

/// A new, empty directory under the system temp dir.
fn unique_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hookmesh-redis-{clean}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

/// Waits for `child` to exit, at most `timeout`.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// Sends one RESP command to `addr` on a new connection and reads the reply.
fn resp_command(addr: &str, args: &[&str], timeout: Duration) -> io::Result<String> {
    let sock: SocketAddr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    (&stream).write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

/// Reads one RESP2 reply as text (see [`RedisServer::command`]).
fn read_reply(reader: &mut impl BufRead) -> io::Result<String> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!(
            "truncated reply line: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let length = || {
        text.parse::<i64>()
            .map_err(|_| bad(format!("bad length {text:?}")))
    };
    match line[0] {
        b'+' | b'-' | b':' => Ok(text),
        b'$' => {
            let Ok(len) = usize::try_from(length()?) else {
                return Ok("(nil)".into());
            };
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        b'*' => {
            let Ok(count) = usize::try_from(length()?) else {
                return Ok("(nil)".into());
            };
            let items = (0..count)
                .map(|_| read_reply(reader))
                .collect::<io::Result<Vec<_>>>()?;
            Ok(items.join("\n"))
        }
        other => Err(bad(format!("unknown reply type {:?}", other as char))),
    }
}
