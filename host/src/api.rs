//! The HTTP API (actix-web). Today: operations routes (`/healthz`,
//! `/readyz`); the management and ingestion routes of DESIGN.md join here.

use crate::plugin::PluginRegistry;
use actix_web::{web, HttpResponse, Responder};
use serde_json::json;

/// Shared, read-only state of the API workers.
#[derive(Clone)]
pub struct AppState {
    /// Loaded plugins.
    pub plugins: PluginRegistry,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// Liveness: the process answers.
async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: plugins are loaded and the server can take traffic.
async fn readyz(state: web::Data<AppState>) -> impl Responder {
    let plugins: Vec<_> = state
        .plugins
        .iter()
        .map(|p| json!({ "name": p.name(), "version": p.manifest().version }))
        .collect();
    HttpResponse::Ok().json(json!({ "status": "ready", "plugins": plugins }))
}
