//! Webhook health for dashboards and users:
//! `GET /projects/{p}/integrations/webhooks/{id}/stats?window=1h` and
//! `GET /projects/{p}/stats?window=24h` (totals and one row per endpoint):
//! attempts, successes, retries, failures, success and error rates, and
//! attempt latency p50/p99 (from per-minute histograms; a quantile is the
//! upper bound of its latency bucket), plus the volume over the window as a
//! `series` of `?interval=` buckets (default: 60 buckets over the window,
//! at least a minute each; empty buckets are listed with zeros). Where
//! only hourly counts are kept (Redis, windows past 24 h), an hour's
//! counts fall in the bucket holding its start.

use super::auth::authenticate;
use super::duration::DurationRule;
use super::error::ApiError;
use super::openapi::{doc, query, Auth, QueryParam, RouteDoc};
use super::{manage, AppState};
use crate::store::{Stats, StatsPeriod};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Window when none is given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Buckets in a series when no interval is given.
const DEFAULT_BUCKETS: u64 = 60;
/// Most buckets a series may have.
const MAX_BUCKETS: u64 = 1440;
/// Shortest interval: the stored resolution.
const MIN_INTERVAL_MS: u64 = 60_000;

/// `window`: from a minute to 30 days.
const WINDOW: DurationRule = DurationRule {
    min_secs: 60,
    max_secs: 30 * 24 * 3600,
    units: "smhd",
    meaning: "how far back (default `24h`)",
};
/// `interval`: whole minutes up to the longest window. An interval giving
/// more than [`MAX_BUCKETS`] over the window is widened to fit (the answer
/// states the interval used).
const INTERVAL: DurationRule = DurationRule {
    min_secs: 60,
    max_secs: 30 * 24 * 3600,
    units: "mhd",
    meaning: "series bucket (default: 60 buckets over the window); widened to at most 1440 buckets",
};

/// The query both stats routes read.
fn window_query() -> Vec<QueryParam> {
    vec![
        query("window", WINDOW.schema(), WINDOW.meaning),
        query("interval", INTERVAL.schema(), INTERVAL.meaning),
    ]
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/stats",
            "Webhook health per project and endpoint, with a volume series (?window=24h&interval=30m)",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(project_stats),
        )
        .with_query(window_query()),
        doc(
            "get",
            "/projects/{project}/integrations/webhooks/{id}/stats",
            "One endpoint's health with a volume series (?window=1h&interval=1m)",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(endpoint_stats),
        )
        .with_query(window_query()),
        doc(
            "get",
            "/queues",
            "Every endpoint with queued work (admin): its provider, depth and oldest queued delivery",
            Auth::Admin,
            None,
            &[200, 401, 403],
            || web::get().to(queues),
        ),
    ]
}

/// `GET /queues`: what waits, endpoint by endpoint, deepest first.
async fn queues(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req).await?.require_admin()?;
    let mut samples = state.store.queue_stats().await?;
    samples.sort_by(|a, b| {
        b.depth
            .cmp(&a.depth)
            .then(a.endpoint_id.cmp(&b.endpoint_id))
    });
    let data: Vec<_> = samples
        .iter()
        .map(|q| {
            json!({
                "endpoint_id": q.endpoint_id,
                "provider": q.provider,
                "depth": q.depth,
                "oldest_at": q.oldest_ms,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowQuery {
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    interval: Option<String>,
}

/// What a stats request covers: a window ending now, cut into intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    window: Duration,
    interval_ms: u64,
}

fn span(req: &HttpRequest) -> Result<Span, ApiError> {
    let query = web::Query::<WindowQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad("query", e.to_string()))?;
    let window = match &query.window {
        Some(text) => WINDOW.read("window", text)?,
        None => DEFAULT_WINDOW,
    };
    let window_ms = millis(window);
    let asked_ms = match &query.interval {
        Some(text) => millis(INTERVAL.read("interval", text)?),
        None => window_ms.div_ceil(DEFAULT_BUCKETS),
    };
    let fewest_ms = window_ms.div_ceil(MAX_BUCKETS);
    let interval_ms = asked_ms.max(fewest_ms).next_multiple_of(MIN_INTERVAL_MS);
    Ok(Span {
        window,
        interval_ms,
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Counts per interval from `since_ms` to `now_ms`, buckets aligned to
/// multiples of the interval, every bucket listed.
fn series<'a>(
    periods: impl IntoIterator<Item = &'a StatsPeriod>,
    since_ms: u64,
    now_ms: u64,
    interval_ms: u64,
) -> Vec<(u64, Stats)> {
    let first = since_ms - since_ms % interval_ms;
    let count = (now_ms.saturating_sub(first) / interval_ms + 1) as usize;
    let mut buckets: Vec<(u64, Stats)> = (0..count)
        .map(|i| (first + i as u64 * interval_ms, Stats::default()))
        .collect();
    for period in periods {
        let index = (period.start_ms.saturating_sub(first) / interval_ms) as usize;
        if let Some((_, stats)) = buckets.get_mut(index) {
            stats.add(&period.stats);
        }
    }
    buckets
}

fn series_view(buckets: &[(u64, Stats)]) -> serde_json::Value {
    buckets
        .iter()
        .map(|(start_ms, stats)| {
            json!({
                "start_ms": start_ms,
                "attempts": stats.attempts,
                "successes": stats.successes,
                "retries": stats.retries,
                "failures": stats.failures,
            })
        })
        .collect()
}

fn total<'a>(periods: impl IntoIterator<Item = &'a StatsPeriod>) -> Stats {
    let mut total = Stats::default();
    for period in periods {
        total.add(&period.stats);
    }
    total
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

fn since_ms(window: Duration, now_ms: u64) -> u64 {
    now_ms.saturating_sub(millis(window))
}

/// The window and interval as the answer names them.
fn describe(span: Span, body: &mut serde_json::Value) {
    body["window"] = json!(humantime::format_duration(span.window).to_string());
    body["interval"] =
        json!(humantime::format_duration(Duration::from_millis(span.interval_ms)).to_string());
}

async fn endpoint_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, endpoint_id) = path.into_inner();
    authenticate(&state, &req)
        .await?
        .require_manage(&project_id, super::auth::Access::Read)?;
    let span = span(&req)?;
    let now_ms = crate::now_ms();
    let since = since_ms(span.window, now_ms);
    let found = match state.store.endpoint(&endpoint_id).await? {
        Some(e) if e.project_id == project_id => {
            let mut stats = state.store.endpoint_stats(vec![e.id], since).await?;
            stats.pop()
        }
        _ => None,
    };
    let periods =
        found.ok_or_else(|| ApiError::NotFound(format!("webhook `{endpoint_id}` not found")))?;
    let mut body = view(&total(&periods));
    describe(span, &mut body);
    body["endpoint_id"] = json!(endpoint_id);
    body["series"] = series_view(&series(&periods, since, now_ms, span.interval_ms));
    Ok(HttpResponse::Ok().json(body))
}

async fn project_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let span = span(&req)?;
    let now_ms = crate::now_ms();
    let since = since_ms(span.window, now_ms);
    let endpoints = state.store.endpoints_of(&project_id).await?;
    let ids = endpoints.iter().map(|e| e.id.clone()).collect();
    let stats = state.store.endpoint_stats(ids, since).await?;
    let rows: Vec<_> = endpoints
        .into_iter()
        .zip(stats)
        .map(|(e, periods)| (e.id, e.url, periods))
        .collect();
    let all = || rows.iter().flat_map(|(_, _, periods)| periods);
    let endpoints: Vec<_> = rows
        .iter()
        .map(|(id, url, periods)| {
            let mut row = view(&total(periods));
            row["endpoint_id"] = json!(id);
            row["url"] = json!(url);
            row
        })
        .collect();
    let mut body = json!({
        "total": view(&total(all())),
        "series": series_view(&series(all(), since, now_ms, span.interval_ms)),
        "endpoints": endpoints,
    });
    describe(span, &mut body);
    Ok(HttpResponse::Ok().json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(start_ms: u64, length_ms: u64, attempts: u64) -> StatsPeriod {
        let mut stats = Stats::default();
        for _ in 0..attempts {
            stats.record(&crate::store::AttemptOutcome::Success, 3);
        }
        StatsPeriod {
            start_ms,
            length_ms,
            stats,
        }
    }

    #[test]
    fn series_lists_every_bucket_and_puts_each_period_in_the_one_holding_its_start() {
        const MIN: u64 = 60_000;
        let periods = [
            period(10 * MIN, MIN, 2),
            period(11 * MIN, MIN, 1),
            period(14 * MIN, MIN, 4),
        ];
        // 10:30 → 15:10 in 2-minute buckets: 10, 12, 14.
        let buckets = series(&periods, 10 * MIN + 30_000, 15 * MIN + 10_000, 2 * MIN);
        let counts: Vec<(u64, u64)> = buckets
            .iter()
            .map(|(start, stats)| (start / MIN, stats.attempts))
            .collect();
        assert_eq!(counts, [(10, 3), (12, 0), (14, 4)]);
        // An hourly period starting before the window lands in the first bucket.
        let buckets = series(&[period(0, 60 * MIN, 5)], 30 * MIN, 40 * MIN, 5 * MIN);
        assert_eq!(buckets[0].1.attempts, 5);
        assert_eq!(buckets.len(), 3);
    }

    #[test]
    fn totals_sum_the_periods() {
        let periods = [period(0, 60_000, 2), period(60_000, 60_000, 3)];
        let sum = total(&periods);
        assert_eq!((sum.attempts, sum.successes), (5, 5));
        assert_eq!(sum.latency_quantile_ms(0.5), Some(5));
    }
}
