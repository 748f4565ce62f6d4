//! `POST /inbound/{project}/{provider}`: a provider's webhook (Razorpay,
//! Slack…) checked by the provider plugin's `verify-inbound` with the
//! project's provider settings, normalized into hookmesh events and routed
//! like any other event. The signature is the authentication; a provider
//! event id (`dedupe_id`) is remembered so a retried webhook is routed once.

use super::error::ApiError;
use super::openapi::{doc, Auth, RouteDoc};
use super::{load_project, AppState};
use crate::ingest::{check_type_name, Incoming, IngestError};
use crate::plugin::{self, CallError, Capability, GuestErrorKind, Header, InboundRequest};
use crate::providers::merged_config;
use crate::signing::new_id;
use crate::store::Ingested;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::collections::BTreeMap;

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![doc(
        "post",
        "/inbound/{project}/{provider}",
        "A provider's webhook, verified by its plugin and routed as events",
        Auth::Public,
        None,
        &[200, 400, 401, 404, 409],
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

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    let project = load_project(&state, &project_id).await?;
    let plugin = state
        .plugins
        .get(&provider)
        .filter(|p| p.manifest().capabilities.contains(&Capability::Inbound))
        .ok_or_else(|| ApiError::NotFound(format!("no inbound provider `{provider}`")))?;
    let settings = state
        .store
        .provider_settings(&project_id, &provider)
        .await?
        .filter(|s| s.enabled)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "provider `{provider}` is not enabled for project `{project_id}`"
            ))
        })?;
    let config = merged_config(Some(&settings), &BTreeMap::new(), &state.secrets)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = crate::now_ms();
    let ctx = plugin::Context {
        now_ms: now,
        delivery_id: new_id("in_"),
        attempt: 1,
        endpoint: None,
        config: config
            .into_iter()
            .map(|(key, value)| plugin::ConfigEntry { key, value })
            .collect(),
    };
    let request = InboundRequest {
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| Header {
                name: n.as_str().to_string(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect(),
        body: body.to_vec(),
    };
    let result = plugin
        .verify_inbound_async(request, ctx)
        .await
        .map_err(call_error)?;
    let ttl_ms = u64::try_from(state.idempotency_ttl.as_millis()).unwrap_or(u64::MAX / 2);
    let events = result.events;
    for (i, inbound) in events.iter().enumerate() {
        check_type_name(&format!("events[{i}].event_type"), &inbound.event_type).map_err(|e| {
            ApiError::Internal(format!("plugin `{provider}` produced a bad event: {e}"))
        })?;
    }
    let incoming = events
        .into_iter()
        .map(|inbound| Incoming {
            payload: serde_json::from_slice(&inbound.payload).unwrap_or(serde_json::Value::Null),
            idempotency: inbound
                .dedupe_id
                .map(|id| (format!("inbound:{provider}:{id}"), now + ttl_ms)),
            event_type: inbound.event_type,
            resource: inbound.resource,
            resource_id: inbound.resource_id,
            except_endpoint: None,
        })
        .collect();
    // Inbound webhooks are the provider's traffic, not the app's: no
    // ingestion budget (the provider retries what fails).
    let results = state
        .ingestor
        .ingest(&project.id, incoming, None)
        .await
        .map_err(|e| match e {
            IngestError::Store(error) => ApiError::from(error),
            other => ApiError::Internal(other.to_string()),
        })?;
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Ingested::Duplicate { .. }))
        .count();
    if let Some(reply) = result.reply {
        let mut response = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(reply.status)
                .unwrap_or(actix_web::http::StatusCode::OK),
        );
        for h in &reply.headers {
            response.insert_header((h.name.as_str(), h.value.as_str()));
        }
        return Ok(response.body(reply.body));
    }
    let ids: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ingested::Stored { event_id, .. } | Ingested::Duplicate { event_id } => {
                event_id.as_str()
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "received": results.len(), "duplicates": duplicates, "events": ids })))
}
