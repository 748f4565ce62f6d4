//! What every inbound route shares (the rate and body limits), how the
//! provider API, OpenAPI and `hookmesh plugin inspect` describe the new
//! sources and named instances.

use super::*;

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
    // One event a second, burst 1: back-to-back requests soon meet a 429
    // (a slow machine may refill one token between two of them).
    let mut stored = 0;
    let limited = loop {
        let answer = inbound(&host, &project, "hmac.monitor", &key, r#"{"n":1}"#).await;
        if answer.status != 200 {
            break answer;
        }
        stored += 1;
        assert!(stored < 5, "no 429 after {stored} requests at 1 event/s");
    };
    assert!(stored >= 1, "the first request is within the budget");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.body["error"], "rate_limited");
    let wait: u64 = limited.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");

    // Over the API's body limit (256 KiB by default): 413, nothing read.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024));
    let answer = inbound(&host, &project, "hmac.monitor", &key, big).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    receiver.wait_for(stored, LONG).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(receiver.count(), stored, "nothing from the 429 or the 413");
}

/// An inbound source cannot be an endpoint's provider: it cannot deliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_only_plugin_is_refused_as_an_endpoints_provider() {
    let host = Host::start("inbound-not-outbound", HostConfig::default());
    let project = host.create_project("refuse").await;
    let (status, error) = host
        .post(
            &format!("/projects/{}/integrations/webhooks", project.id),
            &project.secret_key,
            json!({ "url": "https://example.com/hook", "provider": "github" }),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "provider");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("cannot deliver"),
        "{error}"
    );
}

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
    let (_, listed) = host.get(&base, &project.secret_key).await;
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let at = names.iter().position(|n| *n == "hmac").unwrap();
    assert_eq!(
        names.get(at + 1),
        Some(&"hmac.uptime"),
        "a configured instance is listed after its plugin: {names:?}"
    );
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

#[test]
fn plugin_inspect_shows_each_new_manifest() {
    for name in ["github", "stripe", "shopify", "hmac"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookmesh"))
            .args(["plugin", "inspect"])
            .arg(common::plugin(name))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(manifest["name"], name);
        assert_eq!(manifest["capabilities"], json!(["inbound"]), "{name}");
        assert_eq!(manifest["abi_version"], "0.1.0", "{name}");
        let secret = manifest["config_fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["secret"] == true)
            .unwrap_or_else(|| panic!("{name} has a secret field: {manifest}"));
        assert!(
            secret["name"].as_str().unwrap().contains("secret"),
            "{name}: {secret}"
        );
    }
}
