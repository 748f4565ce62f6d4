//! The customer portal in a real browser (headless chromium over
//! WebDriver, see `common::browser`): a customer adds an endpoint with
//! their own secret, sends a test event with an edited payload, reads the
//! delivery and the receiver's answer in the log, replays it and rotates
//! the secret, while a real receiver verifies every request; hostile
//! payloads render as text. A failing test leaves a screenshot in the
//! host's directory.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::browser::Browser;
use common::host::{Host, HostConfig, TestProject};
use common::receiver::{Received, Receiver, Reply};
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const OWN_SECRET: &str = "my-own-signing-secret-2026";
const RECEIVER_ANSWER: &str = "thanks from the receiver";

/// A portal session of `project` made by its backend: `(url, token)`.
async fn session(host: &Host, project: &TestProject, options: Value) -> (String, String) {
    let (status, made) = host
        .post(
            &format!("/projects/{}/portal/sessions", project.id),
            &project.secret_key,
            options,
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    let url = made["url"].as_str().unwrap().to_string();
    assert_eq!(url, host.url(&format!("/portal/#token={token}")));
    (url, token)
}

/// Whether `request` is signed (Standard Webhooks) with `secret`.
fn signed_with(request: &Received, secret: &str) -> bool {
    let key = hookmesh_sdk::signing::standard_webhooks_form(secret);
    standardwebhooks::Webhook::new(&key)
        .unwrap()
        .verify(&request.body, &request.header_map())
        .is_ok()
}

async fn send(host: &Host, project: &TestProject, payload: Value) {
    let (status, body) = host
        .post(
            &format!("/projects/{}/events", project.id),
            &project.secret_key,
            json!({ "event": "order.paid", "payload": payload }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_adds_tests_reads_replays_and_rotates_in_the_portal() {
    let host = Host::start("portal-flow", HostConfig::default());
    let project = host.create_project("portal").await;
    let receiver = Receiver::start(|_, _| Reply {
        body: RECEIVER_ANSWER.into(),
        ..Reply::status(200)
    });
    let (url, _) = session(&host, &project, json!({ "product_name": "Acme" })).await;
    let browser = Browser::start(1100, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-flow", async {
            browser.open(&url).await;
            browser.wait_text("#product", "Acme").await;

            // Add an endpoint with the customer's own secret.
            browser.click_button("Add endpoint").await;
            browser.fill("#ep-url", &receiver.url("/hooks")).await;
            browser.fill("#ep-secret", OWN_SECRET).await;
            browser.click_button("Add endpoint").await;
            let shown = browser.wait_text("[data-testid=secret]", OWN_SECRET).await;
            assert_eq!(shown, OWN_SECRET);
            browser.keep("portal-endpoint-added").await;

            // A test event with an edited payload.
            browser.click_button("Open endpoint").await;
            browser.click_button("Send test event").await;
            browser.fill("#test-payload", r#"{"order": 77}"#).await;
            browser.click_button("Send").await;
            browser
                .wait_text("[data-testid=test-verdict]", "Delivered")
                .await;
            browser.keep("portal-test-event").await;
            let got = receiver.wait_for(1, LONG).await;
            assert_eq!(
                got[0].json()["payload"],
                json!({ "order": 77 }),
                "the edited payload"
            );

            // An event from the app: succeeded in the log, with the answer.
            send(&host, &project, json!({ "order": 78 })).await;
            receiver.wait_for(2, LONG).await;
            browser.click_button("Endpoints").await;
            browser.wait("tr[data-endpoint]").await;
            browser.keep("portal-endpoints").await;
            browser.click("tr[data-endpoint]").await;
            browser.wait("tr[data-status=succeeded]").await;
            browser.keep("portal-endpoint").await;
            browser.click("tr[data-status=succeeded]").await;
            browser
                .wait_text("[data-testid=delivery-status]", "succeeded")
                .await;
            browser
                .wait_text("[data-testid=response-excerpt]", RECEIVER_ANSWER)
                .await;
            browser.keep("portal-delivery").await;

            // Replay it.
            browser.click_button("Replay").await;
            let got = receiver.wait_for(3, LONG).await;
            let (replayed, original) = (got[2].json(), got[1].json());
            assert_eq!(
                (&replayed["uuid"], &replayed["payload"]),
                (&original["uuid"], &original["payload"]),
                "a replay sends the same event"
            );

            // Rotate the secret: the new one is shown once and signs next.
            browser.wait("tr[data-delivery]").await;
            browser.click_button("Rotate secret").await;
            browser.select("#grace", "0s").await;
            browser.click_button("Rotate").await;
            let element = browser.wait("[data-testid=secret]").await;
            let rotated = browser.text(&element).await;
            assert!(
                rotated.starts_with("whsec_") && rotated != OWN_SECRET,
                "{rotated}"
            );
            send(&host, &project, json!({ "order": 79 })).await;
            let got = receiver.wait_for(4, LONG).await;

            // The receiver verified every request.
            for (n, request) in got.iter().enumerate() {
                let secret = if n < 3 { OWN_SECRET } else { rotated.as_str() };
                assert!(
                    signed_with(request, secret),
                    "request {n} signed with {secret}"
                );
            }
            assert!(
                !signed_with(&got[3], OWN_SECRET),
                "the old secret no longer signs"
            );

            // Edit it: the next delivery goes to the new URL.
            browser.click_button("Edit").await;
            browser.fill("#ep-url", &receiver.url("/moved")).await;
            browser.fill("#ep-description", "orders").await;
            browser.click_button("Save changes").await;
            browser.wait_text("h1", "/moved").await;
            send(&host, &project, json!({ "order": 80 })).await;
            let got = receiver.wait_for(5, LONG).await;
            assert_eq!(got[4].path, "/moved");
            assert_eq!(browser.console_errors().await, Vec::<String>::new());
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_render_as_text() {
    let host = Host::start("portal-xss", HostConfig::default());
    let project = host.create_project("xss").await;
    let script = "<script>alert(1)</script>";
    let image = "\"><img src=x onerror=alert(1)>";
    let (status, body) = host
        .post(
            &format!("/projects/{}/events", project.id),
            &project.secret_key,
            json!({
                "event": "order.paid",
                "resource": "order",
                "resource_id": image,
                "payload": { "note": script, "html": image },
            }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (url, _) = session(&host, &project, json!({ "read_only": true })).await;
    let browser = Browser::start(375, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-xss", async {
            browser.open(&url).await;
            browser.click_button("Event log").await;
            let row = browser.wait_text("[data-testid=event-log]", image).await;
            assert!(row.contains("order.paid"), "{row}");
            browser.click("tr[data-event]").await;
            let payload = browser.wait_text("[data-testid=payload]", script).await;
            assert!(payload.contains(image), "{payload}");
            let width = browser
                .script("return document.documentElement.clientWidth;", json!([]))
                .await;
            assert_eq!(width, 375, "the page is laid out 375 px wide");
            let overflow = browser
                .script("return document.documentElement.scrollWidth;", json!([]))
                .await;
            assert_eq!(overflow, 375, "nothing wider than the screen");
            browser.keep("portal-event-375px").await;
            assert!(
                browser.find("main img").await.is_none(),
                "no element from a payload"
            );
            assert!(
                browser.find("main script").await.is_none(),
                "no script from a payload"
            );
            assert_eq!(browser.open_dialog().await, None, "no dialog opened");
            assert_eq!(browser.console_errors().await, Vec::<String>::new());
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_session_shows_and_may_change_nothing() {
    let host = Host::start("portal-read-only", HostConfig::default());
    let project = host.create_project("ro").await;
    let receiver = Receiver::ok();
    host.create_webhook(&project, json!({ "url": receiver.url("/ro") }))
        .await;
    let (url, token) = session(&host, &project, json!({ "read_only": true })).await;
    let hooks = format!("/projects/{}/integrations/webhooks", project.id);
    let browser = Browser::start(1100, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-read-only", async {
            browser.open(&url).await;
            browser.wait_text("#badge", "read only").await;
            browser.click("tr[data-endpoint]").await;
            browser.wait("[data-testid=delivery-log]").await;
            for label in [
                "Add endpoint",
                "Edit",
                "Disable",
                "Rotate secret",
                "Send test event",
                "Delete",
                "Recover failed",
            ] {
                assert!(
                    browser.button(label).await.is_none(),
                    "no `{label}` for a read-only session"
                );
            }
        })
        .await;
    let (status, listed) = host.get(&hooks, &token).await;
    assert_eq!((status, listed["data"].as_array().unwrap().len()), (200, 1));
    let (status, body) = host
        .post(&hooks, &token, json!({ "url": receiver.url("/more") }))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("read only"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_scoped_expire_and_are_revoked() {
    let host = Host::start("portal-scope", HostConfig::default());
    let a = host.create_project("a").await;
    let b = host.create_project("b").await;
    let (_, token_a) = session(&host, &a, json!({})).await;

    // Scoped to its project, and never a key, session, project or event.
    let (status, _) = host
        .get(
            &format!("/projects/{}/integrations/webhooks", b.id),
            &token_a,
        )
        .await;
    assert_eq!(status, 403, "a session of a cannot read b");
    for (path, body) in [
        (format!("/projects/{}/portal/sessions", a.id), json!({})),
        (
            format!("/projects/{}/keys", a.id),
            json!({ "scope": "manage" }),
        ),
        ("/projects".to_string(), json!({ "name": "mine" })),
        (
            format!("/projects/{}/events", a.id),
            json!({ "event": "order.paid", "payload": {} }),
        ),
    ] {
        let (status, answer) = host.post(&path, &token_a, body).await;
        assert_eq!(status, 403, "{path}: {answer}");
    }
    let (status, _) = host
        .get(&format!("/projects/{}/keys", a.id), &token_a)
        .await;
    assert_eq!(status, 403, "a session cannot list keys");

    // Listed, then revoked: refused at once.
    let sessions = format!("/projects/{}/portal/sessions", a.id);
    let (status, listed) = host.get(&sessions, &a.secret_key).await;
    assert_eq!(status, 200, "{listed}");
    let id = listed["data"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = host
        .call(
            reqwest::Method::DELETE,
            &format!("{sessions}/{id}"),
            Some(&a.secret_key),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = host.get("/portal/session", &token_a).await;
    assert_eq!(status, 401, "revoked");

    // Expired: the API says so, and so does the page.
    let (url, token) = session(&host, &a, json!({ "expires_in": "1s" })).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, body) = host.get("/portal/session", &token).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let browser = Browser::start(375, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-expired", async {
            browser.open(&url).await;
            browser.wait_text("main", "This session has ended").await;
        })
        .await;

    // Bad options name their field.
    for (options, field) in [
        (json!({ "expires_in": "8d" }), "expires_in"),
        (
            json!({ "logo_url": "http://insecure.example/logo.png" }),
            "logo_url",
        ),
        (json!({ "accent_color": "red" }), "accent_color"),
        (json!({ "product_name": "" }), "product_name"),
    ] {
        let (status, answer) = host.post(&sessions, &a.secret_key, options.clone()).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{options}: {answer}"
        );
    }
}

/// The page's policy: this origin's script and style only, framed by the
/// configured origins only (nobody by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_framed_only_by_the_configured_origins() {
    let policy = |host: &Host| {
        let url = host.url("/portal/");
        let http = host.http.clone();
        async move {
            let page = http.get(url).send().await.unwrap();
            assert_eq!(page.status().as_u16(), 200);
            let csp = page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            assert!(
                csp.contains("script-src 'self';") && !csp.contains("unsafe"),
                "{csp}"
            );
            assert_eq!(page.headers()["x-content-type-options"], "nosniff");
            csp
        }
    };
    let closed = Host::start("portal-csp", HostConfig::default());
    assert!(policy(&closed).await.ends_with("frame-ancestors 'none'"));
    let open = Host::start(
        "portal-csp-app",
        HostConfig {
            extra: "[portal]\nframe_ancestors = [\"https://app.example.com\"]\n".into(),
            ..HostConfig::default()
        },
    );
    assert!(policy(&open)
        .await
        .ends_with("frame-ancestors https://app.example.com"));
}

/// The operator dashboard, behind the admin token typed into it, lists
/// every project with its volume; a wrong token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_dashboard_lists_projects_with_their_volumes() {
    let host = Host::start("portal-dashboard", HostConfig::default());
    let receiver = Receiver::ok();
    let busy = host.create_project("busy").await;
    let quiet = host.create_project("quiet").await;
    for project in [&busy, &quiet] {
        host.create_webhook(project, json!({ "url": receiver.url("/d") }))
            .await;
    }
    for n in 0..3 {
        send(&host, &busy, json!({ "n": n })).await;
    }
    send(&host, &quiet, json!({ "n": 9 })).await;
    receiver.wait_for(4, LONG).await;
    let browser = Browser::start(1100, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("dashboard", async {
            browser.open(&host.url("/dashboard/")).await;
            browser.fill("#admin-token", "not-the-token").await;
            browser.click_button("Open dashboard").await;
            browser.wait_text("main", "not the admin token").await;
            browser
                .fill("#admin-token", common::host::ADMIN_TOKEN)
                .await;
            browser.click_button("Open dashboard").await;
            let volume = |project: &str| format!("tr[data-project={project}] [data-testid=volume]");
            assert_eq!(browser.wait_text(&volume("busy"), "3").await, "3");
            assert_eq!(browser.wait_text(&volume("quiet"), "1").await, "1");
            browser.keep("dashboard").await;
            let errors = browser.console_errors().await;
            assert!(
                errors.iter().all(|e| e.contains("401")),
                "only the refused token's 401s: {errors:?}"
            );
        })
        .await;
}
