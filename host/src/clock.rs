//! Time as the delivery path sees it: an injectable [`Clock`]
//! (`dispatch::Core::with_clock`), so schedules, backoff and health
//! decisions can be driven without waiting. [`SystemClock`] is the wall
//! clock.

/// Unix time in milliseconds, from somewhere.
pub trait Clock: Send + Sync + 'static {
    /// Now, in Unix ms.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::now_ms()
    }
}

/// A clock that moves only when told: tests (and simulations) set and
/// advance it.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn at(now_ms: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(now_ms))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
