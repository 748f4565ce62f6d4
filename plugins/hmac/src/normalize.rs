//! A verified request → one hookmesh event: `<event_prefix>.<type>` from
//! the configured source, the sender's id for deduplication, and the body
//! (which must be JSON) as sent. A signed request whose type cannot be read
//! is `InvalidEvent` naming the header or pointer (the host answers `400`).

use crate::config::{Settings, Source};
use hookmesh_sdk::inbound::{event_type, json_body, json_text, optional_header};
use hookmesh_sdk::{InboundEvent, InboundRequest, PluginError};
use serde_json::Value;

/// The event for a verified `request`.
pub fn event(settings: &Settings, request: &InboundRequest) -> Result<InboundEvent, PluginError> {
    let body = json_body(&request.body)?;
    let name = read(&settings.event_type, request, &body).ok_or_else(|| {
        PluginError::InvalidEvent(format!(
            "no event type in {}",
            describe(&settings.event_type)
        ))
    })?;
    let dedupe_id = match &settings.event_id {
        None => None,
        Some(source) => Some(read(source, request, &body).ok_or_else(|| {
            PluginError::InvalidEvent(format!("no event id in {}", describe(source)))
        })?),
    };
    Ok(InboundEvent {
        dedupe_id,
        event_type: event_type(&settings.event_prefix, &name)?,
        resource: None,
        resource_id: None,
        payload: request.body.clone(),
    })
}

fn read(source: &Source, request: &InboundRequest, body: &Value) -> Option<String> {
    match source {
        Source::Fixed(value) => Some(value.clone()),
        Source::Header(name) => optional_header(&request.headers, name).map(str::to_string),
        Source::Pointer(pointer) => body.pointer(pointer).and_then(json_text),
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::Fixed(value) => format!("`{value}`"),
        Source::Header(name) => format!("the {name} header"),
        Source::Pointer(pointer) => format!("the body at `{pointer}`"),
    }
}
