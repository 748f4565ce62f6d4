//! Discord's message limits, checked before sending so a too-long message is
//! a clear render error instead of a `400 Invalid Form Body` at send time.
//!
//! Lengths are counted in characters (Unicode scalar values).

use hookmesh_sdk::PluginError;
use serde_json::{Map, Value};

/// `content`.
pub const MAX_CONTENT: usize = 2000;
/// Embeds in one message.
pub const MAX_EMBEDS: usize = 10;
/// `embeds[].title`.
pub const MAX_TITLE: usize = 256;
/// `embeds[].description`.
pub const MAX_DESCRIPTION: usize = 4096;
/// `embeds[].fields`.
pub const MAX_FIELDS: usize = 25;
/// `embeds[].fields[].name`.
pub const MAX_FIELD_NAME: usize = 256;
/// `embeds[].fields[].value`.
pub const MAX_FIELD_VALUE: usize = 1024;
/// `embeds[].footer.text`.
pub const MAX_FOOTER: usize = 2048;
/// `embeds[].author.name`.
pub const MAX_AUTHOR_NAME: usize = 256;
/// Title, description, field names and values, footer and author name of
/// all embeds together.
pub const MAX_EMBEDS_TOTAL: usize = 6000;
/// `username`.
pub const MAX_USERNAME: usize = 80;

/// Checks a message's `content` and `embeds` (see the module doc).
pub fn check_message(content: Option<&str>, embeds: &[Value]) -> Result<(), PluginError> {
    let content = content.filter(|c| !c.trim().is_empty());
    if content.is_none() && embeds.is_empty() {
        return Err(invalid(
            "the message is empty: `content` and `embeds` rendered nothing".into(),
        ));
    }
    if let Some(content) = content {
        check_len("content", content, MAX_CONTENT)?;
    }
    if embeds.len() > MAX_EMBEDS {
        return Err(invalid(format!(
            "too many embeds: {}, limit is {MAX_EMBEDS}",
            embeds.len()
        )));
    }
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        total += check_embed(i, embed)?;
    }
    if total > MAX_EMBEDS_TOTAL {
        return Err(invalid(format!(
            "embeds too long: {total} characters in all, limit is {MAX_EMBEDS_TOTAL}"
        )));
    }
    Ok(())
}

/// Checks a webhook `username` override.
pub fn check_username(username: &str) -> Result<(), PluginError> {
    check_len("username", username, MAX_USERNAME)?;
    let lower = username.to_lowercase();
    if lower.contains("discord") || lower.contains("clyde") {
        return Err(invalid(format!(
            "username `{username}` may not contain `discord` or `clyde`"
        )));
    }
    Ok(())
}

/// Checks one embed; returns the characters it adds to the total.
fn check_embed(i: usize, embed: &Value) -> Result<usize, PluginError> {
    let Value::Object(embed) = embed else {
        return Err(invalid(format!("embeds[{i}] is not a JSON object")));
    };
    let mut total = 0;
    total += text(embed, &format!("embeds[{i}].title"), "title", MAX_TITLE)?;
    let description = format!("embeds[{i}].description");
    total += text(embed, &description, "description", MAX_DESCRIPTION)?;
    if let Some(footer) = object(embed, &format!("embeds[{i}].footer"), "footer")? {
        total += text(
            footer,
            &format!("embeds[{i}].footer.text"),
            "text",
            MAX_FOOTER,
        )?;
    }
    if let Some(author) = object(embed, &format!("embeds[{i}].author"), "author")? {
        total += text(
            author,
            &format!("embeds[{i}].author.name"),
            "name",
            MAX_AUTHOR_NAME,
        )?;
    }
    match embed.get("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(fields)) => {
            if fields.len() > MAX_FIELDS {
                return Err(invalid(format!(
                    "embeds[{i}] has too many fields: {}, limit is {MAX_FIELDS}",
                    fields.len()
                )));
            }
            for (j, field) in fields.iter().enumerate() {
                let path = format!("embeds[{i}].fields[{j}]");
                let Value::Object(field) = field else {
                    return Err(invalid(format!("{path} is not a JSON object")));
                };
                for (key, max) in [("name", MAX_FIELD_NAME), ("value", MAX_FIELD_VALUE)] {
                    let len = text(field, &format!("{path}.{key}"), key, max)?;
                    if len == 0 {
                        return Err(invalid(format!("{path}.{key} is empty")));
                    }
                    total += len;
                }
            }
        }
        Some(_) => return Err(invalid(format!("embeds[{i}].fields is not an array"))),
    }
    Ok(total)
}

/// The length of string `key` of `object` (0 when absent), checked against `max`.
fn text(
    object: &Map<String, Value>,
    path: &str,
    key: &str,
    max: usize,
) -> Result<usize, PluginError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => check_len(path, s, max),
        Some(_) => Err(invalid(format!("{path} is not a string"))),
    }
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, PluginError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(format!("{path} is not a JSON object"))),
    }
}

fn check_len(path: &str, s: &str, max: usize) -> Result<usize, PluginError> {
    let len = s.chars().count();
    if len > max {
        return Err(invalid(format!(
            "{path} too long: {len} characters, limit is {max}"
        )));
    }
    Ok(len)
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidEvent(format!("discord message: {message}"))
}
