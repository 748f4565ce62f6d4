//! The event log: a project's events, newest first, filtered, with what
//! happened to each (its deliveries and their attempts).
//!
//! Both backends keep two indexes for it, written with the event: the
//! project's event ids (ids sort by creation time, so a time range is an
//! id range) and each event's deliveries, replays included. A page reads
//! ids in batches and filters the records; a page stops after
//! [`MAX_SCANNED`] events even when it holds fewer matches than asked, and
//! its cursor then says where to continue (a rare filter never makes one
//! request scan the whole log).

use super::{Attempt, Backend, Delivery, DeliveryStatus, Event, Store, StoreError};
use crate::signing::id_bound;

/// Most events one page looks at.
pub const MAX_SCANNED: usize = 5_000;
/// Event ids read per round.
const BATCH: usize = 200;

/// Where an event's deliveries stand, as one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Some delivery was given up.
    Failed,
    /// None failed; some are still queued.
    Pending,
    /// Every delivery succeeded.
    Succeeded,
    /// No endpoint subscribed: nothing was sent.
    Unrouted,
}

impl EventStatus {
    /// The status of an event with these deliveries.
    pub fn of(deliveries: &[Delivery]) -> Self {
        let any = |status| deliveries.iter().any(|d| d.status == status);
        if deliveries.is_empty() {
            Self::Unrouted
        } else if any(DeliveryStatus::Failed) {
            Self::Failed
        } else if any(DeliveryStatus::Pending) {
            Self::Pending
        } else {
            Self::Succeeded
        }
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Unrouted => "unrouted",
        }
    }

    /// From the API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Failed, Self::Pending, Self::Succeeded, Self::Unrouted]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Which event types match: one type, or every type under a prefix
/// (`order.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeMatch {
    /// Exactly this type.
    Exact(String),
    /// Types starting with this prefix and a dot.
    Prefix(String),
}

impl TypeMatch {
    /// `order.*` → prefix `order`; anything else is exact.
    pub fn parse(pattern: &str) -> Self {
        match pattern.strip_suffix(".*") {
            Some(prefix) => Self::Prefix(prefix.to_string()),
            None => Self::Exact(pattern.to_string()),
        }
    }

    fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Exact(exact) => event_type == exact,
            Self::Prefix(prefix) => event_type
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events of these types.
    pub event_type: Option<TypeMatch>,
    /// Only events about this resource kind.
    pub resource: Option<String>,
    /// Only events about this resource.
    pub resource_id: Option<String>,
    /// Created at or after (Unix ms).
    pub since_ms: Option<u64>,
    /// Created at or before (Unix ms).
    pub until_ms: Option<u64>,
    /// Only events whose deliveries stand so.
    pub status: Option<EventStatus>,
    /// Continue after this event id (the previous page's cursor).
    pub cursor: Option<String>,
    /// Page size.
    pub limit: usize,
}

impl EventQuery {
    fn keeps(&self, event: &Event) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|t| t.matches(&event.event_type))
            && self
                .resource
                .as_ref()
                .is_none_or(|r| event.resource.as_ref() == Some(r))
            && self
                .resource_id
                .as_ref()
                .is_none_or(|r| event.resource_id.as_ref() == Some(r))
    }

    /// The lowest id to read (`since`).
    fn lowest_id(&self) -> Option<String> {
        self.since_ms.map(|ms| id_bound("evt_", ms))
    }

    /// The id to read below: the cursor, or just past `until`.
    fn below_id(&self) -> Option<String> {
        let until = self
            .until_ms
            .map(|ms| id_bound("evt_", ms.saturating_add(1)));
        match (self.cursor.clone(), until) {
            (Some(cursor), Some(until)) => Some(cursor.min(until)),
            (cursor, until) => cursor.or(until),
        }
    }
}

/// An event with its deliveries.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    /// The event.
    pub event: Event,
    /// Its deliveries, oldest first.
    pub deliveries: Vec<Delivery>,
}

impl LoggedEvent {
    /// Where its deliveries stand.
    pub fn status(&self) -> EventStatus {
        EventStatus::of(&self.deliveries)
    }

    /// Made by a test send (`POST …/webhooks/{id}/test`): its first
    /// delivery is the test's (a replay of it later is a real delivery).
    pub fn is_test(&self) -> bool {
        self.deliveries.first().is_some_and(|d| d.test)
    }
}

/// One page of the log.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// Matching events, newest first.
    pub events: Vec<LoggedEvent>,
    /// Pass as the next query's `cursor`; `None` at the end of the log.
    pub next_cursor: Option<String>,
}

impl Store {
    /// A page of the project's events (see the module doc).
    pub async fn events_of(
        &self,
        project_id: &str,
        query: EventQuery,
    ) -> Result<EventPage, StoreError> {
        page(self.backend.as_ref(), project_id, &query).await
    }

    /// One of the project's events with its deliveries and their attempts;
    /// `None` when it does not exist (or belongs to another project).
    pub async fn logged_event(
        &self,
        project_id: &str,
        event_id: &str,
    ) -> Result<Option<(LoggedEvent, Vec<Vec<Attempt>>)>, StoreError> {
        let b = self.backend.as_ref();
        let found = b.event(event_id).await?;
        let Some(event) = found.filter(|e| e.project_id == project_id) else {
            return Ok(None);
        };
        let deliveries = b
            .deliveries_of_events(&[event_id])
            .await?
            .pop()
            .unwrap_or_default();
        let mut attempts = Vec::with_capacity(deliveries.len());
        for delivery in &deliveries {
            attempts.push(b.attempts_of(&delivery.endpoint_id, &delivery.id).await?);
        }
        Ok(Some((LoggedEvent { event, deliveries }, attempts)))
    }
}

/// Reads ids in batches below the cursor, keeps the matching events.
async fn page(
    b: &dyn Backend,
    project_id: &str,
    query: &EventQuery,
) -> Result<EventPage, StoreError> {
    let from = query.lowest_id();
    let mut below = query.below_id();
    let mut found = Vec::new();
    let mut scanned = 0;
    loop {
        let batch = BATCH.min(MAX_SCANNED - scanned);
        let ids = b
            .project_events(project_id, below.as_deref(), from.as_deref(), batch)
            .await?;
        let exhausted = ids.len() < batch;
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let events = b.events(&id_refs).await?;
        let wanted: Vec<Event> = events
            .into_iter()
            .flatten()
            .filter(|e| query.keeps(e))
            .collect();
        let wanted_ids: Vec<&str> = wanted.iter().map(|e| e.id.as_str()).collect();
        let deliveries = b.deliveries_of_events(&wanted_ids).await?;
        for (event, deliveries) in wanted.into_iter().zip(deliveries) {
            let logged = LoggedEvent { event, deliveries };
            if query.status.is_none_or(|s| logged.status() == s) {
                found.push(logged);
            }
        }
        scanned += ids.len();
        below = ids.last().cloned().or(below);
        if found.len() >= query.limit {
            found.truncate(query.limit);
            let next_cursor = found.last().map(|l| l.event.id.clone());
            return Ok(EventPage {
                events: found,
                next_cursor,
            });
        }
        if exhausted {
            return Ok(EventPage {
                events: found,
                next_cursor: None,
            });
        }
        if scanned >= MAX_SCANNED {
            return Ok(EventPage {
                events: found,
                next_cursor: below,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_patterns_match_whole_segments() {
        let prefix = TypeMatch::parse("order.*");
        assert!(prefix.matches("order.paid"));
        assert!(prefix.matches("order.item.added"));
        assert!(!prefix.matches("orders.paid"));
        assert!(!prefix.matches("order"));
        assert!(TypeMatch::parse("order.paid").matches("order.paid"));
        assert!(!TypeMatch::parse("order.paid").matches("order.paid.late"));
    }

    #[test]
    fn time_bounds_become_id_bounds() {
        let query = EventQuery {
            since_ms: Some(0x10),
            until_ms: Some(0x20),
            cursor: Some("evt_000000000018abc".into()),
            ..EventQuery::default()
        };
        assert_eq!(query.lowest_id().as_deref(), Some("evt_000000000010"));
        assert_eq!(query.below_id().as_deref(), Some("evt_000000000018abc"));
        let query = EventQuery {
            until_ms: Some(0x20),
            ..EventQuery::default()
        };
        assert_eq!(query.below_id().as_deref(), Some("evt_000000000021"));
    }
}
