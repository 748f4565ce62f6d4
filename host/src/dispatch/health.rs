//! An endpoint's health and the operational events about it: how long it
//! has been failing, `endpoint.failing` once past `failing_alert_after`,
//! disabling (and `endpoint.disabled`) past `disable_after` or on a
//! "gone" answer, and `delivery.exhausted` for dead letters. The events go
//! to the project's endpoints that subscribe to them, never to the source.

use super::Core;
use crate::ingest;
use crate::store::{self, Endpoint, Event, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Result of a health update.
pub(super) struct Health {
    pub(super) woken: Vec<String>,
    pub(super) disabled: bool,
}

/// Tracks how long the endpoint has been failing; alerts once past
/// `failing_alert_after`, disables past `disable_after` or on a permanent
/// "gone" answer.
pub(super) async fn update_health(
    core: &Arc<Core>,
    seen: &Endpoint,
    succeeded: bool,
    gone: Option<String>,
    now: u64,
) -> Result<Health, StoreError> {
    let mut health = Health {
        woken: Vec::new(),
        disabled: false,
    };
    let unchanged = if succeeded {
        seen.failing_since_ms.is_none()
    } else {
        seen.failing_since_ms.is_some()
            && gone.is_none()
            && !past(
                seen.failing_since_ms,
                core.settings.failing_alert_after,
                now,
            )
    };
    if unchanged {
        return Ok(health);
    }
    // Re-read: the API may have changed the endpoint during the attempt.
    let store = Arc::clone(&core.store);
    let id = seen.id.clone();
    let Some(mut endpoint) = store::blocking(move || store.endpoint(&id)).await? else {
        return Ok(health);
    };
    let mut alert = None;
    if succeeded {
        endpoint.failing_since_ms = None;
        endpoint.failure_alerted = false;
    } else {
        let since = *endpoint.failing_since_ms.get_or_insert(now);
        let failing_for = Duration::from_millis(now.saturating_sub(since));
        if !endpoint.failure_alerted && failing_for >= core.settings.failing_alert_after {
            endpoint.failure_alerted = true;
            alert = Some((
                "endpoint.failing",
                format!(
                    "failing for {}",
                    humantime::format_duration(Duration::from_secs(failing_for.as_secs()))
                ),
            ));
        }
        let reason = gone.or_else(|| {
            (failing_for >= core.settings.disable_after).then(|| {
                format!(
                    "failing continuously for more than {}",
                    humantime::format_duration(core.settings.disable_after)
                )
            })
        });
        if let Some(reason) = reason.filter(|_| endpoint.active) {
            tracing::warn!(endpoint_id = %endpoint.id, %reason, "endpoint disabled");
            endpoint.active = false;
            endpoint.disabled_reason = Some(reason.clone());
            health.disabled = true;
            alert = Some(("endpoint.disabled", reason));
        }
    }
    endpoint.updated_ms = now;
    let saved = endpoint.clone();
    let store = Arc::clone(&core.store);
    store::blocking(move || store.put_endpoint(&saved)).await?;
    if let Some((event_type, reason)) = alert {
        let payload = serde_json::json!({ "endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason });
        health.woken = emit(core, &endpoint, event_type, payload).await?;
    }
    Ok(health)
}

fn past(since: Option<u64>, after: Duration, now: u64) -> bool {
    since.is_some_and(|s| Duration::from_millis(now.saturating_sub(s)) >= after)
}

/// Stores an operational event about `source` for the project's endpoints
/// that subscribe to it (never `source` itself). Returns those endpoints.
pub(super) async fn emit(
    core: &Arc<Core>,
    source: &Endpoint,
    event_type: &'static str,
    payload: serde_json::Value,
) -> Result<Vec<String>, StoreError> {
    let store = Arc::clone(&core.store);
    let project_id = source.project_id.clone();
    let source_id = source.id.clone();
    store::blocking(move || {
        let routes = store.routes_of(&project_id)?;
        let routed = crate::routing::RoutedEvent {
            event_type,
            resource: Some("endpoint"),
            resource_id: Some(&source_id),
            payload: &payload,
        };
        let targets: Vec<String> = routes
            .route(&routed)
            .into_iter()
            .filter(|id| *id != source_id)
            .map(str::to_string)
            .collect();
        if targets.is_empty() {
            return Ok(targets);
        }
        let now = crate::now_ms();
        let event = Event {
            id: crate::signing::new_id("evt_"),
            project_id,
            event_type: event_type.to_string(),
            resource: Some("endpoint".into()),
            resource_id: Some(source_id),
            payload: payload.to_string().into_bytes(),
            time_created_ms: now,
        };
        store.ingest(vec![ingest::new_event(event, targets.clone(), None)], now)?;
        Ok(targets)
    })
    .await
}
