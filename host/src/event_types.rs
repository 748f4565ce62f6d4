//! The event-type catalogue and the shape of type names and
//! subscriptions. A leaf: it imports nothing of hookmesh, so validation,
//! routing and the API all build on it.

/// The built-in event types every project accepts.
pub const BUILTIN_EVENT_TYPES: &[&str] = &[
    "auth.signup",
    "auth.login",
    "auth.password_reset",
    "db.insert",
    "db.update",
    "db.delete",
    "storage.upload",
    "storage.delete",
    "functions.invoked",
    "functions.error",
    "user.created",
    "user.updated",
    "user.deleted",
];

/// Operational events hookmesh emits about a project's own endpoints. They
/// reach only endpoints that name them (exactly or as `delivery.*` /
/// `endpoint.*`), never `*` subscribers: one customer's endpoint must not
/// hear about another's.
pub const OPERATIONAL_EVENT_TYPES: &[&str] = &[
    "delivery.exhausted",
    "endpoint.failing",
    "endpoint.disabled",
];

/// Longest accepted event type.
const MAX_EVENT_TYPE_LEN: usize = 128;

/// A field that fails validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path, e.g. `event` or `events[3].payload`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

pub(crate) fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// True when `event_type` is built in, operational, or one of the
/// project's `custom_event_types`.
pub fn is_known_type(custom_event_types: &[String], event_type: &str) -> bool {
    BUILTIN_EVENT_TYPES.contains(&event_type)
        || OPERATIONAL_EVENT_TYPES.contains(&event_type)
        || custom_event_types.iter().any(|t| t == event_type)
}

/// Checks an event type's shape: `a-z 0-9 _ - .`, dot-separated, ≤ 128.
pub fn check_type_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() || name.len() > MAX_EVENT_TYPE_LEN {
        return Err(field_error(
            field,
            format!("must be 1-{MAX_EVENT_TYPE_LEN} characters"),
        ));
    }
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !valid_chars || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(field_error(
            field,
            format!("`{name}` must be lower-case words of a-z, 0-9, `_` or `-` separated by dots"),
        ));
    }
    Ok(())
}

/// Validates a subscription pattern: `*`, `prefix.*`, or an exact type.
pub fn check_subscription(field: &str, pattern: &str) -> Result<(), FieldError> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    check_type_name(field, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert!(check_type_name("event", "order.paid").is_ok());
        assert!(check_type_name("event", "Order.Paid").is_err());
        assert!(check_type_name("event", "a..b").is_err());
        assert!(check_type_name("event", "").is_err());
        assert!(check_subscription("events[0]", "db.*").is_ok());
        assert!(check_subscription("events[0]", "db.**").is_err());
    }
}
