//! Rate limits: the [`Rate`] type (`"10/s"`, `"600/m"`) and token buckets
//! kept in process memory (the embedded deployment's buckets; the Redis
//! backend keeps the same buckets in Redis, shared by every instance).
//!
//! A request for `n` tokens passes when the bucket holds `min(n, burst)`;
//! it then takes all `n`, possibly going into debt, so a bulk request
//! larger than the burst is possible but pays for itself.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: how many may pass at once after a quiet spell.
    pub burst: u32,
}

/// A rate text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a rate: expected `<count>/<unit>` with unit s, m or h (e.g. `10/s`), count 1–1000000")]
pub struct RateParseError {
    text: String,
}

impl Rate {
    /// `per_second` sustained, up to `burst` at once (at least one second's worth).
    pub fn new(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let floor = per_second.ceil().min(f64::from(u32::MAX)) as u32;
        Self {
            per_second,
            burst: burst.max(floor).max(1),
        }
    }

    /// Reads `"10/s"`, `"600/m"` or `"100/h"`; the burst is one second's
    /// worth of the rate (at least 1), so `"5/s"` never sends 6 in a second.
    pub fn parse(text: &str) -> Result<Self, RateParseError> {
        let error = || RateParseError {
            text: text.to_string(),
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(error)?;
        let count: u32 = count.trim().parse().map_err(|_| error())?;
        if !(1..=1_000_000).contains(&count) {
            return Err(error());
        }
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(error()),
        };
        let per_second = f64::from(count) / seconds;
        Ok(Self {
            per_second,
            burst: (per_second.floor() as u32).max(1),
        })
    }

    /// The text form `parse` reads (`"10/s"`, or per minute/hour when slower).
    pub fn to_text(&self) -> String {
        let per = |secs: f64| self.per_second * secs;
        if per(1.0).fract() == 0.0 {
            format!("{}/s", per(1.0))
        } else if per(60.0).fract().abs() < 1e-9 {
            format!("{}/m", per(60.0).round())
        } else {
            format!("{}/h", per(3600.0).round())
        }
    }
}

/// Buckets by key (e.g. project id), each with the rate its caller gives.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// No buckets yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `n` tokens from `key`'s bucket, or says how long to wait.
    pub fn try_take(&self, key: &str, rate: Rate, n: u32) -> Result<(), Duration> {
        self.try_take_at(key, rate, n, Instant::now())
    }

    fn try_take_at(&self, key: &str, rate: Rate, n: u32, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned limiter must not stop ingestion
        };
        let burst = f64::from(rate.burst);
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(burst);
        bucket.updated = now;
        let needed = f64::from(n).min(burst);
        if bucket.tokens >= needed {
            bucket.tokens -= f64::from(n);
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (needed - bucket.tokens) / rate.per_second,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let limiter = RateLimiter::new();
        let rate = Rate::new(10.0, 20);
        let start = Instant::now();
        for _ in 0..20 {
            assert!(limiter.try_take_at("p", rate, 1, start).is_ok());
        }
        let wait = limiter.try_take_at("p", rate, 1, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(limiter
            .try_take_at("p", rate, 1, start + Duration::from_millis(100))
            .is_ok());
        assert!(
            limiter.try_take_at("other", rate, 1, start).is_ok(),
            "buckets are per key"
        );
    }

    #[test]
    fn a_bulk_larger_than_the_burst_goes_into_debt() {
        let limiter = RateLimiter::new();
        let rate = Rate::new(10.0, 20);
        let start = Instant::now();
        assert!(limiter.try_take_at("p", rate, 100, start).is_ok());
        let wait = limiter.try_take_at("p", rate, 1, start).unwrap_err();
        assert!(wait >= Duration::from_secs(8), "{wait:?}");
    }

    #[test]
    fn rates_parse_and_print() {
        let five = Rate::parse("5/s").unwrap();
        assert_eq!((five.per_second, five.burst), (5.0, 5));
        assert_eq!(five.to_text(), "5/s");
        let per_minute = Rate::parse("30/m").unwrap();
        assert_eq!((per_minute.per_second, per_minute.burst), (0.5, 1));
        assert_eq!(per_minute.to_text(), "30/m");
        assert_eq!(Rate::parse(" 7 / h ").unwrap().to_text(), "7/h");
        for bad in ["", "5", "5/d", "0/s", "-1/s", "x/s", "2000000/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
