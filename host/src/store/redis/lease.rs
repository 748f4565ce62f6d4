//! Endpoint ownership across instances, and the wake-up channel.
//!
//! - An instance delivers an endpoint only while it holds the endpoint's
//!   lease (`owner/token`, with a TTL). A background task renews every
//!   held lease each third of the TTL; an instance that dies stops
//!   renewing, and after the TTL another instance's scan claims the
//!   endpoint. Each claim takes a new token from the endpoint's fencing
//!   counter, and recording an attempt checks the lease value, so an
//!   instance that lost its lease (paused, partitioned) cannot acknowledge
//!   anything afterwards.
//! - New work is announced on a pub/sub channel; every instance listens
//!   and wakes its own actor for the endpoint (which claims, or stops when
//!   another instance holds the lease).

use super::scripts::{eval, CLAIM, DROP, RELEASE, RENEW};
use super::{Shared, StoreError};
use redis::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// A lease this instance took.
#[derive(Debug, Clone)]
pub(super) struct Held {
    /// `owner/token` as stored.
    pub(super) value: String,
    /// Last confirmed (taken or renewed).
    renewed: Instant,
    /// Renewal found it gone or taken: records under it will be refused.
    lost: bool,
}

/// Leases by endpoint.
#[derive(Default)]
pub(super) struct Leases {
    held: Mutex<HashMap<String, Held>>,
}

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The lease value to check when recording for `endpoint_id` (empty:
    /// never claimed here, unchecked).
    pub(super) fn fence(&self, endpoint_id: &str) -> String {
        self.lock()
            .get(endpoint_id)
            .map(|h| h.value.clone())
            .unwrap_or_default()
    }

    /// Held and confirmed within `fresh`: no round trip needed to keep it.
    fn fresh(&self, endpoint_id: &str, fresh: Duration) -> bool {
        self.lock()
            .get(endpoint_id)
            .is_some_and(|h| !h.lost && h.renewed.elapsed() < fresh)
    }

    fn set(&self, endpoint_id: &str, value: String) {
        self.lock().insert(
            endpoint_id.to_string(),
            Held {
                value,
                renewed: Instant::now(),
                lost: false,
            },
        );
    }

    /// Renewed: only an entry still holding `value` is refreshed.
    fn confirm(&self, endpoint_id: &str, value: &str) {
        if let Some(held) = self.lock().get_mut(endpoint_id) {
            if held.value == value {
                held.renewed = Instant::now();
            }
        }
    }

    /// Recording found the lease gone: claim again before delivering.
    pub(super) fn mark_lost(&self, endpoint_id: &str) {
        if let Some(held) = self.lock().get_mut(endpoint_id) {
            held.lost = true;
        }
    }

    fn forget(&self, endpoint_id: &str) {
        self.lock().remove(endpoint_id);
    }

    fn live(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .filter(|(_, h)| !h.lost)
            .map(|(id, h)| (id.clone(), h.value.clone()))
            .collect()
    }
}

impl Shared {
    fn ttl_ms(&self) -> String {
        self.lease_ttl.as_millis().to_string()
    }

    /// The lease on `endpoint_id` was taken or renewed within a third of
    /// the TTL: keeping it needs no round trip.
    pub(super) fn holds_fresh_lease(&self, endpoint_id: &str) -> bool {
        self.leases.fresh(endpoint_id, self.lease_ttl / 3)
    }

    /// Takes or keeps the lease on `endpoint_id`.
    pub(super) async fn claim(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        if self.holds_fresh_lease(endpoint_id) {
            return Ok(true);
        }
        let (lease, fence) = (self.keys.lease(endpoint_id), self.keys.fence(endpoint_id));
        let ttl = self.ttl_ms();
        let answer = self
            .pool
            .run(&eval(
                CLAIM,
                &[&lease, &fence],
                &[self.owner.as_bytes(), ttl.as_bytes()],
            ))
            .await?;
        match answer {
            Value::BulkString(value) => {
                self.leases
                    .set(endpoint_id, String::from_utf8_lossy(&value).into_owned());
                Ok(true)
            }
            _ => {
                self.leases.mark_lost(endpoint_id);
                Ok(false)
            }
        }
    }

    /// Releases the lease if the queue is empty.
    pub(super) async fn release(&self, endpoint_id: &str) -> Result<bool, StoreError> {
        let value = self.leases.fence(endpoint_id);
        if value.is_empty() {
            return Ok(true);
        }
        let (lease, queue) = (self.keys.lease(endpoint_id), self.keys.queue(endpoint_id));
        let released = self
            .pool
            .run(&eval(RELEASE, &[&lease, &queue], &[value.as_bytes()]))
            .await?;
        if matches!(released, Value::Int(0)) {
            return Ok(false);
        }
        self.leases.forget(endpoint_id);
        Ok(true)
    }

    /// Drops every lease held here (shutdown).
    pub(super) async fn release_all(&self) -> Result<(), StoreError> {
        let live = self.leases.live();
        let cmds: Vec<_> = live
            .iter()
            .map(|(id, value)| eval(DROP, &[&self.keys.lease(id)], &[value.as_bytes()]))
            .collect();
        self.pool.pipeline(&cmds).await?;
        for (id, _) in &live {
            self.leases.forget(id);
        }
        tracing::info!(leases = live.len(), "endpoint leases released");
        // Other instances pick the endpoints up now, not at their next scan.
        let released: Vec<String> = live.into_iter().map(|(id, _)| id).collect();
        self.publish_work(&released).await;
        Ok(())
    }

    /// Renews every live lease once.
    async fn renew_all(&self) -> Result<(), StoreError> {
        let live = self.leases.live();
        if live.is_empty() {
            return Ok(());
        }
        let ttl = self.ttl_ms();
        let cmds: Vec<_> = live
            .iter()
            .map(|(id, value)| {
                eval(
                    RENEW,
                    &[&self.keys.lease(id)],
                    &[value.as_bytes(), ttl.as_bytes()],
                )
            })
            .collect();
        let answers = self.pool.pipeline(&cmds).await?;
        for ((id, value), answer) in live.iter().zip(answers) {
            if matches!(answer, Value::Int(1)) {
                self.leases.confirm(id, value);
            } else {
                tracing::warn!(endpoint_id = %id, "lease lost to another instance");
                self.leases.mark_lost(id);
            }
        }
        Ok(())
    }

    /// Leases not confirmed within the TTL are lost (Redis unreachable).
    fn expire_unconfirmed(&self) {
        let mut held = self.leases.lock();
        for (id, lease) in held.iter_mut() {
            if !lease.lost && lease.renewed.elapsed() >= self.lease_ttl {
                tracing::warn!(endpoint_id = %id, "lease not renewed within its TTL; giving it up");
                lease.lost = true;
            }
        }
    }
}

/// Renews held leases every third of the TTL until the store is dropped
/// (a task on the connections' runtime).
pub(super) fn spawn_renewer(shared: &Arc<Shared>, every: Duration) {
    let weak = Arc::downgrade(shared);
    shared.pool.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(shared) = weak.upgrade() else {
                return;
            };
            if let Err(error) = shared.renew_all().await {
                tracing::error!(%error, "cannot renew endpoint leases");
            }
            shared.expire_unconfirmed();
        }
    });
}

/// Listens on the wake channel, reconnecting (through every seed in turn)
/// until the store is dropped; calls `wake` with each message's endpoints.
/// The wake channel's message that says endpoints or provider settings
/// changed (not an endpoint id: ids have no `!`).
pub(super) const CHANGED: &str = "!changed";

/// What the wake channel's messages call.
#[derive(Clone)]
pub(super) struct Listener {
    /// New work for these endpoints.
    pub(super) wake: Arc<dyn Fn(Vec<String>) + Send + Sync>,
    /// Endpoints or provider settings changed.
    pub(super) changed: Arc<dyn Fn() + Send + Sync>,
}

pub(super) fn spawn_listener(shared: Weak<Shared>, listener: Listener) {
    let spawned = std::thread::Builder::new()
        .name("hookmesh-wake".into())
        .spawn(move || {
            let Some(own) = shared.upgrade().map(|s| s.owner.clone()) else {
                return;
            };
            let mut attempt = 0usize;
            loop {
                let Some((url, channel)) = shared.upgrade().map(|s| {
                    let urls = s.pool.urls();
                    (urls[attempt % urls.len()].clone(), s.keys.wake_channel())
                }) else {
                    return;
                };
                attempt += 1;
                if let Err(error) = listen(&shared, (&url, &channel), &own, &listener) {
                    tracing::warn!(%error, %url, "wake channel lost; reconnecting");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the wake listener");
    }
}

/// Follows the wake channel at `url` until the store is dropped or the
/// connection fails; announcements made by `own` (this instance) are
/// skipped.
fn listen(
    shared: &Weak<Shared>,
    (url, channel): (&str, &str),
    own: &str,
    listener: &Listener,
) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let mut pubsub = conn.as_pubsub();
    pubsub.subscribe(channel)?;
    // Announcements made while this listener was away are lost: treat the
    // (re)connection as a change.
    (listener.changed)();
    pubsub.set_read_timeout(Some(Duration::from_secs(1)))?;
    loop {
        if shared.strong_count() == 0 {
            return Ok(());
        }
        match pubsub.get_message() {
            Ok(message) => {
                let payload: String = message.get_payload().unwrap_or_default();
                if payload == CHANGED {
                    (listener.changed)();
                    continue;
                }
                let ids = match payload.split_once('|') {
                    Some((sender, _)) if sender == own => continue,
                    Some((_, ids)) => ids,
                    None => payload.as_str(),
                };
                let endpoints: Vec<String> = ids
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if !endpoints.is_empty() {
                    (listener.wake)(endpoints);
                }
            }
            Err(e) if e.is_timeout() => continue,
            Err(e) => return Err(e),
        }
    }
}
