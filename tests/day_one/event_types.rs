//! Event types: open and strict projects, declared types with
//! schema-checked payloads (API and TOML), and the README tour.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_strict_event_types() {
    let host = Host::start("day-one-types", HostConfig::default());
    let p = project(&host, "types").await;
    let events = format!("/projects/{}/events", p.id);
    let catalogue = format!("/projects/{}/integrations/events", p.id);
    let lesson = || json!({ "event": "lesson.completed", "payload": {} });
    // Open: any well-formed type, listed once seen; subscriptions too.
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 202);
    let (status, body) = host
        .post(
            &events,
            &p.publishable_key,
            json!({ "event": "Not.Valid", "payload": {} }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "{body}"
    );
    let (_, listed) = host.get(&catalogue, &p.publishable_key).await;
    assert_eq!(listed["seen"], json!(["lesson.completed"]), "{listed}");
    assert_eq!(listed["strict_event_types"], false);
    let razorpay = listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "razorpay");
    let razorpay = razorpay.expect("razorpay is an inbound provider");
    assert!(razorpay["types"]
        .as_array()
        .unwrap()
        .contains(&json!("razorpay.payment.captured")));
    assert!(listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pattern"] == "github.*"));
    // Strict: only the catalogue's types (seen ones are not declared).
    let project_path = format!("/projects/{}", p.id);
    let (status, body) = put(
        &host,
        &project_path,
        &p.secret_key,
        json!({ "strict_event_types": true }),
    )
    .await;
    assert_eq!(
        (status, &body["strict_event_types"]),
        (200, &json!(true)),
        "{body}"
    );
    let (status, body) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("strict_event_types"),
        "{body}"
    );
    let (status, body) = host
        .post(
            &hooks(&p),
            &p.secret_key,
            json!({ "url": "http://127.0.0.1:9/", "events": ["lesson.started"] }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("events[0]")),
        "{body}"
    );
    // Declare it: accepted; its description is in the catalogue; remove it: refused again.
    let one = format!("{catalogue}/lesson.completed");
    let (status, body) = put(
        &host,
        &one,
        &p.secret_key,
        json!({ "description": "A lesson was completed" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 202);
    let (_, listed) = host.get(&catalogue, &p.publishable_key).await;
    assert_eq!(listed["custom"], json!(["lesson.completed"]));
    assert_eq!(
        listed["seen"],
        json!([]),
        "a declared type leaves the seen list"
    );
    let (status, shown) = host.get(&one, &p.publishable_key).await;
    assert_eq!(
        (status, &shown["description"]),
        (200, &json!("A lesson was completed"))
    );
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = host.post(&events, &p.publishable_key, lesson()).await;
    assert_eq!(status, 400);
    let (status, _) = host
        .call(Method::DELETE, &one, Some(&p.secret_key), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = host
        .call(
            Method::DELETE,
            &format!("{catalogue}/user.created"),
            Some(&p.secret_key),
            None,
        )
        .await;
    assert_eq!(status, 404, "built-in types stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_schemas_check_payloads() {
    let host = Host::start("day-one-schemas", HostConfig::default());
    let p = project(&host, "schemas").await;
    let events = format!("/projects/{}/events", p.id);
    let one = format!("/projects/{}/integrations/events/order.completed", p.id);
    let schema = json!({
        "type": "object",
        "required": ["order_id", "items"],
        "properties": {
            "order_id": { "type": "string", "minLength": 1 },
            "email": { "type": "string", "format": "email" },
            "items": { "type": "array", "items": { "type": "object", "required": ["sku"] } }
        }
    });
    for (bad, field) in [
        (json!({ "schema": { "type": "no-such-type" } }), "schema"),
        (json!({ "schema": "a string" }), "schema"),
        (
            json!({ "schema": { "$ref": "https://schemas.example/order.json" } }),
            "schema",
        ),
        (json!({ "description": "a\u{7}b" }), "description"),
    ] {
        let (status, body) = put(&host, &one, &p.secret_key, bad).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let (status, body) = put(&host, &one, &p.secret_key, json!({ "schema": schema })).await;
    assert_eq!(status, 201, "{body}");
    let order = |payload: Value| json!({ "event": "order.completed", "payload": payload });
    let good = json!({ "order_id": "o1", "email": "a@b.example", "items": [{ "sku": "s1" }] });
    let (status, body) = host
        .post(&events, &p.publishable_key, order(good.clone()))
        .await;
    assert_eq!(status, 202, "{body}");
    for (payload, field) in [
        (json!({ "items": [] }), "payload"),
        (json!({ "order_id": "", "items": [] }), "payload.order_id"),
        (
            json!({ "order_id": "o1", "email": "nope", "items": [] }),
            "payload.email",
        ),
        (
            json!({ "order_id": "o1", "items": [{ "sku": "s" }, {}] }),
            "payload.items[1]",
        ),
    ] {
        let (status, body) = host.post(&events, &p.publishable_key, order(payload)).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("schema of `order.completed`"),
            "{body}"
        );
    }
    // A test event of the type meets the schema too.
    let receiver = Receiver::ok();
    let (id, _) = host
        .create_webhook(
            &p,
            json!({ "url": receiver.url("/h"), "events": ["order.*"] }),
        )
        .await;
    let test = format!("{}/{id}/test", hooks(&p));
    let (status, body) = host
        .post(&test, &p.secret_key, order(json!({ "order_id": "o1" })))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("payload")),
        "{body}"
    );
    let (status, body) = host.post(&test, &p.secret_key, order(good.clone())).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    let bulk = host
        .post(
            &format!("{events}/bulk"),
            &p.secret_key,
            json!({ "events": [order(good), order(json!({ "order_id": 5, "items": [] }))] }),
        )
        .await;
    assert_eq!(bulk.0, 207, "{}", bulk.1);
    assert_eq!(
        bulk.1["data"][1]["field"], "events[1].payload.order_id",
        "{}",
        bulk.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_types_declared_in_toml() {
    const SK: &str = "hm_sk_dayone000000000000000000000000000000";
    let extra = format!(
        "[[projects]]\nid = \"toml\"\nsecret_key = \"{SK}\"\nstrict_event_types = true\n\
         custom_event_types = [\"order.paid\"]\n\
         [[projects.event_types]]\nname = \"user.signup\"\ndescription = \"Signed up\"\n\
         schema = {{ type = \"object\", required = [\"email\"] }}\n\
         [[projects.event_types]]\nname = \"lesson.completed\"\nschema = '{{\"type\": \"object\", \"required\": [\"lesson_id\"]}}'\n"
    );
    let host = Host::start(
        "day-one-toml",
        HostConfig {
            extra,
            ..HostConfig::default()
        },
    );
    let events = "/projects/toml/events";
    let send = |event: &str, payload: Value| {
        host.post(events, SK, json!({ "event": event, "payload": payload }))
    };
    assert_eq!(send("order.paid", json!({})).await.0, 202);
    assert_eq!(
        send("user.signup", json!({ "email": "a@b.example" }))
            .await
            .0,
        202
    );
    let (status, body) = send("user.signup", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("payload")),
        "{body}"
    );
    let (status, body) = send("lesson.completed", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("payload")),
        "{body}"
    );
    let (status, body) = send("invoice.sent", json!({})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("event")),
        "strict from the TOML: {body}"
    );
    let (_, listed) = host.get("/projects/toml/integrations/events", SK).await;
    assert_eq!(
        listed["custom"],
        json!(["order.paid", "user.signup", "lesson.completed"]),
        "{listed}"
    );
}

/// The README's tour blocks (Quick tour, Providers, Inbound sources), in
/// order, as one script.
fn readme_tour() -> String {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let mut script = String::new();
    for heading in ["## Quick tour", "## Providers", "## Inbound sources"] {
        let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("{heading}"))..];
        let start = section.find("```sh\n").unwrap() + "```sh\n".len();
        let end = start + section[start..].find("```").unwrap();
        script.push_str(&section[start..end]);
    }
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tour_works_command_by_command() {
    let host = Host::start("day-one-readme", HostConfig::default());
    let dir = host.dir.join("tour");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/admin-token"), ADMIN_TOKEN).unwrap();
    // Every curl must answer 2xx; the host listens elsewhere than 8080.
    let guard = "set -euo pipefail\n\
        curl() {\n  local body status; body=$(mktemp)\n\
          status=$(command curl -sS -o \"$body\" -w '%{http_code}' \"$@\") || return 1\n\
          cat \"$body\"; echo\n\
          case \"$status\" in 2??) ;; *) echo \"HTTP $status from: curl $*\" >&2; return 1;; esac\n}\n";
    let tour = readme_tour().replace("localhost:8080", &host.addr);
    assert!(tour.matches("curl ").count() >= 8, "{tour}");
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("{guard}{tour}"))
        .current_dir(&dir)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "the README tour failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, listed) = host
        .get("/projects/acme/integrations/events", ADMIN_TOKEN)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["seen"]
            .as_array()
            .unwrap()
            .contains(&json!("user.signup")),
        "{listed}"
    );
    assert!(
        listed["custom"]
            .as_array()
            .unwrap()
            .contains(&json!("lesson.completed")),
        "{listed}"
    );
}
