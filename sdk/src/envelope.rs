//! The event envelope hookmesh delivers, and helpers on [`Event`] and
//! [`Context`] that most plugins need.
//!
//! ```json
//! { "uuid": "evt_…", "event": "user.signup", "resource": "user",
//!   "resource_id": "usr_2048", "payload": { … },
//!   "time_created": 1774137600000, "time_sent": 1774137600500 }
//! ```

use crate::{Context, Event, PluginError};
use serde::Serialize;
use serde_json::value::RawValue;

/// The delivered JSON body; `payload` is embedded as received, not re-encoded.
#[derive(Serialize)]
struct Envelope<'a> {
    uuid: &'a str,
    event: &'a str,
    resource: Option<&'a str>,
    resource_id: Option<&'a str>,
    payload: &'a RawValue,
    time_created: u64,
    time_sent: u64,
}

impl Event {
    /// The payload as raw JSON, checked to be valid JSON.
    pub fn payload_raw(&self) -> Result<&RawValue, PluginError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| PluginError::InvalidEvent(format!("payload is not valid JSON: {e}")))
    }

    /// The payload parsed into a JSON value (for templates and mappings).
    pub fn payload_value(&self) -> Result<serde_json::Value, PluginError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| PluginError::InvalidEvent(format!("payload is not valid JSON: {e}")))
    }

    /// The envelope JSON, sent at `time_sent_ms`.
    pub fn envelope_json(&self, time_sent_ms: u64) -> Result<Vec<u8>, PluginError> {
        let envelope = Envelope {
            uuid: &self.id,
            event: &self.event_type,
            resource: self.resource.as_deref(),
            resource_id: self.resource_id.as_deref(),
            payload: self.payload_raw()?,
            time_created: self.time_created_ms,
            time_sent: time_sent_ms,
        };
        serde_json::to_vec(&envelope)
            .map_err(|e| PluginError::InvalidEvent(format!("cannot encode envelope: {e}")))
    }
}

impl Context {
    /// The value of config field `key`, if set.
    pub fn config_value(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.value.as_str())
    }

    /// The config fields whose key starts with `prefix`, in order, as
    /// `(key without the prefix, value)`; e.g. with `prefix = "map."`,
    /// `map.amount = 42` yields `("amount", "42")`.
    pub fn config_prefixed<'a, 'p>(
        &'a self,
        prefix: &'p str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a, 'p> {
        self.config.iter().filter_map(move |entry| {
            entry
                .key
                .strip_prefix(prefix)
                .map(|rest| (rest, entry.value.as_str()))
        })
    }

    /// The value of config field `key`, or an error naming it.
    pub fn require_config(&self, key: &str) -> Result<&str, PluginError> {
        self.config_value(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PluginError::InvalidConfig(format!("`{key}` is required")))
    }

    /// The endpoint's URL, or an error when the call has no endpoint.
    pub fn endpoint_url(&self) -> Result<&str, PluginError> {
        self.endpoint
            .as_ref()
            .map(|e| e.url.as_str())
            .ok_or_else(|| PluginError::InvalidConfig("no endpoint given for this call".into()))
    }

    /// The endpoint's signing secrets, newest first (may be empty).
    pub fn endpoint_secrets(&self) -> &[String] {
        self.endpoint.as_ref().map_or(&[], |e| e.secrets.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &str) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: "user.signup".into(),
            resource: Some("user".into()),
            resource_id: None,
            payload: payload.as_bytes().to_vec(),
            time_created_ms: 10,
        }
    }

    #[test]
    fn envelope_keeps_payload_bytes_and_field_names() {
        let body = event(r#"{"b": 1, "a": [true]}"#).envelope_json(20).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"uuid":"evt_1","event":"user.signup","resource":"user","resource_id":null,"payload":{"b": 1, "a": [true]},"time_created":10,"time_sent":20}"#
        );
    }

    #[test]
    fn config_prefixed_strips_the_prefix_and_keeps_order() {
        let entry = |key: &str, value: &str| crate::ConfigEntry {
            key: key.into(),
            value: value.into(),
        };
        let ctx = Context {
            now_ms: 0,
            delivery_id: "dlv_1".into(),
            attempt: 1,
            endpoint: None,
            config: vec![
                entry("map.b", "2"),
                entry("key_id", "k"),
                entry("map.a.c", "{{ id }}"),
                entry("map.", ""),
                entry("mapx", "no"),
            ],
        };
        let prefix = String::from("map.");
        let fields: Vec<_> = ctx.config_prefixed(&prefix).collect();
        assert_eq!(fields, [("b", "2"), ("a.c", "{{ id }}"), ("", "")]);
        assert_eq!(ctx.config_prefixed("none.").count(), 0);
    }

    #[test]
    fn invalid_payload_is_an_event_error() {
        match event("{nope").envelope_json(0) {
            Err(PluginError::InvalidEvent(msg)) => {
                assert!(msg.contains("payload is not valid JSON"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
