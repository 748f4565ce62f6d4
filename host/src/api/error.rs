//! API errors: one enum, one `ResponseError` impl, JSON bodies
//! `{"error": code, "message": text, "field"?: path}`. Internal errors are
//! logged and answered with a generic message.

use super::limits::{ceil_secs, insert_headers};
use crate::ingest::FieldError;
use crate::store::{Quota, StoreError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a field is missing or invalid.
    #[error("{field}: {message}")]
    BadRequest {
        /// Path of the field (`body` for the document as a whole).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 401: no or unknown credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: valid credentials without the right.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 413
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 429 with `Retry-After` and the bucket's `X-RateLimit-*` headers.
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// The bucket's answer; `retry_after` is the wait.
        quota: Quota,
    },
    /// 503 with `Retry-After`: storage unavailable. The request was not
    /// acknowledged; on a shared store part of an ingestion may have been
    /// written and is finished later, so a retry should carry the same
    /// idempotency key.
    #[error("storage unavailable; the request was not acknowledged: retry later (with the same Idempotency-Key, an event is never stored twice)")]
    Unavailable,
    /// 500: logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// 400 for `field`.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::BadRequest {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => Self::NotFound(format!("{what} `{id}` not found")),
            StoreError::Conflict(reason) => Self::Conflict(reason),
            StoreError::Backend(reason) | StoreError::Unavailable(reason) => {
                tracing::error!(%reason, "store unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::RateLimited { quota, .. } => {
                let wait = ceil_secs(quota.retry_after.unwrap_or_default()).max(1);
                response.insert_header(("Retry-After", wait.to_string()));
            }
            Self::Unavailable => {
                response.insert_header(("Retry-After", "1"));
            }
            Self::Unauthorized(_) => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            _ => {}
        }
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let Self::BadRequest { field, .. } = self {
            body["field"] = json!(field);
        }
        let mut answer = response.json(body);
        if let Self::RateLimited { quota, .. } = self {
            insert_headers(answer.headers_mut(), quota);
        }
        answer
    }
}
