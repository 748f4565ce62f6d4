//! The plugin host: loads provider plugins (WebAssembly components built
//! against `sdk/wit`, `hookmesh:plugin@0.1.0`) and runs their calls in a
//! sandbox.
//!
//! - one [`wasmtime::Engine`] per process ([`PluginHost`]), with an epoch
//!   ticker thread for CPU deadlines;
//! - components are compiled (or loaded from the compiled-artifact cache in
//!   `<plugins dir>/.cache/`) and pre-instantiated once at load
//!   ([`LoadedPlugin`]); the contract version is checked there;
//! - plugins import nothing: they are linked on an empty linker, so they
//!   have no WASI, no filesystem, no network and no clock;
//! - every call runs under a CPU deadline, a linear-memory cap and an
//!   output-size cap ([`SandboxLimits`]); a trap, deadline or cap fails that
//!   one call with a [`CallError`] naming the plugin, and its instance is
//!   discarded;
//! - rendered requests may only address the endpoint's own host or the
//!   hosts the plugin's manifest declares ([`targets`]).
//!
//! Calls are blocking; async callers go through [`LoadedPlugin::render_async`]
//! and friends, which run a call in place under a 10 ms deadline (a normal
//! call takes microseconds) and make it again on the blocking pool, under
//! the full deadline, if it is cut off: plugins import nothing, so a call
//! has no effect but its answer. A plugin whose call was moved has its
//! calls go to the blocking pool for a minute.

mod bindings;
mod cache;
mod epoch;
mod errors;
mod host;
mod limits;
mod loaded;
pub mod targets;
pub mod wire;

pub use bindings::hookmesh::plugin::types::{
    Capability, ConfigEntry, ConfigField, Context, Endpoint, Event, Failure, Header, HttpRequest,
    HttpResponse, InboundEvent, InboundRequest, InboundResult, Method, Outcome,
    PluginError as GuestError, PluginManifest as Manifest,
};
pub use errors::{CallError, GuestErrorKind, LoadError};
pub use host::{PluginHost, PluginRegistry};
pub use limits::SandboxLimits;
pub use loaded::LoadedPlugin;

/// The contract package this host implements.
pub const ABI_PACKAGE: &str = "hookmesh:plugin";
/// The contract version this host implements; plugins built for any
/// semver-compatible version (`0.1.x`) load.
pub const ABI_VERSION: &str = "0.1.0";
