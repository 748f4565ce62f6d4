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
    /// A customer portal session of one project.
    Portal {
        /// Its project.
        project_id: String,
        /// Reads only.
        read_only: bool,
    },
}

/// Whether a request reads or changes something: `GET` and `HEAD` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Looks only.
    Read,
    /// Changes something (or sends something).
    Write,
}

impl Access {
    /// The access a request of `method` needs.
    pub fn of(req: &HttpRequest) -> Self {
        match *req.method() {
            actix_web::http::Method::GET | actix_web::http::Method::HEAD => Self::Read,
            _ => Self::Write,
        }
    }
}

/// The credential a request carries (`Authorization: Bearer` or `X-API-Key`).
pub fn credential(req: &HttpRequest) -> Option<&str> {
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
        // A key left over from a deleted project (one stored before the
        // store indexed keys by project) opens nothing.
        Some(key) if project_id == Some(key.project_id.as_str()) && project.is_none() => {
            return Err(ApiError::Unauthorized("invalid API key".into()));
        }
        Some(key) => {
            let now = crate::now_ms();
            check_expiry(&key, now)?;
            record_use(state, &key, now).await;
            match key.kind {
                KeyKind::Portal => Principal::Portal {
                    read_only: key.portal.as_ref().is_none_or(|g| g.read_only),
                    project_id: key.project_id,
                },
                kind => Principal::Key {
                    project_id: key.project_id,
                    kind,
                },
            }
        }
        None => return Err(ApiError::Unauthorized("invalid API key".into())),
    };
    Ok((principal, project))
}

/// `401` for a key or portal session past its expiry.
fn check_expiry(key: &ApiKey, now_ms: u64) -> Result<(), ApiError> {
    let Some(at) = key.expires_ms.filter(|_| key.expired(now_ms)) else {
        return Ok(());
    };
    let at = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(at),
    );
    Err(ApiError::Unauthorized(match key.kind {
        KeyKind::Portal => {
            format!("this portal session expired at {at}; open the page again from the application")
        }
        _ => format!(
            "API key `{}` expired at {at}; create a new one (POST /projects/{}/keys)",
            key.id(),
            key.project_id
        ),
    }))
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
            _ => Err(ApiError::Forbidden(
                "this route needs the admin token".into(),
            )),
        }
    }

    /// The project this caller belongs to (`None`: the admin, any project).
    fn project(&self) -> Option<&str> {
        match self {
            Self::Admin => None,
            Self::Key { project_id, .. } | Self::Portal { project_id, .. } => Some(project_id),
        }
    }

    /// Refuses a caller of another project.
    fn require_project(&self, project_id: &str) -> Result<(), ApiError> {
        match self.project() {
            Some(own) if own != project_id => Err(ApiError::Forbidden(
                "this credential belongs to another project".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Admin, or the project's secret key: keys, portal sessions, the
    /// project's settings and declared types.
    pub fn require_owner(&self, project_id: &str) -> Result<(), ApiError> {
        self.require_project(project_id)?;
        match self {
            Self::Admin
            | Self::Key {
                kind: KeyKind::Secret,
                ..
            } => Ok(()),
            Self::Portal { .. } => Err(ApiError::Forbidden(
                "a portal session cannot do this; the application's secret key can".into(),
            )),
            Self::Key { .. } => Err(ApiError::Forbidden(
                "publishable keys can only send events; use the project's secret key".into(),
            )),
        }
    }

    /// Admin, the project's secret key, or one of its portal sessions
    /// (a read-only one for reads only): webhooks, deliveries, the event
    /// log, stats, provider settings.
    pub fn require_manage(&self, project_id: &str, access: Access) -> Result<(), ApiError> {
        match self {
            Self::Portal { read_only, .. } => {
                self.require_project(project_id)?;
                match (read_only, access) {
                    (true, Access::Write) => Err(ApiError::Forbidden(
                        "this portal session is read only".into(),
                    )),
                    _ => Ok(()),
                }
            }
            _ => self.require_owner(project_id),
        }
    }

    /// Admin, or any key of the project: sending events.
    pub fn require_ingest(&self, project_id: &str) -> Result<(), ApiError> {
        self.require_project(project_id)?;
        match self {
            Self::Portal { .. } => Err(ApiError::Forbidden(
                "a portal session cannot send events".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Anyone of the project (any key or portal session) or the admin:
    /// reading the catalogue.
    pub fn require_read(&self, project_id: &str) -> Result<(), ApiError> {
        self.require_project(project_id)
    }
}
