//! Providers per project: `GET /projects/{p}/integrations/providers` (the
//! loaded plugins, their config fields, this project's settings with
//! secrets masked, which secret fields are set, and status),
//! `GET …/providers/{provider}` (one),
//! `PUT …/providers/{provider}` (configure, checked against the manifest),
//! `POST …/providers/{provider}/toggle`.
//!
//! `{provider}` is a plugin's name, or a named instance of an inbound
//! plugin, `<plugin>.<instance>` (`hmac.uptime`): its own settings, checked
//! against the plugin's manifest, used by `POST /inbound/{p}/hmac.uptime`
//! (see [`crate::providers::IntegrationName`]).

use super::body::{read_json, read_json_or_default};
use super::error::ApiError;
use super::openapi::params::config_keys;
use super::openapi::{doc, object, Auth, RouteDoc};
use super::{manage, AppState};
use crate::plugin::wire::ManifestView;
use crate::plugin::{Capability, LoadedPlugin};
use crate::providers::{apply_changes, masked, missing_required, IntegrationName};
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
            "Providers from the loaded plugins, their fields (`manifest.config_fields`: name, description, \
             secret, required), settings (`config`, secrets masked), `secrets_set` (the secret fields set, \
             never their values) and status; `named_instances`: the plugin also serves instances \
             `<plugin>.<instance>`",
            Auth::Manage,
            None,
            &[200, 401, 403, 404],
            || web::get().to(list),
        ),
        doc(
            "get",
            "/projects/{project}/integrations/providers/{provider}",
            "One provider, or a named inbound instance `<plugin>.<instance>` (e.g. `hmac.uptime`): \
             fields, settings (secrets masked), `secrets_set` and status",
            Auth::Manage,
            None,
            &[200, 400, 401, 403, 404],
            || web::get().to(show),
        ),
        doc(
            "put",
            "/projects/{project}/integrations/providers/{provider}",
            "Configure a provider, or a named instance `<plugin>.<instance>` of an inbound plugin \
             (e.g. `hmac.uptime`: its own settings, for POST /inbound/{project}/hmac.uptime); \
             checked against the plugin's manifest; a field absent from `config` is kept, `null` removes it \
             (secret fields are write-only: answers say only that they are set)",
            Auth::Manage,
            Some(|plugins| {
                object(
                    &["config"],
                    &[
                        (
                            "config",
                            serde_json::json!({ "type": "object",
                                "propertyNames": config_keys(plugins.iter().map(|p| p.as_ref()), true),
                                "additionalProperties": { "type": ["string", "null"] },
                                "description": "fields of the provider in the path (see GET …/providers/{provider}); null removes one" }),
                        ),
                        ("enabled", serde_json::json!({ "type": ["boolean", "null"] })),
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
            Some(|_| {
                object(
                    &[],
                    &[("enabled", serde_json::json!({ "type": ["boolean", "null"] }))],
                )
            }),
            &[200, 400, 401, 403, 404, 409],
            || web::post().to(toggle),
        )
        .with_optional_body(),
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

fn view(
    plugin: &LoadedPlugin,
    name: IntegrationName<'_>,
    settings: Option<&ProviderSettings>,
) -> serde_json::Value {
    let missing = missing_required(plugin.manifest(), settings, &BTreeMap::new());
    let status = match settings {
        None => "not_configured",
        Some(s) if !s.enabled => "disabled",
        Some(_) if !missing.is_empty() => "incomplete",
        Some(_) => "enabled",
    };
    json!({
        "name": name.to_string(),
        "plugin": name.plugin,
        "instance": name.instance,
        "named_instances": name.instance.is_none() && accepts_instances(plugin),
        "manifest": ManifestView::from(plugin.manifest()),
        "status": status,
        "enabled": settings.is_some_and(|s| s.enabled),
        "config": settings.map(masked).unwrap_or_default(),
        // Which secret fields hold a value (a form shows "set"; never the value).
        "secrets_set": settings.map(|s| s.secrets.keys().collect::<Vec<_>>()).unwrap_or_default(),
        "missing_required": missing,
        "updated_at": settings.map(|s| s.updated_ms),
        // Set by the config: start-up deletes it once the config no longer has it.
        "declared": settings.is_some_and(|s| s.declared),
    })
}

async fn settings_of(
    state: &AppState,
    project_id: &str,
    provider: &str,
) -> Result<Option<ProviderSettings>, ApiError> {
    Ok(state.store.provider_settings(project_id, provider).await?)
}

/// Only inbound plugins have named instances (an endpoint's provider is a
/// plugin, so an outbound instance would never be used).
fn accepts_instances(plugin: &LoadedPlugin) -> bool {
    plugin
        .manifest()
        .capabilities
        .contains(&Capability::Inbound)
}

/// The plugin serving integration `provider`, and the name split.
fn plugin<'a, 'n>(
    state: &'a AppState,
    provider: &'n str,
) -> Result<(&'a Arc<LoadedPlugin>, IntegrationName<'n>), ApiError> {
    let name =
        IntegrationName::parse(provider).map_err(|e| ApiError::bad("provider", e.to_string()))?;
    let plugin = state
        .plugins
        .get(name.plugin)
        .ok_or_else(|| ApiError::NotFound(format!("provider `{}` is not loaded", name.plugin)))?;
    if name.instance.is_some() && !accepts_instances(plugin) {
        return Err(ApiError::bad(
            "provider",
            format!(
                "`{provider}`: named instances are for inbound providers; `{}` has no inbound capability",
                name.plugin
            ),
        ));
    }
    Ok((plugin, name))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let configured = state.store.provider_settings_of(&project_id).await?;
    let mut data = Vec::new();
    for plugin in state.plugins.iter() {
        let own = configured.iter().find(|s| s.provider == plugin.name());
        let name = IntegrationName {
            plugin: plugin.name(),
            instance: None,
        };
        data.push(view(plugin, name, own));
        // Then its named instances (`hmac.uptime`), each with its settings.
        for settings in &configured {
            if let Ok(name) = IntegrationName::parse(&settings.provider) {
                if name.plugin == plugin.name() && name.instance.is_some() {
                    data.push(view(plugin, name, Some(settings)));
                }
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let (plugin, name) = plugin(&state, &provider)?;
    let settings = settings_of(&state, &project_id, &provider).await?;
    if name.instance.is_some() && settings.is_none() {
        return Err(ApiError::NotFound(format!(
            "`{provider}` is not configured for this project; PUT its config first"
        )));
    }
    Ok(HttpResponse::Ok().json(view(plugin, name, settings.as_ref())))
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
    let (plugin, name) = plugin(&state, &provider)?;
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
            declared: false,
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
    Ok(HttpResponse::Ok().json(view(plugin, name, Some(&settings))))
}

async fn toggle(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (project_id, provider) = path.into_inner();
    manage(&state, &req, &project_id).await?;
    let (plugin, name) = plugin(&state, &provider)?;
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
    Ok(HttpResponse::Ok().json(view(plugin, name, Some(&settings))))
}
