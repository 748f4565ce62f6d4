//! # hookmesh-sdk
//!
//! Write a hookmesh provider plugin: a WebAssembly component that turns
//! events into HTTP requests (`render`), decides what an answer means
//! (`classify`) and checks providers' inbound webhooks (`verify_inbound`).
//! Plugins are pure: they never open sockets or read clocks. Everything from
//! outside arrives in a [`Context`]; the host sends the requests.
//!
//! A complete plugin:
//!
//! ```no_run
//! use hookmesh_sdk::{export_plugin, http::RequestBuilder, Capability, Context,
//!     Event, HttpRequest, Manifest, Plugin, PluginError};
//!
//! struct Echo;
//!
//! impl Plugin for Echo {
//!     fn manifest() -> Manifest {
//!         Manifest::outbound("echo", "0.1.0", "posts the event envelope to the endpoint URL")
//!     }
//!
//!     fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
//!         let url = ctx.endpoint_url()?;
//!         let body = event.envelope_json(ctx.now_ms)?;
//!         Ok(vec![RequestBuilder::post(url).json_bytes(body).build()])
//!     }
//!     // `classify` defaults to `hookmesh_sdk::classify::default_outcome`,
//!     // `verify_inbound` to "not supported".
//! }
//!
//! export_plugin!(Echo);
//! ```
//!
//! Build it as a `cdylib` for `wasm32-unknown-unknown` and wrap the module
//! into a component (`wasm-tools component new`); `plugins/build.sh` in the
//! hookmesh repository does both. See `sdk/README.md` for the whole path.
//!
//! # Layout
//! - [`bindings`]: generated from `sdk/wit/plugin.wit` (`hookmesh:plugin@0.1.0`).
//! - [`http`]: request builders, header lookup, `Retry-After`.
//! - [`classify`]: the default success/retry/fail decision.
//! - [`signing`]: Standard Webhooks v1, hex HMAC-SHA256, and constant-time
//!   HMAC checks (SHA-1/256/512, hex or base64) for inbound providers.
//! - [`inbound`]: `verify_inbound` helpers: required headers naming
//!   themselves, timestamp tolerance, JSON bodies, event-type names.
//! - [`envelope`]: the delivered JSON body and helpers on [`Event`]/[`Context`].
//! - `template` (feature `templates`): minijinja templates over an event.

pub mod bindings;
pub mod classify;
pub mod envelope;
pub mod http;
pub mod inbound;
pub mod signing;
#[cfg(feature = "templates")]
pub mod template;

pub use bindings::exports::hookmesh::plugin::provider::Guest as __Guest;
pub use bindings::hookmesh::plugin::types::{
    Capability, ConfigEntry, ConfigField, Context, Endpoint, Event, Failure, Header, HttpRequest,
    HttpResponse, InboundEvent, InboundRequest, InboundResult, Method, Outcome, PluginError,
    PluginManifest as Manifest,
};

/// The contract version this SDK implements; plugins report it in their
/// manifest and the host refuses plugins built for another.
pub const ABI_VERSION: &str = "0.1.0";

/// What a provider plugin does. Only [`Plugin::manifest`] is required; the
/// other calls have defaults.
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

impl Manifest {
    /// A manifest for an outbound-only plugin that addresses only the
    /// endpoint's own URL; add fields with [`Manifest::config_field`].
    pub fn outbound(name: &str, version: &str, description: &str) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            abi_version: ABI_VERSION.into(),
            description: description.into(),
            config_fields: Vec::new(),
            allowed_hosts: Vec::new(),
            capabilities: vec![Capability::Outbound],
        }
    }

    /// A manifest for an inbound-only plugin (it verifies a provider's
    /// webhooks and renders nothing); add fields with
    /// [`Manifest::config_field`].
    pub fn inbound(name: &str, version: &str, description: &str) -> Self {
        Manifest {
            capabilities: vec![Capability::Inbound],
            ..Self::outbound(name, version, description)
        }
    }

    /// Adds a config field.
    pub fn config_field(
        mut self,
        name: &str,
        description: &str,
        secret: bool,
        required: bool,
    ) -> Self {
        self.config_fields.push(ConfigField {
            name: name.into(),
            description: description.into(),
            secret,
            required,
        });
        self
    }

    /// Allows requests to `host` (exact, or `*.example.com` for subdomains).
    pub fn allow_host(mut self, host: &str) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Adds a capability.
    pub fn capability(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }
}

/// Exports a [`Plugin`] implementation as the component's
/// `hookmesh:plugin/provider` interface. Use once per plugin crate.
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
