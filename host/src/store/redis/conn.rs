//! Connections to one Redis server or a Redis Cluster, pooled, with
//! timeouts, behind one interface: a command, or a pipeline of commands.
//!
//! A pipeline on one server runs in order on one connection. On a cluster
//! it is split by node and the nodes run their parts concurrently, so a
//! caller that needs "A before B" across slots runs them as two
//! [`Pool::phases`] (one pipeline on a single server, two on a cluster).

use super::super::StoreError;
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::io::tcp::TcpSettings;
use redis::{Client, Cmd, Connection, IntoConnectionInfo, RedisError, Value};
use std::sync::Mutex;
use std::time::Duration;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one answer may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept: as many as blocking-pool threads commonly run
/// store calls at once under load, so a busy instance does not connect
/// anew for each burst (a profile at 1,000 events/s showed 3 % of the
/// host's time in `connect` with 32).
const MAX_IDLE: usize = 256;

/// Where the data lives.
enum Target {
    Single(Client),
    Cluster(ClusterClient),
}

/// One open connection.
enum Conn {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

/// Pooled connections to one server or one cluster.
pub(super) struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    /// Seed URLs, for pub/sub connections.
    urls: Vec<String>,
}

/// No Nagle delay: commands are small and answered one by one.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_nodelay(true)
}

/// A Redis error as a store error.
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
    /// A pool for one server (`urls` of one) or a cluster (its seed nodes).
    pub(super) fn new(urls: &[String], cluster: bool) -> Result<Self, StoreError> {
        let target = if cluster {
            let client = ClusterClientBuilder::new(urls.to_vec())
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(RESPONSE_TIMEOUT)
                .retries(2)
                .tcp_settings(tcp_settings())
                .build()
                .map_err(store_error)?;
            Target::Cluster(client)
        } else {
            let url = urls
                .first()
                .ok_or_else(|| StoreError::Backend("no Redis URL".into()))?;
            let info = url
                .as_str()
                .into_connection_info()
                .map_err(store_error)?
                .set_tcp_settings(tcp_settings());
            Target::Single(Client::open(info).map_err(store_error)?)
        };
        Ok(Self {
            target,
            idle: Mutex::new(Vec::new()),
            urls: urls.to_vec(),
        })
    }

    /// The seed URLs.
    pub(super) fn urls(&self) -> &[String] {
        &self.urls
    }

    /// True for a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    fn connect(&self) -> Result<Conn, RedisError> {
        match &self.target {
            Target::Single(client) => {
                let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
                conn.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
                conn.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
                Ok(Conn::Single(conn))
            }
            Target::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }

    /// Runs `f` on a pooled connection; a connection that failed is dropped.
    fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, RedisError>) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.connect().map_err(store_error)?,
        };
        let result = f(&mut conn);
        let healthy = match &result {
            Ok(_) => true,
            // A script's or command's own error leaves the connection usable.
            Err(e) => {
                e.code().is_some()
                    && !e.is_io_error()
                    && !e.is_timeout()
                    && !e.is_connection_dropped()
            }
        };
        if healthy {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
        result.map_err(store_error)
    }

    /// Runs one command.
    pub(super) fn run(&self, cmd: &Cmd) -> Result<Value, StoreError> {
        self.with(|conn| match conn {
            Conn::Single(c) => cmd.query(c),
            Conn::Cluster(c) => cmd.query(c.as_mut()),
        })
    }

    /// Runs commands pipelined; one answer per command, in order. Fails
    /// when any command failed (the others may have run).
    pub(super) fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<Value>, StoreError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|conn| match conn {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
        })
    }

    /// Runs `phases` so each completes before the next starts: on one
    /// server as a single pipeline (a connection runs in order), on a
    /// cluster one pipeline per phase. Answers per phase.
    pub(super) fn phases(&self, phases: Vec<Vec<Cmd>>) -> Result<Vec<Vec<Value>>, StoreError> {
        if self.is_cluster() {
            return phases.iter().map(|cmds| self.pipeline(cmds)).collect();
        }
        let sizes: Vec<usize> = phases.iter().map(Vec::len).collect();
        let all: Vec<Cmd> = phases.into_iter().flatten().collect();
        let mut answers = self.pipeline(&all)?.into_iter();
        Ok(sizes
            .into_iter()
            .map(|n| answers.by_ref().take(n).collect())
            .collect())
    }
}
