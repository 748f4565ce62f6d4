//! Declared objects: the checks a webhook definition passes whoever
//! writes it ([`checks`], [`templates`]: the API and the config call the
//! same functions), and the config's `[[projects]]` checked against the
//! loaded plugins ([`check`], also run by `hookmesh config check`) and
//! reconciled with the store at start-up ([`apply`], planned by
//! [`reconcile`], shown by `hookmesh config plan`): each declared project,
//! key, provider setting and webhook is created or updated, and what the
//! config declared before and no longer does is deleted (a declared
//! project's keys no longer declared are revoked), so the TOML alone
//! reproduces a deployment. Objects created through the API are left alone.

pub mod checks;
pub mod reconcile;
mod schema_sample;
pub mod templates;

use crate::api_key::{key_record, NewKey};
use crate::config::{ConfigError, Problem, ProjectSpec, ProviderSpec, Settings, WebhookSpec};
use crate::ingest::FieldError;
use crate::plugin::{ConfigEntry, Context, Endpoint as PluginEndpoint, PluginHost, PluginRegistry};
use crate::providers::{apply_changes, check_keys, field_for, IntegrationName};
use crate::signing::{new_webhook_secret, SecretBox};
use crate::store::{
    ApiKey, Backend, Endpoint, KeyKind, KeyOrigin, Project, ProviderSettings, SealedSecret,
    StoreError,
};
pub use reconcile::Plan;
use std::collections::BTreeMap;
use std::path::Path;

/// A declared project could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeclareError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Declared objects fail the checks the API applies (all of them).
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// Reads and validates the config at `file` (as `serve` would), loads the
/// plugins of `plugins.dir` and checks every declared object against them:
/// what `hookmesh config check` runs.
pub fn check_file(file: Option<&Path>) -> Result<Settings, ConfigError> {
    Ok(load_checked(file)?.0)
}

/// [`check_file`], also answering the loaded plugins (`config plan`).
pub fn load_checked(file: Option<&Path>) -> Result<(Settings, PluginRegistry), ConfigError> {
    let settings = crate::config::load(file)?;
    let host = PluginHost::new(settings.plugins.limits)
        .map_err(|e| ConfigError::Read(format!("cannot start wasmtime: {e:#}")))?;
    let (plugins, mut problems) = load_plugins(&host, &settings.plugins.dir);
    problems.extend(check(&settings.projects, &plugins, crate::now_ms()));
    match problems.is_empty() {
        true => Ok((settings, plugins)),
        false => Err(ConfigError::Invalid(problems)),
    }
}

/// Loads every `*.wasm` directly in `dir` as `serve` does (which stops
/// at the first that fails), reporting each one that does not load (not
/// a component, an incompatible ABI, a bad manifest, a name taken)
/// under `plugins.dir`.
fn load_plugins(host: &PluginHost, dir: &Path) -> (PluginRegistry, Vec<Problem>) {
    let problem = |message: String| Problem {
        key: "plugins.dir".into(),
        message,
    };
    let mut registry = PluginRegistry::default();
    let files = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())),
        Err(e) => return (registry, vec![problem(format!("{}: {e}", dir.display()))]),
    };
    let mut files: Vec<_> = files
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let loaded = host.load_file(&file).and_then(|p| registry.insert(p));
        if let Err(e) = loaded {
            problems.push(problem(e.to_string()));
        }
    }
    (registry, problems)
}

/// Checks every declared project against the loaded plugins as the API
/// checks what it registers (provider loaded and able to deliver, config
/// fields of its manifest, secret fields only in provider settings,
/// subscriptions against the project's catalogue, templates rendered on
/// sample events); every problem, under its TOML path.
pub fn check(specs: &[ProjectSpec], plugins: &PluginRegistry, now_ms: u64) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let at = format!("projects[{i}]");
        let project = declared_project(None, spec, now_ms);
        for (name, provider) in &spec.providers {
            let at = format!("{at}.providers.{name}");
            if let Err(e) = check_provider_spec(plugins, name, provider) {
                problems.push(problem(&at, e));
            }
        }
        for (j, webhook) in spec.webhooks.iter().enumerate() {
            let at = format!("{at}.webhooks[{j}]");
            problems.extend(
                check_webhook(plugins, &project, spec, webhook, now_ms)
                    .into_iter()
                    .map(|e| problem(&at, e)),
            );
        }
    }
    problems
}

/// `e` under the TOML path `at` (`at` itself when `e` names no field).
fn problem(at: &str, e: FieldError) -> Problem {
    Problem {
        key: match e.field.as_str() {
            "" => at.to_string(),
            field => format!("{at}.{field}"),
        },
        message: e.message,
    }
}

/// `[projects.providers.<name>]`: a loaded plugin (or a named instance of
/// one, `hmac.uptime`), with fields of its manifest.
fn check_provider_spec(
    plugins: &PluginRegistry,
    name: &str,
    spec: &ProviderSpec,
) -> Result<(), FieldError> {
    let unknown = |message: String| FieldError {
        field: String::new(),
        message,
    };
    let parsed = IntegrationName::parse(name).map_err(|e| unknown(e.to_string()))?;
    let Some(plugin) = plugins.get(parsed.plugin) else {
        let loaded: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
        return Err(unknown(format!(
            "`{name}` is not a loaded provider; loaded: {loaded:?}"
        )));
    };
    check_keys(plugin.manifest(), spec.config.keys(), "config", true)
}

/// A declared webhook's problems: the API's checks, fields relative to it.
fn check_webhook(
    plugins: &PluginRegistry,
    project: &Project,
    spec: &ProjectSpec,
    webhook: &WebhookSpec,
    now_ms: u64,
) -> Vec<FieldError> {
    // No events at all is reported with the webhook's other values.
    let too_many = checks::count_problem(&webhook.events).filter(|_| !webhook.events.is_empty());
    let mut problems: Vec<FieldError> = too_many.into_iter().collect();
    problems.extend(checks::event_problems(plugins, project, &webhook.events));
    let plugin = match checks::delivering_plugin(plugins, &webhook.provider) {
        Ok(plugin) => plugin,
        Err(e) => {
            problems.push(e);
            return problems;
        }
    };
    let keys = checks::config_key_problems(plugin, &webhook.config);
    problems.extend(keys.into_iter().map(|e| toml_hint(plugins, webhook, e)));
    let settings = spec.providers.get(&webhook.provider);
    if settings.is_some_and(|s| !s.enabled) || !problems.is_empty() {
        return problems;
    }
    let mut config = settings.map(|s| s.config.clone()).unwrap_or_default();
    config.extend(webhook.config.clone());
    let ctx = sample_context(webhook, config, now_ms);
    let samples = templates::samples(project, &webhook.events, now_ms);
    if let Err(e) = templates::check_templates(plugin, &ctx, &webhook.config, &samples) {
        problems.push(e);
    }
    problems
}

/// A secret field set on a declared endpoint: say where it belongs in the TOML.
fn toml_hint(plugins: &PluginRegistry, webhook: &WebhookSpec, mut e: FieldError) -> FieldError {
    let secret_key = e.field.strip_prefix("config.").filter(|key| {
        plugins
            .get(&webhook.provider)
            .and_then(|p| field_for(p.manifest(), key))
            .is_some_and(|f| f.secret)
    });
    if let Some(key) = secret_key {
        e.message = format!(
            "is a secret field of provider `{0}`: endpoint config is stored as is, so set it once for the project, sealed, under [projects.providers.{0}] config = {{ {key} = \"env:NAME\" }}",
            webhook.provider
        );
    }
    e
}

/// The context a declared webhook's sample renders run with.
fn sample_context(webhook: &WebhookSpec, config: BTreeMap<String, String>, now_ms: u64) -> Context {
    Context {
        now_ms,
        delivery_id: "dlv_check".into(),
        attempt: 1,
        endpoint: Some(PluginEndpoint {
            id: webhook.id.clone(),
            url: webhook.url.clone(),
            secrets: vec![webhook.secret.clone().unwrap_or_else(new_webhook_secret)],
        }),
        config: config
            .into_iter()
            .map(|(key, value)| ConfigEntry { key, value })
            .collect(),
    }
}

/// Checks, then reconciles the store with the declared projects (see
/// [`reconcile`]): creates and updates what the config declares, deletes
/// what it declared before and no longer does, each change logged; then
/// stores the declared keys. Returns the changes made. Nothing is written
/// when any declared object fails its checks.
pub async fn apply(
    store: &dyn Backend,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    specs: &[ProjectSpec],
    now_ms: u64,
) -> Result<Plan, DeclareError> {
    let plan = reconcile::plan(store, secrets, plugins, specs, now_ms).await?;
    reconcile::execute(store, &plan).await?;
    Ok(plan)
}

/// The declared project's keys as records (`secret_key`, `publishable_key`).
fn declared_keys(spec: &ProjectSpec, now_ms: u64) -> Vec<ApiKey> {
    [
        (&spec.secret_key, KeyKind::Secret, "secret_key"),
        (
            &spec.publishable_key,
            KeyKind::Publishable,
            "publishable_key",
        ),
    ]
    .into_iter()
    .filter_map(|(key, kind, name)| {
        let new = NewKey {
            kind,
            label: Some(format!("{name} (config)")),
            expires_ms: None,
            origin: KeyOrigin::Config,
        };
        key.as_deref()
            .map(|key| key_record(&spec.id, key, new, now_ms))
    })
    .collect()
}

/// The project as declared: name, strictness, declared types, ingestion
/// limit (absent: the `[ingest]` default) and retention (absent:
/// `storage.retention`) from the TOML; its
/// creation time and the types it has seen (less those declared now) kept
/// from the stored record.
fn declared_project(stored: Option<Project>, spec: &ProjectSpec, now_ms: u64) -> Project {
    let (created_ms, mut seen) =
        stored.map_or((now_ms, Vec::new()), |p| (p.created_ms, p.seen_event_types));
    seen.retain(|t| !spec.custom_event_types.iter().any(|d| d.name == *t));
    Project {
        custom_event_types: spec.custom_event_types.clone(),
        strict_event_types: spec.strict_event_types,
        seen_event_types: seen,
        declared: true,
        ingest_limit: spec.ingest_limit,
        retention: spec.retention,
        ..Project::new(spec.id.clone(), spec.name.clone(), created_ms)
    }
}

/// The provider settings as declared (secret values sealed).
fn declared_provider(
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    project_id: &str,
    name: &str,
    spec: &ProviderSpec,
    now_ms: u64,
) -> Result<ProviderSettings, DeclareError> {
    let fail = |message: String| {
        ConfigError::Invalid(vec![Problem {
            key: format!("projects `{project_id}`: providers.{name}"),
            message,
        }])
    };
    let plugin = IntegrationName::parse(name)
        .ok()
        .and_then(|n| plugins.get(n.plugin))
        .ok_or_else(|| fail("no such provider is loaded".into()))?;
    let mut settings = ProviderSettings {
        project_id: project_id.to_string(),
        provider: name.to_string(),
        enabled: spec.enabled,
        config: Default::default(),
        secrets: Default::default(),
        updated_ms: now_ms,
        declared: true,
    };
    let changes = spec
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    apply_changes(plugin.manifest(), &mut settings, changes, secrets)
        .map_err(|e| fail(e.to_string()))?;
    Ok(settings)
}

/// The endpoint as declared, over the stored one (`existing`): its health,
/// creation time and (unless the declared secret changed) its secrets kept.
fn declared_endpoint(
    secrets: &SecretBox,
    existing: Option<&Endpoint>,
    project_id: &str,
    spec: &WebhookSpec,
    now_ms: u64,
) -> Result<Endpoint, StoreError> {
    if existing.is_some_and(|e| e.project_id != project_id) {
        return Err(StoreError::Backend(format!(
            "declared webhook `{}` already exists in another project",
            spec.id
        )));
    }
    let active = spec
        .active
        .unwrap_or_else(|| existing.is_none_or(|e| e.active));
    // Re-enabled by the TOML: its health record starts afresh.
    let kept = existing.filter(|e| !active || e.active);
    Ok(Endpoint {
        id: spec.id.clone(),
        project_id: project_id.to_string(),
        url: spec.url.clone(),
        description: spec.description.clone(),
        events: spec.events.clone(),
        active,
        disabled_reason: kept.and_then(|e| e.disabled_reason.clone()),
        ordered: spec.ordered,
        rate_limit: spec.rate_limit,
        provider: spec.provider.clone(),
        config: spec.config.clone(),
        secrets: declared_secrets(secrets, existing, spec, now_ms),
        filter: spec.filter.clone(),
        failing_since_ms: kept.and_then(|e| e.failing_since_ms),
        failure_alerted: kept.is_some_and(|e| e.failure_alerted),
        created_ms: existing.map_or(now_ms, |e| e.created_ms),
        updated_ms: now_ms,
        declared: true,
    })
}

/// The endpoint's secrets after applying the declared one: unchanged when
/// it is the current one (or none is declared and one exists); otherwise
/// the declared (or a generated) secret becomes current and the previous
/// one keeps signing for `rotation_grace`, as API rotation does.
fn declared_secrets(
    secrets: &SecretBox,
    existing: Option<&Endpoint>,
    spec: &WebhookSpec,
    now_ms: u64,
) -> Vec<SealedSecret> {
    let current = existing.and_then(|e| e.secrets.iter().find(|s| s.expires_ms.is_none()));
    let unchanged = match (&spec.secret, current) {
        (None, Some(_)) => true,
        (Some(declared), Some(current)) => secrets
            .open(&current.sealed)
            .is_ok_and(|open| open == *declared),
        (_, None) => false,
    };
    if let (true, Some(existing)) = (unchanged, existing) {
        return existing.secrets.clone();
    }
    let secret = spec.secret.clone().unwrap_or_else(|| {
        tracing::info!(endpoint_id = %spec.id, "declared webhook has no `secret`: it gets a generated one, kept across restarts (POST …/rotate returns a new one, or declare it)");
        new_webhook_secret()
    });
    let mut sealed = vec![SealedSecret {
        sealed: secrets.seal(&secret),
        expires_ms: None,
    }];
    let grace_ms = u64::try_from(spec.rotation_grace.as_millis()).unwrap_or(u64::MAX / 2);
    if let Some(previous) = current.filter(|_| grace_ms > 0) {
        tracing::info!(endpoint_id = %spec.id, grace = %humantime::format_duration(spec.rotation_grace), "declared secret changed; the previous one keeps signing during the grace");
        sealed.push(SealedSecret {
            sealed: previous.sealed.clone(),
            expires_ms: Some(now_ms.saturating_add(grace_ms)),
        });
    }
    sealed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(secret: Option<&str>) -> WebhookSpec {
        WebhookSpec {
            id: "ep".into(),
            url: "https://x.example/".into(),
            events: vec!["*".into()],
            secret: secret.map(str::to_string),
            ordered: true,
            rate_limit: None,
            provider: "webhook".into(),
            config: BTreeMap::new(),
            filter: BTreeMap::new(),
            active: None,
            description: String::new(),
            rotation_grace: Duration::from_secs(60),
        }
    }

    fn endpoint(secrets: Vec<SealedSecret>) -> Endpoint {
        Endpoint {
            id: "ep".into(),
            project_id: "p".into(),
            url: "https://x.example/".into(),
            description: String::new(),
            events: vec!["*".into()],
            active: true,
            disabled_reason: None,
            ordered: true,
            provider: "webhook".into(),
            config: BTreeMap::new(),
            secrets,
            filter: BTreeMap::new(),
            rate_limit: None,
            failing_since_ms: None,
            failure_alerted: false,
            created_ms: 0,
            updated_ms: 0,
            declared: true,
        }
    }

    #[test]
    fn a_changed_declared_secret_rotates_with_the_grace() {
        let sb = SecretBox::from_base64(&("A".repeat(43) + "=")).unwrap();
        let first = declared_secrets(&sb, None, &spec(Some("first-secret-0123456789")), 0);
        assert_eq!(first.len(), 1);
        let stored = endpoint(first.clone());
        let same = declared_secrets(
            &sb,
            Some(&stored),
            &spec(Some("first-secret-0123456789")),
            5,
        );
        assert_eq!(same, first);
        let kept = declared_secrets(&sb, Some(&stored), &spec(None), 5);
        assert_eq!(kept, first, "no declared secret keeps the stored one");
        let rotated = declared_secrets(
            &sb,
            Some(&stored),
            &spec(Some("second-secret-0123456789")),
            1_000,
        );
        assert_eq!(rotated.len(), 2);
        assert_eq!(
            sb.open(&rotated[0].sealed).unwrap(),
            "second-secret-0123456789"
        );
        assert_eq!(rotated[0].expires_ms, None);
        assert_eq!(
            sb.open(&rotated[1].sealed).unwrap(),
            "first-secret-0123456789"
        );
        assert_eq!(rotated[1].expires_ms, Some(61_000));
        let generated = declared_secrets(&sb, None, &spec(None), 0);
        assert!(sb.open(&generated[0].sealed).unwrap().starts_with("whsec_"));
    }
}
