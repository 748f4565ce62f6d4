//! The `hmac` source's config fields, read into typed [`Settings`].
//!
//! | field | meaning |
//! |---|---|
//! | `secret` | the HMAC key (secret); signature mode |
//! | `signature_header` | header carrying the signature, e.g. `X-Signature` (required with `secret`) |
//! | `algorithm` | `sha256` (default), `sha512`, or `sha1` (weak: legacy senders only) |
//! | `encoding` | `hex` (default) or `base64` |
//! | `signature_prefix` | text before the signature, e.g. `sha256=` |
//! | `signed_payload` | `body` (default) or `timestamp.body`: `"<timestamp>.<raw body>"` |
//! | `timestamp_header` | header with the Unix-seconds timestamp (required with `timestamp.body`) |
//! | `tolerance_secs` | how old or ahead the timestamp may be (default 300) |
//! | `api_key` | a key to expect instead of a signature (secret) |
//! | `api_key_header` | header carrying it (default `X-API-Key`) |
//! | `event_type` / `event_type_header` / `event_type_pointer` | the type: fixed, from a header, or from a JSON pointer into the body (exactly one) |
//! | `event_prefix` | prepended to every type (default `hmac`) |
//! | `event_id_header` / `event_id_pointer` | the sender's event id, for deduplication (at most one) |
//!
//! Exactly one of `secret` and `api_key` must be set.

use hookmesh_sdk::inbound::{is_valid_event_type, tolerance_secs, DEFAULT_TOLERANCE_SECS};
use hookmesh_sdk::signing::{Algorithm, Encoding};
use hookmesh_sdk::{ConfigField, Context, PluginError};

/// Every field, in the manifest's order. One of `secret` and `api_key`
/// (group `credential`) and one source of the event type (group
/// `event_type`) must be set in the project's settings.
pub fn fields() -> Vec<ConfigField> {
    vec![
        ConfigField::new("secret").describe("HMAC key the sender signs with (signature mode; or set `api_key`)").secret().one_of("credential").required(),
        ConfigField::new("signature_header").describe("header carrying the signature, e.g. `X-Signature` (required with `secret`)"),
        ConfigField::new("algorithm").describe("`sha256` (default), `sha512`, or `sha1` — weak, only for legacy senders"),
        ConfigField::new("encoding").describe("how the signature is written: `hex` (default) or `base64`"),
        ConfigField::new("signature_prefix").describe("text before the signature in its header, e.g. `sha256=`"),
        ConfigField::new("signed_payload").describe("what is signed: `body` (default, the raw body) or `timestamp.body` (`<timestamp>.<raw body>`)"),
        ConfigField::new("timestamp_header").describe("header with the Unix-seconds timestamp (required with `timestamp.body`)"),
        ConfigField::new("tolerance_secs").describe("seconds the timestamp may be old or ahead (default 300)"),
        ConfigField::new("api_key").describe("a key the sender sends instead of a signature, for senders that cannot sign (or set `secret`)").secret().one_of("credential").required(),
        ConfigField::new("api_key_header").describe("header carrying `api_key` (default `X-API-Key`)"),
        ConfigField::new("event_type").describe("a fixed event type, e.g. `monitor.alert` (or `event_type_header`/`event_type_pointer`)").one_of("event_type").required(),
        ConfigField::new("event_type_header").describe("header holding the event type, e.g. `X-Event-Type`").one_of("event_type").required(),
        ConfigField::new("event_type_pointer").describe("JSON pointer to the event type in the body, e.g. `/type`").one_of("event_type").required(),
        ConfigField::new("event_prefix").describe("prepended to every event type (default `hmac`)"),
        ConfigField::new("event_id_header").describe("header holding the sender's event id, for deduplication"),
        ConfigField::new("event_id_pointer").describe("JSON pointer to the sender's event id in the body, e.g. `/id`"),
    ]
}

/// The default API-key header.
pub const DEFAULT_API_KEY_HEADER: &str = "X-API-Key";
/// The default event prefix.
pub const DEFAULT_EVENT_PREFIX: &str = "hmac";

/// How requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// An HMAC signature in a header.
    Signature(Signature),
    /// A key in a header, compared in constant time.
    ApiKey {
        /// The header.
        header: String,
        /// The expected key.
        key: String,
    },
}

/// A signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The HMAC key.
    pub secret: String,
    /// The header carrying the signature.
    pub header: String,
    /// The hash.
    pub algorithm: Algorithm,
    /// Hex or base64.
    pub encoding: Encoding,
    /// Text before the signature (may be empty).
    pub prefix: String,
    /// What is signed.
    pub signed: Signed,
}

/// What the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// The raw body.
    Body,
    /// `"<timestamp>.<raw body>"`, the timestamp from `header`, within
    /// `tolerance_secs` of the clock.
    TimestampBody {
        /// The timestamp header.
        header: String,
        /// The tolerance.
        tolerance_secs: u64,
    },
}

/// Where a value (type or id) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Always this value.
    Fixed(String),
    /// A request header.
    Header(String),
    /// A JSON pointer into the body.
    Pointer(String),
}

/// The source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Authentication.
    pub auth: Auth,
    /// The event type's source.
    pub event_type: Source,
    /// The event id's source, if any.
    pub event_id: Option<Source>,
    /// Prepended to every type.
    pub event_prefix: String,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

/// A field's trimmed value, `None` when unset or blank.
fn value<'a>(ctx: &'a Context, name: &str) -> Option<&'a str> {
    ctx.config_value(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads and checks the config; errors name the field.
    pub fn from_context(ctx: &Context) -> Result<Self, PluginError> {
        let event_prefix = value(ctx, "event_prefix")
            .unwrap_or(DEFAULT_EVENT_PREFIX)
            .to_string();
        if !is_valid_event_type(&event_prefix) {
            return Err(invalid(format!(
                "`event_prefix` `{event_prefix}` must be dot-separated words of a-z, 0-9, `_` or `-`"
            )));
        }
        let event_type = one_source(
            ctx,
            ["event_type", "event_type_header", "event_type_pointer"],
        )?
        .ok_or_else(|| {
            invalid("set one of `event_type`, `event_type_header` or `event_type_pointer`".into())
        })?;
        if let Source::Fixed(fixed) = &event_type {
            if !is_valid_event_type(&format!("{event_prefix}.{fixed}")) {
                return Err(invalid(format!(
                    "`event_type` `{fixed}` must be dot-separated words of a-z, 0-9, `_` or `-`"
                )));
            }
        }
        let event_id = one_source(ctx, ["", "event_id_header", "event_id_pointer"])?;
        Ok(Settings {
            auth: auth(ctx)?,
            event_type,
            event_id,
            event_prefix,
        })
    }
}

/// At most one of a fixed value, a header and a pointer (`""`: no such field).
fn one_source(
    ctx: &Context,
    [fixed, header, pointer]: [&str; 3],
) -> Result<Option<Source>, PluginError> {
    let set: Vec<(&str, &str)> = [fixed, header, pointer]
        .into_iter()
        .filter(|name| !name.is_empty())
        .filter_map(|name| value(ctx, name).map(|v| (name, v)))
        .collect();
    match set.as_slice() {
        [] => Ok(None),
        [(name, v)] if *name == fixed => Ok(Some(Source::Fixed(v.to_string()))),
        [(name, v)] if *name == header => Ok(Some(Source::Header(v.to_string()))),
        [(name, v)] => {
            if !v.starts_with('/') {
                return Err(invalid(format!(
                    "`{name}` must be a JSON pointer starting with `/`, e.g. `/type`; got `{v}`"
                )));
            }
            Ok(Some(Source::Pointer(v.to_string())))
        }
        many => {
            let names: Vec<String> = many.iter().map(|(n, _)| format!("`{n}`")).collect();
            Err(invalid(format!("set only one of {}", names.join(", "))))
        }
    }
}

fn auth(ctx: &Context) -> Result<Auth, PluginError> {
    match (value(ctx, "secret"), value(ctx, "api_key")) {
        (Some(_), Some(_)) => Err(invalid(
            "set `secret` (signed requests) or `api_key` (key-only requests), not both".into(),
        )),
        (None, None) => Err(invalid(
            "set `secret` (signed requests) or `api_key` (key-only requests)".into(),
        )),
        (None, Some(key)) => Ok(Auth::ApiKey {
            header: value(ctx, "api_key_header")
                .unwrap_or(DEFAULT_API_KEY_HEADER)
                .to_string(),
            key: key.to_string(),
        }),
        (Some(secret), None) => signature(ctx, secret).map(Auth::Signature),
    }
}

fn signature(ctx: &Context, secret: &str) -> Result<Signature, PluginError> {
    let header = value(ctx, "signature_header")
        .ok_or_else(|| invalid("`signature_header` is required with `secret`".into()))?;
    let algorithm = match value(ctx, "algorithm") {
        None => Algorithm::Sha256,
        Some(name) => Algorithm::parse(name).ok_or_else(|| {
            invalid(format!(
                "`algorithm` must be `sha256`, `sha512` or `sha1`; got `{name}`"
            ))
        })?,
    };
    let encoding = match value(ctx, "encoding") {
        None => Encoding::Hex,
        Some(name) => Encoding::parse(name).ok_or_else(|| {
            invalid(format!(
                "`encoding` must be `hex` or `base64`; got `{name}`"
            ))
        })?,
    };
    Ok(Signature {
        secret: secret.to_string(),
        header: header.to_string(),
        algorithm,
        encoding,
        prefix: value(ctx, "signature_prefix")
            .unwrap_or_default()
            .to_string(),
        signed: signed(ctx)?,
    })
}

fn signed(ctx: &Context) -> Result<Signed, PluginError> {
    match value(ctx, "signed_payload").unwrap_or("body") {
        "body" => Ok(Signed::Body),
        "timestamp.body" => Ok(Signed::TimestampBody {
            header: value(ctx, "timestamp_header")
                .ok_or_else(|| {
                    invalid(
                        "`timestamp_header` is required with `signed_payload` = `timestamp.body`"
                            .into(),
                    )
                })?
                .to_string(),
            tolerance_secs: tolerance_secs(ctx, "tolerance_secs", DEFAULT_TOLERANCE_SECS)?,
        }),
        other => Err(invalid(format!(
            "`signed_payload` must be `body` or `timestamp.body`; got `{other}`"
        ))),
    }
}
