//! A project's API keys and their lifecycle (admin token or the project's
//! secret key):
//!
//! - `GET /projects/{p}/keys`: every key, masked, with label, scope,
//!   origin, creation, last use and expiry;
//! - `POST /projects/{p}/keys`: a new key `{scope, label?, expires_in? |
//!   expires_at?}`, shown once;
//! - `DELETE /projects/{p}/keys/{id}`: revoked at once, on every instance
//!   (each request reads its key from the store);
//! - `POST /projects/{p}/keys/{id}/rotate`: a new key with the same scope
//!   and label; the old one keeps working for `grace` (default none).
//!
//! A key's scope is `manage` (management and ingestion; `hm_sk_…`) or
//! `ingest` (ingestion only, safe in a client; `hm_pk_…`). Keys declared
//! in the config are reconciled at start-up: they cannot be rotated here,
//! and one revoked here comes back at the next start while still declared.

use super::body::{read_json, read_json_or_default};
use super::duration::DurationRule;
use super::error::ApiError;
use super::openapi::{doc, nullable, object, text, Auth, RouteDoc};
use super::{own, time_ms, AppState};
use crate::api_key::{issue_key, NewKey};
use crate::plugin::PluginRegistry;
use crate::store::{ApiKey, KeyKind, KeyOrigin};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Keys a project may hold at once.
pub const MAX_KEYS_PER_PROJECT: usize = 100;
/// Longest lifetime a key may be given (ten years).
const MAX_LIFETIME_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// Longest label.
const MAX_LABEL_CHARS: usize = 200;

fn scope_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Secret => "manage",
        KeyKind::Publishable => "ingest",
        KeyKind::Portal => "portal",
    }
}

fn origin_name(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Api => "api",
        KeyOrigin::Config => "config",
        KeyOrigin::Unrecorded => "unrecorded",
    }
}

/// A key as listed: never the key, only its first characters.
fn view(key: &ApiKey, now_ms: u64) -> Value {
    json!({
        "id": key.id(),
        "scope": scope_name(key.kind),
        "label": key.label,
        "masked": format!("{}…", key.prefix),
        "origin": origin_name(key.origin),
        "created_at": time_ms(key.created_ms),
        "last_used_at": key.last_used_ms.map(time_ms),
        "expires_at": key.expires_ms.map(time_ms),
        "expired": key.expired(now_ms),
    })
}

/// `expires_in`: a lifetime of at most 10 years.
const LIFETIME: DurationRule = DurationRule {
    min_secs: 1,
    max_secs: MAX_LIFETIME_MS / 1000,
    units: "smhd",
    meaning: "lifetime from now, e.g. `90d`",
};
/// `grace`: at most 30 days.
const GRACE: DurationRule = DurationRule {
    min_secs: 0,
    max_secs: 30 * 24 * 3600,
    units: "smhd",
    meaning: "how long the old key keeps working",
};

/// How far inside the API's time bounds the document states `expires_at`'s,
/// so a client that read it an hour ago is still within them.
const EXPIRY_MARGIN_MS: u64 = 3_600_000;

/// `expires_in` or `expires_at` (not both).
fn lifetime() -> [(&'static str, Value); 2] {
    let now = crate::now_ms();
    [
        ("expires_in", nullable(LIFETIME.schema())),
        (
            "expires_at",
            json!({ "type": ["integer", "null"], "minimum": now + EXPIRY_MARGIN_MS, "maximum": now + MAX_LIFETIME_MS - EXPIRY_MARGIN_MS,
                    "description": "Unix ms, in the future, at most 10 years away (the bounds are as of when this document was served, an hour inside the API's)" }),
        ),
    ]
}

/// At most one of `expires_in` and `expires_at` (`null` is absent).
fn one_lifetime(mut schema: Value) -> Value {
    schema["not"] = json!({
        "required": ["expires_in", "expires_at"],
        "properties": { "expires_in": { "type": "string" }, "expires_at": { "type": "integer" } },
    });
    schema
}

fn key_schema(_: &PluginRegistry) -> Value {
    let mut properties = vec![
        (
            "scope",
            json!({ "type": "string", "enum": ["manage", "ingest"] }),
        ),
        ("label", nullable(text(1, MAX_LABEL_CHARS))),
    ];
    properties.extend(lifetime());
    one_lifetime(object(&["scope"], &properties))
}

fn rotate_schema(_: &PluginRegistry) -> Value {
    let mut properties = vec![("grace", nullable(GRACE.schema()))];
    properties.extend(lifetime());
    one_lifetime(object(&[], &properties))
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/keys",
            "The project's API keys, masked, with scope, label, origin, creation, last use and expiry",
            Auth::Owner,
            None,
            &[200, 401, 403, 404],
            || web::get().to(list),
        ),
        doc(
            "post",
            "/projects/{project}/keys",
            "Create an API key (scope manage or ingest, optional label and expiry); the key is returned once",
            Auth::Owner,
            Some(key_schema),
            &[201, 400, 401, 403, 404, 409],
            || web::post().to(create),
        ),
        doc(
            "delete",
            "/projects/{project}/keys/{key}",
            "Revoke an API key, at once on every instance",
            Auth::Owner,
            None,
            &[204, 401, 403, 404],
            || web::delete().to(revoke),
        ),
        doc(
            "post",
            "/projects/{project}/keys/{key}/rotate",
            "Replace an API key: a new key (returned once) with its scope and label; the old one works for `grace` (default 0s)",
            Auth::Owner,
            Some(rotate_schema),
            &[201, 400, 401, 403, 404, 409],
            || web::post().to(rotate),
        )
        .with_optional_body(),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    scope: String,
    #[serde(default)]
    label: Option<String>,
    /// e.g. `"90d"`.
    #[serde(default)]
    expires_in: Option<String>,
    /// Unix ms.
    #[serde(default, deserialize_with = "super::body::optional_whole_number")]
    expires_at: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    /// How long the old key keeps working, e.g. `"1h"`; none by default.
    #[serde(default)]
    grace: Option<String>,
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default, deserialize_with = "super::body::optional_whole_number")]
    expires_at: Option<u64>,
}

fn parse_scope(text: &str) -> Result<KeyKind, ApiError> {
    match text {
        "manage" => Ok(KeyKind::Secret),
        "ingest" => Ok(KeyKind::Publishable),
        _ => Err(ApiError::bad(
            "scope",
            format!("`{text}` is not a scope: use `manage` (management and ingestion) or `ingest` (ingestion only)"),
        )),
    }
}

/// When a key made now should expire, if ever: `expires_in` (a
/// duration) or `expires_at` (Unix ms).
fn expiry(
    expires_in: Option<String>,
    expires_at: Option<u64>,
    now_ms: u64,
) -> Result<Option<u64>, ApiError> {
    let at = match (expires_in, expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "expires_in",
                "give either `expires_in` or `expires_at`, not both",
            ))
        }
        (Some(text), None) => {
            let lifetime = LIFETIME.read("expires_in", &text)?;
            now_ms + u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX / 2)
        }
        (None, Some(at)) => {
            if at <= now_ms || at - now_ms > MAX_LIFETIME_MS {
                return Err(ApiError::bad(
                    "expires_at",
                    "must be a Unix time in milliseconds in the future, at most 10 years away",
                ));
            }
            at
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(at))
}

/// The project's API keys (not its portal sessions).
async fn keys_of(state: &AppState, project_id: &str) -> Result<Vec<ApiKey>, ApiError> {
    let mut keys = state.store.api_keys_of(project_id).await?;
    keys.retain(|k| k.kind != KeyKind::Portal);
    Ok(keys)
}

/// The project's key `id`, or `404`.
async fn find_key(state: &AppState, project_id: &str, id: &str) -> Result<ApiKey, ApiError> {
    let keys = keys_of(state, project_id).await?;
    keys.into_iter().find(|k| k.id() == id).ok_or_else(|| {
        ApiError::NotFound(format!("key `{id}` not found in project `{project_id}`"))
    })
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    own(&state, &req, &project_id).await?;
    let now = crate::now_ms();
    let keys = keys_of(&state, &project_id).await?;
    let data: Vec<Value> = keys.iter().map(|k| view(k, now)).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    own(&state, &req, &project_id).await?;
    let input: CreateKey = read_json(body, state.max_body_bytes).await?;
    let now = crate::now_ms();
    let new = NewKey {
        kind: parse_scope(&input.scope)?,
        label: super::body::optional_text("label", input.label, MAX_LABEL_CHARS)?,
        expires_ms: expiry(input.expires_in, input.expires_at, now)?,
        origin: KeyOrigin::Api,
    };
    let (record, key) = store_new_key(&state, &project_id, new, now).await?;
    tracing::info!(project_id = %project_id, key_id = %record.id(), "API key created");
    Ok(HttpResponse::Created().json(created(&record, &key, now)))
}

/// Issues and stores a key, refusing past [`MAX_KEYS_PER_PROJECT`].
async fn store_new_key(
    state: &AppState,
    project_id: &str,
    new: NewKey,
    now_ms: u64,
) -> Result<(ApiKey, String), ApiError> {
    if keys_of(state, project_id).await?.len() >= MAX_KEYS_PER_PROJECT {
        return Err(ApiError::Conflict(format!(
            "project `{project_id}` has {MAX_KEYS_PER_PROJECT} keys, the most it may hold: revoke one first"
        )));
    }
    let (record, key) = issue_key(project_id, new, now_ms);
    state.store.put_api_key(&record).await?;
    Ok((record, key))
}

/// A new key's view with the key itself, shown this once.
fn created(record: &ApiKey, key: &str, now_ms: u64) -> Value {
    let mut body = view(record, now_ms);
    body["key"] = json!(key);
    body
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    own(&state, &req, &project_id).await?;
    let key = find_key(&state, &project_id, &id).await?;
    if !state.store.revoke_api_key(&key).await? {
        return Err(ApiError::NotFound(format!(
            "key `{id}` was already revoked"
        )));
    }
    tracing::info!(project_id = %project_id, key_id = %id, "API key revoked");
    Ok(HttpResponse::NoContent().finish())
}

async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    own(&state, &req, &project_id).await?;
    let input: RotateKey = read_json_or_default(body, state.max_body_bytes).await?;
    let old = find_key(&state, &project_id, &id).await?;
    if old.origin == KeyOrigin::Config {
        return Err(ApiError::Conflict(format!(
            "key `{id}` is declared in the config: change it there and restart"
        )));
    }
    let grace = match input.grace {
        Some(text) => GRACE.read("grace", &text)?,
        None => Duration::ZERO,
    };
    let now = crate::now_ms();
    let new = NewKey {
        kind: old.kind,
        label: old.label.clone(),
        expires_ms: expiry(input.expires_in, input.expires_at, now)?,
        origin: KeyOrigin::Api,
    };
    let (record, key) = issue_key(&project_id, new, now);
    state.store.put_api_key(&record).await?;
    let old_expires_ms = retire(&state, &old, grace, now).await?;
    tracing::info!(project_id = %project_id, old_key_id = %id, key_id = %record.id(), "API key rotated");
    let mut body = created(&record, &key, now);
    body["replaces"] = json!(id);
    body["replaced_key_expires_at"] = json!(old_expires_ms.map(time_ms));
    Ok(HttpResponse::Created().json(body))
}

/// Ends a rotated-out key: now (`None`), or after `grace` but never
/// later than it was to expire anyway (that time).
async fn retire(
    state: &AppState,
    old: &ApiKey,
    grace: Duration,
    now_ms: u64,
) -> Result<Option<u64>, ApiError> {
    if grace.is_zero() {
        state.store.revoke_api_key(old).await?;
        return Ok(None);
    }
    let until = now_ms + u64::try_from(grace.as_millis()).unwrap_or(u64::MAX / 2);
    let until = old.expires_ms.map_or(until, |at| at.min(until));
    state.store.expire_api_key(old, until).await?;
    Ok(Some(until))
}
