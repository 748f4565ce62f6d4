//! The seeds' requests as written, their Node verification function,
//! redirects as success per endpoint, secrets customers bring, receiver
//! config checked at registration, and test events with a body.

use super::*;

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
