//! One actor per endpoint with work: it drains the endpoint's queue (see
//! `deliver::drain`), sleeps until the head's next attempt when it must
//! wait, and stops when the queue is empty.

use super::deliver::{drain, Drained};
use super::steps::{Finish, WhenEmpty};
use super::{Core, Gone, Registry};
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Wait before retrying after the store itself failed.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Look at the queue again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

/// Delivers one endpoint's queue.
pub struct EndpointActor {
    endpoint_id: String,
    core: Arc<Core>,
    registry: Addr<Registry>,
    /// A drain is running.
    running: bool,
    /// Woken while running: drain again when done.
    woken_while_running: bool,
    /// The pending timer to the head's next attempt.
    timer: Option<SpawnHandle>,
    /// Stopped because another instance delivers this endpoint.
    owned_elsewhere: bool,
}

impl EndpointActor {
    pub(super) fn new(endpoint_id: String, core: Arc<Core>, registry: Addr<Registry>) -> Self {
        Self {
            endpoint_id,
            core,
            registry,
            running: false,
            woken_while_running: false,
            timer: None,
            owned_elsewhere: false,
        }
    }

    fn kick(&mut self, ctx: &mut Context<Self>) {
        self.drain(WhenEmpty::Linger, ctx);
    }

    fn drain(&mut self, when_empty: WhenEmpty, ctx: &mut Context<Self>) {
        if self.running {
            self.woken_while_running = true;
            return;
        }
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.running = true;
        self.woken_while_running = false;
        let work = drain(Arc::clone(&self.core), self.endpoint_id.clone(), when_empty);
        ctx.spawn(work.into_actor(self).map(|outcome, this, ctx| {
            this.running = false;
            this.after_drain(outcome, ctx);
        }));
    }

    fn after_drain(&mut self, outcome: Drained, ctx: &mut Context<Self>) {
        let stopped = matches!(outcome, Drained::Finished(Finish::Stop | Finish::NotOwner));
        if self.woken_while_running && !stopped {
            return self.kick(ctx);
        }
        match outcome {
            Drained::Finished(Finish::Empty | Finish::Stop) => ctx.stop(),
            Drained::Finished(Finish::NotOwner) => {
                self.owned_elsewhere = true;
                ctx.stop();
            }
            Drained::Finished(Finish::WaitFor(wait)) => self.sleep(wait, ctx),
            Drained::Finished(Finish::Idle) => self.linger(ctx),
            Drained::StoreFailed(error) => {
                tracing::error!(endpoint_id = %self.endpoint_id, %error, "store failed; pausing this endpoint");
                self.sleep(STORE_ERROR_PAUSE, ctx);
            }
        }
    }

    /// Keeps the lease (it stays fresh for a third of its TTL, the scan
    /// interval) in case more work comes; then gives it up, or delivers
    /// what came.
    fn linger(&mut self, ctx: &mut Context<Self>) {
        let wait = self.core.store.lease_linger();
        self.timer = Some(ctx.run_later(wait, |this, ctx| {
            this.timer = None;
            this.drain(WhenEmpty::Release, ctx);
        }));
    }

    fn sleep(&mut self, wait: Duration, ctx: &mut Context<Self>) {
        self.timer = Some(ctx.run_later(wait, |this, ctx| {
            this.timer = None;
            this.kick(ctx);
        }));
    }
}

impl Actor for EndpointActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.kick(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.registry.do_send(Gone {
            endpoint_id: self.endpoint_id.clone(),
            actor: ctx.address(),
            recheck: !self.owned_elsewhere,
        });
    }
}

impl Handler<Wake> for EndpointActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.kick(ctx);
    }
}
