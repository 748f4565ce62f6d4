//! The event-type catalogue and the shape of type names and
//! subscriptions: which types a project accepts ([`admit`]: open by
//! default, `strict_event_types` for the catalogue only), the JSON Schema
//! a declared type's payload must meet ([`check_payload`]), and the
//! checks on a declared type ([`check_schema`], [`check_description`]).
//! It reads a [`Project`] and imports nothing else of hookmesh, so
//! validation, routing and the API all build on it.
//!
//! Schemas are JSON Schema (draft 2020-12 unless `$schema` names another),
//! checked with the `jsonschema` crate, formats included (`email`,
//! `date-time`, …); remote `$ref`s are not fetched (a schema that needs
//! one is refused when declared). A schema is compiled again for each
//! event of its type (tens of microseconds for a typical schema), so
//! nothing is cached between requests.

use crate::store::{CustomEventType, Project};

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
pub const MAX_EVENT_TYPE_LEN: usize = 128;

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

/// Most undeclared types an open project's catalogue keeps; a request
/// with a type beyond them is refused (declare it, or remove unused ones).
pub const MAX_SEEN_EVENT_TYPES: usize = 1000;
/// Most declared types per project.
pub const MAX_CUSTOM_EVENT_TYPES: usize = 500;
/// Largest schema, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 32 * 1024;
/// Most schema text per project: the project record is read on every
/// ingestion request, so its size is kept small.
pub const MAX_PROJECT_SCHEMA_BYTES: usize = 256 * 1024;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// True when `event_type` is built in, operational, or declared by the
/// project.
pub fn is_known_type(project: &Project, event_type: &str) -> bool {
    BUILTIN_EVENT_TYPES.contains(&event_type)
        || OPERATIONAL_EVENT_TYPES.contains(&event_type)
        || project.custom_type(event_type).is_some()
}

/// How a project takes an event type an app sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeAdmission {
    /// In the catalogue already.
    Known,
    /// Accepted (open project) and new to its catalogue: record it as seen.
    New,
}

/// Whether `project` accepts `event_type` (named `field` in errors): any
/// well-formed type when open, the catalogue only when strict.
pub fn admit(
    project: &Project,
    field: &str,
    event_type: &str,
) -> Result<TypeAdmission, FieldError> {
    check_type_name(field, event_type)?;
    if is_known_type(project, event_type) {
        return Ok(TypeAdmission::Known);
    }
    if project.strict_event_types {
        return Err(field_error(
            field,
            format!(
                "unknown event type `{event_type}`: project `{}` has strict_event_types; declare it with PUT /projects/{}/integrations/events/{event_type}, see GET /projects/{}/integrations/events",
                project.id, project.id, project.id
            ),
        ));
    }
    match project.seen_event_types.iter().any(|t| t == event_type) {
        true => Ok(TypeAdmission::Known),
        false => Ok(TypeAdmission::New),
    }
}

/// Types new to a project's catalogue in one request, within
/// [`MAX_SEEN_EVENT_TYPES`].
#[derive(Debug, Default)]
pub struct NewTypes {
    room: usize,
    types: Vec<String>,
}

impl NewTypes {
    /// Room left in `project`'s catalogue.
    pub fn for_project(project: &Project) -> Self {
        Self {
            room: MAX_SEEN_EVENT_TYPES.saturating_sub(project.seen_event_types.len()),
            types: Vec::new(),
        }
    }

    /// Notes a type [`admit`] called new; refused when the catalogue is full.
    pub fn note(&mut self, field: &str, event_type: &str) -> Result<(), FieldError> {
        if self.types.iter().any(|t| t == event_type) {
            return Ok(());
        }
        if self.types.len() >= self.room {
            return Err(field_error(
                field,
                format!(
                    "`{event_type}` would be undeclared type number {}; a project keeps at most {MAX_SEEN_EVENT_TYPES}: declare the types you use, or remove unused ones with DELETE …/integrations/events/{{type}}",
                    MAX_SEEN_EVENT_TYPES + 1
                ),
            ));
        }
        self.types.push(event_type.to_string());
        Ok(())
    }

    /// The new types, in the order first noted.
    pub fn into_types(self) -> Vec<String> {
        self.types
    }
}

/// Adds `types` to the project's seen types (kept sorted, once each, at
/// most [`MAX_SEEN_EVENT_TYPES`]).
pub fn record_seen(project: &mut Project, types: &[String]) {
    for event_type in types {
        let known = is_known_type(project, event_type)
            || project.seen_event_types.iter().any(|t| t == event_type);
        if !known && project.seen_event_types.len() < MAX_SEEN_EVENT_TYPES {
            project.seen_event_types.push(event_type.clone());
        }
    }
    project.seen_event_types.sort();
}

/// Compiles a schema the way ingestion does.
fn compile(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Checks a schema to declare for a type (an object or boolean, at most
/// [`MAX_SCHEMA_BYTES`], valid JSON Schema); returns it as JSON text.
pub fn check_schema(field: &str, schema: &serde_json::Value) -> Result<String, FieldError> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err(field_error(
            field,
            "must be a JSON Schema (an object or a boolean)",
        ));
    }
    let text = schema.to_string();
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(field_error(
            field,
            format!("is {} bytes; at most {MAX_SCHEMA_BYTES}", text.len()),
        ));
    }
    compile(schema).map_err(|e| field_error(field, format!("not a usable JSON Schema: {e}")))?;
    Ok(text)
}

/// Checks that the declared types' schemas fit [`MAX_PROJECT_SCHEMA_BYTES`].
pub fn check_schema_total(field: &str, types: &[CustomEventType]) -> Result<(), FieldError> {
    let total: usize = types
        .iter()
        .filter_map(|t| t.schema.as_ref())
        .map(String::len)
        .sum();
    if total > MAX_PROJECT_SCHEMA_BYTES {
        return Err(field_error(
            field,
            format!("the project's schemas would take {total} bytes; at most {MAX_PROJECT_SCHEMA_BYTES} in all"),
        ));
    }
    Ok(())
}

/// Checks a declared type's description.
pub fn check_description(field: &str, description: &str) -> Result<(), FieldError> {
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS || description.chars().any(char::is_control) {
        return Err(field_error(
            field,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters, none a control character"),
        ));
    }
    Ok(())
}

/// Checks `payload` against the schema of its declared type, if it has
/// one; the error names the failing path under `payload_field`
/// (`payload.items[0].sku`) and says which rule failed.
pub fn check_payload(
    project: &Project,
    payload_field: &str,
    event_type: &str,
    payload: &str,
) -> Result<(), FieldError> {
    let Some(schema) = project
        .custom_type(event_type)
        .and_then(|t| t.schema.as_deref())
    else {
        return Ok(());
    };
    let broken = |e: String| field_error(payload_field, e);
    let schema: serde_json::Value = serde_json::from_str(schema)
        .map_err(|e| broken(format!("the schema of `{event_type}` is unreadable: {e}")))?;
    let validator = compile(&schema).map_err(|e| {
        broken(format!(
            "the schema of `{event_type}` does not compile: {e}"
        ))
    })?;
    let instance: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| broken(e.to_string()))?;
    let mut errors = validator.iter_errors(&instance);
    let Some(first) = errors.next() else {
        return Ok(());
    };
    let more = errors.count();
    let mut field = payload_field.to_string();
    for segment in first.instance_path().segments() {
        match segment {
            jsonschema::paths::LocationSegment::Index(i) => field.push_str(&format!("[{i}]")),
            jsonschema::paths::LocationSegment::Property(name) => {
                field.push('.');
                field.push_str(&name);
            }
        }
    }
    let also = match more {
        0 => String::new(),
        n => format!("; {n} more error(s)"),
    };
    Err(field_error(
        &field,
        format!(
            "{first} (schema of `{event_type}` at {}){also}",
            match first.schema_path().as_str() {
                "" => "/",
                path => path,
            }
        ),
    ))
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

    fn project(strict: bool) -> Project {
        let mut project = Project::new("p".into(), "P".into(), 0);
        project.strict_event_types = strict;
        project.custom_event_types = vec![CustomEventType {
            name: "order.completed".into(),
            description: None,
            schema: Some(
                r#"{"type":"object","properties":{"items":{"type":"array","items":{"required":["sku"]}}}}"#
                    .into(),
            ),
        }];
        project
    }

    #[test]
    fn open_projects_take_any_type_and_remember_it() {
        let mut open = project(false);
        assert_eq!(
            admit(&open, "event", "user.created"),
            Ok(TypeAdmission::Known)
        );
        assert_eq!(
            admit(&open, "event", "order.completed"),
            Ok(TypeAdmission::Known)
        );
        assert_eq!(
            admit(&open, "event", "lesson.completed"),
            Ok(TypeAdmission::New)
        );
        assert!(admit(&open, "event", "Lesson").is_err());
        let mut new = NewTypes::for_project(&open);
        new.note("event", "lesson.completed").unwrap();
        new.note("events[1].event", "lesson.completed").unwrap();
        record_seen(&mut open, &new.into_types());
        assert_eq!(open.seen_event_types, ["lesson.completed"]);
        assert_eq!(
            admit(&open, "event", "lesson.completed"),
            Ok(TypeAdmission::Known)
        );
        let strict = Project {
            strict_event_types: true,
            ..open.clone()
        };
        let refused = admit(&strict, "events[2].event", "lesson.completed").unwrap_err();
        assert_eq!(refused.field, "events[2].event");
        open.seen_event_types = (0..MAX_SEEN_EVENT_TYPES)
            .map(|i| format!("t.{i}"))
            .collect();
        let mut full = NewTypes::for_project(&open);
        assert!(full.note("event", "one.more").is_err());
    }

    #[test]
    fn payload_errors_name_the_path() {
        let project = project(false);
        let ok = r#"{"items":[{"sku":"a"}]}"#;
        assert!(check_payload(&project, "payload", "order.completed", ok).is_ok());
        assert!(check_payload(&project, "payload", "other.type", "{}").is_ok());
        let bad = r#"{"items":[{"sku":"a"},{}]}"#;
        let error =
            check_payload(&project, "events[3].payload", "order.completed", bad).unwrap_err();
        assert_eq!(error.field, "events[3].payload.items[1]");
        assert!(
            error.message.contains("/properties/items/items/required"),
            "{}",
            error.message
        );
        assert!(check_schema("schema", &serde_json::json!({"type": 5})).is_err());
        assert!(check_schema("schema", &serde_json::json!(true)).is_ok());
    }

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
