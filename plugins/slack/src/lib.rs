//! The `slack` provider plugin: Slack incoming webhooks and chat.postMessage; inbound request signatures.
//!
//! Not implemented yet: the manifest is real so the host lists the provider,
//! and every call answers `unsupported` with a clear message.

use hookmesh_sdk::{export_plugin, Manifest, Plugin};

struct Provider;

impl Plugin for Provider {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "slack",
            env!("CARGO_PKG_VERSION"),
            "Slack incoming webhooks and chat.postMessage; inbound request signatures (not implemented yet)",
        )
    }
}

export_plugin!(Provider);
