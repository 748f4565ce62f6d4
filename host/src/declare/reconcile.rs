//! Reconciliation: what start-up changes so the store holds what the
//! config declares, as a [`Plan`] computed without writing anything
//! (`hookmesh config plan` prints it) and then [`execute`]d.
//!
//! The config owns what it declared: every declared project, provider
//! setting and webhook is stored with `declared` set. A declared object
//! the config no longer has is deleted — a webhook with its queue (queued
//! deliveries end as failed, "endpoint deleted"), a provider setting, a
//! project with everything it owns (keys, endpoints, events, deliveries,
//! provider settings), a key (revoked at once, on every instance: each
//! request reads its key). Objects created through the API (`declared`
//! unset) are never deleted by start-up, in a declared project too; a
//! declared id that matches one takes it over. Records written before
//! the flag existed read as not declared: the first start-up with this
//! version marks what the config still declares.

use super::{declared_endpoint, declared_keys, declared_project, declared_provider, DeclareError};
use crate::config::{ConfigError, ProjectSpec};
use crate::plugin::PluginRegistry;
use crate::signing::SecretBox;
use crate::store::{ApiKey, Backend, Endpoint, KeyOrigin, Project, ProviderSettings, StoreError};
use std::collections::BTreeSet;
use std::fmt;

/// What start-up does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not stored yet.
    Create,
    /// Stored, and different from the declaration.
    Update,
    /// Declared before, no longer in the config.
    Delete,
}

/// One change of a [`Plan`].
#[derive(Debug, Clone)]
pub struct Change {
    /// What is done.
    pub action: Action,
    /// To what: `project acme`, `webhook acme/ep_orders`, `provider acme/slack`.
    pub object: String,
    /// For an update, the fields that change; for a delete, what goes with it.
    pub detail: String,
    step: Step,
}

/// The write behind a change.
#[derive(Debug, Clone)]
enum Step {
    PutProject(Box<Project>),
    PutEndpoint(Box<Endpoint>),
    PutProvider(Box<ProviderSettings>),
    DeleteProject(String),
    DeleteEndpoint(String),
    DeleteProvider { project: String, provider: String },
    PutKey(Box<ApiKey>),
    DeleteKey(Box<ApiKey>),
}

/// Every change start-up would make, in the order it makes them.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The changes.
    pub changes: Vec<Change>,
    /// Declared objects already stored as declared.
    pub unchanged: usize,
}

impl Plan {
    /// How many changes do `action`.
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    fn push(&mut self, action: Action, object: String, detail: String, step: Step) {
        self.changes.push(Change {
            action,
            object,
            detail,
            step,
        });
    }
}

impl fmt::Display for Plan {
    /// One line per change (`+` create, `~` update, `-` delete), then the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in &self.changes {
            let sign = match change.action {
                Action::Create => '+',
                Action::Update => '~',
                Action::Delete => '-',
            };
            write!(f, "{sign} {}", change.object)?;
            match change.detail.as_str() {
                "" => writeln!(f)?,
                detail => writeln!(f, ": {detail}")?,
            }
        }
        writeln!(
            f,
            "plan: {} to create, {} to change, {} to delete, {} unchanged",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Delete),
            self.unchanged
        )
    }
}

/// Compares the declared projects with the store; writes nothing. Fails
/// when a declared object fails its checks (all of them, by TOML path).
pub async fn plan(
    store: &dyn Backend,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    specs: &[ProjectSpec],
    now_ms: u64,
) -> Result<Plan, DeclareError> {
    let problems = super::check(specs, plugins, now_ms);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems).into());
    }
    let mut plan = Plan::default();
    for spec in specs {
        plan_project(&mut plan, store, secrets, plugins, spec, now_ms).await?;
    }
    let declared: BTreeSet<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    for project in store.projects().await? {
        if project.declared && !declared.contains(project.id.as_str()) {
            let endpoints = store.endpoints_of(&project.id).await?.len();
            plan.push(
                Action::Delete,
                format!("project {}", project.id),
                format!("no longer in the config; with its API keys, {endpoints} endpoint(s), events, deliveries and provider settings"),
                Step::DeleteProject(project.id.clone()),
            );
        }
    }
    Ok(plan)
}

/// One declared project: itself, its provider settings, its webhooks.
async fn plan_project(
    plan: &mut Plan,
    store: &dyn Backend,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    spec: &ProjectSpec,
    now_ms: u64,
) -> Result<(), DeclareError> {
    let stored = store.project(&spec.id).await?;
    let project = declared_project(stored.clone(), spec, now_ms);
    let object = format!("project {}", spec.id);
    compare(
        plan,
        object,
        stored.as_ref(),
        project,
        project_fields,
        |p| Step::PutProject(Box::new(p)),
    );
    // A project not stored yet has no provider settings to compare.
    let providers = match stored {
        Some(_) => store.provider_settings_of(&spec.id).await?,
        None => Vec::new(),
    };
    plan_providers(plan, secrets, plugins, spec, &providers, now_ms)?;
    plan_webhooks(plan, store, secrets, spec, now_ms).await?;
    plan_keys(plan, store, spec, now_ms).await
}

/// The project's declared keys against its stored ones: each declared key
/// stored (keeping its creation time and last use); each key declared
/// before and no longer, or stored before keys recorded their origin,
/// revoked. Keys and portal sessions made through the API are left alone.
async fn plan_keys(
    plan: &mut Plan,
    store: &dyn Backend,
    spec: &ProjectSpec,
    now_ms: u64,
) -> Result<(), DeclareError> {
    let stored = store.api_keys_of(&spec.id).await?;
    let declared = declared_keys(spec, now_ms);
    for mut key in declared.iter().cloned() {
        let object = format!("key {}/{}", spec.id, key.id());
        let found = stored.iter().find(|s| s.hash == key.hash);
        if let Some(before) = found {
            key.created_ms = before.created_ms;
            key.last_used_ms = before.last_used_ms;
        }
        compare(plan, object, found, key, key_fields, |k| {
            Step::PutKey(Box::new(k))
        });
    }
    let revoked = stored
        .iter()
        .filter(|k| k.origin != KeyOrigin::Api && !declared.iter().any(|d| d.hash == k.hash));
    for key in revoked {
        plan.push(
            Action::Delete,
            format!("key {}/{}", spec.id, key.id()),
            "no longer in the config: revoked".into(),
            Step::DeleteKey(Box::new(key.clone())),
        );
    }
    Ok(())
}

/// The project's declared provider settings against `stored` (its
/// settings as stored): creates, updates, and deletes of declared ones
/// the config no longer has.
fn plan_providers(
    plan: &mut Plan,
    secrets: &SecretBox,
    plugins: &PluginRegistry,
    spec: &ProjectSpec,
    stored: &[ProviderSettings],
    now_ms: u64,
) -> Result<(), DeclareError> {
    for (name, provider) in &spec.providers {
        let wanted = declared_provider(secrets, plugins, &spec.id, name, provider, now_ms)?;
        let found = stored.iter().find(|s| s.provider == *name);
        let object = format!("provider {}/{name}", spec.id);
        let same_secrets = found.is_some_and(|f| same_sealed(secrets, f, &wanted));
        let differs = |old: &ProviderSettings, new: &ProviderSettings| {
            provider_fields(old, new, same_secrets)
        };
        compare(plan, object, found, wanted, differs, |s| {
            Step::PutProvider(Box::new(s))
        });
    }
    for gone in stored
        .iter()
        .filter(|s| s.declared && !spec.providers.contains_key(&s.provider))
    {
        plan.push(
            Action::Delete,
            format!("provider {}/{}", spec.id, gone.provider),
            "no longer in the config".into(),
            Step::DeleteProvider {
                project: spec.id.clone(),
                provider: gone.provider.clone(),
            },
        );
    }
    Ok(())
}

/// The project's declared webhooks against its stored endpoints: creates,
/// updates, and deletes of declared ones the config no longer has.
async fn plan_webhooks(
    plan: &mut Plan,
    store: &dyn Backend,
    secrets: &SecretBox,
    spec: &ProjectSpec,
    now_ms: u64,
) -> Result<(), DeclareError> {
    let endpoints = store.endpoints_of(&spec.id).await?;
    for webhook in &spec.webhooks {
        let found = match endpoints.iter().find(|e| e.id == webhook.id) {
            Some(found) => Some(found.clone()),
            None => store.endpoint(&webhook.id).await?,
        };
        let wanted = declared_endpoint(secrets, found.as_ref(), &spec.id, webhook, now_ms)?;
        let object = format!("webhook {}/{}", spec.id, webhook.id);
        compare(plan, object, found.as_ref(), wanted, endpoint_fields, |e| {
            Step::PutEndpoint(Box::new(e))
        });
    }
    for gone in endpoints
        .iter()
        .filter(|e| e.declared && !spec.webhooks.iter().any(|w| w.id == e.id))
    {
        plan.push(
            Action::Delete,
            format!("webhook {}/{}", spec.id, gone.id),
            "no longer in the config; its queued deliveries end as failed".into(),
            Step::DeleteEndpoint(gone.id.clone()),
        );
    }
    Ok(())
}

/// Adds a create (nothing stored) or an update (`fields` lists what
/// differs) of `wanted`, or counts it unchanged.
fn compare<T>(
    plan: &mut Plan,
    object: String,
    stored: Option<&T>,
    wanted: T,
    fields: impl Fn(&T, &T) -> Vec<&'static str>,
    step: impl FnOnce(T) -> Step,
) {
    match stored {
        None => plan.push(Action::Create, object, String::new(), step(wanted)),
        Some(old) => {
            let changed = fields(old, &wanted);
            if changed.is_empty() {
                plan.unchanged += 1;
            } else {
                plan.push(Action::Update, object, changed.join(", "), step(wanted));
            }
        }
    }
}

/// Names of the fields in which two values differ.
macro_rules! differing {
    ($old:expr, $new:expr, $($field:ident),*) => {{
        let mut changed = Vec::new();
        $(if $old.$field != $new.$field { changed.push(stringify!($field)); })*
        changed
    }};
}

fn project_fields(old: &Project, new: &Project) -> Vec<&'static str> {
    let mut changed = differing!(
        old,
        new,
        name,
        custom_event_types,
        strict_event_types,
        ingest_limit,
        retention
    );
    if !old.declared {
        changed.push("now owned by the config");
    }
    changed
}

fn endpoint_fields(old: &Endpoint, new: &Endpoint) -> Vec<&'static str> {
    let mut changed = differing!(
        old,
        new,
        url,
        description,
        events,
        active,
        ordered,
        provider,
        config,
        secrets,
        filter,
        rate_limit
    );
    if !old.declared {
        changed.push("now owned by the config");
    }
    changed
}

fn key_fields(old: &ApiKey, new: &ApiKey) -> Vec<&'static str> {
    let mut changed = differing!(old, new, kind, label, expires_ms, portal);
    if old.origin != KeyOrigin::Config {
        changed.push("now owned by the config");
    }
    changed
}

fn provider_fields(
    old: &ProviderSettings,
    new: &ProviderSettings,
    same_secrets: bool,
) -> Vec<&'static str> {
    let mut changed = differing!(old, new, enabled, config);
    if !same_secrets {
        changed.push("secrets");
    }
    if !old.declared {
        changed.push("now owned by the config");
    }
    changed
}

/// Both hold the same secret values (each sealing differs: compare them open).
fn same_sealed(secrets: &SecretBox, old: &ProviderSettings, new: &ProviderSettings) -> bool {
    let open = |s: &ProviderSettings| -> Option<Vec<(String, String)>> {
        s.secrets
            .iter()
            .map(|(k, v)| secrets.open(v).ok().map(|v| (k.clone(), v)))
            .collect()
    };
    matches!((open(old), open(new)), (Some(a), Some(b)) if a == b)
}

/// Makes the plan's changes, each logged, and tells every instance that
/// endpoints or provider settings changed.
pub async fn execute(store: &dyn Backend, plan: &Plan) -> Result<(), StoreError> {
    for change in &plan.changes {
        // A delete of something already gone (another instance got there
        // first) is done all the same.
        match &change.step {
            Step::PutProject(project) => store.put_project(project).await?,
            Step::PutEndpoint(endpoint) => store.put_endpoint(endpoint).await?,
            Step::PutProvider(settings) => store.put_provider_settings(settings).await?,
            Step::DeleteProject(id) => _ = store.delete_project(id).await?,
            Step::DeleteEndpoint(id) => _ = store.delete_endpoint(id).await?,
            Step::DeleteProvider { project, provider } => {
                _ = store.delete_provider_settings(project, provider).await?;
            }
            Step::PutKey(key) => store.put_api_key(key).await?,
            Step::DeleteKey(key) => _ = store.delete_api_key(key).await?,
        }
        tracing::info!(action = ?change.action, object = %change.object, detail = %change.detail, "declared config applied");
    }
    if !plan.changes.is_empty() {
        store.announce_change().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(declared: bool) -> Project {
        Project {
            declared,
            ..Project::new("acme".into(), "Acme".into(), 1)
        }
    }

    #[test]
    fn compare_creates_updates_or_counts_unchanged() {
        let mut plan = Plan::default();
        let step = |p| Step::PutProject(Box::new(p));
        compare(
            &mut plan,
            "project a".into(),
            None,
            project(true),
            project_fields,
            step,
        );
        let stored = project(true);
        compare(
            &mut plan,
            "project b".into(),
            Some(&stored),
            project(true),
            project_fields,
            step,
        );
        let renamed = Project {
            name: "Acme Inc".into(),
            ..project(true)
        };
        compare(
            &mut plan,
            "project c".into(),
            Some(&stored),
            renamed,
            project_fields,
            step,
        );
        let kept_a_week = Project {
            retention: Some(std::time::Duration::from_secs(7 * 86_400)),
            ..project(true)
        };
        compare(
            &mut plan,
            "project f".into(),
            Some(&stored),
            kept_a_week,
            project_fields,
            step,
        );
        let made_by_the_api = project(false);
        compare(
            &mut plan,
            "project d".into(),
            Some(&made_by_the_api),
            project(true),
            project_fields,
            step,
        );
        plan.push(
            Action::Delete,
            "project e".into(),
            "no longer in the config".into(),
            Step::DeleteProject("e".into()),
        );
        assert_eq!(
            plan.to_string(),
            "+ project a\n~ project c: name\n~ project f: retention\n\
             ~ project d: now owned by the config\n\
             - project e: no longer in the config\n\
             plan: 1 to create, 3 to change, 1 to delete, 1 unchanged\n"
        );
    }
}
