//! The `shopify` provider plugin: accepts Shopify's signed webhooks as
//! `shopify.*` events. Inbound only.
//!
//! Subscribe with the address `https://<hookmesh>/inbound/<project>/shopify`
//! (app webhook subscriptions, or Settings → Notifications → Webhooks in the
//! store admin) and store the secret Shopify signs with (the app's client
//! secret, or the key shown under the store's webhooks) as config
//! `webhook_secret`. See [`inbound`] for the checks and the event types.

pub mod inbound;

use hookmesh_sdk::{
    ConfigField, Context, InboundRequest, InboundResult, Manifest, Plugin, PluginError,
};

/// The `shopify` plugin.
pub struct Shopify;

impl Plugin for Shopify {
    fn manifest() -> Manifest {
        Manifest::inbound(
            "shopify",
            env!("CARGO_PKG_VERSION"),
            "Shopify webhooks (X-Shopify-Hmac-Sha256 checked) as shopify.<topic> events, \
             deduplicated on X-Shopify-Webhook-Id",
        )
        .field(ConfigField::new(inbound::SECRET_FIELD).describe("the secret Shopify signs with: the app's client secret, or the store's webhook \
             signing key").secret().required())
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        inbound::verify(&request, &ctx)
    }
}

hookmesh_sdk::export_plugin!(Shopify);
