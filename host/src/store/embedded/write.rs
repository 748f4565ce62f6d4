//! Writes: the writer thread whose group commit batches ingestions,
//! endpoint changes and attempt records from concurrent callers into one
//! transaction, the transaction bodies themselves, and the flusher that
//! makes lazily committed attempt records durable.

use super::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 512;

/// What the writer thread needs of the store.
pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) dirty: Arc<AtomicBool>,
    pub(super) versions: Arc<RouteVersions>,
}

/// How long a group of attempt records alone waits for company.
const LINGER: Duration = Duration::from_millis(3);
/// A group of attempt records this large commits without waiting.
const LINGER_UNTIL: usize = 8;

/// A group made only of attempt records (lazily durable: their callers
/// need not wait for them) and still small waits up to [`LINGER`] for more
/// writes, so that at everyday rates an attempt's record shares the next
/// ingestion's commit instead of costing one of its own (issue #13: CPU
/// per event at 300 events/s). Any other write ends the wait at once.
fn linger_for_company(group: &mut Vec<WriteJob>, jobs: &mpsc::Receiver<WriteJob>) {
    if !group.iter().all(|job| job.op.is_lazily_durable()) {
        return;
    }
    let until = Instant::now() + LINGER;
    while group.len() < LINGER_UNTIL {
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return;
        };
        match jobs.recv_timeout(left) {
            Ok(job) => {
                let lazy = job.op.is_lazily_durable();
                group.push(job);
                if !lazy {
                    take_waiting(group, jobs);
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Adds the writes already waiting to `group` (up to [`MAX_GROUP`]).
fn take_waiting(group: &mut Vec<WriteJob>, jobs: &mpsc::Receiver<WriteJob>) {
    while group.len() < MAX_GROUP {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
}

/// Where a write's result goes: a thread waiting for it, or a future.
pub(super) enum Reply {
    Blocking(mpsc::SyncSender<Result<WriteDone, String>>),
    Async(tokio::sync::oneshot::Sender<Result<WriteDone, String>>),
}

impl Reply {
    fn send(self, result: Result<WriteDone, String>) {
        // A caller that stopped waiting no longer needs the answer.
        let _ = match self {
            Self::Blocking(tx) => tx.send(result).map_err(drop),
            Self::Async(tx) => tx.send(result).map_err(drop),
        };
    }
}

/// A write handed to the writer thread.
pub(super) struct WriteJob {
    pub(super) op: WriteOp,
    pub(super) reply: Reply,
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(super) fn spawn_writer(
    writer: Writer,
) -> Result<(mpsc::Sender<WriteJob>, std::thread::JoinHandle<()>), StoreError> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("hookmesh-writer".into())
        .spawn(move || writer.run(&rx))
        .map_err(|e| StoreError::Backend(format!("cannot start the store writer: {e}")))?;
    Ok((tx, handle))
}

impl Writer {
    /// Group commit: waits for a write, takes every other write already
    /// waiting (up to [`MAX_GROUP`]), commits them in one transaction
    /// (durable unless every one is an attempt record), answers each.
    fn run(&self, jobs: &mpsc::Receiver<WriteJob>) {
        while let Ok(first) = jobs.recv() {
            let mut group = vec![first];
            take_waiting(&mut group, jobs);
            linger_for_company(&mut group, jobs);
            let (ops, replies): (Vec<WriteOp>, Vec<Reply>) =
                group.into_iter().map(|job| (job.op, job.reply)).unzip();
            for (reply, result) in replies.into_iter().zip(self.write_all(&ops)) {
                reply.send(result);
            }
        }
    }

    /// Writes `ops` in one transaction; if that fails, each alone, so only
    /// a failing one reports an error.
    fn write_all(&self, ops: &[WriteOp]) -> Vec<Result<WriteDone, String>> {
        match self.write_group(ops) {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(_) if ops.len() > 1 => ops
                .iter()
                .map(|op| {
                    self.write_group(std::slice::from_ref(op))
                        .map(|mut r| r.remove(0))
                        .map_err(|e| e.to_string())
                })
                .collect(),
            Err(e) => vec![Err(e.to_string())],
        }
    }

    fn write_group(&self, ops: &[WriteOp]) -> Result<Vec<WriteDone>, StoreError> {
        let mut txn = self.db.begin_write()?;
        let mut done = Vec::with_capacity(ops.len());
        let mut changed_projects = Vec::new();
        for op in ops {
            done.push(match op {
                WriteOp::Ingest { batch, now_ms } => {
                    WriteDone::Ingested(ingest_in(&txn, batch, *now_ms)?)
                }
                WriteOp::Attempt { attempt, change } => {
                    WriteDone::Recorded(attempt_in(&txn, attempt, change.clone())?)
                }
                WriteOp::Test(test) => WriteDone::Recorded(test_in(&txn, test)?),
                WriteOp::PutEndpoint(endpoint) => {
                    put_endpoint_in(&txn, endpoint)?;
                    changed_projects.push(endpoint.project_id.clone());
                    WriteDone::Stored
                }
                WriteOp::UpdateEndpoint { id, change } => {
                    let found = txn
                        .open_table(ENDPOINTS)?
                        .get(id.as_str())?
                        .map(|bytes| decode::<Endpoint>(id, bytes.value()))
                        .transpose()?;
                    WriteDone::Updated(match found {
                        Some(mut endpoint) => {
                            change(&mut endpoint);
                            put_endpoint_in(&txn, &endpoint)?;
                            changed_projects.push(endpoint.project_id.clone());
                            Some(endpoint)
                        }
                        None => None,
                    })
                }
            });
        }
        let durable = ops.iter().any(|op| !op.is_lazily_durable());
        if durable {
            txn.commit()?;
            // A durable commit makes every earlier one durable too: the
            // flusher has nothing left to do.
            self.dirty.store(false, Ordering::Release);
            // After the commit: a router that sees the new version reads
            // the new endpoints.
            for project_id in &changed_projects {
                self.versions.bump(project_id);
            }
        } else {
            txn.set_durability(Durability::None)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            txn.commit()?;
            self.dirty.store(true, Ordering::Release);
        }
        Ok(done)
    }
}

fn put_endpoint_in(txn: &redb::WriteTransaction, endpoint: &Endpoint) -> Result<(), StoreError> {
    let bytes = encode(endpoint)?;
    txn.open_table(ENDPOINTS)?
        .insert(endpoint.id.as_str(), bytes.as_slice())?;
    txn.open_table(PROJECT_ENDPOINTS)?
        .insert((endpoint.project_id.as_str(), endpoint.id.as_str()), ())?;
    Ok(())
}

/// Stores one batch inside an open write transaction.
pub(super) fn ingest_in(
    txn: &redb::WriteTransaction,
    batch: &[NewEvent],
    now_ms: u64,
) -> Result<Vec<Ingested>, StoreError> {
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut events = txn.open_table(EVENTS)?;
        let mut by_project = txn.open_table(PROJECT_EVENTS)?;
        let mut by_event = txn.open_table(EVENT_DELIVERIES)?;
        let mut deliveries = txn.open_table(DELIVERIES)?;
        let mut queue = txn.open_table(QUEUE)?;
        let mut history = txn.open_table(HISTORY)?;
        let mut idempotency = txn.open_table(IDEMPOTENCY)?;
        let mut meta = txn.open_table(META)?;
        let mut seq = meta.get(SEQ_KEY)?.map_or(0, |v| v.value());
        for item in batch {
            let project = item.event.project_id.as_str();
            if let Some((key, _)) = &item.idempotency {
                let seen = idempotency
                    .get((project, key.as_str()))?
                    .map(|v| (v.value().0.to_string(), v.value().1));
                if let Some((event_id, expires_ms)) = seen {
                    if expires_ms > now_ms {
                        results.push(Ingested::Duplicate { event_id });
                        continue;
                    }
                }
            }
            events.insert(item.event.id.as_str(), encode(&item.event)?.as_slice())?;
            by_project.insert((project, item.event.id.as_str()), ())?;
            for (endpoint_id, delivery_id) in &item.deliveries {
                seq += 1;
                let delivery =
                    Delivery::queued(delivery_id, &item.event.id, endpoint_id, seq, now_ms);
                enqueue(&mut deliveries, &mut queue, &mut history, &delivery)?;
                by_event.insert((item.event.id.as_str(), delivery_id.as_str()), ())?;
            }
            if let Some((key, expires_ms)) = &item.idempotency {
                idempotency.insert(
                    (project, key.as_str()),
                    (item.event.id.as_str(), *expires_ms),
                )?;
            }
            results.push(Ingested::Stored {
                event_id: item.event.id.clone(),
                deliveries: item.deliveries.len(),
            });
        }
        meta.insert(SEQ_KEY, seq)?;
    }
    Ok(results)
}

/// Stores a new delivery and puts it in its endpoint's queue and history.
pub(super) fn enqueue(
    deliveries: &mut redb::Table<&str, &[u8]>,
    queue: &mut redb::Table<(&str, u64), &str>,
    history: &mut redb::Table<(&str, u64), &str>,
    delivery: &Delivery,
) -> Result<(), StoreError> {
    let key = (delivery.endpoint_id.as_str(), delivery.seq);
    deliveries.insert(delivery.id.as_str(), encode(delivery)?.as_slice())?;
    queue.insert(key, delivery.id.as_str())?;
    history.insert(key, delivery.id.as_str())?;
    Ok(())
}

/// Records one attempt and applies its change inside an open write transaction.
pub(super) fn attempt_in(
    txn: &redb::WriteTransaction,
    attempt: &Attempt,
    change: DeliveryChange,
) -> Result<Delivery, StoreError> {
    let delivery = {
        let mut deliveries = txn.open_table(DELIVERIES)?;
        let mut delivery = load_delivery(&deliveries, &attempt.delivery_id)?;
        if !delivery.apply(attempt, &change) {
            // Recorded before (a retried record): nothing changes twice.
            return Ok(delivery);
        }
        txn.open_table(ATTEMPTS)?.insert(
            (attempt.delivery_id.as_str(), attempt.number),
            encode(attempt)?.as_slice(),
        )?;
        if !delivery.is_queued() {
            txn.open_table(QUEUE)?
                .remove((delivery.endpoint_id.as_str(), delivery.seq))?;
        }
        deliveries.insert(delivery.id.as_str(), encode(&delivery)?.as_slice())?;
        delivery
    };
    let minute = attempt.started_ms / STATS_RESOLUTION_MS;
    let mut stats_table = txn.open_table(STATS)?;
    let key = (delivery.endpoint_id.as_str(), minute);
    let previous: Option<Stats> = stats_table
        .get(key)?
        .map(|value| decode(&delivery.endpoint_id, value.value()))
        .transpose()?;
    let mut stats = previous.unwrap_or_default();
    stats.record(&attempt.outcome, attempt.duration_ms);
    stats_table.insert(key, encode(&stats)?.as_slice())?;
    Ok(delivery)
}

/// Stores a finished test send inside an open write transaction: the
/// event with its log entries, the delivery in the endpoint's history (not
/// its queue) at the next sequence number, and the attempt. No statistics.
fn test_in(txn: &redb::WriteTransaction, test: &TestRecord) -> Result<Delivery, StoreError> {
    let TestRecord {
        event,
        delivery,
        attempt,
    } = test;
    let mut meta = txn.open_table(META)?;
    let seq = meta.get(SEQ_KEY)?.map_or(0, |v| v.value()) + 1;
    meta.insert(SEQ_KEY, seq)?;
    let delivery = Delivery {
        seq,
        ..delivery.clone()
    };
    txn.open_table(EVENTS)?
        .insert(event.id.as_str(), encode(event)?.as_slice())?;
    txn.open_table(PROJECT_EVENTS)?
        .insert((event.project_id.as_str(), event.id.as_str()), ())?;
    txn.open_table(EVENT_DELIVERIES)?
        .insert((event.id.as_str(), delivery.id.as_str()), ())?;
    txn.open_table(DELIVERIES)?
        .insert(delivery.id.as_str(), encode(&delivery)?.as_slice())?;
    txn.open_table(HISTORY)?
        .insert((delivery.endpoint_id.as_str(), seq), delivery.id.as_str())?;
    txn.open_table(ATTEMPTS)?.insert(
        (attempt.delivery_id.as_str(), attempt.number),
        encode(attempt)?.as_slice(),
    )?;
    Ok(delivery)
}

/// A write waiting for the group commit.
pub(super) enum WriteOp {
    /// Durable: a finished test send.
    Test(Box<TestRecord>),
    /// Durable: events with their deliveries.
    Ingest { batch: Vec<NewEvent>, now_ms: u64 },
    /// Lazily durable: an attempt and its consequence.
    Attempt {
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    },
    /// Durable: an endpoint created or changed.
    PutEndpoint(Box<Endpoint>),
    /// Durable: a change applied to the endpoint as stored now.
    UpdateEndpoint {
        id: String,
        change: crate::store::EndpointChange,
    },
}

impl WriteOp {
    /// Whether its caller need not wait for it to be durable (the flusher
    /// makes it so shortly after).
    fn is_lazily_durable(&self) -> bool {
        matches!(self, Self::Attempt { .. })
    }
}

/// What a [`WriteOp`] produced.
pub(super) enum WriteDone {
    Ingested(Vec<Ingested>),
    Recorded(Delivery),
    Updated(Option<Endpoint>),
    Stored,
}

/// Locks, recovering from poisoning (a panicked writer leaves plain data).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes earlier non-durable commits durable with an empty durable commit.
pub(super) fn flush(db: &Database, dirty: &AtomicBool) -> Result<(), StoreError> {
    if dirty.swap(false, Ordering::AcqRel) {
        let txn = db.begin_write()?;
        txn.commit()?;
    }
    Ok(())
}

/// Flushes every [`FLUSH_INTERVAL`] until the database is dropped.
pub(super) fn spawn_flusher(db: Weak<Database>, dirty: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("hookmesh-flush".into())
        .spawn(move || loop {
            std::thread::sleep(FLUSH_INTERVAL);
            let Some(db) = db.upgrade() else { return };
            if let Err(error) = flush(&db, &dirty) {
                tracing::error!(%error, "cannot flush the store");
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the store flusher; attempt records stay durable only with the next ingestion");
    }
}

/// Each project's endpoint-change version (see
/// [`crate::store::Backend::routes_version`]). One process owns the file, so memory is
/// enough: versions start at zero with the process, like any cache built
/// from them.
#[derive(Default)]
pub(super) struct RouteVersions(Mutex<HashMap<String, u64>>);

impl RouteVersions {
    pub(super) fn get(&self, project_id: &str) -> u64 {
        lock(&self.0).get(project_id).copied().unwrap_or(0)
    }

    /// After a change to one of the project's endpoints commits.
    pub(super) fn bump(&self, project_id: &str) {
        *lock(&self.0).entry(project_id.to_string()).or_default() += 1;
    }
}
