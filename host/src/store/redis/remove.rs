//! Removing a project from Redis with everything it owns. Its keys span
//! slots (the project's `{p:X}`, each endpoint's `{ep:E}`, each event's
//! `{ev:V}`), so the removal runs in steps, each Cluster-safe, in the
//! order that shuts the project out first: the project record and its API
//! keys (ingestion and management answer `404`/`401` from then on), then
//! each endpoint with everything under its hash tag (one script each), then
//! the events, then the project's own keys. Idempotency reservations
//! (`{p:X}:idem:K`, not listed anywhere) expire on their own TTL.

use super::scripts::{eval, FREE_ENDPOINT};
use super::{int, strings, Shared};
use crate::store::StoreError;
use redis::Cmd;

/// Events whose keys are removed per round trip.
const EVENTS_PER_ROUND: usize = 500;

fn cmd(name: &str, key: &str) -> Cmd {
    let mut cmd = redis::cmd(name);
    cmd.arg(key);
    cmd
}

impl Shared {
    /// Removes project `id` and what it owns; false when it did not exist.
    pub(super) async fn delete_project(&self, id: &str) -> Result<bool, StoreError> {
        let k = &self.keys;
        let existed = int(&self.pool.run(&cmd("DEL", &k.project_record(id))).await?) == 1;
        if !existed {
            return Ok(false);
        }
        let mut forget = cmd("SREM", &k.projects());
        forget.arg(id);
        self.pool.run(&forget).await?;
        let hashes = self.members(&k.project_keys(id)).await?;
        let unkeyed: Vec<Cmd> = hashes.iter().map(|h| cmd("DEL", &k.api_key(h))).collect();
        self.pool.pipeline(&unkeyed).await?;
        for endpoint_id in self.members(&k.project_endpoints(id)).await? {
            self.free_endpoint(&endpoint_id).await?;
        }
        self.free_events(id).await?;
        let providers = self.members(&k.provider_names(id)).await?;
        let mut owned: Vec<Cmd> = providers
            .iter()
            .map(|name| cmd("DEL", &k.provider(id, name)))
            .collect();
        for key in [
            k.project_keys(id),
            k.key_uses(id),
            k.project_endpoints(id),
            k.older_project_events(id),
            k.event_index(id),
            k.provider_names(id),
            k.ingest_bucket(id),
        ] {
            owned.push(cmd("DEL", &key));
        }
        // Kept and moved on, not removed: a project created again under
        // this id must not meet a routing cache of the old one.
        owned.push(cmd("INCR", &k.routes_version(id)));
        self.pool.pipeline(&owned).await?;
        Ok(true)
    }

    /// Removes a project's settings for `provider`; false when there were none.
    pub(super) async fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        let k = &self.keys;
        let removed = self
            .pool
            .run(&cmd("DEL", &k.provider(project_id, provider)))
            .await?;
        let mut forget = cmd("SREM", &k.provider_names(project_id));
        forget.arg(provider);
        self.pool.run(&forget).await?;
        Ok(int(&removed) == 1)
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, StoreError> {
        Ok(strings(self.pool.run(&cmd("SMEMBERS", set)).await?))
    }

    /// Everything under the endpoint's hash tag, in one script.
    async fn free_endpoint(&self, endpoint_id: &str) -> Result<(), StoreError> {
        let k = &self.keys;
        let keys = [
            k.endpoint_record(endpoint_id),
            k.queue(endpoint_id),
            k.older_history(endpoint_id),
            k.seq(endpoint_id),
            k.lease(endpoint_id),
            k.fence(endpoint_id),
            k.endpoint_bucket(endpoint_id),
            k.stats_index(endpoint_id, false),
            k.stats_index(endpoint_id, true),
            k.history(endpoint_id),
        ];
        let prefixes = [
            k.endpoint_prefix(endpoint_id),
            k.stats_prefix(endpoint_id, false),
            k.stats_prefix(endpoint_id, true),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args: Vec<&[u8]> = prefixes.iter().map(|p| p.as_bytes()).collect();
        self.pool.run(&eval(FREE_ENDPOINT, &keys, &args)).await?;
        let mut unlisted = cmd("SREM", &k.work());
        unlisted.arg(endpoint_id);
        self.pool.run(&unlisted).await.map(drop)
    }

    /// Every event of the project's log with its delivery index, pending
    /// count and intent, a batch of events per round trip, then the
    /// index's chunks.
    async fn free_events(&self, project_id: &str) -> Result<(), StoreError> {
        let k = &self.keys;
        let mut bounds = cmd("ZRANGE", &k.event_index(project_id));
        bounds.arg(0).arg(-1);
        let chunks: Vec<String> = strings(self.pool.run(&bounds).await?)
            .iter()
            .map(|bound| format!("{}{bound}", k.event_chunk_prefix(project_id)))
            .collect();
        let mut reads: Vec<Cmd> = chunks
            .iter()
            .map(|chunk| {
                let mut all = cmd("ZRANGE", chunk);
                all.arg(0).arg(-1);
                all
            })
            .collect();
        let mut older = cmd("ZRANGE", &k.older_project_events(project_id));
        older.arg(0).arg(-1);
        reads.push(older);
        let event_ids: Vec<String> = self
            .pool
            .pipeline(&reads)
            .await?
            .into_iter()
            .flat_map(strings)
            .collect();
        for batch in event_ids.chunks(EVENTS_PER_ROUND) {
            let mut cmds = Vec::with_capacity(batch.len() * 5);
            for id in batch {
                for key in [
                    k.event(id),
                    k.event_deliveries(id),
                    k.event_pending(id),
                    k.intent(id),
                ] {
                    cmds.push(cmd("DEL", &key));
                }
                let mut unpend = cmd("ZREM", &k.pending());
                unpend.arg(id);
                cmds.push(unpend);
            }
            self.pool.pipeline(&cmds).await?;
        }
        let dropped: Vec<Cmd> = chunks.iter().map(|chunk| cmd("DEL", chunk)).collect();
        self.pool.pipeline(&dropped).await.map(drop)
    }
}
