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
//! - The endpoint's config is checked at registration by rendering a
//!   sample event through its plugin: a config error naming one of the
//!   endpoint's keys (`` `header.X-A`: … ``) is a `400` on `config.<key>`.

use super::body::{read_json, read_json_or_default};
use super::error::ApiError;
use super::openapi::{doc, object, string, string_map, strings, Auth, RouteDoc};
use super::{load_endpoint, manage, time_ms, AppState};
use crate::dispatch::{build_context, call_config, test_send};
use crate::ingest::{
    check_filter_path, check_subscription, check_type_name, is_known_type, is_object,
    OPERATIONAL_EVENT_TYPES,
};
use crate::plugin::{CallError, GuestErrorKind, LoadedPlugin};
use crate::providers::check_keys;
use crate::ratelimit::Rate;
use crate::signing::{new_id, new_webhook_secret};
use crate::store::{Endpoint, Event, Project, SealedSecret};
use actix_web::{web, HttpRequest, HttpResponse};
use hookmesh_sdk::signing::{endpoint_secret_key, standard_webhooks_form, SECRET_PREFIX};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most subscriptions one endpoint may have.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Shortest secret a customer may bring (characters); also the fewest key
/// bytes inside a `whsec_<base64>` one.
const MIN_SECRET_CHARS: usize = 16;
/// Longest secret a customer may bring (characters).
const MAX_SECRET_CHARS: usize = 256;
/// Bytes of a test answer shown.
const TEST_EXCERPT_BYTES: usize = 1024;
/// The default provider.
const DEFAULT_PROVIDER: &str = "webhook";

/// Body of create (and, all optional, of update).
fn webhook_schema() -> serde_json::Value {
    object(
        &["url"],
        &[
            ("url", string()),
            ("events", strings()),
            ("secret", string()),
            ("description", string()),
            ("ordered", serde_json::json!({ "type": "boolean" })),
            (
                "rate_limit",
                serde_json::json!({ "type": ["string", "null"], "examples": ["10/s", "600/m"] }),
            ),
            ("active", serde_json::json!({ "type": "boolean" })),
            ("provider", string()),
            ("config", string_map()),
            ("filter", serde_json::json!({ "type": "object" })),
        ],
    )
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
            Some(|| {
                let mut s = webhook_schema();
                s["required"] = serde_json::json!([]);
                s
            }),
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
            Some(|| object(&[], &[("grace", string()), ("secret", string())])),
            &[200, 400, 401, 403, 404],
            || web::post().to(rotate),
        ),
        doc(
            "post",
            "/projects/{project}/integrations/webhooks/{id}/test",
            "Send a test event now (test.ping unless {event, payload, resource, resource_id} say otherwise): status, body excerpt, timing",
            Auth::Manage,
            Some(|| {
                object(
                    &[],
                    &[
                        ("event", string()),
                        ("payload", serde_json::json!({ "type": "object" })),
                        ("resource", string()),
                        ("resource_id", string()),
                    ],
                )
            }),
            &[200, 400, 401, 403, 404, 409],
            || web::post().to(test),
        ),
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

/// What `POST …/test` may say about the event to send.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestInput {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
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
    })
}

/// Reads `rate_limit` (`"10/s"`, `"600/m"`, `"100/h"`).
fn check_rate(text: &str) -> Result<Rate, ApiError> {
    Rate::parse(text).map_err(|e| ApiError::bad("rate_limit", e.to_string()))
}

/// Checks filter paths; stores values as JSON text.
fn check_filter(
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
fn check_provider<'a>(
    state: &'a AppState,
    provider: &str,
    config: &BTreeMap<String, String>,
) -> Result<&'a Arc<LoadedPlugin>, ApiError> {
    let Some(plugin) = state.plugins.get(provider) else {
        let loaded: Vec<&str> = state.plugins.iter().map(|p| p.name()).collect();
        return Err(ApiError::bad(
            "provider",
            format!("`{provider}` is not a loaded provider; loaded: {loaded:?}"),
        ));
    };
    check_keys(plugin.manifest(), config.keys(), "config", false)?;
    Ok(plugin)
}

/// Validates subscriptions: well-formed patterns; for a project with
/// `strict_event_types`, exact types must be in its catalogue (or the
/// `<provider>.…` types of loaded plugins, e.g. `razorpay.payment.captured`).
fn check_events(state: &AppState, project: &Project, events: &[String]) -> Result<(), ApiError> {
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
async fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
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
fn check_secret(secret: &str) -> Result<(), ApiError> {
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
async fn check_render(
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
    };
    check_render(&state, &plugin, &endpoint).await?;
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
    if let Some(config) = &input.config {
        let plugin = Arc::clone(check_provider(&state, &loaded.provider, config)?);
        let candidate = Endpoint {
            config: config.clone(),
            ..loaded.clone()
        };
        check_render(&state, &plugin, &candidate).await?;
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
        Some(text) => humantime::parse_duration(&text)
            .map_err(|e| ApiError::bad("grace", format!("`{text}` is not a duration ({e})")))?,
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

/// The event a test sends: `test.ping` about the endpoint, or what the
/// body asks for (checked like an ingested event's fields).
fn test_event(
    project_id: &str,
    endpoint: &Endpoint,
    input: TestInput,
    now: u64,
) -> Result<Event, ApiError> {
    if let Some(event) = &input.event {
        check_type_name("event", event)?;
    }
    if let Some(payload) = &input.payload {
        if !is_object(payload) {
            return Err(ApiError::bad("payload", "must be a JSON object"));
        }
    }
    for (name, value) in [
        ("resource", &input.resource),
        ("resource_id", &input.resource_id),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > 256)
        {
            return Err(ApiError::bad(name, "must be 1-256 characters"));
        }
    }
    let custom = input.event.is_some();
    let payload = match input.payload {
        Some(raw) => raw.get().as_bytes().to_vec(),
        None if custom => b"{}".to_vec(),
        None => json!({ "message": "hookmesh test ping", "endpoint_id": endpoint.id })
            .to_string()
            .into_bytes(),
    };
    let (resource, resource_id) = match custom {
        true => (input.resource, input.resource_id),
        false => (
            input.resource.or(Some("endpoint".into())),
            input.resource_id.or(Some(endpoint.id.clone())),
        ),
    };
    Ok(Event {
        id: new_id("evt_test_"),
        project_id: project_id.to_string(),
        event_type: input.event.unwrap_or_else(|| "test.ping".into()),
        resource,
        resource_id,
        payload,
        time_created_ms: now,
        source: None,
    })
}

async fn test(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let input: TestInput = read_json_or_default(body, state.max_body_bytes).await?;
    let endpoint = load_endpoint(&state, &project_id, &id).await?;
    let event = test_event(&project_id, &endpoint, input, crate::now_ms())?;
    if state.plugins.get(&endpoint.provider).is_none() {
        return Err(ApiError::Conflict(format!(
            "provider `{}` is not loaded",
            endpoint.provider
        )));
    }
    let config = call_config(state.dispatcher.core(), &endpoint)
        .await
        .map_err(ApiError::Conflict)?;
    let started = Instant::now();
    let sent = test_send(state.dispatcher.core(), &endpoint, config, &event).await;
    let duration_ms = duration_ms(started.elapsed());
    let excerpt = sent.excerpt.as_bytes();
    let excerpt = String::from_utf8_lossy(&excerpt[..excerpt.len().min(TEST_EXCERPT_BYTES)]);
    let mut view = json!({
        "ok": sent.ok,
        "event": event.event_type,
        "event_id": event.id,
        "status": sent.status_code,
        "duration_ms": duration_ms,
    });
    if sent.status_code.is_some() {
        view["body_excerpt"] = json!(excerpt);
    }
    if let Some(error) = sent.error.filter(|_| !sent.ok) {
        view["error"] = json!(error);
    }
    Ok(HttpResponse::Ok().json(view))
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
