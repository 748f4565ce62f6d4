//! Rate limits: the [`Rate`] type (`"10/s"`, `"600/m"`), a project's own
//! ingestion limit ([`IngestLimit`]), what a bucket answers ([`Quota`]:
//! the numbers of the `X-RateLimit-*` headers) and token buckets kept in
//! process memory (the embedded deployment's buckets; the Redis backend
//! keeps the same buckets in Redis, shared by every instance).
//!
//! A request for `n` tokens passes when the bucket holds `min(n, burst)`;
//! it then takes all `n`, possibly going into debt, so a bulk request
//! larger than the burst is possible but pays for itself.
//!
//! The in-process map forgets buckets that have refilled (a full bucket
//! and a missing one answer alike), so callers that present ever new keys
//! (management requests with made-up credentials) cannot grow it without
//! bound.

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

/// The largest `events_per_second` and `burst` of a project's limit.
pub const MAX_LIMIT: u32 = 1_000_000;

/// A project's own ingestion limit, replacing the `[ingest]` default:
/// sustained events per second and the bucket's size. A burst below the
/// rate is allowed: it smooths (at most `burst` at once, the rate over a
/// second when spread out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestLimit {
    /// Sustained events per second.
    pub events_per_second: u32,
    /// Bucket size: events accepted at once after a quiet spell.
    pub burst: u32,
}

/// Why an ingestion limit was refused; `field` is the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// `events_per_second` outside 1–[`MAX_LIMIT`].
    #[error("events_per_second must be 1-{MAX_LIMIT}, got {0}")]
    Rate(u64),
    /// `burst` outside 1–[`MAX_LIMIT`].
    #[error("burst must be 1-{MAX_LIMIT}, got {0}")]
    Burst(u64),
}

impl LimitError {
    /// The key at fault: `events_per_second` or `burst`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Rate(_) => "events_per_second",
            Self::Burst(_) => "burst",
        }
    }
}

impl IngestLimit {
    /// Checks a limit; `burst` defaults to two seconds' worth (as the
    /// `[ingest]` default, 100/s with 200 burst), at most [`MAX_LIMIT`].
    pub fn new(events_per_second: u64, burst: Option<u64>) -> Result<Self, LimitError> {
        let rate = u32::try_from(events_per_second)
            .ok()
            .filter(|r| (1..=MAX_LIMIT).contains(r))
            .ok_or(LimitError::Rate(events_per_second))?;
        let burst = burst.unwrap_or_else(|| (u64::from(rate) * 2).min(u64::from(MAX_LIMIT)));
        let checked = u32::try_from(burst)
            .ok()
            .filter(|b| (1..=MAX_LIMIT).contains(b))
            .ok_or(LimitError::Burst(burst))?;
        Ok(Self {
            events_per_second: rate,
            burst: checked,
        })
    }

    /// The token bucket's rate (the burst as given, even below the rate).
    pub fn rate(self) -> Rate {
        Rate {
            per_second: f64::from(self.events_per_second),
            burst: self.burst,
        }
    }
}

/// What a bucket answered: whether the tokens were taken, and the numbers
/// of the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// The bucket's size (`X-RateLimit-Limit`): the most taken at once.
    pub limit: u32,
    /// Whole tokens left after this request (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Until the bucket is full again (`X-RateLimit-Reset`, in seconds).
    pub reset: Duration,
    /// `Some` when refused: how long until the request would pass.
    pub retry_after: Option<Duration>,
}

impl Quota {
    /// The answer of a bucket at `rate` left holding `tokens` (below zero
    /// after a bulk larger than it), refused with `retry_after` or not.
    pub fn of(rate: Rate, tokens: f64, retry_after: Option<Duration>) -> Self {
        let burst = f64::from(rate.burst);
        let tokens = if tokens.is_finite() { tokens } else { burst };
        let missing = (burst - tokens).max(0.0);
        Self {
            limit: rate.burst,
            remaining: tokens.clamp(0.0, burst).floor() as u32,
            reset: Duration::from_secs_f64(missing / rate.per_second),
            retry_after,
        }
    }

    /// `Ok` when the tokens were taken, else the wait.
    pub fn result(&self) -> Result<(), Duration> {
        match self.retry_after {
            None => Ok(()),
            Some(wait) => Err(wait),
        }
    }
}

/// Buckets kept before the map is first swept of full ones.
const SWEEP_AT: usize = 4096;

/// Buckets by key (e.g. project id), each with the rate its caller gives.
pub struct RateLimiter {
    buckets: Mutex<Buckets>,
}

struct Buckets {
    by_key: HashMap<String, Bucket>,
    /// Sweep full buckets when the map grows past this (then twice
    /// what is left, so sweeping stays amortized constant time).
    sweep_at: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            buckets: Mutex::new(Buckets {
                by_key: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }
}

struct Bucket {
    tokens: f64,
    updated: Instant,
    /// When it is full again (then it may be forgotten).
    full_at: Instant,
}

impl RateLimiter {
    /// No buckets yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `n` tokens from `key`'s bucket; the answer says whether it
    /// did, and how long to wait when not.
    pub fn try_take(&self, key: &str, rate: Rate, n: u32) -> Quota {
        self.try_take_at(key, rate, n, Instant::now())
    }

    fn try_take_at(&self, key: &str, rate: Rate, n: u32, now: Instant) -> Quota {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned limiter must not stop ingestion.
            return Quota::of(rate, f64::from(rate.burst), None);
        };
        let burst = f64::from(rate.burst);
        buckets.sweep(now);
        let bucket = buckets.by_key.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
            full_at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(burst);
        bucket.updated = now;
        let needed = f64::from(n).min(burst);
        let retry_after = if bucket.tokens >= needed {
            bucket.tokens -= f64::from(n);
            None
        } else {
            Some(Duration::from_secs_f64(
                (needed - bucket.tokens) / rate.per_second,
            ))
        };
        let quota = Quota::of(rate, bucket.tokens, retry_after);
        bucket.full_at = now + quota.reset;
        quota
    }
}

impl Buckets {
    /// Forgets full buckets once the map has grown past `sweep_at`.
    fn sweep(&mut self, now: Instant) {
        if self.by_key.len() < self.sweep_at {
            return;
        }
        self.by_key.retain(|_, bucket| bucket.full_at > now);
        self.sweep_at = (self.by_key.len() * 2).max(SWEEP_AT);
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
            assert!(limiter.try_take_at("p", rate, 1, start).result().is_ok());
        }
        let wait = limiter
            .try_take_at("p", rate, 1, start)
            .result()
            .unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(limiter
            .try_take_at("p", rate, 1, start + Duration::from_millis(100))
            .result()
            .is_ok());
        assert!(
            limiter
                .try_take_at("other", rate, 1, start)
                .result()
                .is_ok(),
            "buckets are per key"
        );
    }

    #[test]
    fn a_bulk_larger_than_the_burst_goes_into_debt() {
        let limiter = RateLimiter::new();
        let rate = Rate::new(10.0, 20);
        let start = Instant::now();
        assert!(limiter.try_take_at("p", rate, 100, start).result().is_ok());
        let wait = limiter
            .try_take_at("p", rate, 1, start)
            .result()
            .unwrap_err();
        assert!(wait >= Duration::from_secs(8), "{wait:?}");
    }

    #[test]
    fn answers_carry_the_header_numbers() {
        let limiter = RateLimiter::new();
        let rate = IngestLimit::new(2, Some(3)).unwrap().rate();
        let start = Instant::now();
        let first = limiter.try_take_at("p", rate, 1, start);
        assert_eq!(
            (first.limit, first.remaining, first.retry_after),
            (3, 2, None)
        );
        assert_eq!(first.reset, Duration::from_millis(500), "one token at 2/s");
        limiter.try_take_at("p", rate, 2, start);
        let refused = limiter.try_take_at("p", rate, 1, start);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after, Some(Duration::from_millis(500)));
        assert_eq!(
            refused.reset,
            Duration::from_millis(1500),
            "empty: 3 tokens at 2/s"
        );
        let debt = limiter.try_take_at("q", rate, 10, start);
        assert_eq!((debt.remaining, debt.retry_after), (0, None));
        assert_eq!(
            debt.reset,
            Duration::from_secs(5),
            "7 in debt: 10 short at 2/s"
        );
    }

    #[test]
    fn full_buckets_are_forgotten_when_many() {
        let limiter = RateLimiter::new();
        let rate = Rate::new(1000.0, 1000);
        let start = Instant::now();
        for i in 0..SWEEP_AT {
            limiter.try_take_at(&format!("k{i}"), rate, 1, start);
        }
        limiter.try_take_at("late", rate, 1, start + Duration::from_secs(1));
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.by_key.len(), 1, "the refilled buckets went");
        assert_eq!(buckets.sweep_at, SWEEP_AT);
    }

    #[test]
    fn ingest_limits_are_checked() {
        let limit = IngestLimit::new(2, None).unwrap();
        assert_eq!((limit.events_per_second, limit.burst), (2, 4));
        assert_eq!(IngestLimit::new(2, Some(3)).unwrap().rate().burst, 3);
        assert_eq!(
            IngestLimit::new(0, None).unwrap_err().field(),
            "events_per_second"
        );
        assert_eq!(IngestLimit::new(5, Some(0)).unwrap_err().field(), "burst");
        let smooth = IngestLimit::new(10, Some(2)).unwrap().rate();
        assert_eq!(
            (smooth.per_second, smooth.burst),
            (10.0, 2),
            "a burst below the rate smooths"
        );
        assert_eq!(
            IngestLimit::new(u64::from(MAX_LIMIT), None).unwrap().burst,
            MAX_LIMIT
        );
        assert!(IngestLimit::new(1, Some(u64::from(MAX_LIMIT) + 1)).is_err());
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
