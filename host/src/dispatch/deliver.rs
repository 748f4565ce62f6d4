//! One endpoint's work: take the due head(s), render through the
//! endpoint's plugin, send, classify, record the attempt and its
//! consequence, keep the endpoint's health, and emit operational events.

use super::call::{record_metrics, run, sendable_config, Verdict};
use super::health::{emit, update_health};
use super::retry::{backoff, exhausted};
use super::steps::{Finish, Observed, Round, Step, Steps, WhenEmpty, Window};
use super::{Core, InFlight};
use crate::plugin::{Failure, Outcome};
use crate::store::{
    Attempt, AttemptOutcome, Bucket, Delivery, DeliveryChange, Endpoint, Event, StoreError,
};
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a drain ended.
pub enum Drained {
    /// As the loop decided (see [`Finish`]).
    Finished(Finish),
    /// The store failed; try again later.
    StoreFailed(StoreError),
}

/// Delivers due work of `endpoint_id` until the queue is empty or the head
/// must wait: carries out the steps [`Steps`] decides.
pub async fn drain(core: Arc<Core>, endpoint_id: String, when_empty: WhenEmpty) -> Drained {
    let mut steps = Steps::new(when_empty, core.store.lease_linger().is_zero());
    let mut step = steps.first();
    let mut work = None;
    loop {
        let observed = match step {
            Step::Finish(finish) => return Drained::Finished(finish),
            _ if core.is_draining() => Observed::Draining,
            Step::Claim => match core.store.claim(&endpoint_id).await {
                Ok(claimed) => Observed::Claimed(claimed),
                Err(error) => return Drained::StoreFailed(error),
            },
            Step::Release => match core.store.release(&endpoint_id).await {
                Ok(released) => Observed::Released(released),
                Err(error) => return Drained::StoreFailed(error),
            },
            Step::ReadWindow => match load_work(&core, &endpoint_id).await {
                Ok(read) => {
                    let window = window_of(read.as_ref());
                    work = read;
                    Observed::Read(window)
                }
                Err(error) => return Drained::StoreFailed(error),
            },
            Step::Deliver => {
                let Some(work) = work.take() else {
                    return Drained::Finished(Finish::Stop);
                };
                steps.delivered_window(window_of(Some(&work)));
                match deliver(&core, work).await {
                    Ok(round) => Observed::Delivered(round),
                    Err(StoreError::LeaseLost(_)) => Observed::Delivered(Round::LeaseLost),
                    Err(error) => return Drained::StoreFailed(error),
                }
            }
        };
        step = steps.next(observed);
    }
}

/// What a window read means to the loop.
fn window_of(work: Option<&Work>) -> Window {
    match work {
        None => Window::Gone,
        Some(work) if !work.endpoint.active || !work.provider_enabled => Window::Paused,
        Some(work) if work.queued.is_empty() => Window::Empty,
        Some(work) => Window::Work {
            full: work.queued.len() >= WORK_WINDOW,
        },
    }
}

/// One round over a window: in order, or concurrently.
async fn deliver(core: &Arc<Core>, work: Work) -> Result<Round, StoreError> {
    let target = Target {
        endpoint: &work.endpoint,
        config: &work.config,
        generation: work.generation,
    };
    if target.endpoint.ordered {
        deliver_in_order(core, &target, work.queued).await
    } else {
        deliver_concurrently(core, &target, work.queued).await
    }
}

/// [`Round::NothingDue`]: the wait until the earliest queued delivery is due.
fn nothing_due(queued: &[(Delivery, Option<Event>)], now: u64) -> Round {
    let next_due = queued
        .iter()
        .map(|(d, _)| d.next_attempt_ms)
        .min()
        .unwrap_or(now);
    Round::NothingDue(Duration::from_millis(next_due.saturating_sub(now)))
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

/// What every attempt of one round shares: the endpoint as read.
struct Target<'a> {
    endpoint: &'a Endpoint,
    config: &'a Result<BTreeMap<String, String>, String>,
    /// The catalogue generation the endpoint was read at: when it moves,
    /// the endpoint is read again before the next attempt, so a deleted,
    /// disabled or rotated endpoint is never sent to with what was read.
    generation: u64,
}

impl Target<'_> {
    /// The endpoint (or a provider's settings) changed since it was read.
    fn is_stale(&self, core: &Core) -> bool {
        core.store.catalogue_generation() != self.generation
    }
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
/// (its next attempt is scheduled, so the queue must be read again). The
/// endpoint is checked for changes before each attempt.
///
/// Successes are recorded while the next deliveries go out (their order
/// on the wire is what matters) as far ahead as the store allows
/// ([`crate::store::Store::records_ahead`]: 16 on both stores; one at a
/// time halved a busy endpoint's speed on Redis, and the embedded store's
/// records are durable only at its next flush anyway): when the store
/// cannot record (it keeps retrying), the endpoint stops sending. A
/// failure is recorded, after every success before it, before anything
/// else leaves.
async fn deliver_in_order(
    core: &Arc<Core>,
    target: &Target<'_>,
    queued: Vec<(Delivery, Option<Event>)>,
) -> Result<Round, StoreError> {
    let now = core.now_ms();
    let mut round = nothing_due(&queued, now);
    let mut recording = VecDeque::new();
    let records_ahead = core.store.records_ahead();
    let due = queued
        .into_iter()
        .take_while(|(d, _)| d.next_attempt_ms <= now);
    for (delivery, event) in due {
        if core.is_draining() {
            break;
        }
        while recording.len() >= records_ahead {
            finish_oldest(&mut recording).await?;
        }
        pace(core, target.endpoint).await?;
        if target.is_stale(core) {
            round = Round::Changed;
            break;
        }
        let tried = try_once(core, target.endpoint, target.config, delivery, event).await;
        round = Round::Progressed;
        if tried.record.outcome == AttemptOutcome::Success
            && target.endpoint.failing_since_ms.is_none()
        {
            recording.push_back(record_in_background(core, target.endpoint, tried));
            continue;
        }
        while !recording.is_empty() {
            finish_oldest(&mut recording).await?;
        }
        let effect = settle(core, target.endpoint, tried).await?;
        if effect.disabled {
            return Ok(Round::Disabled);
        }
        if !effect.acked {
            break;
        }
    }
    while !recording.is_empty() {
        finish_oldest(&mut recording).await?;
    }
    Ok(round)
}

/// A success being recorded while the next delivery goes out.
type Recording = tokio::task::JoinHandle<Result<(), StoreError>>;

fn record_in_background(core: &Arc<Core>, endpoint: &Endpoint, tried: Tried) -> Recording {
    let core = Arc::clone(core);
    let (endpoint_id, provider) = (endpoint.id.clone(), endpoint.provider.clone());
    tokio::spawn(async move {
        let Tried {
            record: attempt,
            change,
            started,
            _in_flight,
            ..
        } = tried;
        record(&core, (&endpoint_id, &provider), attempt, change, started).await
    })
}

/// Waits for the oldest background record (if any).
async fn finish_oldest(recording: &mut VecDeque<Recording>) -> Result<(), StoreError> {
    match recording.pop_front() {
        Some(handle) => handle
            .await
            .map_err(|e| StoreError::Backend(format!("record task failed: {e}")))?,
        None => Ok(()),
    }
}

/// Up to `unordered_concurrency` due deliveries at once.
async fn deliver_concurrently(
    core: &Arc<Core>,
    target: &Target<'_>,
    queued: Vec<(Delivery, Option<Event>)>,
) -> Result<Round, StoreError> {
    let now = core.now_ms();
    let idle = nothing_due(&queued, now);
    let due: Vec<_> = queued
        .into_iter()
        .filter(|(d, _)| d.next_attempt_ms <= now)
        .take(core.settings.unordered_concurrency)
        .collect();
    if due.is_empty() {
        return Ok(idle);
    }
    let attempts = due.into_iter().map(|(d, e)| async move {
        pace(core, target.endpoint).await?;
        if target.is_stale(core) {
            return Ok(None);
        }
        attempt(core, target, d, e).await.map(Some)
    });
    let mut round = Round::Progressed;
    for result in futures_util::future::join_all(attempts).await {
        match result? {
            None => round = Round::Changed,
            Some(effect) if effect.disabled => return Ok(Round::Disabled),
            Some(_) => {}
        }
    }
    Ok(round)
}

/// Consequences of one attempt beyond its delivery.
struct Effect {
    /// This endpoint was disabled.
    disabled: bool,
    /// The delivery left the queue as a success.
    acked: bool,
}

/// One attempt: render, send, classify, record, keep the health.
#[tracing::instrument(skip_all, fields(endpoint_id = %target.endpoint.id, delivery_id = %delivery.id))]
async fn attempt(
    core: &Arc<Core>,
    target: &Target<'_>,
    delivery: Delivery,
    event: Option<Event>,
) -> Result<Effect, StoreError> {
    let tried = try_once(core, target.endpoint, target.config, delivery, event).await;
    settle(core, target.endpoint, tried).await
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
    let started_ms = core.now_ms();
    let started = Instant::now();
    let verdict = match &event {
        Some(event) => run(core, endpoint, config, event, &delivery, number, started_ms).await,
        None => Verdict::fail(format!("event {} is missing", delivery.event_id)),
    };
    let now_ms = core.now_ms();
    let change = decide(core, &verdict, number, delivery.created_ms, now_ms);
    let disable_reason = match &verdict.outcome {
        Outcome::Fail(Failure {
            reason,
            disable_endpoint: true,
        }) => Some(reason.clone()),
        _ => None,
    };
    let record = verdict.into_attempt(
        &delivery.id,
        number,
        started_ms,
        started.elapsed(),
        change.outcome(),
    );
    log_attempt(&record, &change);
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

/// What the verdict does to the delivery: the plugin's outcome, with a
/// retry turned into a dead letter once the retry budget is spent.
fn decide(
    core: &Core,
    verdict: &Verdict,
    number: u32,
    created_ms: u64,
    now_ms: u64,
) -> DeliveryChange {
    match &verdict.outcome {
        Outcome::Success => DeliveryChange::Ack,
        Outcome::Retry(after_ms) => match exhausted(&core.settings, number, created_ms, now_ms) {
            Some(reason) => {
                let last = verdict
                    .error
                    .clone()
                    .or(verdict.status_code.map(|s| format!("HTTP {s}")));
                let reason = match last {
                    Some(last) => format!("{reason}; last: {last}"),
                    None => reason,
                };
                DeliveryChange::DeadLetter { reason }
            }
            None => {
                let noise = rand::rng().random_range(-1.0..=1.0);
                let after = after_ms.map(Duration::from_millis);
                let wait = backoff(&core.settings, number, after, noise);
                let next_attempt_ms =
                    now_ms + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX / 2);
                DeliveryChange::Reschedule { next_attempt_ms }
            }
        },
        Outcome::Fail(failure) => DeliveryChange::DeadLetter {
            reason: failure.reason.clone(),
        },
    }
}

/// First wait before recording an attempt again after the store failed.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between tries to record an attempt (short: after an
/// outage, the endpoint's owner should record before its lease could be
/// taken by another instance's scan).
const RECORD_RETRY_MAX: Duration = Duration::from_millis(250);
/// Times a record may take the endpoint's lease back after losing it.
const MAX_RECLAIMS: u32 = 3;

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
    let mut wait = RECORD_RETRY_FIRST;
    let mut reclaims = 0;
    let record = Arc::new(record);
    loop {
        match core
            .store
            .record_attempt(endpoint_id, Arc::clone(&record), change.clone())
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
            // The lease ran out while the store was away: if nobody took
            // the endpoint meanwhile, take it back and record (no one else
            // can have sent this delivery); else the new owner sends it.
            Err(StoreError::LeaseLost(_)) if reclaims < MAX_RECLAIMS && !core.is_draining() => {
                reclaims += 1;
                match core.store.claim(endpoint_id).await {
                    Ok(true) => {
                        tracing::info!(%endpoint_id, "lease taken back to record an attempt")
                    }
                    Ok(false) => return Err(StoreError::LeaseLost(endpoint_id.to_string())),
                    Err(_) => tokio::time::sleep(wait).await,
                }
            }
            Err(error) => return Err(error),
        }
    }
    record_metrics(core, provider, &change, started.elapsed());
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
    let disabled = update_health(core, endpoint, succeeded, disable_reason, now_ms).await?;
    Ok(Effect {
        disabled,
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
