//! What a webhook definition must satisfy, whoever writes it: the API
//! (`POST`/`PUT …/integrations/webhooks`) and the config
//! (`[[projects.webhooks]]`) call these same functions. Each returns a
//! [`FieldError`] whose field is relative to the webhook (`provider`,
//! `config.txt`, `events[2]`); the API answers it as a `400`, the config
//! prefixes its TOML path.

use crate::event_types::OPERATIONAL_EVENT_TYPES;
use crate::ingest::{check_filter_path, check_subscription, is_known_type, FieldError};
use crate::plugin::{Capability, LoadedPlugin, PluginRegistry};
use crate::providers::check_keys;
use crate::ratelimit::Rate;
use crate::store::Project;
use hookmesh_sdk::signing::{endpoint_secret_key, SECRET_PREFIX};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most subscriptions one endpoint may have.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Shortest secret a customer may bring (characters); also the fewest key
/// bytes inside a `whsec_<base64>` one.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest secret a customer may bring (characters).
pub const MAX_SECRET_CHARS: usize = 256;

fn bad(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Reads `rate_limit` (`"10/s"`, `"600/m"`, `"100/h"`).
pub fn check_rate(text: &str) -> Result<Rate, FieldError> {
    Rate::parse(text).map_err(|e| bad("rate_limit", e.to_string()))
}

/// Checks filter paths; returns the values as JSON text (as stored).
pub fn check_filter(
    filter: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, FieldError> {
    filter
        .into_iter()
        .map(|(path, value)| {
            check_filter_path(&format!("filter.{path}"), &path)?;
            Ok((path, value.to_string()))
        })
        .collect()
}

fn delivers(plugin: &Arc<LoadedPlugin>) -> bool {
    plugin
        .manifest()
        .capabilities
        .contains(&Capability::Outbound)
}

/// The plugin for `provider`, which must be loaded and able to deliver;
/// the endpoint's `config` keys must be fields of its manifest, none of
/// them secret (endpoint config is stored as is: secrets belong in the
/// project's provider settings, where they are sealed).
pub fn check_provider<'a>(
    plugins: &'a PluginRegistry,
    provider: &str,
    config: &BTreeMap<String, String>,
) -> Result<&'a Arc<LoadedPlugin>, FieldError> {
    let plugin = delivering_plugin(plugins, provider)?;
    match config_key_problems(plugin, config).into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(plugin),
    }
}

/// The loaded plugin named `provider`, if it can deliver.
pub fn delivering_plugin<'a>(
    plugins: &'a PluginRegistry,
    provider: &str,
) -> Result<&'a Arc<LoadedPlugin>, FieldError> {
    if let Some(plugin) = plugins.get(provider).filter(|p| delivers(p)) {
        return Ok(plugin);
    }
    let loaded: Vec<&str> = plugins
        .iter()
        .filter(|p| delivers(p))
        .map(|p| p.name())
        .collect();
    let why = match plugins.get(provider) {
        Some(_) => "only receives webhooks (an inbound source), it cannot deliver".to_string(),
        None => match nearest_name(provider, &loaded) {
            Some(near) => format!("is not a loaded provider (did you mean `{near}`?)"),
            None => "is not a loaded provider".to_string(),
        },
    };
    Err(bad(
        "provider",
        format!("`{provider}` {why}; providers that deliver: {loaded:?}"),
    ))
}

/// Every endpoint `config` key that is not a field of the plugin's
/// manifest, or is a secret one.
pub fn config_key_problems(
    plugin: &LoadedPlugin,
    config: &BTreeMap<String, String>,
) -> Vec<FieldError> {
    config
        .keys()
        .filter_map(|key| check_keys(plugin.manifest(), [key], "config", false).err())
        .collect()
}

/// The loaded name `name` is likely a typo of (at most two edits away).
fn nearest_name<'a>(name: &str, loaded: &[&'a str]) -> Option<&'a str> {
    loaded
        .iter()
        .map(|l| (crate::config::edit_distance(name, l), *l))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| l)
}

/// Validates subscriptions: well-formed patterns, at most
/// [`MAX_SUBSCRIPTIONS`]; for a project with `strict_event_types`, exact
/// types must be in its catalogue (or be `<provider>.…` types of loaded
/// plugins, e.g. `razorpay.payment.captured`). An open project takes any
/// well-formed type, as its ingestion does.
pub fn check_events(
    plugins: &PluginRegistry,
    project: &Project,
    events: &[String],
) -> Result<(), FieldError> {
    let first = count_problem(events)
        .into_iter()
        .chain(event_problems(plugins, project, events))
        .next();
    match first {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// No subscriptions, or more than [`MAX_SUBSCRIPTIONS`].
pub fn count_problem(events: &[String]) -> Option<FieldError> {
    if events.is_empty() {
        return Some(bad(
            "events",
            "must list at least one event type, `prefix.*` or `*` (or be left out for `*`)",
        ));
    }
    (events.len() > MAX_SUBSCRIPTIONS)
        .then(|| bad("events", format!("at most {MAX_SUBSCRIPTIONS} entries")))
}

/// Every subscription of `events` that is malformed, or unknown to a
/// strict project (see [`check_events`]).
pub fn event_problems(
    plugins: &PluginRegistry,
    project: &Project,
    events: &[String],
) -> Vec<FieldError> {
    events
        .iter()
        .enumerate()
        .filter_map(|(i, pattern)| subscription_problem(plugins, project, i, pattern))
        .collect()
}

fn subscription_problem(
    plugins: &PluginRegistry,
    project: &Project,
    i: usize,
    pattern: &str,
) -> Option<FieldError> {
    let field = format!("events[{i}]");
    if let Err(e) = check_subscription(&field, pattern) {
        return Some(e);
    }
    let exact = pattern != "*" && !pattern.ends_with(".*");
    let provider_type = pattern
        .split('.')
        .next()
        .is_some_and(|ns| plugins.get(ns).is_some());
    let unknown = project.strict_event_types
        && exact
        && !provider_type
        && !is_known_type(project, pattern)
        && !OPERATIONAL_EVENT_TYPES.contains(&pattern);
    unknown.then(|| {
        bad(
            field,
            format!(
                "unknown event type `{pattern}` (project `{}` has strict_event_types; declare it, see GET /projects/{}/integrations/events)",
                project.id, project.id
            ),
        )
    })
}

/// A secret a customer brings: 16-256 characters, none a control
/// character; a `whsec_<base64>` one must hold at least 16 key bytes.
pub fn check_secret(secret: &str) -> Result<(), FieldError> {
    let chars = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars)
        || secret.chars().any(char::is_control)
    {
        return Err(bad(
            "secret",
            format!(
                "must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} printable characters: `whsec_<base64>`, or any string, keyed by its UTF-8 bytes (got {chars})"
            ),
        ));
    }
    let standard =
        secret.starts_with(SECRET_PREFIX) && endpoint_secret_key(secret) != secret.as_bytes();
    if standard && endpoint_secret_key(secret).len() < MIN_SECRET_CHARS {
        return Err(bad(
            "secret",
            format!("a `{SECRET_PREFIX}<base64>` secret must hold at least {MIN_SECRET_CHARS} bytes of key"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_provider_names() {
        let loaded = ["webhook", "slack"];
        assert_eq!(nearest_name("webhooks", &loaded), Some("webhook"));
        assert_eq!(nearest_name("slak", &loaded), Some("slack"));
        assert_eq!(nearest_name("slacc", &loaded), Some("slack"));
        assert_eq!(nearest_name("discord", &loaded), None);
    }

    #[test]
    fn secrets_and_filters() {
        assert!(check_secret("short").is_err());
        assert!(check_secret("a-long-enough-secret").is_ok());
        assert_eq!(
            check_secret("x\ny-long-enough-secret").unwrap_err().field,
            "secret"
        );
        let filter = BTreeMap::from([("payload.plan".to_string(), serde_json::json!("pro"))]);
        assert_eq!(check_filter(filter).unwrap()["payload.plan"], "\"pro\"");
        assert!(check_rate("10/s").is_ok());
        assert_eq!(check_rate("fast").unwrap_err().field, "rate_limit");
    }
}
