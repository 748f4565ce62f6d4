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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_examples_work_as_written() {
    let host = Host::start("day-one-seeds", HostConfig::default());
    let p = project(&host, "seeds").await;
    let zmesh = Receiver::ok();
    let zenovay = Receiver::ok();
    // zMesh: register with their literal example secret.
    let (status, created) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": zmesh.url("/webhooks"), "events": ["user.signup"], "secret": ZMESH_SECRET }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["secret"], ZMESH_SECRET);
    // Zenovay: a url alone subscribes to every event.
    let (status, created) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": zenovay.url("/hook") }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["events"], json!(["*"]));
    // Meshes: the user.signup event, accepted by a project that never declared it.
    let events = format!("/projects/{}/events", p.id);
    let (status, accepted) = host
        .post(&events, &p.publishable_key, meshes_signup())
        .await;
    assert_eq!(
        (status, &accepted["deliveries"]),
        (202, &json!(2)),
        "{accepted}"
    );
    for receiver in [&zmesh, &zenovay] {
        let got = receiver.wait_for(1, LONG).await;
        assert_eq!(got[0].json()["event"], "user.signup");
        assert_eq!(got[0].json()["payload"]["plan"], "pro");
    }
    // The zMesh secret signs the hex header with its UTF-8 bytes, and
    // Standard Webhooks verifiers take the whsec_ form the API returned.
    let got = &zmesh.received()[0];
    let hex = hex::encode(hmac_sha256(ZMESH_SECRET.as_bytes(), &got.body));
    assert_eq!(
        got.header("x-hookmesh-signature"),
        Some(format!("sha256={hex}").as_str())
    );
    let form = hookmesh_sdk::signing::standard_webhooks_form(ZMESH_SECRET);
    standardwebhooks::Webhook::new(&form)
        .unwrap()
        .verify(&got.body, &got.header_map())
        .unwrap();
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_verifies_a_delivery_with_the_seed_function() {
    let host = Host::start("day-one-node", HostConfig::default());
    let p = project(&host, "node").await;
    let node = NodeReceiver::start(ZMESH_SECRET, "X-Webhook-Signature");
    // As the seeds' receivers expect: bare hex in their header.
    let (status, created) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": node.url("/webhooks"), "secret": ZMESH_SECRET,
                    "config": { "signature_header": "X-Webhook-Signature", "signature_format": "hex" } }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let events = format!("/projects/{}/events", p.id);
    let (status, accepted) = host
        .post(&events, &p.publishable_key, meshes_signup())
        .await;
    assert_eq!(status, 202, "{accepted}");
    let logged = node.next();
    assert_eq!(logged["verified"], true, "{logged}");
    assert_eq!(logged["event"], "user.signup");
    // hookmesh recorded the delivery as a success (node answered 200
    // only because the signature verified).
    let deliveries = format!(
        "{}/{}/deliveries",
        hooks(&p),
        created["id"].as_str().unwrap()
    );
    host.eventually(LONG, || async {
        let (_, list) = host.get(&deliveries, &p.secret_key).await;
        (list["data"][0]["status"] == "succeeded").then_some(())
    })
    .await;
    // Today's default header (`sha256=<hex>`) makes that function throw.
    let (_, default) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": node.url("/default"), "secret": ZMESH_SECRET, "events": ["order.none"],
                    "config": { "signature_header": "X-Webhook-Signature", "signature_format": "sha256=hex" } }),
        )
        .await;
    let test = format!("{}/{}/test", hooks(&p), default["id"].as_str().unwrap());
    let (status, answer) = host.post(&test, &p.secret_key, json!({})).await;
    assert_eq!(
        (status, &answer["ok"], &answer["status"]),
        (200, &json!(false), &json!(401))
    );
    let logged = node.next();
    assert_eq!(logged["verified"], false);
    assert!(
        logged["error"]
            .as_str()
            .unwrap()
            .contains("same byte length"),
        "{logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_succeeds_only_when_the_endpoint_says_so() {
    let host = Host::start("day-one-3xx", HostConfig::default());
    let p = project(&host, "redirects").await;
    let node = NodeReceiver::start(ZMESH_SECRET, "x-hookmesh-signature");
    let register = |config: Value| json!({ "url": node.url("/moved"), "events": ["lesson.completed"], "config": config });
    let (_, meshes) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            register(json!({ "success_statuses": "2xx,3xx" })),
        )
        .await;
    let (_, strict) = host
        .post(&hooks(&p), &p.secret_key, register(json!({})))
        .await;
    let events = format!("/projects/{}/events", p.id);
    let lesson = json!({ "event": "lesson.completed", "payload": { "lesson_id": "l1" } });
    let (status, accepted) = host.post(&events, &p.publishable_key, lesson).await;
    assert_eq!(
        (status, &accepted["deliveries"]),
        (202, &json!(2)),
        "{accepted}"
    );
    for (endpoint, expected) in [(&meshes, "succeeded"), (&strict, "failed")] {
        let deliveries = format!(
            "{}/{}/deliveries",
            hooks(&p),
            endpoint["id"].as_str().unwrap()
        );
        let delivery = host
            .eventually(LONG, || async {
                let (_, list) = host.get(&deliveries, &p.secret_key).await;
                let status = list["data"][0]["status"].clone();
                (status == "succeeded" || status == "failed").then_some(list["data"][0].clone())
            })
            .await;
        assert_eq!(delivery["status"], expected, "{delivery}");
        assert_eq!(delivery["attempt_log"][0]["status_code"], 302, "{delivery}");
    }
    assert_eq!(node.next()["status"], 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brought_secrets_rotation_and_header_checks() {
    let host = Host::start("day-one-secrets", HostConfig::default());
    let p = project(&host, "secrets").await;
    let receiver = Receiver::ok();
    let register = |secret: &str, config: Value| json!({ "url": receiver.url("/h"), "secret": secret, "config": config });
    for (case, body, field) in [
        ("too short", register("short-secret", json!({})), "secret"),
        ("too long", register(&"x".repeat(257), json!({})), "secret"),
        (
            "control character",
            register("sixteen-chars\n-secret", json!({})),
            "secret",
        ),
        (
            "whsec_ key too short",
            register("whsec_AAAAAAAAAAAAAAAA", json!({})),
            "secret",
        ),
        (
            "header injection",
            register(ZMESH_SECRET, json!({ "header.X-A": "a\r\nX-Injected: 1" })),
            "config.header.X-A",
        ),
        (
            "non-ASCII header",
            register(ZMESH_SECRET, json!({ "header.X-A": "café" })),
            "config.header.X-A",
        ),
        (
            "signature format",
            register(ZMESH_SECRET, json!({ "signature_format": "md5" })),
            "config.signature_format",
        ),
        (
            "success statuses",
            register(ZMESH_SECRET, json!({ "success_statuses": "3xx" })),
            "config.success_statuses",
        ),
        (
            "signature header",
            register(ZMESH_SECRET, json!({ "signature_header": "webhook-id" })),
            "config.signature_header",
        ),
    ] {
        let (status, body) = host.post(&hooks(&p), &p.secret_key, body).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{case}: {body}"
        );
    }
    let (status, created) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            register(ZMESH_SECRET, json!({ "header.X-Tenant": "acme corp" })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let hook = format!("{}/{}", hooks(&p), created["id"].as_str().unwrap());
    let (status, body) = put(
        &host,
        &hook,
        &p.secret_key,
        json!({ "config": { "header.X-A": "a\nb" } }),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("config.header.X-A")),
        "{body}"
    );
    // rotate to a secret the customer chose, at once.
    let mine = "my-own-rotated-secret-2026";
    let (status, rotated) = host
        .post(
            &format!("{hook}/rotate"),
            &p.secret_key,
            json!({ "secret": mine, "grace": "0s" }),
        )
        .await;
    assert_eq!(
        (status, &rotated["secret"]),
        (200, &json!(mine)),
        "{rotated}"
    );
    let form = rotated["standard_webhooks_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = host
        .post(
            &format!("{hook}/rotate"),
            &p.secret_key,
            json!({ "secret": "tiny" }),
        )
        .await;
    assert_eq!(status, 400);
    host.send_event(&p, "order.paid", json!({ "n": 1 })).await;
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].header("x-tenant"), Some("acme corp"));
    let hex = hex::encode(hmac_sha256(mine.as_bytes(), &got[0].body));
    assert_eq!(
        got[0].header("x-hookmesh-signature"),
        Some(format!("sha256={hex}").as_str())
    );
    standardwebhooks::Webhook::new(&form)
        .unwrap()
        .verify(&got[0].body, &got[0].header_map())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_events_take_an_event_and_payload() {
    let host = Host::start("day-one-test-event", HostConfig::default());
    let p = project(&host, "tests").await;
    let receiver = Receiver::ok();
    let (id, _) = host
        .create_webhook(
            &p,
            json!({ "url": receiver.url("/h"), "events": ["order.*"] }),
        )
        .await;
    let test = format!("{}/{id}/test", hooks(&p));
    let (status, answer) = host.post(&test, &p.secret_key, meshes_signup()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["ok"], &answer["status"], &answer["event"]),
        (&json!(true), &json!(200), &json!("user.signup"))
    );
    assert!(
        answer["duration_ms"].is_u64() && answer["body_excerpt"].is_string(),
        "{answer}"
    );
    let got = receiver.wait_for(1, LONG).await;
    let sent = got[0].json();
    assert_eq!(
        (&sent["event"], &sent["resource_id"], &sent["payload"]),
        (
            &json!("user.signup"),
            &json!("usr_2048"),
            &json!({ "email": "test@example.com", "plan": "pro" })
        )
    );
    // Without a body: test.ping, as before.
    let (status, answer) = host
        .call(Method::POST, &test, Some(&p.secret_key), None)
        .await;
    assert_eq!(
        (status, &answer["event"]),
        (200, &json!("test.ping")),
        "{answer}"
    );
    assert_eq!(
        receiver.wait_for(2, LONG).await[1].json()["event"],
        "test.ping"
    );
    for (body, field) in [
        (json!({ "event": "Bad Type" }), "event"),
        (json!({ "event": "a.b", "payload": [1] }), "payload"),
        (json!({ "event": "a.b", "resource": "" }), "resource"),
    ] {
        let (status, answer) = host.post(&test, &p.secret_key, body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_strict_event_types() {
    let host = Host::start("day-one-types", HostConfig::default());
    let p = project(&host, "types").await;
    let events = format!("/projects/{}/events", p.id);
    let catalogue = format!("/projects/{}/integrations/events", p.id);
    let lesson = || json!({ "event": "lesson.completed", "payload": {} });
    // Open: any well-formed type, listed once seen; subscriptions too.
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 202);
    let (status, body) = host
        .post(
            &events,
            &p.publishable_key,
            json!({ "event": "Not.Valid", "payload": {} }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "{body}"
    );
    let (_, listed) = host.get(&catalogue, &p.publishable_key).await;
    assert_eq!(listed["seen"], json!(["lesson.completed"]), "{listed}");
    assert_eq!(listed["strict_event_types"], false);
    let razorpay = listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "razorpay");
    let razorpay = razorpay.expect("razorpay is an inbound provider");
    assert!(razorpay["types"]
        .as_array()
        .unwrap()
        .contains(&json!("razorpay.payment.captured")));
    assert!(listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pattern"] == "github.*"));
    // Strict: only the catalogue's types (seen ones are not declared).
    let project_path = format!("/projects/{}", p.id);
    let (status, body) = put(
        &host,
        &project_path,
        &p.secret_key,
        json!({ "strict_event_types": true }),
    )
    .await;
    assert_eq!(
        (status, &body["strict_event_types"]),
        (200, &json!(true)),
        "{body}"
    );
    let (status, body) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("strict_event_types"),
        "{body}"
    );
    let (status, body) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": "http://127.0.0.1:9/", "events": ["lesson.started"] }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("events[0]")),
        "{body}"
    );
    // Declare it: accepted; its description is in the catalogue; remove it: refused again.
    let one = format!("{catalogue}/lesson.completed");
    let (status, body) = put(
        &host,
        &one,
        &p.secret_key,
        json!({ "description": "A lesson was completed" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 202);
    let (_, listed) = host.get(&catalogue, &p.publishable_key).await;
    assert_eq!(listed["custom"], json!(["lesson.completed"]));
    assert_eq!(
        listed["seen"],
        json!([]),
        "a declared type leaves the seen list"
    );
    let (status, shown) = host.get(&one, &p.publishable_key).await;
    assert_eq!(
        (status, &shown["description"]),
        (200, &json!("A lesson was completed"))
    );
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 400);
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = host
        .call(
            Method::DELETE,
            &format!("{catalogue}/user.created"),
            Some(&p.secret_key),
            None,
        )
        .await;
    assert_eq!(status, 404, "built-in types stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_schemas_check_payloads() {
    let host = Host::start("day-one-schemas", HostConfig::default());
    let p = project(&host, "schemas").await;
    let events = format!("/projects/{}/events", p.id);
    let one = format!("/projects/{}/integrations/events/order.completed", p.id);
    let schema = json!({
        "type": "object",
        "required": ["order_id", "items"],
        "properties": {
            "order_id": { "type": "string", "minLength": 1 },
            "email": { "type": "string", "format": "email" },
            "items": { "type": "array", "items": { "type": "object", "required": ["sku"] } }
        }
    });
    for (bad, field) in [
        (json!({ "schema": { "type": "no-such-type" } }), "schema"),
        (json!({ "schema": "a string" }), "schema"),
        (
            json!({ "schema": { "$ref": "https://schemas.example/order.json" } }),
            "schema",
        ),
        (json!({ "description": "a\u{7}b" }), "description"),
    ] {
        let (status, body) = put(&host, &one, &p.secret_key, bad).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let (status, body) = put(&host, &one, &p.secret_key, json!({ "schema": schema })).await;
    assert_eq!(status, 201, "{body}");
    let order = |payload: Value| json!({ "event": "order.completed", "payload": payload });
    let good = json!({ "order_id": "o1", "email": "a@b.example", "items": [{ "sku": "s1" }] });
    let (status, body) = host
        .post(&events, &p.publishable_key, order(good.clone()))
        .await;
    assert_eq!(status, 202, "{body}");
    for (payload, field) in [
        (json!({ "items": [] }), "payload"),
        (json!({ "order_id": "", "items": [] }), "payload.order_id"),
        (
            json!({ "order_id": "o1", "email": "nope", "items": [] }),
            "payload.email",
        ),
        (
            json!({ "order_id": "o1", "items": [{ "sku": "s" }, {}] }),
            "payload.items[1]",
        ),
    ] {
        let (status, body) = host.post(&events, &p.publishable_key, order(payload)).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("schema of `order.completed`"),
            "{body}"
        );
    }
    let bulk = host
        .post(
            &format!("{events}/bulk"),
            &p.secret_key,
            json!({ "events": [order(good), order(json!({ "order_id": 5, "items": [] }))] }),
        )
        .await;
    assert_eq!(bulk.0, 207, "{}", bulk.1);
    assert_eq!(
        bulk.1["data"][1]["field"], "events[1].payload.order_id",
        "{}",
        bulk.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_types_declared_in_toml() {
    const SK: &str = "hm_sk_dayone000000000000000000000000000000";
    let extra = format!(
        "[[projects]]\nid = \"toml\"\nsecret_key = \"{SK}\"\nstrict_event_types = true\n\
         custom_event_types = [\"order.paid\"]\n\
         [[projects.event_types]]\nname = \"user.signup\"\ndescription = \"Signed up\"\n\
         schema = {{ type = \"object\", required = [\"email\"] }}\n\
         [[projects.event_types]]\nname = \"lesson.completed\"\nschema = '{{\"type\": \"object\", \"required\": [\"lesson_id\"]}}'\n"
    );
    let host = Host::start(
        "day-one-toml",
        HostConfig {
            extra,
            ..HostConfig::default()
        },
    );
    let events = "/projects/toml/events";
    let send = |event: &str, payload: Value| {
        host.post(events, SK, json!({ "event": event, "payload": payload }))
    };
    assert_eq!(send("order.paid", json!({})).await.0, 202);
    assert_eq!(
        send("user.signup", json!({ "email": "a@b.example" }))
            .await
            .0,
        202
    );
    let (status, body) = send("user.signup", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("payload")),
        "{body}"
    );
    let (status, body) = send("lesson.completed", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("payload")),
        "{body}"
    );
    let (status, body) = send("invoice.sent", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "strict from the TOML: {body}"
    );
    let (_, listed) = host.get("/projects/toml/integrations/events", SK).await;
    assert_eq!(
        listed["custom"],
        json!(["order.paid", "user.signup", "lesson.completed"]),
        "{listed}"
    );
}

/// The README's tour blocks (Quick tour, Providers, Inbound sources), in
/// order, as one script.
fn readme_tour() -> String {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let mut script = String::new();
    for heading in ["## Quick tour", "## Providers", "## Inbound sources"] {
        let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("{heading}"))..];
        let start = section.find("```sh\n").unwrap() + "```sh\n".len();
        let end = start + section[start..].find("```").unwrap();
        script.push_str(&section[start..end]);
    }
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tour_works_command_by_command() {
    let host = Host::start("day-one-readme", HostConfig::default());
    let dir = host.dir.join("tour");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/admin-token"), ADMIN_TOKEN).unwrap();
    // Every curl must answer 2xx; the host listens elsewhere than 8080.
    let guard = "set -euo pipefail\n\
        curl() {\n  local body status; body=$(mktemp)\n\
          status=$(command curl -sS -o \"$body\" -w '%{http_code}' \"$@\") || return 1\n\
          cat \"$body\"; echo\n\
          case \"$status\" in 2??) ;; *) echo \"HTTP $status from: curl $*\" >&2; return 1;; esac\n}\n";
    let tour = readme_tour().replace("localhost:8080", &host.addr);
    assert!(tour.matches("curl ").count() >= 8, "{tour}");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("{guard}{tour}"))
        .current_dir(&dir)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "the README tour failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, listed) = host
        .get("/projects/acme/integrations/events", ADMIN_TOKEN)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["seen"]
            .as_array()
            .unwrap()
            .contains(&json!("user.signup")),
        "{listed}"
    );
    assert!(
        listed["custom"]
            .as_array()
            .unwrap()
            .contains(&json!("lesson.completed")),
        "{listed}"
    );
}
