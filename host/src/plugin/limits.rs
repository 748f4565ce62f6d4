//! Sandbox limits and the per-store state that enforces the memory cap.

use std::time::Duration;

/// Limits applied to every plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// CPU deadline of one call (wall time of the running guest, measured
    /// by epoch ticks).
    pub call_timeout: Duration,
    /// Cap on a plugin instance's linear memory.
    pub max_memory_bytes: usize,
    /// Cap on what one call may return (bodies + headers + URLs).
    pub max_output_bytes: usize,
    /// Reuse an instance across calls (faster; plugins are trusted not to
    /// carry data between calls). `false`: a fresh instance per call.
    pub reuse_instances: bool,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_millis(100),
            max_memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            reuse_instances: true,
        }
    }
}

/// The data of one plugin `Store`: enforces the memory cap and remembers
/// when it was hit, so the trap can be reported as what it is.
pub(crate) struct StoreState {
    max_memory_bytes: usize,
    /// Set when the guest asked for more memory than allowed.
    pub(crate) memory_refused: Option<usize>,
}

impl StoreState {
    pub(crate) fn new(max_memory_bytes: usize) -> Self {
        Self {
            max_memory_bytes,
            memory_refused: None,
        }
    }
}

/// Instances, tables and memories a plugin may create.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.memory_refused = Some(desired);
            wasmtime::bail!(
                "memory cap exceeded: wants {desired} bytes, cap is {}",
                self.max_memory_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
