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
    ///
    /// ```
    /// let event = hookmesh_sdk::testing::event("a.b").payload_bytes(br#"{"b": 1}"#).build();
    /// assert_eq!(event.payload_raw()?.get(), r#"{"b": 1}"#);
    /// # Ok::<(), hookmesh_sdk::PluginError>(())
    /// ```
    pub fn payload_raw(&self) -> Result<&RawValue, PluginError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| PluginError::InvalidEvent(format!("payload is not valid JSON: {e}")))
    }

    /// The payload parsed into a JSON value (for templates and mappings).
    ///
    /// ```
    /// use hookmesh_sdk::{serde_json::json, testing::event};
    /// let event = event("order.paid").payload(json!({"total": 25})).build();
    /// assert_eq!(event.payload_value()?["total"], 25);
    /// # Ok::<(), hookmesh_sdk::PluginError>(())
    /// ```
    pub fn payload_value(&self) -> Result<serde_json::Value, PluginError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| PluginError::InvalidEvent(format!("payload is not valid JSON: {e}")))
    }

    /// The envelope JSON, sent at `time_sent_ms`.
    ///
    /// ```
    /// use hookmesh_sdk::testing::event;
    /// let body = event("user.signup").id("evt_1").build().envelope_json(2_000)?;
    /// let envelope: hookmesh_sdk::serde_json::Value = hookmesh_sdk::serde_json::from_slice(&body)?;
    /// assert_eq!((envelope["uuid"].as_str(), envelope["time_sent"].as_u64()), (Some("evt_1"), Some(2_000)));
    /// # Ok::<(), hookmesh_sdk::PluginError>(())
    /// ```
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
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().config("title", "Orders").build();
    /// assert_eq!(ctx.config_value("title"), Some("Orders"));
    /// assert_eq!(ctx.config_value("missing"), None);
    /// ```
    pub fn config_value(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.value.as_str())
    }

    /// The config fields whose key starts with `prefix`, in order, as
    /// `(key without the prefix, value)`; e.g. with `prefix = "map."`,
    /// `map.amount = 42` yields `("amount", "42")`.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().config("map.amount", "42").config("key_id", "k").build();
    /// let fields: Vec<_> = ctx.config_prefixed("map.").collect();
    /// assert_eq!(fields, [("amount", "42")]);
    /// ```
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
    ///
    /// ```
    /// use hookmesh_sdk::{testing::context, PluginError};
    /// let ctx = context().config("token", "t0k").config("blank", "").build();
    /// assert_eq!(ctx.require_config("token"), Ok("t0k"));
    /// assert_eq!(ctx.require_config("blank"), Err(PluginError::InvalidConfig("`blank` is required".into())));
    /// ```
    pub fn require_config(&self, key: &str) -> Result<&str, PluginError> {
        self.config_value(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PluginError::InvalidConfig(format!("`{key}` is required")))
    }

    /// The endpoint's URL, or an error when the call has no endpoint.
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().endpoint("https://example.com/hook").build();
    /// assert_eq!(ctx.endpoint_url(), Ok("https://example.com/hook"));
    /// ```
    pub fn endpoint_url(&self) -> Result<&str, PluginError> {
        self.endpoint
            .as_ref()
            .map(|e| e.url.as_str())
            .ok_or_else(|| PluginError::InvalidConfig("no endpoint given for this call".into()))
    }

    /// The endpoint's signing secrets, newest first (may be empty).
    ///
    /// ```
    /// let ctx = hookmesh_sdk::testing::context().secret("whsec_new").build();
    /// assert_eq!(ctx.endpoint_secrets(), ["whsec_new"]);
    /// ```
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
