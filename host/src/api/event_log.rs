//! The event log: `GET /projects/{p}/events` (newest first, cursor paging;
//! filters `event` — exact or `prefix.*` —, `resource`, `resource_id`,
//! `since`/`until`, `status`) and `GET /projects/{p}/events/{id}` (the
//! event as delivered, its inbound source, and every delivery it made with
//! its attempts and the requests sent). Secret key or admin token: the
//! publishable key may send events but not read them.

use super::auth::authenticate;
use super::deliveries::{delivery_view, serde_urlencoded_query};
use super::error::ApiError;
use super::openapi::{doc, query, string, unix_ms, Auth, RouteDoc};
use super::{time_ms, AppState};
use crate::store::{
    Delivery, DeliveryStatus, EventQuery, EventSource, EventStatus, LoggedEvent, TypeMatch,
};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Default and largest page size.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 250;

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/events",
            "The project's events, newest first, with where their deliveries stand",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(list),
        )
        .with_query(vec![
            query("event", string(), "an event type, or `prefix.*`"),
            query("resource", string(), "resource kind, e.g. `order`"),
            query("resource_id", string(), "resource id, e.g. `ord_77`"),
            query(
                "since",
                unix_ms(),
                "created at or after (Unix ms); not after `until`",
            ),
            query("until", unix_ms(), "created at or before (Unix ms)"),
            query(
                "status",
                json!({ "type": "string", "enum": ["failed", "pending", "succeeded", "unrouted"] }),
                "failed (some delivery given up), pending, succeeded (all), unrouted (none)",
            ),
            query(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE }),
                "page size, 1–250 (default 50)",
            ),
            query(
                "cursor",
                json!({ "type": "string", "pattern": "^evt_" }),
                "`next_cursor` of the previous page",
            ),
        ]),
        doc(
            "get",
            "/projects/{project}/events/{event}",
            "One event as delivered, its source, and every delivery with its attempts",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    until: Option<u64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

impl ListParams {
    fn into_query(self) -> Result<EventQuery, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad("limit", format!("must be 1-{MAX_PAGE}")));
        }
        let status = self
            .status
            .map(|s| {
                EventStatus::parse(&s).ok_or_else(|| {
                    ApiError::bad(
                        "status",
                        format!("`{s}` is not one of failed, pending, succeeded, unrouted"),
                    )
                })
            })
            .transpose()?;
        if let Some(cursor) = self.cursor.as_deref().filter(|c| !c.starts_with("evt_")) {
            return Err(ApiError::bad(
                "cursor",
                format!("`{cursor}` is not a cursor from a previous page"),
            ));
        }
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since > until {
                return Err(ApiError::bad("since", "must not be after `until`"));
            }
        }
        Ok(EventQuery {
            event_type: self.event.as_deref().map(TypeMatch::parse),
            resource: self.resource,
            resource_id: self.resource_id,
            since_ms: self.since,
            until_ms: self.until,
            status,
            cursor: self.cursor,
            limit,
        })
    }
}

/// Checks the caller may read the project's log, and that it exists.
async fn readable(state: &AppState, req: &HttpRequest, project_id: &str) -> Result<(), ApiError> {
    authenticate(state, req)
        .await?
        .require_manage(project_id, super::auth::Access::Read)?;
    super::load_project(state, project_id).await.map(|_| ())
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    readable(&state, &req, &project_id).await?;
    let query = serde_urlencoded_query::<ListParams>(&req)?.into_query()?;
    let page = state.store.events_of(&project_id, query).await?;
    let data: Vec<Value> = page.events.iter().map(summary).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "next_cursor": page.next_cursor })))
}

/// An event in a list: what it is and where its deliveries stand.
fn summary(logged: &LoggedEvent) -> Value {
    let event = &logged.event;
    let count = |status| {
        logged
            .deliveries
            .iter()
            .filter(|d: &&Delivery| d.status == status)
            .count()
    };
    json!({
        "id": event.id,
        "event": event.event_type,
        "resource": event.resource,
        "resource_id": event.resource_id,
        "created_at": time_ms(event.time_created_ms),
        "source": event.source.as_ref().map(source_view),
        "test": logged.is_test(),
        "status": logged.status().as_str(),
        "deliveries": {
            "total": logged.deliveries.len(),
            "succeeded": count(DeliveryStatus::Succeeded),
            "pending": count(DeliveryStatus::Pending),
            "failed": count(DeliveryStatus::Failed),
        },
    })
}

fn source_view(source: &EventSource) -> Value {
    json!({
        "integration": source.integration,
        "provider_event_id": source.provider_event_id,
    })
}

/// One event in full. The payload is embedded byte for byte as received
/// (a `Value` would re-encode it).
#[derive(Serialize)]
struct EventDetail<'a> {
    id: &'a str,
    event: &'a str,
    resource: Option<&'a str>,
    resource_id: Option<&'a str>,
    created_at: Value,
    source: Option<Value>,
    test: bool,
    status: &'static str,
    payload: &'a RawValue,
    deliveries: Vec<Value>,
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, event_id) = path.into_inner();
    readable(&state, &req, &project_id).await?;
    let (logged, attempts) = state
        .store
        .logged_event(&project_id, &event_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "event `{event_id}` not found in project `{project_id}` (or past retention)"
            ))
        })?;
    let event = &logged.event;
    let payload: &RawValue = serde_json::from_slice(&event.payload)
        .map_err(|e| ApiError::Internal(format!("stored payload of {event_id}: {e}")))?;
    let detail = EventDetail {
        id: &event.id,
        event: &event.event_type,
        resource: event.resource.as_deref(),
        resource_id: event.resource_id.as_deref(),
        created_at: time_ms(event.time_created_ms),
        source: event.source.as_ref().map(source_view),
        test: logged.is_test(),
        status: logged.status().as_str(),
        payload,
        deliveries: logged
            .deliveries
            .iter()
            .zip(&attempts)
            .map(|(d, a)| delivery_view(d, a))
            .collect(),
    };
    let body = serde_json::to_vec(&detail).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
