//! `template`: the smallest complete hookmesh provider plugin, to copy.
//!
//! It posts each event's envelope JSON (the body the generic webhook plugin
//! delivers) to the endpoint's URL with `Authorization: Bearer <token>`,
//! where `token` is a secret config field. Everything else is the SDK's
//! default: `classify` treats 2xx as success, retries 408/425/429/5xx
//! (honouring `Retry-After`), disables the endpoint on 410 and fails on any
//! other status; `verify_inbound` answers "not supported".
//!
//! A plugin is pure: no sockets, no clock, no files. The host hands each
//! call a [`Context`] (time, endpoint URL and secrets, config) and sends
//! the requests `render` returns, only to the endpoint's host or the hosts
//! the manifest allows. Return errors, never panic: a panic traps the
//! plugin and fails the call.
//!
//! Build and try it: see this crate's README.md.

// The SDK: the `Plugin` trait, a request builder, and the WIT types.
use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::{ConfigField, Context, Event, HttpRequest, Manifest, Plugin, PluginError};

/// The config field holding the bearer token.
const TOKEN_FIELD: &str = "token";

/// The plugin. It holds no state: every call gets all it needs as arguments.
pub struct Template;

impl Plugin for Template {
    /// Describes the plugin; the host reads it once, at load.
    fn manifest() -> Manifest {
        // `outbound`: the plugin renders and classifies deliveries. The name
        // is the provider's id in the API (`"provider": "template"`).
        Manifest::outbound(
            "template",
            // The plugin's own version, taken from Cargo.toml.
            env!("CARGO_PKG_VERSION"),
            // One line for the provider list in the API.
            "Example plugin: posts the event envelope with a bearer token",
        )
        // Each config field: a name, what it is for, and what it must be.
        // `.secret()`: encrypted at rest, masked in API answers, settable
        // only in the project's provider settings, never on an endpoint.
        // `.required()`: the project's settings must set it (the provider
        // list shows `incomplete` until they do); `.required_for(
        // Scope::Endpoint)` would ask it of each endpoint instead (its own
        // config, or inherited from the project's), and `.one_of("group")`
        // makes any one field of a group enough.
        .field(
            ConfigField::new(TOKEN_FIELD)
                .describe("bearer token sent as `Authorization: Bearer <token>`")
                .secret()
                .required(),
        )
        // No `.allow_host(..)`: requests may only go to the endpoint's own
        // URL host. Add `.allow_host("api.example.com")` to call an API.
    }

    /// Turns one event into the HTTP request(s) to send. Called on every
    /// attempt, so it must give the same answer for the same input.
    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        // A missing field is an error that names it, for the API to show.
        let token = ctx.require_config(TOKEN_FIELD)?;
        // Where to send: the endpoint's URL (an error if the call has none).
        let url = ctx.endpoint_url()?;
        // The JSON envelope: uuid, event, resource, resource_id, payload,
        // time_created, and time_sent = the host's clock for this attempt.
        let body = event.envelope_json(ctx.now_ms)?;
        // One POST with the token and the JSON body (and its content-type).
        let request = RequestBuilder::post(url)
            .bearer(token)
            // Receivers can dedupe on the event id, stable across retries.
            .header("idempotency-key", event.id.as_str())
            .json_bytes(body)
            .build();
        Ok(vec![request])
    }

    // `classify` and `verify_inbound` keep the SDK defaults (see the crate
    // doc). Override `classify` to read a provider's own error answers, and
    // `verify_inbound` to accept a provider's signed webhooks (add
    // `.capability(Capability::Inbound)` to the manifest, or start from
    // `Manifest::inbound` for an inbound-only plugin). For inbound, the SDK
    // has `hookmesh_sdk::inbound` (`require_header` → a 401 naming the
    // header, `check_timestamp`/`tolerance_secs`, `json_body`, `event_type`)
    // and constant-time checks in `hookmesh_sdk::signing`
    // (`verify_hex_hmac_sha256`, `verify_base64_hmac_sha256`, `verify_hmac`
    // with SHA-1/256/512, `constant_time_eq`). The `slack` and `razorpay`
    // plugins show both; `github`, `stripe`, `shopify` and `hmac` are
    // inbound-only examples.
}

// Exports `Template` as the component's `hookmesh:plugin/provider`
// interface (only when building for wasm, so `cargo test` runs natively).
hookmesh_sdk::export_plugin!(Template);

// Native unit tests call the plugin like the host would; the SDK's
// `testing` builders (a dev-dependency feature) fill in what a test does
// not care about.
#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::serde_json::json;
    use hookmesh_sdk::testing::{context, event, request_header, request_json};

    fn ctx() -> hookmesh_sdk::testing::ContextBuilder {
        context().endpoint("https://example.com/hook").now_ms(2_000)
    }

    #[test]
    fn posts_the_envelope_with_the_token() {
        let event = event("user.signup")
            .id("evt_1")
            .payload(json!({"plan": "pro"}))
            .build();
        let requests = Template::render(event, ctx().config("token", "t0k").build()).unwrap();
        let request = &requests[0];
        assert_eq!(request.url, "https://example.com/hook");
        assert_eq!(request_header(request, "authorization"), Some("Bearer t0k"));
        assert_eq!(request_header(request, "idempotency-key"), Some("evt_1"));
        let body = request_json(request);
        assert_eq!(body["event"], "user.signup");
        assert_eq!(body["payload"]["plan"], "pro");
        assert_eq!(body["time_sent"], 2_000);
    }

    #[test]
    fn a_missing_token_names_the_field() {
        match Template::render(event("user.signup").build(), ctx().build()) {
            Err(PluginError::InvalidConfig(message)) => assert_eq!(message, "`token` is required"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn the_token_is_a_secret_the_project_must_set() {
        let fields = Template::manifest().fields();
        assert_eq!(fields[0].name(), TOKEN_FIELD);
        assert!(fields[0].is_secret());
        assert_eq!(
            fields[0].required_scope(),
            Some(hookmesh_sdk::Scope::Project)
        );
    }
}
