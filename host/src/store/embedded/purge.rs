//! Retention on the embedded store: a purger thread removes, a small batch
//! per transaction, what is older than its project's retention (its own
//! `retention`, else `storage.retention`):
//! - events whose deliveries are all finished, with those deliveries,
//!   their attempts, their history entries and the event log's index rows
//!   (an event with a pending delivery stays, whatever its age);
//! - expired idempotency keys;
//! - per-minute statistics.
//!
//! Events are walked project by project in the event log's index, each
//! project up to its own cutoff, so a project keeping a day is purged as
//! promptly as the server's default keeping a month. The purger wakes
//! every tenth of the shortest retention in force (200 ms to 30 s).
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

/// Projects looked past per transaction when they have nothing to purge.
const PROJECTS_PER_BATCH: usize = 256;

/// Where the last pass stopped, per kind of record.
#[derive(Default)]
struct Cursors {
    /// (project, event) in the event log's index.
    event: Option<(String, String)>,
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

/// Each project's retention: its own, else the default.
struct Retentions {
    default: Duration,
    own: HashMap<String, Duration>,
}

impl Retentions {
    /// The projects' own retentions, as stored now.
    fn read(db: &Database, default: Duration) -> Result<Self, StoreError> {
        let txn = db.begin_read()?;
        let mut own = HashMap::new();
        for row in txn.open_table(PROJECTS)?.iter()? {
            let (key, value) = row?;
            let project: Project = decode(key.value(), value.value())?;
            if let Some(retention) = project.retention {
                own.insert(project.id, retention);
            }
        }
        Ok(Self { default, own })
    }

    fn of(&self, project_id: &str) -> Duration {
        self.own.get(project_id).copied().unwrap_or(self.default)
    }

    /// Unix ms before which project `project_id`'s records go.
    fn cutoff_ms(&self, project_id: &str, now_ms: u64) -> u64 {
        let kept = u64::try_from(self.of(project_id).as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_sub(kept)
    }

    /// The pause between passes: a tenth of the shortest retention.
    fn interval(&self) -> Duration {
        let shortest = self.own.values().copied().fold(self.default, Duration::min);
        (shortest / 10).clamp(MIN_INTERVAL, MAX_INTERVAL)
    }
}

/// Purges every interval until the database is dropped. The interval
/// follows the shortest retention, read again when `projects_changed`
/// says a project was written (a project given a short retention is
/// purged at its pace within [`MIN_INTERVAL`]).
pub(super) fn spawn_purger(
    db: Weak<Database>,
    dirty: Arc<AtomicBool>,
    projects_changed: Arc<AtomicBool>,
    retention: Duration,
) {
    let spawned = std::thread::Builder::new()
        .name("hookmesh-purge".into())
        .spawn(move || {
            let mut cursors = Cursors::default();
            let mut interval = match db.upgrade() {
                Some(db) => Retentions::read(&db, retention).map_or(MIN_INTERVAL, |r| r.interval()),
                None => return,
            };
            let mut last = std::time::Instant::now();
            loop {
                std::thread::sleep(MIN_INTERVAL);
                let Some(db) = db.upgrade() else { return };
                if projects_changed.swap(false, Ordering::AcqRel) {
                    if let Ok(retentions) = Retentions::read(&db, retention) {
                        interval = retentions.interval();
                    }
                }
                if last.elapsed() < interval {
                    continue;
                }
                last = std::time::Instant::now();
                match purge_until_done(&db, &dirty, retention, &mut cursors) {
                    Ok((_, next)) => interval = next,
                    Err(error) => {
                        tracing::error!(%error, "cannot purge records past retention; retrying");
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the retention purger; nothing will be purged");
    }
}

/// One pass: event batches until the old events are done, then a part of
/// the idempotency keys, then the statistics. Returns what it removed and
/// the pause before the next pass.
fn purge_until_done(
    db: &Database,
    dirty: &AtomicBool,
    retention: Duration,
    cursors: &mut Cursors,
) -> Result<(Purged, Duration), StoreError> {
    let now = crate::now_ms();
    let retentions = Retentions::read(db, retention)?;
    let mut total = Purged::default();
    while in_transaction(db, |txn| {
        purge_events(txn, &retentions, now, &mut cursors.event, &mut total)
    })? {}
    for _ in 0..IDEMPOTENCY_BATCHES_PER_PASS {
        let more = in_transaction(db, |txn| {
            purge_idempotency(txn, now, &mut cursors.idempotency, &mut total)
        })?;
        if !more {
            break;
        }
    }
    let mut owners = HashMap::new();
    while in_transaction(db, |txn| {
        purge_stats(
            txn,
            &retentions,
            now,
            &mut owners,
            &mut cursors.stats,
            &mut total,
        )
    })? {}
    if total != Purged::default() {
        dirty.store(true, Ordering::Release);
        tracing::debug!(?total, "purged records past retention");
    }
    Ok((total, retentions.interval()))
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
/// made: the event log's index, project by project, each up to its own
/// cutoff. Continues after `cursor`; wraps to the start at the end.
fn purge_events(
    txn: &redb::WriteTransaction,
    retentions: &Retentions,
    now_ms: u64,
    cursor: &mut Option<(String, String)>,
    purged: &mut Purged,
) -> Result<bool, StoreError> {
    for _ in 0..PROJECTS_PER_BATCH {
        // The project the cursor is in (or the next one), its first row.
        let next = {
            let index = txn.open_table(PROJECT_EVENTS)?;
            let start = match cursor {
                Some((project, event)) => Bound::Excluded((project.as_str(), event.as_str())),
                None => Bound::Unbounded,
            };
            let mut range = index.range::<(&str, &str)>((start, Bound::Unbounded))?;
            let first = match range.next() {
                Some(row) => Some(row?.0.value().0.to_string()),
                None => None,
            };
            first
        };
        let Some(project) = next else {
            *cursor = None;
            return Ok(false);
        };
        let cutoff_ms = retentions.cutoff_ms(&project, now_ms);
        let older = crate::signing::id_bound("evt_", cutoff_ms);
        let candidates: Vec<String> = {
            let index = txn.open_table(PROJECT_EVENTS)?;
            let start = match cursor {
                Some((p, event)) if *p == project => {
                    Bound::Excluded((project.as_str(), event.as_str()))
                }
                _ => Bound::Included((project.as_str(), "")),
            };
            let end = Bound::Excluded((project.as_str(), older.as_str()));
            index
                .range::<(&str, &str)>((start, end))?
                .take(BATCH)
                .map(|row| Ok(row?.0.value().1.to_string()))
                .collect::<Result<_, StoreError>>()?
        };
        for id in &candidates {
            let event: Option<Event> = {
                let events = txn.open_table(EVENTS)?;
                let found = events.get(id.as_str())?;
                found.map(|bytes| decode(id, bytes.value())).transpose()?
            };
            match event {
                Some(event) => {
                    if event.time_created_ms < cutoff_ms && remove_event(txn, &event)? {
                        purged.events += 1;
                    }
                }
                // An index row left without its event: drop it.
                None => {
                    txn.open_table(PROJECT_EVENTS)?
                        .remove((project.as_str(), id.as_str()))?;
                }
            }
            *cursor = Some((project.clone(), id.clone()));
        }
        if candidates.len() == BATCH {
            return Ok(true);
        }
        // This project is done: on to the next.
        *cursor = Some((project, AFTER_EVERY_ID.to_string()));
    }
    Ok(true)
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

/// Per-minute statistics older than their project's cutoff: each
/// endpoint's old rows are at the start of its range, so the walk skips to
/// the next endpoint at its first kept row. `owners` caches each
/// endpoint's project for the pass.
fn purge_stats(
    txn: &redb::WriteTransaction,
    retentions: &Retentions,
    now_ms: u64,
    owners: &mut HashMap<String, String>,
    cursor: &mut Option<(String, u64)>,
    purged: &mut Purged,
) -> Result<bool, StoreError> {
    let endpoints = txn.open_table(ENDPOINTS)?;
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
        if !owners.contains_key(&endpoint) {
            // An endpoint gone without its statistics: the default applies.
            let owner = match endpoints.get(endpoint.as_str())? {
                Some(bytes) => decode::<Endpoint>(&endpoint, bytes.value())?.project_id,
                None => String::new(),
            };
            owners.insert(endpoint.clone(), owner);
        }
        let oldest_kept = retentions.cutoff_ms(&owners[&endpoint], now_ms) / STATS_RESOLUTION_MS;
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
    purge_until_done(db, &dirty, retention, &mut Cursors::default()).map(|(purged, _)| purged)
}
