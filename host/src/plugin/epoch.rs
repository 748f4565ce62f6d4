//! The epoch ticker behind plugin CPU deadlines: it advances the engine's
//! epoch every [`EPOCH_TICK`] while at least one plugin call runs, and
//! sleeps while none does, so an idle host does not wake a thousand times
//! a second (issue #13: the idle host near 0% CPU). A deadline counts
//! ticks from its call's start, so ticks skipped while idle change nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::Engine;

/// How often the epoch advances while calls run: the resolution of CPU
/// deadlines.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(1);
/// How often a sleeping ticker looks whether its engine is gone.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// Plugin calls running now, and the ticker's wake-up.
#[derive(Default)]
struct Running {
    calls: AtomicUsize,
    lock: Mutex<()>,
    started: Condvar,
}

/// The ticker of one engine; clones share it.
#[derive(Clone)]
pub struct EpochClock {
    running: Arc<Running>,
}

/// A plugin call in progress: the epoch advances until it is dropped.
pub struct RunningCall {
    running: Arc<Running>,
}

impl Drop for RunningCall {
    fn drop(&mut self) {
        self.running.calls.fetch_sub(1, Ordering::Release);
    }
}

impl EpochClock {
    /// Starts the ticker thread for `engine`; it ends once the engine is
    /// dropped.
    pub fn start(engine: &Engine) -> Self {
        let (ticked, alive) = (engine.weak(), engine.weak());
        Self::start_ticking(
            move || ticked.upgrade().map(|e| e.increment_epoch()).is_some(),
            move || alive.upgrade().is_some(),
        )
    }

    /// Starts a thread that calls `tick` every [`EPOCH_TICK`] while calls
    /// run, until `tick` says false or, while idle, `alive` does.
    fn start_ticking(
        tick: impl Fn() -> bool + Send + 'static,
        alive: impl Fn() -> bool + Send + 'static,
    ) -> Self {
        let running = Arc::new(Running::default());
        let ticking = Arc::clone(&running);
        let spawned = std::thread::Builder::new()
            .name("hookmesh-epoch".into())
            .spawn(move || loop {
                if !ticking.wait_for_calls() {
                    if !alive() {
                        return;
                    }
                    continue;
                }
                std::thread::sleep(EPOCH_TICK);
                if !tick() {
                    return;
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the epoch ticker; plugin deadlines will not fire");
        }
        Self { running }
    }

    /// Marks a plugin call as running until the answer is dropped.
    pub fn call(&self) -> RunningCall {
        if self.running.calls.fetch_add(1, Ordering::AcqRel) == 0 {
            // Under the lock: a ticker about to wait has not looked yet, or
            // is waiting and gets this notification.
            let _guard = self.running.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.running.started.notify_one();
        }
        RunningCall {
            running: Arc::clone(&self.running),
        }
    }
}

impl Running {
    /// Waits until a call runs (true), or [`IDLE_CHECK`] passed (false).
    fn wait_for_calls(&self) -> bool {
        if self.calls.load(Ordering::Acquire) > 0 {
            return true;
        }
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let (_guard, _) = self
            .started
            .wait_timeout_while(guard, IDLE_CHECK, |()| {
                self.calls.load(Ordering::Acquire) == 0
            })
            .unwrap_or_else(|e| e.into_inner());
        self.calls.load(Ordering::Acquire) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting() -> (EpochClock, Arc<AtomicUsize>) {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ticks);
        let clock = EpochClock::start_ticking(
            move || {
                counted.fetch_add(1, Ordering::Relaxed);
                true
            },
            || true,
        );
        (clock, ticks)
    }

    #[test]
    fn the_epoch_advances_only_while_a_call_runs() {
        let (clock, ticks) = counting();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticks.load(Ordering::Relaxed), 0, "no tick with no call");
        let call = clock.call();
        let nested = clock.call();
        std::thread::sleep(Duration::from_millis(50));
        drop(call);
        std::thread::sleep(Duration::from_millis(20));
        let while_running = ticks.load(Ordering::Relaxed);
        assert!(
            while_running >= 10,
            "{while_running} ticks with calls running"
        );
        drop(nested);
        std::thread::sleep(Duration::from_millis(20));
        let stopped = ticks.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            ticks.load(Ordering::Relaxed),
            stopped,
            "ticking stops with the last call"
        );
        let _again = clock.call();
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            ticks.load(Ordering::Relaxed) > stopped,
            "and starts with the next"
        );
    }
}
