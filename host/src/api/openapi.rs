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
        429 => "Rate limited: see Retry-After",
        503 => "Storage unavailable: not acknowledged; retry after Retry-After with the same Idempotency-Key",
        _ => "See the message",
    }
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
    let responses: Map<String, Value> = route
        .responses
        .iter()
        .map(|status| {
            let mut response = json!({ "description": status_text(*status) });
            if *status >= 400 {
                response["content"] = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
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
}
