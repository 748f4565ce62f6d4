//! What Discord's answers mean.
//!
//! - `2xx` → success;
//! - `429` → retry after the body's `retry_after` (seconds, fractions
//!   allowed), else the `Retry-After` or `X-RateLimit-Reset-After` header;
//! - `404` (`Unknown Webhook`: the webhook was deleted) → fail and disable
//!   the endpoint, as Discord asks clients not to retry it;
//! - `408`, `425`, `5xx` → retry (after `Retry-After` when given);
//! - any other status → fail, quoting Discord's `message` and `code`.

use hookmesh_sdk::http::{header_value, retry_after_ms};
use hookmesh_sdk::{Failure, HttpResponse, Outcome};
use serde_json::Value;

/// Longest part of an answer quoted in a failure reason.
const MAX_QUOTED: usize = 300;

/// Classifies `response` as described in the module doc.
pub fn classify(response: &HttpResponse, now_ms: u64) -> Outcome {
    let header =
        |name| header_value(&response.headers, name).and_then(|v| retry_after_ms(v, now_ms));
    match response.status {
        200..=299 => Outcome::Success,
        429 => Outcome::Retry(
            body_retry_after_ms(&response.body)
                .or_else(|| header("retry-after"))
                .or_else(|| header("x-ratelimit-reset-after")),
        ),
        408 | 425 | 500..=599 => Outcome::Retry(header("retry-after")),
        404 => Outcome::Fail(Failure {
            reason: format!(
                "discord answered 404{}: the webhook was deleted",
                details(&response.body)
            ),
            disable_endpoint: true,
        }),
        status => Outcome::Fail(Failure {
            reason: format!("discord answered {status}{}", details(&response.body)),
            disable_endpoint: false,
        }),
    }
}

/// `retry_after` of a rate-limit body (`{"retry_after": 1.5, …}`), in ms.
fn body_retry_after_ms(body: &[u8]) -> Option<u64> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let seconds = json.get("retry_after")?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).ceil() as u64)
}

/// ` (Unknown Webhook, code 10015)` from a JSON error body, plus its
/// per-field `errors` when present; the raw text otherwise.
fn details(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            String::new()
        } else {
            format!(" ({})", truncate(text))
        };
    };
    let mut parts = Vec::new();
    if let Some(message) = json.get("message").and_then(Value::as_str) {
        parts.push(message.to_string());
    }
    if let Some(code) = json.get("code").and_then(Value::as_i64) {
        parts.push(format!("code {code}"));
    }
    if let Some(errors) = json.get("errors") {
        parts.push(format!("errors: {}", truncate(&errors.to_string())));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
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

    #[test]
    fn success_statuses() {
        assert!(matches!(answer(204, "", &[]), Outcome::Success));
        assert!(matches!(
            answer(200, r#"{"id":"1"}"#, &[]),
            Outcome::Success
        ));
    }

    #[test]
    fn rate_limit_prefers_the_body_retry_after() {
        let body =
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#;
        let outcome = answer(429, body, &[("Retry-After", "2")]);
        assert!(matches!(outcome, Outcome::Retry(Some(1500))), "{outcome:?}");
        let outcome = answer(429, r#"{"retry_after": 0.0011}"#, &[]);
        assert!(matches!(outcome, Outcome::Retry(Some(2))), "{outcome:?}");
    }

    #[test]
    fn rate_limit_falls_back_to_headers() {
        let outcome = answer(429, "error code: 1015", &[("Retry-After", "3")]);
        assert!(matches!(outcome, Outcome::Retry(Some(3000))), "{outcome:?}");
        let outcome = answer(429, "{}", &[("X-RateLimit-Reset-After", "0.25")]);
        assert!(matches!(outcome, Outcome::Retry(Some(250))), "{outcome:?}");
        let outcome = answer(429, r#"{"retry_after": "soon"}"#, &[]);
        assert!(matches!(outcome, Outcome::Retry(None)), "{outcome:?}");
    }

    #[test]
    fn deleted_webhook_disables_the_endpoint() {
        match answer(404, r#"{"message": "Unknown Webhook", "code": 10015}"#, &[]) {
            Outcome::Fail(f) => {
                assert!(f.disable_endpoint);
                assert_eq!(
                    f.reason,
                    "discord answered 404 (Unknown Webhook, code 10015): the webhook was deleted"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_client_errors_fail_and_server_errors_retry() {
        let body = r#"{"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}"#;
        match answer(400, body, &[]) {
            Outcome::Fail(f) => {
                assert!(!f.disable_endpoint);
                assert!(
                    f.reason.starts_with(
                        "discord answered 400 (Invalid Form Body, code 50035, errors: {"
                    ),
                    "{}",
                    f.reason
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            answer(401, "", &[]),
            Outcome::Fail(Failure {
                disable_endpoint: false,
                ..
            })
        ));
        assert!(matches!(answer(502, "", &[]), Outcome::Retry(None)));
        assert!(matches!(
            answer(503, "", &[("Retry-After", "1")]),
            Outcome::Retry(Some(1000))
        ));
    }
}
