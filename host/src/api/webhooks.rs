//! `…/integrations/webhooks`: register, list, read, update, revoke, rotate
//! the secret, send a test event. Secrets are shown only by create and
//! rotate.
//!
//! - `events` defaults to `["*"]` (every event but the operational ones).
//! - A secret the customer brings is any 16-256 characters, none a control
//!   character: `whsec_<base64>` keys Standard Webhooks as its base64
//!   content, any other string by its UTF-8 bytes; answers carry the
//!   `whsec_` form as `standard_webhooks_secret` for Standard Webhooks
//!   verifiers.
//! - The endpoint's config is checked at registration (and when its
//!   config or events change) by rendering a sample event of each
//!   subscribed type through its plugin (payloads built from the types'
//!   JSON Schemas where declared): a template syntax error, or a config
//!   error naming one of the endpoint's keys (`` `header.X-A`: … ``), or
//!   a render error on a schema-built sample, is a `400` on
//!   `config.<key>` naming the template line.
//!
//! Layout: the handlers here; [`checks`] what registration and updates
//! check; [`test_event`] the test send.

mod checks;
mod test_event;

use super::body::{read_json, read_json_or_default};
use super::duration::DurationRule;
use super::error::ApiError;
use super::openapi::params::{config_keys, event_type};
use super::openapi::{doc, nullable, object, sized, string, Auth, RouteDoc, NO_CONTROL};
use super::{load_endpoint, manage, time_ms, AppState};
use crate::declare::checks::{MAX_SECRET_CHARS, MAX_SUBSCRIPTIONS, MIN_SECRET_CHARS};
use crate::plugin::{Capability, LoadedPlugin, PluginRegistry};
use crate::signing::{new_id, new_webhook_secret};
use crate::store::{Endpoint, SealedSecret};
use actix_web::{web, HttpRequest, HttpResponse};
use checks::{
    check_events, check_filter, check_provider, check_rate, check_render, check_secret, check_url,
};
use hookmesh_sdk::signing::standard_webhooks_form;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The default provider.
const DEFAULT_PROVIDER: &str = "webhook";

/// An exact subscription: an event type (at most 128 characters).
const EXACT_SUBSCRIPTION_PATTERN: &str = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$";
/// A prefix subscription: `prefix.*` (the prefix at most 128 characters).
const PREFIX_SUBSCRIPTION_PATTERN: &str = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*\\.\\*$";
/// A rate: `<1-1000000>/<s|m|h>`.
const RATE_PATTERN: &str =
    "^\\s*\\+?0*([1-9][0-9]{0,5}|1000000)\\s*/\\s*(s|sec|second|m|min|minute|h|hour)\\s*$";
/// A filter path: `event`, `resource`, `resource_id` or `payload.<key>[.<key>…]`.
const FILTER_PATH_PATTERN: &str = "^(event|resource|resource_id|payload(\\.[^.]+)+)$";

/// A rotated-out secret's grace: at most 30 days.
const GRACE: DurationRule = DurationRule {
    min_secs: 0,
    max_secs: 30 * 24 * 3600,
    units: "smhd",
    meaning: "how long the old secret keeps signing (default: `security.rotation_grace`)",
};

/// The fields of create; `update` leaves out those only create takes.
fn webhook_properties(plugins: &PluginRegistry, update: bool) -> Vec<(&'static str, Value)> {
    let outbound: Vec<&LoadedPlugin> = plugins
        .iter()
        .filter(|p| p.manifest().capabilities.contains(&Capability::Outbound))
        .map(|p| p.as_ref())
        .collect();
    let mut properties = vec![
        (
            "url",
            json!({ "type": "string", "format": "uri", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                    "description": "http(s) URL whose host must resolve to an address the host's egress policy allows (https only unless it allows http)" }),
        ),
        (
            "events",
            json!({ "type": "array", "minItems": 1, "maxItems": MAX_SUBSCRIPTIONS,
                    "items": { "anyOf": [
                        { "const": "*" },
                        { "type": "string", "maxLength": 128, "pattern": EXACT_SUBSCRIPTION_PATTERN },
                        { "type": "string", "maxLength": 130, "pattern": PREFIX_SUBSCRIPTION_PATTERN },
                    ] },
                    "description": "`*` when absent; a strict project's exact types must be in its catalogue" }),
        ),
        ("description", nullable(string())),
        ("ordered", nullable(json!({ "type": "boolean" }))),
        (
            "rate_limit",
            json!({ "type": ["string", "null"], "pattern": RATE_PATTERN, "examples": ["10/s", "600/m"] }),
        ),
        ("active", nullable(json!({ "type": "boolean" }))),
        (
            "config",
            json!({ "type": "object", "propertyNames": config_keys(outbound.iter().copied(), false),
                    "additionalProperties": { "type": "string" },
                    "description": "the provider's non-secret fields (see GET …/integrations/providers/{provider}); values are checked by rendering a sample event" }),
        ),
        (
            "filter",
            json!({ "type": "object", "propertyNames": { "pattern": FILTER_PATH_PATTERN } }),
        ),
    ];
    if !update {
        properties.push((
            "secret",
            json!({ "type": ["string", "null"], "minLength": MIN_SECRET_CHARS, "maxLength": MAX_SECRET_CHARS, "pattern": NO_CONTROL,
                    "description": "`whsec_<base64>` (at least 16 bytes of key) or any string" }),
        ));
        let mut names: Vec<Value> = outbound.iter().map(|p| json!(p.name())).collect();
        names.push(Value::Null);
        properties.push((
            "provider",
            json!({ "type": ["string", "null"], "enum": names }),
        ));
        return properties;
    }
    // Every field of an update is optional; `null` leaves these as they are
    // (and removes `rate_limit`, which takes `null` already).
    for (name, schema) in &mut properties {
        if ["url", "events", "config", "filter"].contains(name) {
            *schema = nullable(schema.take());
        }
    }
    properties
}

/// Body of create.
fn webhook_schema(plugins: &PluginRegistry) -> Value {
    object(&["url"], &webhook_properties(plugins, false))
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects/{project}/integrations/webhooks",
            "Register a webhook; its secret is returned once",
            Auth::Manage,
            Some(webhook_schema),
            &[201, 400, 401, 403, 404],
            || web::post().to(create),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks",
            "List webhooks",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(list),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}",
            "Read a webhook (never its secret)",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show),
        ),
        doc(
            "put",
            "/projects/{project}/integrations/webhooks/{id}",
            "Update url, events, description, ordered, active, config or filter",
            Auth::Manage,
            Some(|plugins| object(&[], &webhook_properties(plugins, true))),
            &[200, 400, 401, 403, 404],
            || web::put().to(update),
        ),
        doc(
            "delete",
            "/projects/{project}/integrations/webhooks/{id}",
            "Revoke a webhook",
            Auth::Manage,
            None,
            &[204, 401, 403, 404],
            || web::delete().to(revoke),
        ),
        doc(
            "post",
            "/projects/{project}/integrations/webhooks/{id}/rotate",
            "New secret (generated, or the customer's `secret`), returned once; the old one signs during the grace",
            Auth::Manage,
            Some(|_| {
                object(
                    &[],
                    &[
                        (
                            "grace",
                            nullable(GRACE.schema()),
                        ),
                        (
                            "secret",
                            json!({ "type": ["string", "null"], "minLength": MIN_SECRET_CHARS, "maxLength": MAX_SECRET_CHARS, "pattern": NO_CONTROL }),
                        ),
                    ],
                )
            }),
            &[200, 400, 401, 403, 404],
            || web::post().to(rotate),
        )
        .with_optional_body(),
        doc(
            "post",
            "/projects/{project}/integrations/webhooks/{id}/test",
            "Send a test event now (test.ping unless {event, payload, resource, resource_id} say otherwise): status, body excerpt, timing; recorded in the delivery log marked `test`",
            Auth::Manage,
            Some(|_| {
                object(
                    &[],
                    &[
                        ("event", nullable(event_type())),
                        ("payload", json!({ "type": ["object", "null"] })),
                        ("resource", nullable(sized(1, 256))),
                        ("resource_id", nullable(sized(1, 256))),
                    ],
                )
            }),
            &[200, 400, 401, 403, 404, 409],
            || web::post().to(test_event::test),
        )
        .with_optional_body(),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    /// Every event but the operational ones when absent.
    #[serde(default = "every_event")]
    events: Vec<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    ordered: Option<bool>,
    #[serde(default)]
    rate_limit: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    filter: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    ordered: Option<bool>,
    /// A rate (`"10/s"`), or `null` to remove the limit (absent: unchanged).
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<serde_json::Value>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    config: Option<BTreeMap<String, String>>,
    #[serde(default)]
    filter: Option<BTreeMap<String, serde_json::Value>>,
}

fn every_event() -> Vec<String> {
    vec!["*".into()]
}

/// A field given in the body, `null` included (absent fields stay `None`).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateInput {
    /// e.g. "24h"; the configured grace when absent.
    #[serde(default)]
    grace: Option<String>,
    /// The customer's new secret; generated when absent.
    #[serde(default)]
    secret: Option<String>,
}

/// The endpoint as the API shows it (never its secrets).
pub(super) fn view(endpoint: &Endpoint) -> serde_json::Value {
    let previous_expires = endpoint.secrets.iter().filter_map(|s| s.expires_ms).max();
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason,
        "ordered": endpoint.ordered,
        "rate_limit": endpoint.rate_limit.map(|r| r.to_text()),
        "provider": endpoint.provider,
        "config": endpoint.config,
        "filter": endpoint.filter.iter().map(|(k, v)| (k.clone(), serde_json::from_str::<serde_json::Value>(v).unwrap_or_default())).collect::<BTreeMap<_, _>>(),
        "failing_since": endpoint.failing_since_ms,
        "previous_secret_expires_at": previous_expires,
        "created_at": time_ms(endpoint.created_ms),
        "updated_at": time_ms(endpoint.updated_ms),
        // Declared in the config: start-up deletes it once the config no
        // longer has it (API changes last until the next start-up).
        "declared": endpoint.declared,
    })
}

/// The endpoint an update returned, or `404` when it was deleted meanwhile.
fn updated(id: &str, endpoint: Option<Endpoint>) -> Result<Endpoint, ApiError> {
    endpoint.ok_or_else(|| ApiError::NotFound(format!("webhook `{id}` not found")))
}

async fn save(state: &AppState, endpoint: Endpoint) -> Result<Endpoint, ApiError> {
    state.store.put_endpoint(endpoint.clone()).await?;
    Ok(endpoint)
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project = manage(&state, &req, &path).await?;
    let input: CreateWebhook = read_json(body, state.max_body_bytes).await?;
    check_url(&state, &input.url).await?;
    check_events(&state, &project, &input.events)?;
    let provider = input.provider.unwrap_or_else(|| DEFAULT_PROVIDER.into());
    let plugin = Arc::clone(check_provider(&state, &provider, &input.config)?);
    let filter = check_filter(input.filter)?;
    let rate_limit = input.rate_limit.as_deref().map(check_rate).transpose()?;
    let secret = match input.secret {
        Some(secret) => {
            check_secret(&secret)?;
            secret
        }
        None => new_webhook_secret(),
    };
    let now = crate::now_ms();
    let endpoint = Endpoint {
        id: new_id("ep_"),
        project_id: project.id.clone(),
        url: input.url,
        description: input.description.unwrap_or_default(),
        events: input.events,
        active: input.active.unwrap_or(true),
        disabled_reason: None,
        ordered: input.ordered.unwrap_or(true),
        provider,
        config: input.config,
        secrets: vec![SealedSecret {
            sealed: state.secrets.seal(&secret),
            expires_ms: None,
        }],
        filter,
        rate_limit,
        failing_since_ms: None,
        failure_alerted: false,
        created_ms: now,
        updated_ms: now,
        declared: false,
    };
    check_render(&state, &plugin, &project, &endpoint).await?;
    let endpoint = save(&state, endpoint).await?;
    tracing::info!(project_id = %project.id, endpoint_id = %endpoint.id, "webhook registered");
    let mut body = view(&endpoint);
    body["secret"] = json!(secret);
    body["standard_webhooks_secret"] = json!(standard_webhooks_form(&secret));
    Ok(HttpResponse::Created().json(body))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project = manage(&state, &req, &path).await?;
    let endpoints = state.store.endpoints_of(&project.id).await?;
    let data: Vec<_> = endpoints.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    Ok(HttpResponse::Ok().json(view(&load_endpoint(&state, &project_id, &id).await?)))
}

async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    let project = manage(&state, &req, &project_id).await?;
    let input: UpdateWebhook = read_json(body, state.max_body_bytes).await?;
    let loaded = load_endpoint(&state, &project_id, &id).await?;
    // Every check first (they may resolve names); then the change is
    // applied to the endpoint as stored at that moment, so nothing that
    // changed meanwhile (its health, another update) is undone.
    if let Some(url) = &input.url {
        check_url(&state, url).await?;
    }
    if let Some(events) = &input.events {
        check_events(&state, &project, events)?;
    }
    let filter = input.filter.map(check_filter).transpose()?;
    let rate_limit = match input.rate_limit {
        None => None,
        Some(serde_json::Value::Null) => Some(None),
        Some(serde_json::Value::String(text)) => Some(Some(check_rate(&text)?)),
        Some(_) => {
            return Err(ApiError::bad(
                "rate_limit",
                "must be a rate such as \"10/s\", or null to remove the limit",
            ))
        }
    };
    if input.config.is_some() || input.events.is_some() {
        // New subscriptions mean new samples; a provider no longer loaded
        // refuses only a config change.
        let config = input.config.as_ref().unwrap_or(&loaded.config);
        let plugin = match check_provider(&state, &loaded.provider, config) {
            Ok(plugin) => Some(Arc::clone(plugin)),
            Err(e) if input.config.is_some() => return Err(e),
            Err(_) => None,
        };
        if let Some(plugin) = plugin {
            let candidate = Endpoint {
                config: config.clone(),
                events: input
                    .events
                    .clone()
                    .unwrap_or_else(|| loaded.events.clone()),
                ..loaded.clone()
            };
            check_render(&state, &plugin, &project, &candidate).await?;
        }
    }
    let reactivated = input.active == Some(true) && !loaded.active;
    let (url, events, description) = (input.url, input.events, input.description);
    let (ordered, config, active) = (input.ordered, input.config, input.active);
    let now = crate::now_ms();
    let change = move |endpoint: &mut Endpoint| {
        if let Some(url) = &url {
            endpoint.url.clone_from(url);
        }
        if let Some(events) = &events {
            endpoint.events.clone_from(events);
        }
        if let Some(filter) = &filter {
            endpoint.filter.clone_from(filter);
        }
        if let Some(description) = &description {
            endpoint.description.clone_from(description);
        }
        if let Some(ordered) = ordered {
            endpoint.ordered = ordered;
        }
        if let Some(rate_limit) = rate_limit {
            endpoint.rate_limit = rate_limit;
        }
        if let Some(config) = &config {
            endpoint.config.clone_from(config);
        }
        if let Some(active) = active {
            endpoint.active = active;
            if active {
                endpoint.disabled_reason = None;
                endpoint.failing_since_ms = None;
                endpoint.failure_alerted = false;
            }
        }
        endpoint.updated_ms = now;
    };
    let endpoint = updated(&id, state.store.update_endpoint(&id, change).await?)?;
    if reactivated {
        state.dispatcher.notify(vec![endpoint.id.clone()]);
    }
    Ok(HttpResponse::Ok().json(view(&endpoint)))
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    load_endpoint(&state, &project_id, &id).await?;
    state.store.delete_endpoint(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let input: RotateInput = read_json_or_default(body, state.max_body_bytes).await?;
    let grace = match input.grace {
        Some(text) => GRACE.read("grace", &text)?,
        None => state.rotation_grace,
    };
    if let Some(secret) = &input.secret {
        check_secret(secret)?;
    }
    load_endpoint(&state, &project_id, &id).await?;
    let now = crate::now_ms();
    let expires_ms = now + u64::try_from(grace.as_millis()).unwrap_or(u64::MAX / 2);
    let secret = input.secret.unwrap_or_else(new_webhook_secret);
    let sealed = state.secrets.seal(&secret);
    let change = move |endpoint: &mut Endpoint| {
        let current = endpoint
            .secrets
            .iter()
            .find(|s| s.expires_ms.is_none())
            .cloned();
        endpoint.secrets = vec![SealedSecret {
            sealed: sealed.clone(),
            expires_ms: None,
        }];
        if let Some(previous) = current.filter(|_| !grace.is_zero()) {
            endpoint.secrets.push(SealedSecret {
                sealed: previous.sealed,
                expires_ms: Some(expires_ms),
            });
        }
        endpoint.updated_ms = now;
    };
    let endpoint = updated(&id, state.store.update_endpoint(&id, change).await?)?;
    tracing::info!(endpoint_id = %endpoint.id, grace = %humantime::format_duration(grace), "secret rotated");
    Ok(HttpResponse::Ok().json(json!({
        "id": endpoint.id,
        "standard_webhooks_secret": standard_webhooks_form(&secret),
        "secret": secret,
        "previous_secret_expires_at": (!grace.is_zero()).then_some(expires_ms),
    })))
}
