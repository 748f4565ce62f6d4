//! The customer portal in a real browser (headless chromium over
//! WebDriver, see `common::browser`): a customer adds an endpoint with
//! their own secret, sends a test event with an edited payload and finds
//! it in the delivery log marked as a test with the receiver's answer,
//! reads an app event's delivery and answer, replays it and rotates
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
            // The test is in the delivery log, marked, with the answer.
            browser.click_button("Open in the log").await;
            browser
                .wait_text("[data-testid=delivery-status]", "succeeded")
                .await;
            browser.wait_text("[data-testid=test-tag]", "test").await;
            browser
                .wait_text("[data-testid=response-excerpt]", RECEIVER_ANSWER)
                .await;
            browser.keep("portal-test-in-log").await;

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

/// The value of the form field matching `css`.
async fn value_of(browser: &Browser, css: &str) -> Value {
    browser.wait(css).await;
    browser
        .script(
            "return document.querySelector(arguments[0]).value;",
            json!([css]),
        )
        .await
}

/// Whether `secret` appears anywhere in the page: its markup or any
/// field's value.
async fn page_holds(browser: &Browser, secret: &str) -> bool {
    browser
        .script(
            "const s = arguments[0]; \
             return document.documentElement.outerHTML.includes(s) || \
               [...document.querySelectorAll('input, textarea, select')].some((i) => i.value.includes(s));",
            json!([secret]),
        )
        .await
        == json!(true)
}

/// A url_verification request signed for Slack with `secret`: the status
/// hookmesh answers.
async fn slack_handshake(host: &Host, project: &TestProject, secret: &str) -> u16 {
    let body = r#"{"token":"x","challenge":"portal-challenge","type":"url_verification"}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    host.http
        .post(host.url(&format!("/inbound/{}/slack", project.id)))
        .header("content-type", "application/json")
        .header("X-Slack-Request-Timestamp", now.to_string())
        .header(
            "X-Slack-Signature",
            crate::provider_plugins::slack_signature(secret, now, body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Provider settings from the plugin's manifest: a customer configures
/// Slack in the portal (a text template and a channel; a signing secret,
/// write-only), the secret is never rendered back and works (a signed
/// inbound request passes), the saved values show after a reload, and a
/// Slack endpoint made in the endpoint form delivers the project's
/// template to a loopback receiver, then its own from the manifest's
/// fields; a read-only session sees the form without save controls and the
/// API refuses its PUT and toggle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_configures_a_provider_from_its_manifest() {
    const SIGNING_SECRET: &str = "portal-slack-signing-secret-8f74";
    const TEMPLATE: &str = "Order {{ payload.order }} paid";
    let host = Host::start("portal-providers", HostConfig::default());
    let project = host.create_project("prov").await;
    let slack = Receiver::start(|_, _| Reply {
        body: "ok".into(),
        ..Reply::status(200)
    });
    let settings = format!("/projects/{}/integrations/providers/slack", project.id);
    let (url, _) = session(&host, &project, json!({})).await;
    let browser = Browser::start(1100, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-providers", async {
            browser.open(&url).await;
            browser.click_button("Providers").await;
            for name in ["slack", "discord", "webhook"] {
                browser.wait(&format!("tr[data-provider={name}]")).await;
            }
            browser.keep("portal-providers").await;
            browser.click("tr[data-provider=slack]").await;
            browser.wait("[data-testid=provider-form]").await;
            let state = "[data-field=signing_secret] [data-testid=secret-state]";
            assert_eq!(browser.wait_text(state, "not set").await, "not set");
            assert_eq!(
                browser
                    .script(
                        "return document.querySelector('#pf-signing_secret').type;",
                        json!([])
                    )
                    .await,
                "password",
                "a secret is typed into a password field"
            );

            browser.fill("#pf-signing_secret", SIGNING_SECRET).await;
            browser.fill("#pf-channel", "#orders").await;
            browser.fill("#pf-text", TEMPLATE).await;
            browser.click_button("Save settings").await;
            browser.wait_text(state, "set").await;
            browser
                .wait_text("[data-testid=provider-status]", "enabled")
                .await;
            assert_eq!(value_of(&browser, "#pf-signing_secret").await, "");
            assert!(
                !page_holds(&browser, SIGNING_SECRET).await,
                "the secret is never rendered back"
            );
            browser
                .script(
                    "window.scrollTo(0, 0); document.getElementById('toast').hidden = true;",
                    json!([]),
                )
                .await;
            browser.keep("portal-provider-slack").await;

            // Stored as typed: the non-secret values shown, the secret only
            // as set, and it verifies Slack's requests.
            let (status, shown) = host.get(&settings, &project.secret_key).await;
            assert_eq!(status, 200, "{shown}");
            assert_eq!(shown["config"]["channel"], "#orders");
            assert_eq!(shown["config"]["text"], TEMPLATE);
            assert_eq!(shown["secrets_set"], json!(["signing_secret"]));
            assert!(!shown.to_string().contains(SIGNING_SECRET), "{shown}");
            assert_eq!(slack_handshake(&host, &project, SIGNING_SECRET).await, 200);
            assert_eq!(
                slack_handshake(&host, &project, "another-secret").await,
                401
            );

            // After a reload: the saved values, the secret still only "set";
            // an empty secret input kept it.
            browser.open(&url).await;
            browser.click_button("Providers").await;
            browser.click("tr[data-provider=slack]").await;
            assert_eq!(value_of(&browser, "#pf-channel").await, "#orders");
            assert_eq!(value_of(&browser, "#pf-text").await, TEMPLATE);
            assert_eq!(browser.wait_text(state, "set").await, "set");
            assert!(!page_holds(&browser, SIGNING_SECRET).await);
            browser.fill("#pf-channel", "#sales").await;
            browser.click_button("Save settings").await;
            browser.wait_text("#toast", "Saved").await;
            let (_, shown) = host.get(&settings, &project.secret_key).await;
            assert_eq!(shown["config"]["channel"], "#sales");
            assert_eq!(shown["secrets_set"], json!(["signing_secret"]), "kept");
            assert_eq!(slack_handshake(&host, &project, SIGNING_SECRET).await, 200);

            // Disable, enable.
            browser.click_button("Disable").await;
            browser
                .wait_text("[data-testid=provider-status]", "disabled")
                .await;
            let (_, shown) = host.get(&settings, &project.secret_key).await;
            assert_eq!(shown["enabled"], false);
            browser.click_button("Enable").await;
            browser
                .wait_text("[data-testid=provider-status]", "enabled")
                .await;

            // A pattern field (the webhook's `header.<Name>`): a row to add
            // a key, then one per key set, each removable.
            let webhook = format!("/projects/{}/integrations/providers/webhook", project.id);
            browser.click_button("← Providers").await;
            browser.click("tr[data-provider=webhook]").await;
            let new_row = "[data-field='header.<Name>'] [data-new='header.']";
            browser
                .fill(&format!("{new_row} input:nth-of-type(1)"), "X-Tenant")
                .await;
            browser
                .fill(&format!("{new_row} input:nth-of-type(2)"), "acme")
                .await;
            browser.click_button("Save settings").await;
            let row = "[data-key='header.X-Tenant']";
            browser.wait(row).await;
            assert_eq!(
                value_of(&browser, &format!("{row} input[type=text]")).await,
                "acme"
            );
            let (_, shown) = host.get(&webhook, &project.secret_key).await;
            assert_eq!(shown["config"], json!({ "header.X-Tenant": "acme" }));
            browser.click(&format!("{row} input[type=checkbox]")).await;
            browser.click_button("Save settings").await;
            host.eventually(LONG, || async {
                // Gone from the page once saved (the page shows the answer).
                browser.find(row).await.is_none().then_some(())
            })
            .await;
            let (_, shown) = host.get(&webhook, &project.secret_key).await;
            assert_eq!(shown["config"], json!({}), "removed");

            // A Slack endpoint from the endpoint form: its fields come from
            // the manifest (never the secret ones); it posts the project's
            // template to the (loopback) incoming-webhook URL.
            browser.click_button("Endpoints").await;
            browser.click_button("Add endpoint").await;
            browser.select("#ep-provider", "slack").await;
            browser
                .wait("[data-testid=endpoint-config] [data-field=text]")
                .await;
            assert!(browser
                .find("[data-testid=endpoint-config] [data-field=signing_secret]")
                .await
                .is_none());
            browser
                .fill("#ep-url", &slack.url("/services/T000/B000/XXXX"))
                .await;
            browser.click_button("Add endpoint").await;
            browser.click_button("Open endpoint").await;
            browser.wait_text("main", "provider slack").await;
            send(&host, &project, json!({ "order": 41 })).await;
            let got = slack.wait_for(1, LONG).await;
            assert_eq!(got[0].json()["text"], "Order 41 paid");

            // The endpoint's own text overrides the project's.
            browser.click_button("Edit").await;
            browser
                .fill("#ep-config-text", "Endpoint: {{ payload.order }}")
                .await;
            browser.click_button("Save changes").await;
            browser.wait_text("#toast", "Saved").await;
            send(&host, &project, json!({ "order": 42 })).await;
            let got = slack.wait_for(2, LONG).await;
            assert_eq!(got[1].json()["text"], "Endpoint: 42");
            assert_eq!(browser.console_errors().await, Vec::<String>::new());
        })
        .await;
    drop(browser);

    // Read only, on a phone: the form without save controls; the API
    // refuses the session's writes.
    let (url, token) = session(&host, &project, json!({ "read_only": true })).await;
    let browser = Browser::start(375, &host.dir.join("screenshots")).await;
    browser
        .screenshot_on_panic("portal-providers-read-only", async {
            browser.open(&url).await;
            browser.wait_text("#badge", "read only").await;
            browser.click_button("Providers").await;
            browser.click("tr[data-provider=slack]").await;
            browser.wait("[data-testid=provider-form]").await;
            assert_eq!(value_of(&browser, "#pf-channel").await, "#sales");
            assert_eq!(
                browser
                    .script(
                        "return document.querySelector('#pf-channel').disabled;",
                        json!([])
                    )
                    .await,
                true
            );
            let state = "[data-field=signing_secret] [data-testid=secret-state]";
            assert_eq!(browser.wait_text(state, "set").await, "set");
            assert!(browser.find("#pf-signing_secret").await.is_none());
            for label in ["Save settings", "Disable", "Enable"] {
                assert!(
                    browser.button(label).await.is_none(),
                    "no `{label}` for a read-only session"
                );
            }
            let overflow = browser
                .script("return document.documentElement.scrollWidth;", json!([]))
                .await;
            assert_eq!(overflow, 375, "nothing wider than the screen");
            browser.script("window.scrollTo(0, 0);", json!([])).await;
            browser.keep("portal-provider-375px").await;
        })
        .await;
    drop(browser);
    let (status, _) = host.get(&settings, &token).await;
    assert_eq!(status, 200, "a read-only session reads the settings");
    let (status, body) = host
        .call(
            reqwest::Method::PUT,
            &settings,
            Some(&token),
            Some(&json!({ "config": { "channel": "#mine" } })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = host
        .post(&format!("{settings}/toggle"), &token, json!({}))
        .await;
    assert_eq!(status, 403);
    let (_, shown) = host.get(&settings, &project.secret_key).await;
    assert_eq!(
        (&shown["config"]["channel"], &shown["enabled"]),
        (&json!("#sales"), &json!(true))
    );
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
/// every project with its volume, dead letters and disabled endpoints; a
/// wrong token is refused.
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
    // A project whose endpoint answers 410 Gone: a dead letter at once.
    let broken = host.create_project("broken").await;
    let gone = Receiver::start(|_, _| Reply::status(410));
    host.create_webhook(&broken, json!({ "url": gone.url("/d") }))
        .await;
    send(&host, &broken, json!({ "n": 10 })).await;
    host.eventually(LONG, || async {
        let (_, stats) = host
            .get(
                &format!("/projects/{}/stats", broken.id),
                &broken.secret_key,
            )
            .await;
        (stats["total"]["failures"] == 1).then_some(())
    })
    .await;
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
            let dead =
                |project: &str| format!("tr[data-project={project}] [data-testid=dead-letters]");
            assert_eq!(browser.wait_text(&dead("broken"), "1").await, "1");
            assert_eq!(browser.wait_text(&dead("busy"), "0").await, "0");
            browser
                .wait_text("[data-testid=summary]", "1 dead letter (24h)")
                .await;
            browser
                .wait_text("tr[data-project=broken]", "1 disabled")
                .await;
            browser.keep("dashboard").await;
            let errors = browser.console_errors().await;
            assert!(
                errors.iter().all(|e| e.contains("401")),
                "only the refused token's 401s: {errors:?}"
            );
        })
        .await;
}
