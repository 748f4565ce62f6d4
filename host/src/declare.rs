//! Applies the config's `[[projects]]` to the store at start-up: creates or
//! updates each declared project, key and webhook, so the TOML alone
//! reproduces a deployment. Objects created through the API are left alone.

use crate::config::{ProjectSpec, ProviderSpec, WebhookSpec};
use crate::plugin::PluginRegistry;
use crate::providers::apply_changes;
use crate::signing::{hash_api_key, SecretBox};
use crate::store::{
    ApiKey, Backend, Endpoint, KeyKind, Project, ProviderSettings, SealedSecret, StoreError,
};

/// A declared project could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeclareError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A declared provider is not loaded, or its config does not fit its manifest.
    #[error("projects `{project}`: providers.{provider}: {message}")]
    Provider {
        /// The project.
        project: String,
        /// The provider.
        provider: String,
        /// What is wrong.
        message: String,
    },
}

/// Upserts every declared project; returns how many webhooks were written.
pub fn apply(
    store: &dyn Backend,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    specs: &[ProjectSpec],
    now_ms: u64,
) -> Result<usize, DeclareError> {
    let mut webhooks = 0;
    for spec in specs {
        store.put_project(&declared_project(store.project(&spec.id)?, spec, now_ms))?;
        for (key, kind) in [
            (&spec.secret_key, KeyKind::Secret),
            (&spec.publishable_key, KeyKind::Publishable),
        ] {
            if let Some(key) = key {
                store.put_api_key(&ApiKey {
                    hash: hash_api_key(key),
                    project_id: spec.id.clone(),
                    kind,
                    prefix: key.chars().take(10).collect(),
                    created_ms: now_ms,
                })?;
            }
        }
        for (name, provider) in &spec.providers {
            apply_provider(store, secrets, plugins, &spec.id, name, provider, now_ms)?;
        }
        for webhook in &spec.webhooks {
            upsert_webhook(store, secrets, &spec.id, webhook, now_ms)?;
            webhooks += 1;
        }
        tracing::info!(project_id = %spec.id, webhooks = spec.webhooks.len(), "declared project applied");
    }
    Ok(webhooks)
}

/// The project as declared: name, strictness and declared types from the
/// TOML; its creation time and the types it has seen (less those declared
/// now) kept from the stored record.
fn declared_project(stored: Option<Project>, spec: &ProjectSpec, now_ms: u64) -> Project {
    let (created_ms, mut seen) =
        stored.map_or((now_ms, Vec::new()), |p| (p.created_ms, p.seen_event_types));
    seen.retain(|t| !spec.custom_event_types.iter().any(|d| d.name == *t));
    Project {
        custom_event_types: spec.custom_event_types.clone(),
        strict_event_types: spec.strict_event_types,
        seen_event_types: seen,
        ..Project::new(spec.id.clone(), spec.name.clone(), created_ms)
    }
}

fn apply_provider(
    store: &dyn Backend,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    project_id: &str,
    name: &str,
    spec: &ProviderSpec,
    now_ms: u64,
) -> Result<(), DeclareError> {
    let fail = |message: String| DeclareError::Provider {
        project: project_id.to_string(),
        provider: name.to_string(),
        message,
    };
    let plugin = plugins
        .get(name)
        .ok_or_else(|| fail("no such provider is loaded".into()))?;
    let mut settings = ProviderSettings {
        project_id: project_id.to_string(),
        provider: name.to_string(),
        enabled: spec.enabled,
        config: Default::default(),
        secrets: Default::default(),
        updated_ms: now_ms,
    };
    let changes = spec
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    apply_changes(plugin.manifest(), &mut settings, changes, secrets)
        .map_err(|e| fail(e.to_string()))?;
    store.put_provider_settings(&settings)?;
    Ok(())
}

fn upsert_webhook(
    store: &dyn Backend,
    secrets: &SecretBox,
    project_id: &str,
    spec: &WebhookSpec,
    now_ms: u64,
) -> Result<(), StoreError> {
    let existing = store.endpoint(&spec.id)?;
    if existing
        .as_ref()
        .is_some_and(|e| e.project_id != project_id)
    {
        return Err(StoreError::Backend(format!(
            "declared webhook `{}` already exists in another project",
            spec.id
        )));
    }
    // Keep the sealed secret (and any rotation) when the declared one is unchanged.
    let same_secret = existing
        .as_ref()
        .and_then(|e| e.secrets.iter().find(|s| s.expires_ms.is_none()))
        .is_some_and(|s| {
            secrets
                .open(&s.sealed)
                .is_ok_and(|current| current == spec.secret)
        });
    let endpoint = Endpoint {
        id: spec.id.clone(),
        project_id: project_id.to_string(),
        url: spec.url.clone(),
        description: spec.description.clone(),
        events: spec.events.clone(),
        active: existing.as_ref().is_none_or(|e| e.active),
        disabled_reason: existing.as_ref().and_then(|e| e.disabled_reason.clone()),
        ordered: spec.ordered,
        rate_limit: spec.rate_limit,
        provider: spec.provider.clone(),
        config: spec.config.clone(),
        secrets: match (&existing, same_secret) {
            (Some(e), true) => e.secrets.clone(),
            _ => vec![SealedSecret {
                sealed: secrets.seal(&spec.secret),
                expires_ms: None,
            }],
        },
        filter: existing
            .as_ref()
            .map(|e| e.filter.clone())
            .unwrap_or_default(),
        failing_since_ms: existing.as_ref().and_then(|e| e.failing_since_ms),
        failure_alerted: existing.as_ref().is_some_and(|e| e.failure_alerted),
        created_ms: existing.as_ref().map_or(now_ms, |e| e.created_ms),
        updated_ms: now_ms,
    };
    store.put_endpoint(&endpoint)
}
