//! `POST /projects` (admin): creates a project and returns its keys once.
//! `GET /projects/{p}`: the project (keys are never shown again).

use super::auth::authenticate;
use super::body::read_json;
use super::error::ApiError;
use super::openapi::{doc, object, string, strings, Auth, RouteDoc};
use super::{manage, time_ms, AppState};
use crate::ingest::check_type_name;
use crate::signing::{hash_api_key, new_api_key, new_id};
use crate::store::{ApiKey, KeyKind, Project};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Prefix of secret keys.
pub const SECRET_KEY_PREFIX: &str = "hm_sk_";
/// Prefix of publishable keys.
pub const PUBLISHABLE_KEY_PREFIX: &str = "hm_pk_";

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects",
            "Create a project; returns its secret and publishable keys once",
            Auth::Admin,
            Some(|| {
                object(
                    &["name"],
                    &[
                        ("name", string()),
                        ("id", string()),
                        ("custom_event_types", strings()),
                    ],
                )
            }),
            &[201, 400, 401, 403, 409],
            || web::post().to(create),
        ),
        doc(
            "get",
            "/projects/{project}",
            "Read a project",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    custom_event_types: Vec<String>,
}

fn check_project_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(
            "id",
            "must be 1-64 characters of a-z, A-Z, 0-9, `_` or `-`",
        ))
    }
}

/// A new API key of `kind` for `project_id`: the record to store and the key to show once.
pub fn issue_key(project_id: &str, kind: KeyKind, now_ms: u64) -> (ApiKey, String) {
    let prefix = match kind {
        KeyKind::Secret => SECRET_KEY_PREFIX,
        KeyKind::Publishable => PUBLISHABLE_KEY_PREFIX,
    };
    let key = new_api_key(prefix);
    let record = ApiKey {
        hash: hash_api_key(&key),
        project_id: project_id.to_string(),
        kind,
        prefix: key.chars().take(prefix.len() + 4).collect(),
        created_ms: now_ms,
    };
    (record, key)
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req).await?.require_admin()?;
    let input: CreateProject = read_json(body, state.max_body_bytes).await?;
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::bad("name", "must be 1-200 characters"));
    }
    let id = input.id.unwrap_or_else(|| new_id("proj_"));
    check_project_id(&id)?;
    for (i, t) in input.custom_event_types.iter().enumerate() {
        check_type_name(&format!("custom_event_types[{i}]"), t)?;
    }
    let now = crate::now_ms();
    let project = Project {
        id: id.clone(),
        name,
        custom_event_types: input.custom_event_types,
        created_ms: now,
    };
    let (secret_record, secret_key) = issue_key(&id, KeyKind::Secret, now);
    let (publishable_record, publishable_key) = issue_key(&id, KeyKind::Publishable, now);
    let created = state
        .store
        .create_project(project.clone(), vec![secret_record, publishable_record])
        .await?;
    if !created {
        return Err(ApiError::Conflict(format!("project `{id}` already exists")));
    }
    tracing::info!(project_id = %id, "project created");
    Ok(HttpResponse::Created().json(json!({
        "id": project.id,
        "name": project.name,
        "custom_event_types": project.custom_event_types,
        "created_at": time_ms(project.created_ms),
        "secret_key": secret_key,
        "publishable_key": publishable_key,
    })))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    let project = manage(&state, &req, &project_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": project.id,
        "name": project.name,
        "custom_event_types": project.custom_event_types,
        "created_at": time_ms(project.created_ms),
    })))
}
