//! OpenAPI `links`: from each operation that makes or lists a resource to
//! every operation that takes its id, so a client (or a stateful tester)
//! can follow `POST /projects` → `…/webhooks` → `…/webhooks/{id}/…`.
//!
//! A link is made from producer to consumer when the consumer's path has
//! the produced parameter and each of its other path parameters comes
//! from the producer's own path (`$request.path.…`) or is free: one the
//! schema enumerates (`{provider}`), or the name a `PUT` declares
//! (`PUT …/events/{type}`).

use super::{operation_id, path_names, RouteDoc};
use serde_json::{json, Map, Value};

/// An operation that yields an id: its method, path, the statuses that
/// carry it, the path parameter it fills and the runtime expression.
struct Producer {
    method: &'static str,
    path: &'static str,
    statuses: &'static [u16],
    param: &'static str,
    value: &'static str,
}

const fn producer(
    method: &'static str,
    path: &'static str,
    statuses: &'static [u16],
    param: &'static str,
    value: &'static str,
) -> Producer {
    Producer {
        method,
        path,
        statuses,
        param,
        value,
    }
}

const WEBHOOKS: &str = "/projects/{project}/integrations/webhooks";

const PRODUCERS: &[Producer] = &[
    producer("post", "/projects", &[201], "project", "$response.body#/id"),
    producer("post", WEBHOOKS, &[201], "id", "$response.body#/id"),
    producer("get", WEBHOOKS, &[200], "id", "$response.body#/data/0/id"),
    producer(
        "post",
        "/projects/{project}/events",
        &[202],
        "event",
        "$response.body#/id",
    ),
    producer(
        "post",
        "/projects/{project}/events/bulk",
        &[202],
        "event",
        "$response.body#/data/0/id",
    ),
    producer(
        "get",
        "/projects/{project}/events",
        &[200],
        "event",
        "$response.body#/data/0/id",
    ),
    producer(
        "get",
        "/projects/{project}/integrations/webhooks/{id}/deliveries",
        &[200],
        "delivery",
        "$response.body#/data/0/id",
    ),
    producer(
        "get",
        "/projects/{project}/integrations/webhooks/{id}/deliveries/{delivery}",
        &[200],
        "number",
        "$response.body#/attempt_log/0/number",
    ),
    producer(
        "post",
        "/projects/{project}/keys",
        &[201],
        "key",
        "$response.body#/id",
    ),
    producer(
        "post",
        "/projects/{project}/keys/{key}/rotate",
        &[201],
        "key",
        "$response.body#/id",
    ),
    producer(
        "post",
        "/projects/{project}/portal/sessions",
        &[201],
        "session",
        "$response.body#/id",
    ),
    producer(
        "get",
        "/projects/{project}/portal/sessions",
        &[200],
        "session",
        "$response.body#/data/0/id",
    ),
    producer(
        "put",
        "/projects/{project}/integrations/events/{type}",
        &[200, 201],
        "type",
        "$request.path.type",
    ),
    producer(
        "put",
        "/projects/{project}/integrations/providers/{provider}",
        &[200],
        "provider",
        "$request.path.provider",
    ),
];

/// Whether a consumer may leave `param` for the tester to generate.
fn free(consumer: &RouteDoc, param: &str) -> bool {
    param == "provider" || (param == "type" && consumer.method == "put")
}

/// The parameters of a link from `producer` to `consumer`, if it can be made.
fn parameters(producer: &Producer, consumer: &RouteDoc) -> Option<Map<String, Value>> {
    let mut parameters = Map::new();
    let mut takes_it = false;
    for name in path_names(consumer.path) {
        if name == producer.param {
            takes_it = true;
            parameters.insert(name.to_string(), json!(producer.value));
        } else if path_names(producer.path).any(|p| p == name) {
            parameters.insert(name.to_string(), json!(format!("$request.path.{name}")));
        } else if !free(consumer, name) {
            return None;
        }
    }
    takes_it.then_some(parameters)
}

/// Adds to `op` (the operation of `route`) its links to the `routes` that
/// take what it produces.
pub(super) fn add(op: &mut Value, route: &RouteDoc, routes: &[RouteDoc]) {
    for producer in PRODUCERS
        .iter()
        .filter(|p| p.method == route.method && p.path == route.path)
    {
        let links: Map<String, Value> = routes
            .iter()
            .filter(|consumer| !std::ptr::eq(*consumer, route))
            .filter_map(|consumer| {
                let parameters = parameters(producer, consumer)?;
                let id = operation_id(consumer);
                Some((
                    id.clone(),
                    json!({ "operationId": id, "parameters": parameters }),
                ))
            })
            .collect();
        for status in producer.statuses {
            let response = &mut op["responses"][status.to_string()];
            if response.is_object() {
                let existing = response["links"].as_object().cloned().unwrap_or_default();
                let mut merged = existing;
                merged.extend(links.clone());
                response["links"] = Value::Object(merged);
            }
        }
    }
}
