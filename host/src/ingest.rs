//! Turning what apps send into stored events: validation with messages that
//! name the field, the event-type catalogue, subscription matching and
//! routing (one delivery per matching active endpoint).

use crate::routing::{RouteTable, RoutedEvent};
use crate::store::{Event, Ingested, NewEvent, Project, Store, StoreError};
use serde::Deserialize;

/// The built-in event types every project accepts.
pub const BUILTIN_EVENT_TYPES: &[&str] = &[
    "auth.signup",
    "auth.login",
    "auth.password_reset",
    "db.insert",
    "db.update",
    "db.delete",
    "storage.upload",
    "storage.delete",
    "functions.invoked",
    "functions.error",
    "user.created",
    "user.updated",
    "user.deleted",
];

/// Operational events hookmesh emits about a project's own endpoints. They
/// reach only endpoints that name them (exactly or as `delivery.*` /
/// `endpoint.*`), never `*` subscribers: one customer's endpoint must not
/// hear about another's.
pub const OPERATIONAL_EVENT_TYPES: &[&str] = &[
    "delivery.exhausted",
    "endpoint.failing",
    "endpoint.disabled",
];

/// Longest accepted event type.
const MAX_EVENT_TYPE_LEN: usize = 128;
/// Longest accepted `resource` / `resource_id`.
const MAX_RESOURCE_LEN: usize = 256;
/// Longest accepted idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An event as apps send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Event type, e.g. `user.created`.
    pub event: String,
    /// A JSON object.
    pub payload: serde_json::Value,
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

/// A field that fails validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path, e.g. `event` or `events[3].payload`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// True when `event_type` is in the project's catalogue.
pub fn is_known_type(project: &Project, event_type: &str) -> bool {
    BUILTIN_EVENT_TYPES.contains(&event_type)
        || OPERATIONAL_EVENT_TYPES.contains(&event_type)
        || project.custom_event_types.iter().any(|t| t == event_type)
}

/// Checks an event type's shape: `a-z 0-9 _ - .`, dot-separated, ≤ 128.
pub fn check_type_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() || name.len() > MAX_EVENT_TYPE_LEN {
        return Err(field_error(
            field,
            format!("must be 1-{MAX_EVENT_TYPE_LEN} characters"),
        ));
    }
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !valid_chars || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(field_error(
            field,
            format!("`{name}` must be lower-case words of a-z, 0-9, `_` or `-` separated by dots"),
        ));
    }
    Ok(())
}

/// Validates an incoming event for `project`; `prefix` is the field path
/// of the event (empty for a single event, `events[i].` in bulk).
pub fn validate(project: &Project, input: &EventInput, prefix: &str) -> Result<(), FieldError> {
    let field = |name: &str| format!("{prefix}{name}");
    check_type_name(&field("event"), &input.event)?;
    if !is_known_type(project, &input.event) {
        return Err(field_error(
            &field("event"),
            format!(
                "unknown event type `{}`; see GET /projects/{}/integrations/events, or add it to the project's custom_event_types",
                input.event, project.id
            ),
        ));
    }
    if !input.payload.is_object() {
        return Err(field_error(&field("payload"), "must be a JSON object"));
    }
    for (name, value) in [
        ("resource", &input.resource),
        ("resource_id", &input.resource_id),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > MAX_RESOURCE_LEN)
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
    Ok(())
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

/// Validates a subscription pattern: `*`, `prefix.*`, or an exact type.
pub fn check_subscription(field: &str, pattern: &str) -> Result<(), FieldError> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    check_type_name(field, name)
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
    /// The payload.
    pub payload: serde_json::Value,
    /// Idempotency key and its expiry (Unix ms).
    pub idempotency: Option<(String, u64)>,
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
                let routed = RoutedEvent {
                    event_type: &item.event_type,
                    resource: item.resource.as_deref(),
                    resource_id: item.resource_id.as_deref(),
                    payload: &item.payload,
                };
                let reached: Vec<String> = routes
                    .route(&routed)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                targets.push(reached.clone());
                let event = Event {
                    id: crate::signing::new_id("evt_"),
                    project_id: project_id.to_string(),
                    event_type: item.event_type,
                    resource: item.resource,
                    resource_id: item.resource_id,
                    payload: item.payload.to_string().into_bytes(),
                    time_created_ms: now_ms,
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

/// Routes each event over the project's endpoints and stores them all in
/// one atomic write. Returns the store's result per event and the
/// endpoints that got new deliveries (sorted, once each).
pub fn route_and_store(
    store: &dyn Store,
    project_id: &str,
    incoming: Vec<Incoming>,
    now_ms: u64,
) -> Result<(Vec<Ingested>, Vec<String>), StoreError> {
    let routes = store.routes_of(project_id)?;
    let Routed { batch, targets } = Routed::new(&routes, project_id, incoming, now_ms);
    let results = store.ingest(batch, now_ms)?;
    let woken = woken(&results, targets);
    Ok((results, woken))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_paths() {
        assert!(check_filter_path("filter", "payload.a.b").is_ok());
        assert!(check_filter_path("filter", "payload.").is_err());
        assert!(check_filter_path("filter", "headers.x").is_err());
    }

    #[test]
    fn type_names() {
        assert!(check_type_name("event", "order.paid").is_ok());
        assert!(check_type_name("event", "Order.Paid").is_err());
        assert!(check_type_name("event", "a..b").is_err());
        assert!(check_type_name("event", "").is_err());
        assert!(check_subscription("events[0]", "db.*").is_ok());
        assert!(check_subscription("events[0]", "db.**").is_err());
    }
}
