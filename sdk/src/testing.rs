//! Builders for native tests of a plugin (feature `testing`): events,
//! call contexts, provider answers and inbound requests with sensible
//! defaults, so a test states only what it is about.
//!
//! ```
//! use hookmesh_sdk::testing::{context, event, response};
//! use hookmesh_sdk::{classify, serde_json::json, Outcome};
//!
//! let event = event("order.paid").payload(json!({"order_id": 42})).build();
//! let ctx = context().endpoint("https://example.com/hook").config("channel", "#ops").build();
//! assert_eq!(ctx.require_config("channel"), Ok("#ops"));
//! assert_eq!(event.payload_value().unwrap()["order_id"], 42);
//!
//! let answer = response(429).header("Retry-After", "2").build();
//! assert_eq!(classify::default_outcome(&answer, ctx.now_ms), Outcome::Retry(Some(2000)));
//! ```
//!
//! Enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! hookmesh-sdk = { path = "…/sdk", features = ["testing"] }
//! ```

use crate::http::header_value;
use crate::{
    ConfigEntry, Context, Endpoint, Event, Header, HttpRequest, HttpResponse, InboundRequest,
};

/// The `time_created_ms` of a built event unless set (2023-11-14T22:13:20Z).
pub const CREATED_MS: u64 = 1_700_000_000_000;
/// The `now_ms` of a built context unless set: half a second after [`CREATED_MS`].
pub const NOW_MS: u64 = CREATED_MS + 500;

/// Starts an [`Event`] of type `event_type`: id `evt_test`, payload `{}`,
/// no resource, created at [`CREATED_MS`].
///
/// ```
/// let event = hookmesh_sdk::testing::event("user.signup").id("evt_1").build();
/// assert_eq!((event.id.as_str(), event.payload.as_slice()), ("evt_1", &b"{}"[..]));
/// ```
pub fn event(event_type: &str) -> EventBuilder {
    EventBuilder(Event {
        id: "evt_test".into(),
        event_type: event_type.into(),
        resource: None,
        resource_id: None,
        payload: b"{}".to_vec(),
        time_created_ms: CREATED_MS,
    })
}

/// Builds an [`Event`]; start with [`event`].
#[derive(Debug, Clone)]
pub struct EventBuilder(Event);

impl EventBuilder {
    /// Sets the event id.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::event("a.b").id("evt_9").build().id, "evt_9");
    /// ```
    pub fn id(mut self, id: &str) -> Self {
        self.0.id = id.into();
        self
    }

    /// Sets the payload from a JSON value.
    ///
    /// ```
    /// use hookmesh_sdk::{serde_json::json, testing::event};
    /// let event = event("a.b").payload(json!({"n": 1})).build();
    /// assert_eq!(event.payload, br#"{"n":1}"#);
    /// ```
    pub fn payload(self, payload: serde_json::Value) -> Self {
        self.payload_bytes(payload.to_string().as_bytes())
    }

    /// Sets the payload bytes as the app sent them (even invalid JSON).
    ///
    /// ```
    /// let event = hookmesh_sdk::testing::event("a.b").payload_bytes(b"{nope").build();
    /// assert!(event.payload_value().is_err());
    /// ```
    pub fn payload_bytes(mut self, payload: &[u8]) -> Self {
        self.0.payload = payload.to_vec();
        self
    }

    /// Sets the resource and its id.
    ///
    /// ```
    /// let event = hookmesh_sdk::testing::event("user.signup").resource("user", "usr_1").build();
    /// assert_eq!(event.resource_id.as_deref(), Some("usr_1"));
    /// ```
    pub fn resource(mut self, resource: &str, resource_id: &str) -> Self {
        self.0.resource = Some(resource.into());
        self.0.resource_id = Some(resource_id.into());
        self
    }

    /// Sets when hookmesh accepted the event (Unix ms).
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::event("a.b").created_at(5).build().time_created_ms, 5);
    /// ```
    pub fn created_at(mut self, time_created_ms: u64) -> Self {
        self.0.time_created_ms = time_created_ms;
        self
    }

    /// The event.
    ///
    /// ```
    /// let event = hookmesh_sdk::testing::event("a.b").build();
    /// assert_eq!(event.event_type, "a.b");
    /// ```
    pub fn build(self) -> Event {
        self.0
    }
}

/// Starts a call [`Context`]: at [`NOW_MS`], delivery `dlv_test`, attempt 1,
/// no endpoint and no config.
///
/// ```
/// let ctx = hookmesh_sdk::testing::context().build();
/// assert!(ctx.endpoint_url().is_err());
/// ```
pub fn context() -> ContextBuilder {
    ContextBuilder(Context {
        now_ms: NOW_MS,
        delivery_id: "dlv_test".into(),
        attempt: 1,
        endpoint: None,
        config: Vec::new(),
    })
}

/// Builds a [`Context`]; start with [`context`].
#[derive(Debug, Clone)]
pub struct ContextBuilder(Context);

impl ContextBuilder {
    /// Sets the clock (Unix ms).
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::context().now_ms(7).build().now_ms, 7);
    /// ```
    pub fn now_ms(mut self, now_ms: u64) -> Self {
        self.0.now_ms = now_ms;
        self
    }

    /// Sets the attempt number (1 for the first try).
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::context().attempt(3).build().attempt, 3);
    /// ```
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.0.attempt = attempt;
        self
    }

    /// Sets the delivery id.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().delivery_id("dlv_9").build();
    /// assert_eq!(ctx.delivery_id, "dlv_9");
    /// ```
    pub fn delivery_id(mut self, delivery_id: &str) -> Self {
        self.0.delivery_id = delivery_id.into();
        self
    }

    /// Sets the endpoint (id `ep_test`) with URL `url`, keeping its secrets.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().endpoint("https://example.com/h").build();
    /// assert_eq!(ctx.endpoint_url(), Ok("https://example.com/h"));
    /// ```
    pub fn endpoint(mut self, url: &str) -> Self {
        let endpoint = self.endpoint_mut();
        endpoint.url = url.into();
        self
    }

    /// Adds an endpoint signing secret (newest first: add the newest first).
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().secret("whsec_new").secret("whsec_old").build();
    /// assert_eq!(ctx.endpoint_secrets(), ["whsec_new", "whsec_old"]);
    /// ```
    pub fn secret(mut self, secret: &str) -> Self {
        self.endpoint_mut().secrets.push(secret.into());
        self
    }

    /// Adds the config entry `key` = `value`.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().config("mode", "bot").build();
    /// assert_eq!(ctx.config_value("mode"), Some("bot"));
    /// ```
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.0.config.push(ConfigEntry {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds every `(key, value)` of `entries`.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().configs(&[("a", "1"), ("b", "2")]).build();
    /// assert_eq!(ctx.config.len(), 2);
    /// ```
    pub fn configs(self, entries: &[(&str, &str)]) -> Self {
        entries
            .iter()
            .fold(self, |builder, (key, value)| builder.config(key, value))
    }

    /// The context.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::context().build().attempt, 1);
    /// ```
    pub fn build(self) -> Context {
        self.0
    }

    fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.0.endpoint.get_or_insert_with(|| Endpoint {
            id: "ep_test".into(),
            url: String::new(),
            secrets: Vec::new(),
        })
    }
}

/// Starts a provider's answer with `status`, no headers and an empty body.
///
/// ```
/// assert_eq!(hookmesh_sdk::testing::response(204).build().status, 204);
/// ```
pub fn response(status: u16) -> ResponseBuilder {
    ResponseBuilder(HttpResponse {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// Builds an [`HttpResponse`]; start with [`response`].
#[derive(Debug, Clone)]
pub struct ResponseBuilder(HttpResponse);

impl ResponseBuilder {
    /// Adds a header.
    ///
    /// ```
    /// let answer = hookmesh_sdk::testing::response(429).header("Retry-After", "2").build();
    /// assert_eq!(answer.headers[0].value, "2");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.push(header(name, value));
        self
    }

    /// Sets a text body.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::response(200).body("ok").build().body, b"ok");
    /// ```
    pub fn body(mut self, body: &str) -> Self {
        self.0.body = body.as_bytes().to_vec();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    ///
    /// ```
    /// use hookmesh_sdk::{serde_json::json, testing::response};
    /// let answer = response(400).json(json!({"ok": false})).build();
    /// assert_eq!(answer.body, br#"{"ok":false}"#);
    /// ```
    pub fn json(self, body: serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(&body.to_string())
    }

    /// The answer.
    ///
    /// ```
    /// assert!(hookmesh_sdk::testing::response(500).build().headers.is_empty());
    /// ```
    pub fn build(self) -> HttpResponse {
        self.0
    }
}

/// Starts an inbound webhook as a provider would send it: no headers, an
/// empty body.
///
/// ```
/// let request = hookmesh_sdk::testing::inbound().body(r#"{"type":"ping"}"#).build();
/// assert_eq!(request.body, br#"{"type":"ping"}"#);
/// ```
pub fn inbound() -> InboundBuilder {
    InboundBuilder(InboundRequest {
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// Builds an [`InboundRequest`]; start with [`inbound`].
#[derive(Debug, Clone)]
pub struct InboundBuilder(InboundRequest);

impl InboundBuilder {
    /// Adds a header.
    ///
    /// ```
    /// let request = hookmesh_sdk::testing::inbound().header("X-Sig", "abc").build();
    /// assert_eq!(request.headers[0].name, "X-Sig");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.push(header(name, value));
        self
    }

    /// Adds every `(name, value)` of `headers`.
    ///
    /// ```
    /// let request = hookmesh_sdk::testing::inbound().headers(&[("A", "1"), ("B", "2")]).build();
    /// assert_eq!(request.headers.len(), 2);
    /// ```
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |builder, (name, value)| builder.header(name, value))
    }

    /// Sets the raw body.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::testing::inbound().body("a=1").build().body, b"a=1");
    /// ```
    pub fn body(mut self, body: &str) -> Self {
        self.0.body = body.as_bytes().to_vec();
        self
    }

    /// The request.
    ///
    /// ```
    /// assert!(hookmesh_sdk::testing::inbound().build().headers.is_empty());
    /// ```
    pub fn build(self) -> InboundRequest {
        self.0
    }
}

/// The value of `request`'s first header named `name` (any case).
///
/// ```
/// use hookmesh_sdk::{http::RequestBuilder, testing::request_header};
/// let request = RequestBuilder::post("https://example.com").bearer("t").build();
/// assert_eq!(request_header(&request, "Authorization"), Some("Bearer t"));
/// ```
pub fn request_header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    header_value(&request.headers, name)
}

/// `request`'s body parsed as JSON; panics (failing the test) when it is not.
///
/// ```
/// use hookmesh_sdk::{http::RequestBuilder, serde_json::json, testing::request_json};
/// let request = RequestBuilder::post("https://example.com").json(&json!({"a": 1}))?.build();
/// assert_eq!(request_json(&request)["a"], 1);
/// # Ok::<(), hookmesh_sdk::PluginError>(())
/// ```
pub fn request_json(request: &HttpRequest) -> serde_json::Value {
    match serde_json::from_slice(&request.body) {
        Ok(value) => value,
        Err(e) => panic!(
            "the request body is not JSON ({e}): {}",
            String::from_utf8_lossy(&request.body)
        ),
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}
