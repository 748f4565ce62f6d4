//! The operator whose TOML is the truth (#18 item 1), on the embedded
//! store and on Redis: start from config v1 (two declared projects with
//! keys, webhooks to real receivers and a provider setting; plus a webhook,
//! a project and a provider setting created through the API), send events;
//! `config plan` shows what v2 changes without changing it; restart with
//! v2 (a webhook
//! removed, a URL changed, a provider setting removed, a project removed)
//! and check over real HTTP that what was removed no longer delivers or
//! authenticates while the rest still does. Then `DELETE /projects/{p}`.

use crate::common;

use common::host::{Host, HostConfig, ADMIN_TOKEN};
use common::receiver::{Receiver, Reply};
use common::redis_server::RedisServer;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const SHOP_SK: &str = "hm_sk_shop00000000000000000000000000000000";
const SHOP_PK: &str = "hm_pk_shop00000000000000000000000000000000";
/// v2 rotates `shop`'s secret key to this.
const SHOP_SK2: &str = "hm_sk_shop22222222222222222222222222222222";
const LEGACY_SK: &str = "hm_sk_legacy000000000000000000000000000000";
const LEGACY_PK: &str = "hm_pk_legacy000000000000000000000000000000";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Config v1: `shop` (orders and audit webhooks, a provider setting that
/// adds a header) and `legacy` (one webhook).
fn v1(main: &Receiver, audit: &Receiver) -> String {
    format!(
        "{shop}\
         [projects.providers.webhook]\nconfig = {{ \"header.X-Declared\" = \"v1\" }}\n\
         {orders}\
         [[projects.webhooks]]\nid = \"ep_shop_audit\"\nurl = \"{audit}\"\nevents = [\"*\"]\nsecret = \"{SECRET}\"\n\
         [[projects]]\nid = \"legacy\"\nname = \"Legacy\"\nsecret_key = \"{LEGACY_SK}\"\npublishable_key = \"{LEGACY_PK}\"\n\
         [[projects.webhooks]]\nid = \"ep_legacy\"\nurl = \"{legacy}\"\nevents = [\"*\"]\nsecret = \"{SECRET}\"\n",
        shop = shop(),
        orders = orders(&main.url("/orders")),
        audit = audit.url("/audit"),
        legacy = main.url("/legacy"),
    )
}

/// Config v2: `shop` without its audit webhook and provider setting, its
/// orders webhook moved, its secret key rotated; `legacy` gone.
fn v2(main: &Receiver) -> String {
    format!(
        "{}retention = \"7d\"\n{}",
        shop().replace(SHOP_SK, SHOP_SK2),
        orders(&main.url("/orders-v2"))
    )
}

fn shop() -> String {
    format!(
        "[[projects]]\nid = \"shop\"\nname = \"Shop\"\nsecret_key = \"{SHOP_SK}\"\n\
         publishable_key = \"{SHOP_PK}\"\ncustom_event_types = [\"order.paid\"]\n"
    )
}

/// A key's public id (`key_` and the first 16 hex digits of its SHA-256).
fn key_id(key: &str) -> String {
    use sha2::Digest;
    format!(
        "key_{}",
        &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..16]
    )
}

fn orders(url: &str) -> String {
    format!(
        "[[projects.webhooks]]\nid = \"ep_shop_orders\"\nurl = \"{url}\"\nevents = [\"order.*\"]\nsecret = \"{SECRET}\"\n"
    )
}

/// Sends `order.paid` to `project` with `key`; answers the status and body.
async fn send(host: &Host, project: &str, key: &str, n: u64) -> (u16, Value) {
    host.post(
        &format!("/projects/{project}/events"),
        key,
        json!({ "event": "order.paid", "payload": { "n": n } }),
    )
    .await
}

/// Requests `receiver` accepted on `path`.
fn on(receiver: &Receiver, path: &str) -> Vec<common::receiver::Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// Waits until `receiver` accepted `n` requests on `path`.
async fn wait_on(host: &Host, receiver: &Receiver, path: &str, n: usize) {
    host.eventually(LONG, || async {
        (on(receiver, path).len() >= n).then_some(())
    })
    .await;
}

/// `hookmesh config plan` on the host's config: its stdout (asserting success).
fn plan(host: &Host) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hookmesh"))
        .args(["config", "plan", "--config"])
        .arg(host.dir.join("hookmesh.toml"))
        .env_remove("HOOKMESH_CONFIG")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "config plan failed: {stderr}");
    stdout
}

async fn operator_walk(name: &str, storage: String, redis: bool) {
    let main = Receiver::ok();
    let audit = Receiver::start(|_, _| Reply::status(503));
    let first = v1(&main, &audit);
    let mut host = Host::start_process(
        name,
        HostConfig {
            storage,
            // A failed attempt waits an hour: what the audit webhook has
            // queued is still queued at the restart.
            delivery: "retry_schedule = [\"1h\"]\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
            extra: first.clone(),
            ..HostConfig::default()
        },
    );

    // Objects created through the API: a webhook in the declared project,
    // and a project of its own.
    let api_hook = json!({ "url": main.url("/api"), "events": ["order.*"] });
    let (status, body) = host
        .post("/projects/shop/integrations/webhooks", SHOP_SK, api_hook)
        .await;
    assert_eq!(status, 201, "{body}");
    let api_hook_id = body["id"].as_str().unwrap().to_string();
    let adhoc = host.create_project("adhoc").await;
    let slack = json!({ "config": { "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5" } });
    let (status, body) = host
        .call(
            Method::PUT,
            "/projects/shop/integrations/providers/slack",
            Some(SHOP_SK),
            Some(&slack),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = send(&host, "shop", SHOP_PK, 1).await;
    assert_eq!(status, 202, "{body}");
    let pending_event = body["id"].as_str().unwrap().to_string();
    assert_eq!(send(&host, "legacy", LEGACY_PK, 1).await.0, 202);
    wait_on(&host, &main, "/orders", 1).await;
    wait_on(&host, &main, "/api", 1).await;
    wait_on(&host, &main, "/legacy", 1).await;
    host.eventually(LONG, || async { (audit.seen() >= 1).then_some(()) })
        .await;
    assert_eq!(
        on(&main, "/orders")[0].header("x-declared"),
        Some("v1"),
        "v1's provider setting applies"
    );

    // v2 written; `config plan` shows its changes and makes none.
    let config = host.dir.join("hookmesh.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&first, &v2(&main))).unwrap();
    if !redis {
        // The embedded store is held by the running host: plan it stopped.
        host.terminate(LONG);
    }
    let planned = plan(&host);
    let rotated = [
        format!("+ key shop/{}", key_id(SHOP_SK2)),
        format!(
            "- key shop/{}: no longer in the config: revoked",
            key_id(SHOP_SK)
        ),
    ];
    for line in [
        "~ webhook shop/ep_shop_orders: url",
        "- webhook shop/ep_shop_audit",
        "- provider shop/webhook",
        "- project legacy",
        "~ project shop: retention",
        &rotated[0],
        &rotated[1],
        "plan: 1 to create, 2 to change, 4 to delete, 1 unchanged",
    ] {
        assert!(
            planned.contains(line),
            "`{line}` missing from the plan:\n{planned}"
        );
    }
    assert!(
        !planned.contains("adhoc") && !planned.contains(&api_hook_id),
        "objects made through the API are not the config's:\n{planned}"
    );
    assert_eq!(plan(&host), planned, "planning changed nothing");
    if redis {
        assert_eq!(
            send(&host, "legacy", LEGACY_PK, 2).await.0,
            202,
            "the running host still serves v1 after a plan"
        );
        wait_on(&host, &main, "/legacy", 2).await;
        host.terminate(LONG);
    }
    let legacy_seen = on(&main, "/legacy").len();
    let audit_seen = audit.seen();

    host.start_again();

    // The removed project: its keys open nothing, it is gone for the admin.
    assert_eq!(send(&host, "legacy", LEGACY_PK, 3).await.0, 401);
    assert_eq!(send(&host, "legacy", LEGACY_SK, 3).await.0, 401);
    assert_eq!(host.get("/projects/legacy", ADMIN_TOKEN).await.0, 404);

    // The rotated key: the old one refused, the new one works.
    assert_eq!(send(&host, "shop", SHOP_SK, 4).await.0, 401, "old key");
    // v2's retention applies.
    let (_, shop) = host.get("/projects/shop", SHOP_SK2).await;
    assert_eq!(
        (&shop["retention"], &shop["effective_retention"]),
        (&json!("7d"), &json!("7d")),
        "{shop}"
    );

    // The kept project delivers to its kept webhooks, at the new URL,
    // without the removed provider setting's header.
    let (status, body) = send(&host, "shop", SHOP_PK, 2).await;
    assert_eq!(status, 202, "{body}");
    wait_on(&host, &main, "/orders-v2", 1).await;
    wait_on(&host, &main, "/api", 2).await;
    assert_eq!(on(&main, "/orders-v2")[0].header("x-declared"), None);
    assert_eq!(
        on(&main, "/orders").len(),
        1,
        "the old URL gets nothing more"
    );

    // The removed webhook: its queued delivery ended, nothing more sent.
    let (status, event) = host
        .get(&format!("/projects/shop/events/{pending_event}"), SHOP_SK2)
        .await;
    assert_eq!(status, 200, "{event}");
    let to_audit = event["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == "ep_shop_audit")
        .cloned()
        .unwrap_or_else(|| panic!("no delivery to the audit webhook: {event}"));
    assert_eq!(to_audit["status"], "failed", "{to_audit}");
    assert_eq!(to_audit["last_error"], "endpoint deleted", "{to_audit}");
    let (status, body) = host
        .get(
            "/projects/shop/integrations/webhooks/ep_shop_audit",
            SHOP_SK2,
        )
        .await;
    assert_eq!(status, 404, "{body}");

    // Each webhook says whether the config owns it.
    for (id, declared) in [("ep_shop_orders", true), (api_hook_id.as_str(), false)] {
        let path = format!("/projects/shop/integrations/webhooks/{id}");
        let (status, body) = host.get(&path, SHOP_SK2).await;
        assert_eq!(
            (status, &body["declared"]),
            (200, &json!(declared)),
            "{body}"
        );
    }

    // Provider settings: the declared one is gone, the API's is kept.
    let (status, providers) = host
        .get("/projects/shop/integrations/providers", SHOP_SK2)
        .await;
    assert_eq!(status, 200, "{providers}");
    let provider = |name: &str| {
        providers["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no provider {name}: {providers}"))
    };
    assert_eq!(provider("webhook")["updated_at"], Value::Null, "removed");
    let kept = provider("slack");
    assert!(kept["updated_at"].is_u64(), "{kept}");
    assert_eq!(kept["declared"], false, "{kept}");

    // API objects are left alone; the admin deletes the API-made project.
    assert_eq!(host.get("/projects/adhoc", ADMIN_TOKEN).await.0, 200);
    let delete = |path: &'static str, key: &'static str| {
        let host = &host;
        async move { host.call(Method::DELETE, path, Some(key), None).await.0 }
    };
    assert_eq!(delete("/projects/shop", SHOP_SK2).await, 403, "admin only");
    assert_eq!(delete("/projects/nope", ADMIN_TOKEN).await, 404);
    assert_eq!(delete("/projects/adhoc", ADMIN_TOKEN).await, 204);
    assert_eq!(delete("/projects/adhoc", ADMIN_TOKEN).await, 404);
    let (status, _) = send(&host, "adhoc", &adhoc.publishable_key, 1).await;
    assert_eq!(status, 401, "a deleted project's keys open nothing");
    assert_eq!(host.get("/projects/adhoc", ADMIN_TOKEN).await.0, 404);

    // Nothing reached what was removed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(on(&main, "/legacy").len(), legacy_seen);
    assert_eq!(audit.seen(), audit_seen);
    assert_eq!(
        plan_after_stop(&mut host, redis),
        "plan: 0 to create, 0 to change, 0 to delete, 4 unchanged\n"
    );
}

/// The plan once v2 is applied: nothing left to do.
fn plan_after_stop(host: &mut Host, redis: bool) -> String {
    if !redis {
        host.terminate(LONG);
    }
    plan(host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_config_stops_delivering_on_the_embedded_store() {
    operator_walk("reconcile", String::new(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_config_stops_delivering_on_redis() {
    let redis = RedisServer::start("reconcile");
    let storage = format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url());
    operator_walk("reconcile-redis", storage, true).await;
}

/// `DELETE /projects/{p}` while its endpoint is retrying every 50 ms: no
/// request reaches the receiver after the delete answered (but the one
/// in flight), and the project's events are gone with it.
async fn a_deleted_project_stops_delivering(name: &str, storage: String) {
    let failing = Receiver::start(|_, _| Reply::status(503));
    let host = Host::start(
        name,
        HostConfig {
            storage,
            delivery: "retry_schedule = [\"50ms\"]\nmax_attempts = 1000\njitter = 0.0\ntimeout = \"5s\"\nconnect_timeout = \"1s\"".into(),
            ..HostConfig::default()
        },
    );
    let project = host.create_project("doomed").await;
    host.create_webhook(&project, json!({ "url": failing.url("/hook") }))
        .await;
    let event = host
        .send_event(&project, "order.paid", json!({ "n": 1 }))
        .await;
    host.eventually(LONG, || async { (failing.seen() >= 3).then_some(()) })
        .await;
    let path = "/projects/doomed";
    let (status, _) = host
        .call(Method::DELETE, path, Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 204);
    let after_delete = failing.seen();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        failing.seen() <= after_delete + 1,
        "still delivering: {after_delete} requests at the delete, {} now",
        failing.seen()
    );
    let (status, _) = host
        .get(&format!("/projects/doomed/events/{event}"), ADMIN_TOKEN)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_project_stops_delivering_on_the_embedded_store() {
    a_deleted_project_stops_delivering("delete-project", String::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_project_stops_delivering_on_redis() {
    let redis = RedisServer::start("delete-project");
    let storage = format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url());
    a_deleted_project_stops_delivering("delete-project-redis", storage).await;
}
