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
//! - [`plugin`]: the wasmtime plugin host: engine, sandbox limits, registry.
//! - [`api`]: actix-web routes.
//! - [`cli`]: the command line.
//! - [`tools`]: what the plugin CLI commands do.

pub mod api;
pub mod cli;
pub mod config;
pub mod plugin;
pub mod tools;

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
