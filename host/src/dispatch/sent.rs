//! What the delivery log keeps of a request: method, URL and headers with
//! credentials redacted, and the body by size and SHA-256 (the body is the
//! event's rendering, which the log shows already).
//!
//! Redacted: the values of credential headers (`Authorization`, `Cookie`,
//! API-key headers), and every occurrence, anywhere in the URL or a header,
//! of a secret the call was given — the endpoint's signing secrets and the
//! provider's secret config values (a bot token, an API key).

use crate::plugin::{self, wire::method_name, ConfigField};
use crate::store::SentRequest;
use sha2::{Digest, Sha256};

/// What a redacted value reads.
pub const REDACTED: &str = "[redacted]";

/// Headers whose whole value is a credential.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Secrets shorter than this are not searched for (they would redact
/// ordinary text; such short secrets are refused where they are set).
const MIN_SECRET_LEN: usize = 6;

/// Redacts one call's secrets from what it sent.
pub(super) struct Redactor {
    /// Longest first, so a secret containing another is redacted whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// The secrets of a call with context `ctx` through a plugin whose
    /// manifest declares `fields`.
    pub(super) fn new(ctx: &plugin::Context, fields: &[ConfigField]) -> Self {
        let signing = ctx.endpoint.iter().flat_map(|e| e.secrets.iter().cloned());
        let configured = ctx
            .config
            .iter()
            .filter(|entry| fields.iter().any(|f| f.secret && f.name == entry.key))
            .map(|entry| entry.value.clone());
        let mut secrets: Vec<String> = signing
            .chain(configured)
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret replaced by [`REDACTED`] (copied once when
    /// it holds none, the usual case).
    fn text(&self, text: &str) -> String {
        let mut redacted = std::borrow::Cow::Borrowed(text);
        for secret in &self.secrets {
            if redacted.contains(secret.as_str()) {
                redacted = std::borrow::Cow::Owned(redacted.replace(secret.as_str(), REDACTED));
            }
        }
        redacted.into_owned()
    }

    /// The log's record of `request`.
    pub(super) fn request(&self, request: &plugin::HttpRequest) -> SentRequest {
        let headers = request
            .headers
            .iter()
            .map(|h| {
                let credential = CREDENTIAL_HEADERS
                    .iter()
                    .any(|name| h.name.eq_ignore_ascii_case(name));
                let value = match credential {
                    true => REDACTED.to_string(),
                    false => self.text(&h.value),
                };
                (h.name.clone(), value)
            })
            .collect();
        SentRequest {
            method: method_name(request.method).to_string(),
            url: self.text(&request.url),
            headers,
            body_bytes: request.body.len() as u64,
            body_sha256: hex::encode(Sha256::digest(&request.body)),
        }
    }
}

/// The answer's headers as the log keeps them (no credentials come back,
/// but a `Set-Cookie` is still nobody's business).
pub(super) fn response_headers(headers: &[plugin::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            let value = match h.name.eq_ignore_ascii_case("set-cookie") {
                true => REDACTED.to_string(),
                false => h.value.clone(),
            };
            (h.name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{ConfigEntry, Context, Endpoint, Header, HttpRequest, Method};

    fn field(name: &str, secret: bool) -> ConfigField {
        ConfigField {
            name: name.into(),
            description: String::new(),
            secret,
            required: false,
        }
    }

    #[test]
    fn credentials_and_secrets_are_redacted_everywhere() {
        let ctx = Context {
            now_ms: 0,
            delivery_id: "dlv_1".into(),
            attempt: 1,
            endpoint: Some(Endpoint {
                id: "ep_1".into(),
                url: "https://example.com".into(),
                secrets: vec!["whsec_signing_secret".into()],
            }),
            config: vec![
                ConfigEntry {
                    key: "bot_token".into(),
                    value: "xoxb-123456".into(),
                },
                ConfigEntry {
                    key: "channel".into(),
                    value: "#general".into(),
                },
            ],
        };
        let redactor = Redactor::new(&ctx, &[field("bot_token", true), field("channel", false)]);
        let request = HttpRequest {
            method: Method::Post,
            url: "https://example.com/hook?token=xoxb-123456&channel=#general".into(),
            headers: vec![
                Header {
                    name: "Authorization".into(),
                    value: "Bearer anything".into(),
                },
                Header {
                    name: "X-Echo".into(),
                    value: "key=whsec_signing_secret".into(),
                },
                Header {
                    name: "content-type".into(),
                    value: "application/json".into(),
                },
            ],
            body: b"{}".to_vec(),
        };
        let sent = redactor.request(&request);
        assert_eq!(sent.method, "POST");
        assert_eq!(
            sent.url,
            "https://example.com/hook?token=[redacted]&channel=#general"
        );
        assert_eq!(
            sent.headers,
            [
                ("Authorization".to_string(), REDACTED.to_string()),
                ("X-Echo".to_string(), "key=[redacted]".to_string()),
                ("content-type".to_string(), "application/json".to_string()),
            ]
        );
        assert_eq!(sent.body_bytes, 2);
        assert_eq!(
            sent.body_sha256,
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
