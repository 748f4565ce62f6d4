//! What Slack's answers mean.
//!
//! Incoming webhooks answer `200 ok`, or a status with a plain-text error
//! code (`400 invalid_payload`, `404 channel_not_found`, `410
//! channel_is_archived`…). The Web API answers `200` with JSON
//! `{"ok": false, "error": "…"}` on failure, so `ok: false` is never a success.
//!
//! - `2xx` with no error → success;
//! - `429`, error `ratelimited` → retry after `Retry-After`;
//! - the endpoint is gone (`410`, `channel_is_archived`, `no_service`,
//!   `team_disabled`) → fail and disable the endpoint;
//! - Slack-side trouble (`5xx`, `internal_error`, `fatal_error`,
//!   `service_unavailable`, `request_timeout`) → retry;
//! - any other error (`invalid_payload`, `invalid_blocks`,
//!   `channel_not_found`, `no_text`, `invalid_auth`…) → fail, not retried.

use hookmesh_sdk::http::{header_value, retry_after_ms};
use hookmesh_sdk::{Failure, HttpResponse, Outcome};

/// Error codes that mean the destination is gone for good.
const GONE: &[&str] = &["channel_is_archived", "no_service", "team_disabled"];
/// Error codes worth another try.
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "rollup_error",
];
/// Longest error text quoted in a failure reason.
const MAX_QUOTED: usize = 200;

/// Classifies `response` as described in the module doc.
pub fn classify(response: &HttpResponse, now_ms: u64) -> Outcome {
    let status = response.status;
    let error = error_code(&response.body, (200..300).contains(&status));
    let retry_after =
        || header_value(&response.headers, "retry-after").and_then(|v| retry_after_ms(v, now_ms));
    if (200..300).contains(&status) && error.is_none() {
        return Outcome::Success;
    }
    let code = error.as_deref().unwrap_or("");
    if status == 429 || TRANSIENT.contains(&code) || (status >= 500 && !GONE.contains(&code)) {
        return Outcome::Retry(retry_after());
    }
    let disable_endpoint = status == 410 || GONE.contains(&code);
    Outcome::Fail(Failure {
        reason: reason(status, code),
        disable_endpoint,
    })
}

/// The error code in a Slack answer: `error` of a JSON body with
/// `"ok": false`, or (unless `success`) a non-`ok` plain-text body.
fn error_code(body: &[u8], success: bool) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        if json.get("ok").and_then(serde_json::Value::as_bool) != Some(false) {
            return None;
        }
        let code = json.get("error").and_then(serde_json::Value::as_str);
        return Some(code.unwrap_or("unknown_error").to_string());
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if success || text.is_empty() || text == "ok" {
        return None;
    }
    Some(truncate(text))
}

fn reason(status: u16, code: &str) -> String {
    let mut reason = format!("slack answered {status}");
    if !code.is_empty() {
        reason.push(' ');
        reason.push_str(code);
    }
    if let Some(hint) = hint(code) {
        reason.push_str(": ");
        reason.push_str(hint);
    }
    reason
}

fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_payload" => "the message JSON was not accepted; check `text` and `blocks`",
        "invalid_blocks" | "invalid_blocks_format" => {
            "Slack rejected the blocks; check the `blocks` template"
        }
        "no_text" => "the message has no text",
        "channel_not_found" => {
            "the channel does not exist or the app cannot see it; check `channel`"
        }
        "not_in_channel" => "the bot is not a member of the channel; invite it",
        "channel_is_archived" => "the channel is archived",
        "no_service" => "the incoming webhook was removed or disabled",
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            "the token was refused; check `bot_token`"
        }
        "missing_scope" => "the bot token lacks the `chat:write` scope",
        _ => return None,
    })
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::Header;

    fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> Outcome {
        let response = HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            body: body.as_bytes().to_vec(),
        };
        classify(&response, 0)
    }

    fn failure(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Fail(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn ok_answers_succeed() {
        assert!(matches!(answer(200, "ok", &[]), Outcome::Success));
        assert!(matches!(
            answer(200, r#"{"ok":true,"ts":"1.2"}"#, &[]),
            Outcome::Success
        ));
        assert!(matches!(answer(204, "", &[]), Outcome::Success));
        assert!(matches!(answer(202, "accepted", &[]), Outcome::Success));
    }

    #[test]
    fn ok_false_is_not_success() {
        let f = failure(answer(
            200,
            r#"{"ok":false,"error":"channel_not_found"}"#,
            &[],
        ));
        assert!(!f.disable_endpoint);
        assert!(
            f.reason.starts_with("slack answered 200 channel_not_found"),
            "{}",
            f.reason
        );
        let f = failure(answer(200, r#"{"ok":false,"error":"invalid_auth"}"#, &[]));
        assert!(f.reason.contains("`bot_token`"), "{}", f.reason);
    }

    #[test]
    fn payload_errors_fail_without_retry() {
        for (status, code) in [
            (400, "invalid_payload"),
            (400, "invalid_blocks"),
            (404, "channel_not_found"),
            (400, "no_text"),
        ] {
            let f = failure(answer(status, code, &[]));
            assert!(!f.disable_endpoint, "{code}");
            assert!(f.reason.contains(code), "{}", f.reason);
        }
    }

    #[test]
    fn rate_limits_retry_after_the_header() {
        assert!(matches!(
            answer(429, "", &[("Retry-After", "30")]),
            Outcome::Retry(Some(30_000))
        ));
        assert!(matches!(
            answer(
                429,
                r#"{"ok":false,"error":"ratelimited"}"#,
                &[("retry-after", "1")]
            ),
            Outcome::Retry(Some(1000))
        ));
        assert!(matches!(answer(429, "", &[]), Outcome::Retry(None)));
    }

    #[test]
    fn gone_destinations_disable_the_endpoint() {
        assert!(failure(answer(410, "channel_is_archived", &[])).disable_endpoint);
        assert!(failure(answer(410, "", &[])).disable_endpoint);
        assert!(failure(answer(404, "no_service", &[])).disable_endpoint);
        assert!(
            failure(answer(
                200,
                r#"{"ok":false,"error":"channel_is_archived"}"#,
                &[]
            ))
            .disable_endpoint
        );
    }

    #[test]
    fn server_errors_retry() {
        assert!(matches!(
            answer(500, "rollup_error", &[]),
            Outcome::Retry(None)
        ));
        assert!(matches!(
            answer(503, "", &[("Retry-After", "5")]),
            Outcome::Retry(Some(5000))
        ));
        assert!(matches!(
            answer(200, r#"{"ok":false,"error":"internal_error"}"#, &[]),
            Outcome::Retry(None)
        ));
    }
}
