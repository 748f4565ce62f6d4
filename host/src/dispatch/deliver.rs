//! One endpoint's work: take the due head(s), render through the
//! endpoint's plugin, send, classify, record the attempt and its
//! consequence, keep the endpoint's health, and emit operational events.

use super::call::{record_metrics, run, sendable_config, Decision, Verdict};
use super::health::{emit, update_health};
use super::retry::{backoff, exhausted};
use super::{Core, InFlight};
use crate::store::{
    Attempt, AttemptOutcome, Bucket, Delivery, DeliveryChange, Endpoint, Event, StoreError,
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
/// must wait.
pub async fn drain(core: Arc<Core>, endpoint_id: String, when_empty: WhenEmpty) -> Drained {
    // Where leases are remote, an actor keeps its lease a while after the
    // queue looked empty (none is kept where the linger is zero).
    let linger = when_empty == WhenEmpty::Linger && !core.store.lease_linger().is_zero();
    // After a round that delivered a window that was not full, the queue
    // is probably empty: linger, or try to give the lease up first (which
    // is refused when work is queued), instead of reading the queue again.
    let mut probably_empty = when_empty == WhenEmpty::Release;
    loop {
        if core.is_draining() {
            return Drained::Stop;
        }
        match core.store.claim(&endpoint_id).await {
            Ok(true) => {}
            Ok(false) => return Drained::NotOwner,
            Err(error) => return Drained::StoreFailed(error),
        }
        if std::mem::take(&mut probably_empty) {
            if linger {
                return Drained::Idle;
            }
            match core.store.release(&endpoint_id).await {
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
            match core.store.release(&endpoint_id).await {
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
        let window_was_full = work.queued.len() >= WORK_WINDOW;
        let round = Round {
            endpoint: &work.endpoint,
            config: &work.config,
            generation: work.generation,
        };
        let outcome = if round.endpoint.ordered {
            deliver_in_order(&core, &round, work.queued).await
        } else {
            deliver_concurrently(&core, &round, work.queued).await
        };
        match outcome {
            Ok(Progress::Continue) => probably_empty = !window_was_full,
            Ok(Progress::Changed) => {} // read the endpoint again before going on
            Ok(Progress::Stop) => return Drained::Stop,
            Ok(Progress::NothingDue) => {
                return Drained::WaitFor(Duration::from_millis(next_due.saturating_sub(now)))
            }
            Err(StoreError::LeaseLost(_)) => return Drained::NotOwner,
            Err(error) => return Drained::StoreFailed(error),
        }
    }
}

/// Waits for the endpoint's rate limit (`rate_limit`, shared by every
/// instance on a shared store) to allow one more request.
async fn pace(core: &Arc<Core>, endpoint: &Endpoint) -> Result<(), StoreError> {
    let Some(rate) = endpoint.rate_limit else {
        return Ok(());
    };
    loop {
        let bucket = Bucket::Endpoint(endpoint.id.clone());
        match core.store.take_tokens(bucket, rate, 1).await? {
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
    /// [`crate::store::Store::catalogue_generation`] before this was read.
    generation: u64,
}

/// What every attempt of one round shares.
struct Round<'a> {
    endpoint: &'a Endpoint,
    config: &'a Result<BTreeMap<String, String>, String>,
    /// The catalogue generation the endpoint was read at: when it moves,
    /// the endpoint is read again before the next attempt, so a deleted,
    /// disabled or rotated endpoint is never sent to with what was read.
    generation: u64,
}

impl Round<'_> {
    /// The endpoint (or a provider's settings) changed since it was read.
    fn is_stale(&self, core: &Core) -> bool {
        core.store.catalogue_generation() != self.generation
    }
}

/// What a round of deliveries achieved.
enum Progress {
    /// Delivered (or scheduled) something: look at the queue again.
    Continue,
    /// The endpoint changed since it was read: read it again first.
    Changed,
    /// The endpoint was disabled.
    Stop,
    /// Nothing was due.
    NothingDue,
}

async fn load_work(core: &Arc<Core>, endpoint_id: &str) -> Result<Option<Work>, StoreError> {
    let secrets = core.secrets.clone();
    // Read before the window: a change committed while it is read moves
    // the generation past this one.
    let generation = core.store.catalogue_generation();
    core.store
        .work_window(endpoint_id, WORK_WINDOW, move |window| {
            let settings = window.provider_settings;
            let provider_enabled = settings.as_ref().is_none_or(|s| s.enabled);
            let config = sendable_config(settings.as_ref(), &window.endpoint, &secrets);
            Work {
                endpoint: window.endpoint,
                provider_enabled,
                config,
                queued: window.queued,
                generation,
            }
        })
        .await
}

/// Head first, one at a time; stops at the first delivery not acknowledged
/// (its next attempt is scheduled, so the queue must be read again). Each
/// attempt is recorded before the next one leaves, and the endpoint is
/// checked for changes before each.
async fn deliver_in_order(
    core: &Arc<Core>,
    round: &Round<'_>,
    queued: Vec<(Delivery, Option<Event>)>,
) -> Result<Progress, StoreError> {
    let mut progress = Progress::NothingDue;
    let now = crate::now_ms();
    let due = queued
        .into_iter()
        .take_while(|(d, _)| d.next_attempt_ms <= now);
    for (delivery, event) in due {
        if core.is_draining() {
            break;
        }
        pace(core, round.endpoint).await?;
        if round.is_stale(core) {
            return Ok(Progress::Changed);
        }
        let effect = attempt(core, round, delivery, event).await?;
        progress = Progress::Continue;
        if effect.disabled {
            return Ok(Progress::Stop);
        }
        if !effect.acked {
            break;
        }
    }
    Ok(progress)
}

/// Up to `unordered_concurrency` due deliveries at once.
async fn deliver_concurrently(
    core: &Arc<Core>,
    round: &Round<'_>,
    queued: Vec<(Delivery, Option<Event>)>,
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
    let attempts = due.into_iter().map(|(d, e)| async move {
        pace(core, round.endpoint).await?;
        if round.is_stale(core) {
            return Ok(None);
        }
        attempt(core, round, d, e).await.map(Some)
    });
    let mut progress = Progress::Continue;
    for result in futures_util::future::join_all(attempts).await {
        match result? {
            None => progress = Progress::Changed,
            Some(effect) if effect.disabled => return Ok(Progress::Stop),
            Some(_) => {}
        }
    }
    Ok(progress)
}

/// Consequences of one attempt beyond its delivery.
struct Effect {
    /// This endpoint was disabled.
    disabled: bool,
    /// The delivery left the queue as a success.
    acked: bool,
}

/// One attempt: render, send, classify, record, keep the health.
#[tracing::instrument(skip_all, fields(endpoint_id = %round.endpoint.id, delivery_id = %delivery.id))]
async fn attempt(
    core: &Arc<Core>,
    round: &Round<'_>,
    delivery: Delivery,
    event: Option<Event>,
) -> Result<Effect, StoreError> {
    let tried = try_once(core, round.endpoint, round.config, delivery, event).await;
    settle(core, round.endpoint, tried).await
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

/// First wait before recording an attempt again after the store failed.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between tries to record an attempt.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(2);

/// Records the attempt (metrics, by the endpoint's provider, only once it
/// is recorded). While the store cannot record it, the endpoint pauses
/// here and tries again (nothing else leaves for it meanwhile), so a store
/// outage does not turn into a burst of repeated deliveries; it gives up
/// only when the lease is lost, the delivery is gone, or at shutdown.
async fn record(
    core: &Arc<Core>,
    (endpoint_id, provider): (&str, &str),
    record: Attempt,
    change: DeliveryChange,
    started: Instant,
) -> Result<(), StoreError> {
    let rescheduled = matches!(change, DeliveryChange::Reschedule { .. });
    let outcome = record.outcome.clone();
    let mut wait = RECORD_RETRY_FIRST;
    loop {
        match core
            .store
            .record_attempt(endpoint_id, record.clone(), change.clone())
            .await
        {
            Ok(_) => break,
            Err(error @ (StoreError::Unavailable(_) | StoreError::Backend(_)))
                if !core.is_draining() =>
            {
                tracing::warn!(%endpoint_id, %error, retry_in = ?wait, "cannot record an attempt; endpoint paused");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RECORD_RETRY_MAX);
            }
            Err(error) => return Err(error),
        }
    }
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
    if let (Some(reason), Some(event)) = (&dead_reason, &event) {
        let payload = serde_json::json!({
            "endpoint_id": endpoint.id, "delivery_id": delivery.id, "event_id": event.id,
            "event_type": event.event_type, "attempts": number, "reason": reason,
        });
        emit(core, endpoint, "delivery.exhausted", payload).await?;
    }
    let health = update_health(core, endpoint, succeeded, disable_reason, now_ms).await?;
    Ok(Effect {
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
