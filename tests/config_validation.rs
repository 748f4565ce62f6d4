//! Declared objects get the API's checks: `hookmesh config check` (and
//! start-up) refuse each TOML mistake naming its TOML path, a secret field
//! on a declared endpoint never reaches the store file, unknown keys are
//! all reported with a suggestion, declared secrets rotate with the grace,
//! and templates are checked at registration over the API (syntax, and
//! types on a sample built from the type's schema).
#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, ADMIN_TOKEN, MASTER_KEY};
use common::receiver::Receiver;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SK: &str = "hm_sk_validation000000000000000000000000000";
const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "another-declared-secret-0123456789";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hookmesh-it-validation-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A complete config in `dir` with `projects` appended; returns its path.
fn config(dir: &Path, plugins: &Path, projects: &str) -> PathBuf {
    let _ = common::plugin("slack");
    let path = dir.join("hookmesh.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nadmin_token = \"{ADMIN_TOKEN}\"\n[storage]\npath = \"{}\"\n\
             [plugins]\ndir = \"{}\"\n[security]\nmaster_key = \"{MASTER_KEY}\"\n{projects}",
            dir.join("hookmesh.redb").display(),
            plugins.display()
        ),
    )
    .unwrap();
    path
}

fn hookmesh(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookmesh"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("HOOKMESH_CONFIG")
        .output()
        .unwrap()
}

/// `config check` on `projects`: its stderr when it fails, `None` when ok.
fn check(name: &str, projects: &str) -> Option<String> {
    let dir = scratch(name);
    let out = hookmesh(
        &["config", "check"],
        &config(&dir, &common::plugins_dir(), projects),
    );
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "{err}");
    (!out.status.success()).then_some(err)
}

fn slack_webhook(config: &str) -> String {
    format!(
        "[[projects]]\nid = \"acme\"\nsecret_key = \"{SK}\"\n\
         [[projects.webhooks]]\nid = \"ep_slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n\
         events = [\"user.created\"]\nprovider = \"slack\"\nconfig = {config}\n"
    )
}

fn assert_names(err: &str, key: &str, words: &[&str]) {
    let line = err
        .lines()
        .find(|l| l.contains(&format!("`{key}`")))
        .unwrap_or_else(|| panic!("`{key}` missing from: {err}"));
    for word in words {
        assert!(line.contains(word), "{word:?} missing from: {line}");
    }
}

#[test]
fn a_typo_in_the_provider_is_refused_with_a_suggestion() {
    let err = check(
        "provider",
        "[[projects]]\nid = \"acme\"\n[[projects.webhooks]]\nid = \"ep\"\n\
         url = \"https://acme.example/hooks\"\nevents = [\"*\"]\nprovider = \"webhooks\"\n",
    )
    .expect("refused");
    assert_names(
        &err,
        "projects[0].webhooks[0].provider",
        &["`webhooks`", "did you mean `webhook`?"],
    );
}

#[test]
fn an_unknown_event_type_is_refused_in_a_strict_project_only() {
    let project = |strict: bool| {
        format!(
            "[[projects]]\nid = \"acme\"\nstrict_event_types = {strict}\ncustom_event_types = [\"order.paid\"]\n\
             [[projects.webhooks]]\nid = \"ep\"\nurl = \"https://acme.example/hooks\"\n\
             events = [\"order.paid\", \"order.payed\"]\n"
        )
    };
    let err = check("type-strict", &project(true)).expect("refused");
    assert_names(
        &err,
        "projects[0].webhooks[0].events[1]",
        &["unknown event type `order.payed`", "strict_event_types"],
    );
    assert_eq!(
        check("type-open", &project(false)),
        None,
        "open projects take any type"
    );
}

#[test]
fn an_unknown_plugin_config_field_is_refused() {
    let err = check(
        "field",
        &slack_webhook("{ txt = \"New user\", colour = \"red\" }"),
    )
    .expect("refused");
    for key in ["txt", "colour"] {
        assert_names(
            &err,
            &format!("projects[0].webhooks[0].config.{key}"),
            &["not a config field of provider `slack`", "text"],
        );
    }
}

#[test]
fn a_secret_field_on_a_declared_endpoint_is_refused_and_never_stored() {
    const TOKEN: &str = "xoxb-never-in-the-store-file-4242";
    let projects = slack_webhook(&format!(
        "{{ mode = \"chat.postMessage\", channel = \"#ops\", bot_token = \"{TOKEN}\" }}"
    ));
    let err = check("secret", &projects).expect("refused");
    assert_names(
        &err,
        "projects[0].webhooks[0].config.bot_token",
        &["secret", "[projects.providers.slack]"],
    );
    // `serve` refuses it too, before writing anything of the project.
    let dir = scratch("secret-serve");
    let file = config(&dir, &common::plugins_dir(), &projects);
    let out = hookmesh(&["serve"], &file);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("projects[0].webhooks[0].config.bot_token"),
        "{stderr}"
    );
    let store = std::fs::read(dir.join("hookmesh.redb")).unwrap_or_default();
    assert!(
        !store.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the store file"
    );
    // Where it belongs (the project's provider settings) it is sealed.
    let sealed = format!(
        "[[projects]]\nid = \"acme\"\nsecret_key = \"{SK}\"\n\
         [projects.providers.slack]\nconfig = {{ bot_token = \"{TOKEN}\" }}\n\
         [[projects.webhooks]]\nid = \"ep_slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n\
         events = [\"user.created\"]\nprovider = \"slack\"\n\
         config = {{ mode = \"chat.postMessage\", channel = \"#ops\" }}\n"
    );
    std::fs::remove_dir_all(&dir).ok();
    let mut host = Host::start_process("validation-sealed", host_config(&sealed));
    host.terminate(Duration::from_secs(15));
    let store = std::fs::read(host.dir.join("hookmesh.redb")).unwrap();
    assert!(!store.is_empty());
    assert!(
        !store.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "provider settings keep the token sealed"
    );
}

fn host_config(projects: &str) -> HostConfig {
    HostConfig {
        extra: projects.to_string(),
        ..HostConfig::default()
    }
}

#[test]
fn a_template_syntax_error_is_refused_naming_the_line() {
    let err = check(
        "template",
        &slack_webhook("{ text = \"New user\\n{{ payload.email \" }"),
    )
    .expect("refused");
    assert_names(
        &err,
        "projects[0].webhooks[0].config.text",
        &["not a valid template", "template line 2"],
    );
}

#[test]
fn unknown_keys_are_all_reported_as_written_with_the_nearest_key() {
    let err = check(
        "keys",
        "[delivery]\ntimout = \"5s\"\n[[projects]]\nid = \"acme\"\n[[projects.webhooks]]\nid = \"ep\"\n\
         url = \"https://acme.example/hooks\"\nevents = [\"*\"]\nsecrt = \"whatever-secret-123456\"\n",
    )
    .expect("refused");
    assert_names(&err, "delivery.timout", &["did you mean `timeout`?"]);
    assert_names(
        &err,
        "projects[0].webhooks[0].secrt",
        &["did you mean `secret`?", "hookmesh.toml"],
    );
    assert!(!err.contains("default."), "{err}");
    assert!(!err.contains("``"), "{err}");
}

#[test]
fn config_check_loads_the_plugins_dir() {
    let dir = scratch("plugins-dir");
    let out = hookmesh(
        &["config", "check"],
        &config(&dir, &dir.join("no-such-dir"), ""),
    );
    assert!(!out.status.success());
    assert_names(
        &String::from_utf8_lossy(&out.stderr),
        "plugins.dir",
        &["no-such-dir"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn webhooks_that_do_not_sign_need_no_secret_and_take_filter_and_active() {
    let projects = format!(
        "{}filter = {{ \"payload.plan\" = \"pro\" }}\nactive = false\n",
        slack_webhook("{ text = \"{{ payload.email }} joined\" }")
    );
    assert_eq!(check("slack-ok", &projects), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_secret_changes_rotate_with_the_grace_and_filter_and_active_apply() {
    let receiver = Receiver::ok();
    let declared = |secret: &str, active: bool| {
        format!(
            "[[projects]]\nid = \"acme\"\nsecret_key = \"{SK}\"\n\
             [[projects.webhooks]]\nid = \"ep_orders\"\nurl = \"{}\"\nevents = [\"user.created\"]\n\
             secret = \"{secret}\"\nfilter = {{ \"payload.plan\" = \"pro\" }}\nactive = {active}\n",
            receiver.url("/orders")
        )
    };
    let mut host = Host::start_process(
        "validation-rotation",
        host_config(&declared(SECRET_A, false)),
    );
    let path = "/projects/acme/integrations/webhooks/ep_orders";
    let (status, hook) = host.get(path, SK).await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(
        (hook["active"].clone(), hook["filter"].clone()),
        (json!(false), json!({"payload.plan": "pro"}))
    );
    assert_eq!(hook["previous_secret_expires_at"], Value::Null);
    let toml = host.dir.join("hookmesh.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(&declared(SECRET_A, false), &declared(SECRET_B, true)),
    )
    .unwrap();
    host.restart();
    let (_, hook) = host.get(path, SK).await;
    assert_eq!(hook["active"], true, "{hook}");
    assert!(
        hook["previous_secret_expires_at"].is_u64(),
        "the old secret signs during the grace: {hook}"
    );
    for plan in ["free", "pro"] {
        let (status, body) = host
            .post(
                "/projects/acme/events",
                SK,
                json!({ "event": "user.created", "payload": { "plan": plan } }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let got = receiver.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 1, "the filter lets only the pro plan through");
    let headers = got[0].header_map();
    for secret in [SECRET_B, SECRET_A] {
        assert!(
            standardwebhooks::Webhook::new(&hookmesh_sdk::signing::standard_webhooks_form(secret))
                .unwrap()
                .verify(&got[0].body, &headers)
                .is_ok(),
            "signed with {secret}"
        );
    }
}

async fn put(host: &Host, path: &str, key: &str, body: Value) -> (u16, Value) {
    host.call(Method::PUT, path, Some(key), Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_checked_at_registration_over_the_api() {
    let host = Host::start("validation-templates", HostConfig::default());
    let p = host.create_project("templates").await;
    let (status, body) = put(
        &host,
        "/projects/templates/integrations/events/invoice.paid",
        &p.secret_key,
        json!({ "schema": {
            "type": "object",
            "properties": { "total_cents": { "type": "string" }, "email": { "type": "string" } }
        } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let register = |text: &str, events: Value| {
        json!({
            "url": "https://hooks.slack.com/services/T/B/X",
            "provider": "slack",
            "events": events,
            "config": { "text": text }
        })
    };
    let hooks = "/projects/templates/integrations/webhooks";
    let (status, body) = host
        .post(
            hooks,
            &p.secret_key,
            register("Paid\n{% if payload.email %}{{ payload.email", json!(["*"])),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("config.text")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("template line 2"),
        "{body}"
    );
    // A type error on a sample built from the subscribed type's schema.
    let total = "{{ payload.total_cents // 100 }} paid";
    let (status, body) = host
        .post(hooks, &p.secret_key, register(total, json!(["invoice.*"])))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("config.text")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("invoice.paid"),
        "{body}"
    );
    // The same template on a type without a schema: nothing to judge by.
    let (status, body) = host
        .post(hooks, &p.secret_key, register(total, json!(["order.paid"])))
        .await;
    assert_eq!(status, 201, "{body}");
    // Subscribing it to the typed event later is refused as well.
    let (status, body) = put(
        &host,
        &format!("{hooks}/{}", body["id"].as_str().unwrap()),
        &p.secret_key,
        json!({ "events": ["invoice.paid"] }),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("config.text")),
        "{body}"
    );
}

#[test]
fn plugin_render_checks_a_sample_as_registration_does() {
    let dir = scratch("render-sample");
    let schema = dir.join("invoice.schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"total_cents":{"type":"string"}}}"#,
    )
    .unwrap();
    let context = |text: &str| {
        let path = dir.join("ctx.json");
        let ctx = json!({ "endpoint": { "url": "https://hooks.slack.com/services/T/B/X" },
                          "config": { "text": text } });
        std::fs::write(&path, ctx.to_string()).unwrap();
        path
    };
    let render = |ctx: &Path, schema: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookmesh"));
        cmd.args(["plugin", "render"])
            .arg(common::plugin("slack"))
            .args(["--sample", "invoice.paid", "--config"])
            .arg(ctx);
        if let Some(schema) = schema {
            cmd.arg("--schema").arg(schema);
        }
        cmd.output().unwrap()
    };
    let total = context("{{ payload.total_cents // 100 }} paid");
    let out = render(&total, Some(&schema));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.text") && err.contains("invoice.paid"),
        "{err}"
    );
    // Without a schema the payload is `{}`: registration would take this
    // template (nothing to judge types by); rendering it here says why
    // it cannot render that sample, with the line.
    let out = render(&total, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("template line 1"),
        "{err}"
    );
    let out = render(&context("{{ event }} for {{ resource_id }}"), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(requests[0]["method"], "POST", "{requests}");
    let out = render(&context("{% if %}"), None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("template line 1"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_check_reports_every_plugin_that_does_not_load() {
    let dir = scratch("bad-plugins");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(common::plugin("slack"), plugins.join("slack.wasm")).unwrap();
    std::fs::write(plugins.join("broken.wasm"), b"not wasm").unwrap();
    std::fs::copy(common::plugin("slack"), plugins.join("slack-again.wasm")).unwrap();
    let out = hookmesh(
        &["config", "check"],
        &config(&dir, &plugins, &slack_webhook("{ txt = \"x\" }")),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_names(
        &err,
        "plugins.dir",
        &["broken.wasm", "not a valid WebAssembly component"],
    );
    assert!(err.contains("name `slack` is already taken"), "{err}");
    // The plugins that loaded still check the declared objects.
    assert_names(&err, "projects[0].webhooks[0].config.txt", &["slack"]);
    std::fs::remove_dir_all(&dir).ok();
}
