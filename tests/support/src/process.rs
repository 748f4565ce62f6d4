//! A `hookmesh serve` process with a given config: started, its address
//! read from its start-up log line (`hookmesh listening addr=…`), its
//! recent log lines kept, killed on drop. Crash tests and the load tool
//! use it; other tests run the server in-process (`hookmesh::server::serve`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Log lines kept for [`HostProcess::log_value`].
const LOG_LINES_KEPT: usize = 2_000;

/// How the process is started.
pub struct Launch<'a> {
    /// The `hookmesh` binary.
    pub bin: &'a Path,
    /// The config file (`serve --config`).
    pub config: &'a Path,
    /// `RUST_LOG` for the process.
    pub log_filter: &'a str,
    /// Print every log line to stderr, prefixed `[host]`.
    pub echo: bool,
    /// How long to wait for the address.
    pub start_timeout: Duration,
}

/// A running `hookmesh serve`.
pub struct HostProcess {
    child: Option<Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
    logs: Arc<Mutex<VecDeque<String>>>,
}

impl HostProcess {
    /// Starts the process and waits for the address it listens on.
    pub fn start(launch: &Launch<'_>) -> std::io::Result<Self> {
        let mut child = Command::new(launch.bin)
            .args(["serve", "--config"])
            .arg(launch.config)
            .env_remove("HOOKMESH_CONFIG")
            .env("RUST_LOG", launch.log_filter)
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no stderr pipe"))?;
        let logs: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let (kept, echo) = (Arc::clone(&logs), launch.echo);
        std::thread::spawn(move || {
            // Keep draining so the host never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[host] {line}");
                }
                if let Some(addr) = field(&line, "addr") {
                    let _ = tx.send(addr);
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == LOG_LINES_KEPT {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let mut process = Self {
            child: Some(child),
            addr: String::new(),
            logs,
        };
        process.addr = rx.recv_timeout(launch.start_timeout).map_err(|_| {
            std::io::Error::other(format!(
                "hookmesh did not report its address within {:?}; last lines:\n{}",
                launch.start_timeout,
                process.log_tail(20)
            ))
        })?;
        Ok(process)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit status (SIGKILL and
    /// an error past it).
    pub fn terminate(&mut self, timeout: Duration) -> std::io::Result<std::process::ExitStatus> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| std::io::Error::other("the host is not running"))?;
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !sent.success() {
            return Err(std::io::Error::other("kill -TERM failed"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                return Err(std::io::Error::other(format!(
                    "hookmesh did not exit within {timeout:?} of SIGTERM"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value of the last `key=value` field logged under `key`.
    pub fn log_value(&self, key: &str) -> Option<String> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.iter().rev().find_map(|line| field(line, key))
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let skip = logs.len().saturating_sub(n);
        logs.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `value` of ` key=value` in a log line (quotes trimmed).
fn field(line: &str, key: &str) -> Option<String> {
    let rest = line.split(&format!("{key}=")).nth(1)?;
    let value = rest.split_whitespace().next()?;
    Some(value.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_read_from_log_lines() {
        let line = "INFO hookmesh::server: hookmesh listening addr=127.0.0.1:4000";
        assert_eq!(field(line, "addr").as_deref(), Some("127.0.0.1:4000"));
        let line = "INFO redis store open owner=\"inst_1\" cluster=false";
        assert_eq!(field(line, "owner").as_deref(), Some("inst_1"));
        assert_eq!(field(line, "absent"), None);
    }
}
