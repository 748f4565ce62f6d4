//! The embedded backend: one redb file, ACID transactions, fsync on every
//! commit (so a `202` means the event is on disk). Single process.
//!
//! Tables (records are postcard-encoded after a format version byte):
//! `projects`, `api_keys`, `endpoints`, `events`, `deliveries` by id;
//! `project_endpoints` (project, endpoint); `queue` and `history`
//! (endpoint, seq) → delivery id; `attempts` (delivery, n);
//! `idempotency` (project, key) → (event id, expiry); `meta` counters;
//! the event log's `project_events` (project, event) and
//! `event_deliveries` (event, delivery).
//! Rate-limit buckets live in memory (one process).

pub mod purge;
mod remove;
mod write;

use super::codec::{decode, encode, Record};
use super::types::*;
use super::{BlockingBackend, Bucket, Committing, Quota, Rate};
use crate::ratelimit::RateLimiter;
use redb::Durability;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use write::{
    enqueue, flush, spawn_flusher, spawn_writer, Reply, RouteVersions, WriteDone, WriteJob,
    WriteOp, Writer,
};

const PROJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("projects");
const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
const ENDPOINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("endpoints");
const PROJECT_ENDPOINTS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("project_endpoints");
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
/// (project, event id): the event log's index.
const PROJECT_EVENTS: TableDefinition<(&str, &str), ()> = TableDefinition::new("project_events");
/// (event id, delivery id): every delivery of an event, replays included.
const EVENT_DELIVERIES: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("event_deliveries");
const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
const QUEUE: TableDefinition<(&str, u64), &str> = TableDefinition::new("queue");
const HISTORY: TableDefinition<(&str, u64), &str> = TableDefinition::new("history");
const ATTEMPTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("attempts");
const IDEMPOTENCY: TableDefinition<(&str, &str), (&str, u64)> = TableDefinition::new("idempotency");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const PROVIDERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("providers");
const STATS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("stats");

/// Stats are kept per endpoint and minute.
const STATS_RESOLUTION_MS: u64 = 60_000;

/// Key of the global ingestion sequence in `meta`.
const SEQ_KEY: &str = "seq";

/// How often attempt records committed without fsync are made durable.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// The redb-backed store.
///
/// Ingestion commits are durable when they return (fsync). Attempt records
/// (acks, reschedules, dead letters) are committed without fsync and made
/// durable together every [`FLUSH_INTERVAL`] by a flusher thread, by the
/// next ingestion commit, or by [`Store::flush`] at shutdown: a crash can
/// lose at most that window of acks, whose deliveries are then sent again
/// (at-least-once; receivers dedupe on `webhook-id`).
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// Non-durable commits are waiting for a flush.
    dirty: Arc<AtomicBool>,
    /// To the writer thread (group commits); `None` once dropping.
    writes: Option<std::sync::mpsc::Sender<WriteJob>>,
    /// The writer thread, joined on drop so the file is closed after.
    writer: Option<std::thread::JoinHandle<()>>,
    /// Each project's endpoint-change version.
    versions: Arc<RouteVersions>,
    /// Rate-limit buckets (one process: in memory).
    limiter: RateLimiter,
    /// A project was written: the purger reads the retentions again.
    projects_changed: Arc<AtomicBool>,
}

macro_rules! backend_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(e: $ty) -> Self {
                StoreError::Backend(e.to_string())
            }
        }
    )*};
}
backend_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl EmbeddedStore {
    /// Opens the store and purges what is older than `retention` in the
    /// background (see [`purge`]).
    pub fn open_with_retention(path: &Path, retention: Duration) -> Result<Self, StoreError> {
        let store = Self::open(path)?;
        purge::spawn_purger(
            Arc::downgrade(&store.db),
            Arc::clone(&store.dirty),
            Arc::clone(&store.projects_changed),
            retention,
        );
        Ok(store)
    }

    /// Removes what is older than `retention` now, in one pass (the
    /// purger's work, for tests and tools).
    pub fn purge_now(&self, retention: Duration) -> Result<purge::Purged, StoreError> {
        purge::purge_now(&self.db, retention)
    }

    /// Opens (or creates) the store file, keeping everything (no purger).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(PROJECTS)?;
        txn.open_table(API_KEYS)?;
        txn.open_table(ENDPOINTS)?;
        txn.open_table(PROJECT_ENDPOINTS)?;
        txn.open_table(EVENTS)?;
        txn.open_table(PROJECT_EVENTS)?;
        txn.open_table(EVENT_DELIVERIES)?;
        txn.open_table(DELIVERIES)?;
        txn.open_table(QUEUE)?;
        txn.open_table(HISTORY)?;
        txn.open_table(ATTEMPTS)?;
        txn.open_table(IDEMPOTENCY)?;
        txn.open_table(META)?;
        txn.open_table(PROVIDERS)?;
        txn.open_table(STATS)?;
        txn.commit()?;
        index_events_written_before(&db)?;
        let db = Arc::new(db);
        let dirty = Arc::new(AtomicBool::new(false));
        let versions = Arc::new(RouteVersions::default());
        let (writes, writer) = spawn_writer(Writer {
            db: Arc::clone(&db),
            dirty: Arc::clone(&dirty),
            versions: Arc::clone(&versions),
        })?;
        spawn_flusher(Arc::downgrade(&db), Arc::clone(&dirty));
        Ok(Self {
            db,
            dirty,
            writes: Some(writes),
            writer: Some(writer),
            versions,
            limiter: RateLimiter::new(),
            projects_changed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Hands `op` to the writer thread and waits for its commit.
    fn submit(&self, op: WriteOp) -> Result<WriteDone, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(op, Reply::Blocking(tx))?;
        rx.recv()
            .map_err(|_| StoreError::Backend("the store writer stopped".into()))?
            .map_err(StoreError::Backend)
    }

    /// Hands `op` to the writer thread; the future resolves at its commit
    /// without holding a thread meanwhile.
    fn submit_async(
        &self,
        op: WriteOp,
    ) -> impl std::future::Future<Output = Result<WriteDone, StoreError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.send(op, Reply::Async(tx));
        async move {
            sent?;
            rx.await
                .map_err(|_| StoreError::Backend("the store writer stopped".into()))?
                .map_err(StoreError::Backend)
        }
    }

    fn send(&self, op: WriteOp, reply: Reply) -> Result<(), StoreError> {
        self.writes
            .as_ref()
            .and_then(|writes| writes.send(WriteJob { op, reply }).ok())
            .ok_or_else(|| StoreError::Backend("the store writer stopped".into()))
    }

    fn get<T: Record>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(table)?;
        let value = table.get(id)?;
        value.map(|v| decode(id, v.value())).transpose()
    }

    fn put<T: Record>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        id: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode(value)?;
        let txn = self.db.begin_write()?;
        txn.open_table(table)?.insert(id, bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }
}

fn load_delivery(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Delivery, StoreError> {
    let value = table.get(id)?.ok_or_else(|| StoreError::NotFound {
        what: "delivery",
        id: id.to_string(),
    })?;
    decode(id, value.value())
}

impl BlockingBackend for EmbeddedStore {
    fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        self.put(PROJECTS, &project.id, project)?;
        self.projects_changed.store(true, Ordering::Release);
        Ok(())
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.get(PROJECTS, id)
    }

    fn update_project(
        &self,
        id: &str,
        change: ProjectChange,
    ) -> Result<Option<Project>, StoreError> {
        // One write transaction: redb runs them one at a time.
        let txn = self.db.begin_write()?;
        let updated = {
            let mut table = txn.open_table(PROJECTS)?;
            let found = table
                .get(id)?
                .map(|bytes| decode::<Project>(id, bytes.value()))
                .transpose()?;
            match found {
                Some(mut project) => {
                    change(&mut project);
                    table.insert(id, encode(&project)?.as_slice())?;
                    Some(project)
                }
                None => None,
            }
        };
        txn.commit()?;
        self.projects_changed.store(true, Ordering::Release);
        Ok(updated)
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROJECTS)?;
        let mut projects = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            projects.push(decode(key.value(), value.value())?);
        }
        Ok(projects)
    }

    fn delete_project(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = remove::delete_project(&self.db, id)?;
        if deleted {
            self.versions.bump(id);
        }
        Ok(deleted)
    }

    fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.put(API_KEYS, &key.hash, key)
    }

    fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get(API_KEYS, hash)
    }

    fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        // Keys are few: a scan beats keeping a second index in step.
        let txn = self.db.begin_read()?;
        let table = txn.open_table(API_KEYS)?;
        let mut keys = Vec::new();
        for row in table.iter()? {
            let (hash, value) = row?;
            let key: ApiKey = decode(hash.value(), value.value())?;
            if key.project_id == project_id {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    fn delete_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let removed = txn
            .open_table(API_KEYS)?
            .remove(key.hash.as_str())?
            .is_some();
        txn.commit()?;
        Ok(removed)
    }

    fn update_api_key(
        &self,
        key: &ApiKey,
        change: &(dyn Fn(&mut ApiKey) + Send + Sync),
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut table = txn.open_table(API_KEYS)?;
            let found = table
                .get(key.hash.as_str())?
                .map(|bytes| decode::<ApiKey>(&key.hash, bytes.value()))
                .transpose()?;
            match found {
                Some(mut stored) => {
                    change(&mut stored);
                    table.insert(key.hash.as_str(), encode(&stored)?.as_slice())?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(updated)
    }

    fn records_ahead(&self) -> usize {
        // Records are committed without fsync and flushed every
        // FLUSH_INTERVAL: a crash repeats that window's deliveries whatever
        // this bound is; 16 keeps an endpoint's wire busy while one commits.
        16
    }

    fn routes_version(&self, project_id: &str) -> Result<u64, StoreError> {
        Ok(self.versions.get(project_id))
    }

    fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        match self.submit(WriteOp::PutEndpoint(Box::new(endpoint.clone())))? {
            WriteDone::Stored => Ok(()),
            _ => Err(StoreError::Backend("write group mixed up results".into())),
        }
    }

    fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<Option<Endpoint>, StoreError> {
        let op = WriteOp::UpdateEndpoint {
            id: id.to_string(),
            change,
        };
        match self.submit(op)? {
            WriteDone::Updated(endpoint) => Ok(endpoint),
            _ => Err(StoreError::Backend("write group mixed up results".into())),
        }
    }

    fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.get(ENDPOINTS, id)
    }

    fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(PROJECT_ENDPOINTS)?;
        let endpoints = txn.open_table(ENDPOINTS)?;
        let mut found = Vec::new();
        for row in index.range((project_id, "")..)? {
            let (key, _) = row?;
            let (project, endpoint_id) = key.value();
            if project != project_id {
                break;
            }
            if let Some(value) = endpoints.get(endpoint_id)? {
                found.push(decode::<Endpoint>(endpoint_id, value.value())?);
            }
        }
        found.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(found)
    }

    fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let project_id = {
            let mut endpoints = txn.open_table(ENDPOINTS)?;
            let Some(removed) = endpoints.remove(id)? else {
                return Ok(false);
            };
            let endpoint: Endpoint = decode(id, removed.value())?;
            drop(removed);
            txn.open_table(PROJECT_ENDPOINTS)?
                .remove((endpoint.project_id.as_str(), id))?;
            let mut queue = txn.open_table(QUEUE)?;
            let mut deliveries = txn.open_table(DELIVERIES)?;
            let queued: Vec<(u64, String)> = queue
                .range((id, 0)..=(id, u64::MAX))?
                .map(|row| row.map(|(k, v)| (k.value().1, v.value().to_string())))
                .collect::<Result<_, _>>()?;
            for (seq, delivery_id) in queued {
                queue.remove((id, seq))?;
                let mut delivery = load_delivery(&deliveries, &delivery_id)?;
                delivery.status = DeliveryStatus::Failed;
                delivery.last_error = Some("endpoint deleted".into());
                deliveries.insert(delivery_id.as_str(), encode(&delivery)?.as_slice())?;
            }
            endpoint.project_id
        };
        txn.commit()?;
        self.versions.bump(&project_id);
        Ok(true)
    }

    fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(PROJECT_EVENTS)?;
        let (from, before) = (from.unwrap_or(""), before.unwrap_or(AFTER_EVERY_ID));
        if from >= before {
            return Ok(Vec::new());
        }
        index
            .range((project_id, from)..(project_id, before))?
            .rev()
            .take(limit)
            .map(|row| Ok(row?.0.value().1.to_string()))
            .collect()
    }

    fn deliveries_of_events(&self, event_ids: &[&str]) -> Result<Vec<Vec<Delivery>>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(EVENT_DELIVERIES)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        event_ids
            .iter()
            .map(|event_id| {
                let mut found = Vec::new();
                for row in index.range((*event_id, "")..(*event_id, AFTER_EVERY_ID))? {
                    let (key, _) = row?;
                    let delivery_id = key.value().1;
                    if let Some(bytes) = deliveries.get(delivery_id)? {
                        found.push(decode(delivery_id, bytes.value())?);
                    }
                }
                Ok(found)
            })
            .collect()
    }

    fn ingest(&self, batch: Vec<NewEvent>, now_ms: u64) -> Result<Vec<Ingested>, StoreError> {
        ingested(self.submit(WriteOp::Ingest { batch, now_ms })?)
    }

    fn ingest_async(
        self: Arc<Self>,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Committing<Vec<Ingested>> {
        let committing = self.submit_async(WriteOp::Ingest { batch, now_ms });
        Box::pin(async move { ingested(committing.await?) })
    }

    fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.get(EVENTS, id)
    }

    fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError> {
        Ok(self.queue_peek(endpoint_id, 1)?.into_iter().next())
    }

    fn queue_peek(&self, endpoint_id: &str, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        let queue = txn.open_table(QUEUE)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let mut found = Vec::new();
        for row in queue
            .range((endpoint_id, 0)..=(endpoint_id, u64::MAX))?
            .take(limit)
        {
            let (_, delivery_id) = row?;
            found.push(load_delivery(&deliveries, delivery_id.value())?);
        }
        Ok(found)
    }

    fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let queue = txn.open_table(QUEUE)?;
        let mut endpoints: Vec<String> = Vec::new();
        loop {
            // Jump past the last endpoint found instead of walking its queue.
            let next = match endpoints.last() {
                None => queue.first()?,
                Some(last) => queue
                    .range((last.as_str(), u64::MAX)..)?
                    .find(|row| {
                        row.as_ref()
                            .map_or(true, |(k, _)| k.value().0 != last.as_str())
                    })
                    .transpose()?,
            };
            match next {
                Some((key, _)) => endpoints.push(key.value().0.to_string()),
                None => return Ok(endpoints),
            }
        }
    }

    fn record_attempt(
        &self,
        _endpoint_id: &str,
        attempt: &Attempt,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        recorded(self.submit(WriteOp::Attempt {
            attempt: Arc::new(attempt.clone()),
            change,
        })?)
    }

    fn record_attempt_async(
        self: Arc<Self>,
        _endpoint_id: String,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Committing<Delivery> {
        let committing = self.submit_async(WriteOp::Attempt { attempt, change });
        Box::pin(async move { recorded(committing.await?) })
    }

    fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError> {
        recorded(self.submit(WriteOp::Test(Box::new(test.clone())))?)
    }

    fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        let txn = self.db.begin_write()?;
        let delivery = {
            if txn.open_table(EVENTS)?.get(event_id)?.is_none() {
                return Err(StoreError::NotFound {
                    what: "event",
                    id: event_id.to_string(),
                });
            }
            let mut meta = txn.open_table(META)?;
            let seq = meta.get(SEQ_KEY)?.map_or(0, |v| v.value()) + 1;
            meta.insert(SEQ_KEY, seq)?;
            let delivery = Delivery::queued(delivery_id, event_id, endpoint_id, seq, now_ms);
            enqueue(
                &mut txn.open_table(DELIVERIES)?,
                &mut txn.open_table(QUEUE)?,
                &mut txn.open_table(HISTORY)?,
                &delivery,
            )?;
            txn.open_table(EVENT_DELIVERIES)?
                .insert((event_id, delivery_id), ())?;
            delivery
        };
        txn.commit()?;
        Ok(delivery)
    }

    fn delivery(&self, endpoint_id: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
        let found: Option<Delivery> = self.get(DELIVERIES, id)?;
        Ok(found.filter(|d| d.endpoint_id == endpoint_id))
    }

    fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        let history = txn.open_table(HISTORY)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let upper = query.before_seq.unwrap_or(u64::MAX);
        let limit = query.limit.max(1);
        let mut items = Vec::new();
        let mut next_cursor = None;
        for row in history.range((endpoint_id, 0)..(endpoint_id, upper))?.rev() {
            let (key, delivery_id) = row?;
            let delivery = load_delivery(&deliveries, delivery_id.value())?;
            if query
                .since_ms
                .is_some_and(|since| delivery.created_ms < since)
            {
                break;
            }
            if query.status.is_some_and(|s| s != delivery.status) {
                continue;
            }
            if items.len() == limit {
                next_cursor = items.last().map(|d: &Delivery| d.seq);
                break;
            }
            let _ = key;
            items.push(delivery);
        }
        Ok(Page { items, next_cursor })
    }

    fn attempts_of(
        &self,
        _endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        let txn = self.db.begin_read()?;
        let attempts = txn.open_table(ATTEMPTS)?;
        let mut found = Vec::new();
        for row in attempts.range((delivery_id, 0)..=(delivery_id, u32::MAX))? {
            let (_, value) = row?;
            let attempt: Attempt = decode(delivery_id, value.value())?;
            // The record leaves out the delivery its key names.
            found.push(Attempt {
                delivery_id: delivery_id.to_string(),
                ..attempt
            });
        }
        Ok(found)
    }

    fn put_provider_settings(&self, settings: &ProviderSettings) -> Result<(), StoreError> {
        let bytes = encode(settings)?;
        let txn = self.db.begin_write()?;
        txn.open_table(PROVIDERS)?.insert(
            (settings.project_id.as_str(), settings.provider.as_str()),
            bytes.as_slice(),
        )?;
        txn.commit()?;
        Ok(())
    }

    fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROVIDERS)?;
        let value = table.get((project_id, provider))?;
        value.map(|v| decode(provider, v.value())).transpose()
    }

    fn provider_settings_of(&self, project_id: &str) -> Result<Vec<ProviderSettings>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROVIDERS)?;
        table
            .range((project_id, "")..(project_id, AFTER_EVERY_ID))?
            .map(|row| {
                let (key, value) = row?;
                decode(key.value().1, value.value())
            })
            .collect()
    }

    fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        remove::delete_provider_settings(&self.db, project_id, provider)
    }

    fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        let txn = self.db.begin_read()?;
        let queue = txn.open_table(QUEUE)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let mut samples: Vec<QueueSample> = Vec::new();
        // One pass in key order: an endpoint's rows are adjacent, oldest first.
        for row in queue.iter()? {
            let (key, delivery_id) = row?;
            let endpoint_id = key.value().0;
            match samples.last_mut() {
                Some(last) if last.endpoint_id == endpoint_id => last.depth += 1,
                _ => {
                    let head = load_delivery(&deliveries, delivery_id.value())?;
                    samples.push(QueueSample {
                        endpoint_id: endpoint_id.to_string(),
                        provider: String::new(),
                        depth: 1,
                        oldest_ms: Some(head.created_ms),
                    });
                }
            }
        }
        let endpoints = txn.open_table(ENDPOINTS)?;
        for sample in &mut samples {
            if let Some(raw) = endpoints.get(sample.endpoint_id.as_str())? {
                let endpoint: Endpoint = decode(&sample.endpoint_id, raw.value())?;
                sample.provider = endpoint.provider;
            }
        }
        Ok(samples)
    }

    fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STATS)?;
        let from = since_ms / STATS_RESOLUTION_MS;
        let mut periods = Vec::new();
        for row in table.range((endpoint_id, from)..=(endpoint_id, u64::MAX))? {
            let (key, value) = row?;
            periods.push(StatsPeriod {
                start_ms: key.value().1 * STATS_RESOLUTION_MS,
                length_ms: STATS_RESOLUTION_MS,
                stats: decode::<Stats>(endpoint_id, value.value())?,
            });
        }
        Ok(periods)
    }

    fn flush(&self) -> Result<(), StoreError> {
        flush(&self.db, &self.dirty)
    }

    fn take_tokens(&self, bucket: &Bucket, rate: Rate, n: u32) -> Result<Quota, StoreError> {
        let key = match bucket {
            Bucket::Ingest(project) => format!("ingest:{project}"),
            Bucket::Endpoint(endpoint) => format!("endpoint:{endpoint}"),
            Bucket::Management(caller) => format!("manage:{caller}"),
        };
        Ok(self.limiter.try_take(&key, rate, n))
    }
}

fn ingested(done: WriteDone) -> Result<Vec<Ingested>, StoreError> {
    match done {
        WriteDone::Ingested(results) => Ok(results),
        _ => Err(StoreError::Backend("write group mixed up results".into())),
    }
}

fn recorded(done: WriteDone) -> Result<Delivery, StoreError> {
    match done {
        WriteDone::Recorded(delivery) => Ok(delivery),
        _ => Err(StoreError::Backend("write group mixed up results".into())),
    }
}

impl Drop for EmbeddedStore {
    /// Stops the writer after the writes already handed to it, so the file
    /// is closed when the store is gone (it can be opened again at once).
    fn drop(&mut self) {
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests;

/// Sorts after every id (ids are ASCII letters, digits and `_`).
const AFTER_EVERY_ID: &str = "\u{7f}";

/// Key in `meta` set once the event log's indexes hold every event.
const EVENT_INDEX_KEY: &str = "event_index";

/// Indexes events and deliveries stored before the event log existed
/// (once per file).
fn index_events_written_before(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        if meta.get(EVENT_INDEX_KEY)?.is_some() {
            return Ok(());
        }
        let mut by_project = txn.open_table(PROJECT_EVENTS)?;
        for row in txn.open_table(EVENTS)?.iter()? {
            let (key, value) = row?;
            let event: Event = decode(key.value(), value.value())?;
            by_project.insert((event.project_id.as_str(), event.id.as_str()), ())?;
        }
        let mut by_event = txn.open_table(EVENT_DELIVERIES)?;
        for row in txn.open_table(DELIVERIES)?.iter()? {
            let (key, value) = row?;
            let delivery: Delivery = decode(key.value(), value.value())?;
            by_event.insert((delivery.event_id.as_str(), delivery.id.as_str()), ())?;
        }
        meta.insert(EVENT_INDEX_KEY, 1)?;
    }
    txn.commit()?;
    Ok(())
}

/// What `hookmesh store compact` did.
#[derive(Debug, serde::Serialize)]
pub struct Compacted {
    /// File size before, bytes.
    pub bytes_before: u64,
    /// File size after, bytes.
    pub bytes_after: u64,
    /// What the purge removed first.
    pub purged_events: usize,
}

/// Purges what is past `retention`, then compacts the file (hookmesh must
/// be stopped: the file is opened exclusively).
pub fn compact(path: &Path, retention: Duration) -> Result<Compacted, StoreError> {
    let bytes_before = file_size(path);
    let mut db = open_offline(path, "compacting")?;
    let purged = purge::purge_now(&db, retention)?;
    // The purge committed without fsync; compaction needs it durable.
    db.begin_write()?.commit()?;
    db.compact()
        .map_err(|e| StoreError::Backend(format!("compact: {e}")))?;
    drop(db);
    Ok(Compacted {
        bytes_before,
        bytes_after: file_size(path),
        purged_events: purged.events,
    })
}

/// The file's size, bytes (0 when it cannot be read).
fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Opens the file for an offline command (`doing`, e.g. "compacting"):
/// refused while hookmesh holds it.
fn open_offline(path: &Path, doing: &str) -> Result<Database, StoreError> {
    if !path.exists() {
        return Err(StoreError::Backend(format!(
            "{} does not exist",
            path.display()
        )));
    }
    Database::open(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
            "{} is in use: stop hookmesh before {doing}",
            path.display()
        )),
        other => other.into(),
    })
}

/// One table's share of the file (`hookmesh store stats`).
#[derive(Debug, serde::Serialize)]
pub struct TableUsage {
    /// The table's name.
    pub table: String,
    /// Rows in it.
    pub rows: u64,
    /// Keys and values as stored, bytes.
    pub stored_bytes: u64,
    /// Leaf and branch pages holding them, bytes.
    pub page_bytes: u64,
    /// Unused space inside those pages, bytes.
    pub fragmented_bytes: u64,
}

/// What `hookmesh store stats` reports.
#[derive(Debug, serde::Serialize)]
pub struct StoreStats {
    /// The file's size, bytes.
    pub file_bytes: u64,
    /// Pages no table uses (reused by later writes; `store compact` gives
    /// them back), bytes.
    pub free_bytes: u64,
    /// Every table, largest first.
    pub tables: Vec<TableUsage>,
}

/// Each table's rows, bytes and pages (hookmesh must be stopped).
pub fn stats(path: &Path) -> Result<StoreStats, StoreError> {
    use redb::{ReadableTableMetadata, TableHandle};
    let db = open_offline(path, "reading its statistics")?;
    let database = db.begin_write()?.stats()?;
    let page_bytes_of = |pages: u64| pages * database.page_size() as u64;
    let txn = db.begin_read()?;
    let mut tables = Vec::new();
    for handle in txn.list_tables()? {
        let table = txn.open_untyped_table(handle)?;
        let usage = table.stats()?;
        tables.push(TableUsage {
            table: table.name().to_string(),
            rows: table.len()?,
            stored_bytes: usage.stored_bytes(),
            page_bytes: page_bytes_of(usage.leaf_pages() + usage.branch_pages()),
            fragmented_bytes: usage.fragmented_bytes(),
        });
    }
    tables.sort_by_key(|t| std::cmp::Reverse(t.page_bytes));
    let file_bytes = file_size(path);
    Ok(StoreStats {
        file_bytes,
        free_bytes: file_bytes.saturating_sub(page_bytes_of(database.allocated_pages())),
        tables,
    })
}
