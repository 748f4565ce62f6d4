//! `POST /projects` (admin): creates a project and returns its keys once.
//! `GET /projects/{p}`: the project (keys are never shown again).
//! `PUT /projects/{p}`: its name, `strict_event_types`, its declared types,
//! its `ingest_limit` (`{events_per_second, burst?}`; `null` goes back to
//! the `[ingest]` default), its `retention` (`"7d"`; `null` goes back to
//! `storage.retention`).
//! `DELETE /projects/{p}` (admin): the project with everything it owns.
//! `PUT|GET|DELETE /projects/{p}/integrations/events/{type}`: declare (with
//! an optional description and JSON Schema), read, remove one type.
//!
//! A declared type is given as its name (`"order.paid"`) or as
//! `{name, description?, schema?}`.

use super::auth::authenticate;
use super::body::{read_json, read_json_or_default};
use super::duration::PROJECT_RETENTION;
use super::error::ApiError;
use super::events::custom_type_view;
use super::openapi::params::{declared_type_name, PROJECT_ID_PATTERN};
use super::openapi::{doc, nullable, object, text, Auth, RouteDoc};
use super::{manage, own, time_ms, AppState};
use crate::api_key::{issue_key, NewKey};
use crate::event_types::{
    check_description, check_schema, check_schema_total, is_known_type, FieldError,
    BUILTIN_EVENT_TYPES, MAX_CUSTOM_EVENT_TYPES, MAX_DESCRIPTION_CHARS, OPERATIONAL_EVENT_TYPES,
};
use crate::ingest::check_type_name;
use crate::plugin::PluginRegistry;
use crate::ratelimit::{Rate, MAX_LIMIT};
use crate::signing::new_id;
use crate::store::{CustomEventType, IngestLimit, KeyKind, Project};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// White space as `str::trim` removes it (Unicode `White_Space`).
const WS: &str =
    "\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/// A project name: 1-200 characters once trimmed.
fn name_schema() -> serde_json::Value {
    let pattern = format!("^[{WS}]*[^{WS}]([\\s\\S]{{0,198}}[^{WS}])?[{WS}]*$");
    json!({ "type": "string", "pattern": pattern, "description": "1-200 characters, not counting white space around them" })
}

/// A declared type's description and JSON Schema.
fn type_fields() -> [(&'static str, serde_json::Value); 2] {
    [
        ("description", nullable(text(0, MAX_DESCRIPTION_CHARS))),
        (
            "schema",
            json!({ "type": ["object", "boolean", "null"], "description": "a JSON Schema (draft 2020-12) for the payload, at most 32 KiB" }),
        ),
    ]
}

/// A declared type: its name, or `{name, description?, schema?}`.
fn declared_type_schema() -> serde_json::Value {
    let mut properties = vec![("name", declared_type_name())];
    properties.extend(type_fields());
    json!({ "oneOf": [declared_type_name(), object(&["name"], &properties)] })
}

/// The body of `PUT …/integrations/events/{type}` (the handler also takes
/// a `name` equal to the path's, which a schema cannot tie to the path).
fn type_body_schema(_: &PluginRegistry) -> serde_json::Value {
    object(&[], &type_fields())
}

/// A project's own ingestion limit; `burst` defaults to two seconds' worth.
fn ingest_limit_schema() -> serde_json::Value {
    let count = || json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT });
    let mut limit = object(
        &["events_per_second"],
        &[("events_per_second", count()), ("burst", nullable(count()))],
    );
    limit["description"] = json!(
        "The project's ingestion limit (token bucket): sustained events per second, and the \
         burst, the most accepted at once (default twice the rate; below the rate it smooths). \
         null: the server's default."
    );
    limit["type"] = json!(["object", "null"]);
    limit
}

/// The body of create (`update`: of `PUT`, every field optional, no `id`).
fn project_body_schema(update: bool) -> serde_json::Value {
    let optional = |schema| if update { nullable(schema) } else { schema };
    let mut properties = vec![
        ("name", optional(name_schema())),
        ("strict_event_types", optional(json!({ "type": "boolean" }))),
        ("ingest_limit", ingest_limit_schema()),
        ("retention", nullable(PROJECT_RETENTION.schema())),
        (
            "custom_event_types",
            optional(
                json!({ "type": "array", "items": declared_type_schema(), "maxItems": MAX_CUSTOM_EVENT_TYPES, "uniqueItems": true,
                        "description": "each name once" }),
            ),
        ),
    ];
    if update {
        return object(&[], &properties);
    }
    properties.push((
        "id",
        nullable(json!({ "type": "string", "pattern": PROJECT_ID_PATTERN })),
    ));
    object(&["name"], &properties)
}

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "post",
            "/projects",
            "Create a project; returns its secret and publishable keys once",
            Auth::Admin,
            Some(|_| project_body_schema(false)),
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
        doc(
            "put",
            "/projects/{project}",
            "Change a project's name, strict_event_types, ingest_limit, retention or declared event types (the list is replaced)",
            Auth::Owner,
            Some(|_| project_body_schema(true)),
            &[200, 400, 401, 403, 404],
            || web::put().to(update),
        ),
        doc(
            "get",
            "/projects",
            "Every project (admin), oldest first",
            Auth::Admin,
            None,
            &[200, 401, 403],
            || web::get().to(list),
        ),
        doc(
            "delete",
            "/projects/{project}",
            "Delete a project with everything it owns: its keys stop working, its endpoints stop delivering, its events, deliveries and provider settings are freed",
            Auth::Admin,
            None,
            &[204, 401, 403, 404],
            || web::delete().to(delete),
        ),
        doc(
            "put",
            "/projects/{project}/integrations/events/{type}",
            "Declare an event type (or replace its description and schema)",
            Auth::Owner,
            Some(type_body_schema),
            &[200, 201, 400, 401, 403, 404],
            || web::put().to(put_type),
        )
        .with_optional_body(),
        doc(
            "get",
            "/projects/{project}/integrations/events/{type}",
            "One type of the catalogue",
            Auth::Ingest,
            None,
            &[200, 401, 403, 404],
            || web::get().to(show_type),
        ),
        doc(
            "delete",
            "/projects/{project}/integrations/events/{type}",
            "Remove a declared or seen type from the catalogue",
            Auth::Owner,
            None,
            &[204, 401, 403, 404],
            || web::delete().to(delete_type),
        ),
    ]
}

/// A declared type as the API takes it.
#[derive(Deserialize)]
#[serde(untagged)]
enum DeclaredInput {
    Name(String),
    Full(TypeInput),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TypeInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    strict_event_types: bool,
    #[serde(default)]
    custom_event_types: Vec<DeclaredInput>,
    #[serde(default)]
    ingest_limit: Option<LimitInput>,
    #[serde(default)]
    retention: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    strict_event_types: Option<bool>,
    #[serde(default)]
    custom_event_types: Option<Vec<DeclaredInput>>,
    /// Absent: unchanged; `null`: back to the default.
    #[serde(default, deserialize_with = "present")]
    ingest_limit: Option<Option<LimitInput>>,
    /// Absent: unchanged; `null`: back to `storage.retention`.
    #[serde(default, deserialize_with = "present")]
    retention: Option<Option<String>>,
}

/// `ingest_limit` as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitInput {
    #[serde(deserialize_with = "super::body::whole_number")]
    events_per_second: u64,
    #[serde(default, deserialize_with = "super::body::optional_whole_number")]
    burst: Option<u64>,
}

/// A field that is present, even as `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Checks an `ingest_limit` as sent.
fn ingest_limit(input: LimitInput) -> Result<IngestLimit, ApiError> {
    IngestLimit::new(input.events_per_second, input.burst)
        .map_err(|e| ApiError::bad(format!("ingest_limit.{}", e.field()), e.to_string()))
}

/// Checks a `retention` as sent.
fn retention(text: String) -> Result<std::time::Duration, ApiError> {
    PROJECT_RETENTION.read("retention", &text)
}

/// A duration as the API shows it: whole days, hours, minutes or seconds.
fn duration_view(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let (unit, length) = [('d', 86_400), ('h', 3600), ('m', 60)]
        .into_iter()
        .find(|(_, length)| secs % length == 0 && secs > 0)
        .unwrap_or(('s', 1));
    format!("{}{unit}", secs / length)
}

/// Checks one declared type: `name_field` names where its name came
/// from, `prefix` goes before `description` and `schema` in errors.
fn declared_type(
    name_field: &str,
    prefix: &str,
    name: String,
    input: TypeInput,
) -> Result<CustomEventType, FieldError> {
    let field = name_field;
    check_type_name(field, &name)?;
    if BUILTIN_EVENT_TYPES.contains(&name.as_str())
        || OPERATIONAL_EVENT_TYPES.contains(&name.as_str())
    {
        return Err(FieldError {
            field: field.to_string(),
            message: format!("`{name}` is built in; declare your own types"),
        });
    }
    if let Some(description) = &input.description {
        check_description(&format!("{prefix}description"), description)?;
    }
    let schema = input
        .schema
        .as_ref()
        .map(|schema| check_schema(&format!("{prefix}schema"), schema))
        .transpose()?;
    Ok(CustomEventType {
        name,
        description: input.description.filter(|d| !d.is_empty()),
        schema,
    })
}

/// Checks a whole list of declared types (`custom_event_types`).
fn declared_types(inputs: Vec<DeclaredInput>) -> Result<Vec<CustomEventType>, FieldError> {
    if inputs.len() > MAX_CUSTOM_EVENT_TYPES {
        return Err(FieldError {
            field: "custom_event_types".into(),
            message: format!("at most {MAX_CUSTOM_EVENT_TYPES} types"),
        });
    }
    let mut types: Vec<CustomEventType> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let field = format!("custom_event_types[{i}]");
        let declared = match input {
            DeclaredInput::Name(name) => declared_type(&field, &field, name, TypeInput::default())?,
            DeclaredInput::Full(mut full) => {
                let name = full.name.take().ok_or_else(|| FieldError {
                    field: format!("{field}.name"),
                    message: "is required".into(),
                })?;
                declared_type(&format!("{field}.name"), &format!("{field}."), name, full)?
            }
        };
        if types.iter().any(|t| t.name == declared.name) {
            return Err(FieldError {
                field,
                message: format!("`{}` is declared twice", declared.name),
            });
        }
        types.push(declared);
    }
    check_schema_total("custom_event_types", &types)?;
    Ok(types)
}

/// Installs `types` as the project's declared types; seen types that are
/// now declared leave the seen list.
fn set_declared(project: &mut Project, types: Vec<CustomEventType>) {
    project.custom_event_types = types;
    let declared: Vec<String> = project
        .custom_event_types
        .iter()
        .map(|t| t.name.clone())
        .collect();
    project.seen_event_types.retain(|t| !declared.contains(t));
}

/// An ingestion limit as the API shows it.
fn limit_view(rate: Rate) -> serde_json::Value {
    // Limits are whole events per second (the default's and projects').
    json!({ "events_per_second": rate.per_second.round() as u64, "burst": rate.burst })
}

/// The project as the API shows it: `ingest_limit` is its own (`null`:
/// the default), `effective_ingest_limit` what applies; so `retention`
/// and `effective_retention`.
fn view(state: &AppState, project: &Project) -> serde_json::Value {
    let names: Vec<&str> = project
        .custom_event_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    json!({
        "id": project.id,
        "name": project.name,
        "strict_event_types": project.strict_event_types,
        "custom_event_types": names,
        "ingest_limit": project.ingest_limit.map(|l| limit_view(l.rate())),
        "effective_ingest_limit": limit_view(project.ingest_rate(state.ingest_rate)),
        "retention": project.retention.map(duration_view),
        "effective_retention": duration_view(project.retention_or(state.retention)),
        "created_at": time_ms(project.created_ms),
        "declared": project.declared,
    })
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad("name", "must be 1-200 characters"));
    }
    Ok(name.to_string())
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

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req).await?.require_admin()?;
    let input: CreateProject = read_json(body, state.max_body_bytes).await?;
    let name = check_name(&input.name)?;
    let id = input.id.unwrap_or_else(|| new_id("proj_"));
    check_project_id(&id)?;
    let now = crate::now_ms();
    let mut project = Project::new(id.clone(), name, now);
    project.strict_event_types = input.strict_event_types;
    project.ingest_limit = input.ingest_limit.map(ingest_limit).transpose()?;
    project.retention = input.retention.map(retention).transpose()?;
    set_declared(&mut project, declared_types(input.custom_event_types)?);
    let (secret_record, secret_key) = issue_key(&id, NewKey::api(KeyKind::Secret), now);
    let (publishable_record, publishable_key) =
        issue_key(&id, NewKey::api(KeyKind::Publishable), now);
    let created = state
        .store
        .create_project(project.clone(), vec![secret_record, publishable_record])
        .await?;
    if !created {
        return Err(ApiError::Conflict(format!("project `{id}` already exists")));
    }
    tracing::info!(project_id = %id, "project created");
    let mut body = view(&state, &project);
    body["secret_key"] = json!(secret_key);
    body["publishable_key"] = json!(publishable_key);
    Ok(HttpResponse::Created().json(body))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    let project = manage(&state, &req, &project_id).await?;
    Ok(HttpResponse::Ok().json(view(&state, &project)))
}

/// `DELETE /projects/{p}` (admin): the project and everything it owns.
/// A project the config declares comes back, empty, at the next start-up.
async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req).await?.require_admin()?;
    let projects = state.store.projects().await?;
    let data: Vec<_> = projects.iter().map(|p| view(&state, p)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    authenticate(&state, &req).await?.require_admin()?;
    if !state.store.delete_project(&project_id).await? {
        return Err(ApiError::NotFound(format!(
            "project `{project_id}` not found"
        )));
    }
    tracing::info!(project_id = %project_id, "project deleted with everything it owned");
    Ok(HttpResponse::NoContent().finish())
}

/// The project after `change`, or `404` when it was deleted meanwhile.
async fn change_project(
    state: &AppState,
    id: &str,
    change: impl Fn(&mut Project) + Send + Sync + 'static,
) -> Result<Project, ApiError> {
    state
        .store
        .update_project(id, change)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{id}` not found")))
}

async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    own(&state, &req, &project_id).await?;
    let input: UpdateProject = read_json(body, state.max_body_bytes).await?;
    let name = input.name.as_deref().map(check_name).transpose()?;
    let declared = input.custom_event_types.map(declared_types).transpose()?;
    let strict = input.strict_event_types;
    let limit = input
        .ingest_limit
        .map(|limit| limit.map(ingest_limit).transpose())
        .transpose()?;
    let kept = input
        .retention
        .map(|kept| kept.map(retention).transpose())
        .transpose()?;
    let project = change_project(&state, &project_id, move |project| {
        if let Some(limit) = limit {
            project.ingest_limit = limit;
        }
        if let Some(kept) = kept {
            project.retention = kept;
        }
        if let Some(name) = &name {
            project.name.clone_from(name);
        }
        if let Some(strict) = strict {
            project.strict_event_types = strict;
        }
        if let Some(declared) = &declared {
            set_declared(project, declared.clone());
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&state, &project)))
}

async fn put_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, name) = path.into_inner();
    let project = own(&state, &req, &project_id).await?;
    let input: TypeInput = read_json_or_default(body, state.max_body_bytes).await?;
    if input.name.as_ref().is_some_and(|n| *n != name) {
        return Err(ApiError::bad(
            "name",
            format!("must be `{name}`, as in the path, or absent"),
        ));
    }
    let declared = declared_type("type", "", name.clone(), input)?;
    let exists = project.custom_type(&name).is_some();
    if !exists && project.custom_event_types.len() >= MAX_CUSTOM_EVENT_TYPES {
        return Err(ApiError::bad(
            "type",
            format!("project `{project_id}` declares {MAX_CUSTOM_EVENT_TYPES} types already, the most allowed"),
        ));
    }
    let mut after: Vec<CustomEventType> = project
        .custom_event_types
        .iter()
        .filter(|t| t.name != name)
        .cloned()
        .collect();
    after.push(declared.clone());
    check_schema_total("schema", &after)?;
    let shown = custom_type_view(&declared);
    change_project(&state, &project_id, move |project| {
        let mut types = project.custom_event_types.clone();
        match types.iter_mut().find(|t| t.name == declared.name) {
            Some(existing) => *existing = declared.clone(),
            None => types.push(declared.clone()),
        }
        set_declared(project, types);
    })
    .await?;
    let mut response = match exists {
        true => HttpResponse::Ok(),
        false => HttpResponse::Created(),
    };
    Ok(response.json(shown))
}

async fn show_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, name) = path.into_inner();
    let (principal, project) =
        super::auth::authenticate_with_project(&state, &req, &project_id).await?;
    principal.require_read(&project_id)?;
    let project = super::existing_project(project, &project_id)?;
    let kind = if BUILTIN_EVENT_TYPES.contains(&name.as_str()) {
        "builtin"
    } else if OPERATIONAL_EVENT_TYPES.contains(&name.as_str()) {
        "operational"
    } else if let Some(declared) = project.custom_type(&name) {
        return Ok(HttpResponse::Ok().json(custom_type_view(declared)));
    } else if project.seen_event_types.contains(&name) {
        "seen"
    } else {
        return Err(ApiError::NotFound(format!(
            "event type `{name}` is not in the catalogue of project `{project_id}`"
        )));
    };
    Ok(HttpResponse::Ok().json(json!({ "type": name, "kind": kind })))
}

async fn delete_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, name) = path.into_inner();
    let project = own(&state, &req, &project_id).await?;
    let listed = project.custom_type(&name).is_some() || project.seen_event_types.contains(&name);
    if !listed {
        let why = match is_known_type(&project, &name) {
            true => "is built in and cannot be removed",
            false => "is not declared or seen",
        };
        return Err(ApiError::NotFound(format!(
            "event type `{name}` {why} in project `{project_id}`"
        )));
    }
    change_project(&state, &project_id, move |project| {
        project.custom_event_types.retain(|t| t.name != name);
        project.seen_event_types.retain(|t| *t != name);
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
