//! The `razorpay` provider plugin: Razorpay inbound webhooks and outbound API actions.
//!
//! Not implemented yet: the manifest is real so the host lists the provider,
//! and every call answers `unsupported` with a clear message.

use hookmesh_sdk::{export_plugin, Manifest, Plugin};

struct Provider;

impl Plugin for Provider {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "razorpay",
            env!("CARGO_PKG_VERSION"),
            "Razorpay inbound webhooks and outbound API actions (not implemented yet)",
        )
    }
}

export_plugin!(Provider);
