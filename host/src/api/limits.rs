//! Rate limits as the API answers them.
//!
//! - Ingestion (`POST /projects/{p}/events`, `…/events/bulk`,
//!   `POST /inbound/{p}/{provider}`) takes from the project's bucket: its
//!   own `ingest_limit`, else the `[ingest]` default. Every answer that
//!   reached the bucket (`202`, `207`, `200` from inbound, `429`) carries
//!   its numbers.
//! - The management API (every route that needs the admin token or a
//!   secret key) has a bucket per caller at the `[management]` rate: one
//!   for the admin token, one per key (by its SHA-256, the form keys are
//!   stored in). [`management_limit`] takes one token before the handler
//!   runs, so a refused request does nothing; requests without credentials
//!   pass to the handler's `401` untouched.
//!
//! The headers: `X-RateLimit-Limit` is the bucket's size (the burst: the
//! most requests or events accepted at once), `X-RateLimit-Remaining` the
//! whole tokens left after this request, `X-RateLimit-Reset` the seconds
//! (rounded up) until the bucket is full again. A `429` also carries
//! `Retry-After`: the seconds (rounded up, at least 1) until the request
//! would pass.

use super::error::ApiError;
use super::AppState;
use crate::signing::{constant_time_eq, hash_api_key};
use crate::store::{Bucket, Quota};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use std::time::Duration;

/// The bucket's size.
pub const LIMIT_HEADER: &str = "x-ratelimit-limit";
/// Whole tokens left.
pub const REMAINING_HEADER: &str = "x-ratelimit-remaining";
/// Seconds until the bucket is full again.
pub const RESET_HEADER: &str = "x-ratelimit-reset";
/// The bucket name of the admin token's management requests.
const ADMIN_CALLER: &str = "admin";

/// Whole seconds, rounded up.
pub fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs();
    match wait.subsec_nanos() {
        0 => secs,
        _ => secs + 1,
    }
}

/// Writes the quota's `X-RateLimit-*` headers.
pub fn insert_headers(headers: &mut HeaderMap, quota: &Quota) {
    for (name, value) in [
        (LIMIT_HEADER, u64::from(quota.limit)),
        (REMAINING_HEADER, u64::from(quota.remaining)),
        (RESET_HEADER, ceil_secs(quota.reset)),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// The response with the quota's headers (when there is one).
pub fn with_quota(mut response: HttpResponse, quota: Option<&Quota>) -> HttpResponse {
    if let Some(quota) = quota {
        insert_headers(response.headers_mut(), quota);
    }
    response
}

/// The management bucket of the credential presented, if any: `admin`
/// for the admin token, else the key's SHA-256.
fn management_caller(state: &AppState, req: &ServiceRequest) -> Option<String> {
    let token = super::auth::credential(req.request())?;
    Some(match constant_time_eq(token, &state.admin_token) {
        true => ADMIN_CALLER.to_string(),
        false => hash_api_key(token),
    })
}

/// Takes one token from the caller's management bucket before the
/// handler runs; `429` (nothing done) when it is empty. Every answer of
/// the route then carries the bucket's headers.
pub async fn management_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(caller) = management_caller(&state, &req) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let taken = state
        .store
        .take_quota(Bucket::Management(caller), state.management_rate, 1)
        .await;
    let quota = match taken {
        Ok(quota) => quota,
        Err(error) => {
            let answer = ApiError::from(error).error_response();
            return Ok(req.into_response(answer).map_into_right_body());
        }
    };
    if quota.retry_after.is_some() {
        state
            .metrics
            .rate_limited
            .with_label_values(&["management"])
            .inc();
        let refused = ApiError::RateLimited {
            message: "over the management API's limit for this key; retry after the indicated time"
                .into(),
            quota,
        };
        return Ok(req
            .into_response(refused.error_response())
            .map_into_right_body());
    }
    let mut response = next.call(req).await?;
    insert_headers(response.headers_mut(), &quota);
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_seconds_round_up() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn headers_come_from_the_quota() {
        let quota = Quota {
            limit: 3,
            remaining: 1,
            reset: Duration::from_millis(1200),
            retry_after: None,
        };
        let response = with_quota(HttpResponse::Accepted().finish(), Some(&quota));
        let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header("X-RateLimit-Limit"), "3");
        assert_eq!(header("X-RateLimit-Remaining"), "1");
        assert_eq!(header("X-RateLimit-Reset"), "2");
    }
}
