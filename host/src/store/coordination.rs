//! What several instances of hookmesh must agree on: which instance
//! delivers an endpoint (leases with fencing), rate-limit token buckets,
//! wake-ups for new work and work nobody delivers. On a store of one
//! process these answer from memory at once.

use super::{Bucket, Quota, Rate, Store, StoreError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl Store {
    /// Takes `n` tokens from a rate-limit bucket, or says how long to wait.
    pub async fn take_tokens(
        &self,
        bucket: Bucket,
        rate: Rate,
        n: u32,
    ) -> Result<Result<(), Duration>, StoreError> {
        Ok(self.backend.take_tokens(&bucket, rate, n).await?.result())
    }

    /// Takes `n` tokens from a rate-limit bucket; the answer has the
    /// numbers of the `X-RateLimit-*` headers, and the wait when refused.
    pub async fn take_quota(
        &self,
        bucket: Bucket,
        rate: Rate,
        n: u32,
    ) -> Result<Quota, StoreError> {
        self.backend.take_tokens(&bucket, rate, n).await
    }

    /// Takes (or keeps) this instance's lease on an endpoint's queue: only
    /// its holder delivers it, so order holds across instances. False when
    /// another instance holds it. Answers from memory while the lease is
    /// fresh, and always yes on a store of one process.
    pub async fn claim(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        if self.backend.holds_fresh_lease(endpoint_id) {
            return Ok(true);
        }
        self.backend.claim(endpoint_id).await
    }

    /// Gives the endpoint's lease up when its queue is empty; false (lease
    /// kept) when work is queued, so the caller goes on delivering.
    pub async fn release(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        self.backend.release(endpoint_id).await
    }

    /// Gives up every lease this instance holds (at shutdown, after the
    /// attempts in flight are recorded).
    pub async fn release_all(&self) -> Result<(), StoreError> {
        self.backend.release_all().await
    }

    /// Endpoints with queued work that no instance holds; also finishes
    /// ingestions interrupted half-way. Empty on a store of one process.
    pub async fn unowned_work(&self) -> Result<Vec<String>, StoreError> {
        self.backend.unowned_work().await
    }

    /// How often to look for unowned work; `None` on a store of one
    /// process (nothing is ever unowned).
    pub fn scan_interval(&self) -> Option<Duration> {
        self.backend.scan_interval()
    }

    /// See [`crate::store::Backend::records_ahead`].
    pub fn records_ahead(&self) -> usize {
        self.backend.records_ahead().max(1)
    }

    /// How long an endpoint actor keeps its lease after its queue emptied
    /// before giving it up (zero on a store of one process: there is no
    /// lease to keep).
    pub fn lease_linger(&self) -> Duration {
        self.scan_interval().unwrap_or_default()
    }

    /// Calls `wake` with endpoint ids whenever another instance queues
    /// work for them (shared stores; one process wakes its own endpoints);
    /// a change to endpoints announced by another instance moves
    /// [`Store::catalogue_generation`].
    pub fn subscribe(&self, wake: Box<dyn Fn(Vec<String>) + Send + Sync>) {
        // The generation alone: the backend's listener must not keep the
        // backend itself alive.
        let generation = Arc::clone(&self.generation);
        let changed = move || {
            generation.fetch_add(1, Ordering::AcqRel);
        };
        self.backend.subscribe(wake, Box::new(changed));
    }
}
