//! What a receiver expects, from the endpoint's config: the hex signature
//! header's name and format, the statuses that count as success, and
//! extra headers. Every value is checked here, so a bad one fails the
//! first render — which the host runs at registration, refusing the
//! endpoint with the key named (`` `header.X-A`: … ``).

use hookmesh_sdk::signing::BodySignatureFormat;
use hookmesh_sdk::{Context, PluginError};

/// Prefix of config keys that become extra request headers.
pub const CUSTOM_HEADER_PREFIX: &str = "header.";
/// The hex signature header unless `signature_header` names another.
pub const DEFAULT_SIGNATURE_HEADER: &str = "x-hookmesh-signature";
/// Appended to the signature header's name for the previous secret's value.
pub const PREVIOUS_SUFFIX: &str = "-previous";
/// Spellings of `success_statuses`.
pub const SUCCESS_STATUSES: [&str; 2] = ["2xx", "2xx,3xx"];
/// Longest header name accepted in config.
const MAX_HEADER_NAME: usize = 100;

/// Headers the plugin owns; neither custom headers nor `signature_header`
/// may take them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// An endpoint's receiver settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver<'a> {
    /// Name of the body-signature header.
    pub signature_header: &'a str,
    /// How that header writes the HMAC.
    pub signature_format: BodySignatureFormat,
    /// `3xx` answers count as delivered (Meshes-style receivers); redirects
    /// are never followed either way.
    pub redirects_succeed: bool,
    /// Extra headers, checked.
    pub headers: Vec<(&'a str, &'a str)>,
}

fn invalid(key: &str, message: impl std::fmt::Display) -> PluginError {
    PluginError::InvalidConfig(format!("`{key}`: {message}"))
}

impl<'a> Receiver<'a> {
    /// Reads and checks the config of `ctx`.
    pub fn from_context(ctx: &'a Context) -> Result<Self, PluginError> {
        let signature_header = ctx
            .config_value("signature_header")
            .unwrap_or(DEFAULT_SIGNATURE_HEADER);
        check_header_name("signature_header", signature_header)?;
        let signature_format = match ctx.config_value("signature_format") {
            None => BodySignatureFormat::PrefixedHex,
            Some(name) => BodySignatureFormat::parse(name).ok_or_else(|| {
                invalid(
                    "signature_format",
                    format!("`{name}` is not one of {:?}", BodySignatureFormat::NAMES),
                )
            })?,
        };
        let redirects_succeed = match ctx.config_value("success_statuses") {
            None | Some("2xx") => false,
            Some("2xx,3xx") => true,
            Some(other) => {
                return Err(invalid(
                    "success_statuses",
                    format!("`{other}` is not one of {SUCCESS_STATUSES:?}"),
                ))
            }
        };
        let headers = custom_headers(ctx, signature_header)?;
        Ok(Self {
            signature_header,
            signature_format,
            redirects_succeed,
            headers,
        })
    }

    /// The header carrying the previous secret's signature during a grace.
    pub fn previous_header(&self) -> String {
        format!("{}{PREVIOUS_SUFFIX}", self.signature_header)
    }
}

/// A header name: an RFC 9110 token, not one the plugin owns.
fn check_header_name(key: &str, name: &str) -> Result<(), PluginError> {
    if name.is_empty() || name.len() > MAX_HEADER_NAME || !name.bytes().all(is_token_byte) {
        return Err(invalid(key, format!("`{name}` is not a valid header name")));
    }
    if RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(invalid(
            key,
            format!("header `{name}` is set by the plugin and cannot be overridden"),
        ));
    }
    Ok(())
}

/// A header value: visible ASCII, spaces and tabs only (no CR, LF, NUL or
/// other control bytes, which would split or break the request; no
/// non-ASCII, which HTTP clients refuse).
fn check_header_value(key: &str, value: &str) -> Result<(), PluginError> {
    match value
        .bytes()
        .position(|b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        None => Ok(()),
        Some(at) => Err(invalid(
            key,
            format!(
                "header values may hold only visible ASCII, spaces and tabs; byte 0x{:02x} at {at} is not allowed",
                value.as_bytes()[at]
            ),
        )),
    }
}

/// The `header.<Name>` entries, checked; none may take the signature
/// headers.
fn custom_headers<'a>(
    ctx: &'a Context,
    signature_header: &str,
) -> Result<Vec<(&'a str, &'a str)>, PluginError> {
    let previous = format!("{signature_header}{PREVIOUS_SUFFIX}");
    let mut headers = Vec::new();
    for entry in &ctx.config {
        let Some(name) = entry.key.strip_prefix(CUSTOM_HEADER_PREFIX) else {
            continue;
        };
        check_header_name(&entry.key, name)?;
        if name.eq_ignore_ascii_case(signature_header) || name.eq_ignore_ascii_case(&previous) {
            return Err(invalid(
                &entry.key,
                format!("header `{name}` carries the signature and cannot be overridden"),
            ));
        }
        check_header_value(&entry.key, &entry.value)?;
        headers.push((name, entry.value.as_str()));
    }
    Ok(headers)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::ConfigEntry;

    fn ctx(config: &[(&str, &str)]) -> Context {
        Context {
            now_ms: 0,
            delivery_id: "dlv_1".into(),
            attempt: 1,
            endpoint: None,
            config: config
                .iter()
                .map(|(key, value)| ConfigEntry {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
        }
    }

    fn error(config: &[(&str, &str)]) -> String {
        match Receiver::from_context(&ctx(config)) {
            Err(PluginError::InvalidConfig(message)) => message,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_todays_headers() {
        let ctx = ctx(&[]);
        let receiver = Receiver::from_context(&ctx).unwrap();
        assert_eq!(receiver.signature_header, "x-hookmesh-signature");
        assert_eq!(receiver.signature_format, BodySignatureFormat::PrefixedHex);
        assert!(!receiver.redirects_succeed);
        assert_eq!(receiver.previous_header(), "x-hookmesh-signature-previous");
    }

    #[test]
    fn every_setting_is_read() {
        let ctx = ctx(&[
            ("signature_header", "X-Event-Signature"),
            ("signature_format", "hex"),
            ("success_statuses", "2xx,3xx"),
            ("header.X-Tenant", "acme corp\t1"),
        ]);
        let receiver = Receiver::from_context(&ctx).unwrap();
        assert_eq!(receiver.signature_header, "X-Event-Signature");
        assert_eq!(receiver.signature_format, BodySignatureFormat::Hex);
        assert!(receiver.redirects_succeed);
        assert_eq!(receiver.headers, vec![("X-Tenant", "acme corp\t1")]);
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(error(&[("header.X-A", "a\r\nX-Injected: 1")])
            .starts_with("`header.X-A`: header values may hold only"));
        assert!(error(&[("header.X-A", "caf\u{e9}")]).contains("byte 0xc3"));
        assert!(error(&[("header.X-A", "a\0")]).contains("0x00"));
        assert!(error(&[("header.Bad Name", "x")]).starts_with("`header.Bad Name`"));
        assert!(error(&[("header.webhook-id", "x")]).contains("set by the plugin"));
        assert!(
            error(&[("signature_header", "webhook-signature")]).starts_with("`signature_header`")
        );
        assert!(error(&[("signature_header", "X-Sig\r\n")]).starts_with("`signature_header`"));
        assert!(error(&[("signature_format", "sha1")]).starts_with("`signature_format`"));
        assert!(error(&[("success_statuses", "3xx")]).starts_with("`success_statuses`"));
        assert!(error(&[
            ("signature_header", "X-Sig"),
            ("header.x-sig-previous", "forged")
        ])
        .contains("carries the signature"));
    }
}
