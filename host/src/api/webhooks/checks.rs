//! What registration and updates check: rate, filter, provider and its
//! config keys, subscriptions (strictly for a strict project), the URL
//! (SSRF guard), a secret the customer brings, and the config's templates
//! (rendered on a sample event of each subscribed type). All but the URL
//! are the checks the config's `[[projects.webhooks]]` pass too
//! ([`crate::declare::checks`], [`crate::declare::templates`]); these
//! wrappers answer their errors as `400`s.

use super::super::error::ApiError;
use super::super::AppState;
use crate::declare::{checks, templates};
use crate::dispatch::{build_context, call_config};
use crate::plugin::LoadedPlugin;
use crate::ratelimit::Rate;
use crate::store::{Endpoint, Project};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Reads `rate_limit` (`"10/s"`, `"600/m"`, `"100/h"`).
pub(super) fn check_rate(text: &str) -> Result<Rate, ApiError> {
    Ok(checks::check_rate(text)?)
}

/// Checks filter paths; stores values as JSON text.
pub(super) fn check_filter(
    filter: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    Ok(checks::check_filter(filter)?)
}

/// The plugin for `provider`, and the endpoint config checked against its manifest.
pub(super) fn check_provider<'a>(
    state: &'a AppState,
    provider: &str,
    config: &BTreeMap<String, String>,
) -> Result<&'a Arc<LoadedPlugin>, ApiError> {
    Ok(checks::check_provider(&state.plugins, provider, config)?)
}

/// Validates subscriptions (see [`checks::check_events`]).
pub(super) fn check_events(
    state: &AppState,
    project: &Project,
    events: &[String],
) -> Result<(), ApiError> {
    Ok(checks::check_events(&state.plugins, project, events)?)
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

/// A secret a customer brings (see [`checks::check_secret`]).
pub(super) fn check_secret(secret: &str) -> Result<(), ApiError> {
    Ok(checks::check_secret(secret)?)
}

/// Renders a sample event of each subscribed type through the endpoint's
/// plugin with its config (merged over the project's settings for the
/// provider): a template syntax error, or a render error on a sample
/// built from a type's schema, in one of the endpoint's own keys refuses
/// the change (`400` on `config.<key>`, with the template line). An
/// endpoint that cannot send now (provider disabled) is not rendered.
pub(super) async fn check_render(
    state: &AppState,
    plugin: &Arc<LoadedPlugin>,
    project: &Project,
    endpoint: &Endpoint,
) -> Result<(), ApiError> {
    let Ok(config) = call_config(state.dispatcher.core(), endpoint).await else {
        return Ok(());
    };
    let now = crate::now_ms();
    let Ok(ctx) = build_context(&state.secrets, endpoint, config, "dlv_check", 1, now) else {
        return Ok(());
    };
    for sample in templates::samples(project, &endpoint.events, now) {
        let rendered = plugin.render_async(sample.event.clone(), ctx.clone()).await;
        if let Err(error) = &rendered {
            templates::verdict(&endpoint.config, &sample, error)?;
        }
    }
    Ok(())
}
