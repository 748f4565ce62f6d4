//! What the API owns: projects, API keys, endpoints and provider settings.

use super::{ApiKey, Endpoint, EndpointChange, Project, ProjectChange, ProviderSettings};
use super::{Store, StoreError};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Store {
    /// Every project, oldest first.
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let mut projects = self.backend.projects().await?;
        projects.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(projects)
    }

    /// A project by id.
    pub async fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.backend.project(id).await
    }

    /// Creates a project with its API keys; false (nothing written) when
    /// a project with that id exists.
    pub async fn create_project(
        &self,
        project: Project,
        keys: Vec<ApiKey>,
    ) -> Result<bool, StoreError> {
        if self.backend.project(&project.id).await?.is_some() {
            return Ok(false);
        }
        self.backend.put_project(&project).await?;
        for key in &keys {
            self.backend.put_api_key(key).await?;
        }
        Ok(true)
    }

    /// Applies `change` to the project as stored now, atomically (a
    /// concurrent change, such as a type seen for the first time while the
    /// API changes the project, is never undone). `None` when the project
    /// does not exist.
    pub async fn update_project(
        &self,
        id: &str,
        change: impl Fn(&mut Project) + Send + Sync + 'static,
    ) -> Result<Option<Project>, StoreError> {
        let (id, change): (String, ProjectChange) = (id.to_string(), Arc::new(change));
        self.backend.update_project(&id, change).await
    }

    /// The key whose hash is `hash` (if any) and the project `project_id`
    /// (if given), in one round trip where the backend is remote.
    pub async fn api_key_and_project(
        &self,
        hash: Option<String>,
        project_id: Option<String>,
    ) -> Result<(Option<ApiKey>, Option<Project>), StoreError> {
        let b = &self.backend;
        match (hash, project_id) {
            (Some(hash), Some(id)) => b.api_key_and_project(&hash, &id).await,
            (hash, id) => {
                let key = match hash {
                    Some(hash) => b.api_key(&hash).await?,
                    None => None,
                };
                let project = match id {
                    Some(id) => b.project(&id).await?,
                    None => None,
                };
                Ok((key, project))
            }
        }
    }

    /// Stores a new API key.
    pub async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.backend.put_api_key(key).await
    }

    /// The project's keys, oldest first, each with its last use.
    pub async fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys = self.backend.api_keys_of(project_id).await?;
        keys.sort_by(|a, b| (a.created_ms, &a.hash).cmp(&(b.created_ms, &b.hash)));
        Ok(keys)
    }

    /// Revokes `key` at once, for every instance (each request reads its
    /// key from the store); false when it was already gone.
    pub async fn revoke_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        self.backend.delete_api_key(key).await
    }

    /// Makes `key` expire at `expires_ms` unless it is gone; false then.
    pub async fn expire_api_key(&self, key: &ApiKey, expires_ms: u64) -> Result<bool, StoreError> {
        self.backend.expire_api_key(key, expires_ms).await
    }

    /// Records that `key` authenticated a request at `now_ms`.
    pub async fn touch_api_key(&self, key: &ApiKey, now_ms: u64) -> Result<(), StoreError> {
        self.backend.touch_api_key(key, now_ms).await
    }

    /// Inserts or replaces an endpoint (creation; changes to an existing
    /// one go through [`Store::update_endpoint`]).
    pub async fn put_endpoint(&self, endpoint: Endpoint) -> Result<(), StoreError> {
        let written = self.backend.put_endpoint(&endpoint).await;
        self.catalogue_changed().await;
        written
    }

    /// Applies `change` to the endpoint as stored now, atomically (a
    /// concurrent change is never undone by an older copy). `None` when
    /// the endpoint does not exist. Endpoint actors see the change before
    /// their next attempt.
    pub async fn update_endpoint(
        &self,
        id: &str,
        change: impl Fn(&mut Endpoint) + Send + Sync + 'static,
    ) -> Result<Option<Endpoint>, StoreError> {
        let (id, change): (String, EndpointChange) = (id.to_string(), Arc::new(change));
        let written = self.backend.update_endpoint(&id, change).await;
        self.catalogue_changed().await;
        written
    }

    /// An endpoint by id.
    pub async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.backend.endpoint(id).await
    }

    /// The endpoints of a project, oldest first.
    pub async fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.backend.endpoints_of(project_id).await
    }

    /// Applies a change to the endpoint's health fields (how long it has
    /// been failing, whether it was disabled for it) as stored now,
    /// atomically. Made by the endpoint's own actor, which acts on it at
    /// once: other actors are not told to read their endpoints again.
    pub async fn update_endpoint_health(
        &self,
        id: &str,
        change: impl Fn(&mut Endpoint) + Send + Sync + 'static,
    ) -> Result<Option<Endpoint>, StoreError> {
        let (id, change): (String, EndpointChange) = (id.to_string(), Arc::new(change));
        self.backend.update_endpoint(&id, change).await
    }

    /// Removes an endpoint and its queue (its history stays readable by
    /// delivery id). False when it did not exist.
    pub async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self.backend.delete_endpoint(id).await;
        self.catalogue_changed().await;
        deleted
    }

    /// Removes a project with everything it owns (keys, endpoints and
    /// their queues, events, deliveries, provider settings); the
    /// endpoints' actors stop before their next attempt. False when it did
    /// not exist.
    pub async fn delete_project(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self.backend.delete_project(id).await;
        self.catalogue_changed().await;
        deleted
    }

    /// Removes a project's settings for `provider`; false when there were none.
    pub async fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .backend
            .delete_provider_settings(project_id, provider)
            .await;
        self.catalogue_changed().await;
        deleted
    }

    /// Stores a project's settings for one provider.
    pub async fn put_provider_settings(
        &self,
        settings: ProviderSettings,
    ) -> Result<(), StoreError> {
        let written = self.backend.put_provider_settings(&settings).await;
        self.catalogue_changed().await;
        written
    }

    /// Counts changes to endpoints and provider settings made through this
    /// process (or announced by another instance). An endpoint actor
    /// compares it before each attempt with the count when it read its
    /// work: a different count means "read the endpoint again first".
    pub fn catalogue_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// After a write to endpoints or provider settings: announced to the
    /// other instances, then counted in [`Store::catalogue_generation`] —
    /// both even when it failed, since a failed write may still have landed.
    async fn catalogue_changed(&self) {
        self.backend.announce_change().await;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Every provider or named instance configured for the project.
    pub async fn provider_settings_of(
        &self,
        project_id: &str,
    ) -> Result<Vec<ProviderSettings>, StoreError> {
        self.backend.provider_settings_of(project_id).await
    }

    /// A project's settings for `provider`.
    pub async fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        self.backend.provider_settings(project_id, provider).await
    }
}
