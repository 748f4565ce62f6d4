//! The one way events enter hookmesh: [`Ingestor::ingest`] takes the
//! project's budget, routes each event over the project's endpoints (one
//! delivery per matching active endpoint), stores events and deliveries
//! atomically and wakes the endpoints that got work. The events API, bulk
//! ingestion, inbound provider webhooks, operational events and replays
//! all go through it. Also here: validation of what apps send, with
//! messages that name the field.

use crate::clock::{Clock, SystemClock};
use crate::event_types::{admit, check_payload, field_error};
pub use crate::event_types::{
    check_subscription, check_type_name, is_known_type, FieldError, TypeAdmission,
    BUILTIN_EVENT_TYPES, OPERATIONAL_EVENT_TYPES,
};
use crate::metrics::Metrics;
use crate::ratelimit::{Quota, Rate};
use crate::routing::{RouteCache, RouteTable, RoutedEvent};
use crate::store::{
    Admission, Bucket, Budget, Event, EventSource, Ingested, NewEvent, Project, Store, StoreError,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::{Arc, OnceLock};

/// Longest accepted `resource` / `resource_id`, in characters.
pub const MAX_RESOURCE_LEN: usize = 256;
/// Longest accepted idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An event as apps send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Event type, e.g. `user.created`.
    pub event: String,
    /// A JSON object, kept byte for byte as sent.
    pub payload: Box<RawValue>,
    /// e.g. `user`.
    #[serde(default)]
    pub resource: Option<String>,
    /// e.g. `usr_2048`.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// Per-item idempotency key (bulk); single events use the header.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Validates an incoming event for `project`; `prefix` is the field path
/// of the event (empty for a single event, `events[i].` in bulk). Says
/// whether its type is new to the project's catalogue (an open project
/// records it as seen); a declared type's schema is checked here.
pub fn validate(
    project: &Project,
    input: &EventInput,
    prefix: &str,
) -> Result<TypeAdmission, FieldError> {
    let field = |name: &str| format!("{prefix}{name}");
    let admission = admit(project, &field("event"), &input.event)?;
    if !is_object(&input.payload) {
        return Err(field_error(&field("payload"), "must be a JSON object"));
    }
    check_payload(
        project,
        &field("payload"),
        &input.event,
        input.payload.get(),
    )?;
    for (name, value) in [
        ("resource", &input.resource),
        ("resource_id", &input.resource_id),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.chars().count() > MAX_RESOURCE_LEN)
        {
            return Err(field_error(
                &field(name),
                format!("must be 1-{MAX_RESOURCE_LEN} characters"),
            ));
        }
    }
    if let Some(key) = &input.idempotency_key {
        check_idempotency_key(&field("idempotency_key"), key)?;
    }
    Ok(admission)
}

/// True when the (valid) JSON is an object.
pub fn is_object(json: &RawValue) -> bool {
    json.get().trim_start().starts_with('{')
}

/// Checks an idempotency key: 1-255 visible ASCII characters.
pub fn check_idempotency_key(field: &str, key: &str) -> Result<(), FieldError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(field_error(
            field,
            format!("must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// Checks a filter path's shape.
pub fn check_filter_path(field: &str, path: &str) -> Result<(), FieldError> {
    let ok = matches!(path, "event" | "resource" | "resource_id")
        || path
            .strip_prefix("payload.")
            .is_some_and(|rest| !rest.is_empty() && !rest.split('.').any(str::is_empty));
    if ok {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!(
                "`{path}` must be `event`, `resource`, `resource_id` or `payload.<key>[.<key>…]`"
            ),
        ))
    }
}

/// An event about to be routed and stored (from the API or a provider).
pub struct Incoming {
    /// Event type.
    pub event_type: String,
    /// e.g. `user`.
    pub resource: Option<String>,
    /// e.g. `usr_2048`.
    pub resource_id: Option<String>,
    /// The payload: valid JSON, stored and delivered byte for byte.
    pub payload: Box<RawValue>,
    /// Idempotency key and its expiry (Unix ms).
    pub idempotency: Option<(String, u64)>,
    /// The inbound webhook it came from (provider events).
    pub source: Option<EventSource>,
    /// An endpoint this event never goes to (the subject of an
    /// operational event).
    pub except_endpoint: Option<String>,
}

/// Events routed and ready to store, with the endpoints each one reaches.
pub struct Routed {
    /// What to hand to [`Store::ingest`].
    pub batch: Vec<NewEvent>,
    /// Per event, the endpoints it was routed to.
    pub targets: Vec<Vec<String>>,
}

impl Routed {
    /// Routes each event over the project's `routes`.
    pub fn new(
        routes: &RouteTable,
        project_id: &str,
        incoming: Vec<Incoming>,
        now_ms: u64,
    ) -> Self {
        let mut targets = Vec::with_capacity(incoming.len());
        let batch = incoming
            .into_iter()
            .map(|item| {
                // Parsed only for filters that look into it.
                let payload = match routes.reads_payload() {
                    true => serde_json::from_str(item.payload.get()).unwrap_or_default(),
                    false => serde_json::Value::Null,
                };
                let routed = RoutedEvent {
                    event_type: &item.event_type,
                    resource: item.resource.as_deref(),
                    resource_id: item.resource_id.as_deref(),
                    payload: &payload,
                };
                let except = item.except_endpoint.as_deref();
                let reached: Vec<String> = routes
                    .route(&routed)
                    .into_iter()
                    .filter(|id| Some(*id) != except)
                    .map(str::to_string)
                    .collect();
                targets.push(reached.clone());
                let event = Event {
                    id: crate::signing::new_id_at("evt_", now_ms),
                    project_id: project_id.to_string(),
                    event_type: item.event_type,
                    resource: item.resource,
                    resource_id: item.resource_id,
                    payload: item.payload.get().as_bytes().to_vec(),
                    time_created_ms: now_ms,
                    source: item.source,
                };
                new_event(event, reached, item.idempotency)
            })
            .collect();
        Self { batch, targets }
    }
}

/// The endpoints to wake once the store answered `results` for events
/// routed to `targets` (sorted, once each): idempotent repeats queued
/// nothing.
pub fn woken(results: &[Ingested], targets: Vec<Vec<String>>) -> Vec<String> {
    let mut woken: Vec<String> = results
        .iter()
        .zip(targets)
        .filter(|(result, _)| matches!(result, Ingested::Stored { .. }))
        .flat_map(|(_, targets)| targets)
        .collect();
    woken.sort();
    woken.dedup();
    woken
}

/// Builds the record to store: the event plus one delivery per endpoint.
pub fn new_event(
    event: Event,
    endpoints: impl IntoIterator<Item = String>,
    idempotency: Option<(String, u64)>,
) -> NewEvent {
    let deliveries = endpoints
        .into_iter()
        .map(|endpoint_id| (endpoint_id, crate::signing::new_id("dlv_")))
        .collect();
    NewEvent {
        event,
        deliveries,
        idempotency,
    }
}

/// Wakes endpoint actors (the dispatcher's registry).
pub type Wake = Box<dyn Fn(Vec<String>) + Send + Sync>;

/// Why an ingestion stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The project is over its ingestion budget: the bucket's answer,
    /// with the wait in `retry_after`.
    #[error("over the ingestion budget; retry after {:?}", .0.retry_after.unwrap_or_default())]
    OverBudget(Quota),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`Ingestor::ingest_metered`] stored.
#[derive(Debug)]
pub struct Accepted {
    /// One result per event, in order.
    pub results: Vec<Ingested>,
    /// The project's bucket after these events (when they had a budget):
    /// the numbers of the `X-RateLimit-*` headers.
    pub quota: Option<Quota>,
}

/// Routes, stores and wakes: see the module doc.
pub struct Ingestor {
    store: Store,
    /// Compiled routing tables, current while a project's endpoints are.
    routes: Arc<RouteCache>,
    /// When events are created and first due (the dispatcher's clock).
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    wake: OnceLock<Wake>,
}

impl Ingestor {
    /// An ingestor over `store`; [`Ingestor::wake_with`] connects it to the
    /// dispatcher once that runs.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            routes: Arc::default(),
            clock: Arc::new(SystemClock),
            metrics,
            wake: OnceLock::new(),
        }
    }

    /// The same ingestor on another clock (the dispatcher's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets how endpoints with new work are woken (once).
    pub fn wake_with(&self, wake: Wake) {
        let _ = self.wake.set(wake);
    }

    /// Wakes these endpoints' actors.
    pub fn wake(&self, endpoint_ids: Vec<String>) {
        if let (Some(wake), false) = (self.wake.get(), endpoint_ids.is_empty()) {
            wake(endpoint_ids);
        }
    }

    /// Takes the events from the project's budget (`rate`; none for
    /// events hookmesh makes itself), routes and stores them atomically,
    /// wakes their endpoints. One result per event, in order.
    pub async fn ingest(
        &self,
        project_id: &str,
        incoming: Vec<Incoming>,
        rate: Option<Rate>,
    ) -> Result<Vec<Ingested>, IngestError> {
        Ok(self
            .ingest_metered(project_id, incoming, rate)
            .await?
            .results)
    }

    /// [`Ingestor::ingest`], also answering the project's bucket after
    /// the events (for the API's `X-RateLimit-*` headers).
    pub async fn ingest_metered(
        &self,
        project_id: &str,
        incoming: Vec<Incoming>,
        rate: Option<Rate>,
    ) -> Result<Accepted, IngestError> {
        let now = self.clock.now_ms();
        // No events (an inbound ping) cost nothing, even from a bucket in debt.
        let budget = rate.filter(|_| !incoming.is_empty()).map(|rate| Budget {
            bucket: Bucket::Ingest(project_id.to_string()),
            rate,
            n: u32::try_from(incoming.len()).unwrap_or(u32::MAX),
        });
        let version = self.store.routes_version(project_id).await?;
        let routes = self
            .routes
            .table(project_id, version, || self.store.endpoints_of(project_id))
            .await?;
        let Routed { batch, targets } = Routed::new(&routes, project_id, incoming, now);
        let (results, quota) = match self.store.admit_and_ingest(budget, batch, now).await? {
            Admission::Stored(results, quota) => (results, quota),
            Admission::OverBudget(quota) => return Err(IngestError::OverBudget(quota)),
        };
        self.wake(woken(&results, targets));
        let stored = results
            .iter()
            .filter(|r| matches!(r, Ingested::Stored { .. }))
            .count();
        self.metrics.ingested_events.inc_by(stored as u64);
        Ok(Accepted { results, quota })
    }

    /// Queues a new delivery of a stored event to one endpoint (replay) and
    /// wakes it.
    pub async fn replay(
        &self,
        event_id: &str,
        endpoint_id: &str,
    ) -> Result<crate::store::Delivery, StoreError> {
        let delivery_id = crate::signing::new_id("dlv_");
        let queued = self
            .store
            .requeue(event_id, endpoint_id, &delivery_id, self.clock.now_ms())
            .await?;
        self.wake(vec![endpoint_id.to_string()]);
        Ok(queued)
    }

    /// Replays every failed delivery of the endpoint since `since_ms` (up
    /// to `max`, in their original order) and wakes it. Returns how many.
    pub async fn replay_failed(
        &self,
        endpoint_id: &str,
        since_ms: u64,
        max: usize,
    ) -> Result<usize, StoreError> {
        let replayed = self
            .store
            .requeue_failed(endpoint_id, since_ms, max, self.clock.now_ms())
            .await?;
        self.wake(vec![endpoint_id.to_string()]);
        Ok(replayed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_paths() {
        assert!(check_filter_path("filter", "payload.a.b").is_ok());
        assert!(check_filter_path("filter", "payload.").is_err());
        assert!(check_filter_path("filter", "headers.x").is_err());
    }
}
