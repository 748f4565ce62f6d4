//! Delivery: an actix system with one [`Registry`] actor and one
//! [`EndpointActor`] per endpoint that has work.
//!
//! - Each endpoint delivers its queue in ingestion order: the head must
//!   succeed or be given up before the next leaves (`ordered = false`
//!   endpoints deliver up to `unordered_concurrency` at once instead).
//! - A failing head waits out its backoff inside its own actor; other
//!   endpoints never wait for it.
//! - Endpoint actors are spread over one arbiter thread per core; each
//!   stays on its thread for its life.
//! - Actors exist only while their endpoint has queued work: 100,000
//!   registered endpoints with empty queues cost nothing. Ingestion (and
//!   start-up recovery) sends [`Notify`] to the registry, which wakes or
//!   starts the endpoint's actor.
//! - A delivery leaves the queue only after its attempt is recorded
//!   (at-least-once; receivers dedupe on `webhook-id`).
//! - On a shared store (Redis, several instances) an actor delivers only
//!   while its instance holds the endpoint's lease; new work announced by
//!   any instance wakes the actors here, and a periodic scan picks up
//!   endpoints whose owner died.

mod call;
mod deliver;
mod endpoint;
mod health;
pub mod retry;
mod sent;
pub mod steps;

use crate::clock::{Clock, SystemClock};
use crate::config::DeliverySettings;
use crate::egress::Egress;
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::plugin::PluginRegistry;
use crate::signing::SecretBox;
use crate::store::Store;
use actix::prelude::*;
pub use call::{build_context, call_config, open_secrets, test_send};
use endpoint::EndpointActor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a delivery attempt needs, shared by all actors.
pub struct Core {
    /// Durable state.
    pub store: Store,
    /// Routes, stores and wakes new events (operational events too).
    pub ingestor: Arc<Ingestor>,
    /// Loaded provider plugins.
    pub plugins: PluginRegistry,
    /// The HTTP client with the SSRF guard.
    pub egress: Egress,
    /// Opens endpoint secrets.
    pub secrets: SecretBox,
    /// `[delivery]`
    pub settings: DeliverySettings,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// What "now" is for schedules, backoff and health.
    pub clock: Arc<dyn Clock>,
    in_flight: AtomicUsize,
    draining: AtomicBool,
}

impl Core {
    /// Shared state for the dispatcher.
    pub fn new(
        store: Store,
        ingestor: Arc<Ingestor>,
        plugins: PluginRegistry,
        egress: Egress,
        secrets: SecretBox,
        settings: DeliverySettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            ingestor,
            plugins,
            egress,
            secrets,
            settings,
            metrics,
            clock: Arc::new(SystemClock),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        }
    }

    /// The same core on another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// Counts an attempt in flight (until it is recorded) for the lifetime of the guard.
struct InFlight(Arc<Core>);

impl InFlight {
    fn enter(core: Arc<Core>) -> Self {
        core.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(core)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// New work for these endpoints.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notify(pub Vec<String>);

/// An endpoint actor stopped.
#[derive(Message)]
#[rtype(result = "()")]
struct Gone {
    endpoint_id: String,
    /// The actor that stopped (a newer one may already run).
    actor: Addr<EndpointActor>,
    /// Look for work that arrived while it stopped (not when another
    /// instance owns the endpoint: that one delivers it).
    recheck: bool,
}

/// How many endpoint actors are alive.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct LiveActors;

/// Stop every endpoint actor and their threads (after a drain).
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

/// Owns the endpoint actors: wakes or starts them on [`Notify`].
pub struct Registry {
    core: Arc<Core>,
    actors: HashMap<String, Addr<EndpointActor>>,
    /// Threads the endpoint actors run on (one per core); an endpoint's
    /// actor lives on one of them, so its deliveries stay in order.
    arbiters: Vec<ArbiterHandle>,
    /// The arbiter the next new actor starts on.
    next_arbiter: usize,
    /// A scan for unowned work is running.
    scanning: bool,
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let store = self.core.store.clone();
        let recover = async move { store.endpoints_with_work().await };
        ctx.spawn(recover.into_actor(self).map(|found, _, ctx| match found {
            Ok(endpoints) => {
                tracing::info!(endpoints = endpoints.len(), "resuming queued deliveries");
                ctx.notify(Notify(endpoints));
            }
            Err(error) => tracing::error!(%error, "cannot list queued work at start-up"),
        }));
        if let Some(every) = self.core.store.scan_interval() {
            ctx.run_interval(every, |this, ctx| this.scan_unowned(ctx));
        }
    }
}

impl Registry {
    /// Shared stores: picks up endpoints with work that no instance holds
    /// (their owner died, or an announcement was missed).
    fn scan_unowned(&mut self, ctx: &mut Context<Self>) {
        if self.scanning || self.core.is_draining() {
            return;
        }
        self.scanning = true;
        let store = self.core.store.clone();
        let scan = async move { store.unowned_work().await };
        ctx.spawn(scan.into_actor(self).map(|found, this, ctx| {
            this.scanning = false;
            match found {
                Ok(endpoints) if !endpoints.is_empty() => {
                    tracing::info!(endpoints = endpoints.len(), "picking up unowned work");
                    ctx.notify(Notify(endpoints));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot scan for unowned work"),
            }
        }));
    }
}

impl Handler<Notify> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Notify, ctx: &mut Self::Context) {
        if self.core.is_draining() {
            return;
        }
        for endpoint_id in msg.0 {
            match self.actors.get(&endpoint_id) {
                Some(addr) if addr.connected() => addr.do_send(endpoint::Wake),
                _ => {
                    let actor = EndpointActor::new(
                        endpoint_id.clone(),
                        Arc::clone(&self.core),
                        ctx.address(),
                    );
                    let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
                    self.next_arbiter = self.next_arbiter.wrapping_add(1);
                    let addr = EndpointActor::start_in_arbiter(arbiter, move |_| actor);
                    self.actors.insert(endpoint_id, addr);
                }
            }
        }
    }
}

impl Handler<Gone> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Gone, ctx: &mut Self::Context) {
        let endpoint_id = msg.endpoint_id;
        // Its address may still look connected while it stops: compare it.
        if self
            .actors
            .get(&endpoint_id)
            .is_some_and(|a| *a == msg.actor || !a.connected())
        {
            self.actors.remove(&endpoint_id);
        }
        if !msg.recheck {
            return;
        }
        // Work that arrived while the actor was stopping would otherwise wait
        // for the next event: look once more.
        let store = self.core.store.clone();
        let id = endpoint_id.clone();
        let check = async move { store.queue_head(&id).await };
        ctx.spawn(check.into_actor(self).map(move |head, this, ctx| {
            if matches!(head, Ok(Some(_))) && !this.actors.contains_key(&endpoint_id) {
                ctx.notify(Notify(vec![endpoint_id]));
            }
        }));
    }
}

impl Handler<LiveActors> for Registry {
    type Result = usize;

    fn handle(&mut self, _: LiveActors, _: &mut Self::Context) -> usize {
        self.actors.values().filter(|a| a.connected()).count()
    }
}

impl Handler<Stop> for Registry {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        self.actors.clear();
        ctx.stop();
    }
}

/// The handle the API uses to reach the dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    registry: Addr<Registry>,
    core: Arc<Core>,
}

impl Dispatcher {
    /// Starts the registry (which resumes queued work) on the current actix
    /// system, and one arbiter thread per core for the endpoint actors.
    pub fn start(core: Core) -> Self {
        let core = Arc::new(core);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arbiters = (0..threads).map(|_| Arbiter::new().handle()).collect();
        let registry = Registry {
            core: Arc::clone(&core),
            actors: HashMap::new(),
            arbiters,
            next_arbiter: 0,
            scanning: false,
        }
        .start();
        let wake = registry.clone();
        core.store
            .subscribe(Box::new(move |endpoints| wake.do_send(Notify(endpoints))));
        let wake = registry.clone();
        core.ingestor
            .wake_with(Box::new(move |endpoints| wake.do_send(Notify(endpoints))));
        Self { registry, core }
    }

    /// Wakes the actors of these endpoints.
    pub fn notify(&self, endpoint_ids: Vec<String>) {
        if !endpoint_ids.is_empty() {
            self.registry.do_send(Notify(endpoint_ids));
        }
    }

    /// The shared core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Live endpoint actors.
    pub async fn live_actors(&self) -> usize {
        self.registry.send(LiveActors).await.unwrap_or(0)
    }

    /// Stops the endpoint actors and their threads, dropping what they
    /// hold (the store among it). After [`Dispatcher::drain`]; an embedder
    /// that runs the server in-process gets its threads back.
    pub async fn stop(&self) {
        let _ = self.registry.send(Stop).await;
    }

    /// Stops starting attempts and waits (up to `grace`) for those in flight.
    pub async fn drain(&self, grace: Duration) {
        self.core.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + grace;
        while self.core.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.core.in_flight.load(Ordering::SeqCst);
        if left > 0 {
            tracing::warn!(
                left,
                "attempts still in flight at shutdown; they will be retried after restart"
            );
        }
    }
}
