//! Who is calling: the admin token, a project's secret key (management and
//! ingestion) or its publishable key (ingestion only). Credentials come as
//! `Authorization: Bearer <token>` or `X-API-Key: <token>`. Keys are looked
//! up by their SHA-256; the admin token is compared in constant time.

use super::error::ApiError;
use super::AppState;
use crate::signing::{constant_time_eq, hash_api_key};
use crate::store::{KeyKind, Project};
use actix_web::HttpRequest;

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

/// The token presented, if any (also what the management limit is kept by).
pub(super) fn credential(req: &HttpRequest) -> Option<&str> {
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
        Some(key) => Principal::Key {
            project_id: key.project_id,
            kind: key.kind,
        },
        None => return Err(ApiError::Unauthorized("invalid API key".into())),
    };
    Ok((principal, project))
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
