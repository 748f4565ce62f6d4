//! Day one for users of the products hookmesh replaces (issue #15): their
//! example requests as written, their receivers' verification code in
//! Node, receiver compatibility per endpoint, secrets they bring, open and
//! strict event types with schema-checked payloads, test events with a
//! body, and the README's tour run command by command.
//!
//! The Node receiver (`tests/node/seed_receiver.mjs`) verifies with the
//! zMesh/Zenovay function; `tests/run.sh` installs node (and jq, which
//! the README tour uses).

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject, ADMIN_TOKEN};
use common::receiver::Receiver;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
/// zMesh's register example secret, as written in their docs.
const ZMESH_SECRET: &str = "whsec_your_signing_secret";

/// Meshes' `user.signup` event, as their docs write it.
fn meshes_signup() -> Value {
    json!({
        "event": "user.signup",
        "resource": "user",
        "resource_id": "usr_2048",
        "payload": { "email": "test@example.com", "plan": "pro" }
    })
}

/// A project created through the API with no declared types.
async fn project(host: &Host, id: &str) -> TestProject {
    let (status, body) = host
        .post("/projects", ADMIN_TOKEN, json!({ "name": id, "id": id }))
        .await;
    assert_eq!(status, 201, "{body}");
    TestProject {
        id: id.into(),
        secret_key: body["secret_key"].as_str().unwrap().into(),
        publishable_key: body["publishable_key"].as_str().unwrap().into(),
    }
}

fn hooks(p: &TestProject) -> String {
    format!("/projects/{}/integrations/webhooks", p.id)
}

async fn put(host: &Host, path: &str, key: &str, body: Value) -> (u16, Value) {
    host.call(Method::PUT, path, Some(key), Some(&body)).await
}

/// The node receiver: a child process started by this test, killed on drop.
struct NodeReceiver {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<Value>,
}

impl NodeReceiver {
    fn start(secret: &str, signature_header: &str) -> Self {
        let dir = common::repo_root().join("tests/node");
        let mut child = Command::new("node")
            .arg("seed_receiver.mjs")
            .args([secret, signature_header])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node ({e}): tests/run.sh installs it"));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = send.send(value);
                }
            }
        });
        let first = lines.recv_timeout(LONG).expect("node printed its port");
        let port = u16::try_from(first["port"].as_u64().unwrap()).unwrap();
        Self { child, port, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request the receiver logged.
    fn next(&self) -> Value {
        self.lines
            .recv_timeout(LONG)
            .expect("node logged a request")
    }
}

impl Drop for NodeReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[path = "day_one/event_types.rs"]
mod event_types;
#[path = "day_one/seeds.rs"]
mod seeds;
#[path = "day_one/test_log.rs"]
mod test_log;
