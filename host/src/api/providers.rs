//! Providers per project: `GET /projects/{p}/integrations/providers` (the
//! loaded plugins, their config fields, this project's settings with
//! secrets masked, and status), `PUT …/providers/{provider}` (configure,
//! checked against the manifest), `POST …/providers/{provider}/toggle`.

use super::body::{read_json, read_json_or_default};
use super::error::ApiError;
use super::openapi::{doc, object, Auth, RouteDoc};
use super::{manage, AppState};
use crate::plugin::wire::ManifestView;
use crate::plugin::LoadedPlugin;
use crate::providers::{apply_changes, masked, missing_required};
use crate::store::ProviderSettings;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn routes() -> Vec<RouteDoc> {
    vec![
        doc(
            "get",
            "/projects/{project}/integrations/providers",
            "Providers from the loaded plugins, their fields, settings (secrets masked) and status",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(list),
        ),
        doc(
            "put",
            "/projects/{project}/integrations/providers/{provider}",
            "Configure a provider (checked against its manifest)",
            Auth::Manage,
            Some(|| {
                object(
                    &["config"],
                    &[
                        (
                            "config",
                            serde_json::json!({ "type": "object", "additionalProperties": { "type": ["string", "null"] } }),
                        ),
                        ("enabled", serde_json::json!({ "type": "boolean" })),
                    ],
                )
            }),
            &[200, 400, 401, 403, 404],
            || web::put().to(configure_one),
        ),
        doc(
            "post",
            "/projects/{project}/integrations/providers/{provider}/toggle",
            "Enable or disable a provider, keeping its config",
            Auth::Manage,
            Some(|| {
                object(
                    &[],
                    &[("enabled", serde_json::json!({ "type": "boolean" }))],
                )
            }),
            &[200, 401, 403, 404, 409],
            || web::post().to(toggle),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Configure {
    /// Field values; `null` removes a field.
    config: BTreeMap<String, Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Toggle {
    /// Set explicitly; absent: flip.
    #[serde(default)]
    enabled: Option<bool>,
}

fn view(plugin: &LoadedPlugin, settings: Option<&ProviderSettings>) -> serde_json::Value {
    let missing = missing_required(plugin.manifest(), settings, &BTreeMap::new());
    let status = match settings {
        None => "not_configured",
        Some(s) if !s.enabled => "disabled",
        Some(_) if !missing.is_empty() => "incomplete",
        Some(_) => "enabled",
    };
    json!({
        "name": plugin.name(),
        "manifest": ManifestView::from(plugin.manifest()),
        "status": status,
        "enabled": settings.is_some_and(|s| s.enabled),
        "config": settings.map(masked).unwrap_or_default(),
        "missing_required": missing,
        "updated_at": settings.map(|s| s.updated_ms),
    })
}

async fn settings_of(
    state: &AppState,
    project_id: &str,
    provider: &str,
) -> Result<Option<ProviderSettings>, ApiError> {
    Ok(state.store.provider_settings(project_id, provider).await?)
}

fn plugin<'a>(state: &'a AppState, provider: &str) -> Result<&'a Arc<LoadedPlugin>, ApiError> {
    state
        .plugins
        .get(provider)
        .ok_or_else(|| ApiError::NotFound(format!("provider `{provider}` is not loaded")))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let mut data = Vec::new();
    for plugin in state.plugins.iter() {
        let settings = settings_of(&state, &project_id, plugin.name()).await?;
        data.push(view(plugin, settings.as_ref()));
    }
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Stamps and stores the settings; when the provider is on, wakes the project's
/// endpoints that use it (their deliveries waited while it was off).
async fn save(
    state: &AppState,
    mut settings: ProviderSettings,
) -> Result<ProviderSettings, ApiError> {
    settings.updated_ms = crate::now_ms();
    state.store.put_provider_settings(settings.clone()).await?;
    let users: Vec<String> = state
        .store
        .endpoints_of(&settings.project_id)
        .await?
        .into_iter()
        .filter(|e| e.provider == settings.provider)
        .map(|e| e.id)
        .collect();
    if settings.enabled {
        state.dispatcher.notify(users);
    }
    Ok(settings)
}

async fn configure_one(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let plugin = plugin(&state, &provider)?;
    let input: Configure = read_json(body, state.max_body_bytes).await?;
    let mut settings = settings_of(&state, &project_id, &provider)
        .await?
        .unwrap_or(ProviderSettings {
            project_id: project_id.clone(),
            provider: provider.clone(),
            enabled: true,
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            updated_ms: 0,
        });
    apply_changes(
        plugin.manifest(),
        &mut settings,
        input.config,
        &state.secrets,
    )?;
    if let Some(enabled) = input.enabled {
        settings.enabled = enabled;
    }
    let settings = save(&state, settings).await?;
    tracing::info!(project_id = %project_id, provider = %provider, "provider configured");
    Ok(HttpResponse::Ok().json(view(plugin, Some(&settings))))
}

async fn toggle(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let plugin = plugin(&state, &provider)?;
    let input: Toggle = read_json_or_default(body, state.max_body_bytes).await?;
    let mut settings = settings_of(&state, &project_id, &provider)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "provider `{provider}` is not configured for this project; PUT its config first"
            ))
        })?;
    settings.enabled = input.enabled.unwrap_or(!settings.enabled);
    let settings = save(&state, settings).await?;
    Ok(HttpResponse::Ok().json(view(plugin, Some(&settings))))
}
