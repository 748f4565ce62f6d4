//! Test events in the logs (issue #15 item 5): a test send is recorded in
//! the endpoint's delivery log marked `test` (succeeded or failed after its
//! one attempt, with the request sent and the answer), its event in the
//! project's event log, never retried and not counted in the endpoint's
//! statistics; on both backends.

use super::*;
use common::host::{Backend, OnBackend};
use common::receiver::Reply;

/// Two webhooks on one receiver: `/ok` answers 200, `/down` 500.
async fn tests_are_logged(backend: Backend) {
    let name = format!("day-one-test-log-{backend:?}").to_lowercase();
    let OnBackend { host, _redis } = Host::start_on(&name, backend, HostConfig::default());
    let p = project(&host, "tested").await;
    let receiver = Receiver::start(|_, got| match got.path.as_str() {
        "/down" => Reply::status(500),
        _ => Reply::status(200),
    });
    let (good, _) = host
        .create_webhook(&p, json!({ "url": receiver.url("/ok") }))
        .await;
    let (bad, _) = host
        .create_webhook(&p, json!({ "url": receiver.url("/down") }))
        .await;

    let (status, sent) = host
        .post(
            &format!("{}/{good}/test", hooks(&p)),
            &p.secret_key,
            meshes_signup(),
        )
        .await;
    assert_eq!((status, &sent["ok"]), (200, &json!(true)), "{sent}");
    let delivery_id = sent["delivery_id"]
        .as_str()
        .expect("a delivery id")
        .to_string();
    let event_id = sent["event_id"].as_str().unwrap().to_string();

    // The endpoint's delivery log: the test, finished, with what was sent.
    let (status, log) = host
        .get(&format!("{}/{good}/deliveries", hooks(&p)), &p.secret_key)
        .await;
    assert_eq!(status, 200, "{log}");
    let first = &log["data"][0];
    assert_eq!(
        (
            &first["id"],
            &first["test"],
            &first["status"],
            &first["attempts"]
        ),
        (
            &json!(delivery_id),
            &json!(true),
            &json!("succeeded"),
            &json!(1)
        ),
        "{log}"
    );
    let attempt = &first["attempt_log"][0];
    assert_eq!(
        (&attempt["status_code"], &attempt["outcome"]),
        (&json!(200), &json!("success")),
        "{first}"
    );
    let (status, detail) = host
        .get(
            &format!("{}/{good}/deliveries/{delivery_id}/attempts/1", hooks(&p)),
            &p.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["requests"][0]["url"],
        json!(receiver.url("/ok")),
        "{detail}"
    );

    // The project's event log: the event as sent, marked as a test.
    let (status, event) = host
        .get(
            &format!("/projects/{}/events/{event_id}", p.id),
            &p.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(
        (&event["test"], &event["event"], &event["payload"]),
        (
            &json!(true),
            &json!("user.signup"),
            &json!({ "email": "test@example.com", "plan": "pro" })
        ),
        "{event}"
    );
    assert_eq!(event["deliveries"][0]["id"], json!(delivery_id), "{event}");
    let (_, listed) = host
        .get(
            &format!("/projects/{}/events?event=user.signup", p.id),
            &p.secret_key,
        )
        .await;
    assert_eq!(
        (&listed["data"][0]["id"], &listed["data"][0]["test"]),
        (&json!(event_id), &json!(true)),
        "{listed}"
    );

    // A refused test fails at once: recorded, never retried.
    let (status, refused) = host
        .call(
            Method::POST,
            &format!("{}/{bad}/test", hooks(&p)),
            Some(&p.secret_key),
            None,
        )
        .await;
    assert_eq!(
        (status, &refused["ok"], &refused["status"]),
        (200, &json!(false), &json!(500)),
        "{refused}"
    );
    let (_, bad_log) = host
        .get(
            &format!("{}/{bad}/deliveries?status=failed", hooks(&p)),
            &p.secret_key,
        )
        .await;
    let failed = &bad_log["data"][0];
    assert_eq!(
        (&failed["id"], &failed["test"], &failed["attempts"]),
        (&refused["delivery_id"], &json!(true), &json!(1)),
        "{bad_log}"
    );
    assert!(
        failed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    // The retry schedule is 100 ms: a queued delivery would have been
    // tried again by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.seen(),
        2,
        "each test is sent once (the good one and the refused one)"
    );

    // Tests are not the endpoint's traffic: its statistics stay empty.
    let (status, stats) = host
        .get(
            &format!("{}/{good}/stats?window=1h", hooks(&p)),
            &p.secret_key,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["attempts"], json!(0), "{stats}");

    // Replaying a test delivery sends the event for real.
    let (status, replay) = host
        .post(
            &format!("{}/{good}/deliveries/{delivery_id}/replay", hooks(&p)),
            &p.secret_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{replay}");
    let to_good = || {
        receiver
            .received()
            .iter()
            .filter(|r| r.path == "/ok")
            .count()
    };
    let deadline = std::time::Instant::now() + LONG;
    while to_good() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(to_good(), 2, "the test and its replay");
    let (_, log) = host
        .get(&format!("{}/{good}/deliveries", hooks(&p)), &p.secret_key)
        .await;
    assert_eq!(
        log["data"][0]["test"],
        json!(false),
        "the replay is real: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_are_logged_embedded() {
    tests_are_logged(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_are_logged_redis() {
    tests_are_logged(Backend::Redis).await;
}
