//! Reading JSON request bodies: a size limit answered with `413`, and
//! decoding errors that name the offending field (`events[3].payload:
//! invalid type: string "x", expected a map`).

use super::error::ApiError;
use actix_web::web;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

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
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    {
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

/// An optional text field (a label, a name shown to people): when given,
/// 1 to `max` characters and no control character, or `400` naming `field`.
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let chars = value.chars().count();
    if chars == 0 || chars > max || value.chars().any(char::is_control) {
        return Err(ApiError::bad(
            field,
            format!("must be 1-{max} characters without control characters"),
        ));
    }
    Ok(Some(value))
}

/// Reads a whole number that JSON may spell `5` or `5.0` (JSON Schema's
/// `integer` admits both), refusing fractions, negatives and values past
/// `u64`.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_u64() {
        return Ok(n);
    }
    match number.as_f64() {
        // `u64::MAX as f64` rounds up to 2^64, which is past the range.
        Some(f) if f.fract() == 0.0 && (0.0..u64::MAX as f64).contains(&f) => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!(
            "`{number}` is not a whole number from 0 to {}",
            u64::MAX
        ))),
    }
}

/// [`whole_number`], optional (`null` or absent is `None`).
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] u64);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|Whole(n)| n))
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

    #[derive(Debug, Deserialize)]
    struct Times {
        #[serde(deserialize_with = "whole_number")]
        at: u64,
        #[serde(default, deserialize_with = "optional_whole_number")]
        until: Option<u64>,
    }

    #[test]
    fn whole_numbers_may_be_spelled_as_floats() {
        let times: Times = decode(br#"{"at": 1958935593338.0, "until": null}"#).unwrap();
        assert_eq!((times.at, times.until), (1_958_935_593_338, None));
        let times: Times = decode(br#"{"at": 7, "until": 8.0}"#).unwrap();
        assert_eq!((times.at, times.until), (7, Some(8)));
        for bad in [
            r#"{"at": 1.5}"#,
            r#"{"at": -1}"#,
            r#"{"at": 1e30}"#,
            r#"{"at": "1"}"#,
        ] {
            match decode::<Times>(bad.as_bytes()).unwrap_err() {
                ApiError::BadRequest { field, .. } => assert_eq!(field, "at", "{bad}"),
                other => panic!("unexpected {other}"),
            }
        }
        match decode::<Times>(b"[1, 2]").unwrap_err() {
            ApiError::BadRequest { message, .. } => {
                assert!(message.contains("object"), "{message}")
            }
            other => panic!("unexpected {other}"),
        }
    }
}
