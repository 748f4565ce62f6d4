//! The configurable `hmac` source: each authentication mode (signatures
//! computed with Python's `hmac` module), each type and id source, and
//! config errors naming their field.

use hookmesh_plugin_hmac::HmacSource;
use hookmesh_sdk::testing::{context, inbound};
use hookmesh_sdk::{Context, InboundRequest, InboundResult, Plugin, PluginError};

const SECRET: &str = "uptime-s3cret";
const BODY: &str = r#"{"id":"chk_42","monitor":"api","status":"down"}"#;
// hmac.new(SECRET, BODY, sha256).hexdigest(), and friends, in Python.
const SHA256_HEX: &str = "fdda1100d7b9ad018daadab718c30936d57c24445f9fd73c9aa04b8ec167ce9a";
const SHA512_B64: &str =
    "ILclP+9R14T1+8VqDio5fd4lvYy2isBefkPVsbYlKtyY3NWN+mg51lP/W6KE1fzv3uRBWgkakhd0eCN+44H+tg==";
/// Over `"1700000000." + BODY`.
const TIMESTAMPED_HEX: &str = "14fb2e0ea723f40aa17565dbc74963b76fa79a2cec3ef23a4e1678ab2cae6ba7";
const SHA1_HEX: &str = "8ab395102fbd72929bcdd6a694797a9ff1a97c96";
const NOW_MS: u64 = 1_700_000_010_000;

fn ctx(config: &[(&str, &str)]) -> Context {
    context()
        .now_ms(NOW_MS)
        .delivery_id("in_1")
        .configs(config)
        .build()
}

fn request(body: &str, headers: &[(&str, &str)]) -> InboundRequest {
    inbound().headers(headers).body(body).build()
}

fn verify(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
    <HmacSource as Plugin>::verify_inbound(request, ctx)
}

fn unauthorized(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

fn config_error(result: Result<InboundResult, PluginError>) -> String {
    match result {
        Err(PluginError::InvalidConfig(message)) => message,
        other => panic!("expected a config error, got {other:?}"),
    }
}

const HEX_PREFIXED: &[(&str, &str)] = &[
    ("secret", SECRET),
    ("signature_header", "X-Signature"),
    ("signature_prefix", "sha256="),
    ("event_type_pointer", "/status"),
    ("event_id_pointer", "/id"),
];

#[test]
fn hex_with_a_prefix_and_the_type_and_id_from_the_body() {
    let signature = format!("sha256={SHA256_HEX}");
    let result = verify(
        request(BODY, &[("x-signature", &signature)]),
        ctx(HEX_PREFIXED),
    )
    .unwrap();
    let event = &result.events[0];
    assert_eq!(event.event_type, "hmac.down");
    assert_eq!(event.dedupe_id.as_deref(), Some("chk_42"));
    assert_eq!(event.payload, BODY.as_bytes());

    let bare = unauthorized(verify(
        request(BODY, &[("x-signature", SHA256_HEX)]),
        ctx(HEX_PREFIXED),
    ));
    assert_eq!(
        bare,
        "X-Signature does not match the body under the source's `secret`"
    );
    unauthorized(verify(
        request(&BODY.replace("down", "up"), &[("x-signature", &signature)]),
        ctx(HEX_PREFIXED),
    ));
    assert_eq!(
        unauthorized(verify(request(BODY, &[]), ctx(HEX_PREFIXED))),
        "missing X-Signature header"
    );
    let rotated = format!("sha256=00ff, sha256={SHA256_HEX}");
    assert!(verify(
        request(BODY, &[("x-signature", &rotated)]),
        ctx(HEX_PREFIXED)
    )
    .is_ok());
}

#[test]
fn base64_without_a_prefix_sha512_and_a_fixed_type_with_a_prefix_of_its_own() {
    let config = [
        ("secret", SECRET),
        ("signature_header", "X-Monitor-Signature"),
        ("algorithm", "sha512"),
        ("encoding", "base64"),
        ("event_type", "monitor.alert"),
        ("event_prefix", "uptime"),
        ("event_id_header", "X-Check-Id"),
    ];
    let event = &verify(
        request(
            BODY,
            &[("X-Monitor-Signature", SHA512_B64), ("X-Check-Id", "c-1")],
        ),
        ctx(&config),
    )
    .unwrap()
    .events[0];
    assert_eq!(event.event_type, "uptime.monitor.alert");
    assert_eq!(event.dedupe_id.as_deref(), Some("c-1"));
    unauthorized(verify(
        request(BODY, &[("X-Monitor-Signature", SHA256_HEX)]),
        ctx(&config),
    ));
}

#[test]
fn timestamp_signed_within_the_tolerance() {
    let config = [
        ("secret", SECRET),
        ("signature_header", "X-Signature"),
        ("signed_payload", "timestamp.body"),
        ("timestamp_header", "X-Timestamp"),
        ("tolerance_secs", "60"),
        ("event_type_header", "X-Event-Type"),
    ];
    let headers = |ts: &'static str| {
        [
            ("X-Signature", TIMESTAMPED_HEX),
            ("X-Timestamp", ts),
            ("X-Event-Type", "check.failed"),
        ]
    };
    let event = &verify(request(BODY, &headers("1700000000")), ctx(&config))
        .unwrap()
        .events[0];
    assert_eq!(event.event_type, "hmac.check.failed");
    assert_eq!(event.dedupe_id, None);

    unauthorized(verify(request(BODY, &headers("1700000001")), ctx(&config)));
    let mut stale = ctx(&config);
    stale.now_ms = 1_700_000_061_000;
    assert_eq!(
        unauthorized(verify(request(BODY, &headers("1700000000")), stale)),
        "X-Timestamp is 61 s old, beyond the tolerance of 60 s"
    );
    let mut early = ctx(&config);
    early.now_ms = 1_699_999_900_000;
    assert!(
        unauthorized(verify(request(BODY, &headers("1700000000")), early))
            .contains("in the future")
    );
    assert_eq!(
        unauthorized(verify(
            request(BODY, &[("X-Signature", TIMESTAMPED_HEX)]),
            ctx(&config)
        )),
        "missing X-Timestamp header"
    );
}

#[test]
fn sha1_for_legacy_senders() {
    let config = [
        ("secret", SECRET),
        ("signature_header", "X-Hub-Signature"),
        ("signature_prefix", "sha1="),
        ("algorithm", "sha1"),
        ("event_type", "legacy"),
    ];
    let signature = format!("sha1={SHA1_HEX}");
    let event = &verify(
        request(BODY, &[("X-Hub-Signature", &signature)]),
        ctx(&config),
    )
    .unwrap()
    .events[0];
    assert_eq!(event.event_type, "hmac.legacy");
}

#[test]
fn api_key_only() {
    let config = [("api_key", "k3y-for-monitor"), ("event_type", "ping")];
    let event = &verify(
        request(BODY, &[("x-api-key", "k3y-for-monitor")]),
        ctx(&config),
    )
    .unwrap()
    .events[0];
    assert_eq!(event.event_type, "hmac.ping");
    assert_eq!(
        unauthorized(verify(
            request(BODY, &[("x-api-key", "k3y-for-monitoR")]),
            ctx(&config)
        )),
        "X-API-Key does not match the source's `api_key`"
    );
    assert_eq!(
        unauthorized(verify(request(BODY, &[]), ctx(&config))),
        "missing X-API-Key header"
    );
    let custom = [
        ("api_key", "k"),
        ("api_key_header", "Authorization-Token"),
        ("event_type", "ping"),
    ];
    assert!(verify(request(BODY, &[("authorization-token", "k")]), ctx(&custom)).is_ok());
}

#[test]
fn a_verified_request_without_a_readable_type_or_id_is_an_event_error() {
    let signature = format!("sha256={SHA256_HEX}");
    let mut no_status = HEX_PREFIXED.to_vec();
    no_status[3] = ("event_type_pointer", "/missing");
    match verify(
        request(BODY, &[("x-signature", &signature)]),
        ctx(&no_status),
    ) {
        Err(PluginError::InvalidEvent(m)) => {
            assert_eq!(m, "no event type in the body at `/missing`")
        }
        other => panic!("{other:?}"),
    }
    let api = [("api_key", "k"), ("event_type_header", "X-Type")];
    for (body, headers) in [
        (BODY, vec![("x-api-key", "k")]),
        ("not json", vec![("x-api-key", "k"), ("x-type", "a")]),
        (BODY, vec![("x-api-key", "k"), ("x-type", "Bad Type")]),
    ] {
        assert!(
            matches!(
                verify(request(body, &headers), ctx(&api)),
                Err(PluginError::InvalidEvent(_))
            ),
            "{body} {headers:?}"
        );
    }
}

#[test]
fn config_errors_name_the_field() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("event_type", "a")], "`secret`"),
        (
            &[("secret", "s"), ("api_key", "k"), ("event_type", "a")],
            "not both",
        ),
        (
            &[("secret", "s"), ("event_type", "a")],
            "`signature_header`",
        ),
        (&[("api_key", "k")], "`event_type`"),
        (
            &[
                ("api_key", "k"),
                ("event_type", "a"),
                ("event_type_header", "X"),
            ],
            "set only one of `event_type`, `event_type_header`",
        ),
        (
            &[("api_key", "k"), ("event_type_pointer", "type")],
            "`event_type_pointer` must be a JSON pointer",
        ),
        (
            &[("api_key", "k"), ("event_type", "Not Valid")],
            "`event_type` `Not Valid`",
        ),
        (
            &[
                ("api_key", "k"),
                ("event_type", "a"),
                ("event_prefix", "a..b"),
            ],
            "`event_prefix`",
        ),
        (
            &[
                ("secret", "s"),
                ("signature_header", "X"),
                ("algorithm", "md5"),
                ("event_type", "a"),
            ],
            "`algorithm`",
        ),
        (
            &[
                ("secret", "s"),
                ("signature_header", "X"),
                ("encoding", "b32"),
                ("event_type", "a"),
            ],
            "`encoding`",
        ),
        (
            &[
                ("secret", "s"),
                ("signature_header", "X"),
                ("signed_payload", "all"),
                ("event_type", "a"),
            ],
            "`signed_payload`",
        ),
        (
            &[
                ("secret", "s"),
                ("signature_header", "X"),
                ("signed_payload", "timestamp.body"),
                ("event_type", "a"),
            ],
            "`timestamp_header`",
        ),
        (
            &[
                ("api_key", "k"),
                ("event_type", "a"),
                ("event_id_header", "X"),
                ("event_id_pointer", "/id"),
            ],
            "set only one of `event_id_header`, `event_id_pointer`",
        ),
    ];
    for (config, expected) in cases {
        let message = config_error(verify(request(BODY, &[]), ctx(config)));
        assert!(message.contains(expected), "{config:?}: {message}");
    }
}

#[test]
fn the_manifest_marks_sha1_as_weak_and_is_inbound_only() {
    let manifest = <HmacSource as Plugin>::manifest();
    assert_eq!(manifest.name, "hmac");
    assert_eq!(
        manifest.capabilities,
        vec![hookmesh_sdk::Capability::Inbound]
    );
    let algorithm = manifest
        .config_fields
        .iter()
        .find(|f| f.name == "algorithm")
        .unwrap();
    assert!(
        algorithm.description.contains("`sha1` — weak"),
        "{}",
        algorithm.description
    );
    let secrets: Vec<&str> = manifest
        .config_fields
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secrets, ["secret", "api_key"]);
}
