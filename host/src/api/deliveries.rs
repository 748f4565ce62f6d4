//! Delivery history and recovery:
//! `GET …/webhooks/{id}/deliveries` (cursor paging, `status`, `since`),
//! `GET …/webhooks/{id}/deliveries/{delivery_id}` (with every attempt),
//! `GET …/deliveries/{delivery_id}/attempts/{n}` (one attempt: the
//! requests sent, secrets redacted, and the answer),
//! `POST …/deliveries/{delivery_id}/replay`, `POST …/webhooks/{id}/recover`.

use super::auth::authenticate;
use super::body::read_json;
use super::error::ApiError;
use super::openapi::{doc, object, query, unix_ms, Auth, RouteDoc};
use super::{load_endpoint, time_ms, AppState};
use crate::store::{Attempt, Delivery, DeliveryQuery, DeliveryStatus};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Default and largest page size.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 250;
/// Most deliveries one `recover` call re-queues.
const MAX_RECOVER: usize = 10_000;

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}/deliveries",
            "Delivery history with attempts (?status, since, limit, cursor)",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(list),
        )
        .with_query(vec![
            query(
                "status",
                json!({ "type": "string", "enum": ["pending", "succeeded", "failed"] }),
                "pending, succeeded or failed",
            ),
            query("since", unix_ms(), "created at or after (Unix ms)"),
            query(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE }),
                "page size, 1–250 (default 50)",
            ),
            query("cursor", unix_ms(), "`next_cursor` of the previous page"),
        ]),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}/deliveries/{delivery}",
            "One delivery with every attempt",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}/deliveries/{delivery}/attempts/{number}",
            "One attempt: the requests sent (secrets redacted) and the answer",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show_attempt),
        ),
        doc(
            "post",
            "/projects/{project}/integrations/webhooks/{id}/deliveries/{delivery}/replay",
            "Deliver that event again",
            Auth::Manage,
            None,
            &[202, 401, 403, 404],
            || web::post().to(replay),
        ),
        doc(
            "post",
            "/projects/{project}/integrations/webhooks/{id}/recover",
            "Re-deliver every failed delivery since a time",
            Auth::Manage,
            Some(|_| object(&["since"], &[("since", unix_ms())])),
            &[202, 400, 401, 403, 404],
            || web::post().to(recover),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<u64>,
    #[serde(default)]
    since: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverInput {
    /// Unix ms: re-deliver everything failed since then.
    #[serde(deserialize_with = "super::body::whole_number")]
    since: u64,
}

fn parse_status(text: &str) -> Result<DeliveryStatus, ApiError> {
    match text {
        "pending" => Ok(DeliveryStatus::Pending),
        "succeeded" => Ok(DeliveryStatus::Succeeded),
        "failed" => Ok(DeliveryStatus::Failed),
        other => Err(ApiError::bad(
            "status",
            format!("`{other}` is not one of pending, succeeded, failed"),
        )),
    }
}

fn attempt_view(a: &Attempt) -> serde_json::Value {
    let requests: Vec<_> = a
        .requests
        .iter()
        .map(|r| {
            json!({
                "method": r.method,
                "url": r.url,
                "headers": headers_view(&r.headers),
                "body_bytes": r.body_bytes,
                "body_sha256": r.body_sha256,
            })
        })
        .collect();
    json!({
        "number": a.number,
        "started_at": time_ms(a.started_ms),
        "duration_ms": a.duration_ms,
        "status_code": a.status_code,
        "response_excerpt": a.response_excerpt,
        "response_headers": headers_view(&a.response_headers),
        "error": a.error,
        "outcome": a.outcome.as_str(),
        "requests": requests,
    })
}

/// Headers as `[{"name", "value"}]`, in order (names may repeat).
fn headers_view(headers: &[(String, String)]) -> serde_json::Value {
    headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

pub(super) fn delivery_view(d: &Delivery, attempts: &[Attempt]) -> serde_json::Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "endpoint_id": d.endpoint_id,
        "status": d.status.as_str(),
        "test": d.test,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_ms),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": time_ms(d.created_ms),
        "updated_at": time_ms(d.updated_ms),
        "attempt_log": attempts.iter().map(attempt_view).collect::<Vec<_>>(),
    })
}

/// Checks access and that the endpoint belongs to the project.
async fn endpoint_in_project(
    state: &AppState,
    req: &HttpRequest,
    project_id: &str,
    endpoint_id: &str,
) -> Result<(), ApiError> {
    authenticate(state, req)
        .await?
        .require_manage(project_id, super::auth::Access::of(req))?;
    load_endpoint(state, project_id, endpoint_id)
        .await
        .map(|_| ())
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id) = path.into_inner();
    endpoint_in_project(&state, &req, &project_id, &endpoint_id).await?;
    let params: ListQuery = serde_urlencoded_query(&req)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad("limit", format!("must be 1-{MAX_PAGE}")));
    }
    let query = DeliveryQuery {
        status: params.status.as_deref().map(parse_status).transpose()?,
        since_ms: params.since,
        before_seq: params.cursor,
        limit,
    };
    let (page, attempts) = state.store.deliveries_of(&endpoint_id, query).await?;
    let data: Vec<_> = page
        .items
        .iter()
        .zip(&attempts)
        .map(|(d, a)| delivery_view(d, a))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "next_cursor": page.next_cursor })))
}

pub(super) fn serde_urlencoded_query<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::bad("query", e.to_string()))
}

async fn load_delivery(
    state: &AppState,
    endpoint_id: &str,
    delivery_id: &str,
) -> Result<(Delivery, Vec<Attempt>), ApiError> {
    let found = state.store.delivery(endpoint_id, delivery_id).await?;
    match found {
        Some((d, a)) if d.endpoint_id == endpoint_id => Ok((d, a)),
        _ => Err(ApiError::NotFound(format!(
            "delivery `{delivery_id}` not found for webhook `{endpoint_id}`"
        ))),
    }
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id, delivery_id) = path.into_inner();
    endpoint_in_project(&state, &req, &project_id, &endpoint_id).await?;
    let (delivery, attempts) = load_delivery(&state, &endpoint_id, &delivery_id).await?;
    Ok(HttpResponse::Ok().json(delivery_view(&delivery, &attempts)))
}

async fn show_attempt(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id, delivery_id, number) = path.into_inner();
    endpoint_in_project(&state, &req, &project_id, &endpoint_id).await?;
    let number: u32 = number
        .parse()
        .map_err(|_| ApiError::bad("number", format!("`{number}` is not an attempt number")))?;
    let (_, attempts) = load_delivery(&state, &endpoint_id, &delivery_id).await?;
    let attempt = attempts
        .iter()
        .find(|a| a.number == number)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "delivery `{delivery_id}` has no attempt {number} (it has {})",
                attempts.len()
            ))
        })?;
    Ok(HttpResponse::Ok().json(attempt_view(attempt)))
}

async fn replay(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id, delivery_id) = path.into_inner();
    endpoint_in_project(&state, &req, &project_id, &endpoint_id).await?;
    let (original, _) = load_delivery(&state, &endpoint_id, &delivery_id).await?;
    let queued = state
        .ingestor
        .replay(&original.event_id, &endpoint_id)
        .await?;
    Ok(HttpResponse::Accepted().json(
        json!({ "delivery_id": queued.id, "replay_of": delivery_id, "event_id": queued.event_id }),
    ))
}

async fn recover(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id) = path.into_inner();
    endpoint_in_project(&state, &req, &project_id, &endpoint_id).await?;
    let input: RecoverInput = read_json(body, state.max_body_bytes).await?;
    let replayed = state
        .ingestor
        .replay_failed(&endpoint_id, input.since, MAX_RECOVER)
        .await?;
    Ok(HttpResponse::Accepted().json(json!({ "replayed": replayed })))
}
