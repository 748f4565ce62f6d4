//! Every integration test of the host, in one test binary: one build and
//! one link of the host, its dependencies and the shared harness
//! ([`common`], and the `hookmesh-test-support` crate) instead of one per
//! file. Each file is a module; run one with
//! `cargo test -p hookmesh --test integration <module>::`.

#![allow(clippy::unwrap_used)]

mod common;

#[path = "api_contract.rs"]
mod api_contract;
#[path = "api_errors.rs"]
mod api_errors;
#[path = "api_keys.rs"]
mod api_keys;
#[path = "cli.rs"]
mod cli;
#[path = "config_validation.rs"]
mod config_validation;
#[path = "day_one.rs"]
mod day_one;
#[path = "delivery.rs"]
mod delivery;
#[path = "endpoint_changes.rs"]
mod endpoint_changes;
#[path = "event_log.rs"]
mod event_log;
#[path = "inbound_sources.rs"]
mod inbound_sources;
#[path = "operations.rs"]
mod operations;
#[path = "plugin_authoring.rs"]
mod plugin_authoring;
#[path = "plugin_sandbox.rs"]
mod plugin_sandbox;
#[path = "portal.rs"]
mod portal;
#[path = "provider_plugins.rs"]
mod provider_plugins;
#[path = "providers.rs"]
mod providers;
#[path = "rate_limits.rs"]
mod rate_limits;
#[path = "reconcile.rs"]
mod reconcile;
#[path = "redis_backend.rs"]
mod redis_backend;
#[path = "store_conformance.rs"]
mod store_conformance;
#[path = "webhook_signing.rs"]
mod webhook_signing;
