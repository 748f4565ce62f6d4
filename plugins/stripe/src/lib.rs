//! The `stripe` provider plugin: accepts Stripe's signed webhooks as
//! `stripe.*` events. Inbound only.
//!
//! Add an endpoint in Stripe's dashboard (Developers → Webhooks) with the
//! URL `https://<hookmesh>/inbound/<project>/stripe`, then store its signing
//! secret (`whsec_…`) as config `webhook_secret`. See [`inbound`] for the
//! checks and the event types.

pub mod inbound;

use hookmesh_sdk::{
    ConfigField, Context, InboundRequest, InboundResult, Manifest, Plugin, PluginError,
};

/// The `stripe` plugin.
pub struct Stripe;

impl Plugin for Stripe {
    fn manifest() -> Manifest {
        Manifest::inbound(
            "stripe",
            env!("CARGO_PKG_VERSION"),
            "Stripe webhooks (Stripe-Signature checked, timestamp within a tolerance) as \
             stripe.<type> events, deduplicated on the event id",
        )
        .field(
            ConfigField::new(inbound::SECRET_FIELD)
                .describe("the endpoint's signing secret, `whsec_…`, from Stripe's dashboard")
                .secret()
                .required(),
        )
        .field(
            ConfigField::new(inbound::TOLERANCE_FIELD)
                .describe("seconds a signature's timestamp may be old or ahead (default 300)"),
        )
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        inbound::verify(&request, &ctx)
    }
}

hookmesh_sdk::export_plugin!(Stripe);
