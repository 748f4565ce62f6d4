//! A sample payload built from a declared type's JSON Schema, for
//! rendering templates at registration: every declared property present,
//! each value of its declared type (`const`, `enum`, `default` or
//! `examples` first; formats such as `email` and `date-time` honoured;
//! numbers within `minimum`/`maximum`). Local `$ref`s are followed.
//!
//! The sample is *definite* when every value in it came from a declared
//! type; a schema that leaves a value open (no `type`, a `required` name
//! without a property schema, an object without `properties`) gives an indefinite sample, on which only
//! template syntax is judged.

use serde_json::{json, Map, Value};

/// Deepest nesting followed.
const MAX_DEPTH: usize = 16;

/// A sample instance of `schema`, and whether it is definite.
pub fn sample(schema: &Value) -> (Value, bool) {
    let mut definite = true;
    let value = generate(schema, schema, 0, &mut definite);
    (value, definite)
}

fn generate(schema: &Value, root: &Value, depth: usize, definite: &mut bool) -> Value {
    let Some(obj) = schema.as_object().filter(|_| depth < MAX_DEPTH) else {
        *definite = false;
        return Value::Null;
    };
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        return match resolve(root, target) {
            Some(next) => generate(next, root, depth + 1, definite),
            None => {
                *definite = false;
                Value::Null
            }
        };
    }
    if let Some(value) = obj.get("const") {
        return value.clone();
    }
    let listed = |key: &str| obj.get(key).and_then(Value::as_array)?.first().cloned();
    if let Some(value) = listed("enum")
        .or_else(|| obj.get("default").cloned())
        .or_else(|| listed("examples"))
    {
        return value;
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            let mut merged = obj.clone();
            merged.remove(key);
            for (k, v) in first.as_object().into_iter().flatten() {
                merged.entry(k.clone()).or_insert_with(|| v.clone());
            }
            return generate(&Value::Object(merged), root, depth + 1, definite);
        }
    }
    match declared_type(obj).as_deref() {
        Some("object") => object(obj, root, depth, definite),
        Some("array") => array(obj, root, depth, definite),
        Some("string") => string(obj),
        Some("integer") => number(obj, true),
        Some("number") => number(obj, false),
        Some("boolean") => Value::Bool(true),
        Some("null") => Value::Null,
        _ => {
            *definite = false;
            Value::Null
        }
    }
}

/// `type` (the first non-null of a list), or what the keywords imply.
fn declared_type(obj: &Map<String, Value>) -> Option<String> {
    match obj.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null"))
            .map(str::to_string),
        _ if obj.contains_key("properties") => Some("object".into()),
        _ if obj.contains_key("items") => Some("array".into()),
        _ => None,
    }
}

/// A local reference, `#` or `#/$defs/name`.
fn resolve<'a>(root: &'a Value, target: &str) -> Option<&'a Value> {
    let pointer = target.strip_prefix('#')?;
    root.pointer(pointer)
}

fn object(obj: &Map<String, Value>, root: &Value, depth: usize, definite: &mut bool) -> Value {
    let mut out = Map::new();
    match obj.get("properties").and_then(Value::as_object) {
        Some(properties) => {
            for (name, schema) in properties {
                out.insert(name.clone(), generate(schema, root, depth + 1, definite));
            }
        }
        // An object that declares no properties says nothing of its fields.
        None => *definite = false,
    }
    let required = obj.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if !out.contains_key(name) {
            *definite = false;
            out.insert(name.to_string(), json!("sample"));
        }
    }
    Value::Object(out)
}

fn array(obj: &Map<String, Value>, root: &Value, depth: usize, definite: &mut bool) -> Value {
    let count = obj
        .get("minItems")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let item = match obj.get("items") {
        Some(items) => generate(items, root, depth + 1, definite),
        None => {
            *definite = false;
            Value::Null
        }
    };
    Value::Array(vec![item; count as usize])
}

fn string(obj: &Map<String, Value>) -> Value {
    let mut text = match obj.get("format").and_then(Value::as_str) {
        Some("email") => "user@example.com",
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("date") => "2026-01-01",
        Some("time") => "00:00:00Z",
        Some("uri" | "url" | "iri") => "https://example.com/",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        Some("hostname") => "example.com",
        _ => "sample",
    }
    .to_string();
    let length = |key: &str| obj.get(key).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(min) = length("minLength") {
        while text.chars().count() < min.min(1024) {
            text.push('x');
        }
    }
    if let Some(max) = length("maxLength") {
        text = text.chars().take(max).collect();
    }
    Value::String(text)
}

fn number(obj: &Map<String, Value>, integer: bool) -> Value {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64);
    let mut n: f64 = 1.0;
    if let Some(min) = bound("minimum").filter(|m| n < *m) {
        n = min;
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|m| n <= *m) {
        n = min + 1.0;
    }
    if let Some(max) = bound("maximum").filter(|m| n > *m) {
        n = max;
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|m| n >= *m) {
        n = max - 1.0;
    }
    if integer {
        json!(n.ceil() as i64)
    } else {
        json!(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_property_gets_a_value_of_its_type() {
        let schema = json!({
            "type": "object",
            "required": ["email"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "total_cents": {"type": "integer", "minimum": 100},
                "plan": {"enum": ["pro", "free"]},
                "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
                "note": {"type": ["null", "string"], "minLength": 8}
            },
            "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}}}}
        });
        let (value, definite) = sample(&schema);
        assert!(definite);
        assert_eq!(
            value,
            json!({"email": "user@example.com", "total_cents": 100, "plan": "pro",
                   "items": [{"sku": "sample"}], "note": "samplexx"})
        );
    }

    #[test]
    fn open_values_make_the_sample_indefinite() {
        assert!(!sample(&json!({"type": "object", "required": ["x"]})).1);
        assert!(!sample(&json!({"type": "object", "properties": {"x": {}}})).1);
        assert!(!sample(&json!({"$ref": "#/nowhere"})).1);
        assert!(!sample(&json!({"type": "object"})).1);
        assert!(sample(&json!({"properties": {"a": {"type": "string"}}})).1);
    }
}
