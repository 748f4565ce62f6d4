//! Routing: which of a project's endpoints an event goes to.
//!
//! A project's endpoints are compiled once into a [`RouteTable`], which
//! [`RouteCache`] keeps while the project's endpoint-change version (which
//! the store exposes) stays the same: subscriptions are indexed by
//! event type (exact, `prefix.*`, `*`), filter paths are split into keys
//! and their expected values parsed, and endpoints whose filter tests a
//! plain value (string, integer, boolean, null) are indexed by that value.
//! An event is then checked only against the endpoints it may go to, not
//! against every endpoint of the project.

use crate::event_types::OPERATIONAL_EVENT_TYPES;
use crate::store::Endpoint;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What routing looks at: the type, and what filters may test.
pub struct RoutedEvent<'a> {
    /// Event type.
    pub event_type: &'a str,
    /// `resource`, if any.
    pub resource: Option<&'a str>,
    /// `resource_id`, if any.
    pub resource_id: Option<&'a str>,
    /// The payload.
    pub payload: &'a Value,
}

/// Does `pattern` subscribe to `event_type`?
pub fn subscription_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == "*" {
        return !OPERATIONAL_EVENT_TYPES.contains(&event_type);
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => event_type
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == event_type,
    }
}

/// Where a filter looks: `event`, `resource`, `resource_id`, or a path of
/// keys into the payload (`payload.a.b`; array indexes as numbers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FilterPath {
    Event,
    Resource,
    ResourceId,
    Payload(Vec<String>),
}

impl FilterPath {
    fn parse(path: &str) -> Option<Self> {
        match path {
            "event" => Some(Self::Event),
            "resource" => Some(Self::Resource),
            "resource_id" => Some(Self::ResourceId),
            _ => {
                let keys = path.strip_prefix("payload.")?;
                Some(Self::Payload(keys.split('.').map(str::to_string).collect()))
            }
        }
    }

    /// The event's value here, borrowed where it can be.
    fn lookup<'a>(&self, event: &'a RoutedEvent<'a>) -> Option<Found<'a>> {
        match self {
            Self::Event => Some(Found::Text(event.event_type)),
            Self::Resource => event.resource.map(Found::Text),
            Self::ResourceId => event.resource_id.map(Found::Text),
            Self::Payload(keys) => payload_at(event.payload, keys).map(Found::Json),
        }
    }
}

/// A value found in an event.
enum Found<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Found<'_> {
    fn equals(&self, expected: &Value) -> bool {
        match self {
            Self::Text(text) => expected.as_str() == Some(*text),
            Self::Json(value) => *value == expected,
        }
    }

    fn index_key(&self) -> Option<IndexKey> {
        match self {
            Self::Text(text) => Some(IndexKey::Text((*text).to_string())),
            Self::Json(value) => IndexKey::of(value),
        }
    }
}

/// Walks `keys` into `value` as a JSON Pointer would: object keys, and
/// array indexes written as plain decimal numbers.
fn payload_at<'a>(mut value: &'a Value, keys: &[String]) -> Option<&'a Value> {
    for key in keys {
        value = match value {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(array_index(key)?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn array_index(key: &str) -> Option<usize> {
    if key.starts_with('+') || (key.starts_with('0') && key.len() > 1) {
        return None;
    }
    key.parse().ok()
}

/// A value an index can hold: two values are equal exactly when their keys
/// are (floats, arrays and objects are not indexed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IndexKey {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Text(String),
}

impl IndexKey {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(Self::Null),
            Value::Bool(b) => Some(Self::Bool(*b)),
            Value::String(s) => Some(Self::Text(s.clone())),
            Value::Number(n) => n
                .as_u64()
                .map(Self::Unsigned)
                .or_else(|| n.as_i64().map(Self::Signed)),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// One filter entry: the value at `path` must equal `expected`.
struct Condition {
    path: FilterPath,
    expected: Value,
}

/// An active endpoint, compiled.
struct Route {
    endpoint_id: String,
    conditions: Vec<Condition>,
}

impl Route {
    /// None when the filter can never pass (a path or value that does not
    /// parse): such an endpoint gets nothing, as before it was compiled.
    fn compile(endpoint: &Endpoint) -> Option<Self> {
        let conditions = endpoint
            .filter
            .iter()
            .map(|(path, expected)| {
                Some(Condition {
                    path: FilterPath::parse(path)?,
                    expected: serde_json::from_str(expected).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            endpoint_id: endpoint.id.clone(),
            conditions,
        })
    }

    fn passes(&self, event: &RoutedEvent<'_>) -> bool {
        self.conditions.iter().all(|condition| {
            condition
                .path
                .lookup(event)
                .is_some_and(|found| found.equals(&condition.expected))
        })
    }

    /// The first condition an index can serve.
    fn indexable(&self) -> Option<(&FilterPath, IndexKey)> {
        self.conditions
            .iter()
            .find_map(|c| Some((&c.path, IndexKey::of(&c.expected)?)))
    }
}

/// Endpoints that share a subscription pattern.
#[derive(Default)]
struct Group {
    /// Checked one by one (no filter, or none an index can serve).
    scanned: Vec<usize>,
    /// By filter path, then by the value the filter expects there.
    indexed: HashMap<FilterPath, HashMap<IndexKey, Vec<usize>>>,
}

impl Group {
    fn add(&mut self, route_index: usize, route: &Route) {
        match route.indexable() {
            Some((path, key)) => self
                .indexed
                .entry(path.clone())
                .or_default()
                .entry(key)
                .or_default()
                .push(route_index),
            None => self.scanned.push(route_index),
        }
    }

    /// Routes of this group the event may pass.
    fn candidates<'a>(&'a self, event: &'a RoutedEvent<'a>, into: &mut Vec<usize>) {
        into.extend_from_slice(&self.scanned);
        for (path, by_value) in &self.indexed {
            let key = path.lookup(event).and_then(|found| found.index_key());
            if let Some(routes) = key.and_then(|key| by_value.get(&key)) {
                into.extend_from_slice(routes);
            }
        }
    }
}

/// A project's active endpoints, compiled for routing.
#[derive(Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    exact: HashMap<String, Group>,
    /// By the prefix of a `prefix.*` pattern.
    prefixed: HashMap<String, Group>,
    /// `*` (every type but the operational ones).
    every: Group,
    /// Some filter looks into the payload (else routing never reads it).
    reads_payload: bool,
}

impl RouteTable {
    /// Compiles `endpoints` (in their store order; inactive ones are left out).
    pub fn new(endpoints: &[Endpoint]) -> Self {
        let mut table = Self::default();
        for endpoint in endpoints.iter().filter(|e| e.active) {
            let Some(route) = Route::compile(endpoint) else {
                continue;
            };
            table.reads_payload |= route
                .conditions
                .iter()
                .any(|c| matches!(c.path, FilterPath::Payload(_)));
            let index = table.routes.len();
            for pattern in &endpoint.events {
                let group = if pattern == "*" {
                    &mut table.every
                } else if let Some(prefix) = pattern.strip_suffix(".*") {
                    table.prefixed.entry(prefix.to_string()).or_default()
                } else {
                    table.exact.entry(pattern.clone()).or_default()
                };
                group.add(index, &route);
            }
            table.routes.push(route);
        }
        table
    }

    /// Ids of the endpoints subscribed to the event whose filters it
    /// passes, in the endpoints' store order, each once.
    pub fn route(&self, event: &RoutedEvent<'_>) -> Vec<&str> {
        let mut candidates = Vec::new();
        let event_type = event.event_type;
        if let Some(group) = self.exact.get(event_type) {
            group.candidates(event, &mut candidates);
        }
        for (dot, _) in event_type.match_indices('.') {
            if let Some(group) = self.prefixed.get(&event_type[..dot]) {
                group.candidates(event, &mut candidates);
            }
        }
        if !OPERATIONAL_EVENT_TYPES.contains(&event_type) {
            self.every.candidates(event, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|index| &self.routes[index])
            .filter(|route| route.passes(event))
            .map(|route| route.endpoint_id.as_str())
            .collect()
    }

    /// True when some endpoint's filter looks into the payload: callers
    /// parse the payload for [`RoutedEvent::payload`] only then.
    pub fn reads_payload(&self) -> bool {
        self.reads_payload
    }

    /// Active endpoints that can receive anything.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True when no endpoint can receive anything.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Routing tables by project, each with the endpoint-change version it was
/// compiled at.
#[derive(Default)]
pub struct RouteCache {
    tables: Mutex<HashMap<String, (u64, Arc<RouteTable>)>>,
}

impl RouteCache {
    /// The project's table at `version`: the cached one when it was
    /// compiled at that version, else compiled from `endpoints` (read by
    /// the caller at `version` or later) and kept.
    pub async fn table<E, F>(
        &self,
        project_id: &str,
        version: u64,
        endpoints: impl FnOnce() -> F,
    ) -> Result<Arc<RouteTable>, E>
    where
        F: std::future::Future<Output = Result<Vec<Endpoint>, E>>,
    {
        let cached = self.lock().get(project_id).cloned();
        if let Some((_, table)) = cached.filter(|(at, _)| *at == version) {
            return Ok(table);
        }
        let table = Arc::new(RouteTable::new(&endpoints().await?));
        self.lock()
            .insert(project_id.to_string(), (version, Arc::clone(&table)));
        Ok(table)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Arc<RouteTable>)>> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint(id: &str, events: &[&str], filter: &[(&str, &str)]) -> Endpoint {
        Endpoint {
            id: id.into(),
            project_id: "prj".into(),
            url: "https://example.com/hook".into(),
            description: String::new(),
            events: events.iter().map(|e| e.to_string()).collect(),
            active: true,
            disabled_reason: None,
            ordered: true,
            provider: "webhook".into(),
            config: Default::default(),
            secrets: Vec::new(),
            filter: filter
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rate_limit: None,
            failing_since_ms: None,
            failure_alerted: false,
            created_ms: 0,
            updated_ms: 0,
            declared: false,
        }
    }

    fn routed<'a>(event_type: &'a str, payload: &'a Value) -> RoutedEvent<'a> {
        RoutedEvent {
            event_type,
            resource: Some("user"),
            resource_id: None,
            payload,
        }
    }

    /// The rule written plainly, without compiling or indexing: the oracle
    /// the table is checked against.
    fn passes_plainly(endpoint: &Endpoint, event: &RoutedEvent<'_>) -> bool {
        let value_at = |path: &str| -> Option<Value> {
            match path {
                "event" => Some(event.event_type.into()),
                "resource" => event.resource.map(Into::into),
                "resource_id" => event.resource_id.map(Into::into),
                _ => {
                    let rest = path.strip_prefix("payload.")?;
                    let pointer = format!("/{}", rest.replace('.', "/"));
                    event.payload.pointer(&pointer).cloned()
                }
            }
        };
        endpoint.active
            && endpoint
                .events
                .iter()
                .any(|p| subscription_matches(p, event.event_type))
            && endpoint.filter.iter().all(|(path, expected)| {
                let expected: Option<Value> = serde_json::from_str(expected).ok();
                expected.is_some() && value_at(path) == expected
            })
    }

    #[test]
    fn patterns() {
        assert!(subscription_matches("*", "db.insert"));
        assert!(!subscription_matches("*", "delivery.exhausted"));
        assert!(subscription_matches("delivery.*", "delivery.exhausted"));
        assert!(subscription_matches("db.*", "db.insert"));
        assert!(!subscription_matches("db.*", "dbx.insert"));
        assert!(!subscription_matches("db.*", "db"));
        assert!(subscription_matches("user.created", "user.created"));
        assert!(!subscription_matches("user.created", "user.updated"));
    }

    #[test]
    fn filters() {
        let payload = json!({
            "plan": "pro", "seats": 3, "owner": { "country": "IN" }, "tags": ["a", "b"]
        });
        let passes = |filter: &[(&str, &str)]| {
            let table = RouteTable::new(&[endpoint("ep", &["*"], filter)]);
            table.route(&routed("user.created", &payload)) == ["ep"]
        };
        assert!(passes(&[]));
        assert!(passes(&[
            ("payload.plan", "\"pro\""),
            ("payload.seats", "3")
        ]));
        assert!(passes(&[
            ("payload.owner.country", "\"IN\""),
            ("resource", "\"user\"")
        ]));
        assert!(passes(&[
            ("payload.tags.1", "\"b\""),
            ("event", "\"user.created\"")
        ]));
        assert!(passes(&[("payload.owner", "{\"country\":\"IN\"}")]));
        assert!(!passes(&[("payload.plan", "\"free\"")]));
        assert!(!passes(&[("payload.seats", "3.0")]));
        assert!(!passes(&[("payload.missing", "null")]));
        assert!(!passes(&[("payload.tags.01", "\"b\"")]));
        assert!(!passes(&[("resource_id", "\"x\"")]));
        assert!(!passes(&[("payload.plan", "not json")]));
        assert!(!passes(&[("headers.x", "1")]));
    }

    /// The table answers what checking every endpoint plainly answers.
    #[test]
    fn table_agrees_with_the_plain_rule() {
        let mut endpoints = vec![
            endpoint("a", &["*"], &[]),
            endpoint("b", &["db.*", "db.insert"], &[("payload.shard", "1")]),
            endpoint("c", &["db.insert"], &[("payload.shard", "2")]),
            endpoint("d", &["db.*"], &[("payload.ratio", "0.5")]),
            endpoint("e", &["delivery.*"], &[]),
            endpoint(
                "f",
                &["*"],
                &[("resource", "\"user\""), ("payload.shard", "1")],
            ),
            endpoint("g", &["user.created"], &[("payload.shard", "-1")]),
            endpoint("h", &["db.insert"], &[("payload.shard", "true")]),
            endpoint("i", &["*"], &[("payload.deep.x", "null")]),
        ];
        endpoints.push(Endpoint {
            active: false,
            ..endpoint("z", &["*"], &[])
        });
        let table = RouteTable::new(&endpoints);
        assert_eq!(table.len(), endpoints.len() - 1);
        for event_type in [
            "db.insert",
            "db.update",
            "user.created",
            "delivery.exhausted",
        ] {
            for payload in [
                json!({ "shard": 1 }),
                json!({ "shard": 2 }),
                json!({ "shard": -1 }),
                json!({ "shard": true, "deep": { "x": null } }),
                json!({ "shard": 1.0, "ratio": 0.5 }),
                json!({ "shard": "1" }),
                json!({}),
            ] {
                let event = routed(event_type, &payload);
                let plain: Vec<&str> = endpoints
                    .iter()
                    .filter(|e| passes_plainly(e, &event))
                    .map(|e| e.id.as_str())
                    .collect();
                assert_eq!(table.route(&event), plain, "{event_type} {payload}");
            }
        }
        let shard_one = json!({ "shard": 1 });
        assert_eq!(
            table.route(&routed("db.insert", &shard_one)),
            ["a", "b", "f"]
        );
        assert_eq!(
            table.route(&routed("delivery.exhausted", &shard_one)),
            ["e"]
        );
    }

    #[tokio::test]
    async fn the_cache_compiles_again_only_when_the_version_moves() {
        let cache = RouteCache::default();
        let compiled = std::cell::Cell::new(0);
        let read = |events: &'static [&'static str]| {
            compiled.set(compiled.get() + 1);
            std::future::ready(Ok::<_, ()>(vec![endpoint("ep_1", events, &[])]))
        };
        let payload = serde_json::json!({});
        let first = cache.table("prj", 1, || read(&["a"])).await.unwrap();
        assert_eq!(first.route(&routed("a", &payload)), vec!["ep_1"]);
        let again = cache.table("prj", 1, || read(&["b"])).await.unwrap();
        assert_eq!(compiled.get(), 1, "same version: the cached table");
        assert!(Arc::ptr_eq(&first, &again));
        let moved = cache.table("prj", 2, || read(&["b"])).await.unwrap();
        assert_eq!(compiled.get(), 2);
        assert!(moved.route(&routed("a", &payload)).is_empty());
        assert_eq!(moved.route(&routed("b", &payload)), vec!["ep_1"]);
        cache.table("other", 2, || read(&["a"])).await.unwrap();
        assert_eq!(compiled.get(), 3, "tables are per project");
        let unread = cache
            .table("prj", 2, || std::future::ready(Err(())))
            .await
            .map(|t| t.len());
        assert_eq!(unread, Ok(1));
    }
}
