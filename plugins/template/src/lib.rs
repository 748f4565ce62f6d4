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
use hookmesh_sdk::{Context, Event, HttpRequest, Manifest, Plugin, PluginError};

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
        // Each config field: name, description, secret?, required?. Secret
        // values are encrypted at rest, masked in API answers, and may only
        // be set in the project's provider settings, not on an endpoint.
        .config_field(
            TOKEN_FIELD,
            "bearer token sent as `Authorization: Bearer <token>`",
            true,
            true,
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

// Native unit tests call the plugin like the host would.
#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::{ConfigEntry, Endpoint};

    fn event() -> Event {
        Event {
            id: "evt_1".into(),
            event_type: "user.signup".into(),
            resource: Some("user".into()),
            resource_id: Some("usr_1".into()),
            payload: br#"{"plan":"pro"}"#.to_vec(),
            time_created_ms: 1_000,
        }
    }

    fn ctx(config: &[(&str, &str)]) -> Context {
        Context {
            now_ms: 2_000,
            delivery_id: "dlv_1".into(),
            attempt: 1,
            endpoint: Some(Endpoint {
                id: "ep_1".into(),
                url: "https://example.com/hook".into(),
                secrets: Vec::new(),
            }),
            config: config
                .iter()
                .map(|(key, value)| ConfigEntry {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn posts_the_envelope_with_the_token() {
        let requests = Template::render(event(), ctx(&[("token", "t0k")])).unwrap();
        let request = &requests[0];
        assert_eq!(request.url, "https://example.com/hook");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| h.value.as_str())
        };
        assert_eq!(header("authorization"), Some("Bearer t0k"));
        assert_eq!(header("idempotency-key"), Some("evt_1"));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["event"], "user.signup");
        assert_eq!(body["payload"]["plan"], "pro");
        assert_eq!(body["time_sent"], 2_000);
    }

    #[test]
    fn a_missing_token_names_the_field() {
        match Template::render(event(), ctx(&[])) {
            Err(PluginError::InvalidConfig(message)) => assert_eq!(message, "`token` is required"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }
}
