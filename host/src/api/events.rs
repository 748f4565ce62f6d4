//! Ingestion and the event catalogue:
//! `POST /projects/{p}/events` (one event, optional `Idempotency-Key`),
//! `POST /projects/{p}/events/bulk` (up to 1,000; `207` with per-item
//! results when some fail), `GET /projects/{p}/integrations/events`.
//!
//! `202` is answered only after the event and all its deliveries are
//! committed to the store.

use super::auth::authenticate_with_project;
use super::body::{decode, read_json};
use super::error::ApiError;
use super::openapi::{doc, object, string, Auth, RouteDoc};
use super::{existing_project, AppState};
use crate::ingest::{
    self, check_idempotency_key, EventInput, Incoming, IngestError, BUILTIN_EVENT_TYPES,
    OPERATIONAL_EVENT_TYPES,
};
use crate::store::{Ingested, Project};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Most events in one bulk request.
pub const MAX_BULK_EVENTS: usize = 1000;
/// The idempotency header.
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// One event as apps send it.
fn event_schema() -> serde_json::Value {
    object(
        &["event", "payload"],
        &[
            ("event", string()),
            ("payload", serde_json::json!({ "type": "object" })),
            ("resource", string()),
            ("resource_id", string()),
            ("idempotency_key", string()),
        ],
    )
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects/{project}/events",
            "Ingest one event (Idempotency-Key header); 202 when durable",
            Auth::Ingest,
            Some(event_schema),
            &[202, 400, 401, 403, 404, 413, 429, 503],
            || web::post().to(ingest_one),
        ),
        doc(
            "post",
            "/projects/{project}/events/bulk",
            "Ingest up to 1,000 events; 207 with per-item results when some fail",
            Auth::Ingest,
            Some(|| {
                object(
                    &["events"],
                    &[(
                        "events",
                        serde_json::json!({ "type": "array", "items": event_schema(), "maxItems": MAX_BULK_EVENTS }),
                    )],
                )
            }),
            &[202, 207, 400, 401, 403, 404, 413, 429, 503],
            || web::post().to(ingest_bulk),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/events",
            "Subscribable event types",
            Auth::Ingest,
            None,
            &[200, 401, 403, 404],
            || web::get().to(catalogue),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkInput {
    /// Kept raw so each payload is stored as sent.
    events: Vec<Box<serde_json::value::RawValue>>,
}

async fn ingest_target(
    state: &AppState,
    req: &HttpRequest,
    project_id: &str,
) -> Result<Project, ApiError> {
    let (principal, project) = authenticate_with_project(state, req, project_id).await?;
    principal.require_ingest(project_id)?;
    existing_project(project, project_id)
}

/// The `429` for a project over its ingestion budget (counted in metrics).
pub(super) fn over_budget(state: &AppState, project: &Project, wait: Duration) -> ApiError {
    state
        .metrics
        .rate_limited
        .with_label_values(&["ingest"])
        .inc();
    ApiError::RateLimited {
        message: format!(
            "project `{}` is over its ingestion limit; retry after the indicated time",
            project.id
        ),
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

fn idempotency_header(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::bad(IDEMPOTENCY_HEADER, "must be visible ASCII"))?
        .to_string();
    check_idempotency_key(IDEMPOTENCY_HEADER, &key)?;
    Ok(Some(key))
}

/// Ingests the events through the one ingestion path (budget, routing,
/// atomic store, wake-up); `429` when the project is over its budget.
async fn store_events(
    state: &AppState,
    project: &Project,
    inputs: Vec<(EventInput, Option<String>)>,
) -> Result<Vec<Ingested>, ApiError> {
    let ttl_ms = u64::try_from(state.idempotency_ttl.as_millis()).unwrap_or(u64::MAX / 2);
    let now = crate::now_ms();
    let incoming = inputs
        .into_iter()
        .map(|(input, idempotency_key)| Incoming {
            event_type: input.event,
            resource: input.resource,
            resource_id: input.resource_id,
            payload: input.payload,
            idempotency: idempotency_key.map(|k| (k, now + ttl_ms)),
            source: None,
            except_endpoint: None,
        })
        .collect();
    match state
        .ingestor
        .ingest(&project.id, incoming, Some(state.ingest_rate))
        .await
    {
        Ok(results) => Ok(results),
        Err(IngestError::OverBudget(wait)) => Err(over_budget(state, project, wait)),
        Err(IngestError::Store(error)) => Err(error.into()),
    }
}

fn result_view(result: &Ingested) -> serde_json::Value {
    match result {
        Ingested::Stored {
            event_id,
            deliveries,
        } => {
            json!({ "id": event_id, "deliveries": deliveries, "duplicate": false })
        }
        Ingested::Duplicate { event_id } => json!({ "id": event_id, "duplicate": true }),
    }
}

/// Counts an ingestion answer by route and status.
fn count(state: &AppState, route: &str, result: &Result<HttpResponse, ApiError>) {
    let status = match result {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.status_code().as_u16(),
    };
    state
        .metrics
        .ingest_requests
        .with_label_values(&[route, &status.to_string()])
        .inc();
}

async fn ingest_one(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = ingest_one_inner(&state, &req, &path, body).await;
    count(&state, "single", &result);
    result
}

async fn ingest_bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = ingest_bulk_inner(&state, &req, &path, body).await;
    count(&state, "bulk", &result);
    result
}

async fn ingest_one_inner(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project = ingest_target(state, req, path).await?;
    let mut input: EventInput = read_json(body, state.max_body_bytes).await?;
    ingest::validate(&project, &input, "")?;
    let key = idempotency_header(req)?.or(input.idempotency_key.take());
    let results = store_events(state, &project, vec![(input, key)]).await?;
    let result = results
        .first()
        .ok_or_else(|| ApiError::Internal("store returned no result".into()))?;
    Ok(HttpResponse::Accepted().json(result_view(result)))
}

async fn ingest_bulk_inner(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project = ingest_target(state, req, path).await?;
    let limit = state.max_body_bytes.saturating_mul(16);
    let input: BulkInput = read_json(body, limit).await?;
    if input.events.is_empty() || input.events.len() > MAX_BULK_EVENTS {
        return Err(ApiError::bad(
            "events",
            format!(
                "must hold 1-{MAX_BULK_EVENTS} events, got {}",
                input.events.len()
            ),
        ));
    }
    let mut slots: Vec<Result<usize, ApiError>> = Vec::with_capacity(input.events.len());
    let mut valid = Vec::new();
    for (i, raw) in input.events.into_iter().enumerate() {
        let prefix = format!("events[{i}].");
        let parsed = decode::<EventInput>(raw.get().as_bytes())
            .map_err(|e| match e {
                ApiError::BadRequest { field, message } => {
                    let field = if field == "body" {
                        format!("events[{i}]")
                    } else {
                        format!("{prefix}{field}")
                    };
                    ApiError::BadRequest { field, message }
                }
                other => other,
            })
            .and_then(|mut item| {
                ingest::validate(&project, &item, &prefix)?;
                let key = item.idempotency_key.take();
                Ok((item, key))
            });
        slots.push(parsed.map(|item| {
            valid.push(item);
            valid.len() - 1
        }));
    }
    let stored = if valid.is_empty() {
        Vec::new()
    } else {
        store_events(state, &project, valid).await?
    };
    let all_ok = slots.iter().all(Result::is_ok);
    let data: Vec<_> = slots
        .iter()
        .enumerate()
        .map(|(index, slot)| match slot {
            Ok(n) => {
                let mut view = stored.get(*n).map(result_view).unwrap_or_default();
                view["index"] = json!(index);
                view["status"] = json!(202);
                view
            }
            Err(e) => {
                let mut view = json!({ "index": index, "status": e.status_code().as_u16(), "message": e.to_string() });
                if let ApiError::BadRequest { field, .. } = e {
                    view["field"] = json!(field);
                }
                view
            }
        })
        .collect();
    let mut response = if all_ok {
        HttpResponse::Accepted()
    } else {
        HttpResponse::MultiStatus()
    };
    Ok(response.json(json!({ "data": data })))
}

async fn catalogue(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project = ingest_target(&state, &req, &path).await?;
    Ok(HttpResponse::Ok().json(json!({
        "builtin": BUILTIN_EVENT_TYPES,
        "operational": OPERATIONAL_EVENT_TYPES,
        "custom": project.custom_event_types,
    })))
}
