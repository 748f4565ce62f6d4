//! The route table and the OpenAPI document made from it. Every route is
//! registered with actix *from* this table ([`super::configure`]), so
//! `GET /openapi.json` lists exactly the routes the router has.
//!
//! The document states what the handlers check: body and query schemas
//! carry their lengths, patterns, enums and bounds; path parameters their
//! shapes (`{provider}` is one of the loaded plugins, so the document is
//! made per host from its [`PluginRegistry`]); every operation lists its
//! error statuses; [`links`] lead from the operations that create
//! resources (`POST /projects`, `POST …/webhooks`, …) to those that take
//! their ids. What JSON Schema cannot state (a URL must resolve to an
//! allowed address, a plugin's per-field config semantics, a strict
//! project's catalogue) is in the descriptions and the README.

mod links;
pub mod params;

use crate::plugin::PluginRegistry;
use actix_web::{web, HttpResponse};
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
    /// The JSON body's schema, if it takes one (made for the loaded plugins).
    pub body: Option<fn(&PluginRegistry) -> Value>,
    /// Statuses it answers.
    pub responses: &'static [u16],
    /// Builds the actix route (method guard + handler).
    pub route: fn() -> actix_web::Route,
    /// Optional query parameters it reads.
    pub query: Vec<QueryParam>,
    /// Whether an empty body is taken as `{}`.
    pub optional_body: bool,
}

/// An optional query parameter.
pub struct QueryParam {
    name: &'static str,
    schema: Value,
    meaning: &'static str,
}

/// An optional query parameter: its name, JSON Schema and meaning.
pub fn query(name: &'static str, schema: Value, meaning: &'static str) -> QueryParam {
    QueryParam {
        name,
        schema,
        meaning,
    }
}

impl RouteDoc {
    /// The same route, documented as reading these query parameters.
    pub fn with_query(mut self, query: Vec<QueryParam>) -> Self {
        self.query = query;
        self
    }

    /// The same route, documented as taking an empty body as `{}`.
    pub fn with_optional_body(mut self) -> Self {
        self.optional_body = true;
        self
    }
}

/// Shorthand for the tables in the route modules.
pub fn doc(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<fn(&PluginRegistry) -> Value>,
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
        query: Vec::new(),
        optional_body: false,
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
    let management = is_management(route);
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

/// Whether the route passes the per-caller management limit.
fn is_management(route: &RouteDoc) -> bool {
    matches!(
        route.auth,
        Auth::Admin | Auth::Manage | Auth::Owner | Auth::Portal
    )
}

/// The statuses `route` answers: its own, plus those every route of its
/// kind may give (`400`/`413` with a body; `401`/`403` with credentials;
/// `503` when the store does not answer; `429` on management routes, the
/// per-caller limit).
fn statuses(route: &RouteDoc) -> Vec<u16> {
    let mut statuses = route.responses.to_vec();
    if route.body.is_some() {
        statuses.extend([400, 413]);
    }
    if !route.query.is_empty() {
        statuses.push(400);
    }
    if route.auth != Auth::Public {
        statuses.extend([401, 403, 503]);
    }
    if is_management(route) {
        statuses.push(429);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn operation(route: &RouteDoc, plugins: &PluginRegistry) -> Value {
    let params: Vec<Value> = path_names(route.path)
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": params::path(route, name, plugins) }))
        .chain(route.query.iter().map(|q| {
            json!({ "name": q.name, "in": "query", "required": false, "description": q.meaning, "schema": q.schema })
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
        "operationId": operation_id(route),
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
        op["requestBody"] = json!({ "required": !route.optional_body, "content": { "application/json": { "schema": schema(plugins) } } });
    }
    op
}

/// The names of a path's parameters, in order (`project`, `id`, …).
fn path_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation_id(route: &RouteDoc) -> String {
    format!(
        "{}{}",
        route.method,
        route.path.replace(['/', '{', '}', '.'], "_")
    )
}

/// The OpenAPI 3.1 document for `routes`.
pub fn document(routes: &[RouteDoc], plugins: &PluginRegistry) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let mut op = operation(route, plugins);
        links::add(&mut op, route, routes);
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method] = op;
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
pub async fn serve(state: web::Data<super::AppState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&super::routes(), &state.plugins))
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

/// No control character (Unicode category Cc), as `char::is_control`.
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A string of `min`-`max` characters, none a control character.
pub fn text(min: usize, max: usize) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max, "pattern": NO_CONTROL })
}

/// A string of `min`-`max` characters (code points).
pub fn sized(min: usize, max: usize) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max })
}

/// `schema`, also taking `null` (an optional field serde reads as absent).
pub fn nullable(mut schema: Value) -> Value {
    let types = match schema["type"].take() {
        Value::Array(mut types) => {
            types.push(json!("null"));
            types
        }
        Value::String(one) => vec![json!(one), json!("null")],
        _ => return json!({ "anyOf": [schema, { "type": "null" }] }),
    };
    schema["type"] = Value::Array(types);
    schema
}

/// A time in Unix ms (or another `u64`, such as a cursor).
pub fn unix_ms() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
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
        let doc = document(&routes, &PluginRegistry::default());
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
        let doc = document(&crate::api::routes(), &PluginRegistry::default());
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

    /// The links of `method path`'s response `status`, by target operationId.
    fn links(doc: &Value, method: &str, path: &str, status: &str) -> Map<String, Value> {
        doc["paths"][path][method]["responses"][status]["links"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn links_lead_from_what_makes_an_id_to_what_takes_it() {
        let routes = crate::api::routes();
        let doc = document(&routes, &PluginRegistry::default());
        let from_projects = links(&doc, "post", "/projects", "201");
        let project_ops: Vec<&RouteDoc> = routes
            .iter()
            .filter(|r| path_names(r.path).eq(["project"]))
            .collect();
        assert!(project_ops.len() > 10);
        for route in project_ops {
            let link = &from_projects[&operation_id(route)];
            assert_eq!(
                link["parameters"]["project"], "$response.body#/id",
                "{}",
                route.path
            );
        }
        // `{provider}` is enumerated and a PUT declares `{type}`: both free.
        for free in [
            "put_projects__project__integrations_providers__provider_",
            "post_inbound__project___provider_",
            "put_projects__project__integrations_events__type_",
        ] {
            assert!(from_projects.contains_key(free), "{free}");
        }
        assert!(!from_projects.contains_key("get_projects__project__integrations_webhooks__id_"));
        let from_webhook = links(
            &doc,
            "post",
            "/projects/{project}/integrations/webhooks",
            "201",
        );
        let show = &from_webhook["get_projects__project__integrations_webhooks__id_"];
        assert_eq!(show["parameters"]["project"], "$request.path.project");
        assert_eq!(show["parameters"]["id"], "$response.body#/id");
        assert!(from_webhook.contains_key("delete_projects__project__integrations_webhooks__id_"));
        let from_event = links(&doc, "post", "/projects/{project}/events", "202");
        assert_eq!(
            from_event["get_projects__project__events__event_"]["parameters"]["event"],
            "$response.body#/id"
        );
        // Every link names an operation of the document.
        let ids: std::collections::HashSet<String> = routes.iter().map(operation_id).collect();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for response in op["responses"].as_object().unwrap().values() {
                    for link in response["links"]
                        .as_object()
                        .into_iter()
                        .flat_map(|l| l.values())
                    {
                        assert!(ids.contains(link["operationId"].as_str().unwrap()));
                    }
                }
            }
        }
    }

    #[test]
    fn path_parameters_and_statuses_state_the_checks() {
        let doc = document(&crate::api::routes(), &PluginRegistry::default());
        let op = &doc["paths"]["/projects/{project}/integrations/events/{type}"]["put"];
        let params = op["parameters"].as_array().unwrap();
        assert_eq!(params[0]["schema"]["pattern"], params::PROJECT_ID_PATTERN);
        assert_eq!(params[1]["schema"]["pattern"], params::EVENT_TYPE_PATTERN);
        assert!(
            params[1]["schema"]["not"]["enum"].is_array(),
            "built-in types cannot be declared"
        );
        assert_eq!(
            op["requestBody"]["required"], false,
            "an empty body is {{}}"
        );
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        for status in ["200", "201", "400", "401", "403", "404", "413", "503"] {
            assert!(statuses.iter().any(|s| *s == status), "{status} missing");
        }
        let create = &doc["paths"]["/projects"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        let name = pattern_matches(create["properties"]["name"]["pattern"].as_str().unwrap());
        assert!(name("acme") && name("  acme  ") && !name("   ") && !name(""));
        assert!(name(&"x".repeat(200)) && !name(&"x".repeat(201)));
    }

    /// Whether `pattern` (as the API's schema spells it) matches a string,
    /// checked with the same JSON Schema validator ingestion uses.
    fn pattern_matches(pattern: &str) -> impl Fn(&str) -> bool {
        let validator =
            jsonschema::validator_for(&json!({ "type": "string", "pattern": pattern })).unwrap();
        move |text| validator.is_valid(&json!(text))
    }
}
