//! Customer portal sessions: short-lived, project-scoped bearer tokens
//! an application's backend mints for its customer and puts in an iframe.
//!
//! - `POST /projects/{p}/portal/sessions` (admin or the project's secret
//!   key): `{expires_in?, read_only?, product_name?, logo_url?,
//!   accent_color?, label?}` → `{id, url, token, expires_at}`; the token
//!   rides in the URL's fragment, which browsers never send to a server;
//! - `GET /projects/{p}/portal/sessions`, `DELETE …/sessions/{id}`: list
//!   and revoke (at once, on every instance);
//! - `GET /portal/session` (the session itself): its project, rights,
//!   theme and expiry, for the page.
//!
//! A session is stored as an API key of kind [`KeyKind::Portal`] (hashed,
//! looked up on every request), so revocation and expiry work as for
//! keys. Expired sessions are removed when the project's next session is
//! made.

use super::auth::{authenticate, credential, Principal};
use super::body::read_json_or_default;
use super::duration::DurationRule;
use super::error::ApiError;
use super::openapi::{doc, nullable, object, text, Auth, RouteDoc};
use super::{own, time_ms, AppState};
use crate::api_key::{issue_key, NewKey};
use crate::plugin::PluginRegistry;
use crate::signing::hash_api_key;
use crate::store::{ApiKey, KeyKind, KeyOrigin, PortalGrant};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// A session's lifetime unless asked otherwise.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Live sessions a project may hold at once.
const MAX_SESSIONS_PER_PROJECT: usize = 1000;
/// Longest product name and label.
const MAX_NAME_CHARS: usize = 100;
/// Longest logo URL.
const MAX_URL_CHARS: usize = 2048;

/// `expires_in`: more than nothing, at most 7 days.
const LIFETIME: DurationRule = DurationRule {
    min_secs: 1,
    max_secs: 7 * 24 * 3600,
    units: "smhd",
    meaning: "lifetime (default `1h`)",
};
/// `logo_url`: an https URL with a host name (no address, port or
/// credentials), a plain path and query; [`is_logo_url`] checks the same.
const LOGO_PATTERN: &str =
    "^https://([a-z0-9-]+\\.)*[a-z][a-z0-9-]*(/[A-Za-z0-9._~%/-]*)?(\\?[A-Za-z0-9._~%&=+-]*)?$";
/// The characters of a logo URL's path, and of its query.
const LOGO_PATH_CHARS: &str = "._~%/-";
const LOGO_QUERY_CHARS: &str = "._~%&=+-";

fn session_schema(_: &PluginRegistry) -> Value {
    object(
        &[],
        &[
            ("expires_in", nullable(LIFETIME.schema())),
            ("read_only", json!({ "type": "boolean" })),
            ("product_name", nullable(text(1, MAX_NAME_CHARS))),
            (
                "logo_url",
                nullable(
                    json!({ "type": "string", "pattern": LOGO_PATTERN, "maxLength": MAX_URL_CHARS }),
                ),
            ),
            (
                "accent_color",
                nullable(json!({ "type": "string", "pattern": "^#[0-9a-fA-F]{6}$" })),
            ),
            ("label", nullable(text(1, MAX_NAME_CHARS))),
        ],
    )
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects/{project}/portal/sessions",
            "Create a customer portal session (default 1 h, at most 7 days); its URL and token are returned once",
            Auth::Owner,
            Some(session_schema),
            &[201, 400, 401, 403, 404, 409],
            || web::post().to(create),
        )
        .with_optional_body(),
        doc(
            "get",
            "/projects/{project}/portal/sessions",
            "The project's live portal sessions",
            Auth::Owner,
            None,
            &[200, 401, 403, 404],
            || web::get().to(list),
        ),
        doc(
            "delete",
            "/projects/{project}/portal/sessions/{session}",
            "Revoke a portal session, at once on every instance",
            Auth::Owner,
            None,
            &[204, 401, 403, 404],
            || web::delete().to(revoke),
        ),
        doc(
            "get",
            "/portal/session",
            "The calling portal session: its project, rights, theme and expiry",
            Auth::Portal,
            None,
            &[200, 401, 403],
            || web::get().to(current),
        ),
    ]
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    product_name: Option<String>,
    #[serde(default)]
    logo_url: Option<String>,
    #[serde(default)]
    accent_color: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

fn check_text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    super::body::optional_text(field, value, MAX_NAME_CHARS)
}

fn check_logo(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    if !is_logo_url(&value) || value.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::bad(
            "logo_url",
            "must be an https URL of at most 2048 characters with a lower-case host name, \
             a plain path and query",
        ));
    }
    Ok(Some(value))
}

/// Whether `value` matches [`LOGO_PATTERN`].
fn is_logo_url(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("https://") else {
        return false;
    };
    let (host, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let allowed = |text: &str, extra: &str| {
        text.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    let label = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let labels: Vec<&str> = host.split('.').collect();
    let top = labels.last().copied().unwrap_or_default();
    labels.iter().all(|l| label(l))
        && top.starts_with(|c: char| c.is_ascii_lowercase())
        && (path.is_empty() || (path.starts_with('/') && allowed(path, LOGO_PATH_CHARS)))
        && query.is_none_or(|q| allowed(q, LOGO_QUERY_CHARS))
}

fn check_color(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let hex = value.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad("accent_color", "must be `#rrggbb`"));
    }
    Ok(Some(value))
}

fn lifetime(value: Option<String>) -> Result<Duration, ApiError> {
    let Some(text) = value else {
        return Ok(DEFAULT_LIFETIME);
    };
    LIFETIME.read("expires_in", &text)
}

/// The grant a request asks for, checked.
fn grant(input: &mut CreateSession) -> Result<PortalGrant, ApiError> {
    Ok(PortalGrant {
        read_only: input.read_only,
        product_name: check_text("product_name", input.product_name.take())?,
        logo_url: check_logo(input.logo_url.take())?,
        accent_color: check_color(input.accent_color.take())?,
    })
}

/// The theme a page shows.
fn theme(grant: Option<&PortalGrant>) -> Value {
    let grant = grant.cloned().unwrap_or_default();
    json!({
        "product_name": grant.product_name,
        "logo_url": grant.logo_url,
        "accent_color": grant.accent_color,
    })
}

fn view(session: &ApiKey) -> Value {
    json!({
        "id": session.id(),
        "label": session.label,
        "read_only": session.portal.as_ref().is_none_or(|g| g.read_only),
        "theme": theme(session.portal.as_ref()),
        "created_at": time_ms(session.created_ms),
        "last_used_at": session.last_used_ms.map(time_ms),
        "expires_at": session.expires_ms.map(time_ms),
    })
}

/// The project's live sessions; expired ones are removed on the way when
/// `sweep` is set.
async fn sessions_of(
    state: &AppState,
    project_id: &str,
    sweep: bool,
) -> Result<Vec<ApiKey>, ApiError> {
    let now = crate::now_ms();
    let mut live = Vec::new();
    for key in state.store.api_keys_of(project_id).await? {
        if key.kind != KeyKind::Portal {
            continue;
        }
        if !key.expired(now) {
            live.push(key);
        } else if sweep {
            state.store.revoke_api_key(&key).await?;
        }
    }
    Ok(live)
}

/// The page's address as the caller reached this host.
fn portal_url(req: &HttpRequest, token: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}/portal/#token={token}", info.scheme(), info.host())
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    own(&state, &req, &project_id).await?;
    let mut input: CreateSession = read_json_or_default(body, state.max_body_bytes).await?;
    let lifetime = lifetime(input.expires_in.take())?;
    let grant = grant(&mut input)?;
    let label = check_text("label", input.label.take())?;
    if sessions_of(&state, &project_id, true).await?.len() >= MAX_SESSIONS_PER_PROJECT {
        return Err(ApiError::Conflict(format!(
            "project `{project_id}` has {MAX_SESSIONS_PER_PROJECT} live portal sessions: revoke some first"
        )));
    }
    let now = crate::now_ms();
    let new = NewKey {
        kind: KeyKind::Portal,
        label,
        expires_ms: Some(now + u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX / 2)),
        origin: KeyOrigin::Api,
    };
    let (mut record, token) = issue_key(&project_id, new, now);
    record.portal = Some(grant);
    state.store.put_api_key(&record).await?;
    tracing::info!(project_id = %project_id, session_id = %record.id(), read_only = input.read_only, "portal session created");
    let mut body = view(&record);
    body["token"] = json!(token);
    body["url"] = json!(portal_url(&req, &token));
    Ok(HttpResponse::Created().json(body))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    own(&state, &req, &project_id).await?;
    let sessions = sessions_of(&state, &project_id, false).await?;
    let data: Vec<Value> = sessions.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    own(&state, &req, &project_id).await?;
    let sessions = sessions_of(&state, &project_id, false).await?;
    let not_found = || {
        ApiError::NotFound(format!(
            "portal session `{id}` not found in project `{project_id}`"
        ))
    };
    let session = sessions
        .iter()
        .find(|s| s.id() == id)
        .ok_or_else(not_found)?;
    if !state.store.revoke_api_key(session).await? {
        return Err(not_found());
    }
    tracing::info!(project_id = %project_id, session_id = %id, "portal session revoked");
    Ok(HttpResponse::NoContent().finish())
}

async fn current(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Principal::Portal { project_id, .. } = authenticate(&state, &req).await? else {
        return Err(ApiError::Forbidden(
            "only a portal session has a session to show".into(),
        ));
    };
    let hash = hash_api_key(credential(&req).unwrap_or_default());
    let (session, _) = state.store.api_key_and_project(Some(hash), None).await?;
    let session =
        session.ok_or_else(|| ApiError::Unauthorized("this portal session has ended".into()))?;
    let mut body = view(&session);
    body["project_id"] = json!(project_id);
    Ok(HttpResponse::Ok().json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logo_check_and_the_schema_pattern_agree() {
        let pattern = regex_lite::Regex::new(LOGO_PATTERN).unwrap();
        let samples = [
            "https://a",
            "https://a*",
            "https://cdn.example.com/logo.png",
            "https://my-cdn.example.com/a/b_c~d%20e.svg?v=2&size=64",
            "https://Example.com/logo.png",
            "https://1.2.3.4/logo.png",
            "https://example.com:443/logo.png",
            "https://user@example.com/",
            "https://example.com/logo png",
            "https://example.com/#x",
            "https://example.com?",
            "https://example.com/??",
            "https://.example.com",
            "https://example..com",
            "http://example.com",
            "https://",
            "https://example.com/\n",
        ];
        for sample in samples {
            assert_eq!(pattern.is_match(sample), is_logo_url(sample), "{sample:?}");
        }
    }
}
