//! GitHub: deliveries signed by `@octokit/webhooks-methods`, and GitHub's
//! documented signature vector through the host.

use super::signers::octokit_sign;
use super::*;

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

    // The event log shows each event once, with its source; the catalogue
    // lists the types that arrived.
    let log = format!("/projects/{}/events?event=github.*", project.id);
    let (status, page) = host.get(&log, &project.secret_key).await;
    assert_eq!(status, 200, "{page}");
    let logged: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].clone(), e["source"].clone()))
        .collect();
    let source = |id: &str| json!({ "integration": "github", "provider_event_id": id });
    assert_eq!(
        logged,
        [
            (json!("github.issues.opened"), source("d-1")),
            (json!("github.ping"), source("d-ping")),
        ],
        "{page}"
    );
    let catalogue = format!("/projects/{}/integrations/events", project.id);
    let (_, listed) = host.get(&catalogue, &project.secret_key).await;
    assert!(
        listed.to_string().contains("\"github.issues.opened\""),
        "the catalogue lists the arrived type: {listed}"
    );
}
