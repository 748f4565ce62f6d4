//! Stripe: events signed by Stripe's Python library, rolled secrets, the
//! timestamp tolerance both ways.

use super::signers::stripe_header;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_events_signed_by_stripes_library_are_verified_routed_and_deduplicated() {
    const SECRET: &str = "whsec_hookmeshTestSecret0123";
    const ROLLED: &str = "whsec_hookmeshRolledSecret4567";
    let host = Host::start("inbound-stripe", HostConfig::default());
    let project = host.create_project("pay").await;
    let configured = configure(
        &host,
        &project,
        "stripe",
        json!({ "webhook_secret": SECRET }),
    )
    .await;
    assert_eq!(configured["config"]["webhook_secret"], "********");
    let receiver = subscriber(&host, &project, &["stripe.payment_intent.*"]).await;

    let event = |id: &str| {
        format!(
            r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","type":"payment_intent.succeeded","data":{{"object":{{"id":"pi_3MtwBwLkdIwHu7ix28a3tqPa","object":"payment_intent","amount":2000,"currency":"usd"}}}}}}"#
        )
    };
    let send = |body: String, header: Option<String>| {
        let (host, project) = (&host, &project);
        async move {
            match header {
                Some(h) => {
                    inbound(
                        host,
                        project,
                        "stripe",
                        &[("Stripe-Signature", h.as_str())],
                        body,
                    )
                    .await
                }
                None => inbound(host, project, "stripe", &[], body).await,
            }
        }
    };

    let body = event("evt_1");
    let answer = send(body.clone(), Some(stripe_header(&body, SECRET, now_secs()))).await;
    assert_stored(&answer, "signed by stripe");
    assert_delivered(&receiver, 1, "stripe.payment_intent.succeeded", &body).await;
    let envelope = receiver.received()[0].json();
    assert_eq!(envelope["resource"], "payment_intent");
    assert_eq!(envelope["resource_id"], "pi_3MtwBwLkdIwHu7ix28a3tqPa");

    let other = event("evt_2");
    let now = now_secs();
    for (case, body, header) in [
        (
            "tampered body",
            other.replace("2000", "1"),
            Some(stripe_header(&other, SECRET, now)),
        ),
        (
            "wrong secret",
            other.clone(),
            Some(stripe_header(&other, "whsec_wrong", now)),
        ),
        ("missing header", other.clone(), None),
        (
            "stale timestamp",
            other.clone(),
            Some(stripe_header(&other, SECRET, now - 301)),
        ),
        (
            "far-future timestamp",
            other.clone(),
            Some(stripe_header(&other, SECRET, now + 400)),
        ),
    ] {
        assert_unauthorized(&send(body, header).await, "Stripe-Signature", case);
    }
    // While a secret rolls, Stripe sends one v1 per secret: any may match.
    let rolled = stripe_header(&other, ROLLED, now);
    let ours = stripe_header(&other, SECRET, now);
    let both = format!("{rolled},{}", ours.split_once(',').unwrap().1);
    let answer = send(other.clone(), Some(both)).await;
    assert_stored(
        &answer,
        "two v1 signatures, the second ours (evt_2 was never stored)",
    );
    assert_delivered(&receiver, 2, "stripe.payment_intent.succeeded", &other).await;

    let again = send(body.clone(), Some(stripe_header(&body, SECRET, now_secs()))).await;
    assert_duplicate(&again, "Stripe retried evt_1");

    let unreadable = r#"{"id":"evt_3","object":"event"}"#.to_string();
    let answer = send(
        unreadable.clone(),
        Some(stripe_header(&unreadable, SECRET, now)),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["field"], "body");

    // A longer tolerance is a setting.
    configure(
        &host,
        &project,
        "stripe",
        json!({ "tolerance_secs": "900" }),
    )
    .await;
    let late = event("evt_4");
    let answer = send(late.clone(), Some(stripe_header(&late, SECRET, now - 600))).await;
    assert_stored(&answer, "10 minutes old under a 900 s tolerance");
    tokio::time::sleep(SETTLE).await;
    receiver.wait_for(3, LONG).await;
    assert_eq!(
        receiver.count(),
        3,
        "evt_1 routed once, nothing from the refusals"
    );
}
