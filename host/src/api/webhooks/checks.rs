//! What registration and updates check: rate, filter, provider and its
//! config keys, subscriptions (strictly for a strict project), the URL
//! (SSRF guard), a secret the customer brings, and the config's values
//! (by rendering a sample event through the endpoint's plugin).

use super::super::error::ApiError;
use super::super::AppState;
use crate::dispatch::{build_context, call_config};
use crate::ingest::{
    check_filter_path, check_subscription, is_known_type, OPERATIONAL_EVENT_TYPES,
};
use crate::plugin::{CallError, Capability, GuestErrorKind, LoadedPlugin};
use crate::providers::check_keys;
use crate::ratelimit::Rate;
use crate::store::{Endpoint, Project};
use hookmesh_sdk::signing::{endpoint_secret_key, SECRET_PREFIX};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most subscriptions one endpoint may have.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Shortest secret a customer may bring (characters); also the fewest key
/// bytes inside a `whsec_<base64>` one.
const MIN_SECRET_CHARS: usize = 16;
/// Longest secret a customer may bring (characters).
const MAX_SECRET_CHARS: usize = 256;

/// Reads `rate_limit` (`"10/s"`, `"600/m"`, `"100/h"`).
pub(super) fn check_rate(text: &str) -> Result<Rate, ApiError> {
    Rate::parse(text).map_err(|e| ApiError::bad("rate_limit", e.to_string()))
}

/// Checks filter paths; stores values as JSON text.
pub(super) fn check_filter(
    filter: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    filter
        .into_iter()
        .map(|(path, value)| {
            check_filter_path(&format!("filter.{path}"), &path)?;
            Ok((path, value.to_string()))
        })
        .collect()
}

/// The plugin for `provider`, and the endpoint config checked against its manifest.
pub(super) fn check_provider<'a>(
    state: &'a AppState,
    provider: &str,
    config: &BTreeMap<String, String>,
) -> Result<&'a Arc<LoadedPlugin>, ApiError> {
    let outbound =
        |p: &Arc<LoadedPlugin>| p.manifest().capabilities.contains(&Capability::Outbound);
    let Some(plugin) = state.plugins.get(provider).filter(|p| outbound(p)) else {
        let loaded: Vec<&str> = state
            .plugins
            .iter()
            .filter(|p| outbound(p))
            .map(|p| p.name())
            .collect();
        let why = match state.plugins.get(provider) {
            Some(_) => "only receives webhooks (an inbound source), it cannot deliver",
            None => "is not a loaded provider",
        };
        return Err(ApiError::bad(
            "provider",
            format!("`{provider}` {why}; providers that deliver: {loaded:?}"),
        ));
    };
    check_keys(plugin.manifest(), config.keys(), "config", false)?;
    Ok(plugin)
}

/// Validates subscriptions: well-formed patterns; for a project with
/// `strict_event_types`, exact types must be in its catalogue (or the
/// `<provider>.…` types of loaded plugins, e.g. `razorpay.payment.captured`).
pub(super) fn check_events(
    state: &AppState,
    project: &Project,
    events: &[String],
) -> Result<(), ApiError> {
    if events.is_empty() {
        return Err(ApiError::bad(
            "events",
            "must list at least one event type, `prefix.*` or `*` (or be left out for `*`)",
        ));
    }
    if events.len() > MAX_SUBSCRIPTIONS {
        return Err(ApiError::bad(
            "events",
            format!("at most {MAX_SUBSCRIPTIONS} entries"),
        ));
    }
    for (i, pattern) in events.iter().enumerate() {
        let field = format!("events[{i}]");
        check_subscription(&field, pattern)?;
        let exact = pattern != "*" && !pattern.ends_with(".*");
        let provider_type = pattern
            .split('.')
            .next()
            .is_some_and(|ns| state.plugins.get(ns).is_some());
        if project.strict_event_types
            && exact
            && !provider_type
            && !is_known_type(project, pattern)
            && !OPERATIONAL_EVENT_TYPES.contains(&pattern.as_str())
        {
            return Err(ApiError::bad(
                field,
                format!(
                    "unknown event type `{pattern}` (project `{}` has strict_event_types); see GET /projects/{}/integrations/events",
                    project.id, project.id
                ),
            ));
        }
    }
    Ok(())
}

/// URL checks at registration: scheme, SSRF guard (resolving the host).
pub(super) async fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    if url.len() > 2048 {
        return Err(ApiError::bad("url", "must be at most 2048 characters"));
    }
    state
        .egress
        .guard()
        .check_resolved(url)
        .await
        .map_err(|e| ApiError::bad("url", e.to_string()))
}

/// A secret a customer brings: 16-256 characters, none a control
/// character; a `whsec_<base64>` one must hold at least 16 key bytes.
pub(super) fn check_secret(secret: &str) -> Result<(), ApiError> {
    let chars = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars)
        || secret.chars().any(char::is_control)
    {
        return Err(ApiError::bad(
            "secret",
            format!(
                "must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} printable characters: `whsec_<base64>`, or any string, keyed by its UTF-8 bytes (got {chars})"
            ),
        ));
    }
    let standard =
        secret.starts_with(SECRET_PREFIX) && endpoint_secret_key(secret) != secret.as_bytes();
    if standard && endpoint_secret_key(secret).len() < MIN_SECRET_CHARS {
        return Err(ApiError::bad(
            "secret",
            format!("a `{SECRET_PREFIX}<base64>` secret must hold at least {MIN_SECRET_CHARS} bytes of key"),
        ));
    }
    Ok(())
}

/// Renders a sample event through the endpoint's plugin with its config
/// (merged over the project's settings for the provider): a config error
/// that names one of the endpoint's own keys refuses the registration.
/// Errors about settings the endpoint does not carry (a project-level
/// token not set yet) are left for delivery time.
pub(super) async fn check_render(
    state: &AppState,
    plugin: &Arc<LoadedPlugin>,
    endpoint: &Endpoint,
) -> Result<(), ApiError> {
    let Ok(config) = call_config(state.dispatcher.core(), endpoint).await else {
        return Ok(());
    };
    let now = crate::now_ms();
    let Ok(ctx) = build_context(&state.secrets, endpoint, config, "dlv_check", 1, now) else {
        return Ok(());
    };
    let event = crate::plugin::Event {
        id: "evt_check".into(),
        event_type: "test.ping".into(),
        resource: None,
        resource_id: None,
        payload: b"{}".to_vec(),
        time_created_ms: now,
    };
    let Err(CallError::Plugin {
        kind: GuestErrorKind::InvalidConfig,
        message,
        ..
    }) = plugin.render_async(event, ctx).await
    else {
        return Ok(());
    };
    let message = message.strip_prefix("invalid config: ").unwrap_or(&message);
    let named = message
        .strip_prefix('`')
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key)
        .filter(|key| endpoint.config.contains_key(*key));
    match named {
        Some(key) => Err(ApiError::bad(format!("config.{key}"), message)),
        None => Ok(()),
    }
}
