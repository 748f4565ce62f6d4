//! What Razorpay's API answers mean.
//!
//! Errors come as `{"error": {"code": "BAD_REQUEST_ERROR", "description":
//! "…", "field": "amount"}}`.
//!
//! - `2xx` → success;
//! - `408`, `425`, `429`, `5xx` → retry (after `Retry-After` when given);
//! - any other status → fail, with Razorpay's code and description as the reason.

use hookmesh_sdk::http::{header_value, retry_after_ms};
use hookmesh_sdk::{Failure, HttpResponse, Outcome};
use serde_json::Value;

/// Longest text quoted from an answer.
const MAX_QUOTED: usize = 300;

/// Classifies `response` as described in the module doc.
pub fn classify(response: &HttpResponse, now_ms: u64) -> Outcome {
    match response.status {
        200..=299 => Outcome::Success,
        408 | 425 | 429 | 500..=599 => Outcome::Retry(
            header_value(&response.headers, "retry-after").and_then(|v| retry_after_ms(v, now_ms)),
        ),
        status => {
            let mut reason = format!("razorpay answered {status}");
            if let Some(details) = details(&response.body) {
                reason.push_str(": ");
                reason.push_str(&details);
            }
            if status == 401 {
                reason.push_str(" (check `key_id` and `key_secret`)");
            }
            Outcome::Fail(Failure {
                reason,
                disable_endpoint: false,
            })
        }
    }
}

/// `BAD_REQUEST_ERROR: The amount must be atleast INR 1.00 (field amount)`,
/// or the start of a body that is not Razorpay's error JSON.
fn details(body: &[u8]) -> Option<String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let Some(error) = json.as_ref().and_then(|j| j.get("error")) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return (!text.is_empty()).then(|| truncate(text));
    };
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let mut details = match (text("code"), text("description")) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(only), None) | (None, Some(only)) => only.to_string(),
        (None, None) => truncate(&error.to_string()),
    };
    if let Some(field) = text("field") {
        details.push_str(&format!(" (field `{field}`)"));
    }
    Some(truncate(&details))
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
