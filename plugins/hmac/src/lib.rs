//! The `hmac` provider plugin: a configurable inbound source for senders
//! without a plugin of their own (in-house systems, uptime monitors,
//! Standard-Webhooks-like or EventMesh-style senders). Inbound only.
//!
//! Config chooses how a request is authenticated ([`config::Auth`]): an
//! HMAC signature in a header (algorithm, encoding, prefix, and whether
//! the raw body or `"<timestamp>.<body>"` is signed, with a tolerance), or
//! an API key in a header for senders that cannot sign. It also chooses
//! where the event type comes from (a fixed type, a header, or a JSON
//! pointer into the body) and where the event id for deduplication comes
//! from (a header or a JSON pointer). Events are typed
//! `<event_prefix>.<type>` (`hmac.` unless set).
//!
//! Several such sources per project are named instances: configure
//! `PUT /projects/{p}/integrations/providers/hmac.uptime` and point the
//! sender at `POST /inbound/{p}/hmac.uptime`; each instance has its own
//! settings and secret.
//!
//! # Layout
//! - [`config`]: the fields, read into typed settings (errors name the field).
//! - [`verify`]: the signature or API-key check.
//! - [`normalize`]: the event type, id and payload.

pub mod config;
pub mod normalize;
pub mod verify;

use hookmesh_sdk::{Context, InboundRequest, InboundResult, Manifest, Plugin, PluginError};

/// The `hmac` plugin.
pub struct HmacSource;

impl Plugin for HmacSource {
    fn manifest() -> Manifest {
        config::fields().into_iter().fold(
            Manifest::inbound(
                "hmac",
                env!("CARGO_PKG_VERSION"),
                "Configurable inbound source: HMAC-signed (sha256, sha512, or weak sha1 for \
                 legacy senders; hex or base64; raw body or timestamp.body) or API-key requests \
                 as <event_prefix>.<type> events; several per project as named instances \
                 (hmac.<name>)",
            ),
            Manifest::field,
        )
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        let settings = config::Settings::from_context(&ctx)?;
        verify::authenticate(&settings.auth, &request, ctx.now_ms)?;
        normalize::event(&settings, &request).map(InboundResult::one)
    }
}

hookmesh_sdk::export_plugin!(HmacSource);
