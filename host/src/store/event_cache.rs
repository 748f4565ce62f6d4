//! Recently ingested events kept in memory for the endpoint actors' work
//! windows, so an event is not read and decompressed again per delivery:
//! one event fanned out to 100 endpoints was 100 reads of the same record
//! (on Redis, 100 `GET`s of it: issue #13).
//!
//! An event never changes once stored, so a cached one is never stale.
//! Only work windows read from here: they read events of queued
//! deliveries, which exist as long as those deliveries do. The event log's
//! lookups read the store (a deleted event answers `404` there at once).
//!
//! Bounded by count and by payload bytes; the oldest entry goes first.

use super::Event;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Most events kept.
const MAX_EVENTS: usize = 8192;
/// Most payload bytes kept.
const MAX_BYTES: usize = 8 << 20;

/// The cache; cheap to share (`Arc` inside).
#[derive(Clone, Default)]
pub(super) struct EventCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Arc<Event>>,
    /// Insertion order, oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

impl EventCache {
    /// Keeps `event` (an event just stored). An event larger than the whole
    /// budget is not kept.
    pub(super) fn insert(&self, event: Event) {
        let size = event.payload.len();
        if size > MAX_BYTES {
            return;
        }
        let mut inner = self.lock();
        if inner.by_id.contains_key(&event.id) {
            return;
        }
        while inner.order.len() >= MAX_EVENTS || inner.bytes + size > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.by_id.remove(&oldest) {
                inner.bytes -= gone.payload.len();
            }
        }
        inner.bytes += size;
        inner.order.push_back(event.id.clone());
        inner.by_id.insert(event.id.clone(), Arc::new(event));
    }

    /// The event `id`, if kept.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Event>> {
        self.lock().by_id.get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, bytes: usize) -> Event {
        Event {
            id: id.into(),
            project_id: "p".into(),
            event_type: "t".into(),
            resource: None,
            resource_id: None,
            payload: vec![b'x'; bytes],
            time_created_ms: 1,
            source: None,
        }
    }

    #[test]
    fn keeps_events_until_the_budget_is_spent_oldest_out_first() {
        let cache = EventCache::default();
        cache.insert(event("a", 10));
        assert_eq!(cache.get("a").map(|e| e.payload.len()), Some(10));
        assert!(cache.get("b").is_none());
        // Filling the byte budget pushes the oldest out.
        cache.insert(event("big1", MAX_BYTES / 2));
        cache.insert(event("big2", MAX_BYTES / 2));
        assert!(cache.get("a").is_none(), "the oldest went first");
        assert!(cache.get("big1").is_some() && cache.get("big2").is_some());
        cache.insert(event("c", 1));
        assert!(cache.get("big1").is_none());
        assert!(cache.get("c").is_some());
        // Too large for the whole budget: not kept, nothing pushed out.
        cache.insert(event("huge", MAX_BYTES + 1));
        assert!(cache.get("huge").is_none() && cache.get("big2").is_some());
        // The count bound.
        for i in 0..MAX_EVENTS + 5 {
            cache.insert(event(&format!("n{i}"), 1));
        }
        let inner = cache.lock();
        assert_eq!(inner.by_id.len(), MAX_EVENTS);
        assert_eq!(inner.order.len(), MAX_EVENTS);
        assert_eq!(inner.bytes, MAX_EVENTS);
    }
}
