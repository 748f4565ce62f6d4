//! What delivery owns: ingestion, the work window an endpoint actor
//! reads, attempt records, replay, the delivery history and statistics.

use super::{
    Attempt, Delivery, DeliveryChange, DeliveryQuery, DeliveryStatus, Ingested, NewEvent, Page,
    QueueSample, StatsPeriod, TestRecord, WorkWindow,
};
use super::{Bucket, Event, Quota, Rate, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

/// Failed deliveries read per page by [`Store::requeue_failed`].
const REQUEUE_PAGE: usize = 250;

/// What [`Store::admit_and_ingest`] did.
#[derive(Debug)]
pub enum Admission {
    /// Stored: the store's answer per event, and the budget's bucket
    /// after it (when there was a budget).
    Stored(Vec<Ingested>, Option<Quota>),
    /// Over the budget: nothing stored; its `retry_after` says when to
    /// come back.
    OverBudget(Quota),
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

impl Store {
    /// Takes the budget (if any) and stores the events atomically;
    /// nothing is stored when the budget is spent.
    pub async fn admit_and_ingest(
        &self,
        budget: Option<Budget>,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Admission, StoreError> {
        // Kept for the work windows once stored (see `event_cache`).
        let fanned_out: Vec<Event> = batch
            .iter()
            .filter(|item| !item.deliveries.is_empty())
            .map(|item| item.event.clone())
            .collect();
        let admission = self.backend.admit_and_ingest(budget, batch, now_ms).await?;
        if let Admission::Stored(results, _) = &admission {
            let stored: HashSet<&str> = results
                .iter()
                .filter_map(|r| match r {
                    Ingested::Stored { event_id, .. } => Some(event_id.as_str()),
                    Ingested::Duplicate { .. } => None,
                })
                .collect();
            for event in fanned_out {
                if stored.contains(event.id.as_str()) {
                    self.recent_events.insert(event);
                }
            }
        }
        Ok(admission)
    }

    /// The project's endpoint-change version (see
    /// [`crate::store::Backend::routes_version`]).
    pub async fn routes_version(&self, project_id: &str) -> Result<u64, StoreError> {
        self.backend.routes_version(project_id).await
    }

    /// The oldest queued delivery of an endpoint.
    pub async fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError> {
        self.backend.queue_head(endpoint_id).await
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
        F: FnOnce(WorkWindow) -> T,
    {
        // The events this instance has in memory are taken from there
        // (the snapshot holds them while the backend reads the others).
        let kept = Mutex::new(HashMap::new());
        let known = |id: &str| match self.recent_events.get(id) {
            Some(event) => {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_string(), event);
                true
            }
            None => false,
        };
        let Some(mut window) = self.backend.work_window(endpoint_id, limit, &known).await? else {
            return Ok(None);
        };
        let kept = kept.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (delivery, event) in &mut window.queued {
            if event.is_none() {
                *event = kept.get(&delivery.event_id).map(|e| Event::clone(e));
            }
        }
        Ok(Some(then(window)))
    }

    /// Endpoints with at least one queued delivery.
    pub async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        self.backend.endpoints_with_work().await
    }

    /// Records an attempt and applies its consequence to the delivery and
    /// the queue, atomically.
    pub async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        self.backend
            .record_attempt(endpoint_id, attempt, change)
            .await
    }

    /// Stores a finished test send in the delivery and event logs (see
    /// [`super::Backend::record_test`]).
    pub async fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError> {
        self.backend.record_test(test).await
    }

    /// Queues a new delivery of an existing event to an endpoint (replay).
    pub async fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        self.backend
            .requeue(event_id, endpoint_id, delivery_id, now_ms)
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
        let mut failed = Vec::new();
        let mut cursor = None;
        loop {
            let query = DeliveryQuery {
                status: Some(DeliveryStatus::Failed),
                since_ms: Some(since_ms),
                before_seq: cursor,
                limit: REQUEUE_PAGE,
            };
            let page = self.backend.deliveries_of(endpoint_id, &query).await?;
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
            self.backend
                .requeue(&delivery.event_id, endpoint_id, &id, now_ms)
                .await?;
        }
        Ok(failed.len())
    }

    /// A delivery of an endpoint by id, with its attempts (oldest first).
    pub async fn delivery(
        &self,
        endpoint_id: &str,
        id: &str,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError> {
        match self.backend.delivery(endpoint_id, id).await? {
            Some(delivery) => {
                let attempts = self.backend.attempts_of(endpoint_id, id).await?;
                Ok(Some((delivery, attempts)))
            }
            None => Ok(None),
        }
    }

    /// An endpoint's deliveries, newest first, each with its attempts.
    pub async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: DeliveryQuery,
    ) -> Result<(Page<Delivery>, Vec<Vec<Attempt>>), StoreError> {
        let page = self.backend.deliveries_of(endpoint_id, &query).await?;
        let mut attempts = Vec::with_capacity(page.items.len());
        for delivery in &page.items {
            attempts.push(self.backend.attempts_of(endpoint_id, &delivery.id).await?);
        }
        Ok((page, attempts))
    }

    /// The queue of every endpoint with work, with its class, for metrics.
    pub async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        self.backend.queue_stats().await
    }

    /// Several endpoints' attempt statistics per stored period, oldest
    /// first, from the period holding `since_ms` on.
    pub async fn endpoint_stats(
        &self,
        endpoint_ids: Vec<String>,
        since_ms: u64,
    ) -> Result<Vec<Vec<StatsPeriod>>, StoreError> {
        let mut stats = Vec::with_capacity(endpoint_ids.len());
        for id in &endpoint_ids {
            stats.push(self.backend.endpoint_stats(id, since_ms).await?);
        }
        Ok(stats)
    }

    /// Makes every committed change durable now (used at shutdown).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush().await
    }
}
