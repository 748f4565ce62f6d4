#![doc = include_str!("../README.md")]

pub mod bindings;
pub mod classify;
pub mod envelope;
pub mod http;
pub mod inbound;
pub mod manifest;
pub mod signing;
#[cfg(feature = "templates")]
pub mod template;
#[cfg(feature = "testing")]
pub mod testing;

pub use bindings::exports::hookmesh::plugin::provider::Guest as __Guest;
pub use bindings::hookmesh::plugin::types::{
    Capability, ConfigEntry, Context, Endpoint, Event, Failure, Header, HttpRequest, HttpResponse,
    InboundEvent, InboundRequest, InboundResult, Method, Outcome, PluginError,
    PluginManifest as Manifest,
};

pub use manifest::{ConfigField, Scope};
/// `serde_json`, as the SDK uses it: build and read JSON bodies without a
/// dependency of your own (`hookmesh_sdk::serde_json::json!`).
pub use serde_json;

/// The contract version this SDK implements; plugins report it in their
/// manifest and the host refuses plugins built for another.
///
/// ```
/// let manifest = hookmesh_sdk::Manifest::outbound("echo", "0.1.0", "");
/// assert_eq!(manifest.abi_version, hookmesh_sdk::ABI_VERSION);
/// ```
pub const ABI_VERSION: &str = "0.1.0";

/// What a provider plugin does. Only [`Plugin::manifest`] is required; the
/// other calls have defaults. Natively the calls are plain functions:
///
/// ```
/// use hookmesh_sdk::testing::{context, event, response};
/// use hookmesh_sdk::{Manifest, Outcome, Plugin, PluginError};
///
/// struct Nothing;
/// impl Plugin for Nothing {
///     fn manifest() -> Manifest {
///         Manifest::outbound("nothing", "0.1.0", "renders nothing")
///     }
/// }
///
/// assert_eq!(Nothing::manifest().name, "nothing");
/// assert!(matches!(Nothing::render(event("a.b").build(), context().build()),
///     Err(PluginError::Unsupported(_))));
/// assert_eq!(Nothing::classify(response(204).build(), context().build()), Outcome::Success);
/// ```
pub trait Plugin {
    /// Describes the plugin: name, version, config fields, allowed hosts,
    /// capabilities. Called once when the host loads the plugin.
    fn manifest() -> Manifest;

    /// Turns an event into the request(s) to send, in order. Called for
    /// every attempt; must be deterministic for a given event and context.
    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        let _ = (event, ctx);
        Err(PluginError::Unsupported("`render` not implemented".into()))
    }

    /// Decides whether an answer is a success, worth a retry or a final
    /// failure. The default is [`classify::default_outcome`].
    fn classify(response: HttpResponse, ctx: Context) -> Outcome {
        classify::default_outcome(&response, ctx.now_ms)
    }

    /// Checks an inbound provider webhook and normalizes it into events.
    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        let _ = (request, ctx);
        Err(PluginError::Unsupported(
            "`verify_inbound` not implemented".into(),
        ))
    }
}

/// Exports a [`Plugin`] implementation as the component's
/// `hookmesh:plugin/provider` interface. Use once per plugin crate, at
/// its top level:
///
/// ```
/// use hookmesh_sdk::{export_plugin, Manifest, Plugin};
/// pub struct Echo;
/// impl Plugin for Echo {
///     fn manifest() -> Manifest {
///         Manifest::outbound("echo", "0.1.0", "")
///     }
/// }
/// export_plugin!(Echo);
/// ```
///
/// The export is emitted only when compiling for `wasm32`: its symbol names
/// are for wasm components, and native linkers refuse them. Native builds
/// (e.g. `cargo test` of a `crate-type = ["cdylib", "rlib"]` plugin) get
/// nothing, so no `#[cfg]` is needed around the call.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct HookmeshExport;

            impl $crate::__Guest for HookmeshExport {
                fn manifest() -> $crate::Manifest {
                    <$plugin as $crate::Plugin>::manifest()
                }
                fn render(
                    event: $crate::Event,
                    ctx: $crate::Context,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::HttpRequest>, $crate::PluginError> {
                    <$plugin as $crate::Plugin>::render(event, ctx)
                }
                fn classify(response: $crate::HttpResponse, ctx: $crate::Context) -> $crate::Outcome {
                    <$plugin as $crate::Plugin>::classify(response, ctx)
                }
                fn verify_inbound(
                    request: $crate::InboundRequest,
                    ctx: $crate::Context,
                ) -> ::core::result::Result<$crate::InboundResult, $crate::PluginError> {
                    <$plugin as $crate::Plugin>::verify_inbound(request, ctx)
                }
            }

            $crate::bindings::__export_plugin_world!(HookmeshExport with_types_in $crate::bindings);
        };
    };
}
