//! When to try again. The *decision* (success, retry, give up) comes from
//! the plugin's `classify`; this module only turns "retry" into a wait:
//! the configured schedule with jitter, or the receiver's `Retry-After`
//! clamped to sane bounds, and decides when retrying is over.

use crate::config::DeliverySettings;
use std::time::Duration;

/// A `Retry-After` longer than this is cut to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);
/// Waits never go below this, whatever a receiver says.
pub const MIN_RETRY_WAIT: Duration = Duration::from_millis(10);

/// The wait after failed attempt number `attempt` (1-based).
///
/// `unit_noise` is a uniform sample in `[-1, 1]`, passed in so the policy
/// stays deterministic and testable.
pub fn backoff(
    settings: &DeliverySettings,
    attempt: u32,
    retry_after: Option<Duration>,
    unit_noise: f64,
) -> Duration {
    if let Some(after) = retry_after {
        return after.clamp(MIN_RETRY_WAIT, MAX_RETRY_AFTER);
    }
    let schedule = &settings.retry_schedule;
    let index = (attempt.max(1) as usize - 1).min(schedule.len().saturating_sub(1));
    let base = schedule
        .get(index)
        .copied()
        .unwrap_or(Duration::from_secs(60));
    let factor = 1.0 + settings.jitter * unit_noise.clamp(-1.0, 1.0);
    base.mul_f64(factor).max(MIN_RETRY_WAIT)
}

/// Why retrying is over after `attempts` attempts, if it is.
pub fn exhausted(
    settings: &DeliverySettings,
    attempts: u32,
    created_ms: u64,
    now_ms: u64,
) -> Option<String> {
    if attempts >= settings.max_attempts.get() {
        return Some(format!("gave up after {attempts} attempts"));
    }
    let age = Duration::from_millis(now_ms.saturating_sub(created_ms));
    if age >= settings.max_age {
        return Some(format!(
            "gave up after {attempts} attempts: older than max_age {}",
            humantime::format_duration(settings.max_age)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            retry_schedule: vec![Duration::from_secs(5), Duration::from_secs(30)],
            max_attempts: NonZeroU32::new(3).unwrap(),
            max_age: Duration::from_secs(3600),
            jitter: 0.2,
            failing_alert_after: Duration::from_secs(60),
            disable_after: Duration::from_secs(3600),
            unordered_concurrency: 4,
        }
    }

    #[test]
    fn schedule_with_jitter_and_repeat_of_the_last_step() {
        let s = settings();
        assert_eq!(backoff(&s, 1, None, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(&s, 1, None, 1.0), Duration::from_secs(6));
        assert_eq!(backoff(&s, 1, None, -1.0), Duration::from_secs(4));
        assert_eq!(backoff(&s, 2, None, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(&s, 9, None, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let s = settings();
        assert_eq!(
            backoff(&s, 1, Some(Duration::from_secs(2)), 1.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff(&s, 1, Some(Duration::from_secs(86_400)), 0.0),
            MAX_RETRY_AFTER
        );
        assert_eq!(backoff(&s, 1, Some(Duration::ZERO), 0.0), MIN_RETRY_WAIT);
    }

    #[test]
    fn exhaustion_by_count_and_by_age() {
        let s = settings();
        assert_eq!(exhausted(&s, 2, 0, 1000), None);
        assert!(exhausted(&s, 3, 0, 1000).unwrap().contains("3 attempts"));
        assert!(exhausted(&s, 1, 0, 3_600_000).unwrap().contains("max_age"));
    }
}
