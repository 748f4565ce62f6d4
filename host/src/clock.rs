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
