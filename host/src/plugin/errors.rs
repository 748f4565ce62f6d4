//! What can go wrong loading a plugin or calling it. Every message names the
//! plugin.

use std::path::PathBuf;

/// A plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("plugin {path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a valid WebAssembly component.
    #[error("plugin {path}: not a valid WebAssembly component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The compiler's message.
        reason: String,
    },
    /// Built against a contract version this host does not speak.
    #[error("plugin {path}: built for {found}, but this host speaks {expected}; rebuild it against a compatible hookmesh-sdk")]
    AbiMismatch {
        /// The file.
        path: PathBuf,
        /// What the component exports (or reports in its manifest).
        found: String,
        /// What this host implements.
        expected: String,
    },
    /// Needs imports the sandbox does not provide.
    #[error(
        "plugin {path}: cannot be linked in the sandbox (plugins may import nothing): {reason}"
    )]
    Link {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        reason: String,
    },
    /// `manifest()` failed or returned something unusable.
    #[error("plugin {path}: bad manifest: {reason}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Two plugins report the same name.
    #[error("plugin {path}: name `{name}` is already taken by {other}")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// The plugin loaded first.
        other: PathBuf,
    },
    /// The plugins directory could not be listed.
    #[error("plugins dir {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One plugin call failed. The host and other plugins are unaffected.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Ran longer than the CPU deadline and was interrupted.
    #[error(
        "plugin `{plugin}`: {call} exceeded its CPU deadline of {deadline_ms} ms and was stopped"
    )]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// `render`, `classify`, …
        call: &'static str,
        /// The deadline.
        deadline_ms: u64,
    },
    /// Tried to grow its memory past the cap.
    #[error("plugin `{plugin}`: {call} exceeded the memory cap of {cap_bytes} bytes (asked for {requested_bytes})")]
    MemoryCap {
        /// Plugin name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// The cap.
        cap_bytes: usize,
        /// What it asked for.
        requested_bytes: usize,
    },
    /// Returned more data than allowed.
    #[error(
        "plugin `{plugin}`: {call} returned {size_bytes} bytes, over the output cap of {cap_bytes}"
    )]
    OutputCap {
        /// Plugin name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// What it returned.
        size_bytes: usize,
        /// The cap.
        cap_bytes: usize,
    },
    /// Trapped: a panic, an out-of-bounds access, `unreachable`…
    #[error("plugin `{plugin}`: {call} trapped: {reason}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// wasmtime's description.
        reason: String,
    },
    /// A rendered request addresses a host it may not.
    #[error("plugin `{plugin}`: refused request to `{url}`: {reason}")]
    ForbiddenTarget {
        /// Plugin name.
        plugin: String,
        /// The request's URL.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The plugin itself returned an error (bad config, bad event, …).
    #[error("plugin `{plugin}`: {call}: {message}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// What kind of error the plugin reported.
        kind: GuestErrorKind,
        /// The plugin's message, with its kind.
        message: String,
    },
    /// The blocking task running the call was lost (host shutting down).
    #[error("plugin `{plugin}`: {call} did not complete: {reason}")]
    Aborted {
        /// Plugin name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// Why.
        reason: String,
    },
}

/// The kinds of error a plugin reports (`plugin-error` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestErrorKind {
    /// A config field is missing or malformed.
    InvalidConfig,
    /// The event cannot be rendered.
    InvalidEvent,
    /// An inbound signature or timestamp check failed.
    Unauthorized,
    /// The call is not implemented.
    Unsupported,
}

/// A plugin's own error: its kind, and a sentence with the kind first.
pub(crate) fn describe_guest_error(error: &super::GuestError) -> (GuestErrorKind, String) {
    use super::GuestError as E;
    match error {
        E::InvalidConfig(m) => (
            GuestErrorKind::InvalidConfig,
            format!("invalid config: {m}"),
        ),
        E::InvalidEvent(m) => (GuestErrorKind::InvalidEvent, format!("invalid event: {m}")),
        E::Unauthorized(m) => (GuestErrorKind::Unauthorized, format!("unauthorized: {m}")),
        E::Unsupported(m) => (GuestErrorKind::Unsupported, format!("unsupported: {m}")),
    }
}
