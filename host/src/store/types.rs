//! Records the store keeps, and the store's error type.

use super::codec::Record;
pub use crate::ratelimit::IngestLimit;
use crate::ratelimit::Rate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, connection, transaction).
    #[error("store backend: {0}")]
    Backend(String),
    /// A stored record could not be decoded.
    #[error("store record {key} is corrupt: {reason}")]
    Corrupt {
        /// Which record.
        key: String,
        /// Decoder message.
        reason: String,
    },
    /// This instance no longer holds the endpoint's lease: another instance
    /// delivers it now, and this attempt's record was refused (fencing).
    #[error("lease on endpoint `{0}` lost to another instance")]
    LeaseLost(String),
    /// The backend cannot be reached now (connection refused or lost, a
    /// server loading or failing over): retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A write kept conflicting with concurrent writes to the same record.
    #[error("conflicting writes: {0}")]
    Conflict(String),
    /// A record the operation needs does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
}

/// A tenant: an app sending events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// `proj_…` or a name from config.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Event types the app declared, each with an optional description and
    /// JSON Schema for its payload.
    pub custom_event_types: Vec<CustomEventType>,
    /// Refuse event types outside the catalogue (built-in, operational,
    /// custom); `false` (the default) accepts any well-formed type.
    pub strict_event_types: bool,
    /// Undeclared types this project has ingested (open projects), so the
    /// catalogue lists every type the app sends.
    pub seen_event_types: Vec<String>,
    /// Unix ms.
    pub created_ms: u64,
    /// Written from the config's `[[projects]]`: start-up deletes it (with
    /// everything it owns) once the config no longer declares it.
    pub declared: bool,
    /// Its own ingestion limit; `None`: the `[ingest]` default.
    pub ingest_limit: Option<IngestLimit>,
    /// How long its finished events, deliveries, attempts and statistics
    /// are kept; `None`: `storage.retention`.
    pub retention: Option<std::time::Duration>,
}

impl Project {
    /// A project as created: open event types, none declared or seen.
    pub fn new(id: String, name: String, created_ms: u64) -> Self {
        Self {
            id,
            name,
            custom_event_types: Vec::new(),
            strict_event_types: false,
            seen_event_types: Vec::new(),
            created_ms,
            declared: false,
            ingest_limit: None,
            retention: None,
        }
    }

    /// How long its finished records are kept: its own retention, else
    /// `default` (`storage.retention`).
    pub fn retention_or(&self, default: std::time::Duration) -> std::time::Duration {
        self.retention.unwrap_or(default)
    }

    /// The rate its events are admitted at: its own limit, else `default`.
    pub fn ingest_rate(&self, default: Rate) -> Rate {
        self.ingest_limit.map_or(default, IngestLimit::rate)
    }

    /// The declared type `name`, if any.
    pub fn custom_type(&self, name: &str) -> Option<&CustomEventType> {
        self.custom_event_types.iter().find(|t| t.name == name)
    }
}

/// An event type a project declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomEventType {
    /// e.g. `order.paid`.
    pub name: String,
    /// Free text for the catalogue.
    pub description: Option<String>,
    /// A JSON Schema (as JSON text) every payload of this type must meet.
    pub schema: Option<String>,
}

impl CustomEventType {
    /// A declared type with no description or schema.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            schema: None,
        }
    }
}

impl Record for Project {
    const FORMAT: u8 = 4;

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        /// Format 1: custom types as names only; every project was strict
        /// then, and is open now, like every new project.
        #[derive(Deserialize)]
        struct ProjectV1 {
            id: String,
            name: String,
            custom_event_types: Vec<String>,
            created_ms: u64,
        }
        /// Format 2: no `declared` (start-up marks the projects the config
        /// still declares) and no ingestion limit of its own (the default
        /// applies).
        #[derive(Deserialize)]
        struct ProjectV2 {
            id: String,
            name: String,
            custom_event_types: Vec<CustomEventType>,
            strict_event_types: bool,
            seen_event_types: Vec<String>,
            created_ms: u64,
        }
        /// Format 3: no retention of its own (`storage.retention` applies).
        #[derive(Deserialize)]
        struct ProjectV3 {
            id: String,
            name: String,
            custom_event_types: Vec<CustomEventType>,
            strict_event_types: bool,
            seen_event_types: Vec<String>,
            created_ms: u64,
            declared: bool,
            ingest_limit: Option<IngestLimit>,
        }
        match format {
            1 => Some(postcard::from_bytes::<ProjectV1>(body).map(|v1| {
                Project {
                    custom_event_types: v1
                        .custom_event_types
                        .into_iter()
                        .map(CustomEventType::named)
                        .collect(),
                    ..Project::new(v1.id, v1.name, v1.created_ms)
                }
            })),
            2 => Some(postcard::from_bytes::<ProjectV2>(body).map(|v2| Project {
                custom_event_types: v2.custom_event_types,
                strict_event_types: v2.strict_event_types,
                seen_event_types: v2.seen_event_types,
                ..Project::new(v2.id, v2.name, v2.created_ms)
            })),
            3 => Some(postcard::from_bytes::<ProjectV3>(body).map(|v3| Project {
                custom_event_types: v3.custom_event_types,
                strict_event_types: v3.strict_event_types,
                seen_event_types: v3.seen_event_types,
                declared: v3.declared,
                ingest_limit: v3.ingest_limit,
                ..Project::new(v3.id, v3.name, v3.created_ms)
            })),
            _ => None,
        }
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyKind {
    /// Management and ingestion.
    Secret,
    /// Ingestion only; safe to ship in a client.
    Publishable,
    /// A customer portal session: the project's webhooks, deliveries and
    /// event log (read only, or read and change), never keys, sessions,
    /// project settings or ingestion.
    Portal,
}

/// What a portal session may do and how its page looks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalGrant {
    /// Reads only: every change is refused (`403`).
    pub read_only: bool,
    /// The product's name shown in the page.
    pub product_name: Option<String>,
    /// An `https` URL of the product's logo.
    pub logo_url: Option<String>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: Option<String>,
}

/// Where a key came from: the keys API (or project creation), or the
/// config's `[[projects]]`, whose keys start-up reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOrigin {
    /// Created through the API; only the API revokes it.
    Api,
    /// Declared in the config; revoked at start-up once no longer declared.
    Config,
    /// Stored before keys recorded their origin. Keys could then only be
    /// made by `POST /projects` or declared, so start-up treats one of a
    /// declared project as declared.
    Unrecorded,
}

/// An API key, stored by the SHA-256 of the key; the key itself is shown
/// once when created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// Its project.
    pub project_id: String,
    /// Secret or publishable.
    pub kind: KeyKind,
    /// The first characters, to recognize it in listings.
    pub prefix: String,
    /// Unix ms.
    pub created_ms: u64,
    /// What the owner calls it.
    pub label: Option<String>,
    /// After this time (Unix ms) it is refused; `None`: never.
    pub expires_ms: Option<u64>,
    /// API or config.
    pub origin: KeyOrigin,
    /// When it last authenticated a request (Unix ms, written at most
    /// once a minute per instance); `None`: never.
    pub last_used_ms: Option<u64>,
    /// A portal session's grant (kind [`KeyKind::Portal`] only).
    pub portal: Option<PortalGrant>,
}

impl ApiKey {
    /// Its public id (`key_` and the first 16 hex digits of its hash):
    /// names it in the API without revealing anything that authenticates.
    pub fn id(&self) -> String {
        format!("key_{}", &self.hash[..self.hash.len().min(16)])
    }

    /// Whether it is expired at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|at| now_ms >= at)
    }
}

impl Record for ApiKey {
    const FORMAT: u8 = 2;

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        /// Format 1: no label, expiry, origin or last use.
        #[derive(Deserialize)]
        struct ApiKeyV1 {
            hash: String,
            project_id: String,
            kind: KeyKind,
            prefix: String,
            created_ms: u64,
        }
        (format == 1).then(|| {
            postcard::from_bytes::<ApiKeyV1>(body).map(|v1| ApiKey {
                hash: v1.hash,
                project_id: v1.project_id,
                kind: v1.kind,
                prefix: v1.prefix,
                created_ms: v1.created_ms,
                label: None,
                expires_ms: None,
                origin: KeyOrigin::Unrecorded,
                last_used_ms: None,
                portal: None,
            })
        })
    }
}

/// A signing secret, sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// Nonce + ciphertext.
    pub sealed: Vec<u8>,
    /// After this time (Unix ms) it no longer signs; `None`: current.
    pub expires_ms: Option<u64>,
}

/// A destination: a customer webhook or a provider integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `ep_…`
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Where requests go.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Subscribed types: exact (`user.created`), prefix (`db.*`) or `*`.
    pub events: Vec<String>,
    /// Receives deliveries when true.
    pub active: bool,
    /// Why it was disabled automatically, if it was.
    pub disabled_reason: Option<String>,
    /// Deliver one at a time in ingestion order (default) or concurrently.
    pub ordered: bool,
    /// The plugin that renders its requests (`webhook` by default).
    pub provider: String,
    /// Provider config (non-secret).
    pub config: BTreeMap<String, String>,
    /// Signing secrets, newest first.
    pub secrets: Vec<SealedSecret>,
    /// Payload filters: every dotted path (`payload.plan`) must equal its
    /// value (JSON text, kept as text for the binary record format) for the
    /// endpoint to receive an event. Empty: no filter.
    pub filter: BTreeMap<String, String>,
    /// Deliveries per time shared by every instance (`"10/s"`); `None`: no limit.
    pub rate_limit: Option<crate::ratelimit::Rate>,
    /// Since when every attempt has failed (Unix ms), if failing.
    pub failing_since_ms: Option<u64>,
    /// `endpoint.failing` was emitted for the current failure streak.
    pub failure_alerted: bool,
    /// Unix ms.
    pub created_ms: u64,
    /// Unix ms.
    pub updated_ms: u64,
    /// Written from the config's `[[projects.webhooks]]`: start-up deletes
    /// it once its project's config no longer declares it. (Endpoints
    /// created through the API are never touched by start-up.)
    pub declared: bool,
}

/// A change to apply to a project as stored ([`super::Backend::update_project`]);
/// may run more than once where the backend retries a conflicting write.
pub type ProjectChange = std::sync::Arc<dyn Fn(&mut Project) + Send + Sync>;

/// A change to apply to an endpoint as stored ([`super::Backend::update_endpoint`]);
/// may run more than once where the backend retries a conflicting write.
pub type EndpointChange = std::sync::Arc<dyn Fn(&mut Endpoint) + Send + Sync>;

/// A project's configuration of one provider plugin (e.g. its Slack bot
/// token or Razorpay webhook secret). Endpoints using the provider get these
/// values merged under their own config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The project.
    pub project_id: String,
    /// The plugin name.
    pub provider: String,
    /// Off: no deliveries through it, inbound refused; config kept.
    pub enabled: bool,
    /// Non-secret values.
    pub config: BTreeMap<String, String>,
    /// Secret values, sealed with the master key.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// Unix ms.
    pub updated_ms: u64,
    /// Written from the config's `[projects.providers.<name>]`: start-up
    /// deletes it once its project's config no longer declares it.
    pub declared: bool,
}

/// An accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_…`
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// e.g. `user.signup`.
    pub event_type: String,
    /// e.g. `user`.
    pub resource: Option<String>,
    /// e.g. `usr_2048`.
    pub resource_id: Option<String>,
    /// JSON bytes as received.
    pub payload: Vec<u8>,
    /// Unix ms when accepted.
    pub time_created_ms: u64,
    /// Where a provider's webhook came from; `None` for the app's events.
    pub source: Option<EventSource>,
}

/// The inbound webhook an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    /// The integration it arrived through (`github`, `hmac.uptime`).
    pub integration: String,
    /// The provider's id of the delivery (`X-GitHub-Delivery`, Stripe's
    /// event id), when it gives one.
    pub provider_event_id: Option<String>,
}

impl Record for Event {
    /// Format 3: the payload deflated when that pays ([`super::compact`]).
    const FORMAT: u8 = 3;

    fn encode_body(&self, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
        super::compact::encode_event(self, out)
    }

    fn decode_body(body: &[u8]) -> Result<Self, postcard::Error> {
        super::compact::decode_event(body)
    }

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        if format == 2 {
            return Some(postcard::from_bytes(body));
        }
        /// Format 1: no `source`.
        #[derive(Deserialize)]
        struct EventV1 {
            id: String,
            project_id: String,
            event_type: String,
            resource: Option<String>,
            resource_id: Option<String>,
            payload: Vec<u8>,
            time_created_ms: u64,
        }
        (format == 1).then(|| {
            postcard::from_bytes::<EventV1>(body).map(|v1| Event {
                id: v1.id,
                project_id: v1.project_id,
                event_type: v1.event_type,
                resource: v1.resource,
                resource_id: v1.resource_id,
                payload: v1.payload,
                time_created_ms: v1.time_created_ms,
                source: None,
            })
        })
    }
}

/// An event to store, with the endpoints it goes to.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The event (id assigned by the caller).
    pub event: Event,
    /// Endpoint ids that get a delivery, each with its delivery id.
    pub deliveries: Vec<(String, String)>,
    /// The client's `Idempotency-Key`, if any, with its expiry (Unix ms).
    pub idempotency: Option<(String, u64)>,
}

/// What happened to one [`NewEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored now, with this many deliveries.
    Stored {
        /// Event id.
        event_id: String,
        /// Deliveries queued.
        deliveries: usize,
    },
    /// The idempotency key was seen before: this is the earlier event.
    Duplicate {
        /// The earlier event's id.
        event_id: String,
    },
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Queued; waiting for its turn or its next attempt.
    Pending,
    /// The receiver accepted it.
    Succeeded,
    /// Given up (dead letter).
    Failed,
}

impl DeliveryStatus {
    /// Lower-case name used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One event going to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_…`
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Global ingestion sequence: the endpoint's order.
    pub seq: u64,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Not before this time (Unix ms).
    pub next_attempt_ms: u64,
    /// Unix ms.
    pub created_ms: u64,
    /// Unix ms of the last change.
    pub updated_ms: u64,
    /// The last attempt's HTTP status.
    pub last_status_code: Option<u16>,
    /// The last error or failure reason.
    pub last_error: Option<String>,
    /// Sent by `POST …/webhooks/{id}/test`, not by the app's event.
    pub test: bool,
}

impl Delivery {
    /// A new delivery, queued at `seq` and due now.
    pub fn queued(id: &str, event_id: &str, endpoint_id: &str, seq: u64, now_ms: u64) -> Self {
        Self {
            id: id.to_string(),
            event_id: event_id.to_string(),
            endpoint_id: endpoint_id.to_string(),
            seq,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_ms: now_ms,
            created_ms: now_ms,
            updated_ms: now_ms,
            last_status_code: None,
            last_error: None,
            test: false,
        }
    }
}

impl Delivery {
    /// Applies a recorded attempt and its change: the one definition of
    /// what recording does to a delivery, which every backend follows (the
    /// Redis script is checked against it by the conformance suite). An
    /// attempt whose number was recorded already changes nothing (a
    /// retried record); returns whether anything changed.
    pub fn apply(&mut self, attempt: &Attempt, change: &DeliveryChange) -> bool {
        if attempt.number <= self.attempts {
            return false;
        }
        self.attempts = attempt.number;
        self.last_status_code = attempt.status_code;
        self.last_error.clone_from(&attempt.error);
        self.updated_ms = attempt.started_ms + attempt.duration_ms;
        match change {
            DeliveryChange::Ack => self.status = DeliveryStatus::Succeeded,
            DeliveryChange::Reschedule { next_attempt_ms } => {
                self.next_attempt_ms = *next_attempt_ms;
            }
            DeliveryChange::DeadLetter { reason } => {
                self.status = DeliveryStatus::Failed;
                self.last_error = Some(reason.clone());
            }
        }
        true
    }

    /// Still queued after its last record.
    pub fn is_queued(&self) -> bool {
        self.status == DeliveryStatus::Pending
    }
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// Accepted.
    Success,
    /// Will be retried.
    Retry,
    /// Given up.
    Failed,
}

impl AttemptOutcome {
    /// The one spelling of an outcome: in the API (`attempt_log[].outcome`),
    /// in metrics labels, in logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Retry => "retry",
            Self::Failed => "failed",
        }
    }

    /// The outcome's counter in a stored statistics record (short: one
    /// per attempt per minute and hour on Redis).
    pub fn stats_field(&self) -> &'static str {
        match self {
            Self::Success => "s",
            Self::Retry => "r",
            Self::Failed => "f",
        }
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: String,
    /// 1-based.
    pub number: u32,
    /// Unix ms when sent.
    pub started_ms: u64,
    /// Time to the answer (or the error).
    pub duration_ms: u64,
    /// HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// The answer's body, truncated.
    pub response_excerpt: String,
    /// Transport or plugin error, if any.
    pub error: Option<String>,
    /// What it meant.
    pub outcome: AttemptOutcome,
    /// The requests sent, in order (secrets redacted).
    pub requests: Vec<SentRequest>,
    /// The last answer's headers.
    pub response_headers: Vec<(String, String)>,
}

/// A request as sent, for the delivery log: secrets in the URL and headers
/// redacted, the body by size and hash (it is the event's rendering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRequest {
    /// `POST`, …
    pub method: String,
    /// Where it went.
    pub url: String,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Body length in bytes.
    pub body_bytes: u64,
    /// Hex SHA-256 of the body.
    pub body_sha256: String,
}

#[cfg(test)]
impl Attempt {
    /// An attempt that took 1 ms, recorded without requests or answer
    /// details (tests).
    pub(crate) fn bare(
        delivery_id: &str,
        number: u32,
        started_ms: u64,
        status_code: Option<u16>,
        outcome: AttemptOutcome,
    ) -> Self {
        Self {
            delivery_id: delivery_id.to_string(),
            number,
            started_ms,
            duration_ms: 1,
            status_code,
            response_excerpt: String::new(),
            error: None,
            outcome,
            requests: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

impl Record for Attempt {
    /// Format 4: header names, signature and timestamp values and the
    /// body hash compact ([`super::compact`]).
    const FORMAT: u8 = 4;

    fn encode_body(&self, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
        super::compact::encode_attempt(self, out)
    }

    fn decode_body(body: &[u8]) -> Result<Self, postcard::Error> {
        super::compact::decode_attempt(body)
    }

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        match format {
            3 => return Some(super::compact::decode_attempt_v3(body)),
            2 => return Some(postcard::from_bytes(body)),
            _ => {}
        }
        /// Format 1: no request or response headers.
        #[derive(Deserialize)]
        struct AttemptV1 {
            delivery_id: String,
            number: u32,
            started_ms: u64,
            duration_ms: u64,
            status_code: Option<u16>,
            response_excerpt: String,
            error: Option<String>,
            outcome: AttemptOutcome,
        }
        (format == 1).then(|| {
            postcard::from_bytes::<AttemptV1>(body).map(|v1| Attempt {
                delivery_id: v1.delivery_id,
                number: v1.number,
                started_ms: v1.started_ms,
                duration_ms: v1.duration_ms,
                status_code: v1.status_code,
                response_excerpt: v1.response_excerpt,
                error: v1.error,
                outcome: v1.outcome,
                requests: Vec::new(),
                response_headers: Vec::new(),
            })
        })
    }
}

/// What an attempt does to its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryChange {
    /// Succeeded: leave the queue.
    Ack,
    /// Try again at this time (Unix ms); stays at the head.
    Reschedule {
        /// When.
        next_attempt_ms: u64,
    },
    /// Give up: leave the queue as failed.
    DeadLetter {
        /// Why.
        reason: String,
    },
}

impl DeliveryChange {
    /// How the attempt that made this change is labelled: the one mapping
    /// from a change to an [`AttemptOutcome`].
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            Self::Ack => AttemptOutcome::Success,
            Self::Reschedule { .. } => AttemptOutcome::Retry,
            Self::DeadLetter { .. } => AttemptOutcome::Failed,
        }
    }
}

/// Upper bounds (ms) of the attempt-latency buckets kept in [`Stats`].
pub const LATENCY_BUCKETS_MS: [u64; 15] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

/// Attempt counters and a latency histogram: kept per endpoint and minute,
/// summed over a window for the stats API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts that will be retried.
    pub retries: u64,
    /// Attempts that gave up (dead letters).
    pub failures: u64,
    /// Attempts per latency bucket ([`LATENCY_BUCKETS_MS`], then one for slower).
    pub latency: Vec<u64>,
}

impl Stats {
    /// Counts one attempt.
    pub fn record(&mut self, outcome: &AttemptOutcome, duration_ms: u64) {
        self.attempts += 1;
        match outcome {
            AttemptOutcome::Success => self.successes += 1,
            AttemptOutcome::Retry => self.retries += 1,
            AttemptOutcome::Failed => self.failures += 1,
        }
        self.latency.resize(LATENCY_BUCKETS_MS.len() + 1, 0);
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| duration_ms <= b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.latency[bucket] += 1;
    }

    /// Adds another window's counts.
    pub fn add(&mut self, other: &Stats) {
        self.attempts += other.attempts;
        self.successes += other.successes;
        self.retries += other.retries;
        self.failures += other.failures;
        self.latency.resize(LATENCY_BUCKETS_MS.len() + 1, 0);
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            *mine += theirs;
        }
    }

    /// The latency (bucket upper bound, ms) under which a `q` fraction of
    /// attempts fall; `None` without attempts or past the last bound.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let wanted = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return LATENCY_BUCKETS_MS.get(i).copied();
            }
        }
        None
    }
}

/// Filter and cursor for [`super::Store::deliveries_of`].
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries created at or after (Unix ms).
    pub since_ms: Option<u64>,
    /// Continue below this sequence (from the previous page).
    pub before_seq: Option<u64>,
    /// Page size.
    pub limit: usize,
}

/// What an endpoint actor reads before a round of deliveries.
#[derive(Debug, Clone)]
pub struct WorkWindow {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its project's settings for its provider, if any.
    pub provider_settings: Option<ProviderSettings>,
    /// Its oldest queued deliveries, each with its event (`None` if gone).
    pub queued: Vec<(Delivery, Option<Event>)>,
}

/// An endpoint's attempt statistics over one stored period (a minute, or
/// an hour where minutes are no longer kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsPeriod {
    /// Start of the period (Unix ms).
    pub start_ms: u64,
    /// Its length (ms).
    pub length_ms: u64,
    /// The counts in it.
    pub stats: Stats,
}

/// One endpoint's queue, sampled for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSample {
    /// The endpoint.
    pub endpoint_id: String,
    /// Its class: the provider plugin it delivers through (`webhook`,
    /// `slack`, …); empty when the endpoint is gone but work is left.
    pub provider: String,
    /// Deliveries queued.
    pub depth: u64,
    /// Creation time of its oldest queued delivery (Unix ms).
    pub oldest_ms: Option<u64>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `before_seq` for the next page; `None` at the end.
    pub next_cursor: Option<u64>,
}

impl Record for Endpoint {
    const FORMAT: u8 = 2;

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        /// Format 1: no `declared`.
        #[derive(Deserialize)]
        struct EndpointV1 {
            id: String,
            project_id: String,
            url: String,
            description: String,
            events: Vec<String>,
            active: bool,
            disabled_reason: Option<String>,
            ordered: bool,
            provider: String,
            config: BTreeMap<String, String>,
            secrets: Vec<SealedSecret>,
            filter: BTreeMap<String, String>,
            rate_limit: Option<crate::ratelimit::Rate>,
            failing_since_ms: Option<u64>,
            failure_alerted: bool,
            created_ms: u64,
            updated_ms: u64,
        }
        (format == 1).then(|| {
            postcard::from_bytes::<EndpointV1>(body).map(|v1| Endpoint {
                id: v1.id,
                project_id: v1.project_id,
                url: v1.url,
                description: v1.description,
                events: v1.events,
                active: v1.active,
                disabled_reason: v1.disabled_reason,
                ordered: v1.ordered,
                provider: v1.provider,
                config: v1.config,
                secrets: v1.secrets,
                filter: v1.filter,
                rate_limit: v1.rate_limit,
                failing_since_ms: v1.failing_since_ms,
                failure_alerted: v1.failure_alerted,
                created_ms: v1.created_ms,
                updated_ms: v1.updated_ms,
                declared: false,
            })
        })
    }
}

impl Record for ProviderSettings {
    const FORMAT: u8 = 2;

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        /// Format 1: no `declared`.
        #[derive(Deserialize)]
        struct ProviderSettingsV1 {
            project_id: String,
            provider: String,
            enabled: bool,
            config: BTreeMap<String, String>,
            secrets: BTreeMap<String, Vec<u8>>,
            updated_ms: u64,
        }
        (format == 1).then(|| {
            postcard::from_bytes::<ProviderSettingsV1>(body).map(|v1| ProviderSettings {
                project_id: v1.project_id,
                provider: v1.provider,
                enabled: v1.enabled,
                config: v1.config,
                secrets: v1.secrets,
                updated_ms: v1.updated_ms,
                declared: false,
            })
        })
    }
}
/// Delivery format 3: format 2 with the last HTTP status in two fixed
/// bytes (0 = none), so recording an attempt rewrites a delivery at the
/// same size and redb patches its packed page instead of splitting it.
/// `S` is `&str` to write and `String` to read.
#[derive(Serialize, Deserialize)]
struct DeliveryV3<S> {
    id: S,
    event_id: S,
    endpoint_id: S,
    seq: u64,
    status: DeliveryStatus,
    attempts: u32,
    next_attempt_ms: u64,
    created_ms: u64,
    updated_ms: u64,
    last_status_code: [u8; 2],
    last_error: Option<S>,
    test: bool,
}

impl Record for Delivery {
    const FORMAT: u8 = 3;

    fn encode_body(&self, out: Vec<u8>) -> Result<Vec<u8>, postcard::Error> {
        let layout = DeliveryV3 {
            id: self.id.as_str(),
            event_id: self.event_id.as_str(),
            endpoint_id: self.endpoint_id.as_str(),
            seq: self.seq,
            status: self.status,
            attempts: self.attempts,
            next_attempt_ms: self.next_attempt_ms,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            last_status_code: self.last_status_code.unwrap_or(0).to_be_bytes(),
            last_error: self.last_error.as_deref(),
            test: self.test,
        };
        postcard::to_io(&layout, out)
    }

    fn decode_body(body: &[u8]) -> Result<Self, postcard::Error> {
        let v3: DeliveryV3<String> = postcard::from_bytes(body)?;
        let code = u16::from_be_bytes(v3.last_status_code);
        Ok(Self {
            id: v3.id,
            event_id: v3.event_id,
            endpoint_id: v3.endpoint_id,
            seq: v3.seq,
            status: v3.status,
            attempts: v3.attempts,
            next_attempt_ms: v3.next_attempt_ms,
            created_ms: v3.created_ms,
            updated_ms: v3.updated_ms,
            last_status_code: (code != 0).then_some(code),
            last_error: v3.last_error,
            test: v3.test,
        })
    }

    fn decode_older(format: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        /// Format 1: no `test`.
        #[derive(Deserialize)]
        struct DeliveryV1 {
            id: String,
            event_id: String,
            endpoint_id: String,
            seq: u64,
            status: DeliveryStatus,
            attempts: u32,
            next_attempt_ms: u64,
            created_ms: u64,
            updated_ms: u64,
            last_status_code: Option<u16>,
            last_error: Option<String>,
        }
        if format == 2 {
            return Some(postcard::from_bytes(body));
        }
        (format == 1).then(|| {
            postcard::from_bytes::<DeliveryV1>(body).map(|v1| Delivery {
                id: v1.id,
                event_id: v1.event_id,
                endpoint_id: v1.endpoint_id,
                seq: v1.seq,
                status: v1.status,
                attempts: v1.attempts,
                next_attempt_ms: v1.next_attempt_ms,
                created_ms: v1.created_ms,
                updated_ms: v1.updated_ms,
                last_status_code: v1.last_status_code,
                last_error: v1.last_error,
                test: false,
            })
        })
    }
}

/// A test send (`POST …/webhooks/{id}/test`) as the delivery log keeps
/// it: its event, its one finished delivery (marked `test`, its `seq` set
/// by the store) and that delivery's attempt.
#[derive(Debug, Clone)]
pub struct TestRecord {
    /// The event sent.
    pub event: Event,
    /// Succeeded or failed after its one attempt.
    pub delivery: Delivery,
    /// What was sent and answered.
    pub attempt: Attempt,
}
impl Record for Stats {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::{decode, encode};

    #[test]
    fn records_of_the_first_format_still_decode() {
        #[derive(Serialize)]
        struct EventV1<'a>(
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            u64,
        );
        let mut v1 = vec![1u8];
        v1.extend(
            postcard::to_stdvec(&EventV1(
                "evt_1",
                "p",
                "user.created",
                Some("user"),
                None,
                b"{}",
                7,
            ))
            .unwrap(),
        );
        let event: Event = decode("evt_1", &v1).unwrap();
        assert_eq!(event.resource.as_deref(), Some("user"));
        assert_eq!(
            (event.payload.as_slice(), event.time_created_ms),
            (&b"{}"[..], 7)
        );
        assert_eq!(event.source, None);
        let now = Event {
            source: Some(EventSource {
                integration: "github".into(),
                provider_event_id: Some("d-1".into()),
            }),
            ..event
        };
        let bytes = encode(&now).unwrap();
        assert_eq!(bytes[0], 3, "events are written in format 3");
        let mut v2 = vec![2u8];
        v2.extend(postcard::to_stdvec(&now).unwrap());
        assert_eq!(
            decode::<Event>("evt_1", &v2).unwrap(),
            now,
            "format 2 still decodes"
        );
        assert_eq!(decode::<Event>("evt_1", &bytes).unwrap(), now);

        #[derive(Serialize)]
        struct AttemptV1<'a>(
            &'a str,
            u32,
            u64,
            u64,
            Option<u16>,
            &'a str,
            Option<&'a str>,
            AttemptOutcome,
        );
        let mut v1 = vec![1u8];
        v1.extend(
            postcard::to_stdvec(&AttemptV1(
                "dlv_1",
                2,
                10,
                3,
                Some(503),
                "busy",
                None,
                AttemptOutcome::Retry,
            ))
            .unwrap(),
        );
        let attempt: Attempt = decode("dlv_1/2", &v1).unwrap();
        assert_eq!((attempt.number, attempt.status_code), (2, Some(503)));
        assert!(attempt.requests.is_empty() && attempt.response_headers.is_empty());
        assert!(
            decode::<Attempt>("x", &[9, 0]).is_err(),
            "unknown formats are refused"
        );
    }

    #[test]
    fn deliveries_of_the_first_two_formats_still_decode() {
        let mut delivery = Delivery::queued("dlv_1", "evt_1", "ep_1", 4, 7);
        delivery.last_error = Some("busy".into());
        delivery.last_status_code = Some(503);
        // Format 2 is the struct in postcard; format 1 is format 2 without
        // the trailing `test` flag.
        let mut v2 = vec![2u8];
        v2.extend(postcard::to_stdvec(&delivery).unwrap());
        assert_eq!(decode::<Delivery>("dlv_1", &v2).unwrap(), delivery);
        let mut v1 = v2.clone();
        assert_eq!(v1.pop(), Some(0), "`false` is the last byte");
        v1[0] = 1;
        assert_eq!(decode::<Delivery>("dlv_1", &v1).unwrap(), delivery);
        let test = Delivery {
            test: true,
            ..delivery
        };
        let bytes = encode(&test).unwrap();
        assert_eq!(bytes[0], 3, "deliveries are written in format 3");
        assert_eq!(decode::<Delivery>("dlv_1", &bytes).unwrap(), test);
    }

    #[test]
    fn recording_a_success_keeps_a_deliverys_size() {
        let queued = Delivery::queued("dlv_1", "evt_1", "ep_1", 4, 1_764_000_000_000);
        let delivered = Delivery {
            status: DeliveryStatus::Succeeded,
            attempts: 1,
            updated_ms: queued.updated_ms + 3,
            last_status_code: Some(204),
            ..queued.clone()
        };
        let (before, after) = (encode(&queued).unwrap(), encode(&delivered).unwrap());
        assert_eq!(before.len(), after.len());
        assert_eq!(decode::<Delivery>("dlv_1", &after).unwrap(), delivered);
        let none: Delivery = decode("dlv_1", &before).unwrap();
        assert_eq!(none.last_status_code, None, "0 reads back as no status");
    }

    #[test]
    fn projects_of_the_first_format_still_decode() {
        #[derive(Serialize)]
        struct ProjectV1<'a>(&'a str, &'a str, Vec<&'a str>, u64);
        let mut v1 = vec![1u8];
        v1.extend(postcard::to_stdvec(&ProjectV1("acme", "Acme", vec!["order.paid"], 7)).unwrap());
        let project: Project = decode("acme", &v1).unwrap();
        assert_eq!(
            project.custom_event_types,
            vec![CustomEventType::named("order.paid")]
        );
        assert!(!project.strict_event_types && project.seen_event_types.is_empty());
        assert_eq!((project.name.as_str(), project.created_ms), ("Acme", 7));
        assert_eq!(project.ingest_limit, None, "the default limit applies");
        let now = Project {
            strict_event_types: true,
            seen_event_types: vec!["lesson.completed".into()],
            ingest_limit: Some(IngestLimit::new(2, Some(3)).unwrap()),
            ..project
        };
        let bytes = encode(&now).unwrap();
        assert_eq!(bytes[0], 4, "projects are written in format 4");
        assert_eq!(decode::<Project>("acme", &bytes).unwrap(), now);
    }

    /// A record of the format before `declared` existed: today's encoding
    /// of `value` (with `declared` unset, its last field, one byte in
    /// postcard) without that byte, under `format`.
    fn before_declared<T: Record>(value: &T, format: u8) -> Vec<u8> {
        let mut bytes = encode(value).unwrap();
        assert_eq!(bytes.pop(), Some(0), "`declared` is the last field");
        bytes[0] = format;
        bytes
    }

    #[test]
    fn records_from_before_the_declared_flag_decode_as_not_declared() {
        let project = Project {
            custom_event_types: vec![CustomEventType::named("order.paid")],
            strict_event_types: true,
            ..Project::new("acme".into(), "Acme".into(), 7)
        };
        let old = before_declared(&project, 2);
        assert_eq!(decode::<Project>("acme", &old).unwrap(), project);
        let declared = Project {
            declared: true,
            ..project
        };
        let bytes = encode(&declared).unwrap();
        assert_eq!(bytes[0], 4, "projects are written in format 4");
        assert_eq!(decode::<Project>("acme", &bytes).unwrap(), declared);

        let endpoint = Endpoint {
            id: "ep".into(),
            project_id: "acme".into(),
            url: "https://x.example/".into(),
            description: "orders".into(),
            events: vec!["order.*".into()],
            active: true,
            disabled_reason: None,
            ordered: true,
            provider: "webhook".into(),
            config: [("header.X-A".to_string(), "1".to_string())].into(),
            secrets: vec![SealedSecret {
                sealed: vec![1, 2, 3],
                expires_ms: Some(9),
            }],
            filter: BTreeMap::new(),
            rate_limit: None,
            failing_since_ms: Some(4),
            failure_alerted: true,
            created_ms: 1,
            updated_ms: 2,
            declared: false,
        };
        let old = before_declared(&endpoint, 1);
        assert_eq!(decode::<Endpoint>("ep", &old).unwrap(), endpoint);
        let bytes = encode(&Endpoint {
            declared: true,
            ..endpoint.clone()
        })
        .unwrap();
        assert_eq!(bytes[0], 2, "endpoints are written in format 2");
        assert!(decode::<Endpoint>("ep", &bytes).unwrap().declared);

        let settings = ProviderSettings {
            project_id: "acme".into(),
            provider: "slack".into(),
            enabled: true,
            config: [("channel".to_string(), "#ops".to_string())].into(),
            secrets: [("bot_token".to_string(), vec![7u8; 3])].into(),
            updated_ms: 3,
            declared: false,
        };
        let old = before_declared(&settings, 1);
        assert_eq!(decode::<ProviderSettings>("slack", &old).unwrap(), settings);
        assert_eq!(encode(&settings).unwrap()[0], 2);
    }

    #[test]
    fn api_keys_of_the_first_format_still_decode() {
        #[derive(Serialize)]
        struct ApiKeyV1<'a>(&'a str, &'a str, KeyKind, &'a str, u64);
        let hash = "ab".repeat(32);
        let mut v1 = vec![1u8];
        v1.extend(
            postcard::to_stdvec(&ApiKeyV1(&hash, "acme", KeyKind::Secret, "hm_sk_ab12", 7))
                .unwrap(),
        );
        let key: ApiKey = decode("k", &v1).unwrap();
        assert_eq!((key.project_id.as_str(), key.created_ms), ("acme", 7));
        assert_eq!(key.origin, KeyOrigin::Unrecorded);
        assert_eq!(
            (key.label.clone(), key.expires_ms, key.last_used_ms),
            (None, None, None)
        );
        assert_eq!(key.id(), format!("key_{}", &hash[..16]));
        let now = ApiKey {
            label: Some("ci".into()),
            expires_ms: Some(9),
            origin: KeyOrigin::Api,
            ..key
        };
        assert!(now.expired(9) && !now.expired(8));
        let bytes = encode(&now).unwrap();
        assert_eq!(bytes[0], 2, "keys are written in format 2");
        assert_eq!(decode::<ApiKey>("k", &bytes).unwrap(), now);
    }

    #[test]
    fn projects_of_the_third_format_decode_with_the_default_retention() {
        let project = Project {
            declared: true,
            ingest_limit: Some(IngestLimit::new(2, Some(3)).unwrap()),
            ..Project::new("acme".into(), "Acme".into(), 7)
        };
        // Format 3 is today's encoding without the last field (`retention`,
        // `None`: one byte in postcard).
        let mut v3 = encode(&project).unwrap();
        assert_eq!(v3.pop(), Some(0), "`retention` is the last field");
        v3[0] = 3;
        assert_eq!(decode::<Project>("acme", &v3).unwrap(), project);
        let own = Project {
            retention: Some(std::time::Duration::from_secs(3600)),
            ..project
        };
        let bytes = encode(&own).unwrap();
        assert_eq!(decode::<Project>("acme", &bytes).unwrap(), own);
        let default = std::time::Duration::from_secs(60);
        assert_eq!(own.retention_or(default).as_secs(), 3600);
    }

    #[test]
    fn projects_of_the_second_format_still_decode() {
        #[derive(Serialize)]
        struct ProjectV2<'a>(
            &'a str,
            &'a str,
            Vec<CustomEventType>,
            bool,
            Vec<&'a str>,
            u64,
        );
        let declared = CustomEventType {
            name: "order.paid".into(),
            description: Some("paid".into()),
            schema: Some("{\"type\":\"object\"}".into()),
        };
        let mut v2 = vec![2u8];
        v2.extend(
            postcard::to_stdvec(&ProjectV2(
                "acme",
                "Acme",
                vec![declared.clone()],
                true,
                vec!["user.signup"],
                7,
            ))
            .unwrap(),
        );
        let project: Project = decode("acme", &v2).unwrap();
        assert_eq!(project.custom_event_types, vec![declared]);
        assert!(project.strict_event_types);
        assert_eq!(project.seen_event_types, vec!["user.signup".to_string()]);
        assert_eq!((project.name.as_str(), project.created_ms), ("Acme", 7));
        assert_eq!(project.ingest_limit, None, "the default limit applies");
        let default = Rate::new(100.0, 200);
        assert_eq!(project.ingest_rate(default), default);
    }

    #[test]
    fn stats_quantiles_come_from_bucket_bounds() {
        let mut stats = Stats::default();
        assert_eq!(stats.latency_quantile_ms(0.5), None);
        for ms in [1, 3, 3, 4, 40, 40, 40, 40, 40, 900] {
            stats.record(&AttemptOutcome::Success, ms);
        }
        assert_eq!(stats.latency_quantile_ms(0.5), Some(50));
        assert_eq!(stats.latency_quantile_ms(0.2), Some(5));
        assert_eq!(stats.latency_quantile_ms(0.99), Some(1_000));
        let mut sum = Stats::default();
        sum.add(&stats);
        sum.add(&stats);
        assert_eq!((sum.attempts, sum.successes), (20, 20));
        stats.record(&AttemptOutcome::Retry, 120_000);
        assert_eq!(
            stats.latency_quantile_ms(1.0),
            None,
            "slower than the last bound"
        );
    }
}
