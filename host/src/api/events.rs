//! Ingestion and the event catalogue:
//! `POST /projects/{p}/events` (one event, optional `Idempotency-Key`),
//! `POST /projects/{p}/events/bulk` (up to 1,000; `207` with per-item
//! results when some fail), `GET /projects/{p}/integrations/events`
//! (built-in, operational, declared and seen types, and the providers'
//! types; declaring and removing types is in `projects.rs`).
//!
//! `202` is answered only after the event and all its deliveries are
//! committed to the store. A type an open project has not seen before is
//! recorded in its catalogue before the events are stored.

use super::auth::authenticate_with_project;
use super::body::{decode, read_json};
use super::error::ApiError;
use super::limits::with_quota;
use super::openapi::params::event_type;
use super::openapi::{doc, nullable, object, sized, Auth, RouteDoc};
use super::{existing_project, AppState};
use crate::event_types::{record_seen, NewTypes};
use crate::ingest::{
    self, check_idempotency_key, Accepted, EventInput, Incoming, IngestError, TypeAdmission,
    BUILTIN_EVENT_TYPES, MAX_IDEMPOTENCY_KEY_LEN, MAX_RESOURCE_LEN, OPERATIONAL_EVENT_TYPES,
};
use crate::plugin::Capability;
use crate::store::{Ingested, Project, Quota};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::json;

/// Most events in one bulk request.
pub const MAX_BULK_EVENTS: usize = 1000;
/// The idempotency header.
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// One event as apps send it.
fn event_schema() -> serde_json::Value {
    object(
        &["event", "payload"],
        &[
            ("event", event_type()),
            ("payload", json!({ "type": "object" })),
            ("resource", nullable(sized(1, MAX_RESOURCE_LEN))),
            ("resource_id", nullable(sized(1, MAX_RESOURCE_LEN))),
            (
                "idempotency_key",
                json!({ "type": ["string", "null"], "pattern": format!("^[\\x21-\\x7E]{{1,{MAX_IDEMPOTENCY_KEY_LEN}}}$") }),
            ),
        ],
    )
}

/// A valid event, for the documentation's examples.
fn event_example() -> serde_json::Value {
    json!({ "event": "user.signup", "resource": "user", "resource_id": "usr_2048", "payload": { "plan": "pro" } })
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects/{project}/events",
            "Ingest one event (Idempotency-Key header); 202 when durable",
            Auth::Ingest,
            Some(|_| event_schema()),
            &[202, 400, 401, 403, 404, 413, 429, 503],
            || web::post().to(ingest_one),
        ),
        doc(
            "post",
            "/projects/{project}/events/bulk",
            "Ingest up to 1,000 events; 207 with per-item results when some fail",
            Auth::Ingest,
            Some(|_| {
                object(
                    &["events"],
                    &[(
                        "events",
                        json!({ "type": "array", "minItems": 1, "maxItems": MAX_BULK_EVENTS,
                                "items": { "description": "an event as POST …/events takes it; one that is not is reported in its item of a 207", "examples": [event_example()] } }),
                    )],
                )
            }),
            &[202, 207, 400, 401, 403, 404, 413, 429, 503],
            || web::post().to(ingest_bulk),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/events",
            "The catalogue: built-in, operational, declared (with description and schema), seen and provider types",
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
fn over_budget(state: &AppState, project: &Project, quota: Quota) -> ApiError {
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
        quota,
    }
}

/// Ingests under the project's budget (its own limit, else the
/// `[ingest]` default); `429` over it. The answer has the bucket's
/// numbers for the `X-RateLimit-*` headers.
pub(super) async fn ingest_under_budget(
    state: &AppState,
    project: &Project,
    incoming: Vec<Incoming>,
) -> Result<Accepted, ApiError> {
    let rate = project.ingest_rate(state.ingest_rate);
    match state
        .ingestor
        .ingest_metered(&project.id, incoming, Some(rate))
        .await
    {
        Ok(accepted) => Ok(accepted),
        Err(IngestError::OverBudget(quota)) => Err(over_budget(state, project, quota)),
        Err(IngestError::Store(error)) => Err(error.into()),
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
) -> Result<Accepted, ApiError> {
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
    ingest_under_budget(state, project, incoming).await
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
    let mut new_types = NewTypes::for_project(&project);
    if ingest::validate(&project, &input, "")? == TypeAdmission::New {
        new_types.note("event", &input.event)?;
    }
    let key = idempotency_header(req)?.or(input.idempotency_key.take());
    note_seen(state, &project, new_types).await?;
    let accepted = store_events(state, &project, vec![(input, key)]).await?;
    let result = accepted
        .results
        .first()
        .ok_or_else(|| ApiError::Internal("store returned no result".into()))?;
    let response = HttpResponse::Accepted().json(result_view(result));
    Ok(with_quota(response, accepted.quota.as_ref()))
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
    let mut new_types = NewTypes::for_project(&project);
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
                if ingest::validate(&project, &item, &prefix)? == TypeAdmission::New {
                    new_types.note(&format!("{prefix}event"), &item.event)?;
                }
                let key = item.idempotency_key.take();
                Ok((item, key))
            });
        slots.push(parsed.map(|item| {
            valid.push(item);
            valid.len() - 1
        }));
    }
    let (stored, quota) = if valid.is_empty() {
        (Vec::new(), None)
    } else {
        note_seen(state, &project, new_types).await?;
        let accepted = store_events(state, &project, valid).await?;
        (accepted.results, accepted.quota)
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
    Ok(with_quota(
        response.json(json!({ "data": data })),
        quota.as_ref(),
    ))
}

/// Records the types an open project sees for the first time, so its
/// catalogue lists them.
async fn note_seen(
    state: &AppState,
    project: &Project,
    new_types: NewTypes,
) -> Result<(), ApiError> {
    let types = new_types.into_types();
    if types.is_empty() {
        return Ok(());
    }
    state
        .store
        .update_project(&project.id, move |p| record_seen(p, &types))
        .await?;
    Ok(())
}

/// Known types of bundled inbound providers, listed with their pattern
/// (a provider's events are `<provider>.<its type>`; see the README's
/// Inbound sources).
const KNOWN_PROVIDER_TYPES: &[(&str, &[&str])] = &[
    (
        "razorpay",
        &[
            "razorpay.payment.authorized",
            "razorpay.payment.captured",
            "razorpay.payment.failed",
            "razorpay.order.paid",
            "razorpay.refund.created",
        ],
    ),
    (
        "github",
        &[
            "github.ping",
            "github.push",
            "github.issues.opened",
            "github.pull_request.opened",
        ],
    ),
    (
        "stripe",
        &[
            "stripe.payment_intent.succeeded",
            "stripe.charge.refunded",
            "stripe.invoice.paid",
        ],
    ),
    ("shopify", &["shopify.orders.create", "shopify.orders.paid"]),
];

/// Every loaded inbound plugin's types: the pattern `<name>.*` (what
/// endpoints subscribe to) and the well-known types of bundled providers.
fn provider_types(state: &AppState) -> Vec<serde_json::Value> {
    state
        .plugins
        .iter()
        .filter(|p| p.manifest().capabilities.contains(&Capability::Inbound))
        .map(|p| {
            let known = KNOWN_PROVIDER_TYPES
                .iter()
                .find(|(name, _)| *name == p.name())
                .map_or(&[][..], |(_, types)| types);
            json!({ "provider": p.name(), "pattern": format!("{}.*", p.name()), "types": known })
        })
        .collect()
}

/// One declared type as the API shows it.
pub(super) fn custom_type_view(t: &crate::store::CustomEventType) -> serde_json::Value {
    let schema = t
        .schema
        .as_deref()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    json!({ "type": t.name, "kind": "custom", "description": t.description, "schema": schema })
}

async fn catalogue(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (principal, project) = authenticate_with_project(&state, &req, &path).await?;
    principal.require_read(&path)?;
    let project = existing_project(project, &path)?;
    let custom: Vec<&str> = project
        .custom_event_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut data: Vec<serde_json::Value> = Vec::new();
    data.extend(
        BUILTIN_EVENT_TYPES
            .iter()
            .map(|t| json!({ "type": t, "kind": "builtin" })),
    );
    data.extend(
        OPERATIONAL_EVENT_TYPES
            .iter()
            .map(|t| json!({ "type": t, "kind": "operational" })),
    );
    data.extend(project.custom_event_types.iter().map(custom_type_view));
    data.extend(
        project
            .seen_event_types
            .iter()
            .map(|t| json!({ "type": t, "kind": "seen" })),
    );
    Ok(HttpResponse::Ok().json(json!({
        "strict_event_types": project.strict_event_types,
        "builtin": BUILTIN_EVENT_TYPES,
        "operational": OPERATIONAL_EVENT_TYPES,
        "custom": custom,
        "seen": project.seen_event_types,
        "providers": provider_types(&state),
        "data": data,
    })))
}
