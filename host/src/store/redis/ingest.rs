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
//! An intent left in `pending` for [`INTERRUPTED_AFTER_MS`] is finished by
//! whichever instance scans next ([`Shared::finish_interrupted`]), or at
//! once when its idempotency key comes again (the client's retry).
//!
//! On one server (not a cluster, whose keys of one event live in several
//! slots) an event with at most [`ATOMIC_FAN_OUT_MAX`] deliveries skips
//! the intent: one script ([`INGEST`]) writes all of it at once, and a
//! batch is one pipeline, one round trip (issue #13: four before).

use super::event_value;
use super::scripts::{
    eval, ENQUEUE, EVENT_FINISHED, IDEMPOTENCY, INGEST, LOG_ADD, LOG_TRIM, RECORD_TEST,
};
use super::{
    budget_args, bytes, float, int, quota_of, strings, Delivery, Ingested, NewEvent, Shared,
    StoreError, TestRecord,
};
use crate::store::codec::{decode, encode};
use crate::store::{Admission, Budget};
use redis::{cmd, Cmd, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An intent this old was abandoned by the instance that wrote it.
const INTERRUPTED_AFTER_MS: u64 = 10_000;
/// Intents finished per scan.
const FINISH_PER_SCAN: usize = 100;
/// Longest idempotency reservation (Redis refuses expiries past its range).
const IDEMPOTENCY_MAX_TTL_MS: u64 = 366 * 24 * 3600 * 1000;
/// Idempotency reservations outlive their expiry by this much (clock skew).
const IDEMPOTENCY_SLACK_MS: u64 = 60_000;
/// Most deliveries of one event written by one script (a script holds the
/// server while it runs; larger fan-outs go through an intent, one
/// enqueue at a time).
const ATOMIC_FAN_OUT_MAX: usize = 256;

/// An idempotency reservation's value (the key's expiry, Unix ms) and its
/// time to live in Redis (ms).
fn reservation(expires_ms: u64, now_ms: u64) -> (u64, u64) {
    let ttl = expires_ms
        .saturating_sub(now_ms)
        .clamp(1, IDEMPOTENCY_MAX_TTL_MS)
        + IDEMPOTENCY_SLACK_MS;
    (expires_ms, ttl)
}

/// By event id, the earlier event holding its idempotency key: the
/// reservation answers (the holder's id, or nil when the key was free),
/// one per event in order.
fn holders<'a>(
    events: impl Iterator<Item = &'a NewEvent>,
    answers: Vec<redis::Value>,
) -> HashMap<String, String> {
    events
        .zip(answers)
        .filter_map(|(item, answer)| {
            let holder = bytes(answer)?;
            Some((
                item.event.id.clone(),
                String::from_utf8_lossy(&holder).into_owned(),
            ))
        })
        .collect()
}

/// A budget taken inside the [`INGEST`] script: the bucket's key and the
/// script's budget arguments ([`budget_args`]).
pub(super) struct Meter {
    key: String,
    args: [String; 3],
}

/// A metered [`INGEST`]'s answer `{holder or '', wait ms, tokens}` as the
/// holder answer [`holders`] reads (nil when none) and the bucket's numbers.
fn metered_answer(answer: Value) -> Result<(Value, (i64, Option<f64>)), StoreError> {
    match answer {
        Value::Array(parts) if parts.len() == 3 => {
            let mut parts = parts.into_iter();
            let holder = parts.next().unwrap_or(Value::Nil);
            let holder = match bytes(holder.clone()) {
                Some(id) if !id.is_empty() => holder,
                _ => Value::Nil,
            };
            let wait = parts.next().map_or(0, |v| int(&v));
            let tokens = parts.next().and_then(|v| float(&v));
            Ok((holder, (wait, tokens)))
        }
        other => Err(StoreError::Backend(format!(
            "the ingest script answered {other:?}, not [holder, wait, tokens]"
        ))),
    }
}

/// The batch's items that are not repeats of an earlier item.
fn leaders_of<'a>(batch: &'a [NewEvent], repeat_of: &[Option<usize>]) -> Vec<&'a NewEvent> {
    batch
        .iter()
        .zip(repeat_of)
        .filter(|(_, r)| r.is_none())
        .map(|(item, _)| item)
        .collect()
}

/// What each item of the batch became: stored, or a duplicate of the
/// event holding its key (`earlier`) or of the batch's earlier item.
fn answers(
    batch: &[NewEvent],
    repeat_of: &[Option<usize>],
    earlier: &HashMap<String, String>,
) -> Vec<Ingested> {
    batch
        .iter()
        .zip(repeat_of)
        .map(|(item, repeat)| {
            let leader = repeat.map_or(item, |i| &batch[i]);
            match earlier.get(&leader.event.id) {
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
        .collect()
}

/// For each item, the earlier item of the batch with the same idempotency key.
fn repeats(batch: &[NewEvent]) -> Vec<Option<usize>> {
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    batch
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let key = item.idempotency.as_ref().map(|(key, _)| key.as_str())?;
            match first_with_key.get(key) {
                Some(first) => Some(*first),
                None => {
                    first_with_key.insert(key, i);
                    None
                }
            }
        })
        .collect()
}

/// The fan-out still to do for one event.
#[derive(Debug, Serialize, Deserialize)]
struct Intent {
    project_id: String,
    idempotency: Option<(String, u64)>,
    /// (endpoint id, delivery id)
    deliveries: Vec<(String, String)>,
    now_ms: u64,
}

impl crate::store::codec::Record for Intent {}

impl Shared {
    /// Stores a batch; see the module doc for the order of writes.
    pub(super) async fn ingest(
        &self,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Vec<Ingested>, StoreError> {
        let repeat_of = repeats(&batch);
        let leaders = leaders_of(&batch, &repeat_of);
        let atomic = !self.pool.is_cluster()
            && leaders
                .iter()
                .all(|item| item.deliveries.len() <= ATOMIC_FAN_OUT_MAX);
        let earlier = if atomic {
            self.ingest_atomically(&leaders, now_ms, None).await?.0
        } else {
            let earlier = self.write_intents(&leaders, now_ms).await?;
            self.fan_out(&leaders, &earlier, now_ms).await?;
            earlier
        };
        self.finish_earlier(&earlier).await?;
        Ok(answers(&batch, &repeat_of, &earlier))
    }

    /// Whether [`Self::ingest_within`] can take a budget and store `batch`
    /// in one script: one event, on one server.
    pub(super) fn can_meter_in_script(&self, batch: &[NewEvent]) -> bool {
        !self.pool.is_cluster()
            && batch.len() == 1
            && batch[0].deliveries.len() <= ATOMIC_FAN_OUT_MAX
    }

    /// Takes `budget` and stores the one event of `batch` in the same
    /// [`INGEST`] call (one round trip; see [`Self::can_meter_in_script`]).
    pub(super) async fn ingest_within(
        &self,
        budget: Budget,
        batch: Vec<NewEvent>,
        now_ms: u64,
    ) -> Result<Admission, StoreError> {
        let meter = Meter {
            key: self.bucket_key(&budget.bucket),
            args: budget_args(budget.rate, budget.n),
        };
        let repeat_of = repeats(&batch);
        let leaders = leaders_of(&batch, &repeat_of);
        let (earlier, taken) = self
            .ingest_atomically(&leaders, now_ms, Some(&meter))
            .await?;
        let (wait_ms, tokens) = taken.ok_or_else(|| {
            StoreError::Backend("the ingest script answered no token count".into())
        })?;
        let quota = quota_of(budget.rate, wait_ms, tokens);
        if quota.retry_after.is_some() {
            return Ok(Admission::OverBudget(quota));
        }
        self.finish_earlier(&earlier).await?;
        Ok(Admission::Stored(
            answers(&batch, &repeat_of, &earlier),
            Some(quota),
        ))
    }

    /// A repeat of an idempotency key whose first ingestion was cut off
    /// after its reservation (the client got a `503` and retried) is
    /// answered only once that first event is queued: it is finished now,
    /// in the order the client sends, not at the next scan behind later
    /// events. (Finishing is idempotent: a finished event has no intent.)
    async fn finish_earlier(&self, earlier: &HashMap<String, String>) -> Result<(), StoreError> {
        let mut first_events: Vec<&String> = earlier.values().collect();
        first_events.sort();
        first_events.dedup();
        for event_id in first_events {
            self.finish_one(event_id).await?;
        }
        Ok(())
    }

    /// The retention (ms) of each project the batch's events belong to.
    async fn retentions_of(
        &self,
        leaders: &[&NewEvent],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let projects: Vec<&str> = leaders
            .iter()
            .map(|item| item.event.project_id.as_str())
            .collect();
        self.project_retentions_ms(&projects).await
    }

    /// The whole batch in one pipeline: an [`INGEST`] script per event,
    /// the event logs trimmed, the work announced. Returns, by event id,
    /// the earlier event holding its idempotency key, and with a `meter`
    /// (a batch of one) the bucket's answer: wait ms, tokens left.
    async fn ingest_atomically(
        &self,
        leaders: &[&NewEvent],
        now_ms: u64,
        meter: Option<&Meter>,
    ) -> Result<(HashMap<String, String>, Option<(i64, Option<f64>)>), StoreError> {
        let kept = self.retentions_of(leaders).await?;
        let mut cmds = Vec::with_capacity(leaders.len() + 2);
        for item in leaders {
            cmds.push(self.ingest_cmd(item, &kept, now_ms, meter)?);
        }
        cmds.extend(self.trim_event_logs(&kept, now_ms));
        let mut woken: Vec<String> = leaders
            .iter()
            .flat_map(|item| item.deliveries.iter().map(|(endpoint, _)| endpoint.clone()))
            .collect();
        woken.sort();
        woken.dedup();
        if !woken.is_empty() {
            cmds.push(self.announcement(&woken));
        }
        let mut answers = self.pool.pipeline(&cmds).await?;
        let taken = match meter {
            Some(_) if !answers.is_empty() => {
                let (holder, taken) = metered_answer(std::mem::take(&mut answers[0]))?;
                answers[0] = holder;
                Some(taken)
            }
            _ => None,
        };
        Ok((holders(leaders.iter().copied(), answers), taken))
    }

    /// One event's [`INGEST`] call.
    fn ingest_cmd(
        &self,
        item: &NewEvent,
        kept: &HashMap<String, u64>,
        now_ms: u64,
        meter: Option<&Meter>,
    ) -> Result<Cmd, StoreError> {
        let id = &item.event.id;
        let project_id = &item.event.project_id;
        let record_key = self.keys.event(id);
        let reservation_key = match &item.idempotency {
            Some((key, _)) => self.keys.idempotency(project_id, key),
            None => record_key.clone(),
        };
        let bucket_key = meter.map_or_else(|| record_key.clone(), |m| m.key.clone());
        let mut keys = vec![
            record_key,
            self.keys.event_index(project_id),
            self.keys.event_pending(id),
            bucket_key,
            reservation_key,
            self.keys.work(),
        ];
        for (endpoint_id, delivery_id) in &item.deliveries {
            keys.push(self.keys.seq(endpoint_id));
            keys.push(self.keys.queue(endpoint_id));
            keys.push(self.keys.history(endpoint_id));
            keys.push(self.keys.delivery(endpoint_id, delivery_id));
        }
        // An event with deliveries is kept until they finish (then for
        // the retention: `expire_finished_events`).
        let expiry = if item.deliveries.is_empty() {
            let retention_ms = kept.get(project_id).copied();
            retention_ms.unwrap_or(self.retention_ms).max(1).to_string()
        } else {
            String::new()
        };
        let (reserved_until, reservation_ttl) = match &item.idempotency {
            Some((_, expires_ms)) => {
                let (until, ttl) = reservation(*expires_ms, now_ms);
                (until.to_string(), ttl.to_string())
            }
            None => (String::new(), String::new()),
        };
        let record = event_value::encode(&item.event, &item.deliveries)?;
        let now = now_ms.to_string();
        let mut args: Vec<&[u8]> = vec![
            id.as_bytes(),
            &record,
            expiry.as_bytes(),
            now.as_bytes(),
            reserved_until.as_bytes(),
            reservation_ttl.as_bytes(),
        ];
        match meter {
            Some(m) => args.extend(m.args.iter().map(String::as_bytes)),
            None => args.extend([&b""[..], b"", b""]),
        }
        let chunks = self.keys.event_chunk_prefix(project_id);
        args.push(chunks.as_bytes());
        for (endpoint_id, delivery_id) in &item.deliveries {
            args.push(endpoint_id.as_bytes());
            args.push(delivery_id.as_bytes());
        }
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        Ok(eval(INGEST, &key_refs, &args))
    }

    /// Steps 1 and 2: records, intents and idempotency reservations.
    /// Returns, by event id, the earlier event holding its idempotency key.
    async fn write_intents(
        &self,
        leaders: &[&NewEvent],
        now_ms: u64,
    ) -> Result<HashMap<String, String>, StoreError> {
        let kept = self.retentions_of(leaders).await?;
        let mut records = Vec::new();
        for item in leaders {
            let id = &item.event.id;
            let intent = Intent {
                project_id: item.event.project_id.clone(),
                idempotency: item.idempotency.clone(),
                deliveries: item.deliveries.clone(),
                now_ms,
            };
            // An event with deliveries is kept until they finish (then
            // for the retention: `expire_finished_events`).
            let mut record = cmd("SET");
            record
                .arg(self.keys.event(id))
                .arg(event_value::encode(&item.event, &item.deliveries)?);
            if item.deliveries.is_empty() {
                let retention_ms = kept.get(&item.event.project_id).copied();
                record
                    .arg("PX")
                    .arg(retention_ms.unwrap_or(self.retention_ms).max(1));
            }
            records.push(record);
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
            records.extend(self.event_log_cmds(item));
        }
        records.extend(self.trim_event_logs(&kept, now_ms));
        let keyed: Vec<(&NewEvent, &(String, u64))> = leaders
            .iter()
            .filter_map(|item| Some((*item, item.idempotency.as_ref()?)))
            .collect();
        let reservations: Vec<Cmd> = keyed
            .iter()
            .map(|(item, (key, expires))| {
                self.reserve(
                    &item.event.project_id,
                    key,
                    *expires,
                    &item.event.id,
                    now_ms,
                )
            })
            .collect();
        let answers = self.pool.phases(vec![records, reservations]).await?;
        let reserved = answers.into_iter().nth(1).unwrap_or_default();
        Ok(holders(keyed.iter().map(|(item, _)| *item), reserved))
    }

    /// Steps 3 and 4: the enqueues, then the intents removed; announces the work.
    async fn fan_out(
        &self,
        leaders: &[&NewEvent],
        earlier: &HashMap<String, String>,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut enqueues = Vec::new();
        let mut cleanup = Vec::new();
        let mut woken = Vec::new();
        for item in leaders {
            let id = item.event.id.as_str();
            if earlier.contains_key(id) {
                cleanup.push(cmd("DEL").arg(self.keys.event(id)).to_owned());
                cleanup.push(
                    cmd("DEL")
                        .arg(self.keys.event_deliveries(id))
                        .arg(self.keys.event_pending(id))
                        .to_owned(),
                );
                // Its id stays in the project's event index until the
                // retention trims it; listings skip ids without a record.
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
        // On one server the announcement rides with the clean-up (after the
        // enqueues ran); a cluster pipeline routes by key, and PUBLISH has none.
        let announce_apart = self.pool.is_cluster() || woken.is_empty();
        if !announce_apart {
            cleanup.push(self.announcement(&woken));
        }
        self.pool.phases(vec![enqueues, cleanup]).await?;
        if announce_apart {
            self.publish_work(&woken).await;
        }
        Ok(())
    }

    /// The event log's entries for a new event: its id in the project's
    /// index, and how many of its deliveries are pending (its deliveries
    /// are listed in its value).
    fn event_log_cmds(&self, item: &NewEvent) -> Vec<Cmd> {
        let id = &item.event.id;
        let mut cmds = vec![self.log_add_cmd(&item.event.project_id, id)];
        if !item.deliveries.is_empty() {
            cmds.push(
                cmd("SET")
                    .arg(self.keys.event_pending(id))
                    .arg(item.deliveries.len())
                    .to_owned(),
            );
        }
        cmds
    }

    /// Adds event `id` to project `project_id`'s event index.
    pub(super) fn log_add_cmd(&self, project_id: &str, id: &str) -> Cmd {
        let chunks = self.keys.event_chunk_prefix(project_id);
        eval(
            LOG_ADD,
            &[&self.keys.event_index(project_id)],
            &[chunks.as_bytes(), id.as_bytes()],
        )
    }

    /// Drops the ids past retention (`retention_ms`, the project's) from
    /// the project's event index, and from the sorted set that held it
    /// before (their records expired already).
    pub(super) fn trim_event_log(
        &self,
        project_id: &str,
        now_ms: u64,
        retention_ms: u64,
    ) -> [Cmd; 2] {
        let expired = now_ms.saturating_sub(retention_ms);
        let lowest_kept = crate::signing::id_bound("evt_", expired);
        let chunks = self.keys.event_chunk_prefix(project_id);
        [
            eval(
                LOG_TRIM,
                &[&self.keys.event_index(project_id)],
                &[chunks.as_bytes(), lowest_kept.as_bytes()],
            ),
            cmd("ZREMRANGEBYLEX")
                .arg(self.keys.older_project_events(project_id))
                .arg("-")
                .arg(format!("({lowest_kept}"))
                .to_owned(),
        ]
    }

    /// Drops ids past retention from the event logs of the batch's
    /// projects (by project, its retention; their records expired
    /// already), each at most once a second per instance.
    fn trim_event_logs(&self, kept: &HashMap<String, u64>, now_ms: u64) -> Vec<Cmd> {
        let mut projects: Vec<(&String, &u64)> = kept.iter().collect();
        projects.sort_unstable();
        projects
            .into_iter()
            .filter(|(project, _)| self.trim_due(project))
            .flat_map(|(project, retention_ms)| self.trim_event_log(project, now_ms, *retention_ms))
            .collect()
    }

    /// One delivery of each of these events finished (on a cluster, after
    /// its record; on one server the record script does it): an event none
    /// of whose deliveries is pending expires a retention (its project's,
    /// `retention_ms`) from now.
    pub(super) async fn deliveries_finished(
        &self,
        event_ids: &[String],
        retention_ms: u64,
    ) -> Result<(), StoreError> {
        if event_ids.is_empty() {
            return Ok(());
        }
        let retention = retention_ms.to_string();
        let finished = event_ids
            .iter()
            .map(|id| {
                let keys = [
                    self.keys.event_pending(id),
                    self.keys.event(id),
                    self.keys.event_deliveries(id),
                ];
                eval(
                    EVENT_FINISHED,
                    &[&keys[0], &keys[1], &keys[2]],
                    &[retention.as_bytes()],
                )
            })
            .collect();
        self.pool.phases(vec![finished]).await.map(drop)
    }

    fn reserve(
        &self,
        project_id: &str,
        key: &str,
        expires_ms: u64,
        event_id: &str,
        now_ms: u64,
    ) -> Cmd {
        let (expires, ttl) = reservation(expires_ms, now_ms);
        let (expires, now, ttl) = (expires.to_string(), now_ms.to_string(), ttl.to_string());
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
            self.keys.older_delivery(endpoint_id, delivery_id),
        ];
        let now = now_ms.to_string();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        eval(
            ENQUEUE,
            &key_refs,
            &[delivery_id.as_bytes(), event_id.as_bytes(), now.as_bytes()],
        )
    }

    /// Queues a new delivery of an existing event (replay).
    pub(super) async fn requeue(
        &self,
        event_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: u64,
    ) -> Result<Delivery, StoreError> {
        let event_key = self.keys.event(event_id);
        let first = self
            .pool
            .run(cmd("GETRANGE").arg(&event_key).arg(0).arg(0))
            .await?;
        let first = bytes(first).unwrap_or_default();
        if first.is_empty() {
            return Err(StoreError::NotFound {
                what: "event",
                id: event_id.to_string(),
            });
        }
        let mut queued = vec![self.enqueue_cmd(endpoint_id, delivery_id, event_id, now_ms)];
        if first[0] == event_value::MARK {
            queued.extend([
                cmd("APPEND")
                    .arg(&event_key)
                    .arg(event_value::entry(delivery_id, endpoint_id))
                    .to_owned(),
                cmd("INCR")
                    .arg(self.keys.event_pending(event_id))
                    .to_owned(),
            ]);
        } else {
            // Stored before its deliveries moved into its value.
            let logged = self.keys.event_deliveries(event_id);
            queued.extend([
                cmd("HSET")
                    .arg(&logged)
                    .arg(delivery_id)
                    .arg(endpoint_id)
                    .to_owned(),
                cmd("PERSIST").arg(&logged).to_owned(),
                cmd("HINCRBY")
                    .arg(&logged)
                    .arg("#pending")
                    .arg(1)
                    .to_owned(),
            ]);
        }
        queued.extend([
            cmd("PERSIST").arg(&event_key).to_owned(),
            cmd("SADD")
                .arg(self.keys.work())
                .arg(endpoint_id)
                .to_owned(),
        ]);
        self.pool.phases(vec![queued]).await?;
        self.publish_work(&[endpoint_id.to_string()]).await;
        self.delivery(endpoint_id, delivery_id)
            .await?
            .ok_or_else(|| StoreError::Backend("replayed delivery vanished".into()))
    }

    /// Stores a finished test send: the delivery and its attempt (one
    /// script in the endpoint's slot), the event with its log entries,
    /// everything expiring its project's retention from now.
    pub(super) async fn record_test(&self, test: &TestRecord) -> Result<Delivery, StoreError> {
        let TestRecord {
            event,
            delivery,
            attempt,
        } = test;
        let endpoint_id = delivery.endpoint_id.as_str();
        let keys = [
            self.keys.seq(endpoint_id),
            self.keys.history(endpoint_id),
            self.keys.delivery(endpoint_id, &delivery.id),
        ];
        let fields = [
            delivery.id.clone(),
            delivery.event_id.clone(),
            delivery.status.as_str().to_string(),
            delivery.created_ms.to_string(),
            delivery.updated_ms.to_string(),
            delivery
                .last_status_code
                .map(|c| c.to_string())
                .unwrap_or_default(),
            delivery.last_error.clone().unwrap_or_default(),
        ];
        let record = encode(attempt)?;
        let retention_ms = self.project_retention_ms(&event.project_id).await?;
        let retention = retention_ms.to_string();
        let mut args: Vec<&[u8]> = fields.iter().map(String::as_bytes).collect();
        args.push(&record);
        args.push(retention.as_bytes());
        let listed = [(endpoint_id.to_string(), delivery.id.clone())];
        let writes = vec![
            eval(RECORD_TEST, &[&keys[0], &keys[1], &keys[2]], &args),
            cmd("SET")
                .arg(self.keys.event(&event.id))
                .arg(event_value::encode(event, &listed)?)
                .arg("PX")
                .arg(retention_ms.max(1))
                .to_owned(),
            self.log_add_cmd(&event.project_id, &event.id),
        ];
        let answers = self.pool.phases(vec![writes]).await?;
        let seq = answers
            .first()
            .and_then(|phase| phase.first())
            .map(int)
            .and_then(|seq| u64::try_from(seq).ok())
            .ok_or_else(|| StoreError::Backend("test record without a sequence".into()))?;
        Ok(Delivery {
            seq,
            ..delivery.clone()
        })
    }

    /// Finishes ingestions whose writer stopped half-way.
    pub(super) async fn finish_interrupted(&self) -> Result<(), StoreError> {
        self.finish_pending_since(crate::now_ms().saturating_sub(INTERRUPTED_AFTER_MS))
            .await
    }

    /// Finishes every intent written at or before `cutoff` (Unix ms).
    async fn finish_pending_since(&self, cutoff: u64) -> Result<(), StoreError> {
        let ids = strings(
            self.pool
                .run(
                    cmd("ZRANGEBYSCORE")
                        .arg(self.keys.pending())
                        .arg("-inf")
                        .arg(cutoff)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(FINISH_PER_SCAN),
                )
                .await?,
        );
        for id in ids {
            self.finish_one(&id).await?;
        }
        Ok(())
    }

    async fn finish_one(&self, event_id: &str) -> Result<(), StoreError> {
        let intent_key = self.keys.intent(event_id);
        let intent: Option<Intent> = match bytes(self.pool.run(cmd("GET").arg(&intent_key)).await?)
        {
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
            return self.pool.phases(vec![done]).await.map(drop);
        };
        if let Some((key, expires)) = &intent.idempotency {
            let answer = self
                .pool
                .run(&self.reserve(&intent.project_id, key, *expires, event_id, intent.now_ms))
                .await?;
            if bytes(answer).is_some_and(|owner| owner != event_id.as_bytes()) {
                // Another event holds the key: this one was a duplicate.
                let mut dropped = done;
                dropped.push(cmd("DEL").arg(self.keys.event(event_id)).to_owned());
                return self.pool.phases(vec![dropped]).await.map(drop);
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
        self.pool.phases(vec![enqueues, done]).await?;
        tracing::warn!(
            event_id,
            endpoints = endpoints.len(),
            "finished an interrupted ingestion"
        );
        // Nobody woke these endpoints' actors yet, this instance's neither.
        self.publish_work_to_all(&endpoints).await;
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{RedisOptions, RedisStore};
    use super::*;
    use crate::store::{Backend, Event};
    use std::time::Duration;

    use hookmesh_test_support::redis as redis_server;

    pub(in crate::store::redis) fn new_event(
        id: &str,
        endpoints: &[&str],
        key: Option<&str>,
    ) -> NewEvent {
        NewEvent {
            event: Event {
                id: id.into(),
                project_id: "p".into(),
                event_type: "user.created".into(),
                resource: None,
                resource_id: None,
                payload: b"{}".to_vec(),
                time_created_ms: 1,
                source: None,
            },
            deliveries: endpoints
                .iter()
                .map(|e| (e.to_string(), format!("dlv_{id}_{e}")))
                .collect(),
            idempotency: key.map(|k| (k.to_string(), u64::MAX / 2)),
        }
    }

    #[tokio::test]
    async fn an_ingestion_cut_off_after_its_intent_is_finished_once() {
        let server = redis_server::RedisServer::start("intents");
        let store = open(&server);
        let shared = &store.shared;
        // Two events whose writer died after step 2: records, intents and
        // reservations written, nothing queued. The second repeats the
        // first one's idempotency key from another request.
        let first = new_event("e1", &["a", "b"], Some("k"));
        let repeat = new_event("e2", &["a"], Some("k"));
        assert!(shared
            .write_intents(&[&first], 10)
            .await
            .unwrap()
            .is_empty());
        let earlier = shared.write_intents(&[&repeat], 11).await.unwrap();
        assert_eq!(earlier.get("e2").map(String::as_str), Some("e1"));
        assert!(store.queue_peek("a", 10).await.unwrap().is_empty());
        assert_eq!(server.command(&["ZCARD", "hm:pending"]), "2");

        shared.finish_pending_since(crate::now_ms()).await.unwrap();
        let queued = |endpoint: &'static str| {
            let store = &store;
            async move {
                let queued = store.queue_peek(endpoint, 10).await.unwrap();
                queued.into_iter().map(|d| d.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(queued("a").await, ["dlv_e1_a"], "the repeat is dropped");
        assert_eq!(queued("b").await, ["dlv_e1_b"]);
        assert_eq!(store.endpoints_with_work().await.unwrap(), ["a", "b"]);
        assert!(store.event("e2").await.unwrap().is_none());
        assert_eq!(server.command(&["ZCARD", "hm:pending"]), "0");

        // Finishing again (a second instance scanning) queues nothing twice.
        shared.write_intents(&[&first], 10).await.unwrap();
        shared.finish_pending_since(crate::now_ms()).await.unwrap();
        assert_eq!(queued("a").await, ["dlv_e1_a"]);
        // A later request with the key sees the first event.
        let again = store
            .ingest(vec![new_event("e3", &["a"], Some("k"))], 20)
            .await
            .unwrap();
        assert_eq!(
            again,
            [Ingested::Duplicate {
                event_id: "e1".into()
            }]
        );
    }

    pub(in crate::store::redis) fn open(server: &redis_server::RedisServer) -> RedisStore {
        RedisStore::open(RedisOptions {
            urls: vec![server.url()],
            cluster: false,
            prefix: "hm".into(),
            lease_ttl: Duration::from_secs(5),
            retention: Duration::from_secs(3600),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn an_event_expires_when_its_last_delivery_finishes_in_every_layout() {
        let server = redis_server::RedisServer::start("pending-count");
        let store = open(&server);
        let shared = &store.shared;
        let ttl = |id: &str| server.command(&["PTTL", &format!("hm:{{ev:{id}}}")]);
        let ids = |id: &str| vec![id.to_string()];
        let finish_both = |id: &'static str| async move {
            shared.deliveries_finished(&ids(id), 60_000).await.unwrap();
            assert_eq!(ttl(id), "-1", "{id}: one delivery still pending");
            shared.deliveries_finished(&ids(id), 60_000).await.unwrap();
            assert!(ttl(id).parse::<i64>().unwrap() > 0, "{id}: both finished");
        };
        // Today's layout: the count in the event's pending key, written by
        // the ingest script and removed at zero; the deliveries in the
        // event's value.
        store
            .ingest(vec![new_event("new", &["a", "b"], None)], 1)
            .await
            .unwrap();
        assert_eq!(server.command(&["GET", "hm:{ev:new}:pending"]), "2");
        finish_both("new").await;
        assert_eq!(server.command(&["EXISTS", "hm:{ev:new}:pending"]), "0");
        assert_eq!(server.command(&["EXISTS", "hm:{ev:new}:deliveries"]), "0");
        // The event log's reader does not take the count for a delivery.
        let listed = store.deliveries_of_events(&["new"]).await.unwrap();
        assert_eq!(listed[0].len(), 2);

        // The layout before: the bare record, the deliveries and the count
        // (`#pending`) in the event's deliveries hash.
        store
            .ingest(vec![new_event("hashed", &["a", "b"], None)], 1)
            .await
            .unwrap();
        let mut bare = redis::cmd("SET");
        bare.arg("hm:{ev:hashed}")
            .arg(encode(&new_event("hashed", &[], None).event).unwrap());
        let mut conn = redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: () = bare.query(&mut conn).unwrap();
        server.command(&["DEL", "hm:{ev:hashed}:pending"]);
        server.command(&[
            "HSET",
            "hm:{ev:hashed}:deliveries",
            "#pending",
            "2",
            "dlv_hashed_a",
            "a",
            "dlv_hashed_b",
            "b",
        ]);
        let listed = store.deliveries_of_events(&["hashed"]).await.unwrap();
        assert_eq!(listed[0].len(), 2, "listed from the hash");
        assert_eq!(store.event("hashed").await.unwrap().unwrap().id, "hashed");
        finish_both("hashed").await;
        assert_eq!(
            server.command(&["HGET", "hm:{ev:hashed}:deliveries", "#pending"]),
            "0"
        );
    }
}
