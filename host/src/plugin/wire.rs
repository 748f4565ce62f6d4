//! JSON shapes for plugin calls outside the delivery path: the CLI's event
//! and context files, and the printed requests.

use super::{Capability, ConfigEntry, Context, Endpoint, Event, HttpRequest, Manifest, Method};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An event as apps send it (`POST /projects/{p}/events`), with the fields
/// hookmesh adds (`id`, `time_created`) optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Event type, e.g. `user.signup`.
    pub event: String,
    /// Any JSON.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// e.g. `user`.
    pub resource: Option<String>,
    /// e.g. `usr_2048`.
    pub resource_id: Option<String>,
    /// `evt_…`; generated when absent.
    pub id: Option<String>,
    /// Unix ms; `now` when absent.
    pub time_created: Option<u64>,
}

impl EventInput {
    /// The plugin-side event, stamped `now_ms` where the input has no time.
    pub fn into_event(self, now_ms: u64) -> Event {
        Event {
            id: self.id.unwrap_or_else(|| format!("evt_cli{now_ms}")),
            event_type: self.event,
            resource: self.resource,
            resource_id: self.resource_id,
            payload: self.payload.to_string().into_bytes(),
            time_created_ms: self.time_created.unwrap_or(now_ms),
        }
    }
}

/// The call context a plugin author supplies to `hookmesh plugin render`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextInput {
    /// The endpoint: `{ "url": "...", "secrets": ["whsec_..."] }`.
    pub endpoint: Option<EndpointInput>,
    /// Provider config as a flat string map.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The clock; `now` when absent.
    pub now_ms: Option<u64>,
    /// Attempt number; 1 when absent.
    pub attempt: Option<u32>,
    /// Delivery id; generated when absent.
    pub delivery_id: Option<String>,
}

/// An endpoint in a [`ContextInput`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Its URL.
    pub url: String,
    /// Signing secrets, newest first.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Its id; `ep_cli` when absent.
    pub id: Option<String>,
}

impl ContextInput {
    /// The plugin-side context at `now_ms` (unless the input fixes the clock).
    pub fn into_context(self, now_ms: u64) -> Context {
        let now_ms = self.now_ms.unwrap_or(now_ms);
        Context {
            now_ms,
            delivery_id: self
                .delivery_id
                .unwrap_or_else(|| format!("dlv_cli{now_ms}")),
            attempt: self.attempt.unwrap_or(1),
            endpoint: self.endpoint.map(|e| Endpoint {
                id: e.id.unwrap_or_else(|| "ep_cli".into()),
                url: e.url,
                secrets: e.secrets,
            }),
            config: self
                .config
                .into_iter()
                .map(|(key, value)| ConfigEntry { key, value })
                .collect(),
        }
    }
}

/// A rendered request as printed: body as text when it is UTF-8, base64 otherwise.
#[derive(Debug, Serialize)]
pub struct RequestView {
    /// `POST`, …
    pub method: &'static str,
    /// Target URL.
    pub url: String,
    /// Headers in order, as `[name, value]` pairs.
    pub headers: Vec<(String, String)>,
    /// The body if it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in base64 otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl From<HttpRequest> for RequestView {
    fn from(request: HttpRequest) -> Self {
        let (body, body_base64) = match String::from_utf8(request.body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(BASE64.encode(e.as_bytes()))),
        };
        Self {
            method: method_name(request.method),
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body,
            body_base64,
        }
    }
}

/// The HTTP method's name.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// A manifest as printed and served by the API.
#[derive(Debug, Serialize)]
pub struct ManifestView {
    /// Provider name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Contract version it was built for.
    pub abi_version: String,
    /// What it does.
    pub description: String,
    /// Accepted config fields.
    pub config_fields: Vec<ConfigFieldView>,
    /// Hosts it may address besides the endpoint's.
    pub allowed_hosts: Vec<String>,
    /// `outbound`, `inbound`.
    pub capabilities: Vec<&'static str>,
}

/// One config field of a [`ManifestView`].
#[derive(Debug, Serialize)]
pub struct ConfigFieldView {
    /// Field name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Masked by the API, encrypted at rest.
    pub secret: bool,
    /// Must be set (alone, or as one of its group) at `required_for`.
    pub required: bool,
    /// `project` (the project's provider settings must set it) or
    /// `endpoint` (each endpoint needs it, its own or the project's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_for: Option<&'static str>,
    /// Its "one of" group: any one field of the group set is enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_of: Option<String>,
}

impl From<&super::ConfigField> for ConfigFieldView {
    fn from(wire: &super::ConfigField) -> Self {
        let field = crate::providers::sdk_field(wire);
        Self {
            name: field.name().to_string(),
            description: field.description().to_string(),
            secret: field.is_secret(),
            required: field.required_scope().is_some(),
            required_for: field.required_scope().map(hookmesh_sdk::Scope::as_str),
            one_of: field.group().map(str::to_string),
        }
    }
}

impl From<&Manifest> for ManifestView {
    fn from(m: &Manifest) -> Self {
        Self {
            name: m.name.clone(),
            version: m.version.clone(),
            abi_version: m.abi_version.clone(),
            description: m.description.clone(),
            config_fields: m.config_fields.iter().map(ConfigFieldView::from).collect(),
            allowed_hosts: m.allowed_hosts.clone(),
            capabilities: m
                .capabilities
                .iter()
                .map(|c| match c {
                    Capability::Outbound => "outbound",
                    Capability::Inbound => "inbound",
                })
                .collect(),
        }
    }
}
