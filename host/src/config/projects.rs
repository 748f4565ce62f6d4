//! `[ingest]` and `[management]` limits and declarative `[[projects]]`:
//! projects, their keys and webhooks written in the TOML, so a deployment
//! is reproducible from its config (start-up reconciles the store with
//! them: [`crate::declare::reconcile`]). Secrets and keys may be `env:NAME` or
//! `file:PATH`.
//!
//! ```toml
//! [[projects]]
//! id = "acme"
//! name = "Acme"
//! secret_key = "env:ACME_SECRET_KEY"            # hm_sk_…, stored hashed
//! publishable_key = "env:ACME_PUBLISHABLE_KEY"  # hm_pk_…
//! custom_event_types = ["order.paid"]          # names only, or:
//! strict_event_types = false                   # true: only the catalogue's types
//! ingest_limit = { events_per_second = 20, burst = 40 }  # absent: the [ingest] default
//! retention = "7d"                             # 1s-365d; absent: storage.retention
//!
//! [[projects.event_types]]                     # a type with a description and schema
//! name = "user.signup"
//! description = "A user finished signing up"
//! schema = { type = "object", required = ["email"] }   # or JSON text
//!
//! [projects.providers.slack]                   # provider settings
//! config = { signing_secret = "env:ACME_SLACK_SIGNING_SECRET" }
//!
//! [[projects.webhooks]]
//! id = "ep_acme_orders"
//! url = "https://acme.example/hooks"
//! events = ["order.*"]
//! secret = "env:ACME_ORDERS_SECRET"             # optional: generated and kept when absent
//! filter = { "payload.plan" = "pro" }
//! active = true                                # absent: as stored
//! ```
//!
//! Here each value is checked on its own; what needs the loaded plugins
//! (provider, config fields, templates, a strict project's types) is
//! checked by [`crate::declare::check`], with the API's own checks.

use super::Check;
use crate::declare::checks;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[ingest]`
#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// Sustained events per second per project.
    pub events_per_second: u32,
    /// Burst above the sustained rate.
    pub burst: u32,
}

/// `[management]`: the management API's limit, per caller (the admin
/// token, or each key).
#[derive(Debug, Clone, Copy)]
pub struct ManagementSettings {
    /// Sustained requests per second per caller.
    pub requests_per_second: u32,
    /// Burst above the sustained rate.
    pub burst: u32,
}

/// A project declared in the config.
#[derive(Debug, Clone)]
pub struct ProjectSpec {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Resolved secret key, if declared.
    pub secret_key: Option<String>,
    /// Resolved publishable key, if declared.
    pub publishable_key: Option<String>,
    /// Declared event types (`custom_event_types` and `[[projects.event_types]]`).
    pub custom_event_types: Vec<crate::store::CustomEventType>,
    /// Refuse types outside the catalogue.
    pub strict_event_types: bool,
    /// Its own ingestion limit; `None`: the `[ingest]` default.
    pub ingest_limit: Option<crate::store::IngestLimit>,
    /// Its own retention; `None`: `storage.retention`.
    pub retention: Option<std::time::Duration>,
    /// Its webhooks.
    pub webhooks: Vec<WebhookSpec>,
    /// Its provider settings, by provider name.
    pub providers: BTreeMap<String, ProviderSpec>,
}

/// A project's settings for one provider, declared in the config
/// (`[projects.providers.slack]`); values may be `env:NAME` or `file:PATH`.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    /// On or off.
    pub enabled: bool,
    /// Resolved values (checked against the plugin's manifest at start-up).
    pub config: BTreeMap<String, String>,
}

/// A webhook declared in the config.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    /// Stable id.
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Subscriptions.
    pub events: Vec<String>,
    /// Resolved signing secret; `None`: one is generated when the webhook
    /// is first applied and kept across restarts (as the API does).
    pub secret: Option<String>,
    /// Deliver in order.
    pub ordered: bool,
    /// Deliveries per time (`"10/s"`), shared by every instance.
    pub rate_limit: Option<crate::ratelimit::Rate>,
    /// Plugin name.
    pub provider: String,
    /// Provider config.
    pub config: BTreeMap<String, String>,
    /// Payload filter: path → JSON value text (as the API stores it).
    pub filter: BTreeMap<String, String>,
    /// `Some`: on or off as declared; `None`: as stored (on when new).
    pub active: Option<bool>,
    /// Free text.
    pub description: String,
    /// How long a replaced declared secret keeps signing beside the new
    /// one (`security.rotation_grace`, as API rotation).
    pub rotation_grace: std::time::Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIngest {
    events_per_second: u32,
    burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManagement {
    requests_per_second: u32,
    burst: u32,
}

/// `[[projects]] ingest_limit`: `burst` defaults to two seconds' worth.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIngestLimit {
    events_per_second: u64,
    #[serde(default)]
    burst: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    id: String,
    name: Option<String>,
    secret_key: Option<String>,
    publishable_key: Option<String>,
    #[serde(default)]
    custom_event_types: Vec<String>,
    #[serde(default)]
    strict_event_types: bool,
    #[serde(default)]
    ingest_limit: Option<RawIngestLimit>,
    #[serde(default)]
    retention: Option<String>,
    #[serde(default)]
    event_types: Vec<RawEventType>,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEventType {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// A TOML table, or JSON text.
    #[serde(default)]
    schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    id: String,
    url: String,
    events: Vec<String>,
    secret: Option<String>,
    #[serde(default = "yes")]
    ordered: bool,
    #[serde(default)]
    rate_limit: Option<String>,
    #[serde(default = "webhook")]
    provider: String,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    filter: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    description: String,
}

fn yes() -> bool {
    true
}

fn webhook() -> String {
    "webhook".into()
}

pub(super) fn validate_ingest(check: &mut Check, raw: RawIngest) -> IngestSettings {
    if raw.events_per_second == 0 {
        check.problem("ingest.events_per_second", "must be at least 1");
    }
    if raw.burst < raw.events_per_second {
        check.problem(
            "ingest.burst",
            format!(
                "{} is below events_per_second ({})",
                raw.burst, raw.events_per_second
            ),
        );
    }
    IngestSettings {
        events_per_second: raw.events_per_second,
        burst: raw.burst,
    }
}

pub(super) fn validate_management(check: &mut Check, raw: RawManagement) -> ManagementSettings {
    if raw.requests_per_second == 0 {
        check.problem("management.requests_per_second", "must be at least 1");
    }
    if raw.burst < raw.requests_per_second {
        check.problem(
            "management.burst",
            format!(
                "{} is below requests_per_second ({})",
                raw.burst, raw.requests_per_second
            ),
        );
    }
    ManagementSettings {
        requests_per_second: raw.requests_per_second,
        burst: raw.burst,
    }
}

/// A project's `ingest_limit`, checked as the API checks it.
fn project_limit(
    check: &mut Check,
    at: &str,
    raw: Option<RawIngestLimit>,
) -> Option<crate::store::IngestLimit> {
    let raw = raw?;
    match crate::store::IngestLimit::new(raw.events_per_second, raw.burst) {
        Ok(limit) => Some(limit),
        Err(e) => {
            check.problem(&format!("{at}.ingest_limit.{}", e.field()), e.to_string());
            None
        }
    }
}

/// A project's `retention`, checked as the API checks it.
fn project_retention(
    check: &mut Check,
    at: &str,
    raw: Option<String>,
) -> Option<std::time::Duration> {
    let raw = raw?;
    match crate::api::duration::PROJECT_RETENTION.check(&raw) {
        Ok(retention) => Some(retention),
        Err(message) => {
            check.problem(&format!("{at}.retention"), message);
            None
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn key(check: &mut Check, field: &str, value: Option<&str>, prefix: &str) -> Option<String> {
    let value = value?;
    let resolved = check.secret(field, Some(value));
    if !resolved.is_empty() && (!resolved.starts_with(prefix) || resolved.len() < prefix.len() + 32)
    {
        check.problem(
            field,
            format!("must start with `{prefix}` followed by at least 32 characters"),
        );
    }
    Some(resolved)
}

pub(super) fn validate_projects(
    check: &mut Check,
    raw: Vec<RawProject>,
    security: &super::SecuritySettings,
) -> Vec<ProjectSpec> {
    let guard = crate::egress::SsrfGuard::new(security);
    let mut seen_projects = Vec::new();
    let mut seen_webhooks = Vec::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, project)| {
            let at = format!("projects[{i}]");
            if !valid_id(&project.id) {
                check.problem(
                    &format!("{at}.id"),
                    "must be 1-64 characters of a-z, A-Z, 0-9, `_` or `-`",
                );
            }
            if seen_projects.contains(&project.id) {
                check.problem(
                    &format!("{at}.id"),
                    format!("`{}` is declared twice", project.id),
                );
            }
            seen_projects.push(project.id.clone());
            let custom_event_types =
                declared_types(check, &at, project.custom_event_types, project.event_types);
            let ingest_limit = project_limit(check, &at, project.ingest_limit);
            let retention = project_retention(check, &at, project.retention);
            let webhooks = project
                .webhooks
                .into_iter()
                .enumerate()
                .map(|(j, w)| {
                    let mut spec = validate_webhook(
                        check,
                        &format!("{at}.webhooks[{j}]"),
                        w,
                        &guard,
                        &mut seen_webhooks,
                    );
                    spec.rotation_grace = security.rotation_grace;
                    spec
                })
                .collect();
            let providers = project
                .providers
                .into_iter()
                .map(|(name, raw)| {
                    let config = raw
                        .config
                        .into_iter()
                        .map(|(key, value)| {
                            let resolved = check.secret(
                                &format!("{at}.providers.{name}.config.{key}"),
                                Some(&value),
                            );
                            (key, resolved)
                        })
                        .collect();
                    (
                        name,
                        ProviderSpec {
                            enabled: raw.enabled,
                            config,
                        },
                    )
                })
                .collect();
            ProjectSpec {
                providers,
                name: project.name.unwrap_or_else(|| project.id.clone()),
                secret_key: key(
                    check,
                    &format!("{at}.secret_key"),
                    project.secret_key.as_deref(),
                    "hm_sk_",
                ),
                publishable_key: key(
                    check,
                    &format!("{at}.publishable_key"),
                    project.publishable_key.as_deref(),
                    "hm_pk_",
                ),
                id: project.id,
                custom_event_types,
                strict_event_types: project.strict_event_types,
                ingest_limit,
                retention,
                webhooks,
            }
        })
        .collect()
}

/// The declared types of a project: `custom_event_types` names, then
/// `[[projects.event_types]]` entries (each checked; a name given twice is
/// a problem).
fn declared_types(
    check: &mut Check,
    at: &str,
    names: Vec<String>,
    full: Vec<RawEventType>,
) -> Vec<crate::store::CustomEventType> {
    use crate::event_types::{check_description, check_schema, FieldError};
    use crate::store::CustomEventType;
    let mut problem = |e: FieldError| check.problem(&e.field, e.message);
    let mut types: Vec<CustomEventType> = Vec::new();
    let named = names.into_iter().enumerate().map(|(j, name)| {
        (
            format!("{at}.custom_event_types[{j}]"),
            RawEventType {
                name,
                description: None,
                schema: None,
            },
        )
    });
    let detailed = full
        .into_iter()
        .enumerate()
        .map(|(j, raw)| (format!("{at}.event_types[{j}]"), raw));
    for (field, raw) in named.chain(detailed) {
        if let Err(e) = crate::ingest::check_type_name(&field, &raw.name) {
            problem(e);
            continue;
        }
        if types.iter().any(|t| t.name == raw.name) {
            problem(FieldError {
                field,
                message: format!("`{}` is declared twice", raw.name),
            });
            continue;
        }
        if let Some(Err(e)) = raw
            .description
            .as_deref()
            .map(|d| check_description(&format!("{field}.description"), d))
        {
            problem(e);
        }
        let schema = match raw.schema {
            Some(serde_json::Value::String(text)) => match serde_json::from_str(&text) {
                Ok(value) => Some(value),
                Err(e) => {
                    problem(FieldError {
                        field: format!("{field}.schema"),
                        message: format!("not JSON: {e}"),
                    });
                    None
                }
            },
            other => other,
        };
        let schema = match schema.map(|s| check_schema(&format!("{field}.schema"), &s)) {
            Some(Ok(text)) => Some(text),
            Some(Err(e)) => {
                problem(e);
                None
            }
            None => None,
        };
        types.push(CustomEventType {
            name: raw.name,
            description: raw.description,
            schema,
        });
    }
    if let Err(e) = crate::event_types::check_schema_total(&format!("{at}.event_types"), &types) {
        problem(e);
    }
    types
}

fn validate_webhook(
    check: &mut Check,
    at: &str,
    w: RawWebhook,
    guard: &crate::egress::SsrfGuard,
    seen: &mut Vec<String>,
) -> WebhookSpec {
    if !valid_id(&w.id) {
        check.problem(
            &format!("{at}.id"),
            "must be 1-64 characters of a-z, A-Z, 0-9, `_` or `-`",
        );
    }
    if seen.contains(&w.id) {
        check.problem(&format!("{at}.id"), format!("`{}` is declared twice", w.id));
    }
    seen.push(w.id.clone());
    // The API's URL checks but DNS: scheme, credentials, literal addresses.
    if w.url.len() > 2048 {
        check.problem(&format!("{at}.url"), "must be at most 2048 characters");
    } else if let Err(e) = guard.check_url(&w.url) {
        check.problem(&format!("{at}.url"), e.to_string());
    }
    if w.events.is_empty() {
        check.problem(&format!("{at}.events"), "must list at least one event type");
    }
    for (k, pattern) in w.events.iter().enumerate() {
        if let Err(e) = crate::ingest::check_subscription(&format!("{at}.events[{k}]"), pattern) {
            check.problem(&e.field, e.message);
        }
    }
    let secret = w.secret.as_deref().map(|value| {
        let secret = check.secret(&format!("{at}.secret"), Some(value));
        if !secret.is_empty() {
            if let Err(e) = checks::check_secret(&secret) {
                check.problem(&format!("{at}.{}", e.field), e.message);
            }
        }
        secret
    });
    let rate_limit = w
        .rate_limit
        .as_deref()
        .and_then(|text| match checks::check_rate(text) {
            Ok(rate) => Some(rate),
            Err(e) => {
                check.problem(&format!("{at}.{}", e.field), e.message);
                None
            }
        });
    let filter = checks::check_filter(w.filter).unwrap_or_else(|e| {
        check.problem(&format!("{at}.{}", e.field), e.message);
        BTreeMap::new()
    });
    WebhookSpec {
        id: w.id,
        url: w.url,
        events: w.events,
        secret,
        ordered: w.ordered,
        rate_limit,
        provider: w.provider,
        config: w.config,
        filter,
        active: w.active,
        description: w.description,
        rotation_grace: std::time::Duration::ZERO,
    }
}
