//! `POST /inbound/{project}/{provider}`: a provider's webhook (GitHub,
//! Stripe, Shopify, Razorpay, Slack, a configurable HMAC source…) checked
//! by the provider plugin's `verify-inbound` with the project's provider
//! settings, normalized into hookmesh events and routed like any other
//! event. The signature is the authentication; a provider event id
//! (`dedupe_id`) is remembered so a retried webhook is routed once.
//!
//! `{provider}` is a plugin, or a named instance `<plugin>.<instance>`
//! (`hmac.uptime`) whose settings are stored under that full name.
//!
//! Every request: the body-size limit (`413`), the plugin's verdict (`401`
//! naming the header for a missing or bad signature, `400` for a body it
//! cannot read), then the project's ingestion rate limit, the same bucket
//! as `POST /projects/{p}/events` (`429` with `Retry-After`; answers that
//! reached the bucket carry `X-RateLimit-*`, see `limits.rs`). Nothing is
//! stored on any refusal: events are ingested only after all of these pass.

use super::error::ApiError;
use super::events::ingest_under_budget;
use super::limits::with_quota;
use super::openapi::{doc, Auth, RouteDoc};
use super::{load_project, AppState};
use crate::ingest::{check_type_name, Incoming};
use crate::plugin::{
    self, CallError, Capability, GuestErrorKind, Header, InboundEvent, InboundRequest, LoadedPlugin,
};
use crate::providers::{merged_config, IntegrationName};
use crate::signing::new_id;
use crate::store::{EventSource, Ingested, ProviderSettings};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![doc(
        "post",
        "/inbound/{project}/{provider}",
        "A provider's webhook, verified by its plugin and routed as events; `{provider}` is a \
         plugin (`github`, `stripe`, `shopify`…) or a named instance `<plugin>.<instance>` \
         (`hmac.uptime`); 401 names the missing or bad signature header; nothing is stored on \
         any refusal",
        Auth::Public,
        None,
        &[200, 400, 401, 404, 409, 413, 429, 503],
        || web::post().to(receive),
    )]
}

fn call_error(error: CallError) -> ApiError {
    match error {
        CallError::Plugin {
            kind: GuestErrorKind::Unauthorized,
            message,
            ..
        } => ApiError::Unauthorized(message),
        CallError::Plugin {
            kind: GuestErrorKind::InvalidConfig,
            message,
            ..
        } => ApiError::Conflict(format!(
            "the provider's settings for this project are incomplete: {message}"
        )),
        CallError::Plugin {
            kind: GuestErrorKind::Unsupported,
            message,
            ..
        } => ApiError::NotFound(message),
        CallError::Plugin { message, .. } => ApiError::bad("body", message),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The plugin serving `provider` (a plugin or `<plugin>.<instance>`),
/// when it accepts inbound webhooks.
fn inbound_plugin<'a>(
    state: &'a AppState,
    provider: &str,
) -> Result<&'a Arc<LoadedPlugin>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no inbound provider `{provider}`"));
    let name = IntegrationName::parse(provider).map_err(|_| not_found())?;
    state
        .plugins
        .get(name.plugin)
        .filter(|p| p.manifest().capabilities.contains(&Capability::Inbound))
        .ok_or_else(not_found)
}

/// The project's enabled settings for `provider`.
async fn enabled_settings(
    state: &AppState,
    project_id: &str,
    provider: &str,
) -> Result<ProviderSettings, ApiError> {
    state
        .store
        .provider_settings(project_id, provider)
        .await?
        .filter(|s| s.enabled)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "provider `{provider}` is not enabled for project `{project_id}`"
            ))
        })
}

/// Reads the body up to the API's limit (`413` beyond it).
async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(error)) => Err(ApiError::bad(
            "body",
            format!("cannot read the body: {error}"),
        )),
        Err(_) => Err(ApiError::PayloadTooLarge { limit }),
    }
}

/// The call's context: the clock, a fresh id and the settings' config.
fn context(
    state: &AppState,
    settings: &ProviderSettings,
    now: u64,
) -> Result<plugin::Context, ApiError> {
    let config = merged_config(Some(settings), &BTreeMap::new(), &state.secrets)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(plugin::Context {
        now_ms: now,
        delivery_id: new_id("in_"),
        attempt: 1,
        endpoint: None,
        config: config
            .into_iter()
            .map(|(key, value)| plugin::ConfigEntry { key, value })
            .collect(),
    })
}

fn inbound_request(req: &HttpRequest, body: web::Bytes) -> InboundRequest {
    InboundRequest {
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| Header {
                name: n.as_str().to_string(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect(),
        body: body.to_vec(),
    }
}

/// The plugin's events as ingestion input: types checked, payloads JSON,
/// dedupe ids scoped to the integration (`inbound:hmac.uptime:<id>`).
fn incoming(
    state: &AppState,
    provider: &str,
    events: Vec<InboundEvent>,
    now: u64,
) -> Result<Vec<Incoming>, ApiError> {
    let ttl_ms = u64::try_from(state.idempotency_ttl.as_millis()).unwrap_or(u64::MAX / 2);
    let bad = |e: String| {
        ApiError::Internal(format!("plugin for `{provider}` produced a bad event: {e}"))
    };
    events
        .into_iter()
        .enumerate()
        .map(|(i, inbound)| {
            check_type_name(&format!("events[{i}].event_type"), &inbound.event_type)
                .map_err(|e| bad(e.to_string()))?;
            let payload = serde_json::from_slice(&inbound.payload)
                .map_err(|e| bad(format!("events[{i}].payload is not JSON: {e}")))?;
            Ok(Incoming {
                payload,
                source: Some(EventSource {
                    integration: provider.to_string(),
                    provider_event_id: inbound.dedupe_id.clone(),
                }),
                idempotency: inbound
                    .dedupe_id
                    .map(|id| (format!("inbound:{provider}:{id}"), now + ttl_ms)),
                event_type: inbound.event_type,
                resource: inbound.resource,
                resource_id: inbound.resource_id,
                except_endpoint: None,
            })
        })
        .collect()
}

fn reply(reply: plugin::HttpResponse) -> HttpResponse {
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(reply.status)
            .unwrap_or(actix_web::http::StatusCode::OK),
    );
    for h in &reply.headers {
        response.insert_header((h.name.as_str(), h.value.as_str()));
    }
    response.body(reply.body)
}

fn received(results: &[Ingested]) -> HttpResponse {
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Ingested::Duplicate { .. }))
        .count();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ingested::Stored { event_id, .. } | Ingested::Duplicate { event_id } => {
                event_id.as_str()
            }
        })
        .collect();
    HttpResponse::Ok()
        .json(json!({ "received": results.len(), "duplicates": duplicates, "events": ids }))
}

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    let project = load_project(&state, &project_id).await?;
    let plugin = inbound_plugin(&state, &provider)?;
    let settings = enabled_settings(&state, &project_id, &provider).await?;
    let body = read_body(payload, state.max_body_bytes).await?;
    let now = crate::now_ms();
    let ctx = context(&state, &settings, now)?;
    let result = plugin
        .verify_inbound_async(inbound_request(&req, body), ctx)
        .await
        .map_err(call_error)?;
    let incoming = incoming(&state, &provider, result.events, now)?;
    let accepted = ingest_under_budget(&state, &project, incoming).await?;
    let response = match result.reply {
        Some(answer) => reply(answer),
        None => received(&accepted.results),
    };
    Ok(with_quota(response, accepted.quota.as_ref()))
}
