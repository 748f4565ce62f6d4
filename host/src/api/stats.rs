//! Webhook health for dashboards and users:
//! `GET /projects/{p}/integrations/webhooks/{id}/stats?window=1h` and
//! `GET /projects/{p}/stats?window=24h` (totals and one row per endpoint):
//! attempts, successes, retries, failures, success and error rates, and
//! attempt latency p50/p99 (from per-minute histograms; a quantile is the
//! upper bound of its latency bucket).

use super::auth::authenticate;
use super::error::ApiError;
use super::openapi::{doc, Auth, RouteDoc};
use super::{manage, AppState};
use crate::store::{self, Stats};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Window when none is given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest window.
const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/stats",
            "Webhook health per project and endpoint (?window=24h)",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(project_stats),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}/stats",
            "One endpoint's health (?window=1h)",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(endpoint_stats),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowQuery {
    #[serde(default)]
    window: Option<String>,
}

fn window(req: &HttpRequest) -> Result<Duration, ApiError> {
    let query = web::Query::<WindowQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad("query", e.to_string()))?;
    let Some(text) = &query.window else {
        return Ok(DEFAULT_WINDOW);
    };
    let window = humantime::parse_duration(text)
        .map_err(|e| ApiError::bad("window", format!("`{text}` is not a duration ({e})")))?;
    if window.is_zero() || window > MAX_WINDOW {
        return Err(ApiError::bad("window", "must be between 1m and 30d"));
    }
    Ok(window)
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn view(stats: &Stats) -> serde_json::Value {
    json!({
        "attempts": stats.attempts,
        "successes": stats.successes,
        "retries": stats.retries,
        "failures": stats.failures,
        "success_rate": ratio(stats.successes, stats.successes + stats.failures),
        "error_rate": ratio(stats.retries + stats.failures, stats.attempts),
        "latency_ms": { "p50": stats.latency_quantile_ms(0.5), "p99": stats.latency_quantile_ms(0.99) },
    })
}

fn since_ms(window: Duration) -> u64 {
    crate::now_ms().saturating_sub(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
}

async fn endpoint_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id) = path.into_inner();
    authenticate(&state, &req)
        .await?
        .require_manage(&project_id)?;
    let window = window(&req)?;
    let store = Arc::clone(&state.store);
    let id = endpoint_id.clone();
    let found = store::blocking(move || match store.endpoint(&id)? {
        Some(e) if e.project_id == project_id => {
            Ok(Some(store.endpoint_stats(&id, since_ms(window))?))
        }
        _ => Ok(None),
    })
    .await?;
    let stats =
        found.ok_or_else(|| ApiError::NotFound(format!("webhook `{endpoint_id}` not found")))?;
    let mut body = view(&stats);
    body["window"] = json!(humantime::format_duration(window).to_string());
    body["endpoint_id"] = json!(endpoint_id);
    Ok(HttpResponse::Ok().json(body))
}

async fn project_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let window = window(&req)?;
    let store = Arc::clone(&state.store);
    let rows = store::blocking(move || {
        let since = since_ms(window);
        store
            .endpoints_of(&project_id)?
            .into_iter()
            .map(|e| {
                Ok((
                    e.id.clone(),
                    e.url.clone(),
                    store.endpoint_stats(&e.id, since)?,
                ))
            })
            .collect::<Result<Vec<_>, store::StoreError>>()
    })
    .await?;
    let mut total = Stats::default();
    let endpoints: Vec<_> = rows
        .iter()
        .map(|(id, url, stats)| {
            total.add(stats);
            let mut row = view(stats);
            row["endpoint_id"] = json!(id);
            row["url"] = json!(url);
            row
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "window": humantime::format_duration(window).to_string(),
        "total": view(&total),
        "endpoints": endpoints,
    })))
}
