//! Retention on the embedded store: a purger thread removes, a small batch
//! per transaction, what is older than `storage.retention`:
//! - events whose deliveries are all finished, with those deliveries,
//!   their attempts, their history entries and the event log's index rows
//!   (an event with a pending delivery stays, whatever its age);
//! - expired idempotency keys;
//! - per-minute statistics.
//!
//! Each batch is its own short write transaction, committed without fsync
//! (a purge lost in a crash is simply done again), so ingestion and
//! delivery interleave with it. Pages freed by a purge are reused by later
//! writes: at a steady rate the file stops growing once the first
//! retention period has passed (`hookmesh store compact`, offline, gives
//! the space back to the file system).

use super::*;
use std::ops::Bound;

/// Rows looked at per transaction.
const BATCH: usize = 256;
/// Longest pause between purges.
const MAX_INTERVAL: Duration = Duration::from_secs(30);
/// Shortest pause between purges.
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// Idempotency-key batches per pass: the table has no expiry order, so it
/// is walked a part at a time, pass after pass.
const IDEMPOTENCY_BATCHES_PER_PASS: usize = 16;

/// Where the last pass stopped, per kind of record.
#[derive(Default)]
struct Cursors {
    event: Option<String>,
    idempotency: Option<(String, String)>,
    stats: Option<(String, u64)>,
}

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Events (with their deliveries and attempts).
    pub events: usize,
    /// Idempotency keys.
    pub idempotency_keys: usize,
    /// Per-minute statistics rows.
    pub stats: usize,
}

/// Purges every interval until the database is dropped.
pub(super) fn spawn_purger(db: Weak<Database>, dirty: Arc<AtomicBool>, retention: Duration) {
    let interval = (retention / 10).clamp(MIN_INTERVAL, MAX_INTERVAL);
    let spawned = std::thread::Builder::new()
        .name("hookmesh-purge".into())
        .spawn(move || {
            let mut cursors = Cursors::default();
            loop {
                std::thread::sleep(interval);
                let Some(db) = db.upgrade() else { return };
                if let Err(error) = purge_until_done(&db, &dirty, retention, &mut cursors) {
                    tracing::error!(%error, "cannot purge records past retention; retrying");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the retention purger; nothing will be purged");
    }
}

/// One pass: event batches until the old events are done, then a part of
/// the idempotency keys, then the statistics.
fn purge_until_done(
    db: &Database,
    dirty: &AtomicBool,
    retention: Duration,
    cursors: &mut Cursors,
) -> Result<Purged, StoreError> {
    let now = crate::now_ms();
    let cutoff = now.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
    let mut total = Purged::default();
    while in_transaction(db, |txn| {
        purge_events(txn, cutoff, &mut cursors.event, &mut total)
    })? {}
    for _ in 0..IDEMPOTENCY_BATCHES_PER_PASS {
        let more = in_transaction(db, |txn| {
            purge_idempotency(txn, now, &mut cursors.idempotency, &mut total)
        })?;
        if !more {
            break;
        }
    }
    while in_transaction(db, |txn| {
        purge_stats(txn, cutoff, &mut cursors.stats, &mut total)
    })? {}
    if total != Purged::default() {
        dirty.store(true, Ordering::Release);
        tracing::debug!(?total, "purged records past retention");
    }
    Ok(total)
}

/// Runs `work` in one write transaction committed without fsync.
fn in_transaction<T>(
    db: &Database,
    work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::None)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let result = work(&txn)?;
    txn.commit()?;
    Ok(result)
}

/// Old events whose deliveries are all finished, with everything they
/// made. Continues after `cursor`; wraps to the start at the end.
fn purge_events(
    txn: &redb::WriteTransaction,
    cutoff_ms: u64,
    cursor: &mut Option<String>,
    purged: &mut Purged,
) -> Result<bool, StoreError> {
    let older = crate::signing::id_bound("evt_", cutoff_ms);
    let after = cursor.clone().unwrap_or_default();
    let candidates: Vec<(String, Event)> = {
        let events = txn.open_table(EVENTS)?;
        let start = match cursor {
            Some(_) => Bound::Excluded(after.as_str()),
            None => Bound::Unbounded,
        };
        let range = events.range::<&str>((start, Bound::Excluded(older.as_str())))?;
        range
            .take(BATCH)
            .map(|row| {
                let (key, value) = row?;
                let id = key.value().to_string();
                let event: Event = decode(&id, value.value())?;
                Ok((id, event))
            })
            .collect::<Result<_, StoreError>>()?
    };
    for (id, event) in &candidates {
        if event.time_created_ms < cutoff_ms && remove_event(txn, event)? {
            purged.events += 1;
        }
        *cursor = Some(id.clone());
    }
    let more = candidates.len() == BATCH;
    if !more {
        *cursor = None;
    }
    Ok(more)
}

/// Removes a finished event and its deliveries; false (nothing removed)
/// while one of them is pending.
fn remove_event(txn: &redb::WriteTransaction, event: &Event) -> Result<bool, StoreError> {
    let mut by_event = txn.open_table(EVENT_DELIVERIES)?;
    let mut deliveries = txn.open_table(DELIVERIES)?;
    let delivery_ids: Vec<String> = by_event
        .range((event.id.as_str(), "")..(event.id.as_str(), AFTER_EVERY_ID))?
        .map(|row| Ok(row?.0.value().1.to_string()))
        .collect::<Result<_, StoreError>>()?;
    let mut found = Vec::with_capacity(delivery_ids.len());
    for id in &delivery_ids {
        if let Some(bytes) = deliveries.get(id.as_str())? {
            let delivery: Delivery = decode(id, bytes.value())?;
            if delivery.is_queued() {
                return Ok(false);
            }
            found.push(delivery);
        }
    }
    let mut history = txn.open_table(HISTORY)?;
    let mut attempts = txn.open_table(ATTEMPTS)?;
    for delivery in &found {
        deliveries.remove(delivery.id.as_str())?;
        history.remove((delivery.endpoint_id.as_str(), delivery.seq))?;
        attempts.retain_in(
            (delivery.id.as_str(), 0)..=(delivery.id.as_str(), u32::MAX),
            |_, _| false,
        )?;
    }
    for id in &delivery_ids {
        by_event.remove((event.id.as_str(), id.as_str()))?;
    }
    txn.open_table(PROJECT_EVENTS)?
        .remove((event.project_id.as_str(), event.id.as_str()))?;
    txn.open_table(EVENTS)?.remove(event.id.as_str())?;
    Ok(true)
}

/// Expired idempotency keys.
fn purge_idempotency(
    txn: &redb::WriteTransaction,
    now_ms: u64,
    cursor: &mut Option<(String, String)>,
    purged: &mut Purged,
) -> Result<bool, StoreError> {
    let mut table = txn.open_table(IDEMPOTENCY)?;
    let rows: Vec<((String, String), u64)> = {
        let start = match cursor {
            Some((project, key)) => Bound::Excluded((project.as_str(), key.as_str())),
            None => Bound::Unbounded,
        };
        table
            .range::<(&str, &str)>((start, Bound::Unbounded))?
            .take(BATCH)
            .map(|row| {
                let (key, value) = row?;
                let (project, key) = key.value();
                Ok(((project.to_string(), key.to_string()), value.value().1))
            })
            .collect::<Result<_, StoreError>>()?
    };
    for ((project, key), expires_ms) in &rows {
        if *expires_ms <= now_ms {
            table.remove((project.as_str(), key.as_str()))?;
            purged.idempotency_keys += 1;
        }
    }
    let more = rows.len() == BATCH;
    *cursor = rows.last().filter(|_| more).map(|(key, _)| key.clone());
    Ok(more)
}

/// Per-minute statistics older than the cutoff: each endpoint's old rows
/// are at the start of its range, so the walk skips to the next endpoint
/// at its first kept row.
fn purge_stats(
    txn: &redb::WriteTransaction,
    cutoff_ms: u64,
    cursor: &mut Option<(String, u64)>,
    purged: &mut Purged,
) -> Result<bool, StoreError> {
    let oldest_kept = cutoff_ms / STATS_RESOLUTION_MS;
    let mut table = txn.open_table(STATS)?;
    for _ in 0..BATCH {
        let next = {
            let start = match cursor {
                Some((endpoint, minute)) => Bound::Excluded((endpoint.as_str(), *minute)),
                None => Bound::Unbounded,
            };
            let mut range = table.range::<(&str, u64)>((start, Bound::Unbounded))?;
            match range.next() {
                Some(row) => {
                    let (key, _) = row?;
                    let (endpoint, minute) = key.value();
                    Some((endpoint.to_string(), minute))
                }
                None => None,
            }
        };
        let Some((endpoint, minute)) = next else {
            *cursor = None;
            return Ok(false);
        };
        if minute < oldest_kept {
            table.remove((endpoint.as_str(), minute))?;
            purged.stats += 1;
            *cursor = Some((endpoint, minute));
        } else {
            *cursor = Some((endpoint, u64::MAX));
        }
    }
    Ok(true)
}

/// One pass over everything, now (tests and `store purge`).
pub(super) fn purge_now(db: &Database, retention: Duration) -> Result<Purged, StoreError> {
    let dirty = AtomicBool::new(false);
    purge_until_done(db, &dirty, retention, &mut Cursors::default())
}
