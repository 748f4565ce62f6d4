//! The route table and the OpenAPI document made from it. Every route is
//! registered with actix *from* this table ([`super::configure`]), so
//! `GET /openapi.json` lists exactly the routes the router has.

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone (health, metrics, inbound webhooks checked by signature).
    Public,
    /// The admin token.
    Admin,
    /// The admin token, the project's secret key, or one of its portal
    /// sessions (a read-only one for `GET` only).
    Manage,
    /// The admin token or the project's secret key (never a portal session).
    Owner,
    /// A portal session.
    Portal,
    /// The admin token or any key of the project.
    Ingest,
}

/// One documented, registered route.
pub struct RouteDoc {
    /// `get`, `post`, `put` or `delete`.
    pub method: &'static str,
    /// actix path, e.g. `/projects/{project}` (also the OpenAPI template).
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// The JSON body's schema, if it takes one.
    pub body: Option<fn() -> Value>,
    /// Statuses it answers.
    pub responses: &'static [u16],
    /// Builds the actix route (method guard + handler).
    pub route: fn() -> actix_web::Route,
    /// Optional query parameters it reads.
    pub query: &'static [QueryParam],
}

/// An optional query parameter: name, JSON-schema type, meaning.
pub type QueryParam = (&'static str, &'static str, &'static str);

impl RouteDoc {
    /// The same route, documented as reading these query parameters.
    pub fn with_query(mut self, query: &'static [QueryParam]) -> Self {
        self.query = query;
        self
    }
}

/// Shorthand for the tables in the route modules.
pub fn doc(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<fn() -> Value>,
    responses: &'static [u16],
    route: fn() -> actix_web::Route,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        auth,
        body,
        responses,
        route,
        query: &[],
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted: durable",
        204 => "No content",
        207 => "Multi-status: per-item results",
        400 => "Bad request: `field` names the problem",
        401 => "Missing or unknown credentials",
        403 => "Credentials without the right",
        404 => "Not found",
        405 => "Method not allowed: see Allow",
        409 => "Conflict",
        413 => "Body too large",
        429 => "Rate limited: retry after Retry-After seconds; nothing was done",
        503 => "Storage unavailable: not acknowledged; retry after Retry-After with the same Idempotency-Key",
        _ => "See the message",
    }
}

/// The `X-RateLimit-*` headers (and `Retry-After` on `429`) a response
/// carries: every answer of a management route (admin token or secret
/// key: the per-caller limit), and the `2xx` and `429` answers of a route
/// that takes from the project's ingestion budget (those listing `429`).
fn rate_limit_headers(route: &RouteDoc, status: u16) -> Option<Value> {
    let management = matches!(route.auth, Auth::Admin | Auth::Manage);
    let ingestion = route.responses.contains(&429) && (status < 300 || status == 429);
    if !management && !ingestion {
        return None;
    }
    let header = |name: &str| json!({ "$ref": format!("#/components/headers/{name}") });
    let mut headers = json!({
        "X-RateLimit-Limit": header("X-RateLimit-Limit"),
        "X-RateLimit-Remaining": header("X-RateLimit-Remaining"),
        "X-RateLimit-Reset": header("X-RateLimit-Reset"),
    });
    if status == 429 {
        headers["Retry-After"] = header("Retry-After");
    }
    Some(headers)
}

/// The statuses a route answers: its own, and `429` for every
/// management route (the per-caller limit).
fn statuses(route: &RouteDoc) -> Vec<u16> {
    let mut statuses = route.responses.to_vec();
    if matches!(route.auth, Auth::Admin | Auth::Manage) && !statuses.contains(&429) {
        statuses.push(429);
    }
    statuses
}

fn operation(route: &RouteDoc) -> Value {
    let params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .chain(route.query.iter().map(|(name, kind, meaning)| {
            json!({ "name": name, "in": "query", "required": false, "description": meaning, "schema": { "type": kind } })
        }))
        .collect();
    let responses: Map<String, Value> = statuses(route)
        .into_iter()
        .map(|status| {
            let mut response = json!({ "description": status_text(status) });
            if status >= 400 {
                response["content"] = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
            }
            if let Some(headers) = rate_limit_headers(route, status) {
                response["headers"] = headers;
            }
            (status.to_string(), response)
        })
        .collect();
    let mut op = json!({
        "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
        "summary": route.summary,
        "parameters": params,
        "responses": responses,
    });
    if route.auth != Auth::Public {
        op["security"] = json!([{ "bearer": [] }, { "apiKey": [] }]);
        op["description"] = json!(match route.auth {
            Auth::Admin => "Admin token.",
            Auth::Manage => "Admin token, the project's secret key, or one of its portal sessions (a read-only session for GET only).",
            Auth::Owner => "Admin token or the project's secret key (not a portal session).",
            Auth::Portal => "A portal session token.",
            _ => "Admin token or any key of the project (secret or publishable).",
        });
    }
    if let Some(schema) = route.body {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema() } } });
    }
    op
}

/// The OpenAPI 3.1 document for `routes`.
pub fn document(routes: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "hookmesh",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Emit an event once; hookmesh signs it and delivers it, in order and with retries, to every subscribed webhook and provider.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
            },
            "headers": {
                "X-RateLimit-Limit": {
                    "description": "Size of the token bucket (the burst): the most requests, or events, accepted at once. Ingestion: the project's ingest_limit (default [ingest]); management: the [management] limit of this key or the admin token.",
                    "schema": { "type": "integer", "minimum": 1 },
                },
                "X-RateLimit-Remaining": {
                    "description": "Whole tokens left in the bucket after this request.",
                    "schema": { "type": "integer", "minimum": 0 },
                },
                "X-RateLimit-Reset": {
                    "description": "Seconds (rounded up) until the bucket is full again; 0 when it is full.",
                    "schema": { "type": "integer", "minimum": 0 },
                },
                "Retry-After": {
                    "description": "Seconds (rounded up, at least 1) until the request would pass.",
                    "required": true,
                    "schema": { "type": "integer", "minimum": 1 },
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string", "description": "bad_request, unauthorized, forbidden, not_found, method_not_allowed, conflict, payload_too_large, rate_limited, unavailable, internal" },
                        "message": { "type": "string" },
                        "field": { "type": "string", "description": "Path of the offending field, e.g. events[3].payload" },
                    },
                },
            },
        },
    })
}

/// `GET /openapi.json`
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document(&super::routes()))
}

/// A JSON-schema object with `required` and `properties` (`(name, schema)`).
pub fn object(required: &[&str], properties: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = properties
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": properties })
}

/// Schema shorthands.
pub fn string() -> Value {
    json!({ "type": "string" })
}

/// A list of strings.
pub fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

/// A string map.
pub fn string_map() -> Value {
    json!({ "type": "object", "additionalProperties": { "type": "string" } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_well_formed_and_complete() {
        let routes = crate::api::routes();
        let doc = document(&routes);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        let mut ids = std::collections::HashSet::new();
        for (path, item) in paths {
            assert!(path.starts_with('/'), "{path}");
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                assert!(
                    ["get", "post", "put", "delete"].contains(&method.as_str()),
                    "{method}"
                );
                assert!(
                    ids.insert(op["operationId"].as_str().unwrap().to_string()),
                    "duplicate operationId"
                );
                assert!(
                    !op["responses"].as_object().unwrap().is_empty(),
                    "{method} {path} has no responses"
                );
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    assert!(
                        declared.contains(&segment.trim_matches(|c| c == '{' || c == '}')),
                        "{path}: {segment} undeclared"
                    );
                }
            }
        }
        assert_eq!(
            operations,
            routes.len(),
            "one operation per registered route"
        );
        for route in [
            "post /projects",
            "post /projects/{project}/events",
            "get /openapi.json",
            "post /inbound/{project}/{provider}",
        ] {
            let (method, path) = route.split_once(' ').unwrap();
            assert!(paths[path][method].is_object(), "{route} missing");
        }
    }

    #[test]
    fn limited_routes_document_the_rate_limit_headers() {
        let doc = document(&crate::api::routes());
        let response = |method: &str, path: &str, status: &str| {
            doc["paths"][path][method]["responses"][status].clone()
        };
        for (method, path) in [
            ("post", "/projects/{project}/events"),
            ("post", "/projects/{project}/events/bulk"),
            ("post", "/inbound/{project}/{provider}"),
            ("post", "/projects"),
            ("get", "/projects/{project}"),
        ] {
            let refused = response(method, path, "429");
            assert!(
                refused["headers"]["Retry-After"].is_object()
                    && refused["headers"]["X-RateLimit-Remaining"].is_object(),
                "{method} {path}: {refused}"
            );
        }
        let accepted = response("post", "/projects/{project}/events", "202");
        assert!(accepted["headers"]["X-RateLimit-Reset"].is_object());
        let bad = response("post", "/projects/{project}/events", "400");
        assert!(bad["headers"].is_null(), "a 400 never reached the bucket");
        assert!(response("get", "/healthz", "200")["headers"].is_null());
        for name in [
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ] {
            assert!(doc["components"]["headers"][name]["schema"].is_object());
        }
    }
}
