//! The `razorpay` provider plugin: accepts Razorpay's signed webhooks as
//! `razorpay.*` events, and turns events into Razorpay API calls.
//!
//! # Inbound
//! `X-Razorpay-Signature` is checked against config `webhook_secret`; the
//! envelope becomes `razorpay.<event>` (e.g. `razorpay.payment.captured`)
//! with the whole envelope as payload. See [`inbound`].
//!
//! # Outbound
//! Config `action` picks the call, made with HTTP Basic auth
//! `key_id:key_secret`:
//!
//! | `action` | call |
//! |---|---|
//! | `create_customer` | `POST https://api.razorpay.com/v1/customers` |
//! | `create_payment_link` | `POST https://api.razorpay.com/v1/payment_links` |
//!
//! The JSON body comes from config entries `map.<field>`, each a minijinja
//! template over the event (`event`, `id`, `resource`, `resource_id`,
//! `payload`, `time_created`; see [`hookmesh_sdk::template`]):
//!
//! ```text
//! map.amount           = "{{ payload.total_cents }}"        → "amount": 4999
//! map.currency         = "INR"                              → "currency": "INR"
//! map.description      = "Order {{ payload.order_id }}"     → "description": "Order A-1"
//! map.customer.email   = "{{ payload.customer.email }}"     → "customer": {"email": "…"}
//! map.notes            = "{{ payload.metadata }}"           → "notes": {…}
//! map.notify.email     = "true"                             → "notify": {"email": true}
//! map.reference_id     = "{{ id }}"                         → "reference_id": "evt_…"
//! ```
//!
//! - A value that is exactly one `{{ expression }}` keeps the expression's
//!   type: numbers stay numbers, objects objects. Any other value renders as
//!   text (a literal such as `INR` is sent as it is).
//! - Dots in the field name build nested objects.
//! - Fields that render nothing (undefined, `none`, empty text) are left out.
//! - Whole-number fields (`amount`, `expire_by`, `first_min_partial_amount`)
//!   must render a whole number or digits; `amount` is in the currency's
//!   smallest unit (paise): `{{ (payload.total * 100) | round | int }}`
//!   converts from rupees. Boolean fields (`accept_partial`,
//!   `reminder_enable`, `upi_link`, `notify.sms`, `notify.email`) accept
//!   `true`/`false` as text.
//! - `create_payment_link` needs `map.amount`. `create_customer` sends
//!   `fail_existing: "0"` unless mapped, so a retried call returns the
//!   customer created by the first instead of failing.
//!
//! Answers are classified by [`classify`]: Razorpay's error description
//! becomes the failure reason.
//!
//! # Layout
//! - [`render`]: actions and the field mapping.
//! - [`classify`]: API answers → success, retry or failure.
//! - [`inbound`]: signature check and normalization.

pub mod classify;
pub mod inbound;
pub mod render;

use hookmesh_sdk::{
    Capability, ConfigField, Context, Event, HttpRequest, HttpResponse, InboundRequest,
    InboundResult, Manifest, Outcome, Plugin, PluginError, Scope,
};

/// The `razorpay` plugin.
pub struct Razorpay;

impl Plugin for Razorpay {
    fn manifest() -> Manifest {
        Manifest::outbound(
            "razorpay",
            env!("CARGO_PKG_VERSION"),
            "Razorpay webhooks (signature-checked) as razorpay.* events; \
             events as Razorpay API calls (create customers, payment links)",
        )
        .capability(Capability::Inbound)
        .allow_host("api.razorpay.com")
        .field(ConfigField::new("webhook_secret").describe("the secret set on the Razorpay webhook, to verify `X-Razorpay-Signature` \
             (required for inbound)").secret())
        .field(ConfigField::new("action").describe("API call per event: `create_customer` or `create_payment_link`").required_for(Scope::Endpoint))
        .field(ConfigField::new("key_id").describe("API key id, `rzp_live_…`/`rzp_test_…`").required_for(Scope::Endpoint))
        .field(ConfigField::new("key_secret").describe("API key secret").secret().required_for(Scope::Endpoint))
        .field(ConfigField::new("map.<field>").describe("request body field from a template, e.g. `map.amount = \"{{ payload.total_cents }}\"`; \
             dots nest (`map.customer.email`)"))
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        render::render(&event, &ctx).map(|request| vec![request])
    }

    fn classify(response: HttpResponse, ctx: Context) -> Outcome {
        classify::classify(&response, ctx.now_ms)
    }

    fn verify_inbound(request: InboundRequest, ctx: Context) -> Result<InboundResult, PluginError> {
        inbound::verify(&request, &ctx)
    }
}

hookmesh_sdk::export_plugin!(Razorpay);
