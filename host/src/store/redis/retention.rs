//! Each project's retention on Redis: its own `retention`, else
//! `storage.retention`. Expiries are set when a record finishes (an event
//! without deliveries at ingestion; a delivery, its attempts and its event
//! when the last delivery finishes), so the project's retention at that
//! moment applies; records that finished earlier keep the expiry they were
//! given.
//!
//! The scripts that set expiries touch one endpoint's or one event's slot,
//! not the project's, so the retention is read here and passed in. It is
//! cached per project for [`FRESH_FOR`] (a change made through another
//! instance applies within that time; this instance's own changes at
//! once), and each endpoint's project for as long as the process runs
//! (an endpoint never changes project).

use super::{Endpoint, Project, Shared, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a project's retention is used before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// The cached retentions and endpoint owners.
#[derive(Default)]
pub(super) struct Retentions {
    /// Project → (retention ms, when read).
    projects: Mutex<HashMap<String, (u64, Instant)>>,
    /// Endpoint → its project.
    owners: Mutex<HashMap<String, String>>,
    /// Project → when ingestion here last trimmed its event log.
    trimmed: Mutex<HashMap<String, Instant>>,
}

/// Ingestion trims a project's event log at most this often per instance
/// (listing it trims first anyway).
const TRIM_EVERY: Duration = Duration::from_secs(1);

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Shared {
    /// How long project `project_id`'s finished records are kept, in ms.
    pub(super) async fn project_retention_ms(&self, project_id: &str) -> Result<u64, StoreError> {
        let cached = self
            .retentions
            .projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(project_id)
            .filter(|(_, read)| read.elapsed() < FRESH_FOR)
            .map(|(ms, _)| *ms);
        if let Some(ms) = cached {
            return Ok(ms);
        }
        let project: Option<Project> = self
            .get_record(&self.keys.project_record(project_id))
            .await?;
        let ms = project
            .and_then(|p| p.retention)
            .map_or(self.retention_ms, millis);
        self.retentions
            .projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(project_id.to_string(), (ms, Instant::now()));
        Ok(ms)
    }

    /// The retention of the project owning endpoint `endpoint_id`, in ms
    /// (`storage.retention` when the endpoint is gone).
    pub(super) async fn endpoint_retention_ms(&self, endpoint_id: &str) -> Result<u64, StoreError> {
        let owner = self
            .retentions
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(endpoint_id)
            .cloned();
        let owner = match owner {
            Some(owner) => owner,
            None => {
                let endpoint: Option<Endpoint> = self
                    .get_record(&self.keys.endpoint_record(endpoint_id))
                    .await?;
                let Some(endpoint) = endpoint else {
                    return Ok(self.retention_ms);
                };
                self.retentions
                    .owners
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(endpoint_id.to_string(), endpoint.project_id.clone());
                endpoint.project_id
            }
        };
        self.project_retention_ms(&owner).await
    }

    /// The retention of each of these projects, in ms.
    pub(super) async fn project_retentions_ms(
        &self,
        project_ids: &[&str],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let mut found = HashMap::new();
        for id in project_ids {
            if !found.contains_key(*id) {
                found.insert(id.to_string(), self.project_retention_ms(id).await?);
            }
        }
        Ok(found)
    }

    /// Whether ingestion should trim project `project_id`'s event log now
    /// (true at most once per [`TRIM_EVERY`]; it is then marked trimmed).
    pub(super) fn trim_due(&self, project_id: &str) -> bool {
        let mut trimmed = self
            .retentions
            .trimmed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if trimmed
            .get(project_id)
            .is_some_and(|at| at.elapsed() < TRIM_EVERY)
        {
            return false;
        }
        trimmed.insert(project_id.to_string(), Instant::now());
        true
    }

    /// Project `project_id` was written here: read its retention again.
    pub(super) fn forget_retention(&self, project_id: &str) {
        self.retentions
            .projects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(project_id);
    }
}
