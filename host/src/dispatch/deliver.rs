//! One endpoint's work: take the due head(s), render through the
//! endpoint's plugin, send, classify, record the attempt and its
//! consequence, keep the endpoint's health, and emit operational events.

use super::call::{record_metrics, run, sendable_config, Decision, Verdict};
use super::health::{emit, update_health};
use super::retry::{backoff, exhausted};
use super::{Core, InFlight};
use crate::store::{
    self, Attempt, AttemptOutcome, Bucket, Delivery, DeliveryChange, Endpoint, Event, StoreError,
};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a drain ended.
pub enum Drained {
    /// Nothing queued.
    Empty,
    /// Nothing queued as far as this instance knows; it keeps the lease of
    /// an endpoint on a shared store for a while (see [`WhenEmpty`]).
    Idle,
    /// Endpoint deleted, disabled, or the host is shutting down.
    Stop,
    /// Another instance holds the endpoint's lease and delivers it.
    NotOwner,
    /// The next delivery is due after this wait.
    WaitFor(Duration),
    /// The store failed; try again later.
    StoreFailed(StoreError),
}

/// What a drain on a shared store does when the queue looks empty.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// Keep the lease and end [`Drained::Idle`]: an endpoint that gets
    /// events often does not take and give up its lease for each one
    /// (new work wakes the actor; the actor comes back to release).
    Linger,
    /// Give the lease up (refused atomically if work is queued).
    Release,
}

/// Delivers due work of `endpoint_id` until the queue is empty or the head
/// must wait. `notify` wakes other endpoints (operational events).
pub async fn drain(
    core: Arc<Core>,
    endpoint_id: String,
    when_empty: WhenEmpty,
    notify: impl Fn(Vec<String>),
) -> Drained {
    let linger = core.store.is_shared() && when_empty == WhenEmpty::Linger;
    // On a shared store, after a round that delivered a window that was not
    // full, the queue is probably empty: linger, or try to give the lease
    // up first, instead of reading the queue again.
    let mut probably_empty = core.store.is_shared() && when_empty == WhenEmpty::Release;
    loop {
        if core.is_draining() {
            return Drained::Stop;
        }
        match claim(&core, &endpoint_id).await {
            Ok(true) => {}
            Ok(false) => return Drained::NotOwner,
            Err(error) => return Drained::StoreFailed(error),
        }
        if std::mem::take(&mut probably_empty) {
            if linger {
                return Drained::Idle;
            }
            match release(&core, &endpoint_id).await {
                Ok(true) => return Drained::Empty,
                Ok(false) => {} // work is queued: read it
                Err(error) => return Drained::StoreFailed(error),
            }
        }
        let work = match load_work(&core, &endpoint_id).await {
            Ok(Some(work)) => work,
            Ok(None) => return Drained::Stop,
            Err(error) => return Drained::StoreFailed(error),
        };
        if !work.endpoint.active || !work.provider_enabled {
            return Drained::Stop;
        }
        if work.queued.is_empty() {
            if linger {
                return Drained::Idle;
            }
            match release(&core, &endpoint_id).await {
                Ok(true) => return Drained::Empty,
                Ok(false) => continue, // work arrived: the lease is kept
                Err(error) => return Drained::StoreFailed(error),
            }
        }
        let now = crate::now_ms();
        let next_due = work
            .queued
            .iter()
            .map(|(d, _)| d.next_attempt_ms)
            .min()
            .unwrap_or(now);
        let Work {
            endpoint,
            config,
            queued,
            ..
        } = work;
        let window_was_full = queued.len() >= WORK_WINDOW;
        let outcome = if endpoint.ordered {
            deliver_in_order(&core, &endpoint, &config, queued, &notify).await
        } else {
            deliver_concurrently(&core, &endpoint, &config, queued, &notify).await
        };
        match outcome {
            Ok(Progress::Continue) => {
                probably_empty = core.store.is_shared() && !window_was_full;
            }
            Ok(Progress::Stop) => return Drained::Stop,
            Ok(Progress::NothingDue) => {
                return Drained::WaitFor(Duration::from_millis(next_due.saturating_sub(now)))
            }
            Err(StoreError::LeaseLost(_)) => return Drained::NotOwner,
            Err(error) => return Drained::StoreFailed(error),
        }
    }
}

/// Takes or keeps this instance's lease on the endpoint (always granted on
/// a store for one process; no hand-off to the blocking pool while the
/// lease is fresh).
async fn claim(core: &Arc<Core>, endpoint_id: &str) -> Result<bool, StoreError> {
    if !core.store.is_shared() || core.store.holds_fresh_lease(endpoint_id) {
        return Ok(true);
    }
    let store = Arc::clone(&core.store);
    let id = endpoint_id.to_string();
    store::blocking(move || store.claim(&id)).await
}

/// Gives the lease up if the queue is still empty; false when work came.
async fn release(core: &Arc<Core>, endpoint_id: &str) -> Result<bool, StoreError> {
    if !core.store.is_shared() {
        return Ok(true);
    }
    let store = Arc::clone(&core.store);
    let id = endpoint_id.to_string();
    store::blocking(move || store.release(&id)).await
}

/// Waits for the endpoint's rate limit (`rate_limit`, shared by every
/// instance on a shared store) to allow one more request.
async fn pace(core: &Arc<Core>, endpoint: &Endpoint) -> Result<(), StoreError> {
    let Some(rate) = endpoint.rate_limit else {
        return Ok(());
    };
    loop {
        let bucket = Bucket::Endpoint(endpoint.id.clone());
        match take_tokens(&core.store, bucket, rate).await? {
            Ok(()) => return Ok(()),
            Err(wait) => {
                core.metrics
                    .rate_limited
                    .with_label_values(&["delivery"])
                    .inc();
                if core.is_draining() {
                    return Ok(());
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// One token from `bucket`: in memory on a store of one process, a
/// blocking call on a shared one.
async fn take_tokens(
    store: &Arc<dyn crate::store::Store>,
    bucket: Bucket,
    rate: crate::store::Rate,
) -> Result<Result<(), Duration>, StoreError> {
    if !store.is_shared() {
        return store.take_tokens(&bucket, rate, 1);
    }
    let store = Arc::clone(store);
    store::blocking(move || store.take_tokens(&bucket, rate, 1)).await
}

/// Deliveries read per store round trip.
const WORK_WINDOW: usize = 64;

/// What a drain round reads in one store call.
struct Work {
    endpoint: Endpoint,
    /// False when the project turned the endpoint's provider off: its
    /// deliveries wait, untried, until it is turned on again.
    provider_enabled: bool,
    /// The merged provider + endpoint config, or why the endpoint cannot send.
    config: Result<BTreeMap<String, String>, String>,
    /// The oldest queued deliveries with their events.
    queued: Vec<(Delivery, Option<Event>)>,
}

/// What a round of deliveries achieved.
enum Progress {
    /// Delivered (or scheduled) something: look at the queue again.
    Continue,
    /// The endpoint was disabled.
    Stop,
    /// Nothing was due.
    NothingDue,
}

async fn load_work(core: &Arc<Core>, endpoint_id: &str) -> Result<Option<Work>, StoreError> {
    let secrets = core.secrets.clone();
    let id = endpoint_id.to_string();
    store::quick(&core.store, move |store| {
        let Some(window) = store.work_window(&id, WORK_WINDOW)? else {
            return Ok(None);
        };
        let settings = window.provider_settings;
        let provider_enabled = settings.as_ref().is_none_or(|s| s.enabled);
        let config = sendable_config(settings.as_ref(), &window.endpoint, &secrets);
        Ok(Some(Work {
            endpoint: window.endpoint,
            provider_enabled,
            config,
            queued: window.queued,
        }))
    })
    .await
}

/// Head first, one at a time; stops at the first delivery not acknowledged
/// (its next attempt is scheduled, so the queue must be read again).
async fn deliver_in_order(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: &Result<BTreeMap<String, String>, String>,
    queued: Vec<(Delivery, Option<Event>)>,
    notify: &impl Fn(Vec<String>),
) -> Result<Progress, StoreError> {
    // Successes of a healthy endpoint are recorded in the background while
    // the next delivery goes out (their order on the wire is what matters);
    // all of them are recorded before the queue is read again.
    let mut recording = Vec::new();
    let mut progress = Progress::NothingDue;
    let now = crate::now_ms();
    let due: Vec<_> = queued
        .into_iter()
        .take_while(|(d, _)| d.next_attempt_ms <= now)
        .collect();
    for (delivery, event) in due {
        if core.is_draining() {
            break;
        }
        pace(core, endpoint).await?;
        let tried = try_once(core, endpoint, config, delivery, event).await;
        progress = Progress::Continue;
        if tried.succeeded() && endpoint.failing_since_ms.is_none() {
            let core = Arc::clone(core);
            let endpoint_id = endpoint.id.clone();
            let provider = endpoint.provider.clone();
            recording.push(tokio::spawn(async move {
                let Tried {
                    record: attempt,
                    change,
                    started,
                    _in_flight,
                    ..
                } = tried;
                record(&core, (&endpoint_id, &provider), attempt, change, started).await
            }));
            continue;
        }
        finish(recording.drain(..)).await?;
        let effect = settle(core, endpoint, tried).await?;
        notify(effect.woken);
        if effect.disabled {
            return Ok(Progress::Stop);
        }
        if !effect.acked {
            break;
        }
    }
    finish(recording.drain(..)).await?;
    Ok(progress)
}

/// Waits for background records; the first error wins.
async fn finish(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<(), StoreError>>>,
) -> Result<(), StoreError> {
    let mut first_error = None;
    for handle in handles {
        let result = handle
            .await
            .map_err(|e| StoreError::Backend(format!("record task failed: {e}")))
            .and_then(|r| r);
        if let (Err(e), None) = (result, &first_error) {
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Up to `unordered_concurrency` due deliveries at once.
async fn deliver_concurrently(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: &Result<BTreeMap<String, String>, String>,
    queued: Vec<(Delivery, Option<Event>)>,
    notify: &impl Fn(Vec<String>),
) -> Result<Progress, StoreError> {
    let now = crate::now_ms();
    let due: Vec<_> = queued
        .into_iter()
        .filter(|(d, _)| d.next_attempt_ms <= now)
        .take(core.settings.unordered_concurrency)
        .collect();
    if due.is_empty() {
        return Ok(Progress::NothingDue);
    }
    let attempts = due
        .into_iter()
        .map(|(d, e)| attempt(core, endpoint, config, d, e));
    let mut stop = false;
    for result in futures_util::future::join_all(attempts).await {
        let effect = result?;
        notify(effect.woken);
        stop |= effect.disabled;
    }
    Ok(if stop {
        Progress::Stop
    } else {
        Progress::Continue
    })
}

/// Consequences of one attempt beyond its delivery.
struct Effect {
    /// Endpoints that got operational events.
    woken: Vec<String>,
    /// This endpoint was disabled.
    disabled: bool,
    /// The delivery left the queue as a success.
    acked: bool,
}

#[tracing::instrument(skip_all, fields(endpoint_id = %endpoint.id, delivery_id = %delivery.id))]
async fn attempt(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: &Result<BTreeMap<String, String>, String>,
    delivery: Delivery,
    event: Option<Event>,
) -> Result<Effect, StoreError> {
    pace(core, endpoint).await?;
    let tried = try_once(core, endpoint, config, delivery, event).await;
    settle(core, endpoint, tried).await
}

/// One attempt made, not yet recorded.
struct Tried {
    record: Attempt,
    change: DeliveryChange,
    delivery: Delivery,
    event: Option<Event>,
    disable_reason: Option<String>,
    started: Instant,
    now_ms: u64,
    _in_flight: InFlight,
}

impl Tried {
    fn succeeded(&self) -> bool {
        self.record.outcome == AttemptOutcome::Success
    }
}

/// Render, send, classify, and decide what the answer does to the delivery.
async fn try_once(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: &Result<BTreeMap<String, String>, String>,
    delivery: Delivery,
    event: Option<Event>,
) -> Tried {
    let in_flight = InFlight::enter(Arc::clone(core));
    let number = delivery.attempts + 1;
    let started_ms = crate::now_ms();
    let started = Instant::now();
    let verdict = match &event {
        Some(event) => run(core, endpoint, config, event, &delivery, number, started_ms).await,
        None => Verdict::fail(format!("event {} is missing", delivery.event_id)),
    };
    let now_ms = crate::now_ms();
    let (change, outcome) = decide(core, &verdict, number, delivery.created_ms, now_ms);
    let record = Attempt {
        delivery_id: delivery.id.clone(),
        number,
        started_ms,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        status_code: verdict.status_code,
        response_excerpt: verdict.excerpt,
        error: verdict.error,
        outcome,
    };
    log_attempt(&record, &change);
    let disable_reason = match verdict.decision {
        Decision::Fail {
            reason,
            disable: true,
        } => Some(reason),
        _ => None,
    };
    Tried {
        record,
        change,
        delivery,
        event,
        disable_reason,
        started,
        now_ms,
        _in_flight: in_flight,
    }
}

/// The delivery's change and the attempt's outcome for a verdict.
fn decide(
    core: &Core,
    verdict: &Verdict,
    number: u32,
    created_ms: u64,
    now_ms: u64,
) -> (DeliveryChange, AttemptOutcome) {
    match &verdict.decision {
        Decision::Success => (DeliveryChange::Ack, AttemptOutcome::Success),
        Decision::Retry(after) => match exhausted(&core.settings, number, created_ms, now_ms) {
            Some(reason) => {
                let last = verdict
                    .error
                    .clone()
                    .or(verdict.status_code.map(|s| format!("HTTP {s}")));
                let reason = match last {
                    Some(last) => format!("{reason}; last: {last}"),
                    None => reason,
                };
                (
                    DeliveryChange::DeadLetter { reason },
                    AttemptOutcome::Failed,
                )
            }
            None => {
                let noise = rand::rng().random_range(-1.0..=1.0);
                let wait = backoff(&core.settings, number, *after, noise);
                let next_attempt_ms =
                    now_ms + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX / 2);
                (
                    DeliveryChange::Reschedule { next_attempt_ms },
                    AttemptOutcome::Retry,
                )
            }
        },
        Decision::Fail { reason, .. } => (
            DeliveryChange::DeadLetter {
                reason: reason.clone(),
            },
            AttemptOutcome::Failed,
        ),
    }
}

/// Records the attempt (metrics, by the endpoint's provider, only once it
/// is recorded).
async fn record(
    core: &Arc<Core>,
    (endpoint_id, provider): (&str, &str),
    record: Attempt,
    change: DeliveryChange,
    started: Instant,
) -> Result<(), StoreError> {
    let rescheduled = matches!(change, DeliveryChange::Reschedule { .. });
    let outcome = record.outcome.clone();
    Arc::clone(&core.store)
        .record_attempt_async(endpoint_id.to_string(), record, change)
        .await?;
    record_metrics(core, provider, &outcome, rescheduled, started.elapsed());
    Ok(())
}

/// Records the attempt, then alerts and updates the endpoint's health.
async fn settle(core: &Arc<Core>, endpoint: &Endpoint, tried: Tried) -> Result<Effect, StoreError> {
    let Tried {
        record: attempt,
        change,
        delivery,
        event,
        disable_reason,
        started,
        now_ms,
        _in_flight,
    } = tried;
    let succeeded = attempt.outcome == AttemptOutcome::Success;
    let number = attempt.number;
    let dead_reason = match &change {
        DeliveryChange::DeadLetter { reason } => Some(reason.clone()),
        _ => None,
    };
    record(
        core,
        (&endpoint.id, &endpoint.provider),
        attempt,
        change,
        started,
    )
    .await?;
    let mut woken = Vec::new();
    if let (Some(reason), Some(event)) = (&dead_reason, &event) {
        let payload = serde_json::json!({
            "endpoint_id": endpoint.id, "delivery_id": delivery.id, "event_id": event.id,
            "event_type": event.event_type, "attempts": number, "reason": reason,
        });
        woken.extend(emit(core, endpoint, "delivery.exhausted", payload).await?);
    }
    let health = update_health(core, endpoint, succeeded, disable_reason, now_ms).await?;
    woken.extend(health.woken);
    Ok(Effect {
        woken,
        disabled: health.disabled,
        acked: succeeded,
    })
}

fn log_attempt(attempt: &Attempt, change: &DeliveryChange) {
    match change {
        DeliveryChange::Ack => {
            tracing::debug!(attempt = attempt.number, status = ?attempt.status_code, "delivered")
        }
        DeliveryChange::Reschedule { next_attempt_ms } => tracing::info!(
            attempt = attempt.number, status = ?attempt.status_code, error = ?attempt.error,
            next_attempt_ms, "attempt failed; will retry"
        ),
        DeliveryChange::DeadLetter { reason } => tracing::warn!(
            attempt = attempt.number, status = ?attempt.status_code, %reason, "delivery given up"
        ),
    }
}
