//! The blocking form of [`Backend`] for a store of this process (the
//! embedded store): its calls are plain function calls that may block on a
//! commit. [`InProcess`] adapts it to the async [`Backend`]: reads answer
//! in place (microseconds from cached pages, less than a hand-off to
//! another thread), writes that block run on the blocking pool, and
//! ingestion and attempt records use the store's own async commit.

use super::backend::{unknown_events, with_events, KnownEvents};
use super::types::*;
use super::{blocking, Backend, Bucket, Quota, Rate};
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A write on its way to the store; resolves once committed.
pub type Committing<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// The operations of [`Backend`] as blocking calls (they may fsync), for a
/// store of this process; see [`InProcess`].
pub trait BlockingBackend: Send + Sync + 'static {
    /// Inserts or replaces a project.
    fn put_project(&self, project: &Project) -> Result<(), StoreError>;
    /// A project by id.
    fn project(&self, id: &str) -> Result<Option<Project>, StoreError>;
    /// Applies `change` to the project as stored now, atomically (a change
    /// made meanwhile is kept, never overwritten with an older copy).
    /// `None` when the project does not exist.
    fn update_project(
        &self,
        id: &str,
        change: ProjectChange,
    ) -> Result<Option<Project>, StoreError>;
    /// Every project.
    fn projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Removes a project with everything it owns (see [`Backend::delete_project`]).
    fn delete_project(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores an API key record (by the hash of the key).
    fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// The key whose hash is `hash`.
    fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// [`BlockingBackend::api_key`] and [`BlockingBackend::project`] together (one round trip
    /// where the backend is remote).
    fn api_key_and_project(
        &self,
        hash: &str,
        project_id: &str,
    ) -> Result<(Option<ApiKey>, Option<Project>), StoreError> {
        Ok((self.api_key(hash)?, self.project(project_id)?))
    }
    /// The project's keys, each with its last use.
    fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    /// Removes `key` (revocation); false when it was already gone.
    fn delete_api_key(&self, key: &ApiKey) -> Result<bool, StoreError>;
    /// Applies `change` to `key` as stored now, if it still exists; false
    /// when it is gone.
    fn update_api_key(
        &self,
        key: &ApiKey,
        change: &(dyn Fn(&mut ApiKey) + Send + Sync),
    ) -> Result<bool, StoreError>;

    /// Inserts or replaces an endpoint.
    fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// Applies `change` to the endpoint as stored now, atomically: a
    /// change made meanwhile by anyone else is kept, never overwritten
    /// with an older copy. `None` when the endpoint does not exist.
    fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<Option<Endpoint>, StoreError>;
    /// An endpoint by id.
    fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// The endpoints of a project, oldest first.
    fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError>;
    /// The project's endpoint-change version: it moves (after the write is
    /// visible) whenever one of the project's endpoints is created,
    /// changed or removed, so anything compiled from
    /// [`BlockingBackend::endpoints_of`] at one version is current while the
    /// version is unchanged.
    fn routes_version(&self, project_id: &str) -> Result<u64, StoreError>;
    /// Removes an endpoint and its queue (its history stays readable by
    /// delivery id). False when it did not exist.
    fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError>;

    /// Ids of a project's events, newest first: below `before` and not
    /// below `from` where given (event ids sort by creation time), at most
    /// `limit`. Ids of events past retention may still be listed; their
    /// records are gone.
    fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Each event's deliveries (replays included), oldest first: one list
    /// per id, in order.
    fn deliveries_of_events(&self, event_ids: &[&str]) -> Result<Vec<Vec<Delivery>>, StoreError>;

    /// Stores events with their deliveries and queue entries atomically.
    /// An item whose idempotency key was already used answers the stored
    /// event instead of storing a new one.
    fn ingest(&self, batch: Vec<NewEvent>, now_ms: u64) -> Result<Vec<Ingested>, StoreError>;
    /// [`BlockingBackend::ingest`] for async callers: the embedded store hands it to
    /// its writer thread and holds no thread while it commits; by default
    /// it runs on the blocking pool.
    fn ingest_async(
        self: Arc<Self>,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Committing<Vec<Ingested>> {
        Box::pin(blocking(move || self.ingest(batch, now_ms)))
    }
    /// An event by id.
    fn event(&self, id: &str) -> Result<Option<Event>, StoreError>;
    /// Several events by id, in the same order (one round trip where the
    /// backend is remote).
    fn events(&self, ids: &[&str]) -> Result<Vec<Option<Event>>, StoreError> {
        ids.iter().map(|id| self.event(id)).collect()
    }

    /// The oldest queued delivery of an endpoint.
    fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError>;
    /// Up to `limit` oldest queued deliveries of an endpoint.
    fn queue_peek(&self, endpoint_id: &str, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// The endpoint, its provider settings and up to `limit` oldest queued
    /// deliveries with their events (two round trips where the backend is
    /// remote). `None` when the endpoint does not exist.
    fn work_window(
        &self,
        endpoint_id: &str,
        limit: usize,
        known: &KnownEvents<'_>,
    ) -> Result<Option<WorkWindow>, StoreError> {
        let Some(endpoint) = self.endpoint(endpoint_id)? else {
            return Ok(None);
        };
        let provider_settings = self.provider_settings(&endpoint.project_id, &endpoint.provider)?;
        let deliveries = self.queue_peek(endpoint_id, limit)?;
        let unknown = unknown_events(&deliveries, known);
        let unknown: Vec<&str> = unknown.iter().map(String::as_str).collect();
        let read = self.events(&unknown)?.into_iter().flatten().collect();
        Ok(Some(WorkWindow {
            endpoint,
            provider_settings,
            queued: with_events(deliveries, read),
        }))
    }
    /// Endpoints with at least one queued delivery.
    fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError>;
    /// Records an attempt and applies its consequence to the delivery and
    /// the queue, atomically.
    fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: &Attempt,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError>;
    /// [`BlockingBackend::record_attempt`] for async callers (see [`BlockingBackend::ingest_async`]).
    fn record_attempt_async(
        self: Arc<Self>,
        endpoint_id: String,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Committing<Delivery> {
        Box::pin(blocking(move || {
            self.record_attempt(&endpoint_id, &attempt, change)
        }))
    }
    /// See [`super::Backend::record_test`].
    fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError>;
    /// Queues a new delivery of an existing event to an endpoint (replay).
    fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError>;

    /// A delivery of an endpoint by id.
    fn delivery(&self, endpoint_id: &str, id: &str) -> Result<Option<Delivery>, StoreError>;
    /// An endpoint's deliveries, newest first, `limit` per page.
    fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError>;
    /// A delivery's attempts, oldest first.
    fn attempts_of(&self, endpoint_id: &str, delivery_id: &str)
        -> Result<Vec<Attempt>, StoreError>;

    /// The queue of every endpoint with work, with its class, for metrics.
    fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError>;

    /// An endpoint's attempt statistics per stored period, oldest first,
    /// from the period holding `since_ms` on.
    fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError>;

    /// Makes every committed change durable now (used at shutdown).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stores a project's settings for one provider.
    fn put_provider_settings(&self, settings: &ProviderSettings) -> Result<(), StoreError>;
    /// A project's settings for `provider`.
    fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError>;

    /// Every provider or named instance configured for the project, by name.
    fn provider_settings_of(&self, project_id: &str) -> Result<Vec<ProviderSettings>, StoreError>;
    /// Removes a project's settings for `provider`; false when there were none.
    fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError>;

    /// Takes `n` tokens from a rate-limit bucket, or says how long to wait
    /// (see [`Backend::take_tokens`]).
    fn take_tokens(&self, bucket: &Bucket, rate: Rate, n: u32) -> Result<Quota, StoreError>;

    /// How many attempt outcomes an endpoint may have unrecorded while its
    /// next delivery goes out. 1 (the default): none — the next attempt
    /// waits for the previous record, so a store outage repeats at most one
    /// delivery per endpoint. A store whose records become durable only
    /// later anyway (the embedded store flushes them every few tens of
    /// milliseconds; a crash repeats those regardless) allows more.
    fn records_ahead(&self) -> usize {
        1
    }
}

/// A [`BlockingBackend`] as a [`Backend`]: see the module doc.
pub struct InProcess<B>(Arc<B>);

impl<B: BlockingBackend> InProcess<B> {
    /// Adapts `backend`.
    pub fn new(backend: B) -> Self {
        Self(Arc::new(backend))
    }

    /// The blocking store, for tools that run outside the async executor.
    pub fn blocking(&self) -> &B {
        &self.0
    }

    /// Runs a call that may block (a commit) on the blocking pool.
    async fn offload<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&B) -> Result<T, StoreError> + Send + 'static,
    {
        let backend = Arc::clone(&self.0);
        blocking(move || call(&backend)).await
    }
}

#[async_trait]
impl<B: BlockingBackend> Backend for InProcess<B> {
    async fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let project = project.clone();
        self.offload(move |b| b.put_project(&project)).await
    }
    async fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.0.project(id)
    }
    async fn update_project(
        &self,
        id: &str,
        change: ProjectChange,
    ) -> Result<Option<Project>, StoreError> {
        let id = id.to_string();
        self.offload(move |b| b.update_project(&id, change)).await
    }
    async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.0.projects()
    }
    async fn delete_project(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.offload(move |b| b.delete_project(&id)).await
    }
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.offload(move |b| b.put_api_key(&key)).await
    }
    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.0.api_key(hash)
    }
    async fn api_key_and_project(
        &self,
        hash: &str,
        project_id: &str,
    ) -> Result<(Option<ApiKey>, Option<Project>), StoreError> {
        self.0.api_key_and_project(hash, project_id)
    }
    async fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        self.0.api_keys_of(project_id)
    }
    async fn delete_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let key = key.clone();
        self.offload(move |b| b.delete_api_key(&key)).await
    }
    async fn expire_api_key(&self, key: &ApiKey, expires_ms: u64) -> Result<bool, StoreError> {
        let key = key.clone();
        self.offload(move |b| b.update_api_key(&key, &|k| k.expires_ms = Some(expires_ms)))
            .await
    }
    async fn touch_api_key(&self, key: &ApiKey, now_ms: u64) -> Result<(), StoreError> {
        let key = key.clone();
        let touch = move |k: &mut ApiKey| k.last_used_ms = Some(now_ms);
        self.offload(move |b| b.update_api_key(&key, &touch).map(drop))
            .await
    }
    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let endpoint = endpoint.clone();
        self.offload(move |b| b.put_endpoint(&endpoint)).await
    }
    async fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<Option<Endpoint>, StoreError> {
        let id = id.to_string();
        self.offload(move |b| b.update_endpoint(&id, change)).await
    }
    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.0.endpoint(id)
    }
    async fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.0.endpoints_of(project_id)
    }
    async fn routes_version(&self, project_id: &str) -> Result<u64, StoreError> {
        self.0.routes_version(project_id)
    }
    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.offload(move |b| b.delete_endpoint(&id)).await
    }
    async fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.0.project_events(project_id, before, from, limit)
    }
    async fn deliveries_of_events(
        &self,
        event_ids: &[&str],
    ) -> Result<Vec<Vec<Delivery>>, StoreError> {
        self.0.deliveries_of_events(event_ids)
    }
    async fn ingest(&self, batch: Vec<NewEvent>, now_ms: u64) -> Result<Vec<Ingested>, StoreError> {
        Arc::clone(&self.0).ingest_async(batch, now_ms).await
    }
    async fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.0.event(id)
    }
    async fn events(&self, ids: &[&str]) -> Result<Vec<Option<Event>>, StoreError> {
        self.0.events(ids)
    }
    async fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError> {
        self.0.queue_head(endpoint_id)
    }
    async fn queue_peek(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.0.queue_peek(endpoint_id, limit)
    }
    async fn work_window(
        &self,
        endpoint_id: &str,
        limit: usize,
        known: &KnownEvents<'_>,
    ) -> Result<Option<WorkWindow>, StoreError> {
        self.0.work_window(endpoint_id, limit, known)
    }
    async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        self.0.endpoints_with_work()
    }
    async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        Arc::clone(&self.0)
            .record_attempt_async(endpoint_id.to_string(), attempt, change)
            .await
    }
    async fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError> {
        let test = test.clone();
        self.offload(move |b| b.record_test(&test)).await
    }
    async fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        let ids = (
            event_id.to_string(),
            endpoint_id.to_string(),
            delivery_id.to_string(),
        );
        self.offload(move |b| b.requeue(&ids.0, &ids.1, &ids.2, now_ms))
            .await
    }
    async fn delivery(&self, endpoint_id: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
        self.0.delivery(endpoint_id, id)
    }
    async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        self.0.deliveries_of(endpoint_id, query)
    }
    async fn attempts_of(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        self.0.attempts_of(endpoint_id, delivery_id)
    }
    async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        self.0.queue_stats()
    }
    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError> {
        self.0.endpoint_stats(endpoint_id, since_ms)
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.offload(|b| b.flush()).await
    }
    async fn put_provider_settings(&self, settings: &ProviderSettings) -> Result<(), StoreError> {
        let settings = settings.clone();
        self.offload(move |b| b.put_provider_settings(&settings))
            .await
    }
    async fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        self.0.provider_settings(project_id, provider)
    }
    async fn provider_settings_of(
        &self,
        project_id: &str,
    ) -> Result<Vec<ProviderSettings>, StoreError> {
        self.0.provider_settings_of(project_id)
    }
    async fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        let (project_id, provider) = (project_id.to_string(), provider.to_string());
        self.offload(move |b| b.delete_provider_settings(&project_id, &provider))
            .await
    }
    async fn take_tokens(&self, bucket: &Bucket, rate: Rate, n: u32) -> Result<Quota, StoreError> {
        self.0.take_tokens(bucket, rate, n)
    }
    fn records_ahead(&self) -> usize {
        self.0.records_ahead()
    }
}
