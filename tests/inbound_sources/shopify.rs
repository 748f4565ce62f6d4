//! Shopify: webhooks signed as Shopify documents it, with Python's `hmac`.

use super::signers::python_hmac;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_webhooks_signed_as_shopify_documents_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "shpss_hookmesh_app_secret";
    let host = Host::start("inbound-shopify", HostConfig::default());
    let project = host.create_project("shop").await;
    configure(
        &host,
        &project,
        "shopify",
        json!({ "webhook_secret": SECRET }),
    )
    .await;
    let receiver = subscriber(&host, &project, &["shopify.orders.create"]).await;

    let order = r#"{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00","line_items":[{"title":"IPod Nano - 8GB","quantity":1}]}"#;
    let good = python_hmac(SECRET, order, "sha256", "base64");
    let send = |body: String, signature: Option<String>, webhook_id: &'static str| {
        let (host, project) = (&host, &project);
        async move {
            let mut headers = vec![
                ("X-Shopify-Topic", "orders/create".to_string()),
                (
                    "X-Shopify-Shop-Domain",
                    "hookmesh-test.myshopify.com".to_string(),
                ),
                ("X-Shopify-Webhook-Id", webhook_id.to_string()),
            ];
            if let Some(signature) = signature {
                headers.push(("X-Shopify-Hmac-Sha256", signature));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            inbound(host, project, "shopify", &headers, body).await
        }
    };
    for (case, body, signature) in [
        (
            "tampered body",
            order.replace("403.00", "0.01"),
            Some(good.clone()),
        ),
        (
            "wrong secret",
            order.to_string(),
            Some(python_hmac("shpss_other", order, "sha256", "base64")),
        ),
        ("missing header", order.to_string(), None),
    ] {
        assert_unauthorized(
            &send(body, signature, "w-1").await,
            "X-Shopify-Hmac-Sha256",
            case,
        );
    }
    let answer = send(order.into(), Some(good.clone()), "w-1").await;
    assert_stored(
        &answer,
        "signed as Shopify documents, after refusals with its id",
    );
    assert_delivered(&receiver, 1, "shopify.orders.create", order).await;
    assert_eq!(
        receiver.received()[0].json()["resource_id"],
        "820982911946154508"
    );
    assert_duplicate(
        &send(order.into(), Some(good), "w-1").await,
        "Shopify retried",
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        receiver.count(),
        1,
        "a repeated X-Shopify-Webhook-Id is routed once"
    );
}
