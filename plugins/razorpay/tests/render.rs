//! Razorpay outbound: actions, the `map.` field mapping, and classify.

use hookmesh_plugin_razorpay::Razorpay;
use hookmesh_sdk::testing::{context, event as test_event, response};
use hookmesh_sdk::{Context, Event, Failure, HttpRequest, Outcome, Plugin, PluginError};
use serde_json::{json, Value};

fn event(payload: Value) -> Event {
    test_event("order.created")
        .id("evt_9")
        .resource("order", "ord_7")
        .payload(payload)
        .created_at(1)
        .build()
}

fn ctx(config: &[(&str, &str)]) -> Context {
    context()
        .now_ms(2)
        .delivery_id("dlv_1")
        .endpoint("https://api.razorpay.com/v1")
        .configs(&[("key_id", "rzp_test_1"), ("key_secret", "s3cret")])
        .configs(config)
        .build()
}

fn render(payload: Value, config: &[(&str, &str)]) -> Result<HttpRequest, PluginError> {
    let mut requests = <Razorpay as Plugin>::render(event(payload), ctx(config))?;
    assert_eq!(requests.len(), 1);
    Ok(requests.remove(0))
}

fn body(request: &HttpRequest) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

const ORDER: &str = r#"{"order_id": "A-1", "total_cents": 4999, "total": 49.99,
    "customer": {"name": "Gaurav Kumar", "email": "gaurav@example.com", "phone": null},
    "metadata": {"plan": "pro"}}"#;

fn order() -> Value {
    serde_json::from_str(ORDER).expect("order JSON")
}

#[test]
fn payment_links_map_fields_with_types() {
    let request = render(
        order(),
        &[
            ("action", "create_payment_link"),
            ("map.amount", "{{ payload.total_cents }}"),
            ("map.currency", "INR"),
            ("map.description", "Order {{ payload.order_id }}"),
            ("map.customer.name", "{{ payload.customer.name }}"),
            ("map.customer.email", "{{ payload.customer.email }}"),
            ("map.customer.contact", "{{ payload.customer.phone }}"),
            ("map.notify.email", "true"),
            ("map.notes", "{{ payload.metadata }}"),
            ("map.reference_id", "{{ id }}"),
        ],
    )
    .unwrap();
    assert_eq!(request.url, "https://api.razorpay.com/v1/payment_links");
    let auth = request
        .headers
        .iter()
        .find(|h| h.name == "authorization")
        .unwrap();
    assert_eq!(auth.value, "Basic cnpwX3Rlc3RfMTpzM2NyZXQ=");
    assert_eq!(
        body(&request),
        json!({
            "amount": 4999,
            "currency": "INR",
            "description": "Order A-1",
            "customer": {"name": "Gaurav Kumar", "email": "gaurav@example.com"},
            "notify": {"email": true},
            "notes": {"plan": "pro"},
            "reference_id": "evt_9",
        })
    );
}

#[test]
fn amounts_must_be_whole_numbers() {
    let link = |amount: &str| {
        render(
            order(),
            &[("action", "create_payment_link"), ("map.amount", amount)],
        )
    };
    let amount = |amount: &str| body(&link(amount).unwrap())["amount"].clone();
    assert_eq!(
        amount("{{ (payload.total * 100) | round | int }}"),
        json!(4999)
    );
    assert_eq!(amount("{{ payload.total_cents * 1.0 }}"), json!(4999));
    assert_eq!(amount("5000"), json!(5000));
    match link("{{ payload.total }}") {
        Err(PluginError::InvalidEvent(m)) => {
            assert!(m.contains("`map.amount` must be a whole number"), "{m}");
            assert!(m.contains("49.99"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(link("lots"), Err(PluginError::InvalidEvent(_))));
}

#[test]
fn payment_links_need_an_amount() {
    match render(order(), &[("action", "create_payment_link")]) {
        Err(PluginError::InvalidConfig(m)) => {
            assert_eq!(m, "`map.amount` is required for create_payment_link")
        }
        other => panic!("{other:?}"),
    }
    match render(
        order(),
        &[
            ("action", "create_payment_link"),
            ("map.amount", "{{ payload.nope }}"),
        ],
    ) {
        Err(PluginError::InvalidEvent(m)) => assert!(m.contains("rendered nothing"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn customers_are_created_idempotently() {
    let request = render(
        order(),
        &[
            ("action", "create_customer"),
            ("map.name", "{{ payload.customer.name }}"),
            ("map.email", "{{ payload.customer.email }}"),
            ("map.contact", "{{ payload.customer.phone }}"),
        ],
    )
    .unwrap();
    assert_eq!(request.url, "https://api.razorpay.com/v1/customers");
    assert_eq!(
        body(&request),
        json!({"name": "Gaurav Kumar", "email": "gaurav@example.com", "fail_existing": "0"})
    );
}

#[test]
fn config_errors_name_the_field() {
    let expect_config = |result: Result<HttpRequest, PluginError>, needle: &str| match result {
        Err(PluginError::InvalidConfig(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected a config error about {needle}, got {other:?}"),
    };
    expect_config(render(order(), &[]), "`action` is required");
    expect_config(
        render(order(), &[("action", "refund")]),
        "`action` must be one of",
    );
    expect_config(
        render(order(), &[("action", "create_customer"), ("map.", "x")]),
        "`map.` is not a valid field path",
    );
    expect_config(
        render(order(), &[("action", "create_customer"), ("map.a..b", "x")]),
        "`map.a..b`",
    );
    expect_config(
        render(
            order(),
            &[
                ("action", "create_customer"),
                ("map.notes", "x"),
                ("map.notes.a", "y"),
            ],
        ),
        "conflicts",
    );
    expect_config(
        render(
            order(),
            &[
                ("action", "create_customer"),
                ("map.name", "{{ payload.x + }}"),
            ],
        ),
        "`map.name` is not a valid template",
    );
    let mut context = ctx(&[("action", "create_customer")]);
    context.config.retain(|e| e.key != "key_secret");
    expect_config(
        <Razorpay as Plugin>::render(event(order()), context).map(|mut r| r.remove(0)),
        "`key_secret` is required",
    );
}

fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> Outcome {
    let answer = headers
        .iter()
        .fold(response(status), |r, (name, value)| r.header(name, value))
        .body(body)
        .build();
    <Razorpay as Plugin>::classify(answer, ctx(&[]))
}

#[test]
fn classify_uses_razorpay_error_descriptions() {
    assert!(matches!(
        answer(200, r#"{"id":"plink_1"}"#, &[]),
        Outcome::Success
    ));
    let body = r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The amount must be atleast INR 1.00","field":"amount","source":"business","reason":"input_validation_failed"}}"#;
    match answer(400, body, &[]) {
        Outcome::Fail(Failure { reason, disable_endpoint: false }) => assert_eq!(
            reason,
            "razorpay answered 400: BAD_REQUEST_ERROR: The amount must be atleast INR 1.00 (field `amount`)"
        ),
        other => panic!("{other:?}"),
    }
    let body = r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"Authentication failed"}}"#;
    match answer(401, body, &[]) {
        Outcome::Fail(f) => assert!(
            f.reason.ends_with("(check `key_id` and `key_secret`)"),
            "{}",
            f.reason
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(answer(404, "<html>", &[]), Outcome::Fail(_)));
}

#[test]
fn classify_retries_rate_limits_and_server_errors() {
    let body = r#"{"error":{"code":"SERVER_ERROR","description":"We are facing some trouble"}}"#;
    assert!(matches!(answer(500, body, &[]), Outcome::Retry(None)));
    assert!(matches!(
        answer(429, "", &[("Retry-After", "2")]),
        Outcome::Retry(Some(2000))
    ));
    assert!(matches!(answer(503, "", &[]), Outcome::Retry(None)));
}
