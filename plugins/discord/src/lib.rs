//! The `discord` provider plugin: Discord execute-webhook with content and embeds.
//!
//! Not implemented yet: the manifest is real so the host lists the provider,
//! and every call answers `unsupported` with a clear message.

use hookmesh_sdk::{export_plugin, Manifest, Plugin};

struct Provider;

impl Plugin for Provider {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "discord",
            env!("CARGO_PKG_VERSION"),
            "Discord execute-webhook with content and embeds (not implemented yet)",
        )
    }
}

export_plugin!(Provider);
