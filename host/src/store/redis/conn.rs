//! Async connections to one Redis server or a Redis Cluster, behind one
//! interface: a command, or a pipeline of commands, awaited on the caller's
//! executor.
//!
//! One server: a single multiplexed connection ([`ConnectionManager`]),
//! shared by every caller and reconnected on failure; concurrent callers'
//! commands share its socket, so there is no pool to size and no thread
//! per call. A cluster: the async cluster connection (one multiplexed
//! connection per node, redirections and topology changes handled).
//!
//! The connections' I/O runs on a small runtime of their own, so they keep
//! working whichever executor (actix's per-thread ones, a test's, none at
//! start-up) awaits them.
//!
//! A pipeline on one server runs in order on its connection. On a cluster
//! it is split by hash slot and the slots run their parts concurrently, so
//! a caller that needs "A before B" across slots runs them as two
//! [`Pool::phases`] (one pipeline on a single server, two on a cluster).

use super::super::StoreError;
use super::scripts;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{Client, Cmd, IntoConnectionInfo, RedisError, Value};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one answer may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One shared connection handle (cheap to clone: a channel to its driver).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// The connection to one server or one cluster.
pub(super) struct Pool {
    conn: Conn,
    /// Seed URLs, for pub/sub connections.
    urls: Vec<String>,
    /// Runs the connections' I/O and the store's background tasks.
    runtime: Option<tokio::runtime::Runtime>,
}

/// No Nagle delay: commands are small and answered one by one.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_nodelay(true)
}

/// Error code a script answers when the caller's lease is gone.
pub(super) const LEASE_LOST_CODE: &str = "HMLEASE";
/// Error code a script answers when the record it changes does not exist.
pub(super) const NOT_FOUND_CODE: &str = "HMNOTFOUND";

/// Maps a Redis error to the store's: our scripts' refusals by their error
/// code, a server that cannot be reached as [`StoreError::Unavailable`].
/// (A refusal's record id is filled in by the caller, which knows it.)
pub(super) fn store_error(e: RedisError) -> StoreError {
    match e.code() {
        Some(LEASE_LOST_CODE) => return StoreError::LeaseLost(String::new()),
        Some(NOT_FOUND_CODE) => {
            return StoreError::NotFound {
                what: "record",
                id: String::new(),
            }
        }
        Some("LOADING" | "TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN") => {
            return StoreError::Unavailable(format!("redis: {e}"))
        }
        _ => {}
    }
    if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() || e.is_timeout() {
        return StoreError::Unavailable(format!("redis: {e}"));
    }
    StoreError::Backend(format!("redis: {e}"))
}

impl Pool {
    /// Connects to one server (`urls` of one) or a cluster (its seed
    /// nodes); fails when it cannot be reached.
    pub(super) fn new(urls: &[String], cluster: bool) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hookmesh-redis")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot start the Redis runtime: {e}")))?;
        let connecting = connect(urls.to_vec(), cluster);
        let conn = wait_on(&runtime, connecting)?;
        Ok(Self {
            conn,
            urls: urls.to_vec(),
            runtime: Some(runtime),
        })
    }

    /// The seed URLs.
    pub(super) fn urls(&self) -> &[String] {
        &self.urls
    }

    /// True for a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// Runs `task` on the connections' runtime (background work of the
    /// store, such as lease renewal); it stops when the store is dropped.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(task);
        }
    }

    /// Runs one command. A script the server does not have (`NOSCRIPT`:
    /// it did not run) is loaded and called again.
    pub(super) async fn run(&self, cmd: &Cmd) -> Result<Value, StoreError> {
        let mut reloads = 0;
        loop {
            match self.run_once(cmd).await {
                Err(e) if e.code() == Some(NO_SCRIPT) && reloads < MAX_RELOADS => {
                    reloads += 1;
                    self.load_scripts().await?;
                }
                answered => return answered.map_err(store_error),
            }
        }
    }

    async fn run_once(&self, cmd: &Cmd) -> Result<Value, RedisError> {
        match self.conn.clone() {
            Conn::Single(mut c) => cmd.query_async(&mut c).await,
            Conn::Cluster(mut c) => cmd.query_async(&mut c).await,
        }
    }

    /// Runs commands pipelined; one answer per command, in order. Fails
    /// when any command failed (the others may have run). Commands of one
    /// pipeline must not depend on each other's order (on a cluster they
    /// run per slot, concurrently): so a script answered `NOSCRIPT` (it
    /// did not run) is loaded and called again after the others.
    pub(super) async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Value>, StoreError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let mut answers = self.pipeline_once(cmds).await?;
        for _ in 0..MAX_RELOADS {
            let missing: Vec<usize> = (0..answers.len())
                .filter(|&i| is_no_script(&answers[i]))
                .collect();
            if missing.is_empty() {
                break;
            }
            self.load_scripts().await?;
            let again: Vec<Cmd> = missing.iter().map(|&i| cmds[i].clone()).collect();
            for (i, answer) in missing.into_iter().zip(self.pipeline_once(&again).await?) {
                answers[i] = answer;
            }
        }
        answers
            .into_iter()
            .map(|answer| match answer {
                Value::ServerError(e) => Err(store_error(e.into())),
                answer => Ok(answer),
            })
            .collect()
    }

    /// One pipeline; a command's error is its answer.
    async fn pipeline_once(&self, cmds: &[Cmd]) -> Result<Vec<Value>, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query_async(&mut c).await.map_err(store_error)
            }
            Conn::Cluster(c) => cluster_pipeline(c, cmds).await,
        }
    }

    /// Runs `phases` so each completes before the next starts: on one
    /// server as a single pipeline (a connection runs in order), on a
    /// cluster one pipeline per phase. Answers per phase. A phase that
    /// calls a script and has phases after it runs as a pipeline of its
    /// own, on one server too: were the script answered `NOSCRIPT`, the
    /// later phases must not have run yet.
    pub(super) async fn phases(
        &self,
        phases: Vec<Vec<Cmd>>,
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let scripted_before_last = phases
            .iter()
            .rev()
            .skip(1)
            .any(|cmds| cmds.iter().any(is_script));
        if self.is_cluster() || scripted_before_last {
            let mut answers = Vec::with_capacity(phases.len());
            for cmds in &phases {
                answers.push(self.pipeline(cmds).await?);
            }
            return Ok(answers);
        }
        let sizes: Vec<usize> = phases.iter().map(Vec::len).collect();
        let all: Vec<Cmd> = phases.into_iter().flatten().collect();
        let mut answers = self.pipeline(&all).await?.into_iter();
        Ok(sizes
            .into_iter()
            .map(|n| answers.by_ref().take(n).collect())
            .collect())
    }

    /// Loads every script (on a cluster, on every primary).
    async fn load_scripts(&self) -> Result<(), StoreError> {
        tracing::info!(
            "redis does not have our scripts (restarted, failed over or flushed): loading them"
        );
        let loads: Vec<Cmd> = scripts::ALL
            .iter()
            .map(|script| redis::cmd("SCRIPT").arg("LOAD").arg(*script).to_owned())
            .collect();
        if let Conn::Single(mut c) = self.conn.clone() {
            // One round trip.
            let mut pipe = redis::pipe();
            for load in loads {
                pipe.add_command(load);
            }
            let _: Vec<Value> = pipe.query_async(&mut c).await.map_err(store_error)?;
            return Ok(());
        }
        // Each to every primary (a keyless pipeline would reach one node).
        for load in &loads {
            self.run_once(load).await.map_err(store_error)?;
        }
        Ok(())
    }
}

/// The error code of a script call the server has no script for.
const NO_SCRIPT: &str = "NOSCRIPT";
/// Loads after `NOSCRIPT` before a call gives up (another `SCRIPT FLUSH`
/// may land between the load and the call).
const MAX_RELOADS: usize = 5;

fn is_no_script(answer: &Value) -> bool {
    matches!(answer, Value::ServerError(e) if e.code() == NO_SCRIPT)
}

/// The command calls a script by digest.
fn is_script(cmd: &Cmd) -> bool {
    cmd.args_iter().next().is_some_and(
        |arg| matches!(arg, redis::Arg::Simple(name) if name.eq_ignore_ascii_case(b"EVALSHA")),
    )
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which an async caller
        // (the last owner may be one) must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Opens the shared connection (on the pool's runtime, which drives it).
async fn connect(urls: Vec<String>, cluster: bool) -> Result<Conn, StoreError> {
    if cluster {
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(2)
            .tcp_settings(tcp_settings())
            .build()
            .map_err(store_error)?;
        let conn = client.get_async_connection().await.map_err(store_error)?;
        return Ok(Conn::Cluster(conn));
    }
    let url = urls
        .first()
        .ok_or_else(|| StoreError::Backend("no Redis URL".into()))?;
    let info = url
        .as_str()
        .into_connection_info()
        .map_err(store_error)?
        .set_tcp_settings(tcp_settings());
    let client = Client::open(info).map_err(store_error)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2);
    let mut conn = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(store_error)?;
    conn.send_packed_command(&redis::cmd("PING"))
        .await
        .map_err(store_error)?;
    Ok(Conn::Single(conn))
}

/// Runs `work` on `runtime` and waits for it from any thread, inside an
/// async context or not (start-up code may be either).
fn wait_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv()
        .map_err(|_| StoreError::Backend("the Redis runtime stopped".into()))?
}

/// A cluster pipeline: the commands grouped by hash slot (the async
/// cluster connection pipelines within one slot only), each group in
/// order, the groups concurrently; answers back in the callers' order.
async fn cluster_pipeline(conn: ClusterConnection, cmds: &[Cmd]) -> Result<Vec<Value>, StoreError> {
    let mut groups: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (i, cmd) in cmds.iter().enumerate() {
        groups.entry(slot_key(cmd)).or_default().push(i);
    }
    let runs = groups.into_values().map(|indexes| {
        let mut conn = conn.clone();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in &indexes {
            pipe.add_command(cmds[i].clone());
        }
        async move {
            let answers: Vec<Value> = pipe.query_async(&mut conn).await?;
            Ok::<_, RedisError>(indexes.into_iter().zip(answers))
        }
    });
    let mut answers: Vec<Option<Value>> = vec![None; cmds.len()];
    for group in try_join_all(runs).await.map_err(store_error)? {
        for (i, answer) in group {
            answers[i] = Some(answer);
        }
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| StoreError::Backend("redis: a pipeline answer is missing".into())))
        .collect()
}

/// The part of a command's first key that picks its slot: the hash tag
/// when there is one (every key of ours has one), else the whole key.
fn slot_key(cmd: &Cmd) -> Vec<u8> {
    let key = first_key(cmd).unwrap_or_default();
    hash_tag(&key).to_vec()
}

fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// A command's first key: after the script and key count for scripts,
/// else its first argument.
fn first_key(cmd: &Cmd) -> Option<Vec<u8>> {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .filter_map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .take(4)
        .collect();
    let name = args.first()?;
    let is_script = name.eq_ignore_ascii_case(b"EVAL") || name.eq_ignore_ascii_case(b"EVALSHA");
    let key = if is_script {
        let count: usize = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
        if count == 0 {
            return None;
        }
        args.get(3)?
    } else {
        args.get(1)?
    };
    Some(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_follow_the_cluster_specification() {
        // The Redis Cluster specification's examples.
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"plain"), b"plain");
    }

    #[test]
    fn scripts_are_routed_by_their_first_key() {
        let mut eval = redis::cmd("EVALSHA");
        eval.arg("abc")
            .arg(2)
            .arg("hm:{ep_1}:queue")
            .arg("hm:{ep_1}:lease")
            .arg("x");
        assert_eq!(slot_key(&eval), b"ep_1".to_vec());
        let mut get = redis::cmd("GET");
        get.arg("hm:{ev_2}:event");
        assert_eq!(slot_key(&get), b"ev_2".to_vec());
        let mut none = redis::cmd("EVAL");
        none.arg("return 1").arg(0);
        assert_eq!(first_key(&none), None);
    }
}
