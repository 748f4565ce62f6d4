//! The HTTP API (actix-web), at the paths of DESIGN.md:
//!
//! - operations: `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /openapi.json`;
//! - projects: `POST /projects` (admin), `GET /projects/{p}`; keys:
//!   `GET|POST /projects/{p}/keys`, `DELETE …/keys/{id}`, `POST …/keys/{id}/rotate`;
//! - webhooks: `…/integrations/webhooks` CRUD, `rotate`, `test`,
//!   `deliveries` (+ one delivery, `replay`), `recover`;
//! - catalogue: `GET /projects/{p}/integrations/events`;
//! - providers: `GET …/integrations/providers`, `PUT …/providers/{name}`,
//!   `POST …/providers/{name}/toggle`; inbound: `POST /inbound/{p}/{name}`;
//! - health: `GET /projects/{p}/stats`, `GET …/webhooks/{id}/stats`;
//! - ingestion: `POST /projects/{p}/events`, `POST /projects/{p}/events/bulk`;
//! - rate limits: per-project ingestion and per-caller management buckets,
//!   `X-RateLimit-*` headers ([`limits`]).
//!
//! Errors are JSON `{error, message, field?}` ([`error::ApiError`]).

pub mod auth;
pub mod body;
mod deliveries;
pub(crate) mod duration;
pub mod error;
mod event_log;
mod events;
mod inbound;
pub mod keys;
pub mod limits;
pub mod openapi;
mod portal_sessions;
mod projects;
mod providers;
mod stats;
mod webhooks;

use crate::dispatch::Dispatcher;
use crate::egress::Egress;
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::plugin::PluginRegistry;
use crate::ratelimit::Rate;
use crate::signing::SecretBox;
use crate::store::{self, Project, Store};
use actix_web::{web, HttpResponse, Responder};
use error::ApiError;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Shared state of the API workers.
#[derive(Clone)]
pub struct AppState {
    /// Durable state.
    pub store: Store,
    /// Loaded plugins.
    pub plugins: PluginRegistry,
    /// The one ingestion path (routes, stores, wakes).
    pub ingestor: Arc<Ingestor>,
    /// Wakes endpoint actors.
    pub dispatcher: Dispatcher,
    /// For `test` sends and URL checks.
    pub egress: Egress,
    /// Seals endpoint secrets.
    pub secrets: SecretBox,
    /// The admin token.
    pub admin_token: String,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Grace window of a rotated-out secret.
    pub rotation_grace: Duration,
    /// Memory of idempotency keys.
    pub idempotency_ttl: Duration,
    /// Default per-project ingestion limit (a project may have its own;
    /// the buckets are in the store).
    pub ingest_rate: Rate,
    /// The management API's limit per caller (see [`limits`]).
    pub management_rate: Rate,
    /// `storage.retention`: how long finished records are kept, unless a
    /// project has its own `retention`.
    pub retention: Duration,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// When each API key's last use was written.
    pub key_usage: Arc<auth::KeyUsage>,
}

/// Every route, documented: the router and `/openapi.json` both come from here.
pub fn routes() -> Vec<openapi::RouteDoc> {
    use openapi::{doc, Auth};
    // The router tries routes in this order: ingestion, the hot path, first.
    let mut routes = events::routes();
    routes.extend([
        doc(
            "get",
            "/healthz",
            "Liveness",
            Auth::Public,
            None,
            &[200],
            || web::get().to(healthz),
        ),
        doc(
            "get",
            "/readyz",
            "Readiness: store answers, plugins loaded, live endpoint actors",
            Auth::Public,
            None,
            &[200, 503],
            || web::get().to(readyz),
        ),
        doc(
            "get",
            "/metrics",
            "Prometheus metrics",
            Auth::Public,
            None,
            &[200, 503],
            || web::get().to(metrics),
        ),
        doc(
            "get",
            "/openapi.json",
            "This document",
            Auth::Public,
            None,
            &[200],
            || web::get().to(openapi::serve),
        ),
    ]);
    routes.extend(projects::routes());
    routes.extend(keys::routes());
    routes.extend(portal_sessions::routes());
    routes.extend(webhooks::routes());
    routes.extend(deliveries::routes());
    routes.extend(event_log::routes());
    routes.extend(providers::routes());
    routes.extend(inbound::routes());
    routes.extend(stats::routes());
    routes
}

/// Registers every route of [`routes`], one resource per path in the
/// order the paths first appear: a method the path does not serve gets
/// `405` with `Allow`; management routes pass the management limit
/// first ([`limited`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let routes = routes();
    let mut paths: Vec<&str> = Vec::new();
    for route in &routes {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    for path in paths {
        let served: Vec<&openapi::RouteDoc> = routes.iter().filter(|r| r.path == path).collect();
        let allow = served
            .iter()
            .map(|r| r.method.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(", ");
        let resource = served
            .iter()
            .fold(web::resource(path), |resource, r| {
                resource.route(limited(r))
            })
            .default_service(web::to(move || method_not_allowed(allow.clone())));
        cfg.service(resource);
    }
}

/// The route's handler; one that needs the admin token, a secret key or
/// a portal session goes through the management limit first.
fn limited(route: &openapi::RouteDoc) -> actix_web::Route {
    let handler = (route.route)();
    match route.auth {
        openapi::Auth::Admin
        | openapi::Auth::Manage
        | openapi::Auth::Owner
        | openapi::Auth::Portal => {
            handler.wrap(actix_web::middleware::from_fn(limits::management_limit))
        }
        openapi::Auth::Public | openapi::Auth::Ingest => handler,
    }
}

/// `405` for a method a known path does not serve.
async fn method_not_allowed(allow: String) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", allow.as_str()))
        .json(json!({
            "error": "method_not_allowed",
            "message": format!("this path answers {allow}"),
        }))
}

/// `404` for a path no route serves.
pub async fn no_such_route(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": "not_found",
        "message": format!("no route for {} {} (see GET /openapi.json)", req.method(), req.path()),
    }))
}

/// Liveness: the process answers.
async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the store answers and plugins are loaded.
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.project("readyz-probe").await?;
    let plugins: Vec<_> = state
        .plugins
        .iter()
        .map(|p| json!({ "name": p.name(), "version": p.manifest().version }))
        .collect();
    let endpoint_actors = state.dispatcher.live_actors().await;
    Ok(HttpResponse::Ok()
        .json(json!({ "status": "ready", "plugins": plugins, "endpoint_actors": endpoint_actors })))
}

/// Prometheus metrics; queue gauges are sampled now.
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let samples = state.store.queue_stats().await?;
    let classes = state.plugins.iter().map(|plugin| plugin.name());
    state.metrics.set_queues(&samples, classes, crate::now_ms());
    let actors = state.dispatcher.live_actors().await;
    state
        .metrics
        .endpoint_actors
        .set(i64::try_from(actors).unwrap_or(i64::MAX));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render()))
}

/// The project, or `404`.
async fn load_project(state: &AppState, project_id: &str) -> Result<Project, ApiError> {
    existing_project(state.store.project(project_id).await?, project_id)
}

/// The project read for `project_id`, or `404`.
fn existing_project(project: Option<Project>, project_id: &str) -> Result<Project, ApiError> {
    project.ok_or_else(|| ApiError::NotFound(format!("project `{project_id}` not found")))
}

/// Authenticates for management of `project_id` (admin token, the
/// project's secret key, or one of its portal sessions — a read-only one
/// for `GET` only) and loads the project.
async fn manage(
    state: &AppState,
    req: &actix_web::HttpRequest,
    project_id: &str,
) -> Result<Project, ApiError> {
    let (principal, project) = auth::authenticate_with_project(state, req, project_id).await?;
    principal.require_manage(project_id, auth::Access::of(req))?;
    existing_project(project, project_id)
}

/// Authenticates the project's owner (admin token or its secret key: no
/// portal session) and loads the project.
async fn own(
    state: &AppState,
    req: &actix_web::HttpRequest,
    project_id: &str,
) -> Result<Project, ApiError> {
    let (principal, project) = auth::authenticate_with_project(state, req, project_id).await?;
    principal.require_owner(project_id)?;
    existing_project(project, project_id)
}

/// The project's endpoint `id`, or `404` (also when it belongs to another project).
async fn load_endpoint(
    state: &AppState,
    project_id: &str,
    id: &str,
) -> Result<store::Endpoint, ApiError> {
    match state.store.endpoint(id).await? {
        Some(endpoint) if endpoint.project_id == project_id => Ok(endpoint),
        _ => Err(ApiError::NotFound(format!(
            "webhook `{id}` not found in project `{project_id}`"
        ))),
    }
}

/// Unix ms as the API shows times.
fn time_ms(ms: u64) -> serde_json::Value {
    json!(ms)
}
