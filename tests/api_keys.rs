//! API keys and their lifecycle (issue #15 item 6): create (shown once,
//! label, scope, expiry), list (masked, last use), revoke (at once, also
//! on a second instance sharing Redis), rotate with and without grace,
//! expiry answered with a `401` saying so, and the config's declared keys
//! reconciled at start-up.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::host::{Host, HostConfig, TestProject};
use common::redis_server::RedisServer;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn keys_path(p: &TestProject) -> String {
    format!("/projects/{}/keys", p.id)
}

/// Status of an ingestion with `key`.
async fn ingest_status(host: &Host, p: &TestProject, key: &str) -> (u16, Value) {
    host.post(
        &format!("/projects/{}/events", p.id),
        key,
        json!({ "event": "user.created", "payload": {} }),
    )
    .await
}

/// Status of a management call (read the project) with `key`.
async fn manage_status(host: &Host, p: &TestProject, key: &str) -> u16 {
    host.get(&format!("/projects/{}", p.id), key).await.0
}

async fn create_key(host: &Host, p: &TestProject, body: Value) -> Value {
    let (status, created) = host.post(&keys_path(p), &p.secret_key, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn listed(host: &Host, p: &TestProject) -> Vec<Value> {
    let (status, page) = host.get(&keys_path(p), &p.secret_key).await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

fn find<'a>(keys: &'a [Value], id: &Value) -> &'a Value {
    keys.iter()
        .find(|k| k["id"] == *id)
        .unwrap_or_else(|| panic!("{id} listed in {keys:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_listed_masked_scoped_and_revoked() {
    let host = Host::start("keys-lifecycle", HostConfig::default());
    let p = host.create_project("keys").await;
    let mobile = create_key(
        &host,
        &p,
        json!({ "scope": "ingest", "label": "mobile app", "expires_in": "30d" }),
    )
    .await;
    let key = mobile["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("hm_pk_"), "{mobile}");
    assert_eq!(mobile["scope"], "ingest");
    assert!(mobile["expires_at"].as_u64().unwrap() > mobile["created_at"].as_u64().unwrap());

    // Scoped: ingestion yes, management no.
    assert_eq!(ingest_status(&host, &p, &key).await.0, 202);
    assert_eq!(manage_status(&host, &p, &key).await, 403);

    // Listed masked, with its last use; the keys of creation are there too.
    let keys = listed(&host, &p).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    let text = serde_json::to_string(&keys).unwrap();
    for shown_once in [&key, &p.secret_key, &p.publishable_key] {
        assert!(
            !text.contains(shown_once.as_str()),
            "a key is never listed: {text}"
        );
    }
    let entry = find(&keys, &mobile["id"]);
    assert_eq!(entry["label"], "mobile app");
    assert_eq!(entry["masked"], format!("{}…", &key[..10]));
    assert_eq!(entry["origin"], "api");
    assert_eq!(entry["expired"], false);
    assert!(entry["last_used_at"].is_u64(), "used once: {entry}");

    // A manage key can manage; another project's key cannot list these.
    let admin_key = create_key(&host, &p, json!({ "scope": "manage" })).await;
    let admin_key = admin_key["key"].as_str().unwrap();
    assert!(admin_key.starts_with("hm_sk_"));
    assert_eq!(manage_status(&host, &p, admin_key).await, 200);
    let other = host.create_project("other").await;
    assert_eq!(host.get(&keys_path(&p), &other.secret_key).await.0, 403);
    assert_eq!(host.get(&keys_path(&p), &p.publishable_key).await.0, 403);

    // Revoked: refused at once; a second revoke is a 404.
    let one = format!("{}/{}", keys_path(&p), mobile["id"].as_str().unwrap());
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = ingest_status(&host, &p, &key).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("invalid API key"))
    );
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        listed(&host, &p).await.len(),
        3,
        "revoked keys are not listed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_requests_name_their_field() {
    let host = Host::start("keys-bad", HostConfig::default());
    let p = host.create_project("keys").await;
    let past = 1_000;
    for (body, field) in [
        (json!({ "label": "no scope" }), "scope"),
        (json!({ "scope": "admin" }), "scope"),
        (json!({ "scope": "ingest", "label": "" }), "label"),
        (json!({ "scope": "ingest", "label": "a\nb" }), "label"),
        (
            json!({ "scope": "ingest", "expires_in": "soon" }),
            "expires_in",
        ),
        (
            json!({ "scope": "ingest", "expires_in": "0s" }),
            "expires_in",
        ),
        (
            json!({ "scope": "ingest", "expires_at": past }),
            "expires_at",
        ),
        (
            json!({ "scope": "ingest", "expires_in": "1h", "expires_at": past }),
            "expires_in",
        ),
        (json!({ "scope": "ingest", "owner": "me" }), "owner"),
    ] {
        let (status, answer) = host.post(&keys_path(&p), &p.secret_key, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let named = answer["field"].as_str().unwrap_or_default().to_string()
            + answer["message"].as_str().unwrap_or_default();
        assert!(
            named.contains(field),
            "{body}: {answer} should name {field}"
        );
    }
    let (status, _) = host
        .post(
            &format!("{}/key_0000/rotate", keys_path(&p)),
            &p.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_rotated_keys_are_refused_saying_why() {
    let host = Host::start("keys-expiry", HostConfig::default());
    let p = host.create_project("keys").await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let short = create_key(
        &host,
        &p,
        json!({ "scope": "ingest", "expires_at": now_ms + 1_500 }),
    )
    .await;
    let short_key = short["key"].as_str().unwrap();
    assert_eq!(ingest_status(&host, &p, short_key).await.0, 202);
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let (status, body) = ingest_status(&host, &p, short_key).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired at"),
        "{body}"
    );
    assert_eq!(
        find(&listed(&host, &p).await, &short["id"])["expired"],
        true
    );

    // Rotation with a grace: both work, the old one until its new expiry.
    let ci = create_key(&host, &p, json!({ "scope": "manage", "label": "ci" })).await;
    let rotate = |id: &Value| format!("{}/{}/rotate", keys_path(&p), id.as_str().unwrap());
    let (status, rotated) = host
        .post(&rotate(&ci["id"]), &p.secret_key, json!({ "grace": "1h" }))
        .await;
    assert_eq!(status, 201, "{rotated}");
    assert_eq!(
        (rotated["label"].as_str(), rotated["scope"].as_str()),
        (Some("ci"), Some("manage"))
    );
    assert_eq!(rotated["replaces"], ci["id"]);
    let old_key = ci["key"].as_str().unwrap();
    let new_key = rotated["key"].as_str().unwrap();
    assert_ne!(old_key, new_key);
    assert_eq!(manage_status(&host, &p, old_key).await, 200, "in its grace");
    assert_eq!(manage_status(&host, &p, new_key).await, 200);
    let old_entry = find(&listed(&host, &p).await, &ci["id"]).clone();
    assert_eq!(old_entry["expires_at"], rotated["replaced_key_expires_at"]);

    // Without a grace the old key stops at once.
    let (status, again) = host
        .post(&rotate(&rotated["id"]), &p.secret_key, json!({}))
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["replaced_key_expires_at"], Value::Null);
    assert_eq!(manage_status(&host, &p, new_key).await, 401);
    assert_eq!(
        manage_status(&host, &p, again["key"].as_str().unwrap()).await,
        200
    );
}

/// Two instances on one Redis: a key made on one works on the other, and
/// revoked on one is refused by the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_instance_is_refused_by_the_other_at_once() {
    let redis = RedisServer::start("keys");
    let config = || HostConfig {
        storage: format!("backend = \"redis\"\nredis_url = \"{}\"", redis.url()),
        ..HostConfig::default()
    };
    let a = Host::start("keys-redis-a", config());
    let b = Host::start("keys-redis-b", config());
    let p = a.create_project("shared").await;
    let made = create_key(&a, &p, json!({ "scope": "ingest", "label": "edge" })).await;
    let key = made["key"].as_str().unwrap();
    assert_eq!(
        ingest_status(&b, &p, key).await.0,
        202,
        "made on a, used on b"
    );
    let entry = find(&listed(&a, &p).await, &made["id"]).clone();
    assert!(
        entry["last_used_at"].is_u64(),
        "b's use is seen on a: {entry}"
    );

    let one = format!("{}/{}", keys_path(&p), made["id"].as_str().unwrap());
    let (status, _) = a
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        ingest_status(&b, &p, key).await.0,
        401,
        "revoked on a, refused by b"
    );
    assert!(listed(&b, &p).await.iter().all(|k| k["id"] != made["id"]));
}

/// Keys declared in the TOML: a changed or removed key is revoked at the
/// next start; keys made through the API stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_keys_no_longer_declared_are_revoked_at_start_up() {
    let sk = |c: char| format!("hm_sk_{}", c.to_string().repeat(32));
    let pk = format!("hm_pk_{}", "p".repeat(32));
    let declared = |secret: &str, publishable: Option<&str>| {
        let publishable = publishable
            .map(|k| format!("publishable_key = \"{k}\"\n"))
            .unwrap_or_default();
        format!("[[projects]]\nid = \"acme\"\nsecret_key = \"{secret}\"\n{publishable}")
    };
    let v1 = declared(&sk('a'), Some(&pk));
    let mut host = Host::start_process(
        "keys-declared",
        HostConfig {
            extra: v1.clone(),
            ..HostConfig::default()
        },
    );
    let p = TestProject {
        id: "acme".into(),
        secret_key: sk('a'),
        publishable_key: pk.clone(),
    };
    let keys = listed(&host, &p).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k["origin"] == "config"), "{keys:?}");
    let made = create_key(&host, &p, json!({ "scope": "ingest", "label": "api" })).await;
    let made_key = made["key"].as_str().unwrap().to_string();
    let (status, _) = host
        .post(
            &format!(
                "{}/{}/rotate",
                keys_path(&p),
                keys[0]["id"].as_str().unwrap()
            ),
            &p.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "a declared key is rotated in the config");

    // v2: the secret key changed, the publishable key removed.
    let toml = host.dir.join("hookmesh.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace(&v1, &declared(&sk('b'), None))).unwrap();
    host.restart();
    assert_eq!(
        manage_status(&host, &p, &sk('a')).await,
        401,
        "changed key revoked"
    );
    assert_eq!(
        ingest_status(&host, &p, &pk).await.0,
        401,
        "removed key revoked"
    );
    assert_eq!(
        manage_status(&host, &p, &sk('b')).await,
        200,
        "new key works"
    );
    assert_eq!(
        ingest_status(&host, &p, &made_key).await.0,
        202,
        "API key kept"
    );
    let p = TestProject {
        secret_key: sk('b'),
        ..p
    };
    let keys = listed(&host, &p).await;
    let origins: Vec<_> = keys.iter().map(|k| k["origin"].as_str().unwrap()).collect();
    assert_eq!(origins.len(), 2, "{keys:?}");
    assert!(
        origins.contains(&"config") && origins.contains(&"api"),
        "{keys:?}"
    );

    // Restarting with the same TOML keeps the declared key's creation time.
    let created = find(
        &keys,
        &keys.iter().find(|k| k["origin"] == "config").unwrap()["id"],
    )["created_at"]
        .clone();
    host.restart();
    let again = listed(&host, &p).await;
    let config_key = again.iter().find(|k| k["origin"] == "config").unwrap();
    assert_eq!(config_key["created_at"], created);
}
