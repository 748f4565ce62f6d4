//! Who is calling: the admin token, a project's secret key (management and
//! ingestion) or its publishable key (ingestion only). Credentials come as
//! `Authorization: Bearer <token>` or `X-API-Key: <token>`. Keys are looked
//! up by their SHA-256 on every request, so a revoked key is refused at
//! once on every instance; an expired key gets a `401` saying so. Each
//! key's last use is written at most once a minute per instance
//! ([`KeyUsage`]). The admin token is compared in constant time.

use super::error::ApiError;
use super::AppState;
use crate::signing::{constant_time_eq, hash_api_key};
use crate::store::{ApiKey, KeyKind, Project};
use actix_web::HttpRequest;
use std::collections::HashMap;
use std::sync::Mutex;

/// How often one instance writes a key's last use.
const USE_WRITE_INTERVAL_MS: u64 = 60_000;
/// Keys remembered before the memory of writes starts over.
const MAX_REMEMBERED_KEYS: usize = 10_000;

/// When this instance last wrote each key's last use.
#[derive(Debug, Default)]
pub struct KeyUsage {
    written_ms: Mutex<HashMap<String, u64>>,
}

impl KeyUsage {
    /// Whether `key`'s use at `now_ms` should be written (and, if so,
    /// remembers it as written).
    fn due(&self, key: &ApiKey, now_ms: u64) -> bool {
        let mut written = self.written_ms.lock().unwrap_or_else(|e| e.into_inner());
        let last = written
            .get(&key.hash)
            .copied()
            .or(key.last_used_ms)
            .unwrap_or(0);
        if now_ms.saturating_sub(last) < USE_WRITE_INTERVAL_MS {
            return false;
        }
        if written.len() >= MAX_REMEMBERED_KEYS {
            written.clear();
        }
        written.insert(key.hash.clone(), now_ms);
        true
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator.
    Admin,
    /// A project's key.
    Key {
        /// Its project.
        project_id: String,
        /// What it may do.
        kind: KeyKind,
    },
}

fn credential(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let mut parts = value.splitn(2, ' ');
        if parts
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            return parts.next().map(str::trim).filter(|t| !t.is_empty());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Identifies the caller or answers `401`.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Principal, ApiError> {
    Ok(authenticate_loading(state, req, None).await?.0)
}

/// Identifies the caller (or answers `401`) and reads `project_id`'s
/// record in the same store call (in place on the embedded store, one
/// pipelined round trip on Redis).
pub async fn authenticate_with_project(
    state: &AppState,
    req: &HttpRequest,
    project_id: &str,
) -> Result<(Principal, Option<Project>), ApiError> {
    authenticate_loading(state, req, Some(project_id)).await
}

async fn authenticate_loading(
    state: &AppState,
    req: &HttpRequest,
    project_id: Option<&str>,
) -> Result<(Principal, Option<Project>), ApiError> {
    let Some(token) = credential(req) else {
        return Err(ApiError::Unauthorized(
            "missing credentials: send `Authorization: Bearer <key>` or `X-API-Key: <key>`".into(),
        ));
    };
    let hash = (!constant_time_eq(token, &state.admin_token)).then(|| hash_api_key(token));
    let is_admin = hash.is_none();
    let (key, project) = state
        .store
        .api_key_and_project(hash, project_id.map(str::to_string))
        .await?;
    let principal = match key {
        _ if is_admin => Principal::Admin,
        Some(key) => {
            let now = crate::now_ms();
            check_expiry(&key, now)?;
            record_use(state, &key, now).await;
            Principal::Key {
                project_id: key.project_id,
                kind: key.kind,
            }
        }
        None => return Err(ApiError::Unauthorized("invalid API key".into())),
    };
    Ok((principal, project))
}

/// `401` for a key past its expiry.
fn check_expiry(key: &ApiKey, now_ms: u64) -> Result<(), ApiError> {
    match key.expires_ms {
        Some(at) if key.expired(now_ms) => Err(ApiError::Unauthorized(format!(
            "API key `{}` expired at {}; create a new one (POST /projects/{}/keys)",
            key.id(),
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(at)
            ),
            key.project_id,
        ))),
        _ => Ok(()),
    }
}

/// Writes `key`'s last use when due; a failure only loses that write.
async fn record_use(state: &AppState, key: &ApiKey, now_ms: u64) {
    if state.key_usage.due(key, now_ms) {
        if let Err(e) = state.store.touch_api_key(key, now_ms).await {
            tracing::warn!(key_id = %key.id(), error = %e, "could not record the key's last use");
        }
    }
}

impl Principal {
    /// Admin only.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Key { .. } => Err(ApiError::Forbidden(
                "this route needs the admin token".into(),
            )),
        }
    }

    /// Admin, or the project's secret key.
    pub fn require_manage(&self, project_id: &str) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Key {
                project_id: own, ..
            } if own != project_id => Err(ApiError::Forbidden(
                "this key belongs to another project".into(),
            )),
            Self::Key {
                kind: KeyKind::Publishable,
                ..
            } => Err(ApiError::Forbidden(
                "publishable keys can only send events; use the project's secret key".into(),
            )),
            Self::Key { .. } => Ok(()),
        }
    }

    /// Admin, or any key of the project.
    pub fn require_ingest(&self, project_id: &str) -> Result<(), ApiError> {
        match self {
            Self::Key {
                project_id: own, ..
            } if own != project_id => Err(ApiError::Forbidden(
                "this key belongs to another project".into(),
            )),
            _ => Ok(()),
        }
    }
}
