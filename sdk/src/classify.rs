//! The default meaning of an HTTP answer, for plugins that need no more.
//!
//! - `2xx` → success;
//! - `410 Gone` → fail and disable the endpoint (the receiver says it is gone);
//! - `408`, `425`, `429`, `5xx` → retry, after `Retry-After` when given;
//! - any other status (`3xx` included: the host never follows redirects) → fail.

use crate::http::{header_value, retry_after_ms};
use crate::{Failure, HttpResponse, Outcome};

/// Classifies `response` as described in the module doc.
///
/// ```
/// use hookmesh_sdk::classify::default_outcome;
/// use hookmesh_sdk::testing::{context, response};
/// use hookmesh_sdk::Outcome;
/// let ctx = context().build();
/// assert_eq!(default_outcome(&response(204).build(), ctx.now_ms), Outcome::Success);
/// let limited = response(503).header("Retry-After", "5").build();
/// assert_eq!(default_outcome(&limited, ctx.now_ms), Outcome::Retry(Some(5_000)));
/// ```
pub fn default_outcome(response: &HttpResponse, now_ms: u64) -> Outcome {
    match response.status {
        200..=299 => Outcome::Success,
        410 => Outcome::Fail(Failure {
            reason: "endpoint answered 410 Gone".into(),
            disable_endpoint: true,
        }),
        408 | 425 | 429 | 500..=599 => Outcome::Retry(
            header_value(&response.headers, "retry-after").and_then(|v| retry_after_ms(v, now_ms)),
        ),
        status => Outcome::Fail(Failure {
            reason: format!("endpoint answered {status}"),
            disable_endpoint: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Header;

    fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert!(matches!(
            default_outcome(&response(204, &[]), 0),
            Outcome::Success
        ));
        assert!(matches!(
            default_outcome(&response(503, &[]), 0),
            Outcome::Retry(None)
        ));
        assert!(matches!(
            default_outcome(&response(429, &[("Retry-After", "2")]), 0),
            Outcome::Retry(Some(2000))
        ));
        assert!(matches!(
            default_outcome(&response(410, &[]), 0),
            Outcome::Fail(Failure {
                disable_endpoint: true,
                ..
            })
        ));
        match default_outcome(&response(400, &[]), 0) {
            Outcome::Fail(f) => {
                assert!(!f.disable_endpoint);
                assert_eq!(f.reason, "endpoint answered 400");
            }
            other => panic!("expected fail, got {other:?}"),
        }
        assert!(matches!(
            default_outcome(&response(302, &[]), 0),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn outcomes_compare_with_assert_eq() {
        assert_eq!(
            default_outcome(&response(429, &[("Retry-After", "2")]), 0),
            Outcome::Retry(Some(2000))
        );
        assert_eq!(
            default_outcome(&response(410, &[]), 0),
            Outcome::Fail(Failure {
                reason: "endpoint answered 410 Gone".into(),
                disable_endpoint: true,
            })
        );
        assert_ne!(
            crate::PluginError::InvalidConfig("x".into()),
            crate::PluginError::InvalidEvent("x".into())
        );
    }
}
