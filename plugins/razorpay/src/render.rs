//! Events → Razorpay API calls: the `action`, and its body from the
//! `map.<field>` config entries.

use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::template;
use hookmesh_sdk::{Context, Event, HttpRequest, PluginError};
use serde_json::{Map, Value};

/// Prefix of the config keys that build the request body.
pub const MAP_PREFIX: &str = "map.";
/// Razorpay's API.
pub const API_BASE: &str = "https://api.razorpay.com/v1";

/// What to do with an event (config `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /v1/customers`.
    CreateCustomer,
    /// `POST /v1/payment_links`.
    CreatePaymentLink,
}

impl Action {
    /// Every action, by config name.
    pub const ALL: [(&'static str, Action); 2] = [
        ("create_customer", Action::CreateCustomer),
        ("create_payment_link", Action::CreatePaymentLink),
    ];

    /// Reads config `action`.
    pub fn from_config(ctx: &Context) -> Result<Self, PluginError> {
        let names = Self::ALL.map(|(name, _)| name);
        let name = ctx.config_value("action").map(str::trim).unwrap_or("");
        if name.is_empty() {
            return Err(PluginError::InvalidConfig(format!(
                "`action` is required to call Razorpay: one of {names:?}"
            )));
        }
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, action)| *action)
            .ok_or_else(|| {
                PluginError::InvalidConfig(format!(
                    "`action` must be one of {names:?}, not `{name}`"
                ))
            })
    }

    /// The config name, e.g. `create_customer`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("", |(name, _)| *name)
    }

    /// The endpoint called.
    pub fn url(self) -> String {
        match self {
            Action::CreateCustomer => format!("{API_BASE}/customers"),
            Action::CreatePaymentLink => format!("{API_BASE}/payment_links"),
        }
    }

    /// Body fields (dotted paths) that must be whole numbers.
    fn integer_fields(self) -> &'static [&'static str] {
        match self {
            Action::CreateCustomer => &[],
            Action::CreatePaymentLink => &["amount", "expire_by", "first_min_partial_amount"],
        }
    }

    /// Body fields that must be booleans (`"true"`/`"false"` are converted).
    fn boolean_fields(self) -> &'static [&'static str] {
        match self {
            Action::CreateCustomer => &[],
            Action::CreatePaymentLink => &[
                "accept_partial",
                "reminder_enable",
                "upi_link",
                "notify.sms",
                "notify.email",
            ],
        }
    }

    /// Body fields the action needs.
    fn required_fields(self) -> &'static [&'static str] {
        match self {
            Action::CreateCustomer => &[],
            Action::CreatePaymentLink => &["amount"],
        }
    }

    /// Fields set unless mapped: `fail_existing = "0"` makes creating an
    /// existing customer return it instead of failing, so a retried
    /// delivery is harmless.
    fn defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Action::CreateCustomer => &[("fail_existing", "0")],
            Action::CreatePaymentLink => &[],
        }
    }
}

/// The API call for `event`.
pub fn render(event: &Event, ctx: &Context) -> Result<HttpRequest, PluginError> {
    let action = Action::from_config(ctx)?;
    let key_id = credential(ctx, "key_id")?;
    let key_secret = credential(ctx, "key_secret")?;
    let body = body(action, event, ctx)?;
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| PluginError::InvalidEvent(format!("cannot encode the body: {e}")))?;
    Ok(RequestBuilder::post(action.url())
        .basic_auth(key_id, key_secret)
        .json_bytes(bytes)
        .build())
}

/// The request body: every `map.<path>` entry rendered (see the crate doc).
pub fn body(
    action: Action,
    event: &Event,
    ctx: &Context,
) -> Result<Map<String, Value>, PluginError> {
    let tctx = template::context(event)?;
    let mut body = Map::new();
    for (path, source) in ctx.config_prefixed(MAP_PREFIX) {
        let key = format!("{MAP_PREFIX}{path}");
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(PluginError::InvalidConfig(format!(
                "`{key}` is not a valid field path"
            )));
        }
        let Some(value) = template::render_value(&key, source, &tctx)? else {
            continue;
        };
        let value = coerce(action, &key, path, value)?;
        if value.as_str().is_some_and(str::is_empty) {
            continue;
        }
        insert(&mut body, &key, path, value)?;
    }
    for (path, value) in action.defaults() {
        if lookup(&body, path).is_none() {
            insert(&mut body, path, path, Value::String((*value).into()))?;
        }
    }
    for path in action.required_fields() {
        if lookup(&body, path).is_some() {
            continue;
        }
        let key = format!("{MAP_PREFIX}{path}");
        return Err(if ctx.config_value(&key).is_some() {
            PluginError::InvalidEvent(format!("`{key}` rendered nothing for this event"))
        } else {
            PluginError::InvalidConfig(format!("`{key}` is required for {}", action.name()))
        });
    }
    Ok(body)
}

/// Converts known integer and boolean fields, refusing what cannot be.
fn coerce(action: Action, key: &str, path: &str, value: Value) -> Result<Value, PluginError> {
    if action.integer_fields().contains(&path) {
        let whole = match &value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        return whole.map(Value::from).ok_or_else(|| {
            PluginError::InvalidEvent(format!(
                "`{key}` must be a whole number (amounts are in the currency's smallest unit, e.g. paise), not {value}"
            ))
        });
    }
    if action.boolean_fields().contains(&path) {
        return match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s.trim() == "true" => Ok(Value::Bool(true)),
            Value::String(s) if s.trim() == "false" => Ok(Value::Bool(false)),
            _ => Err(PluginError::InvalidEvent(format!(
                "`{key}` must be true or false, not {value}"
            ))),
        };
    }
    Ok(value)
}

/// Sets `path` (dotted) in `body`, creating objects on the way.
fn insert(
    body: &mut Map<String, Value>,
    key: &str,
    path: &str,
    value: Value,
) -> Result<(), PluginError> {
    let conflict =
        || PluginError::InvalidConfig(format!("`{key}` conflicts with another `map.` field"));
    let mut parts = path.split('.').peekable();
    let mut object = body;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if object.contains_key(part) {
                return Err(conflict());
            }
            object.insert(part.to_string(), value);
            return Ok(());
        }
        let next = object
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        object = next.as_object_mut().ok_or_else(conflict)?;
    }
    Ok(())
}

fn lookup<'a>(body: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = body.get(parts.next()?)?;
    parts.try_fold(first, |value, part| value.get(part))
}

fn credential<'a>(ctx: &'a Context, key: &str) -> Result<&'a str, PluginError> {
    ctx.config_value(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            PluginError::InvalidConfig(format!("`{key}` is required for Razorpay API calls"))
        })
}
