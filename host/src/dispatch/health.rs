//! An endpoint's health and the operational events about it: how long it
//! has been failing, `endpoint.failing` once past `failing_alert_after`,
//! disabling (and `endpoint.disabled`) past `disable_after` or on a
//! "gone" answer, and `delivery.exhausted` for dead letters. The events go
//! to the project's endpoints that subscribe to them, never to the source.

use super::Core;
use crate::ingest::{Incoming, IngestError};
use crate::store::{Endpoint, StoreError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Tracks how long the endpoint has been failing; alerts once past
/// `failing_alert_after`, disables past `disable_after` or on a permanent
/// "gone" answer. True when the endpoint was disabled now.
pub(super) async fn update_health(
    core: &Arc<Core>,
    seen: &Endpoint,
    succeeded: bool,
    gone: Option<String>,
    now: u64,
) -> Result<bool, StoreError> {
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
        return Ok(false);
    }
    // Applied to the endpoint as stored now: only the health fields
    // change, so an API change made during the attempt is kept.
    let policy = (
        core.settings.failing_alert_after,
        core.settings.disable_after,
    );
    let decided = Arc::new(Mutex::new(HealthChange::default()));
    let out = Arc::clone(&decided);
    let change = move |endpoint: &mut Endpoint| {
        let decision = apply_health(endpoint, succeeded, gone.clone(), now, policy);
        *out.lock().unwrap_or_else(PoisonError::into_inner) = decision;
    };
    let Some(endpoint) = core.store.update_endpoint_health(&seen.id, change).await? else {
        return Ok(false);
    };
    let decision = std::mem::take(&mut *decided.lock().unwrap_or_else(PoisonError::into_inner));
    if decision.disabled {
        tracing::warn!(endpoint_id = %endpoint.id, reason = ?endpoint.disabled_reason, "endpoint disabled");
    }
    if let Some((event_type, reason)) = decision.alert {
        let payload = serde_json::json!({ "endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason });
        emit(core, &endpoint, event_type, payload).await?;
    }
    Ok(decision.disabled)
}

/// What a health update decided beyond the endpoint's fields.
#[derive(Default)]
struct HealthChange {
    /// The endpoint was disabled now.
    disabled: bool,
    /// The operational event to emit, with its reason.
    alert: Option<(&'static str, String)>,
}

/// Applies one attempt's result to the endpoint's health fields (and
/// `active`, when it disables it); `policy` is (alert after, disable after).
fn apply_health(
    endpoint: &mut Endpoint,
    succeeded: bool,
    gone: Option<String>,
    now: u64,
    (alert_after, disable_after): (Duration, Duration),
) -> HealthChange {
    let mut decided = HealthChange::default();
    if succeeded {
        endpoint.failing_since_ms = None;
        endpoint.failure_alerted = false;
        return decided;
    }
    let since = *endpoint.failing_since_ms.get_or_insert(now);
    let failing_for = Duration::from_millis(now.saturating_sub(since));
    if !endpoint.failure_alerted && failing_for >= alert_after {
        endpoint.failure_alerted = true;
        decided.alert = Some((
            "endpoint.failing",
            format!(
                "failing for {}",
                humantime::format_duration(Duration::from_secs(failing_for.as_secs()))
            ),
        ));
    }
    let reason = gone.or_else(|| {
        (failing_for >= disable_after).then(|| {
            format!(
                "failing continuously for more than {}",
                humantime::format_duration(disable_after)
            )
        })
    });
    if let Some(reason) = reason.filter(|_| endpoint.active) {
        endpoint.active = false;
        endpoint.disabled_reason = Some(reason.clone());
        decided.disabled = true;
        decided.alert = Some(("endpoint.disabled", reason));
    }
    decided
}

fn past(since: Option<u64>, after: Duration, now: u64) -> bool {
    since.is_some_and(|s| Duration::from_millis(now.saturating_sub(s)) >= after)
}

/// Stores an operational event about `source` for the project's endpoints
/// that subscribe to it (never `source` itself), through the one ingestion
/// path (no budget: hookmesh's own events), which wakes them.
pub(super) async fn emit(
    core: &Arc<Core>,
    source: &Endpoint,
    event_type: &'static str,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let incoming = Incoming {
        event_type: event_type.to_string(),
        resource: Some("endpoint".into()),
        resource_id: Some(source.id.clone()),
        payload: serde_json::value::to_raw_value(&payload)
            .map_err(|e| StoreError::Backend(format!("cannot encode {event_type}: {e}")))?,
        idempotency: None,
        source: None,
        except_endpoint: Some(source.id.clone()),
    };
    match core
        .ingestor
        .ingest(&source.project_id, vec![incoming], None)
        .await
    {
        Ok(_) | Err(IngestError::OverBudget(_)) => Ok(()),
        Err(IngestError::Store(error)) => Err(error),
    }
}
