//! Durable state behind one async interface, [`Store`], so the embedded
//! backend (redb, one file, the default) and the Redis backend are
//! interchangeable and held to the same tests. Callers never know which
//! backend answers: every [`Backend`] call is awaited. The Redis backend's
//! round trips hold no thread; the embedded store's blocking calls are
//! adapted by [`InProcess`] (reads in place, blocking writes off the
//! executor).
//!
//! The interface is split by concern:
//! - [`catalogue`]: projects, API keys, endpoints, provider settings;
//! - [`deliveries`]: ingestion, work windows, attempts, replay, history, stats;
//! - [`coordination`]: leases, token buckets, wake-ups and unowned work
//!   (trivial on a store of one process);
//! - [`event_log`]: a project's events, filtered and paged, with their
//!   deliveries and attempts.
//!
//! What is stored: projects and hashed API keys; endpoints with their
//! secrets sealed by the master key; events; deliveries (one per event ×
//! endpoint) with their attempts; a FIFO queue per endpoint ordered by a
//! global ingestion sequence; idempotency keys.
//!
//! Every call that changes more than one record does so in one atomic
//! transaction: an event is never stored without its deliveries, an attempt
//! never recorded without the delivery's new state. (The Redis backend
//! makes each endpoint's change atomic and completes an event's fan-out
//! from an intent record; see [`redis`].)
//!
//! Shared backends also own what several instances must agree on: which
//! instance delivers an endpoint (a lease, [`Store::claim`]), where new work
//! is announced ([`Store::subscribe`]), and the token buckets of rate limits
//! ([`Store::take_tokens`], [`Store::take_quota`]).

mod backend;
mod blocking;
pub mod catalogue;
mod codec;
mod compact;
pub mod coordination;
pub mod deliveries;
pub mod embedded;
mod event_cache;
pub mod event_log;
pub mod redis;
mod types;

pub use backend::Backend;
pub use blocking::{BlockingBackend, Committing, InProcess};
pub use deliveries::{Admission, Budget};
pub use event_log::{EventPage, EventQuery, EventStatus, LoggedEvent, TypeMatch};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
pub use types::*;

/// The store as the rest of hookmesh sees it: async calls, cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// See [`Store::catalogue_generation`].
    generation: Arc<AtomicU64>,
    /// Events just ingested, for the work windows.
    recent_events: event_cache::EventCache,
}

impl Store {
    /// Wraps an open backend.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            generation: Arc::new(AtomicU64::new(0)),
            recent_events: event_cache::EventCache::default(),
        }
    }

    /// The backend, for start-up code that writes the declared config.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The embedded store at `store`'s place (see [`InProcess`]).
    pub fn in_process(store: impl BlockingBackend) -> Self {
        Self::new(Arc::new(InProcess::new(store)))
    }
}

/// A rate-limit bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// A project's ingestion.
    Ingest(String),
    /// Deliveries to an endpoint.
    Endpoint(String),
    /// Management requests of one caller: `admin`, or the SHA-256 (hex)
    /// of the key presented.
    Management(String),
}

pub use crate::ratelimit::{Quota, Rate};

/// Runs a blocking backend call off the async executor.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}
