//! The interface each backend implements: async calls, one per store
//! operation, awaited on the caller's executor. Only [`super::Store`] calls
//! it. The Redis backend implements it natively (its round trips are
//! awaited, no thread is held); the embedded store implements the blocking
//! [`super::BlockingBackend`] and is adapted by [`super::InProcess`].

use super::types::*;
use super::{Admission, Bucket, Budget, Quota, Rate};
use async_trait::async_trait;
use std::sync::Arc;

/// Whether the caller of [`Backend::work_window`] has an event already.
pub type KnownEvents<'a> = dyn Fn(&str) -> bool + Send + Sync + 'a;

/// The operations every backend provides. The rest of hookmesh calls them
/// through [`super::Store`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Inserts or replaces a project.
    async fn put_project(&self, project: &Project) -> Result<(), StoreError>;
    /// A project by id.
    async fn project(&self, id: &str) -> Result<Option<Project>, StoreError>;
    /// Applies `change` to the project as stored now, atomically (a change
    /// made meanwhile is kept, never overwritten with an older copy).
    /// `None` when the project does not exist.
    async fn update_project(
        &self,
        id: &str,
        change: ProjectChange,
    ) -> Result<Option<Project>, StoreError>;
    /// Every project.
    async fn projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Removes a project with everything it owns: its API keys (they stop
    /// authenticating), its endpoints with their queues, deliveries,
    /// attempts and statistics, its events, idempotency keys and provider
    /// settings. False (nothing removed) when no such project exists.
    async fn delete_project(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores an API key record (by the hash of the key).
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// The key whose hash is `hash`.
    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// [`Backend::api_key`] and [`Backend::project`] together (one round trip
    /// where the backend is remote).
    async fn api_key_and_project(
        &self,
        hash: &str,
        project_id: &str,
    ) -> Result<(Option<ApiKey>, Option<Project>), StoreError>;
    /// The project's keys, each with its last use.
    async fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    /// Removes `key` (revocation); false when it was already gone.
    async fn delete_api_key(&self, key: &ApiKey) -> Result<bool, StoreError>;
    /// Sets `key`'s expiry if it still exists (never recreates a revoked
    /// key); false when it is gone.
    async fn expire_api_key(&self, key: &ApiKey, expires_ms: u64) -> Result<bool, StoreError>;
    /// Records that `key` authenticated a request at `now_ms`; nothing when
    /// it is gone.
    async fn touch_api_key(&self, key: &ApiKey, now_ms: u64) -> Result<(), StoreError>;

    /// Inserts or replaces an endpoint.
    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// Applies `change` to the endpoint as stored now, atomically: a
    /// change made meanwhile by anyone else is kept, never overwritten
    /// with an older copy. `None` when the endpoint does not exist.
    async fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<Option<Endpoint>, StoreError>;
    /// An endpoint by id.
    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// The endpoints of a project, oldest first.
    async fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError>;
    /// The project's endpoint-change version: it moves (after the write is
    /// visible) whenever one of the project's endpoints is created,
    /// changed or removed, so anything compiled from
    /// [`Backend::endpoints_of`] at one version is current while the
    /// version is unchanged.
    async fn routes_version(&self, project_id: &str) -> Result<u64, StoreError>;
    /// Removes an endpoint and its queue (its history stays readable by
    /// delivery id). False when it did not exist.
    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError>;

    /// Ids of a project's events, newest first: below `before` and not
    /// below `from` where given (event ids sort by creation time), at most
    /// `limit`. Ids of events past retention may still be listed; their
    /// records are gone.
    async fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Each event's deliveries (replays included), oldest first: one list
    /// per id, in order.
    async fn deliveries_of_events(
        &self,
        event_ids: &[&str],
    ) -> Result<Vec<Vec<Delivery>>, StoreError>;

    /// Stores events with their deliveries and queue entries atomically.
    /// An item whose idempotency key was already used answers the stored
    /// event instead of storing a new one.
    async fn ingest(&self, batch: Vec<NewEvent>, now_ms: u64) -> Result<Vec<Ingested>, StoreError>;
    /// An event by id.
    async fn event(&self, id: &str) -> Result<Option<Event>, StoreError>;
    /// Several events by id, in the same order (one round trip where the
    /// backend is remote).
    async fn events(&self, ids: &[&str]) -> Result<Vec<Option<Event>>, StoreError>;

    /// The oldest queued delivery of an endpoint.
    async fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError>;
    /// Up to `limit` oldest queued deliveries of an endpoint.
    async fn queue_peek(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// The endpoint, its provider settings and up to `limit` oldest queued
    /// deliveries with their events (two round trips where the backend is
    /// remote). `None` when the endpoint does not exist. An event for which
    /// `known` answers true is not read (the caller has it; its slot is
    /// `None`).
    async fn work_window(
        &self,
        endpoint_id: &str,
        limit: usize,
        known: &KnownEvents<'_>,
    ) -> Result<Option<WorkWindow>, StoreError>;
    /// Endpoints with at least one queued delivery.
    async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError>;
    /// Records an attempt and applies its consequence to the delivery and
    /// the queue, atomically.
    async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError>;
    /// Stores a finished test send: its event (in the project's event log),
    /// its delivery in the endpoint's history (never queued) and its
    /// attempt, all kept for the retention like any finished delivery.
    /// Returns the delivery as stored (with its `seq`). Tests do not count
    /// in the endpoint's statistics.
    async fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError>;
    /// Queues a new delivery of an existing event to an endpoint (replay).
    async fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError>;

    /// A delivery of an endpoint by id.
    async fn delivery(&self, endpoint_id: &str, id: &str) -> Result<Option<Delivery>, StoreError>;
    /// An endpoint's deliveries, newest first, `limit` per page.
    async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError>;
    /// A delivery's attempts, oldest first.
    async fn attempts_of(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Vec<Attempt>, StoreError>;

    /// The queue of every endpoint with work, with its class, for metrics.
    async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError>;

    /// An endpoint's attempt statistics per stored period, oldest first,
    /// from the period holding `since_ms` on.
    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError>;

    /// Makes every committed change durable now (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stores a project's settings for one provider.
    async fn put_provider_settings(&self, settings: &ProviderSettings) -> Result<(), StoreError>;
    /// A project's settings for `provider`.
    async fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError>;

    /// Every provider or named instance configured for the project, by name.
    async fn provider_settings_of(
        &self,
        project_id: &str,
    ) -> Result<Vec<ProviderSettings>, StoreError>;
    /// Removes a project's settings for `provider`; false when there were none.
    async fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError>;

    /// Takes `budget` (when given) and, unless it is spent, stores `batch`
    /// ([`Backend::ingest`]); nothing is stored when it is. A backend that
    /// can do both in one round trip does.
    async fn admit_and_ingest(
        &self,
        budget: Option<Budget>,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Admission, StoreError> {
        take_then_ingest(self, budget, batch, now_ms).await
    }

    /// Takes `n` tokens from a rate-limit bucket, or says how long to wait;
    /// either way with the bucket's numbers for the `X-RateLimit-*`
    /// headers. Shared backends keep buckets where every instance sees them.
    async fn take_tokens(&self, bucket: &Bucket, rate: Rate, n: u32) -> Result<Quota, StoreError>;

    /// Takes (or keeps) this instance's lease on an endpoint's queue: only
    /// its holder delivers it, so order holds across instances. False when
    /// another instance holds it. A backend for one process always says yes.
    async fn claim(&self, _endpoint_id: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// This instance renewed its lease on the endpoint recently enough
    /// that [`Backend::claim`] would answer yes without asking the store
    /// (a memory check, safe to make on the async executor).
    fn holds_fresh_lease(&self, _endpoint_id: &str) -> bool {
        !self.is_shared()
    }
    /// Gives the endpoint's lease up when its queue is empty; false (lease
    /// kept) when work is queued, so the caller goes on delivering. (A
    /// store of one process has no lease: it only says whether the queue
    /// is empty.)
    async fn release(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        Ok(self.queue_head(endpoint_id).await?.is_none())
    }
    /// Gives up every lease this instance holds (at shutdown, after the
    /// attempts in flight are recorded), so other instances take its
    /// endpoints over at once instead of after the lease TTL.
    async fn release_all(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Several instances share this store: how often each looks for work
    /// nobody delivers ([`Backend::unowned_work`]). `None` for one process.
    fn scan_interval(&self) -> Option<std::time::Duration> {
        None
    }
    /// How many attempt outcomes an endpoint may have unrecorded while its
    /// next delivery goes out. 1 (the default): none — the next attempt
    /// waits for the previous record, so a store outage repeats at most one
    /// delivery per endpoint. A store whose records become durable only
    /// later anyway (the embedded store flushes them every few tens of
    /// milliseconds; a crash repeats those regardless) allows more.
    fn records_ahead(&self) -> usize {
        1
    }
    /// Several instances share this store (its leases and buckets are
    /// remote calls); false for a store of one process, whose `claim`,
    /// `release` and `take_tokens` answer from memory without blocking.
    fn is_shared(&self) -> bool {
        self.scan_interval().is_some()
    }
    /// Endpoints with queued work that no instance holds (e.g. their owner
    /// died); also finishes ingestions interrupted half-way. Shared backends only.
    async fn unowned_work(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    /// Calls `wake` with endpoint ids whenever any instance queues work for
    /// them, and `changed` whenever any instance announces a change to
    /// endpoints or provider settings ([`Backend::announce_change`]).
    /// Shared backends only: one process knows both itself.
    fn subscribe(
        &self,
        _wake: Box<dyn Fn(Vec<String>) + Send + Sync>,
        _changed: Box<dyn Fn() + Send + Sync>,
    ) {
    }
    /// Tells every instance that endpoints or provider settings changed, so
    /// their endpoint actors read them again before the next attempt. Best
    /// effort (a lost announcement is caught at the next window read).
    async fn announce_change(&self) {}
}

/// [`Backend::admit_and_ingest`] in two steps: the tokens, then the events.
pub(super) async fn take_then_ingest<B: Backend + ?Sized>(
    backend: &B,
    budget: Option<Budget>,
    batch: Vec<NewEvent>,
    now_ms: u64,
) -> Result<Admission, StoreError> {
    let mut quota = None;
    if let Some(Budget { bucket, rate, n }) = budget {
        let taken = backend.take_tokens(&bucket, rate, n).await?;
        if taken.retry_after.is_some() {
            return Ok(Admission::OverBudget(taken));
        }
        quota = Some(taken);
    }
    let results = backend.ingest(batch, now_ms).await?;
    Ok(Admission::Stored(results, quota))
}

/// The distinct events of a work window's deliveries that `known` does
/// not have (what [`Backend::work_window`] reads).
pub(super) fn unknown_events(deliveries: &[Delivery], known: &KnownEvents<'_>) -> Vec<String> {
    let mut unknown: Vec<String> = deliveries
        .iter()
        .map(|d| d.event_id.clone())
        .filter(|id| !known(id))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    unknown
}

/// Each delivery with its event among `read` (`None` when not read: known
/// to the caller, or gone). An event queued twice (a replay) fills both.
pub(super) fn with_events(
    deliveries: Vec<Delivery>,
    read: Vec<Event>,
) -> Vec<(Delivery, Option<Event>)> {
    let read: std::collections::HashMap<String, Event> =
        read.into_iter().map(|e| (e.id.clone(), e)).collect();
    deliveries
        .into_iter()
        .map(|d| {
            let event = read.get(&d.event_id).cloned();
            (d, event)
        })
        .collect()
}
