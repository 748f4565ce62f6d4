//! The `github` provider plugin: accepts GitHub's signed webhooks as
//! `github.*` events. Inbound only.
//!
//! Set up a webhook on a repository, organization or GitHub App with the
//! payload URL `https://<hookmesh>/inbound/<project>/github`, a secret, and
//! content type `application/json` (`application/x-www-form-urlencoded`
//! works too); store that secret as config `webhook_secret`. See
//! [`inbound`] for the checks and the event types.

pub mod inbound;

use hookmesh_sdk::{
    ConfigField, Context, InboundRequest, InboundResult, Manifest, Plugin, PluginError,
};

/// The `github` plugin.
pub struct Github;

impl Plugin for Github {
    fn manifest() -> Manifest {
        Manifest::inbound(
            "github",
            env!("CARGO_PKG_VERSION"),
            "GitHub webhooks (X-Hub-Signature-256 checked) as github.<event>[.<action>] events, \
             deduplicated on X-GitHub-Delivery",
        )
        .field(
            ConfigField::new(inbound::SECRET_FIELD)
                .describe("the webhook's secret, as entered in GitHub's webhook settings")
                .secret()
                .required(),
        )
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        inbound::verify(&request, &ctx)
    }
}

hookmesh_sdk::export_plugin!(Github);
