//! A loaded plugin: its manifest, its pre-instantiated component, a small
//! pool of warm instances, and the sandboxed calls.

use super::bindings::{Plugin, PluginPre};
use super::epoch::EpochClock;
use super::errors::{describe_guest_error, CallError};
use super::limits::{SandboxLimits, StoreState};
use super::targets::check_target;
use super::{
    Context, Event, HttpRequest, HttpResponse, InboundRequest, InboundResult, Manifest, Outcome,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{Engine, Store, Trap};

/// An instance is recycled after this many calls, bounding memory a guest
/// may have grown or fragmented.
const MAX_CALLS_PER_INSTANCE: u32 = 10_000;
/// Warm instances kept per plugin.
const MAX_IDLE_INSTANCES: usize = 16;
/// Epoch ticks (1 ms each) an async caller's call may run in place on its
/// own thread before it is moved to the blocking pool: the interrupt comes
/// after 9–10 ms of wall time, far above a normal call's tens of
/// microseconds. A plugin that needs longer stalls its caller's thread
/// that long at most once a minute ([`OFFLOAD_FOR_MS`]).
const IN_PLACE_TICKS: u64 = 10;
/// CPU time a call made again off the executor must use for the plugin to
/// count as slow. Epoch ticks are wall time: on a busy machine a call of a
/// few microseconds is cut off in place now and then because its thread
/// was preempted; that call is made again off the executor, but the
/// plugin's next calls stay in place (sending every call to the pool for a
/// minute after one such preemption cost a third of fan-out's throughput).
const SLOW_CALL_CPU: Duration = Duration::from_millis(5);
/// After a slow call, the plugin's calls go to the blocking pool for this
/// long.
const OFFLOAD_FOR_MS: u64 = 60_000;

/// One instance with its store, ready for a call.
struct Warm {
    store: Store<StoreState>,
    plugin: Plugin,
    calls: u32,
}

/// A plugin ready to be called. Cheap to share (`Arc`); calls from many
/// threads at once each get their own instance.
pub struct LoadedPlugin {
    manifest: Manifest,
    path: PathBuf,
    engine: Engine,
    epoch: EpochClock,
    pre: PluginPre<StoreState>,
    limits: SandboxLimits,
    deadline_ticks: u64,
    idle: Mutex<Vec<Warm>>,
    /// Until when (Unix ms) async calls skip running in place.
    offload_until_ms: AtomicU64,
    /// Calls that outgrew running in place and were run again off the executor.
    moved_calls: AtomicU64,
}

impl LoadedPlugin {
    pub(super) fn new(
        engine: Engine,
        epoch: EpochClock,
        pre: PluginPre<StoreState>,
        limits: SandboxLimits,
        deadline_ticks: u64,
        path: &Path,
        manifest: Manifest,
    ) -> Self {
        Self {
            manifest,
            path: path.to_path_buf(),
            engine,
            epoch,
            pre,
            limits,
            deadline_ticks,
            idle: Mutex::new(Vec::new()),
            offload_until_ms: AtomicU64::new(0),
            moved_calls: AtomicU64::new(0),
        }
    }

    /// The plugin's name from its manifest.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// What the plugin reported at load.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renders `event` into requests, each checked against the endpoint URL
    /// and the manifest's allowed hosts.
    pub fn render(&self, event: &Event, ctx: &Context) -> Result<Vec<HttpRequest>, CallError> {
        self.render_within(self.deadline_ticks, event, ctx)
    }

    fn render_within(
        &self,
        ticks: u64,
        event: &Event,
        ctx: &Context,
    ) -> Result<Vec<HttpRequest>, CallError> {
        const CALL: &str = "render";
        let requests = self.call(CALL, ticks, |store, plugin| {
            plugin
                .hookmesh_plugin_provider()
                .call_render(store, event, ctx)
        })?;
        let requests = self.guest_result(CALL, requests)?;
        self.check_output(CALL, requests.iter().map(request_size).sum())?;
        let endpoint_url = ctx.endpoint.as_ref().map(|e| e.url.as_str());
        for request in &requests {
            check_target(&request.url, endpoint_url, &self.manifest.allowed_hosts).map_err(
                |reason| CallError::ForbiddenTarget {
                    plugin: self.name().to_string(),
                    url: request.url.clone(),
                    reason,
                },
            )?;
        }
        Ok(requests)
    }

    /// Classifies a provider's answer.
    pub fn classify(&self, response: &HttpResponse, ctx: &Context) -> Result<Outcome, CallError> {
        self.classify_within(self.deadline_ticks, response, ctx)
    }

    fn classify_within(
        &self,
        ticks: u64,
        response: &HttpResponse,
        ctx: &Context,
    ) -> Result<Outcome, CallError> {
        self.call("classify", ticks, |store, plugin| {
            plugin
                .hookmesh_plugin_provider()
                .call_classify(store, response, ctx)
        })
    }

    /// Verifies and normalizes an inbound provider webhook.
    pub fn verify_inbound(
        &self,
        request: &InboundRequest,
        ctx: &Context,
    ) -> Result<InboundResult, CallError> {
        self.verify_inbound_within(self.deadline_ticks, request, ctx)
    }

    fn verify_inbound_within(
        &self,
        ticks: u64,
        request: &InboundRequest,
        ctx: &Context,
    ) -> Result<InboundResult, CallError> {
        const CALL: &str = "verify-inbound";
        let result = self.call(CALL, ticks, |store, plugin| {
            plugin
                .hookmesh_plugin_provider()
                .call_verify_inbound(store, request, ctx)
        })?;
        let result = self.guest_result(CALL, result)?;
        let size = result
            .events
            .iter()
            .map(|e| e.payload.len() + e.event_type.len())
            .sum::<usize>()
            + result.reply.as_ref().map_or(0, |r| r.body.len());
        self.check_output(CALL, size)?;
        Ok(result)
    }

    /// [`Self::render`] for async callers: in place, or on the blocking
    /// pool if it outgrows [`IN_PLACE_TICKS`] (see [`Self::in_place_first`]).
    pub async fn render_async(
        self: &Arc<Self>,
        event: Event,
        ctx: Context,
    ) -> Result<Vec<HttpRequest>, CallError> {
        let came = match self.in_place_first(|| self.render_within(IN_PLACE_TICKS, &event, &ctx)) {
            InPlace::Done(done) => return done,
            left => left,
        };
        let this = Arc::clone(self);
        self.off_executor("render", came, move || this.render(&event, &ctx))
            .await
    }

    /// [`Self::classify`] for async callers (see [`Self::render_async`]).
    pub async fn classify_async(
        self: &Arc<Self>,
        response: HttpResponse,
        ctx: Context,
    ) -> Result<Outcome, CallError> {
        let came =
            match self.in_place_first(|| self.classify_within(IN_PLACE_TICKS, &response, &ctx)) {
                InPlace::Done(done) => return done,
                left => left,
            };
        let this = Arc::clone(self);
        self.off_executor("classify", came, move || this.classify(&response, &ctx))
            .await
    }

    /// [`Self::verify_inbound`] for async callers (see [`Self::render_async`]).
    pub async fn verify_inbound_async(
        self: &Arc<Self>,
        request: InboundRequest,
        ctx: Context,
    ) -> Result<InboundResult, CallError> {
        let came = match self
            .in_place_first(|| self.verify_inbound_within(IN_PLACE_TICKS, &request, &ctx))
        {
            InPlace::Done(done) => return done,
            left => left,
        };
        let this = Arc::clone(self);
        self.off_executor("verify-inbound", came, move || {
            this.verify_inbound(&request, &ctx)
        })
        .await
    }

    /// Calls that outgrew running in place (and were run again off the
    /// executor) since the plugin was loaded.
    pub fn moved_calls(&self) -> u64 {
        self.moved_calls.load(Ordering::Relaxed)
    }

    /// Runs a call in place on the caller's thread under a short deadline
    /// ([`IN_PLACE_TICKS`]):
    /// a normal call takes microseconds, far less than handing it to
    /// another thread. Plugins import nothing, so a call has no effect but
    /// its answer: one cut off by the short deadline is simply made again
    /// on the blocking pool under the full deadline ([`Self::off_executor`]),
    /// and while the plugin is slow its calls go there directly.
    fn in_place_first<R>(&self, call: impl FnOnce() -> Result<R, CallError>) -> InPlace<R> {
        if self.offload_until_ms.load(Ordering::Relaxed) > crate::now_ms() {
            return InPlace::Offloaded;
        }
        match call() {
            Err(CallError::Deadline { .. }) if self.deadline_ticks > IN_PLACE_TICKS => {
                // The plugin's other calls go to the pool until this one is
                // judged (it runs there at most the full deadline; a tick
                // is a millisecond).
                let until = crate::now_ms() + self.deadline_ticks;
                self.offload_until_ms.fetch_max(until, Ordering::Relaxed);
                InPlace::CutOff { until }
            }
            done => InPlace::Done(done),
        }
    }

    /// Runs a call on the blocking pool under the full deadline. One cut
    /// off in place judges the plugin: if it used [`SLOW_CALL_CPU`] of its
    /// thread's CPU here, the plugin's calls go to the pool for
    /// [`OFFLOAD_FOR_MS`]; a quick one (its thread was preempted in place)
    /// lets them run in place again. The clock is read only for such calls,
    /// off the hot path.
    async fn off_executor<R: Send + 'static>(
        &self,
        call: &'static str,
        came: InPlace<R>,
        work: impl FnOnce() -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, CallError> {
        let aborted = |e: tokio::task::JoinError| CallError::Aborted {
            plugin: self.name().to_string(),
            call,
            reason: e.to_string(),
        };
        let InPlace::CutOff { until } = came else {
            return tokio::task::spawn_blocking(work).await.map_err(aborted)?;
        };
        let (result, used) = tokio::task::spawn_blocking(move || {
            let before = thread_cpu_time();
            let result = work();
            (result, cpu_used_since(before))
        })
        .await
        .map_err(aborted)?;
        if used >= SLOW_CALL_CPU {
            self.moved_calls.fetch_add(1, Ordering::Relaxed);
            self.offload_until_ms
                .fetch_max(crate::now_ms() + OFFLOAD_FOR_MS, Ordering::Relaxed);
            tracing::info!(plugin = %self.name(), ?used, "plugin call outgrew running in place; its calls go to the blocking pool for a minute");
        } else {
            // Unless a later judgement replaced this call's hold.
            let _ = self.offload_until_ms.compare_exchange(
                until,
                0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            tracing::debug!(plugin = %self.name(), ?used, "plugin call cut off in place while its thread waited; made again off the executor");
        }
        result
    }

    /// Runs `f` on a warm (or new) instance under the deadline. The
    /// instance goes back to the pool only if the call completed cleanly.
    fn call<R>(
        &self,
        call: &'static str,
        deadline_ticks: u64,
        f: impl FnOnce(&mut Store<StoreState>, &Plugin) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _running = self.epoch.call();
        let mut warm = match self.take_idle() {
            Some(warm) => warm,
            None => self.instantiate(call)?,
        };
        warm.store.set_epoch_deadline(deadline_ticks);
        match f(&mut warm.store, &warm.plugin) {
            Ok(value) => {
                warm.calls += 1;
                self.put_idle(warm);
                Ok(value)
            }
            Err(error) => Err(self.trap_error(call, warm.store.data(), error)),
        }
    }

    fn instantiate(&self, call: &'static str) -> Result<Warm, CallError> {
        let mut store = Store::new(&self.engine, StoreState::new(self.limits.max_memory_bytes));
        store.limiter(|state| state);
        store.set_epoch_deadline(self.deadline_ticks);
        match self.pre.instantiate(&mut store) {
            Ok(plugin) => Ok(Warm {
                store,
                plugin,
                calls: 0,
            }),
            Err(error) => Err(self.trap_error(call, store.data(), error)),
        }
    }

    fn take_idle(&self) -> Option<Warm> {
        if !self.limits.reuse_instances {
            return None;
        }
        self.idle.lock().ok()?.pop()
    }

    fn put_idle(&self, warm: Warm) {
        if !self.limits.reuse_instances || warm.calls >= MAX_CALLS_PER_INSTANCE {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_INSTANCES {
                idle.push(warm);
            }
        }
    }

    fn trap_error(
        &self,
        call: &'static str,
        state: &StoreState,
        error: wasmtime::Error,
    ) -> CallError {
        let plugin = self.name().to_string();
        if let Some(requested_bytes) = state.memory_refused {
            return CallError::MemoryCap {
                plugin,
                call,
                cap_bytes: self.limits.max_memory_bytes,
                requested_bytes,
            };
        }
        if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return CallError::Deadline {
                plugin,
                call,
                deadline_ms: u64::try_from(self.limits.call_timeout.as_millis())
                    .unwrap_or(u64::MAX),
            };
        }
        tracing::warn!(plugin = %plugin, call, error = %format!("{error:#}"), "plugin call trapped");
        CallError::Trap {
            plugin,
            call,
            reason: format!("{error:#}"),
        }
    }

    fn guest_result<T>(
        &self,
        call: &'static str,
        result: Result<T, super::GuestError>,
    ) -> Result<T, CallError> {
        result.map_err(|e| {
            let (kind, message) = describe_guest_error(&e);
            CallError::Plugin {
                plugin: self.name().to_string(),
                call,
                kind,
                message,
            }
        })
    }

    fn check_output(&self, call: &'static str, size_bytes: usize) -> Result<(), CallError> {
        if size_bytes > self.limits.max_output_bytes {
            return Err(CallError::OutputCap {
                plugin: self.name().to_string(),
                call,
                size_bytes,
                cap_bytes: self.limits.max_output_bytes,
            });
        }
        Ok(())
    }
}

fn request_size(request: &HttpRequest) -> usize {
    request.url.len()
        + request.body.len()
        + request
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
}

/// How a call tried in place ended ([`LoadedPlugin::in_place_first`]).
enum InPlace<R> {
    /// It ran there.
    Done(Result<R, CallError>),
    /// Cut off by the short deadline; the plugin's calls are held off the
    /// executor until `until` (Unix ms) while it runs again there.
    CutOff { until: u64 },
    /// Not tried: the plugin's calls go off the executor for now.
    Offloaded,
}

/// CPU time the calling thread has used so far; `None` where the
/// platform cannot tell (every call made off the executor then counts as
/// slow).
fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec for the call's duration.
        #[allow(unsafe_code)]
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        if status == 0 {
            let secs = u64::try_from(now.tv_sec).unwrap_or(0);
            let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
            return Some(Duration::new(secs, nanos));
        }
    }
    None
}

/// CPU time the calling thread used since `before` (`Duration::MAX` when
/// unknown).
fn cpu_used_since(before: Option<Duration>) -> Duration {
    match (before, thread_cpu_time()) {
        (Some(before), Some(now)) => now.saturating_sub(before),
        _ => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_waiting_thread_uses_no_cpu_a_busy_one_does() {
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            cpu_used_since(before) < Duration::from_millis(10),
            "sleeping is not CPU time"
        );
        // Spins until its CPU time has grown 10 ms (or 10 s have passed:
        // on a crowded machine the thread may get a small share of a core).
        let (before, started) = (thread_cpu_time(), Instant::now());
        let mut spin = 0u64;
        while cpu_used_since(before) < Duration::from_millis(10)
            && started.elapsed() < Duration::from_secs(10)
        {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let used = cpu_used_since(before);
        assert!(
            used >= Duration::from_millis(10) && used < Duration::from_secs(1),
            "spinning is CPU time: {used:?}"
        );
    }
}
