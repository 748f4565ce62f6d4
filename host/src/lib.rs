//! # hookmesh
//!
//! The outbound integration layer for SaaS products: an app emits an event
//! once; hookmesh routes it to every subscribed customer webhook and
//! provider integration, signs it, delivers it in order per endpoint,
//! retries each endpoint on its own, and keeps a replayable delivery log.
//! Provider integrations are sandboxed WebAssembly plugins (see `sdk/`).
//!
//! # Layout
//! - [`config`]: figment layers → validated, typed [`config::Settings`].
//! - [`declare`]: checks the config's `[[projects]]` and reconciles the store with them at start-up (`config plan` shows how).
//! - [`api`]: actix-web routes, auth, JSON errors; it validates and answers,
//!   and hands events to [`ingest`].
//! - [`event_types`]: the event-type catalogue, type-name rules and payload
//!   schemas (it reads only the project record).
//! - [`ingest`]: validation of what apps send, and the one ingestion path
//!   ([`ingest::Ingestor`]: budget, routing, atomic store, wake-up) used by
//!   the events API, bulk, inbound webhooks, operational events and replays.
//! - [`routing`]: which endpoints an event goes to (compiled per project,
//!   cached while the store's per-project endpoint version stays put).
//! - [`dispatch`]: the actor system: registry + one actor per endpoint;
//!   render → send → classify → record (with the request sent, secrets
//!   redacted), retries, endpoint health.
//! - [`egress`]: the HTTP client, timeouts, SSRF guard.
//! - [`metrics`]: Prometheus metrics.
//! - [`plugin`]: the wasmtime plugin host: engine, sandbox limits, registry.
//! - [`providers`]: provider settings checked against manifests, sealed, merged.
//! - [`ratelimit`]: rates, projects' ingestion limits, bucket answers
//!   (`X-RateLimit-*` numbers), in-process token buckets.
//! - [`store`]: one async [`store::Store`] (catalogue, deliveries,
//!   coordination, event log) over an async [`store::Backend`]: Redis
//!   (round trips awaited, no thread held) or the embedded store (redb,
//!   with its retention purger; a blocking store adapted by
//!   [`store::InProcess`]). Only `store/` knows which backend answers or
//!   where a call runs; records are versioned (`store/codec.rs`); events
//!   just ingested are kept in memory for the work windows
//!   (`store/event_cache.rs`).
//! - [`signing`]: secrets, API keys, ids, sealing with the master key.
//! - [`server`]: wiring it all together for `hookmesh serve`, or
//!   in-process on a listener of the caller's (`server::serve`).
//! - [`clock`]: the injectable clock of ingestion and delivery.
//! - [`cli`], [`tools`]: the command line and the plugin author's tools;
//!   [`plugin_author`]: `plugin new` and `plugin build` for out-of-tree plugins.

pub mod api;
pub mod api_key;
pub mod cli;
pub mod clock;
pub mod config;
pub mod declare;
pub mod dispatch;
pub mod egress;
pub mod event_types;
pub mod ingest;
pub mod metrics;
pub mod plugin;
pub mod plugin_author;
pub mod portal;
pub mod providers;
pub mod ratelimit;
pub mod routing;
pub mod server;
pub mod signing;
pub mod store;
pub mod tools;

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
