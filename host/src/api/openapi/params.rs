//! Schemas that depend on the loaded plugins or are shared by several
//! routes: path parameters (`{project}` as projects are named, `{provider}`
//! one of the loaded plugins or a named instance of an inbound one,
//! `{type}` an event type, `{number}` an attempt number) and the config
//! keys a provider's manifest accepts.

use super::RouteDoc;
use crate::event_types::{BUILTIN_EVENT_TYPES, MAX_EVENT_TYPE_LEN, OPERATIONAL_EVENT_TYPES};
use crate::plugin::{Capability, LoadedPlugin, PluginRegistry};
use crate::providers::MAX_INSTANCE_LEN;
use serde_json::{json, Value};

/// A project id: what `POST /projects` and the config accept.
pub const PROJECT_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// An event type: lower-case words separated by dots.
pub const EVENT_TYPE_PATTERN: &str = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$";

/// The schema of path parameter `name` of `route`.
pub(super) fn path(route: &RouteDoc, name: &str, plugins: &PluginRegistry) -> Value {
    match name {
        "project" => json!({ "type": "string", "pattern": PROJECT_ID_PATTERN }),
        "type" if route.method == "put" => declared_type_name(),
        "type" => event_type(),
        "number" => json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }),
        "provider" if route.path.starts_with("/inbound/") => {
            provider(plugins, Some(Capability::Inbound))
        }
        "provider" => provider(plugins, None),
        _ => json!({ "type": "string", "minLength": 1 }),
    }
}

/// An event type (`order.paid`).
pub fn event_type() -> Value {
    json!({ "type": "string", "maxLength": MAX_EVENT_TYPE_LEN, "pattern": EVENT_TYPE_PATTERN })
}

/// A type a project may declare: an event type that is not built in.
pub fn declared_type_name() -> Value {
    let mut schema = event_type();
    let reserved: Vec<&str> = BUILTIN_EVENT_TYPES
        .iter()
        .chain(OPERATIONAL_EVENT_TYPES)
        .copied()
        .collect();
    schema["not"] = json!({ "enum": reserved });
    schema
}

/// The loaded plugins with `capability` (every one when `None`).
pub fn plugin_names(plugins: &PluginRegistry, capability: Option<Capability>) -> Vec<String> {
    plugins
        .iter()
        .filter(|p| capability.is_none_or(|c| p.manifest().capabilities.contains(&c)))
        .map(|p| p.name().to_string())
        .collect()
}

/// `{provider}`: a plugin with `capability`, or a named instance
/// `<plugin>.<instance>` of an inbound plugin.
fn provider(plugins: &PluginRegistry, capability: Option<Capability>) -> Value {
    let names = plugin_names(plugins, capability);
    let inbound = plugin_names(plugins, Some(Capability::Inbound));
    let mut choices = vec![one_of(names)];
    if !inbound.is_empty() {
        let pattern = format!(
            "^({})\\.[a-z0-9_-]{{1,{MAX_INSTANCE_LEN}}}$",
            inbound
                .iter()
                .map(|n| regex_escape(n))
                .collect::<Vec<_>>()
                .join("|")
        );
        choices.push(json!({ "pattern": pattern }));
    }
    json!({
        "type": "string",
        "anyOf": choices,
        "description": "a loaded plugin, or `<plugin>.<instance>` of an inbound one",
    })
}

/// Names of the config keys the plugins accept: exact field names, and
/// `prefix.<Name>` fields as any key with that prefix. Secret fields only
/// when `secrets` (endpoint config may not hold them).
pub fn config_keys<'a>(
    plugins: impl IntoIterator<Item = &'a LoadedPlugin>,
    secrets: bool,
) -> Value {
    let mut exact: Vec<String> = Vec::new();
    let mut patterns: Vec<String> = Vec::new();
    for plugin in plugins {
        for field in &plugin.manifest().config_fields {
            if field.secret && !secrets {
                continue;
            }
            match field.name.find('<') {
                Some(at) => {
                    patterns.push(format!("^{}[\\s\\S]+$", regex_escape(&field.name[..at])))
                }
                None => exact.push(field.name.clone()),
            }
        }
    }
    exact.sort();
    exact.dedup();
    patterns.sort();
    patterns.dedup();
    let mut choices = vec![one_of(exact)];
    choices.extend(patterns.into_iter().map(|p| json!({ "pattern": p })));
    json!({ "anyOf": choices })
}

/// Exactly these values: an `enum`, or the schema nothing meets when there
/// are none (an empty `enum` is not valid JSON Schema).
pub fn one_of(values: Vec<String>) -> Value {
    match values.is_empty() {
        true => json!(false),
        false => json!({ "enum": values }),
    }
}

/// `text` with the regex metacharacters escaped.
pub fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
