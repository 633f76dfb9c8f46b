//! Backoff, pure: the delay before retry `attempt` (1-based) given a jitter draw in `[0, 1)`.

use std::time::Duration;

use crate::api::Class;

/// First delay for transient failures.
pub const BASE: Duration = Duration::from_millis(500);
/// First delay when throttled (the API asked us to slow down).
pub const BASE_THROTTLED: Duration = Duration::from_millis(1000);
/// No single wait is longer than this.
pub const CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with "equal jitter": half the exponential delay, plus up to as much again.
pub fn backoff(attempt: u32, class: Class, jitter: f64) -> Duration {
    let base = if class == Class::Throttled { BASE_THROTTLED } else { BASE };
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(CAP);
    let half = exp / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let ms = |a, c, j| backoff(a, c, j).as_millis();
        assert_eq!(ms(1, Class::Transient, 0.0), 250);
        assert_eq!(ms(1, Class::Transient, 1.0), 500);
        assert_eq!(ms(2, Class::Transient, 1.0), 1000);
        assert_eq!(ms(4, Class::Transient, 0.5), 3000);
        assert_eq!(ms(1, Class::Throttled, 1.0), 1000);
        assert_eq!(ms(30, Class::Transient, 1.0), 30_000);
        assert_eq!(ms(30, Class::Transient, 0.0), 15_000);
    }
}
