//! What delivery owns: ingestion, the work window an endpoint actor
//! reads, attempt records, replay, the delivery history and statistics.

use super::Endpoint;
use super::{
    Attempt, Delivery, DeliveryChange, DeliveryQuery, DeliveryStatus, Ingested, NewEvent, Page,
    QueueSample, StatsPeriod, WorkWindow,
};
use super::{Backend, Bucket, Rate, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Failed deliveries read per page by [`Store::requeue_failed`].
const REQUEUE_PAGE: usize = 250;

/// What [`Store::admit_and_ingest`] did.
#[derive(Debug)]
pub enum Admission<T> {
    /// Stored: the store's answer per event, and what the router returned.
    Stored(Vec<Ingested>, T),
    /// Over the budget: nothing stored; retry after this wait.
    OverBudget(Duration),
}

/// A ingestion budget: `n` tokens from `bucket` at `rate`.
#[derive(Debug, Clone)]
pub struct Budget {
    /// The bucket.
    pub bucket: Bucket,
    /// Its rate.
    pub rate: Rate,
    /// Tokens to take.
    pub n: u32,
}

/// What an ingestion's router reads, inside the ingestion's own hand-off:
/// the project's endpoint-change version and, when what it compiled from
/// them is older, the endpoints.
pub struct ProjectEndpoints<'a> {
    backend: &'a dyn Backend,
    project_id: &'a str,
}

impl ProjectEndpoints<'_> {
    /// See [`Backend::routes_version`].
    pub fn version(&self) -> Result<u64, StoreError> {
        self.backend.routes_version(self.project_id)
    }

    /// The project's endpoints, oldest first.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.backend.endpoints_of(self.project_id)
    }
}

/// Takes the budget's tokens; how long to wait when there are not enough.
fn over_budget(
    backend: &dyn Backend,
    budget: Option<&Budget>,
) -> Result<Option<Duration>, StoreError> {
    match budget {
        Some(Budget { bucket, rate, n }) => Ok(backend.take_tokens(bucket, *rate, *n)?.err()),
        None => Ok(None),
    }
}

impl Store {
    /// Takes the budget (if any), routes with `route` (which reads the
    /// project's endpoints it needs and returns the events to store and
    /// anything the caller needs back), and stores the events atomically.
    /// A store of this process does the first two in place and awaits its
    /// writer's commit; a shared store does all of it in one hand-off.
    pub async fn admit_and_ingest<T, R>(
        &self,
        budget: Option<Budget>,
        project_id: &str,
        now_ms: u64,
        route: R,
    ) -> Result<Admission<T>, StoreError>
    where
        T: Send + 'static,
        R: FnOnce(&ProjectEndpoints<'_>) -> Result<(Vec<NewEvent>, T), StoreError> + Send + 'static,
    {
        if self.local {
            let backend = self.backend.as_ref();
            if let Some(wait) = over_budget(backend, budget.as_ref())? {
                return Ok(Admission::OverBudget(wait));
            }
            let (batch, routed) = route(&ProjectEndpoints {
                backend,
                project_id,
            })?;
            let results = Arc::clone(&self.backend)
                .ingest_async(batch, now_ms)
                .await?;
            return Ok(Admission::Stored(results, routed));
        }
        let project_id = project_id.to_string();
        self.write(move |b| {
            if let Some(wait) = over_budget(b, budget.as_ref())? {
                return Ok(Admission::OverBudget(wait));
            }
            let (batch, routed) = route(&ProjectEndpoints {
                backend: b,
                project_id: &project_id,
            })?;
            Ok(Admission::Stored(b.ingest(batch, now_ms)?, routed))
        })
        .await
    }

    /// The oldest queued delivery of an endpoint.
    pub async fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError> {
        let id = endpoint_id.to_string();
        self.read(move |b| b.queue_head(&id)).await
    }

    /// The endpoint, its provider settings and up to `limit` oldest queued
    /// deliveries with their events, passed through `then` where they were
    /// read. `None` when the endpoint does not exist.
    pub async fn work_window<T, F>(
        &self,
        endpoint_id: &str,
        limit: usize,
        then: F,
    ) -> Result<Option<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(WorkWindow) -> T + Send + 'static,
    {
        let id = endpoint_id.to_string();
        self.read(move |b| Ok(b.work_window(&id, limit)?.map(then)))
            .await
    }

    /// Endpoints with at least one queued delivery.
    pub async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        self.read(|b| b.endpoints_with_work()).await
    }

    /// Records an attempt and applies its consequence to the delivery and
    /// the queue, atomically.
    pub async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: Attempt,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        Arc::clone(&self.backend)
            .record_attempt_async(endpoint_id.to_string(), attempt, change)
            .await
    }

    /// Queues a new delivery of an existing event to an endpoint (replay).
    pub async fn requeue(
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
        self.write(move |b| b.requeue(&ids.0, &ids.1, &ids.2, now_ms))
            .await
    }

    /// Queues a new delivery of each failed delivery of the endpoint
    /// created since `since_ms` (up to `max`, oldest first so they keep
    /// their order). Returns how many.
    pub async fn requeue_failed(
        &self,
        endpoint_id: &str,
        since_ms: u64,
        max: usize,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let endpoint_id = endpoint_id.to_string();
        self.write(move |b| {
            let mut failed = Vec::new();
            let mut cursor = None;
            loop {
                let page = b.deliveries_of(
                    &endpoint_id,
                    &DeliveryQuery {
                        status: Some(DeliveryStatus::Failed),
                        since_ms: Some(since_ms),
                        before_seq: cursor,
                        limit: REQUEUE_PAGE,
                    },
                )?;
                failed.extend(page.items);
                cursor = page.next_cursor;
                if cursor.is_none() || failed.len() >= max {
                    break;
                }
            }
            failed.sort_by_key(|d| d.seq);
            failed.truncate(max);
            for delivery in &failed {
                let id = crate::signing::new_id("dlv_");
                b.requeue(&delivery.event_id, &endpoint_id, &id, now_ms)?;
            }
            Ok(failed.len())
        })
        .await
    }

    /// A delivery of an endpoint by id, with its attempts (oldest first).
    pub async fn delivery(
        &self,
        endpoint_id: &str,
        id: &str,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError> {
        let (endpoint_id, id) = (endpoint_id.to_string(), id.to_string());
        self.read(move |b| match b.delivery(&endpoint_id, &id)? {
            Some(delivery) => Ok(Some((delivery, b.attempts_of(&endpoint_id, &id)?))),
            None => Ok(None),
        })
        .await
    }

    /// An endpoint's deliveries, newest first, each with its attempts.
    pub async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: DeliveryQuery,
    ) -> Result<(Page<Delivery>, Vec<Vec<Attempt>>), StoreError> {
        let id = endpoint_id.to_string();
        self.read(move |b| {
            let page = b.deliveries_of(&id, &query)?;
            let attempts = page
                .items
                .iter()
                .map(|d| b.attempts_of(&id, &d.id))
                .collect::<Result<_, _>>()?;
            Ok((page, attempts))
        })
        .await
    }

    /// The queue of every endpoint with work, with its class, for metrics.
    pub async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        self.write(|b| b.queue_stats()).await
    }

    /// Several endpoints' attempt statistics per stored period, oldest
    /// first, from the period holding `since_ms` on.
    pub async fn endpoint_stats(
        &self,
        endpoint_ids: Vec<String>,
        since_ms: u64,
    ) -> Result<Vec<Vec<StatsPeriod>>, StoreError> {
        self.write(move |b| {
            endpoint_ids
                .iter()
                .map(|id| b.endpoint_stats(id, since_ms))
                .collect()
        })
        .await
    }

    /// Makes every committed change durable now (used at shutdown).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write(|b| b.flush()).await
    }
}
