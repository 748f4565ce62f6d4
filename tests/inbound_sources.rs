//! Inbound sources end to end: GitHub, Stripe, Shopify and the
//! configurable `hmac` source (as named instances), each through
//! `POST /inbound/{p}/{provider}` to a subscribed endpoint.
//!
//! Signatures come from the providers' own code, never ours: GitHub's
//! `@octokit/webhooks-methods` (`sign`, run with `node` from `tests/node`)
//! and its documented vector, Stripe's Python library
//! (`stripe.WebhookSignature.generate_signature_header`), and Shopify's
//! documented algorithm (and the `hmac` source's) with Python's `hmac`.
//! `tests/run.sh` installs `stripe` (pip) and the npm package; a missing
//! tool fails the test with a message saying so.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::receiver::Receiver;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
/// Long enough for a wrongly routed delivery to have arrived.
const SETTLE: Duration = Duration::from_millis(500);

// ---- the providers' own signing code, as subprocesses ----

/// Runs `program args…` and returns its trimmed stdout; a missing program or
/// a failure panics with what to install.
fn run(program: &str, args: &[&str], cwd: Option<&std::path::Path>, hint: &str) -> String {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {hint}"));
    assert!(
        output.status.success(),
        "`{program}` failed ({hint}):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn python(script: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run(
        "python3",
        &all,
        None,
        "tests/run.sh installs python3 and the `stripe` package (pip install stripe)",
    )
}

/// `@octokit/webhooks-methods`' `sign(secret, body)`: `sha256=<hex>`.
fn octokit_sign(secret: &str, body: &str) -> String {
    let dir = common::repo_root().join("tests/node");
    assert!(
        dir.join("node_modules/@octokit/webhooks-methods").is_dir(),
        "@octokit/webhooks-methods is not installed in {}: run `npm ci` there (tests/run.sh does)",
        dir.display()
    );
    let script = "import('@octokit/webhooks-methods').then(async ({ sign }) => \
                  console.log(await sign(process.argv[1], process.argv[2])))";
    run(
        "node",
        &["-e", script, secret, body],
        Some(&dir),
        "tests/run.sh installs node and npm",
    )
}

/// Stripe's own test helper: the `Stripe-Signature` header for `body`
/// signed at `timestamp` with `secret`.
fn stripe_header(body: &str, secret: &str, timestamp: u64) -> String {
    python(
        "import sys, stripe; print(stripe.WebhookSignature.generate_signature_header(\
         sys.argv[1], sys.argv[2], timestamp=int(sys.argv[3])))",
        &[body, secret, &timestamp.to_string()],
    )
}

/// Python's `hmac`: `algorithm` (`sha256`, `sha512`, `sha1`) over `message`,
/// as `hex` or `base64` — how Shopify documents its check, and how the
/// `hmac` source's senders sign.
fn python_hmac(secret: &str, message: &str, algorithm: &str, encoding: &str) -> String {
    python(
        "import sys, hmac, hashlib, base64\n\
         mac = hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), getattr(hashlib, sys.argv[3]))\n\
         print(mac.hexdigest() if sys.argv[4] == 'hex' else base64.b64encode(mac.digest()).decode())",
        &[secret, message, algorithm, encoding],
    )
}

// ---- the host side ----

async fn configure(host: &Host, project: &TestProject, provider: &str, config: Value) -> Value {
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/{}/integrations/providers/{provider}", project.id),
            Some(&project.secret_key),
            Some(&json!({ "config": config })),
        )
        .await;
    assert_eq!(status, 200, "configure {provider}: {body}");
    body
}

async fn subscriber(host: &Host, project: &TestProject, events: &[&str]) -> Receiver {
    let receiver = Receiver::ok();
    host.create_webhook(
        project,
        json!({ "url": receiver.url("/hook"), "events": events }),
    )
    .await;
    receiver
}

/// The answer to one inbound request.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

async fn inbound(
    host: &Host,
    project: &TestProject,
    provider: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = host
        .http
        .post(host.url(&format!("/inbound/{}/{provider}", project.id)))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry_after,
    }
}

/// `401` whose message names `header`.
fn assert_unauthorized(answer: &Answer, header: &str, case: &str) {
    assert_eq!(answer.status, 401, "{case}: {}", answer.body);
    assert_eq!(answer.body["error"], "unauthorized", "{case}");
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message
            .to_ascii_lowercase()
            .contains(&header.to_ascii_lowercase()),
        "{case}: `{message}` should name {header}"
    );
}

/// `200` with one stored (not duplicate) event.
fn assert_stored(answer: &Answer, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    assert_eq!(answer.body["received"], 1, "{case}: {}", answer.body);
    assert_eq!(answer.body["duplicates"], 0, "{case}: {}", answer.body);
}

fn assert_duplicate(answer: &Answer, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    assert_eq!(answer.body["duplicates"], 1, "{case}: {}", answer.body);
}

/// Waits for delivery `n` (1-based) and checks its type and payload.
async fn assert_delivered(receiver: &Receiver, n: usize, event_type: &str, payload: &str) {
    let got = receiver.wait_for(n, LONG).await;
    let envelope = got[n - 1].json();
    assert_eq!(envelope["event"], event_type, "{envelope}");
    let sent: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(
        envelope["payload"], sent,
        "the payload is what the provider sent"
    );
}

fn now_secs() -> u64 {
    common::now_ms() / 1000
}

// ---- GitHub ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_deliveries_signed_by_octokit_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "gh-webhook-s3cret";
    let host = Host::start("inbound-github", HostConfig::default());
    let project = host.create_project("gh").await;
    configure(
        &host,
        &project,
        "github",
        json!({ "webhook_secret": SECRET }),
    )
    .await;
    let receiver = subscriber(&host, &project, &["github.issues.opened", "github.ping"]).await;

    // GitHub's documented vector, signed by octokit, and checked by the host.
    let vector_secret = "It's a Secret to Everybody";
    let documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(octokit_sign(vector_secret, "Hello, World!"), documented);
    let vector = Host::start("inbound-github-vector", HostConfig::default());
    let vector_project = vector.create_project("vector").await;
    configure(
        &vector,
        &vector_project,
        "github",
        json!({ "webhook_secret": vector_secret }),
    )
    .await;
    let signed_headers = |signature: &'static str| {
        [
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", signature),
        ]
    };
    let answer = inbound(
        &vector,
        &vector_project,
        "github",
        &signed_headers(documented),
        "Hello, World!",
    )
    .await;
    assert_eq!(
        answer.status, 400,
        "signature accepted, body not JSON: {}",
        answer.body
    );
    assert_eq!(answer.body["field"], "body");
    let answer = inbound(
        &vector,
        &vector_project,
        "github",
        &signed_headers(documented),
        "Hello, World?",
    )
    .await;
    assert_unauthorized(
        &answer,
        "X-Hub-Signature-256",
        "documented vector, other body",
    );

    // ping: answered and routed as github.ping.
    let ping = r#"{"zen":"Design for failure.","hook_id":30,"hook":{"type":"Repository","events":["issues"]}}"#;
    let signature = octokit_sign(SECRET, ping);
    let headers = |event: &'static str, delivery: &'static str, signature: &str| {
        vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("X-GitHub-Event".to_string(), event.to_string()),
            ("X-GitHub-Delivery".to_string(), delivery.to_string()),
            ("X-Hub-Signature-256".to_string(), signature.to_string()),
        ]
    };
    let send = |event: &'static str, delivery: &'static str, signature: String, body: String| {
        let headers = headers(event, delivery, &signature);
        let (host, project) = (&host, &project);
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            inbound(host, project, "github", &headers, body).await
        }
    };
    let answer = send("ping", "d-ping", signature, ping.into()).await;
    assert_stored(&answer, "ping");
    assert_delivered(&receiver, 1, "github.ping", ping).await;

    let issue = r#"{"action":"opened","issue":{"number":1347,"title":"Found a bug"},"repository":{"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}"#;
    let good = octokit_sign(SECRET, issue);
    let tampered = issue.replace("1347", "1348");
    for (case, signature, body) in [
        ("tampered body", good.clone(), tampered),
        (
            "wrong secret",
            octokit_sign("not-the-secret", issue),
            issue.to_string(),
        ),
        ("missing header", String::new(), issue.to_string()),
    ] {
        let answer = if signature.is_empty() {
            let headers = [("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "d-1")];
            inbound(&host, &project, "github", &headers, body).await
        } else {
            send("issues", "d-1", signature, body).await
        };
        assert_unauthorized(&answer, "X-Hub-Signature-256", case);
    }
    // The refused deliveries stored nothing: not even their delivery id.
    let answer = send("issues", "d-1", good.clone(), issue.into()).await;
    assert_stored(&answer, "valid issue after refusals with its delivery id");
    assert_delivered(&receiver, 2, "github.issues.opened", issue).await;
    let envelope = receiver.received()[1].json();
    assert_eq!(envelope["resource_id"], "octocat/Hello-World");

    let again = send("issues", "d-1", good, issue.into()).await;
    assert_duplicate(&again, "redelivered");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        receiver.count(),
        2,
        "a repeated X-GitHub-Delivery is routed once"
    );
}

// ---- Stripe ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_events_signed_by_stripes_library_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "whsec_hookmeshTestSecret0123";
    const ROLLED: &str = "whsec_hookmeshRolledSecret4567";
    let host = Host::start("inbound-stripe", HostConfig::default());
    let project = host.create_project("pay").await;
    let configured = configure(
        &host,
        &project,
        "stripe",
        json!({ "webhook_secret": SECRET }),
    )
    .await;
    assert_eq!(configured["config"]["webhook_secret"], "********");
    let receiver = subscriber(&host, &project, &["stripe.payment_intent.*"]).await;

    let event = |id: &str| {
        format!(
            r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","type":"payment_intent.succeeded","data":{{"object":{{"id":"pi_3MtwBwLkdIwHu7ix28a3tqPa","object":"payment_intent","amount":2000,"currency":"usd"}}}}}}"#
        )
    };
    let send = |body: String, header: Option<String>| {
        let (host, project) = (&host, &project);
        async move {
            match header {
                Some(h) => {
                    inbound(
                        host,
                        project,
                        "stripe",
                        &[("Stripe-Signature", h.as_str())],
                        body,
                    )
                    .await
                }
                None => inbound(host, project, "stripe", &[], body).await,
            }
        }
    };

    let body = event("evt_1");
    let answer = send(body.clone(), Some(stripe_header(&body, SECRET, now_secs()))).await;
    assert_stored(&answer, "signed by stripe");
    assert_delivered(&receiver, 1, "stripe.payment_intent.succeeded", &body).await;
    let envelope = receiver.received()[0].json();
    assert_eq!(envelope["resource"], "payment_intent");
    assert_eq!(envelope["resource_id"], "pi_3MtwBwLkdIwHu7ix28a3tqPa");

    let other = event("evt_2");
    let now = now_secs();
    for (case, body, header) in [
        (
            "tampered body",
            other.replace("2000", "1"),
            Some(stripe_header(&other, SECRET, now)),
        ),
        (
            "wrong secret",
            other.clone(),
            Some(stripe_header(&other, "whsec_wrong", now)),
        ),
        ("missing header", other.clone(), None),
        (
            "stale timestamp",
            other.clone(),
            Some(stripe_header(&other, SECRET, now - 301)),
        ),
        (
            "far-future timestamp",
            other.clone(),
            Some(stripe_header(&other, SECRET, now + 400)),
        ),
    ] {
        assert_unauthorized(&send(body, header).await, "Stripe-Signature", case);
    }
    // While a secret rolls, Stripe sends one v1 per secret: any may match.
    let rolled = stripe_header(&other, ROLLED, now);
    let ours = stripe_header(&other, SECRET, now);
    let both = format!("{rolled},{}", ours.split_once(',').unwrap().1);
    let answer = send(other.clone(), Some(both)).await;
    assert_stored(
        &answer,
        "two v1 signatures, the second ours (evt_2 was never stored)",
    );
    assert_delivered(&receiver, 2, "stripe.payment_intent.succeeded", &other).await;

    let again = send(body.clone(), Some(stripe_header(&body, SECRET, now_secs()))).await;
    assert_duplicate(&again, "Stripe retried evt_1");

    let unreadable = r#"{"id":"evt_3","object":"event"}"#.to_string();
    let answer = send(
        unreadable.clone(),
        Some(stripe_header(&unreadable, SECRET, now)),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["field"], "body");

    // A longer tolerance is a setting.
    configure(
        &host,
        &project,
        "stripe",
        json!({ "tolerance_secs": "900" }),
    )
    .await;
    let late = event("evt_4");
    let answer = send(late.clone(), Some(stripe_header(&late, SECRET, now - 600))).await;
    assert_stored(&answer, "10 minutes old under a 900 s tolerance");
    tokio::time::sleep(SETTLE).await;
    receiver.wait_for(3, LONG).await;
    assert_eq!(
        receiver.count(),
        3,
        "evt_1 routed once, nothing from the refusals"
    );
}

// ---- Shopify ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_webhooks_signed_as_shopify_documents_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "shpss_hookmesh_app_secret";
    let host = Host::start("inbound-shopify", HostConfig::default());
    let project = host.create_project("shop").await;
    configure(
        &host,
        &project,
        "shopify",
        json!({ "webhook_secret": SECRET }),
    )
    .await;
    let receiver = subscriber(&host, &project, &["shopify.orders.create"]).await;

    let order = r#"{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00","line_items":[{"title":"IPod Nano - 8GB","quantity":1}]}"#;
    let good = python_hmac(SECRET, order, "sha256", "base64");
    let send = |body: String, signature: Option<String>, webhook_id: &'static str| {
        let (host, project) = (&host, &project);
        async move {
            let mut headers = vec![
                ("X-Shopify-Topic", "orders/create".to_string()),
                (
                    "X-Shopify-Shop-Domain",
                    "hookmesh-test.myshopify.com".to_string(),
                ),
                ("X-Shopify-Webhook-Id", webhook_id.to_string()),
            ];
            if let Some(signature) = signature {
                headers.push(("X-Shopify-Hmac-Sha256", signature));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            inbound(host, project, "shopify", &headers, body).await
        }
    };
    for (case, body, signature) in [
        (
            "tampered body",
            order.replace("403.00", "0.01"),
            Some(good.clone()),
        ),
        (
            "wrong secret",
            order.to_string(),
            Some(python_hmac("shpss_other", order, "sha256", "base64")),
        ),
        ("missing header", order.to_string(), None),
    ] {
        assert_unauthorized(
            &send(body, signature, "w-1").await,
            "X-Shopify-Hmac-Sha256",
            case,
        );
    }
    let answer = send(order.into(), Some(good.clone()), "w-1").await;
    assert_stored(
        &answer,
        "signed as Shopify documents, after refusals with its id",
    );
    assert_delivered(&receiver, 1, "shopify.orders.create", order).await;
    assert_eq!(
        receiver.received()[0].json()["resource_id"],
        "820982911946154508"
    );
    assert_duplicate(
        &send(order.into(), Some(good), "w-1").await,
        "Shopify retried",
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        receiver.count(),
        1,
        "a repeated X-Shopify-Webhook-Id is routed once"
    );
}

// ---- the configurable hmac source, as named instances ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurable_hmac_sources_are_named_instances_with_their_own_secrets() {
    let host = Host::start("inbound-hmac", HostConfig::default());
    let project = host.create_project("ops").await;
    // Hex with a prefix; type and id from the body.
    configure(&host, &project, "hmac.uptime", json!({
        "secret": "uptime-s3cret", "signature_header": "X-Signature", "signature_prefix": "sha256=",
        "event_type_pointer": "/status", "event_id_pointer": "/check_id", "event_prefix": "uptime",
    }))
    .await;
    // Base64 without a prefix, SHA-512; type from a header.
    configure(&host, &project, "hmac.inhouse", json!({
        "secret": "inhouse-s3cret", "signature_header": "X-Inhouse-Signature", "algorithm": "sha512",
        "encoding": "base64", "event_type_header": "X-Event-Type", "event_id_header": "X-Event-Id",
    }))
    .await;
    // Timestamp-signed within a tolerance; a fixed type.
    configure(&host, &project, "hmac.signed", json!({
        "secret": "ts-s3cret", "signature_header": "X-Signature", "signed_payload": "timestamp.body",
        "timestamp_header": "X-Timestamp", "tolerance_secs": "60", "event_type": "job.finished",
    }))
    .await;
    // API key only, for a sender that cannot sign.
    configure(
        &host,
        &project,
        "hmac.keyonly",
        json!({
            "api_key": "k3y-0f-the-monitor", "event_type": "heartbeat",
        }),
    )
    .await;
    let uptime = subscriber(&host, &project, &["uptime.*"]).await;
    let hmac = subscriber(&host, &project, &["hmac.*"]).await;

    // hex + prefix
    let down = r#"{"check_id":"chk_1","monitor":"api","status":"down"}"#;
    let signature = format!(
        "sha256={}",
        python_hmac("uptime-s3cret", down, "sha256", "hex")
    );
    let bare = python_hmac("uptime-s3cret", down, "sha256", "hex");
    let wrong = format!(
        "sha256={}",
        python_hmac("inhouse-s3cret", down, "sha256", "hex")
    );
    for (case, sig, body) in [
        ("no prefix", bare.as_str(), down.to_string()),
        ("wrong secret", wrong.as_str(), down.to_string()),
        (
            "tampered body",
            signature.as_str(),
            down.replace("down", "up"),
        ),
    ] {
        let answer = inbound(
            &host,
            &project,
            "hmac.uptime",
            &[("X-Signature", sig)],
            body,
        )
        .await;
        assert_unauthorized(&answer, "X-Signature", case);
    }
    let answer = inbound(&host, &project, "hmac.uptime", &[], down).await;
    assert_unauthorized(&answer, "X-Signature", "missing header");
    let answer = inbound(
        &host,
        &project,
        "hmac.uptime",
        &[("X-Signature", &signature)],
        down,
    )
    .await;
    assert_stored(&answer, "hex with prefix");
    assert_delivered(&uptime, 1, "uptime.down", down).await;
    let again = inbound(
        &host,
        &project,
        "hmac.uptime",
        &[("X-Signature", &signature)],
        down,
    )
    .await;
    assert_duplicate(&again, "same check_id");
    // Another instance's secret does not open this one.
    let answer = inbound(
        &host,
        &project,
        "hmac.inhouse",
        &[("X-Inhouse-Signature", &signature)],
        down,
    )
    .await;
    assert_unauthorized(
        &answer,
        "X-Inhouse-Signature",
        "uptime's signature on inhouse",
    );

    // base64, no prefix, sha512
    let deploy = r#"{"service":"billing","version":"2.4.1"}"#;
    let b64 = python_hmac("inhouse-s3cret", deploy, "sha512", "base64");
    let headers = [
        ("X-Inhouse-Signature", b64.as_str()),
        ("X-Event-Type", "deploy.done"),
        ("X-Event-Id", "dep-7"),
    ];
    let answer = inbound(&host, &project, "hmac.inhouse", &headers, deploy).await;
    assert_stored(&answer, "base64 without prefix");
    assert_delivered(&hmac, 1, "hmac.deploy.done", deploy).await;
    let hex_instead = python_hmac("inhouse-s3cret", deploy, "sha512", "hex");
    let headers = [
        ("X-Inhouse-Signature", hex_instead.as_str()),
        ("X-Event-Type", "deploy.done"),
    ];
    let answer = inbound(&host, &project, "hmac.inhouse", &headers, deploy).await;
    assert_unauthorized(
        &answer,
        "X-Inhouse-Signature",
        "hex where base64 is configured",
    );

    // timestamp.body within the tolerance
    let job = r#"{"job":"nightly-export","ok":true}"#;
    let signed_at = |ts: u64| {
        let ts = ts.to_string();
        let sig = python_hmac("ts-s3cret", &format!("{ts}.{job}"), "sha256", "hex");
        (ts, sig)
    };
    let (ts, sig) = signed_at(now_secs());
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig), ("X-Timestamp", &ts)],
        job,
    )
    .await;
    assert_stored(&answer, "timestamp-signed");
    assert_delivered(&hmac, 2, "hmac.job.finished", job).await;
    let (old_ts, old_sig) = signed_at(now_secs() - 120);
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &old_sig), ("X-Timestamp", &old_ts)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Timestamp", "stale timestamp");
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig), ("X-Timestamp", &old_ts)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Signature", "timestamp changed after signing");
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Timestamp", "missing timestamp");

    // API key only
    let beat = r#"{"host":"db-1"}"#;
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitor")],
        beat,
    )
    .await;
    assert_stored(&answer, "api key");
    assert_delivered(&hmac, 3, "hmac.heartbeat", beat).await;
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitoR")],
        beat,
    )
    .await;
    assert_unauthorized(&answer, "X-API-Key", "wrong key");
    let answer = inbound(&host, &project, "hmac.keyonly", &[], beat).await;
    assert_unauthorized(&answer, "X-API-Key", "missing key");

    // A signed request whose type cannot be read is a 400; the bare plugin
    // name is not configured here, and bad instance names are 404s.
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitor")],
        "not json",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        inbound(&host, &project, "hmac", &[], beat).await.status,
        404
    );
    assert_eq!(
        inbound(&host, &project, "hmac.nope", &[], beat)
            .await
            .status,
        404
    );
    assert_eq!(
        inbound(&host, &project, "hmac.Bad", &[], beat).await.status,
        404
    );

    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        uptime.count(),
        1,
        "uptime: one delivery, the duplicate routed once"
    );
    assert_eq!(hmac.count(), 3, "hmac.*: nothing from any refusal");
}

// ---- limits: rate and size ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_sources_get_the_projects_rate_limit_and_the_body_limit() {
    let host = Host::start(
        "inbound-limits",
        HostConfig {
            ingest: "events_per_second = 1\nburst = 1".into(),
            ..HostConfig::default()
        },
    );
    let project = host.create_project("limited").await;
    configure(
        &host,
        &project,
        "hmac.monitor",
        json!({ "api_key": "k", "event_type": "beat" }),
    )
    .await;
    let receiver = subscriber(&host, &project, &["hmac.beat"]).await;
    let key = [("X-API-Key", "k")];
    let first = inbound(&host, &project, "hmac.monitor", &key, r#"{"n":1}"#).await;
    assert_stored(&first, "within the budget");
    let second = inbound(&host, &project, "hmac.monitor", &key, r#"{"n":2}"#).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.body["error"], "rate_limited");
    let wait: u64 = second.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");

    // Over the API's body limit (256 KiB by default): 413, nothing read.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024));
    let answer = inbound(&host, &project, "hmac.monitor", &key, big).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(receiver.count(), 1, "only the first event was stored");
}

// ---- the provider API and OpenAPI describe named instances ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_api_and_openapi_describe_named_instances() {
    let host = Host::start("inbound-api", HostConfig::default());
    let project = host.create_project("api").await;
    let base = format!("/projects/{}/integrations/providers", project.id);
    let (status, list) = host.get(&base, &project.secret_key).await;
    assert_eq!(status, 200);
    let entry = |name: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {list}"))
            .clone()
    };
    for name in ["github", "stripe", "shopify", "hmac"] {
        let provider = entry(name);
        assert_eq!(
            provider["manifest"]["capabilities"],
            json!(["inbound"]),
            "{name}"
        );
        assert_eq!(provider["named_instances"], true, "{name}");
    }
    assert_eq!(entry("webhook")["named_instances"], false);
    let algorithm = entry("hmac")["manifest"]["config_fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "algorithm")
        .unwrap()
        .clone();
    assert!(
        algorithm["description"].as_str().unwrap().contains("weak"),
        "{algorithm}"
    );

    let configured = configure(
        &host,
        &project,
        "hmac.uptime",
        json!({ "secret": "s", "signature_header": "X-Sig", "event_type": "x" }),
    )
    .await;
    assert_eq!(configured["name"], "hmac.uptime");
    assert_eq!(configured["plugin"], "hmac");
    assert_eq!(configured["instance"], "uptime");
    assert_eq!(configured["config"]["secret"], "********");
    let (status, shown) = host
        .get(&format!("{base}/hmac.uptime"), &project.secret_key)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["config"]["signature_header"], "X-Sig");
    let (status, _) = host
        .get(&format!("{base}/hmac.other"), &project.secret_key)
        .await;
    assert_eq!(status, 404, "an instance nobody configured");
    let (status, hmac) = host.get(&format!("{base}/hmac"), &project.secret_key).await;
    assert_eq!(
        (status, hmac["status"].clone()),
        (200, json!("not_configured")),
        "the plugin itself is separate"
    );

    let put = |name: &'static str, config: Value| {
        let (host, base, key) = (&host, &base, &project.secret_key);
        async move {
            host.call(
                reqwest::Method::PUT,
                &format!("{base}/{name}"),
                Some(key),
                Some(&json!({ "config": config })),
            )
            .await
        }
    };
    let (status, err) = put("webhook.x", json!({})).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("inbound"),
        "{err}"
    );
    let (status, err) = put("hmac.Bad", json!({})).await;
    assert_eq!(
        (status, err["field"].clone()),
        (400, json!("provider")),
        "{err}"
    );
    let (status, err) = put("hmac.two", json!({ "colour": "red" })).await;
    assert_eq!(
        (status, err["field"].clone()),
        (400, json!("config.colour")),
        "checked against hmac's manifest"
    );
    let (status, _) = put("fax.one", json!({})).await;
    assert_eq!(status, 404);
    let (status, toggled) = host
        .post(
            &format!("{base}/hmac.uptime/toggle"),
            &project.secret_key,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!((status, toggled["enabled"].clone()), (200, json!(false)));
    let answer = inbound(&host, &project, "hmac.uptime", &[], "{}").await;
    assert_eq!(answer.status, 404, "a disabled instance takes nothing");

    let (status, openapi) = host.get("/openapi.json", &project.secret_key).await;
    assert_eq!(status, 200);
    let paths = &openapi["paths"];
    let get_one = &paths["/projects/{project}/integrations/providers/{provider}"]["get"];
    assert!(
        get_one["summary"]
            .as_str()
            .unwrap()
            .contains("<plugin>.<instance>"),
        "{get_one}"
    );
    let inbound_doc = &paths["/inbound/{project}/{provider}"]["post"];
    assert!(
        inbound_doc["summary"]
            .as_str()
            .unwrap()
            .contains("hmac.uptime"),
        "{inbound_doc}"
    );
    for status in ["401", "413", "429"] {
        assert!(inbound_doc["responses"].get(status).is_some(), "{status}");
    }
}
