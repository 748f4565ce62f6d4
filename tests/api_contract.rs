//! The API contract, checked from outside: schemathesis (installed by
//! `tests/run.sh`) runs every phase — examples, coverage, fuzzing and the
//! stateful walk along the document's links — with every check, against
//! an in-process host, and must find no failure and leave no operation
//! unreached ("missing test data").
//!
//! Before it runs, the host gets what a real deployment has: projects
//! (`contract`, whose event catalogue is open; `sandbox`, for the
//! operations that change a project's catalogue or strictness; `inbound`,
//! with GitHub's webhook secret set), and in `contract` a webhook that has
//! delivered an event, so deliveries and attempts exist.
//!
//! What the schema cannot state is given to schemathesis as data, each
//! with its reason (see [`config`] and the README's "API contract").

use crate::common::host::{Host, HostConfig, ADMIN_TOKEN};
use crate::common::receiver::Receiver;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Test cases per operation and phase: enough to cross every operation's
/// boundaries, few enough to finish in a few minutes on two loaded cores.
const MAX_EXAMPLES: u32 = 8;
/// Steps of the stateful phase's walks along the links.
const STATEFUL_EXAMPLES: u32 = 40;
/// Past this the run is stopped and the test fails with its output.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// The ids [`seed`] made, for schemathesis' `[parameters]`.
struct Seeded {
    webhook: String,
    doomed_webhook: String,
    event: String,
    delivery: String,
    doomed_key: String,
    rotated_key: String,
    doomed_session: String,
    /// A portal session's token, for `GET /portal/session`.
    portal_token: String,
}

/// schemathesis' configuration: the test data, and where a check is left
/// out, why.
fn config(receiver_url: &str, ids: &Seeded) -> String {
    let Seeded {
        webhook,
        doomed_webhook,
        event,
        delivery,
        doomed_key,
        rotated_key,
        doomed_session,
        portal_token,
    } = ids;
    format!(
        r#"
# Every check is on (schemathesis' default; `--checks all` on the command
# line would override the per-operation exceptions below).

# The admin token (here, not on the command line, so an operation below
# can present another credential).
headers = {{ Authorization = "Bearer {ADMIN_TOKEN}" }}

# Test data: real ids, so every operation gets past 404 (path values apply
# in every phase), and what JSON Schema cannot state (body values apply in
# the fuzzing and stateful phases; the coverage phase does not take them).
[parameters]
"path.project" = "contract"
"path.id" = "{webhook}"
"path.event" = "{event}"
"path.delivery" = "{delivery}"
"path.number" = 1
# A webhook URL must resolve to an address the egress policy allows.
"body.url" = "{receiver_url}"
# A provider's config keys are those of the provider in the path or body,
# and plugins check their values (templates, header values) by rendering.
"body.config" = {{}}
# A strict project refuses types outside its catalogue, which the run
# itself changes; a declared type's name may not repeat across the string
# and object forms.
"body.strict_event_types" = false
"body.custom_event_types" = []
# `since` must not be after `until` (one parameter bounds the other).
"query.since" = 0

# Each operation below matches one entry, by its label (`METHOD /path`).
# What is removed is removed once: each removal has its own victim.
[[operations]]
include-name = "DELETE /projects/{{project}}/integrations/webhooks/{{id}}"
parameters = {{ "path.project" = "contract", "path.id" = "{doomed_webhook}" }}

# A project of its own to delete (`contract` is every other operation's).
[[operations]]
include-name = "DELETE /projects/{{project}}"
parameters = {{ "path.project" = "doomed" }}

[[operations]]
include-name = "DELETE /projects/{{project}}/portal/sessions/{{session}}"
parameters = {{ "path.project" = "contract", "path.session" = "{doomed_session}" }}

# The calling session's own view needs a portal session's token.
[[operations]]
include-name = "GET /portal/session"
headers = {{ Authorization = "Bearer {portal_token}" }}

[[operations]]
include-name = "DELETE /projects/{{project}}/keys/{{key}}"
parameters = {{ "path.project" = "contract", "path.key" = "{doomed_key}" }}

# `expires_at` is bounded by the current time: the document states the
# bounds as of when it was served, an hour inside the API's, so a time just
# outside them is still accepted while the run lasts.
[[operations]]
include-name = "POST /projects/{{project}}/keys/{{key}}/rotate"
parameters = {{ "path.project" = "contract", "path.key" = "{rotated_key}" }}
checks.negative_data_rejection.enabled = false

[[operations]]
include-name = "POST /projects/{{project}}/keys"
checks.negative_data_rejection.enabled = false

# Operations that change a project's catalogue or strictness act on
# `sandbox`, so `contract` keeps taking any well-formed event type. The
# coverage phase does not apply the body values above, and its valid
# bodies for projects include a type name declared in both forms.
[[operations]]
include-name = "PUT /projects/{{project}}"
parameters = {{ "path.project" = "sandbox" }}
phases.coverage.checks.positive_data_acceptance.enabled = false

[[operations]]
include-name = "POST /projects"
phases.coverage.checks.positive_data_acceptance.enabled = false

[[operations]]
include-name = "PUT /projects/{{project}}/integrations/events/{{type}}"
parameters = {{ "path.project" = "sandbox" }}

[[operations]]
include-name = "GET /projects/{{project}}/integrations/events/{{type}}"
parameters = {{ "path.project" = "sandbox", "path.type" = "user.created" }}

# (`contract` declares it: `PUT /projects/sandbox` replaces the list.)
[[operations]]
include-name = "DELETE /projects/{{project}}/integrations/events/{{type}}"
parameters = {{ "path.project" = "contract", "path.type" = "{DOOMED_TYPE}" }}

# Inbound webhooks need the provider enabled; without GitHub's signature
# they get 401 naming the header, the furthest an unsigned request goes.
[[operations]]
include-name = "POST /inbound/{{project}}/{{provider}}"
parameters = {{ "path.project" = "inbound", "path.provider" = "github" }}

# For webhooks the coverage phase (which does not apply the body values
# above) would register URLs of arbitrary hosts, and wait on their DNS.
[[operations]]
include-name-regex = "^(POST /projects/\\{{project\\}}/integrations/webhooks|PUT /projects/\\{{project\\}}/integrations/webhooks/\\{{id\\}})$"
phases.coverage.enabled = false

# … and for provider settings its valid bodies include config keys of
# another provider than the path's.
[[operations]]
include-name = "PUT /projects/{{project}}/integrations/providers/{{provider}}"
phases.coverage.checks.positive_data_acceptance.enabled = false

# The pinned ids above are the data: values taken from earlier responses
# would replace them (an id of `sandbox` for every project, say).
[phases.examples.extra-data-sources]
responses = false
[phases.coverage.extra-data-sources]
responses = false
[phases.fuzzing.extra-data-sources]
responses = false

# The stateful phase walks the links with valid data (negative data is
# the coverage and fuzzing phases' per operation).
[phases.stateful.generation]
mode = "positive"
max-examples = {STATEFUL_EXAMPLES}
"#
    )
}

/// The schemathesis command: `st`, or the module when `st` is not on PATH.
fn schemathesis() -> Command {
    let on_path = Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        Command::new("st")
    } else {
        let mut command = Command::new("python3");
        command.args(["-m", "schemathesis.cli"]);
        command
    }
}

/// What a schemathesis run said, and how long it took.
struct Run {
    status: Option<std::process::ExitStatus>,
    output: String,
    took: Duration,
}

/// Runs schemathesis against `base` with `config_file`, its output and
/// reports in `report_dir`; stops it past [`RUN_LIMIT`].
fn run_schemathesis(base: &str, config_file: &Path, report_dir: &Path) -> Run {
    std::fs::create_dir_all(report_dir).unwrap();
    let log = report_dir.join("output.txt");
    let out = std::fs::File::create(&log).unwrap();
    let mut command = schemathesis();
    command
        .arg("--config-file")
        .arg(config_file)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--workers", "1", "--no-color"])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--request-timeout", "30"])
        .args(["--report", "har", "--report-dir"])
        .arg(report_dir)
        // Its caches (`.schemathesis/`) stay with the reports.
        .current_dir(report_dir)
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .expect("schemathesis runs (tests/run.sh installs it: pip install 'schemathesis>=4,<5')");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    Run {
        status,
        output: std::fs::read_to_string(&log).unwrap_or_default(),
        took: started.elapsed(),
    }
}

/// Creates a project with the admin token.
async fn project(host: &Host, id: &str) {
    let (status, body) = host
        .post("/projects", ADMIN_TOKEN, json!({ "name": id, "id": id }))
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Creates a webhook of `contract` to `url`; returns its id.
async fn webhook(host: &Host, url: &str) -> String {
    let (status, body) = host
        .post(
            "/projects/contract/integrations/webhooks",
            ADMIN_TOKEN,
            json!({ "url": url }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Creates a portal session of `contract` (a day long); returns the answer.
async fn session(host: &Host) -> serde_json::Value {
    let (status, body) = host
        .post(
            "/projects/contract/portal/sessions",
            ADMIN_TOKEN,
            json!({ "expires_in": "1d" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Creates an API key of `contract`; returns its id.
async fn key(host: &Host) -> String {
    let (status, body) = host
        .post(
            "/projects/contract/keys",
            ADMIN_TOKEN,
            json!({ "scope": "ingest" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// A type `contract` declares for the run to remove.
const DOOMED_TYPE: &str = "contract.doomed";

/// The projects, the inbound provider, and in `contract` two webhooks, an
/// event delivered to them (with an attempt logged) and two keys.
async fn seed(host: &Host, receiver: &Receiver) -> Seeded {
    for id in ["contract", "sandbox", "inbound", "doomed"] {
        project(host, id).await;
    }
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            "/projects/inbound/integrations/providers/github",
            Some(ADMIN_TOKEN),
            Some(&json!({ "config": { "webhook_secret": "contract-test-github-secret" } })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            &format!("/projects/contract/integrations/events/{DOOMED_TYPE}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let webhook_id = webhook(host, &receiver.url("/hook")).await;
    let doomed_webhook = webhook(host, &receiver.url("/doomed")).await;
    let (status, body) = host
        .post(
            "/projects/contract/events",
            ADMIN_TOKEN,
            json!({ "event": "user.signup", "payload": { "plan": "pro" } }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let deliveries = format!("/projects/contract/integrations/webhooks/{webhook_id}/deliveries");
    let delivery = host
        .eventually(Duration::from_secs(30), || async {
            let (_, page) = host.get(&deliveries, ADMIN_TOKEN).await;
            let first = &page["data"][0];
            first["attempt_log"][0]["number"].as_u64()?;
            first["id"].as_str().map(str::to_string)
        })
        .await;
    Seeded {
        webhook: webhook_id,
        doomed_webhook,
        event: body["id"].as_str().unwrap().to_string(),
        delivery,
        doomed_key: key(host).await,
        rotated_key: key(host).await,
        doomed_session: session(host).await["id"].as_str().unwrap().to_string(),
        portal_token: session(host).await["token"].as_str().unwrap().to_string(),
    }
}

/// The operation (`METHOD /template`) of `templates` that serves `path`:
/// literal segments before parameters.
fn operation_of(method: &str, path: &str, templates: &[(String, String)]) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .filter(|(m, _)| m.eq_ignore_ascii_case(method))
        .filter_map(|(m, template)| {
            let parts: Vec<&str> = template.split('/').collect();
            let fits = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s);
            let literal = parts.iter().filter(|t| !t.starts_with('{')).count();
            fits.then(|| (literal, format!("{} {template}", m.to_uppercase())))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, op)| op)
}

/// Every operation of `doc` that answered no 2xx in the HAR files of `dir`.
fn never_succeeded(doc: &serde_json::Value, dir: &Path) -> Vec<String> {
    let mut templates = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            templates.push((method.clone(), path.clone()));
        }
    }
    let mut succeeded = std::collections::BTreeSet::new();
    let hars = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with("har"));
    for file in hars {
        let har: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
        for entry in har["log"]["entries"].as_array().into_iter().flatten() {
            let status = entry["response"]["status"].as_u64().unwrap_or(0);
            let url = entry["request"]["url"].as_str().unwrap_or("");
            let path = url.splitn(4, '/').nth(3).unwrap_or("");
            let path = format!("/{}", path.split('?').next().unwrap_or(""));
            let method = entry["request"]["method"].as_str().unwrap_or("");
            if (200..300).contains(&status) {
                succeeded.extend(operation_of(method, &path, &templates));
            }
        }
    }
    templates
        .iter()
        .map(|(m, t)| format!("{} {t}", m.to_uppercase()))
        .filter(|op| !succeeded.contains(op))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_and_reaches_every_operation() {
    let host = Host::start("api-contract", HostConfig::default());
    let receiver = Receiver::ok();
    let seeded = seed(&host, &receiver).await;
    let config_file = host.dir.join("schemathesis.toml");
    std::fs::write(&config_file, config(&receiver.url("/hook"), &seeded)).unwrap();
    let base = host.url("");
    // Outside the host's directory, so it outlives a failing test.
    let reports = std::env::temp_dir().join(format!("hookmesh-contract-{}", std::process::id()));
    let report_dir = reports.clone();
    let run =
        tokio::task::spawn_blocking(move || run_schemathesis(&base, &config_file, &report_dir))
            .await
            .unwrap();
    let report = &run.output;
    let line = |has: &str| {
        report
            .lines()
            .rev()
            .find(|l| l.contains(has))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    eprintln!(
        "schemathesis: {} | {} | {:.0?}",
        line(" generated,"),
        line("==="),
        run.took
    );
    assert!(
        run.status.is_some_and(|s| s.success()),
        "schemathesis failed ({:?}, after {:.0?}; requests in {}):\n{report}",
        run.status,
        run.took,
        reports.display()
    );
    assert!(
        !report.contains("Missing test data"),
        "operations left unreached (requests in {}):\n{report}",
        reports.display()
    );
    assert!(
        report.contains("Stateful"),
        "the stateful phase did not run:\n{report}"
    );
    // A 2xx for every operation but the one that needs a provider's
    // signature (schemathesis reads `/openapi.json` to start; so does this).
    let (status, doc) = host.get("/openapi.json", ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    let mut unserved = never_succeeded(&doc, &reports);
    unserved.retain(|op| op != "GET /openapi.json");
    assert_eq!(
        unserved,
        ["POST /inbound/{project}/{provider}"],
        "operations that never answered 2xx (requests in {}):\n{report}",
        reports.display()
    );
    std::fs::remove_dir_all(&reports).ok();
}
