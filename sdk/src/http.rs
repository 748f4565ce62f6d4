//! Request builders and header helpers for `render` and `classify`.

use crate::{Header, HttpRequest, Method, PluginError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// The value of the first header named `name` (ASCII case-insensitive).
///
/// ```
/// use hookmesh_sdk::{http::header_value, testing::response};
/// let answer = response(429).header("Retry-After", "3").build();
/// assert_eq!(header_value(&answer.headers, "retry-after"), Some("3"));
/// ```
pub fn header_value<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Builds an [`HttpRequest`] step by step.
///
/// ```
/// use hookmesh_sdk::http::RequestBuilder;
/// let req = RequestBuilder::post("https://example.com/hook")
///     .bearer("t0ken")
///     .json_bytes(br#"{"ok":true}"#.to_vec())
///     .build();
/// assert_eq!(req.headers.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    request: HttpRequest,
}

impl RequestBuilder {
    /// A request with `method` to `url`, no headers and an empty body.
    ///
    /// ```
    /// use hookmesh_sdk::{http::RequestBuilder, Method};
    /// let request = RequestBuilder::new(Method::Put, "https://api.example.com/items/1").build();
    /// assert_eq!((request.method, request.body.len()), (Method::Put, 0));
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            request: HttpRequest {
                method,
                url: url.into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        }
    }

    /// A `POST` to `url`.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com").build();
    /// assert_eq!(request.method, hookmesh_sdk::Method::Post);
    /// ```
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Adds a header (several with one name are allowed).
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com")
    ///     .header("x-tenant", "acme")
    ///     .build();
    /// assert_eq!(request.headers[0].value, "acme");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Sets the raw body.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com")
    ///     .body(b"a=1".to_vec())
    ///     .build();
    /// assert_eq!(request.body, b"a=1");
    /// ```
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.request.body = body;
        self
    }

    /// Sets an already-encoded JSON body and `content-type: application/json`.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com")
    ///     .json_bytes(br#"{"ok":true}"#.to_vec())
    ///     .build();
    /// assert_eq!(request.headers[0].value, "application/json");
    /// ```
    pub fn json_bytes(self, body: Vec<u8>) -> Self {
        self.header("content-type", "application/json").body(body)
    }

    /// Serializes `value` as the JSON body; its error converts into
    /// [`PluginError`], so `?` works in `render`.
    ///
    /// ```
    /// use hookmesh_sdk::{http::RequestBuilder, serde_json::json};
    /// let req = RequestBuilder::post("https://example.com").json(&json!({"a": 1}))?.build();
    /// assert_eq!(req.body, br#"{"a":1}"#);
    /// # Ok::<(), hookmesh_sdk::PluginError>(())
    /// ```
    pub fn json<T: serde::Serialize>(self, value: &T) -> Result<Self, serde_json::Error> {
        Ok(self.json_bytes(serde_json::to_vec(value)?))
    }

    /// `Authorization: Bearer <token>`.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com").bearer("t0k").build();
    /// assert_eq!(request.headers[0].value, "Bearer t0k");
    /// ```
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// `Authorization: Basic base64(user:password)`.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://api.example.com")
    ///     .basic_auth("rzp_test", "s3cret")
    ///     .build();
    /// assert_eq!(request.headers[0].value, "Basic cnpwX3Rlc3Q6czNjcmV0");
    /// ```
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let encoded = BASE64.encode(format!("{user}:{password}"));
        self.header("authorization", format!("Basic {encoded}"))
    }

    /// The finished request.
    ///
    /// ```
    /// let request = hookmesh_sdk::http::RequestBuilder::post("https://example.com").build();
    /// assert_eq!(request.url, "https://example.com");
    /// ```
    pub fn build(self) -> HttpRequest {
        self.request
    }
}

/// JSON that cannot be encoded or decoded is an event error: the event (or
/// what a plugin built from it) is at fault, not the config.
///
/// ```
/// use hookmesh_sdk::PluginError;
/// let error: PluginError = hookmesh_sdk::serde_json::from_str::<u8>("x").unwrap_err().into();
/// assert!(matches!(error, PluginError::InvalidEvent(m) if m.starts_with("invalid JSON")));
/// ```
impl From<serde_json::Error> for PluginError {
    fn from(error: serde_json::Error) -> Self {
        PluginError::InvalidEvent(format!("invalid JSON: {error}"))
    }
}

/// Milliseconds to wait from a `Retry-After` value: delta-seconds (`"120"`,
/// fractions allowed) or an HTTP-date (`"Sun, 06 Nov 1994 08:49:37 GMT"`)
/// measured from `now_ms`. `None` when absent or unreadable.
///
/// ```
/// use hookmesh_sdk::http::retry_after_ms;
/// assert_eq!(retry_after_ms("2", 0), Some(2_000));
/// // An HTTP date is measured from the call's clock, `ctx.now_ms`:
/// let now_ms = 784_111_777_000 - 30_000;
/// assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now_ms), Some(30_000));
/// assert_eq!(retry_after_ms("soon", now_ms), None);
/// ```
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some((seconds * 1000.0).ceil() as u64);
        }
        return None;
    }
    let at_ms = parse_http_date(value)?.checked_mul(1000)?;
    Some(at_ms.saturating_sub(now_ms))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(retry_after_ms("2", 0), Some(2000));
        assert_eq!(retry_after_ms(" 1.5 ", 0), Some(1500));
        assert_eq!(retry_after_ms("-1", 0), None);
        assert_eq!(retry_after_ms("soon", 0), None);
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let now = 784_111_777_000 - 30_000;
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000),
            Some(0)
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        let headers = vec![Header {
            name: "Retry-After".into(),
            value: "3".into(),
        }];
        assert_eq!(header_value(&headers, "retry-after"), Some("3"));
        assert_eq!(header_value(&headers, "x"), None);
    }

    #[test]
    fn basic_auth_encodes_credentials() {
        let req = RequestBuilder::post("https://api.example.com")
            .basic_auth("rzp_test", "s3cret")
            .build();
        assert_eq!(req.headers[0].value, "Basic cnpwX3Rlc3Q6czNjcmV0");
    }
}
