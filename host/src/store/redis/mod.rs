//! The Redis backend: every queue, schedule, idempotency key, lease and
//! rate-limit bucket, and the catalog (projects, hashed keys, endpoints
//! with sealed secrets, events, deliveries, attempts, stats), in one Redis
//! server or Redis Cluster shared by any number of `hookmesh` instances.
//!
//! - Each endpoint's change is one Lua script over keys with the
//!   endpoint's hash tag ([`keys`]), so it is atomic and Cluster-safe.
//! - An event going to several endpoints spans slots: its record and an
//!   *intent* (the fan-out to do) are written first, then each endpoint's
//!   queue (idempotently), then the intent is removed. An ingestion cut
//!   off half-way (Redis or the instance died) is finished by any instance
//!   within seconds ([`Store::unowned_work`]), so an event whose record
//!   was written reaches all its endpoints; a `202` is only sent when all
//!   of it is written.
//! - Per-endpoint order across instances comes from leases ([`lease`]).
//! - Durability is Redis's: run it with `appendonly yes` (see the README).

mod conn;
mod event_value;
mod ingest;
mod keys;
mod lease;
mod queue;
mod record;
mod remove;
mod retention;
mod scripts;

use super::backend::{take_then_ingest, unknown_events, with_events, KnownEvents};
use super::codec::{decode, encode, Record};
use super::types::*;
use super::{Admission, Backend, Bucket, Budget, Quota, Rate};
use conn::Pool;
use keys::Keys;
use lease::Leases;
use redis::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How to reach Redis and how this instance behaves on it.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// One server's URL, or a cluster's seed URLs.
    pub urls: Vec<String>,
    /// The URLs are seeds of a Redis Cluster.
    pub cluster: bool,
    /// Prefix of every key (several deployments can share one Redis).
    pub prefix: String,
    /// Lease TTL: how soon a dead instance's endpoints move to another.
    pub lease_ttl: Duration,
    /// How long finished deliveries, attempts, events and stats are kept.
    pub retention: Duration,
}

/// The Redis-backed store; cheap to share (`Arc` inside).
pub struct RedisStore {
    shared: Arc<Shared>,
}

/// Compare-and-set rounds of [`RedisStore::update_endpoint`] before it
/// reports a conflict.
const MAX_UPDATE_TRIES: u32 = 16;

/// A random pause before compare-and-set round `attempt + 1`, growing with
/// each lost round: writers that read the same record at once (their
/// round trips share one connection) would otherwise retry in lockstep.
async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling_us = 100u64 << attempt.min(10);
    let pause = rand::rng().random_range(0..=ceiling_us);
    tokio::time::sleep(Duration::from_micros(pause)).await;
}

/// State shared with the background threads (lease renewal, wake listener).
pub(super) struct Shared {
    pool: Pool,
    keys: Keys,
    /// This instance's lease owner id.
    owner: String,
    lease_ttl: Duration,
    /// `storage.retention`, ms (a project may have its own: [`retention`]).
    retention_ms: u64,
    retentions: retention::Retentions,
    leases: Leases,
}

impl RedisStore {
    /// Connects (checking the server answers) and starts lease renewal.
    pub fn open(options: RedisOptions) -> Result<Self, StoreError> {
        let pool = Pool::new(&options.urls, options.cluster)?;
        let shared = Arc::new(Shared {
            pool,
            keys: Keys::new(&options.prefix),
            owner: crate::signing::new_id("inst_"),
            lease_ttl: options.lease_ttl.max(Duration::from_millis(300)),
            retention_ms: u64::try_from(options.retention.as_millis()).unwrap_or(u64::MAX),
            retentions: Default::default(),
            leases: Leases::default(),
        });
        lease::spawn_renewer(&shared, shared.lease_ttl / 3);
        Ok(Self { shared })
    }

    /// This instance's owner id in leases.
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }
}

/// Reads an answer as bytes (`None` for nil).
fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// Reads an answer as text list (arrays and sets).
fn strings(value: Value) -> Vec<String> {
    match value {
        Value::Array(items) | Value::Set(items) => items
            .into_iter()
            .filter_map(bytes)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads a number sent as text (Lua scripts send fractions so).
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A bucket's answer (wait ms, 0 when taken; tokens left) as a [`Quota`].
fn quota_of(rate: Rate, wait_ms: i64, tokens: Option<f64>) -> Quota {
    let retry_after = match u64::try_from(wait_ms) {
        Ok(0) | Err(_) => None,
        Ok(ms) => Some(Duration::from_millis(ms)),
    };
    Quota::of(rate, tokens.unwrap_or(f64::from(rate.burst)), retry_after)
}

/// A token-bucket script's budget arguments: tokens per second, burst,
/// tokens wanted.
fn budget_args(rate: Rate, n: u32) -> [String; 3] {
    [
        rate.per_second.to_string(),
        rate.burst.to_string(),
        n.to_string(),
    ]
}

/// Reads an integer answer (0 for nil).
fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Reads a flat field/value array (or a map) into a map.
fn fields(value: Value) -> HashMap<String, Vec<u8>> {
    let pairs: Vec<(Value, Value)> = match value {
        Value::Map(pairs) => pairs,
        Value::Array(items) => {
            let mut items = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((String::from_utf8_lossy(&bytes(k)?).into_owned(), bytes(v)?)))
        .collect()
}

/// `GET key`.
fn get(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("GET");
    cmd.arg(key);
    cmd
}

/// The record in a `GET` answer (`None` when the key is missing).
fn record<T: Record>(key: &str, answer: Option<Value>) -> Result<Option<T>, StoreError> {
    answer.and_then(bytes).map(|b| decode(key, &b)).transpose()
}

/// Reads an event's value (see `event_value.rs`) as the event.
fn event_of(key: &str, answer: Option<Value>) -> Result<Option<Event>, StoreError> {
    answer
        .and_then(bytes)
        .map(|b| event_value::decode(key, &b).map(|v| v.event))
        .transpose()
}

impl Shared {
    async fn get_record<T: Record>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let value = self.pool.run(redis::cmd("GET").arg(key)).await?;
        bytes(value).map(|b| decode(key, &b)).transpose()
    }

    async fn set_record<T: Record>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        self.pool
            .run(redis::cmd("SET").arg(key).arg(encode(value)?))
            .await
            .map(drop)
    }

    /// Reads records by key in one round trip; missing ones are `None`.
    async fn get_records<T: Record>(&self, keys: &[String]) -> Result<Vec<Option<T>>, StoreError> {
        let cmds: Vec<_> = keys.iter().map(|k| get(k)).collect();
        self.pool
            .pipeline(&cmds)
            .await?
            .into_iter()
            .zip(keys)
            .map(|(value, key)| bytes(value).map(|b| decode(key, &b)).transpose())
            .collect()
    }

    /// The key of a rate-limit bucket.
    fn bucket_key(&self, bucket: &Bucket) -> String {
        match bucket {
            Bucket::Ingest(project) => self.keys.ingest_bucket(project),
            Bucket::Endpoint(endpoint) => self.keys.endpoint_bucket(endpoint),
            Bucket::Management(caller) => self.keys.management_bucket(caller),
        }
    }

    /// The message telling the other instances that these endpoints have
    /// work: `owner|ids` (this instance woke its own actors already, so
    /// its listener skips it: no echo).
    fn announcement(&self, endpoints: &[String]) -> redis::Cmd {
        self.publish_cmd(&format!("{}|{}", self.owner, endpoints.join(",")))
    }

    /// [`Self::announcement`] for every instance, this one included.
    fn announcement_to_all(&self, endpoints: &[String]) -> redis::Cmd {
        self.publish_cmd(&endpoints.join(","))
    }

    fn publish_cmd(&self, message: &str) -> redis::Cmd {
        redis::cmd("PUBLISH")
            .arg(self.keys.wake_channel())
            .arg(message)
            .to_owned()
    }

    /// Sends an [`Self::announcement`] of `endpoints` (nothing when there
    /// are none).
    async fn publish_work(&self, endpoints: &[String]) {
        if !endpoints.is_empty() {
            self.publish(&self.announcement(endpoints)).await;
        }
    }

    /// Sends an [`Self::announcement_to_all`] of `endpoints` (nothing when
    /// there are none).
    async fn publish_work_to_all(&self, endpoints: &[String]) {
        if !endpoints.is_empty() {
            self.publish(&self.announcement_to_all(endpoints)).await;
        }
    }

    async fn publish(&self, announcement: &redis::Cmd) {
        if let Err(error) = self.pool.run(announcement).await {
            // Owners find the work at their next scan instead.
            tracing::warn!(%error, "cannot announce new work");
        }
    }

    async fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let ids = strings(
            self.pool
                .run(redis::cmd("SMEMBERS").arg(self.keys.project_endpoints(project_id)))
                .await?,
        );
        let keys: Vec<String> = ids.iter().map(|id| self.keys.endpoint_record(id)).collect();
        let mut found: Vec<Endpoint> = self
            .get_records(&keys)
            .await?
            .into_iter()
            .flatten()
            .filter(|e: &Endpoint| e.project_id == project_id)
            .collect();
        found.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(found)
    }
}

#[async_trait::async_trait]
impl Backend for RedisStore {
    async fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let s = &self.shared;
        let mut set = redis::cmd("SET");
        set.arg(s.keys.project_record(&project.id))
            .arg(encode(project)?);
        let mut add = redis::cmd("SADD");
        add.arg(s.keys.projects()).arg(&project.id);
        s.pool.phases(vec![vec![set], vec![add]]).await?;
        s.forget_retention(&project.id);
        Ok(())
    }

    async fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.shared
            .get_record(&self.shared.keys.project_record(id))
            .await
    }

    async fn update_project(
        &self,
        id: &str,
        change: ProjectChange,
    ) -> Result<Option<Project>, StoreError> {
        let s = &self.shared;
        let key = s.keys.project_record(id);
        for attempt in 0..MAX_UPDATE_TRIES {
            let Some(read) = bytes(s.pool.run(redis::cmd("GET").arg(&key)).await?) else {
                return Ok(None);
            };
            let mut project: Project = decode(&key, &read)?;
            change(&mut project);
            let written = encode(&project)?;
            let cas = scripts::eval(scripts::REPLACE_IF_UNCHANGED, &[&key], &[&read, &written]);
            match int(&s.pool.run(&cas).await?) {
                1 => {
                    s.forget_retention(id);
                    return Ok(Some(project));
                }
                -1 => return Ok(None),
                _ => backoff(attempt).await, // changed meanwhile: apply to the new record
            }
        }
        Err(StoreError::Conflict(format!(
            "project `{id}` kept changing; try again"
        )))
    }

    async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let s = &self.shared;
        let ids = strings(
            s.pool
                .run(redis::cmd("SMEMBERS").arg(s.keys.projects()))
                .await?,
        );
        let keys: Vec<String> = ids.iter().map(|id| s.keys.project_record(id)).collect();
        let mut projects: Vec<Project> =
            s.get_records(&keys).await?.into_iter().flatten().collect();
        projects.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(projects)
    }

    async fn delete_project(&self, id: &str) -> Result<bool, StoreError> {
        self.shared.delete_project(id).await
    }

    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let s = &self.shared;
        let mut set = redis::cmd("SET");
        set.arg(s.keys.api_key(&key.hash)).arg(encode(key)?);
        let mut index = redis::cmd("SADD");
        index
            .arg(s.keys.project_keys(&key.project_id))
            .arg(&key.hash);
        s.pool.pipeline(&[set, index]).await.map(drop)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.shared
            .get_record(&self.shared.keys.api_key(hash))
            .await
    }

    async fn api_key_and_project(
        &self,
        hash: &str,
        project_id: &str,
    ) -> Result<(Option<ApiKey>, Option<Project>), StoreError> {
        let s = &self.shared;
        let (key, project) = (s.keys.api_key(hash), s.keys.project_record(project_id));
        // One command on one server; a cluster has them in two slots.
        let answers = if s.pool.is_cluster() {
            s.pool.pipeline(&[get(&key), get(&project)]).await?
        } else {
            match s
                .pool
                .run(redis::cmd("MGET").arg(&key).arg(&project))
                .await?
            {
                Value::Array(values) => values,
                other => return Err(StoreError::Backend(format!("MGET answered {other:?}"))),
            }
        };
        let mut answers = answers.into_iter();
        Ok((
            record(&key, answers.next())?,
            record(&project, answers.next())?,
        ))
    }

    async fn api_keys_of(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let s = &self.shared;
        let mut members = redis::cmd("SMEMBERS");
        members.arg(s.keys.project_keys(project_id));
        let mut uses = redis::cmd("HGETALL");
        uses.arg(s.keys.key_uses(project_id));
        let mut answers = s.pool.pipeline(&[members, uses]).await?.into_iter();
        let hashes = strings(answers.next().unwrap_or(Value::Nil));
        let uses = fields(answers.next().unwrap_or(Value::Nil));
        let records: Vec<String> = hashes.iter().map(|h| s.keys.api_key(h)).collect();
        let mut keys: Vec<ApiKey> = s
            .get_records(&records)
            .await?
            .into_iter()
            .flatten()
            .collect();
        for key in &mut keys {
            key.last_used_ms = uses
                .get(&key.hash)
                .and_then(|ms| std::str::from_utf8(ms).ok()?.parse().ok());
        }
        Ok(keys)
    }

    async fn delete_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let s = &self.shared;
        let mut delete = redis::cmd("DEL");
        delete.arg(s.keys.api_key(&key.hash));
        let mut unindex = redis::cmd("SREM");
        unindex
            .arg(s.keys.project_keys(&key.project_id))
            .arg(&key.hash);
        let mut forget = redis::cmd("HDEL");
        forget.arg(s.keys.key_uses(&key.project_id)).arg(&key.hash);
        let answers = s.pool.pipeline(&[delete, unindex, forget]).await?;
        Ok(answers.first().is_some_and(|deleted| int(deleted) == 1))
    }

    async fn expire_api_key(&self, key: &ApiKey, expires_ms: u64) -> Result<bool, StoreError> {
        let s = &self.shared;
        let record = s.keys.api_key(&key.hash);
        let Some(mut stored) = s.get_record::<ApiKey>(&record).await? else {
            return Ok(false);
        };
        stored.expires_ms = Some(expires_ms);
        // XX: a key revoked meanwhile stays revoked.
        let mut set = redis::cmd("SET");
        set.arg(&record).arg(encode(&stored)?).arg("XX");
        Ok(!matches!(s.pool.run(&set).await?, Value::Nil))
    }

    async fn touch_api_key(&self, key: &ApiKey, now_ms: u64) -> Result<(), StoreError> {
        // Beside the record, so a last use never rewrites (or revives) it.
        let s = &self.shared;
        let mut touch = redis::cmd("HSET");
        touch
            .arg(s.keys.key_uses(&key.project_id))
            .arg(&key.hash)
            .arg(now_ms);
        s.pool.run(&touch).await.map(drop)
    }

    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let s = &self.shared;
        let mut set = redis::cmd("SET");
        set.arg(s.keys.endpoint_record(&endpoint.id))
            .arg(encode(endpoint)?);
        let mut add = redis::cmd("SADD");
        add.arg(s.keys.project_endpoints(&endpoint.project_id))
            .arg(&endpoint.id);
        let mut bump = redis::cmd("INCR");
        bump.arg(s.keys.routes_version(&endpoint.project_id));
        s.pool
            .phases(vec![vec![set, add], vec![bump]])
            .await
            .map(drop)
    }

    async fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<Option<Endpoint>, StoreError> {
        let s = &self.shared;
        let key = s.keys.endpoint_record(id);
        for attempt in 0..MAX_UPDATE_TRIES {
            let Some(read) = bytes(s.pool.run(redis::cmd("GET").arg(&key)).await?) else {
                return Ok(None);
            };
            let mut endpoint: Endpoint = decode(&key, &read)?;
            change(&mut endpoint);
            let written = encode(&endpoint)?;
            let cas = scripts::eval(scripts::REPLACE_IF_UNCHANGED, &[&key], &[&read, &written]);
            match int(&s.pool.run(&cas).await?) {
                1 => {
                    let mut bump = redis::cmd("INCR");
                    bump.arg(s.keys.routes_version(&endpoint.project_id));
                    s.pool.run(&bump).await?;
                    return Ok(Some(endpoint));
                }
                -1 => return Ok(None),
                _ => backoff(attempt).await, // changed meanwhile: apply to the new record
            }
        }
        Err(StoreError::Conflict(format!(
            "endpoint `{id}` kept changing; try again"
        )))
    }

    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.shared
            .get_record(&self.shared.keys.endpoint_record(id))
            .await
    }

    async fn endpoints_of(&self, project_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.shared.endpoints_of(project_id).await
    }

    fn records_ahead(&self) -> usize {
        // One at a time (each record awaited before the next request)
        // measured on the async path (BENCHMARKS.md, session 10): no cost
        // at 300 events/s nor in fan-out (many endpoints record at once),
        // but one endpoint fed by 16 clients fell from 1,462-1,471 to
        // 540-867 delivered/s and could not hold 1,000 events/s (748-848/s,
        // p99 2.6-3.4 s). So successes are recorded up to 16 ahead: when
        // the store cannot record, the endpoint stops after 16 and retries
        // the records, so an outage repeats nothing while the instance
        // lives (the Redis restart test: 0 duplicates), and at most those
        // if it dies during the outage.
        16
    }

    async fn routes_version(&self, project_id: &str) -> Result<u64, StoreError> {
        let s = &self.shared;
        let version = s
            .pool
            .run(redis::cmd("GET").arg(s.keys.routes_version(project_id)))
            .await?;
        Ok(u64::try_from(int(&version)).unwrap_or(0))
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let s = &self.shared;
        let Some(endpoint) = self.endpoint(id).await? else {
            return Ok(false);
        };
        let (record, queue, lease) = (
            s.keys.endpoint_record(id),
            s.keys.queue(id),
            s.keys.lease(id),
        );
        let retention_ms = s.project_retention_ms(&endpoint.project_id).await?;
        let (prefix, now, retention) = (
            s.keys.endpoint_prefix(id),
            crate::now_ms().to_string(),
            retention_ms.to_string(),
        );
        let answer = s
            .pool
            .run(&scripts::eval(
                scripts::DELETE_ENDPOINT,
                &[&record, &queue, &lease],
                &[prefix.as_bytes(), now.as_bytes(), retention.as_bytes()],
            ))
            .await?;
        let mut remove = redis::cmd("SREM");
        remove
            .arg(s.keys.project_endpoints(&endpoint.project_id))
            .arg(id);
        let mut bump = redis::cmd("INCR");
        bump.arg(s.keys.routes_version(&endpoint.project_id));
        s.pool.phases(vec![vec![remove], vec![bump]]).await?;
        let (existed, finished_events) = match answer {
            Value::Array(mut parts) if parts.len() == 2 => {
                let events = strings(parts.pop().unwrap_or(Value::Nil));
                (int(&parts[0]) == 1, events)
            }
            _ => (false, Vec::new()),
        };
        s.deliveries_finished(&finished_events, retention_ms)
            .await?;
        Ok(existed)
    }

    async fn ingest(&self, batch: Vec<NewEvent>, now_ms: u64) -> Result<Vec<Ingested>, StoreError> {
        self.shared.ingest(batch, now_ms).await
    }

    async fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        Ok(self.events(&[id]).await?.pop().flatten())
    }

    async fn events(&self, ids: &[&str]) -> Result<Vec<Option<Event>>, StoreError> {
        let s = &self.shared;
        let keys: Vec<String> = ids.iter().map(|id| s.keys.event(id)).collect();
        let reads: Vec<_> = keys.iter().map(|k| get(k)).collect();
        let answers = s.pool.pipeline(&reads).await?;
        keys.iter()
            .zip(answers)
            .map(|(key, answer)| event_of(key, Some(answer)))
            .collect()
    }

    async fn queue_head(&self, endpoint_id: &str) -> Result<Option<Delivery>, StoreError> {
        Ok(self.queue_peek(endpoint_id, 1).await?.into_iter().next())
    }

    async fn queue_peek(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.shared.queue_peek(endpoint_id, limit).await
    }

    async fn work_window(
        &self,
        endpoint_id: &str,
        limit: usize,
        known: &KnownEvents<'_>,
    ) -> Result<Option<WorkWindow>, StoreError> {
        let s = &self.shared;
        let endpoint_key = s.keys.endpoint_record(endpoint_id);
        let first = [get(&endpoint_key), s.peek_cmd(endpoint_id, limit)];
        let mut answers = s.pool.pipeline(&first).await?.into_iter();
        let Some(endpoint) = record::<Endpoint>(&endpoint_key, answers.next())? else {
            return Ok(None);
        };
        let deliveries = s.peeked(endpoint_id, answers.next().unwrap_or(Value::Nil))?;
        let settings_key = s.keys.provider(&endpoint.project_id, &endpoint.provider);
        let unknown = unknown_events(&deliveries, known);
        let event_keys: Vec<String> = unknown.iter().map(|id| s.keys.event(id)).collect();
        let second: Vec<_> = std::iter::once(&settings_key)
            .chain(&event_keys)
            .map(|key| get(key))
            .collect();
        let mut answers = s.pool.pipeline(&second).await?.into_iter();
        let provider_settings = record(&settings_key, answers.next())?;
        let mut read = Vec::with_capacity(event_keys.len());
        for key in &event_keys {
            read.extend(event_of(key, answers.next())?);
        }
        Ok(Some(WorkWindow {
            endpoint,
            provider_settings,
            queued: with_events(deliveries, read),
        }))
    }

    async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        self.shared.endpoints_with_work().await
    }

    async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: Arc<Attempt>,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        self.shared
            .record_attempt(endpoint_id, &attempt, change)
            .await
    }

    async fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError> {
        self.shared.record_test(test).await
    }

    async fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        self.shared
            .requeue(event_id, endpoint_id, delivery_id, now_ms)
            .await
    }

    async fn delivery(&self, endpoint_id: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
        self.shared.delivery(endpoint_id, id).await
    }

    async fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.shared
            .project_events(project_id, before, from, limit)
            .await
    }

    async fn deliveries_of_events(
        &self,
        event_ids: &[&str],
    ) -> Result<Vec<Vec<Delivery>>, StoreError> {
        self.shared.deliveries_of_events(event_ids).await
    }

    async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        self.shared.deliveries_of(endpoint_id, query).await
    }

    async fn attempts_of(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        self.shared.attempts_of(endpoint_id, delivery_id).await
    }

    async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        self.shared.queue_stats().await
    }

    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError> {
        self.shared.endpoint_stats(endpoint_id, since_ms).await
    }

    async fn put_provider_settings(&self, settings: &ProviderSettings) -> Result<(), StoreError> {
        let key = self
            .shared
            .keys
            .provider(&settings.project_id, &settings.provider);
        self.shared.set_record(&key, settings).await?;
        let names = self.shared.keys.provider_names(&settings.project_id);
        self.shared
            .pool
            .run(redis::cmd("SADD").arg(names).arg(&settings.provider))
            .await
            .map(drop)
    }

    async fn provider_settings_of(
        &self,
        project_id: &str,
    ) -> Result<Vec<ProviderSettings>, StoreError> {
        let s = &self.shared;
        let mut names = strings(
            s.pool
                .run(redis::cmd("SMEMBERS").arg(s.keys.provider_names(project_id)))
                .await?,
        );
        names.sort();
        let keys: Vec<String> = names
            .iter()
            .map(|n| s.keys.provider(project_id, n))
            .collect();
        Ok(s.get_records(&keys).await?.into_iter().flatten().collect())
    }

    async fn delete_provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        self.shared
            .delete_provider_settings(project_id, provider)
            .await
    }

    async fn provider_settings(
        &self,
        project_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        self.shared
            .get_record(&self.shared.keys.provider(project_id, provider))
            .await
    }

    async fn take_tokens(&self, bucket: &Bucket, rate: Rate, n: u32) -> Result<Quota, StoreError> {
        let s = &self.shared;
        let key = s.bucket_key(bucket);
        let budget = budget_args(rate, n);
        let now = crate::now_ms().to_string();
        let args: Vec<&[u8]> = budget
            .iter()
            .chain(std::iter::once(&now))
            .map(String::as_bytes)
            .collect();
        let answer = s
            .pool
            .run(&scripts::eval(scripts::TAKE_TOKENS, &[&key], &args))
            .await?;
        match &answer {
            Value::Array(parts) if parts.len() == 2 => {
                Ok(quota_of(rate, int(&parts[0]), float(&parts[1])))
            }
            other => Err(StoreError::Backend(format!(
                "token bucket answered {other:?}, not [wait, tokens]"
            ))),
        }
    }

    async fn admit_and_ingest(
        &self,
        budget: Option<Budget>,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Admission, StoreError> {
        match budget {
            Some(budget) if self.shared.can_meter_in_script(&batch) => {
                self.shared.ingest_within(budget, batch, now_ms).await
            }
            budget => take_then_ingest(self, budget, batch, now_ms).await,
        }
    }

    fn holds_fresh_lease(&self, endpoint_id: &str) -> bool {
        self.shared.holds_fresh_lease(endpoint_id)
    }

    async fn claim(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        self.shared.claim(endpoint_id).await
    }

    async fn release(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        self.shared.release(endpoint_id).await
    }

    async fn release_all(&self) -> Result<(), StoreError> {
        self.shared.release_all().await
    }

    fn scan_interval(&self) -> Option<Duration> {
        Some(self.shared.lease_ttl / 3)
    }

    async fn unowned_work(&self) -> Result<Vec<String>, StoreError> {
        let s = &self.shared;
        s.finish_interrupted().await?;
        let with_work = s.endpoints_with_work().await?;
        let cmds: Vec<_> = with_work
            .iter()
            .map(|id| redis::cmd("EXISTS").arg(s.keys.lease(id)).to_owned())
            .collect();
        let leased = s.pool.pipeline(&cmds).await?;
        Ok(with_work
            .into_iter()
            .zip(leased)
            .filter(|(_, leased)| int(leased) == 0)
            .map(|(id, _)| id)
            .collect())
    }

    fn subscribe(
        &self,
        wake: Box<dyn Fn(Vec<String>) + Send + Sync>,
        changed: Box<dyn Fn() + Send + Sync>,
    ) {
        let listener = lease::Listener {
            wake: Arc::from(wake),
            changed: Arc::from(changed),
        };
        lease::spawn_listener(Arc::downgrade(&self.shared), listener);
    }

    async fn announce_change(&self) {
        let s = &self.shared;
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(s.keys.wake_channel()).arg(lease::CHANGED);
        if let Err(error) = s.pool.run(&publish).await {
            tracing::warn!(%error, "cannot announce an endpoint change; other instances see it at their next read");
        }
    }
}
