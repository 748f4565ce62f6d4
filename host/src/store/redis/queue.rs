//! Queues, deliveries, attempts and stats on Redis: reading an endpoint's
//! queue, recording attempts (fenced by the lease), the history pages and
//! the per-minute and per-hour stats.

use super::event_value;
use super::record::{self, read_cmd};
use super::scripts::{eval, HISTORY_TRIM_EVERY, HISTORY_TRIM_LOOK, LOG_PAGE, PEEK, RECORD};
use super::{bytes, fields, int, strings, Shared, StoreError};
use crate::store::codec::{decode, encode};
use crate::store::types::*;
use redis::{cmd, Cmd, Value};

/// Stats windows up to this long are summed per minute; longer ones per hour.
const MINUTE_STATS_KEPT_MS: u64 = 25 * 3600 * 1000;
/// Deliveries read per round trip when paging history.
const HISTORY_CHUNK: usize = 100;

/// [`RECORD`]'s answer `{record without attempts, 1 when changed}` as
/// the delivery and whether the call changed it.
fn recorded(
    endpoint_id: &str,
    id: &str,
    key: &str,
    answer: Value,
) -> Result<(Delivery, bool), StoreError> {
    let Value::Array(mut parts) = answer else {
        return Err(StoreError::Backend(format!(
            "unexpected answer recording {key}"
        )));
    };
    let changed = parts.pop().is_some_and(|v| int(&v) == 1);
    let record = parts
        .pop()
        .and_then(bytes)
        .ok_or_else(|| StoreError::Backend(format!("no record in the answer for {key}")))?;
    Ok((
        record::decode(endpoint_id, id, key, &record)?.delivery,
        changed,
    ))
}

/// An attempt's counter in a statistics hash: its outcome's letter and its
/// latency bucket (`s3`: succeeded within [`LATENCY_BUCKETS_MS`]`[3]`), so
/// an attempt is one increment per hash.
fn stats_field(outcome: &AttemptOutcome, duration_ms: u64) -> String {
    format!("{}{}", outcome.stats_field(), latency_bucket(duration_ms))
}

/// A stats hash as [`Stats`]: the sum of its [`stats_field`] counters,
/// plus the separate counters (`attempts`, `s`, `r`, `f`, `b3`) that
/// hashes written before them hold.
fn stats_from(value: Value) -> Stats {
    let mut stats = Stats {
        latency: vec![0; LATENCY_BUCKETS_MS.len() + 1],
        ..Stats::default()
    };
    for (field, count) in fields(value) {
        let count: u64 = std::str::from_utf8(&count)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let Some(letter) = field.chars().next() else {
            continue;
        };
        let bucket = field[letter.len_utf8()..].parse::<usize>().ok();
        let outcome = [
            AttemptOutcome::Success,
            AttemptOutcome::Retry,
            AttemptOutcome::Failed,
        ]
        .into_iter()
        .find(|o| o.stats_field().starts_with(letter));
        match (field.as_str(), outcome, bucket) {
            ("attempts", _, _) => stats.attempts += count,
            (_, Some(outcome), None) => add_outcome(&mut stats, &outcome, count),
            (_, None, Some(i)) if letter == 'b' => add_latency(&mut stats, i, count),
            (_, Some(outcome), Some(i)) => {
                stats.attempts += count;
                add_outcome(&mut stats, &outcome, count);
                add_latency(&mut stats, i, count);
            }
            _ => {}
        }
    }
    stats
}

fn add_outcome(stats: &mut Stats, outcome: &AttemptOutcome, count: u64) {
    match outcome {
        AttemptOutcome::Success => stats.successes += count,
        AttemptOutcome::Retry => stats.retries += count,
        AttemptOutcome::Failed => stats.failures += count,
    }
}

fn add_latency(stats: &mut Stats, bucket: usize, count: u64) {
    if let Some(slot) = stats.latency.get_mut(bucket) {
        *slot += count;
    }
}

fn latency_bucket(duration_ms: u64) -> usize {
    LATENCY_BUCKETS_MS
        .iter()
        .position(|&b| duration_ms <= b)
        .unwrap_or(LATENCY_BUCKETS_MS.len())
}

/// A history stream's entries (`SEQ-0`, field `d` = delivery id) as
/// (sequence number, delivery id).
fn stream_entries(answer: Value) -> Vec<(u64, String)> {
    let Value::Array(entries) = answer else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(mut parts) = entry else {
                return None;
            };
            let fields = strings(parts.pop()?);
            let id = String::from_utf8(bytes(parts.pop()?)?).ok()?;
            let seq = id.split('-').next()?.parse().ok()?;
            Some((seq, fields.get(1)?.clone()))
        })
        .collect()
}

impl Shared {
    pub(super) async fn queue_peek(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let answer = self.pool.run(&self.peek_cmd(endpoint_id, limit)).await?;
        self.peeked(endpoint_id, answer)
    }

    /// The script reading up to `limit` queued deliveries of an endpoint.
    pub(super) fn peek_cmd(&self, endpoint_id: &str, limit: usize) -> Cmd {
        let queue = self.keys.queue(endpoint_id);
        let (limit, prefix) = (
            limit.max(1).to_string(),
            self.keys.endpoint_prefix(endpoint_id),
        );
        eval(PEEK, &[&queue], &[limit.as_bytes(), prefix.as_bytes()])
    }

    /// The deliveries in the answer to [`Self::peek_cmd`].
    pub(super) fn peeked(
        &self,
        endpoint_id: &str,
        answer: Value,
    ) -> Result<Vec<Delivery>, StoreError> {
        let Value::Array(items) = answer else {
            return Ok(Vec::new());
        };
        let mut items = items.into_iter();
        let mut found = Vec::with_capacity(items.len() / 2);
        while let (Some(id), Some(record)) =
            (items.next().and_then(bytes), items.next().and_then(bytes))
        {
            let id = String::from_utf8_lossy(&id);
            let key = self.keys.delivery(endpoint_id, &id);
            found.push(record::decode(endpoint_id, &id, &key, &record)?.delivery);
        }
        Ok(found)
    }

    /// Endpoints whose queue is not empty (pruning the `work` set).
    pub(super) async fn endpoints_with_work(&self) -> Result<Vec<String>, StoreError> {
        let candidates = strings(self.pool.run(cmd("SMEMBERS").arg(self.keys.work())).await?);
        let sizes = self.queue_sizes(&candidates).await?;
        let (busy, idle): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .zip(sizes)
            .partition(|(_, size)| *size > 0);
        let mut busy: Vec<String> = busy.into_iter().map(|(id, _)| id).collect();
        let idle: Vec<String> = idle.into_iter().map(|(id, _)| id).collect();
        if !idle.is_empty() {
            // Remove, then look again: an enqueue racing the removal re-adds
            // itself after its queue write, or shows up in the second look.
            self.pool
                .run(cmd("SREM").arg(self.keys.work()).arg(&idle))
                .await?;
            let again = self.queue_sizes(&idle).await?;
            let refilled: Vec<String> = idle
                .into_iter()
                .zip(again)
                .filter(|(_, size)| *size > 0)
                .map(|(id, _)| id)
                .collect();
            if !refilled.is_empty() {
                self.pool
                    .run(cmd("SADD").arg(self.keys.work()).arg(&refilled))
                    .await?;
                busy.extend(refilled);
            }
        }
        busy.sort();
        Ok(busy)
    }

    async fn queue_sizes(&self, endpoints: &[String]) -> Result<Vec<i64>, StoreError> {
        let cmds: Vec<Cmd> = endpoints
            .iter()
            .map(|id| cmd("ZCARD").arg(self.keys.queue(id)).to_owned())
            .collect();
        Ok(self.pool.pipeline(&cmds).await?.iter().map(int).collect())
    }

    pub(super) async fn record_attempt(
        &self,
        endpoint_id: &str,
        attempt: &Attempt,
        change: DeliveryChange,
    ) -> Result<Delivery, StoreError> {
        let delivery_key = self.keys.delivery(endpoint_id, &attempt.delivery_id);
        let minute = attempt.started_ms / 60_000;
        let keys = [
            delivery_key.clone(),
            self.keys.queue(endpoint_id),
            self.keys.older_delivery(endpoint_id, &attempt.delivery_id),
            self.keys.minute_stats(endpoint_id, minute),
            self.keys.hour_stats(endpoint_id, minute / 60),
            self.keys.lease(endpoint_id),
            self.keys.stats_index(endpoint_id, false),
            self.keys.stats_index(endpoint_id, true),
            self.keys.older_attempts(endpoint_id, &attempt.delivery_id),
            self.keys.history(endpoint_id),
        ];
        let (kind, next, reason) = match &change {
            DeliveryChange::Ack => ("ack", String::new(), String::new()),
            DeliveryChange::Reschedule { next_attempt_ms } => {
                ("retry", next_attempt_ms.to_string(), String::new())
            }
            DeliveryChange::DeadLetter { reason } => ("dead", String::new(), reason.clone()),
        };
        let fence = self.leases.fence(endpoint_id);
        let retention_ms = self.endpoint_retention_ms(endpoint_id).await?;
        let hours_kept = retention_ms / 3_600_000 + 1;
        let in_script = !self.pool.is_cluster();
        let args: [String; 21] = [
            fence,
            String::new(), // the record, as bytes below
            attempt.number.to_string(),
            attempt
                .status_code
                .map(|c| c.to_string())
                .unwrap_or_default(),
            attempt.error.clone().unwrap_or_default(),
            (attempt.started_ms + attempt.duration_ms).to_string(),
            kind.to_string(),
            next,
            reason,
            stats_field(&attempt.outcome, attempt.duration_ms),
            retention_ms.to_string(),
            MINUTE_STATS_KEPT_MS.to_string(),
            minute.to_string(),
            (minute / 60).to_string(),
            (MINUTE_STATS_KEPT_MS / 60_000).to_string(),
            hours_kept.to_string(),
            if in_script {
                self.keys.event_prefix()
            } else {
                String::new()
            },
            attempt.delivery_id.clone(),
            self.keys.endpoint_prefix(endpoint_id),
            HISTORY_TRIM_EVERY.to_string(),
            HISTORY_TRIM_LOOK.to_string(),
        ];
        let record = encode(attempt)?;
        let mut argv: Vec<&[u8]> = args.iter().map(String::as_bytes).collect();
        argv[1] = &record;
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        match self.pool.run(&eval(RECORD, &key_refs, &argv)).await {
            Ok(answer) => {
                let (delivery, changed) =
                    recorded(endpoint_id, &attempt.delivery_id, &delivery_key, answer)?;
                if changed && !delivery.is_queued() && !in_script {
                    self.deliveries_finished(
                        std::slice::from_ref(&delivery.event_id),
                        retention_ms,
                    )
                    .await?;
                }
                Ok(delivery)
            }
            Err(StoreError::LeaseLost(_)) => {
                self.leases.mark_lost(endpoint_id);
                Err(StoreError::LeaseLost(endpoint_id.to_string()))
            }
            Err(StoreError::NotFound { .. }) => Err(StoreError::NotFound {
                what: "delivery",
                id: attempt.delivery_id.clone(),
            }),
            Err(other) => Err(other),
        }
    }

    pub(super) async fn delivery(
        &self,
        endpoint_id: &str,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .records(endpoint_id, &[id], false)
            .await?
            .pop()
            .flatten()
            .map(|r| r.delivery))
    }

    /// The records of deliveries `ids` of one endpoint (`None` for one that
    /// does not exist), with or without their attempts, in one round trip.
    async fn records(
        &self,
        endpoint_id: &str,
        ids: &[&str],
        with_attempts: bool,
    ) -> Result<Vec<Option<record::Record>>, StoreError> {
        let answer = self
            .pool
            .run(&read_cmd(&self.keys, endpoint_id, ids, with_attempts))
            .await?;
        self.read_records(endpoint_id, ids, answer)
    }

    /// The answer to a [`read_cmd`] for `ids` as their records.
    fn read_records(
        &self,
        endpoint_id: &str,
        ids: &[&str],
        answer: Value,
    ) -> Result<Vec<Option<record::Record>>, StoreError> {
        let Value::Array(items) = answer else {
            return Ok(ids.iter().map(|_| None).collect());
        };
        ids.iter()
            .zip(items.into_iter().chain(std::iter::repeat(Value::Nil)))
            .map(|(id, item)| {
                bytes(item)
                    .map(|b| {
                        let key = self.keys.delivery(endpoint_id, id);
                        record::decode(endpoint_id, id, &key, &b)
                    })
                    .transpose()
            })
            .collect()
    }

    /// Ids of the project's events, newest first (see
    /// [`crate::store::Backend::project_events`]); ids past retention are
    /// dropped from the index first.
    pub(super) async fn project_events(
        &self,
        project_id: &str,
        before: Option<&str>,
        from: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let retention_ms = self.project_retention_ms(project_id).await?;
        let trim = self.trim_event_log(project_id, crate::now_ms(), retention_ms);
        let chunks = self.keys.event_chunk_prefix(project_id);
        let limit_text = limit.to_string();
        let page = eval(
            LOG_PAGE,
            &[&self.keys.event_index(project_id)],
            &[
                chunks.as_bytes(),
                before.unwrap_or("").as_bytes(),
                from.unwrap_or("").as_bytes(),
                limit_text.as_bytes(),
            ],
        );
        // Ids stored before the index took chunks are older than any in it.
        let older = cmd("ZRANGE")
            .arg(self.keys.older_project_events(project_id))
            .arg(before.map_or("+".to_string(), |b| format!("({b}")))
            .arg(from.map_or("-".to_string(), |f| format!("[{f}")))
            .arg("BYLEX")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .to_owned();
        let answers = self
            .pool
            .phases(vec![trim.to_vec(), vec![page, older]])
            .await?;
        let mut pages = answers.into_iter().nth(1).unwrap_or_default().into_iter();
        let mut ids = strings(pages.next().unwrap_or(Value::Nil));
        ids.extend(strings(pages.next().unwrap_or(Value::Nil)));
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        ids.truncate(limit);
        Ok(ids)
    }

    /// Each event's deliveries, oldest first, in two round trips.
    pub(super) async fn deliveries_of_events(
        &self,
        event_ids: &[&str],
    ) -> Result<Vec<Vec<Delivery>>, StoreError> {
        // Per event its value (its deliveries follow the record) and the
        // deliveries hash of an event stored before they moved there.
        let indexes: Vec<Cmd> = event_ids
            .iter()
            .flat_map(|id| {
                [
                    cmd("GET").arg(self.keys.event(id)).to_owned(),
                    cmd("HGETALL")
                        .arg(self.keys.event_deliveries(id))
                        .to_owned(),
                ]
            })
            .collect();
        let answers = self.pool.phases(vec![indexes]).await?;
        let mut answers = answers.into_iter().next().unwrap_or_default().into_iter();
        let mut per_event: Vec<Vec<(String, String)>> = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            let (value, hash) = (answers.next(), answers.next());
            let key = self.keys.event(id);
            let listed = match value.and_then(bytes) {
                Some(value) => event_value::decode(&key, &value)?.deliveries,
                None => None,
            };
            let mut pairs = listed.unwrap_or_else(|| {
                fields(hash.unwrap_or(Value::Nil))
                    .into_iter()
                    // `#pending` counts the pending ones; the rest are ids
                    .filter(|(field, _)| !field.starts_with('#'))
                    .map(|(delivery, endpoint)| {
                        (delivery, String::from_utf8_lossy(&endpoint).into_owned())
                    })
                    .collect()
            });
            pairs.sort();
            per_event.push(pairs);
        }
        let wanted: Vec<&(String, String)> = per_event.iter().flatten().collect();
        if wanted.is_empty() {
            return Ok(vec![Vec::new(); event_ids.len()]);
        }
        let reads = wanted
            .iter()
            .map(|(delivery, endpoint)| read_cmd(&self.keys, endpoint, &[delivery], false))
            .collect();
        let answers = self.pool.phases(vec![reads]).await?;
        let mut read = answers
            .into_iter()
            .next()
            .unwrap_or_default()
            .into_iter()
            .zip(wanted);
        per_event
            .iter()
            .map(|pairs| {
                let mut found = Vec::new();
                for _ in pairs {
                    if let Some((answer, (delivery, endpoint))) = read.next() {
                        let records = self.read_records(endpoint, &[delivery], answer)?;
                        found.extend(records.into_iter().flatten().map(|r| r.delivery));
                    }
                }
                Ok(found)
            })
            .collect()
    }

    pub(super) async fn attempts_of(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        let key = self.keys.delivery(endpoint_id, delivery_id);
        let Some(record) = self
            .records(endpoint_id, &[delivery_id], true)
            .await?
            .pop()
            .flatten()
        else {
            return Ok(Vec::new());
        };
        record
            .attempts
            .iter()
            .map(|b| {
                // The record leaves out the delivery its key names.
                decode(&key, b).map(|attempt: Attempt| Attempt {
                    delivery_id: delivery_id.to_string(),
                    ..attempt
                })
            })
            .collect()
    }

    pub(super) async fn deliveries_of(
        &self,
        endpoint_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let limit = query.limit.max(1);
        let mut below = query.before_seq;
        let mut items: Vec<Delivery> = Vec::new();
        loop {
            let entries = self.history_chunk(endpoint_id, below).await?;
            let Some(&(lowest, _)) = entries.last() else {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            };
            let ids: Vec<&str> = entries.iter().map(|(_, id)| id.as_str()).collect();
            let records = self.records(endpoint_id, &ids, false).await?;
            let mut expired = Vec::new();
            for (entry, record) in entries.iter().zip(records) {
                let Some(record::Record { delivery, .. }) = record else {
                    expired.push(entry);
                    continue;
                };
                if query
                    .since_ms
                    .is_some_and(|since| delivery.created_ms < since)
                {
                    return Ok(Page {
                        items,
                        next_cursor: None,
                    });
                }
                if query.status.is_some_and(|s| s != delivery.status) {
                    continue;
                }
                if items.len() == limit {
                    let next_cursor = items.last().map(|d| d.seq);
                    return Ok(Page { items, next_cursor });
                }
                items.push(delivery);
            }
            self.forget_expired(endpoint_id, &expired).await?;
            if entries.len() < HISTORY_CHUNK {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            below = Some(lowest);
        }
    }

    /// Up to [`HISTORY_CHUNK`] of the endpoint's history entries (sequence
    /// number, delivery id) below sequence number `below`, newest first:
    /// from its stream and from the sorted set that held it before (the
    /// older entries), in one round trip.
    async fn history_chunk(
        &self,
        endpoint_id: &str,
        below: Option<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let newest = cmd("XREVRANGE")
            .arg(self.keys.history(endpoint_id))
            .arg(below.map_or_else(|| "+".to_string(), |s| format!("({s}-0")))
            .arg("-")
            .arg("COUNT")
            .arg(HISTORY_CHUNK)
            .to_owned();
        let older = cmd("ZREVRANGEBYSCORE")
            .arg(self.keys.older_history(endpoint_id))
            .arg(below.map_or_else(|| "+inf".to_string(), |s| format!("({s}")))
            .arg("-inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(HISTORY_CHUNK)
            .to_owned();
        let mut answers = self.pool.pipeline(&[newest, older]).await?.into_iter();
        let mut entries = stream_entries(answers.next().unwrap_or(Value::Nil));
        let mut older = strings(answers.next().unwrap_or(Value::Nil)).into_iter();
        while let (Some(id), Some(seq)) = (older.next(), older.next()) {
            if let Ok(seq) = seq.parse::<u64>() {
                entries.push((seq, id));
            }
        }
        entries.sort_unstable_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        entries.truncate(HISTORY_CHUNK);
        Ok(entries)
    }

    /// Drops history entries whose deliveries expired (past retention).
    async fn forget_expired(
        &self,
        endpoint_id: &str,
        expired: &[&(u64, String)],
    ) -> Result<(), StoreError> {
        if expired.is_empty() {
            return Ok(());
        }
        let stream_ids: Vec<String> = expired.iter().map(|(seq, _)| format!("{seq}-0")).collect();
        let ids: Vec<&str> = expired.iter().map(|(_, id)| id.as_str()).collect();
        let forget = [
            cmd("XDEL")
                .arg(self.keys.history(endpoint_id))
                .arg(&stream_ids)
                .to_owned(),
            cmd("ZREM")
                .arg(self.keys.older_history(endpoint_id))
                .arg(&ids)
                .to_owned(),
        ];
        self.pool.pipeline(&forget).await.map(drop)
    }

    pub(super) async fn queue_stats(&self) -> Result<Vec<QueueSample>, StoreError> {
        let endpoints = strings(self.pool.run(cmd("SMEMBERS").arg(self.keys.work())).await?);
        // Per endpoint: its depth, its head and its record (for the class).
        let reads: Vec<Cmd> = endpoints
            .iter()
            .flat_map(|id| {
                let queue = self.keys.queue(id);
                [
                    cmd("ZCARD").arg(&queue).to_owned(),
                    cmd("ZRANGE").arg(&queue).arg(0).arg(0).to_owned(),
                    super::get(&self.keys.endpoint_record(id)),
                ]
            })
            .collect();
        let mut answers = self.pool.pipeline(&reads).await?.into_iter();
        let mut samples = Vec::with_capacity(endpoints.len());
        let mut heads = Vec::with_capacity(endpoints.len());
        for endpoint_id in endpoints {
            let depth = u64::try_from(answers.next().as_ref().map_or(0, int)).unwrap_or(0);
            let head = answers
                .next()
                .map(strings)
                .and_then(|h| h.into_iter().next());
            let record_key = self.keys.endpoint_record(&endpoint_id);
            let endpoint: Option<Endpoint> = super::record(&record_key, answers.next())?;
            let Some(head) = head.filter(|_| depth > 0) else {
                continue; // emptied since the work set was read
            };
            heads.push((endpoint_id.clone(), head));
            samples.push(QueueSample {
                provider: endpoint.map(|e| e.provider).unwrap_or_default(),
                endpoint_id,
                depth,
                oldest_ms: None,
            });
        }
        let reads: Vec<Cmd> = heads
            .iter()
            .map(|(endpoint_id, head)| read_cmd(&self.keys, endpoint_id, &[head], false))
            .collect();
        let answers = self.pool.pipeline(&reads).await?;
        for ((sample, (endpoint_id, head)), answer) in samples.iter_mut().zip(&heads).zip(answers) {
            let oldest = self
                .read_records(endpoint_id, &[head], answer)?
                .pop()
                .flatten();
            sample.oldest_ms = oldest.map(|r| r.delivery.created_ms).filter(|&ms| ms > 0);
        }
        Ok(samples)
    }

    pub(super) async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
    ) -> Result<Vec<StatsPeriod>, StoreError> {
        let now = crate::now_ms();
        let hourly = now.saturating_sub(since_ms) > MINUTE_STATS_KEPT_MS - 3_600_000;
        let length_ms = if hourly { 3_600_000 } else { 60_000 };
        let index = self.keys.stats_index(endpoint_id, hourly);
        let units: Vec<u64> = strings(
            self.pool
                .run(
                    cmd("ZRANGEBYSCORE")
                        .arg(&index)
                        .arg(since_ms / length_ms)
                        .arg("+inf"),
                )
                .await?,
        )
        .iter()
        .filter_map(|u| u.parse::<u64>().ok())
        .collect();
        let cmds: Vec<Cmd> = units
            .iter()
            .map(|&unit| {
                let key = if hourly {
                    self.keys.hour_stats(endpoint_id, unit)
                } else {
                    self.keys.minute_stats(endpoint_id, unit)
                };
                cmd("HGETALL").arg(key).to_owned()
            })
            .collect();
        Ok(units
            .iter()
            .zip(self.pool.pipeline(&cmds).await?)
            .map(|(&unit, answer)| StatsPeriod {
                start_ms: unit * length_ms,
                length_ms,
                stats: stats_from(answer),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hash(pairs: &[(&str, &str)]) -> Value {
        Value::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| {
                    [
                        Value::BulkString(k.as_bytes().to_vec()),
                        Value::BulkString(v.as_bytes().to_vec()),
                    ]
                })
                .collect(),
        )
    }

    /// (attempts, successes, retries, failures)
    fn counts(stats: &Stats) -> (u64, u64, u64, u64) {
        (
            stats.attempts,
            stats.successes,
            stats.retries,
            stats.failures,
        )
    }

    #[test]
    fn one_field_per_outcome_and_bucket_sums_to_the_stats() {
        let success_fast = stats_field(&AttemptOutcome::Success, 0);
        let retry_slow = stats_field(&AttemptOutcome::Retry, u64::MAX);
        assert_eq!(success_fast, "s0");
        let slowest = LATENCY_BUCKETS_MS.len();
        assert_eq!(retry_slow, format!("r{slowest}"));
        let stats = stats_from(hash(&[
            (&success_fast, "3"),
            (&retry_slow, "2"),
            ("f0", "1"),
        ]));
        assert_eq!(counts(&stats), (6, 3, 2, 1));
        assert_eq!(stats.latency[0], 4);
        assert_eq!(stats.latency[slowest], 2);
        assert_eq!(stats.latency.iter().sum::<u64>(), 6);
    }

    #[test]
    fn hashes_with_the_earlier_separate_counters_still_read() {
        // Written before one field per outcome and bucket, then one more
        // attempt after the upgrade in the same minute.
        let stats = stats_from(hash(&[
            ("attempts", "5"),
            ("s", "4"),
            ("f", "1"),
            ("b2", "5"),
            ("s2", "1"),
        ]));
        assert_eq!(counts(&stats), (6, 5, 0, 1));
        assert_eq!(stats.latency[2], 6);
    }

    /// Against a real Redis: every eighth delivery to finish drops the
    /// history entries of expired deliveries among the oldest, so an
    /// endpoint's history does not outgrow the retention.
    #[tokio::test]
    async fn finished_deliveries_trim_the_history_of_expired_ones() {
        use super::super::ingest::tests::{new_event, open};
        use crate::store::Backend;
        use hookmesh_test_support::redis::RedisServer;

        let server = RedisServer::start("history-trim");
        let store = open(&server);
        let events: Vec<NewEvent> = (1..=9)
            .map(|i| new_event(&format!("e{i}"), &["a"], None))
            .collect();
        store.ingest(events, 5).await.unwrap();
        let history_len = || server.command(&["XLEN", "hm:{ep:a}:hs"]);
        assert_eq!(history_len(), "9");
        let ack = |i: u32| {
            let store = &store;
            async move {
                let id = format!("dlv_e{i}_a");
                let attempt = Attempt::bare(&id, 1, 10, Some(204), AttemptOutcome::Success);
                store
                    .record_attempt("a", std::sync::Arc::new(attempt), DeliveryChange::Ack)
                    .await
                    .unwrap()
            }
        };
        for i in 1..=7 {
            ack(i).await;
        }
        // Four of them past retention (their records expired): the three
        // oldest, and one behind a kept one.
        for i in [1, 2, 3, 5] {
            server.command(&["DEL", &format!("hm:{{ep:a}}:r:dlv_e{i}_a")]);
        }
        assert_eq!(history_len(), "9", "nothing trimmed before the 8th");
        ack(8).await;
        assert_eq!(
            history_len(),
            "6",
            "the three oldest dropped, up to a kept one"
        );
        let page = store
            .deliveries_of(
                "a",
                &DeliveryQuery {
                    limit: 100,
                    ..DeliveryQuery::default()
                },
            )
            .await
            .unwrap();
        let seqs: Vec<u64> = page.items.iter().map(|d| d.seq).collect();
        assert_eq!(seqs, [9, 8, 7, 6, 4]);
        assert_eq!(history_len(), "5", "reading drops the expired one it met");
    }

    /// Against a real Redis: a project's event index takes ids in any
    /// order into chunks small enough for Redis's compact encoding, lists
    /// them newest first with both bounds, and trims whole chunks.
    #[tokio::test]
    async fn the_event_index_keeps_compact_chunks_in_order() {
        use super::super::ingest::tests::open;
        use super::super::scripts::{EVENT_CHUNK, LOG_TRIM};
        use hookmesh_test_support::redis::RedisServer;

        let server = RedisServer::start("event-index");
        let store = open(&server);
        let shared = &store.shared;
        let n = 600;
        // Recent ids: listing first trims those past the retention.
        let now = crate::now_ms() - n as u64;
        let ids: Vec<String> = (0..n)
            .map(|i| format!("evt_{:012x}{:010x}", now + i as u64, i))
            .collect();
        // Out of order throughout (337 and 600 have no common factor).
        for i in 0..n {
            let id = &ids[(i * 337) % n];
            shared.pool.run(&shared.log_add_cmd("p", id)).await.unwrap();
        }
        let bounds = server.command(&["ZRANGE", "hm:{p:p}:evx", "0", "-1"]);
        let chunks: Vec<String> = bounds
            .lines()
            .map(|b| format!("hm:{{p:p}}:evc:{b}"))
            .collect();
        assert!(chunks.len() >= n / EVENT_CHUNK, "{} chunks", chunks.len());
        let mut held = 0;
        for chunk in &chunks {
            let size: usize = server.command(&["ZCARD", chunk]).parse().unwrap();
            assert!(size <= EVENT_CHUNK, "{chunk}: {size}");
            assert_eq!(server.command(&["OBJECT", "ENCODING", chunk]), "listpack");
            held += size;
        }
        assert_eq!(held, n);

        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
        let all = shared.project_events("p", None, None, 1000).await.unwrap();
        assert_eq!(all, newest_first);
        let page = shared
            .project_events("p", Some(&newest_first[99]), None, 50)
            .await
            .unwrap();
        assert_eq!(page, newest_first[100..150]);
        let since = shared
            .project_events("p", None, Some(&ids[200]), 1000)
            .await
            .unwrap();
        assert_eq!(since, newest_first[..n - 200]);

        // Retention: everything below ids[300] goes, whole chunks first.
        let trim = eval(
            LOG_TRIM,
            &["hm:{p:p}:evx"],
            &[b"hm:{p:p}:evc:", ids[300].as_bytes()],
        );
        shared.pool.run(&trim).await.unwrap();
        let kept = shared.project_events("p", None, None, 1000).await.unwrap();
        assert_eq!(kept, newest_first[..n - 300]);
        let left = server.command(&["ZCARD", "hm:{p:p}:evx"]);
        assert!(
            left.parse::<usize>().unwrap() < chunks.len(),
            "{left} chunks left"
        );
    }
}
