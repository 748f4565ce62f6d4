//! Reading JSON request bodies: a size limit answered with `413`, and
//! decoding errors that name the offending field (`events[3].payload:
//! invalid type: string "x", expected a map`).

use super::error::ApiError;
use actix_web::web;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// Reads at most `limit` bytes and decodes them as `T`.
pub async fn read_json<T: DeserializeOwned>(
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    decode(&read_limited(payload, limit).await?)
}

/// Like [`read_json`], but an empty body means `T::default()`.
pub async fn read_json_or_default<T: DeserializeOwned + Default>(
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let body = read_limited(payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    decode(&body)
}

async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad("body", format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decodes `body`, naming the field on error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad("body", "is empty; expected a JSON object"));
    }
    // serde reads a struct from an array too (`[null, null]`); the API
    // takes objects only.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(ApiError::bad("body", "must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad("body", format!("malformed JSON: {inner}"));
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::bad(field, strip_position(&inner.to_string()))
    })
}

/// serde_json appends " at line 1 column 12"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        event: String,
        n: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Item>,
    }

    fn err(body: &str) -> (String, String) {
        match decode::<Outer>(body.as_bytes()).unwrap_err() {
            ApiError::BadRequest { field, message } => (field, message),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(r#"{"items":[{"event":"a","n":1},{"event":5,"n":1}]}"#).0,
            "items[1].event"
        );
        let (field, message) = err(r#"{"items":[{"n":1}]}"#);
        assert_eq!(field, "items[0]");
        assert!(message.contains("missing field `event`"), "{message}");
        assert_eq!(err("{nope").0, "body");
        assert_eq!(err("").0, "body");
        let (field, message) = err(r#"{"items":[{"event":"a","n":1,"x":2}]}"#);
        assert_eq!(field, "items[0].x");
        assert!(message.contains("unknown field `x`"), "{message}");
    }
}
