//! Per-key token buckets in process memory (the embedded deployment's rate
//! limits). A request for `n` tokens passes when the bucket holds
//! `min(n, burst)`; it then takes all `n`, possibly going into debt, so a
//! bulk request larger than the burst is possible but pays for itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets by key (e.g. project id).
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_second` sustained, up to `burst` at once.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(per_second).max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` tokens from `key`'s bucket, or says how long to wait.
    pub fn try_take(&self, key: &str, n: u32) -> Result<(), Duration> {
        self.try_take_at(key, n, Instant::now())
    }

    fn try_take_at(&self, key: &str, n: u32, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned limiter must not stop ingestion
        };
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        let needed = f64::from(n).min(self.burst);
        if bucket.tokens >= needed {
            bucket.tokens -= f64::from(n);
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (needed - bucket.tokens) / self.per_second,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let limiter = RateLimiter::new(10, 20);
        let start = Instant::now();
        for _ in 0..20 {
            assert!(limiter.try_take_at("p", 1, start).is_ok());
        }
        let wait = limiter.try_take_at("p", 1, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(limiter
            .try_take_at("p", 1, start + Duration::from_millis(100))
            .is_ok());
        assert!(
            limiter.try_take_at("other", 1, start).is_ok(),
            "buckets are per key"
        );
    }

    #[test]
    fn a_bulk_larger_than_the_burst_goes_into_debt() {
        let limiter = RateLimiter::new(10, 20);
        let start = Instant::now();
        assert!(limiter.try_take_at("p", 100, start).is_ok());
        let wait = limiter.try_take_at("p", 1, start).unwrap_err();
        assert!(wait >= Duration::from_secs(8), "{wait:?}");
    }
}
