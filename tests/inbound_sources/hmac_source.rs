//! The configurable `hmac` source as named instances: hex with a prefix,
//! base64 without, timestamp-signed with a tolerance, API key only.

use super::signers::python_hmac;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurable_hmac_sources_are_named_instances_with_their_own_secrets() {
    let host = Host::start("inbound-hmac", HostConfig::default());
    let project = host.create_project("ops").await;
    // Hex with a prefix; type and id from the body.
    configure(&host, &project, "hmac.uptime", json!({
        "secret": "uptime-s3cret", "signature_header": "X-Signature", "signature_prefix": "sha256=",
        "event_type_pointer": "/status", "event_id_pointer": "/check_id", "event_prefix": "uptime",
    }))
    .await;
    // Base64 without a prefix, SHA-512; type from a header.
    configure(&host, &project, "hmac.inhouse", json!({
        "secret": "inhouse-s3cret", "signature_header": "X-Inhouse-Signature", "algorithm": "sha512",
        "encoding": "base64", "event_type_header": "X-Event-Type", "event_id_header": "X-Event-Id",
    }))
    .await;
    // Timestamp-signed within a tolerance; a fixed type.
    configure(&host, &project, "hmac.signed", json!({
        "secret": "ts-s3cret", "signature_header": "X-Signature", "signed_payload": "timestamp.body",
        "timestamp_header": "X-Timestamp", "tolerance_secs": "60", "event_type": "job.finished",
    }))
    .await;
    // API key only, for a sender that cannot sign.
    configure(
        &host,
        &project,
        "hmac.keyonly",
        json!({
            "api_key": "k3y-0f-the-monitor", "event_type": "heartbeat",
        }),
    )
    .await;
    let uptime = subscriber(&host, &project, &["uptime.*"]).await;
    let hmac = subscriber(&host, &project, &["hmac.*"]).await;

    // hex + prefix
    let down = r#"{"check_id":"chk_1","monitor":"api","status":"down"}"#;
    let signature = format!(
        "sha256={}",
        python_hmac("uptime-s3cret", down, "sha256", "hex")
    );
    let bare = python_hmac("uptime-s3cret", down, "sha256", "hex");
    let wrong = format!(
        "sha256={}",
        python_hmac("inhouse-s3cret", down, "sha256", "hex")
    );
    for (case, sig, body) in [
        ("no prefix", bare.as_str(), down.to_string()),
        ("wrong secret", wrong.as_str(), down.to_string()),
        (
            "tampered body",
            signature.as_str(),
            down.replace("down", "up"),
        ),
    ] {
        let answer = inbound(
            &host,
            &project,
            "hmac.uptime",
            &[("X-Signature", sig)],
            body,
        )
        .await;
        assert_unauthorized(&answer, "X-Signature", case);
    }
    let answer = inbound(&host, &project, "hmac.uptime", &[], down).await;
    assert_unauthorized(&answer, "X-Signature", "missing header");
    let answer = inbound(
        &host,
        &project,
        "hmac.uptime",
        &[("X-Signature", &signature)],
        down,
    )
    .await;
    assert_stored(&answer, "hex with prefix");
    assert_delivered(&uptime, 1, "uptime.down", down).await;
    let again = inbound(
        &host,
        &project,
        "hmac.uptime",
        &[("X-Signature", &signature)],
        down,
    )
    .await;
    assert_duplicate(&again, "same check_id");
    // Another instance's secret does not open this one.
    let answer = inbound(
        &host,
        &project,
        "hmac.inhouse",
        &[("X-Inhouse-Signature", &signature)],
        down,
    )
    .await;
    assert_unauthorized(
        &answer,
        "X-Inhouse-Signature",
        "uptime's signature on inhouse",
    );

    // base64, no prefix, sha512
    let deploy = r#"{"service":"billing","version":"2.4.1"}"#;
    let b64 = python_hmac("inhouse-s3cret", deploy, "sha512", "base64");
    let headers = [
        ("X-Inhouse-Signature", b64.as_str()),
        ("X-Event-Type", "deploy.done"),
        ("X-Event-Id", "dep-7"),
    ];
    let answer = inbound(&host, &project, "hmac.inhouse", &headers, deploy).await;
    assert_stored(&answer, "base64 without prefix");
    assert_delivered(&hmac, 1, "hmac.deploy.done", deploy).await;
    let hex_instead = python_hmac("inhouse-s3cret", deploy, "sha512", "hex");
    let headers = [
        ("X-Inhouse-Signature", hex_instead.as_str()),
        ("X-Event-Type", "deploy.done"),
    ];
    let answer = inbound(&host, &project, "hmac.inhouse", &headers, deploy).await;
    assert_unauthorized(
        &answer,
        "X-Inhouse-Signature",
        "hex where base64 is configured",
    );

    // timestamp.body within the tolerance
    let job = r#"{"job":"nightly-export","ok":true}"#;
    let signed_at = |ts: u64| {
        let ts = ts.to_string();
        let sig = python_hmac("ts-s3cret", &format!("{ts}.{job}"), "sha256", "hex");
        (ts, sig)
    };
    let (ts, sig) = signed_at(now_secs());
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig), ("X-Timestamp", &ts)],
        job,
    )
    .await;
    assert_stored(&answer, "timestamp-signed");
    assert_delivered(&hmac, 2, "hmac.job.finished", job).await;
    let (old_ts, old_sig) = signed_at(now_secs() - 120);
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &old_sig), ("X-Timestamp", &old_ts)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Timestamp", "stale timestamp");
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig), ("X-Timestamp", &old_ts)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Signature", "timestamp changed after signing");
    let answer = inbound(
        &host,
        &project,
        "hmac.signed",
        &[("X-Signature", &sig)],
        job,
    )
    .await;
    assert_unauthorized(&answer, "X-Timestamp", "missing timestamp");

    // API key only
    let beat = r#"{"host":"db-1"}"#;
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitor")],
        beat,
    )
    .await;
    assert_stored(&answer, "api key");
    assert_delivered(&hmac, 3, "hmac.heartbeat", beat).await;
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitoR")],
        beat,
    )
    .await;
    assert_unauthorized(&answer, "X-API-Key", "wrong key");
    let answer = inbound(&host, &project, "hmac.keyonly", &[], beat).await;
    assert_unauthorized(&answer, "X-API-Key", "missing key");

    // A signed request whose type cannot be read is a 400; the bare plugin
    // name is not configured here, and bad instance names are 404s.
    let answer = inbound(
        &host,
        &project,
        "hmac.keyonly",
        &[("X-API-Key", "k3y-0f-the-monitor")],
        "not json",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        inbound(&host, &project, "hmac", &[], beat).await.status,
        404
    );
    assert_eq!(
        inbound(&host, &project, "hmac.nope", &[], beat)
            .await
            .status,
        404
    );
    assert_eq!(
        inbound(&host, &project, "hmac.Bad", &[], beat).await.status,
        404
    );

    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        uptime.count(),
        1,
        "uptime: one delivery, the duplicate routed once"
    );
    assert_eq!(hmac.count(), 3, "hmac.*: nothing from any refusal");
}
