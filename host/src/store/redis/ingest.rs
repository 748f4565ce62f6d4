//! Ingestion on Redis: events, their idempotency reservations and their
//! fan-out to endpoint queues, written so that an interruption at any
//! point is either invisible (nothing kept) or finished later.
//!
//! Order of writes for a batch:
//! 1. each event's record and intent (endpoints and delivery ids), and its
//!    id in the `pending` set;
//! 2. idempotency reservations (`SET` unless an unexpired one exists) —
//!    after step 1, so a reservation always points at a stored event;
//! 3. the enqueues (idempotent per delivery id) and the `work` set;
//! 4. the intents removed (and the records of duplicates dropped).
//!
//! An intent left in `pending` for [`INTERRUPTED_AFTER`] is finished by
//! whichever instance scans next ([`Shared::finish_interrupted`]).

use super::scripts::{eval, ENQUEUE, IDEMPOTENCY};
use super::{bytes, int, strings, Delivery, Ingested, NewEvent, Shared, StoreError};
use crate::store::codec::{decode, encode};
use redis::Cmd;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An intent this old was abandoned by the instance that wrote it.
const INTERRUPTED_AFTER_MS: u64 = 10_000;
/// Intents finished per scan.
const FINISH_PER_SCAN: usize = 100;
/// Idempotency reservations outlive their expiry by this much (clock skew).
const IDEMPOTENCY_SLACK_MS: u64 = 60_000;

/// The fan-out still to do for one event.
#[derive(Debug, Serialize, Deserialize)]
struct Intent {
    project_id: String,
    idempotency: Option<(String, u64)>,
    /// (endpoint id, delivery id)
    deliveries: Vec<(String, String)>,
    now_ms: u64,
}

fn cmd(name: &str) -> Cmd {
    redis::cmd(name)
}

impl Shared {
    fn retention_px(&self) -> u64 {
        self.retention_ms.max(1)
    }

    /// Stores a batch; see the module doc for the order of writes.
    pub(super) fn ingest(
        &self,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Vec<Ingested>, StoreError> {
        // A key repeated inside the batch: later items repeat the first.
        let mut first_with_key: HashMap<&str, usize> = HashMap::new();
        let mut repeat_of: Vec<Option<usize>> = Vec::with_capacity(batch.len());
        for (i, item) in batch.iter().enumerate() {
            let first = item
                .idempotency
                .as_ref()
                .and_then(|(key, _)| first_with_key.get(key.as_str()).copied());
            if let (None, Some((key, _))) = (first, &item.idempotency) {
                first_with_key.insert(key, i);
            }
            repeat_of.push(first);
        }
        let leaders: Vec<&NewEvent> = batch
            .iter()
            .zip(&repeat_of)
            .filter(|(_, r)| r.is_none())
            .map(|(item, _)| item)
            .collect();

        let mut records = Vec::new();
        for item in &leaders {
            let id = &item.event.id;
            let intent = Intent {
                project_id: item.event.project_id.clone(),
                idempotency: item.idempotency.clone(),
                deliveries: item.deliveries.clone(),
                now_ms,
            };
            records.push(
                cmd("SET")
                    .arg(self.keys.event(id))
                    .arg(encode(&item.event)?)
                    .arg("PX")
                    .arg(self.retention_px())
                    .to_owned(),
            );
            records.push(
                cmd("SET")
                    .arg(self.keys.intent(id))
                    .arg(encode(&intent)?)
                    .to_owned(),
            );
            records.push(
                cmd("ZADD")
                    .arg(self.keys.pending())
                    .arg(now_ms)
                    .arg(id)
                    .to_owned(),
            );
        }
        let keyed: Vec<&NewEvent> = leaders
            .iter()
            .copied()
            .filter(|i| i.idempotency.is_some())
            .collect();
        let reservations: Vec<Cmd> = keyed
            .iter()
            .filter_map(|item| {
                let (key, expires) = item.idempotency.as_ref()?;
                Some(self.reserve(
                    &item.event.project_id,
                    key,
                    *expires,
                    &item.event.id,
                    now_ms,
                ))
            })
            .collect();
        let answers = self.pool.phases(vec![records, reservations])?;
        let mut earlier: HashMap<&str, String> = HashMap::new();
        for (item, answer) in keyed
            .iter()
            .zip(answers.into_iter().nth(1).unwrap_or_default())
        {
            if let Some(existing) = bytes(answer) {
                earlier.insert(
                    &item.event.id,
                    String::from_utf8_lossy(&existing).into_owned(),
                );
            }
        }

        let mut enqueues = Vec::new();
        let mut cleanup = Vec::new();
        let mut woken = Vec::new();
        for item in &leaders {
            let id = item.event.id.as_str();
            if earlier.contains_key(id) {
                cleanup.push(cmd("DEL").arg(self.keys.event(id)).to_owned());
            } else {
                for (endpoint_id, delivery_id) in &item.deliveries {
                    enqueues.push(self.enqueue_cmd(endpoint_id, delivery_id, id, now_ms));
                    woken.push(endpoint_id.clone());
                }
            }
            cleanup.push(cmd("DEL").arg(self.keys.intent(id)).to_owned());
            cleanup.push(cmd("ZREM").arg(self.keys.pending()).arg(id).to_owned());
        }
        woken.sort();
        woken.dedup();
        if !woken.is_empty() {
            enqueues.push(cmd("SADD").arg(self.keys.work()).arg(&woken).to_owned());
        }
        self.pool.phases(vec![enqueues, cleanup])?;
        self.publish_work(&woken);

        let results = batch
            .iter()
            .zip(&repeat_of)
            .map(|(item, repeat)| {
                let leader = repeat.map_or(item, |i| &batch[i]);
                match earlier.get(leader.event.id.as_str()) {
                    Some(event_id) => Ingested::Duplicate {
                        event_id: event_id.clone(),
                    },
                    None if repeat.is_some() => Ingested::Duplicate {
                        event_id: leader.event.id.clone(),
                    },
                    None => Ingested::Stored {
                        event_id: item.event.id.clone(),
                        deliveries: item.deliveries.len(),
                    },
                }
            })
            .collect();
        Ok(results)
    }

    fn reserve(
        &self,
        project_id: &str,
        key: &str,
        expires_ms: u64,
        event_id: &str,
        now_ms: u64,
    ) -> Cmd {
        let ttl = expires_ms.saturating_sub(now_ms).max(1) + IDEMPOTENCY_SLACK_MS;
        let (expires, now, ttl) = (expires_ms.to_string(), now_ms.to_string(), ttl.to_string());
        eval(
            IDEMPOTENCY,
            &[&self.keys.idempotency(project_id, key)],
            &[
                event_id.as_bytes(),
                expires.as_bytes(),
                now.as_bytes(),
                ttl.as_bytes(),
            ],
        )
    }

    fn enqueue_cmd(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        event_id: &str,
        now_ms: u64,
    ) -> Cmd {
        let keys = [
            self.keys.seq(endpoint_id),
            self.keys.queue(endpoint_id),
            self.keys.history(endpoint_id),
            self.keys.delivery(endpoint_id, delivery_id),
        ];
        let now = now_ms.to_string();
        eval(
            ENQUEUE,
            &[&keys[0], &keys[1], &keys[2], &keys[3]],
            &[
                delivery_id.as_bytes(),
                event_id.as_bytes(),
                endpoint_id.as_bytes(),
                now.as_bytes(),
            ],
        )
    }

    /// Queues a new delivery of an existing event (replay).
    pub(super) fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        let exists = self
            .pool
            .run(cmd("EXISTS").arg(self.keys.event(event_id)))?;
        if int(&exists) == 0 {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        }
        let queued = vec![
            self.enqueue_cmd(endpoint_id, delivery_id, event_id, now_ms),
            cmd("SADD")
                .arg(self.keys.work())
                .arg(endpoint_id)
                .to_owned(),
        ];
        self.pool.phases(vec![queued])?;
        self.publish_work(&[endpoint_id.to_string()]);
        self.delivery(endpoint_id, delivery_id)?
            .ok_or_else(|| StoreError::Backend("replayed delivery vanished".into()))
    }

    /// Finishes ingestions whose writer stopped half-way.
    pub(super) fn finish_interrupted(&self) -> Result<(), StoreError> {
        let cutoff = crate::now_ms().saturating_sub(INTERRUPTED_AFTER_MS);
        let ids = strings(
            self.pool.run(
                cmd("ZRANGEBYSCORE")
                    .arg(self.keys.pending())
                    .arg("-inf")
                    .arg(cutoff)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(FINISH_PER_SCAN),
            )?,
        );
        for id in ids {
            self.finish_one(&id)?;
        }
        Ok(())
    }

    fn finish_one(&self, event_id: &str) -> Result<(), StoreError> {
        let intent_key = self.keys.intent(event_id);
        let intent: Option<Intent> = match bytes(self.pool.run(cmd("GET").arg(&intent_key))?) {
            Some(b) => Some(decode(&intent_key, &b)?),
            None => None,
        };
        let done = vec![
            cmd("DEL").arg(&intent_key).to_owned(),
            cmd("ZREM")
                .arg(self.keys.pending())
                .arg(event_id)
                .to_owned(),
        ];
        let Some(intent) = intent else {
            return self.pool.phases(vec![done]).map(drop);
        };
        if let Some((key, expires)) = &intent.idempotency {
            let answer = self.pool.run(&self.reserve(
                &intent.project_id,
                key,
                *expires,
                event_id,
                intent.now_ms,
            ))?;
            if bytes(answer).is_some_and(|owner| owner != event_id.as_bytes()) {
                // Another event holds the key: this one was a duplicate.
                let mut dropped = done;
                dropped.push(cmd("DEL").arg(self.keys.event(event_id)).to_owned());
                return self.pool.phases(vec![dropped]).map(drop);
            }
        }
        let mut enqueues: Vec<Cmd> = intent
            .deliveries
            .iter()
            .map(|(endpoint, delivery)| {
                self.enqueue_cmd(endpoint, delivery, event_id, intent.now_ms)
            })
            .collect();
        let endpoints: Vec<String> = intent.deliveries.iter().map(|(e, _)| e.clone()).collect();
        if !endpoints.is_empty() {
            enqueues.push(cmd("SADD").arg(self.keys.work()).arg(&endpoints).to_owned());
        }
        self.pool.phases(vec![enqueues, done])?;
        tracing::warn!(
            event_id,
            endpoints = endpoints.len(),
            "finished an interrupted ingestion"
        );
        self.publish_work(&endpoints);
        Ok(())
    }
}
