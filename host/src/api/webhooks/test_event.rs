//! `POST …/webhooks/{id}/test`: an event sent now through the endpoint's
//! render → send → classify path (`test.ping`, or the event the body
//! describes, checked against its declared schema if it has one); the
//! answer has the plugin's verdict, status, body excerpt and timing. The
//! test is recorded in the delivery log (marked `test`, succeeded or
//! failed after its one attempt, never queued or retried) and its event in
//! the event log; tests do not count in the endpoint's statistics.

use super::super::body::read_json_or_default;
use super::super::error::ApiError;
use super::super::{load_endpoint, manage, AppState};
use crate::dispatch::{call_config, test_send};
use crate::event_types::check_payload;
use crate::ingest::{check_type_name, is_object, MAX_RESOURCE_LEN};
use crate::signing::new_id;
use crate::store::{Delivery, DeliveryStatus, Endpoint, Event, TestRecord};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

/// Bytes of a test answer shown.
const TEST_EXCERPT_BYTES: usize = 1024;

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
            .is_some_and(|v| v.is_empty() || v.chars().count() > MAX_RESOURCE_LEN)
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
        id: new_id("evt_"),
        project_id: project_id.to_string(),
        event_type: input.event.unwrap_or_else(|| "test.ping".into()),
        resource,
        resource_id,
        payload,
        time_created_ms: now,
        source: None,
    })
}

pub(super) async fn test(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    let project = manage(&state, &req, &project_id).await?;
    let input: TestInput = read_json_or_default(body, state.max_body_bytes).await?;
    let endpoint = load_endpoint(&state, &project_id, &id).await?;
    let event = test_event(&project_id, &endpoint, input, crate::now_ms())?;
    // A declared type's schema holds for its test events too.
    let payload = String::from_utf8_lossy(&event.payload);
    check_payload(&project, "payload", &event.event_type, &payload)?;
    if state.plugins.get(&endpoint.provider).is_none() {
        return Err(ApiError::Conflict(format!(
            "provider `{}` is not loaded",
            endpoint.provider
        )));
    }
    let config = call_config(state.dispatcher.core(), &endpoint)
        .await
        .map_err(ApiError::Conflict)?;
    let test = test_send(state.dispatcher.core(), &endpoint, config, &event).await;
    let stored = state.store.record_test(&test).await?;
    Ok(HttpResponse::Ok().json(answer(&test, &stored)))
}

/// The answer: the plugin's verdict, what came back, and where the test
/// is in the delivery log.
fn answer(test: &TestRecord, stored: &Delivery) -> serde_json::Value {
    let attempt = &test.attempt;
    let ok = stored.status == DeliveryStatus::Succeeded;
    let excerpt = attempt.response_excerpt.as_bytes();
    let excerpt = String::from_utf8_lossy(&excerpt[..excerpt.len().min(TEST_EXCERPT_BYTES)]);
    let mut view = json!({
        "ok": ok,
        "event": test.event.event_type,
        "event_id": test.event.id,
        "delivery_id": stored.id,
        "status": attempt.status_code,
        "duration_ms": attempt.duration_ms,
    });
    if attempt.status_code.is_some() {
        view["body_excerpt"] = json!(excerpt);
    }
    if let Some(error) = stored.last_error.as_ref().filter(|_| !ok) {
        view["error"] = json!(error);
    }
    view
}
