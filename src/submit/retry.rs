//! Backoff, pure: how long to wait before attempt `n` of anything cdnsync retries (a request,
//! a task poll, watch mode's retry of owed jobs), given a jitter draw in `[0, 1)` where wanted.

use std::time::Duration;

use crate::api::Class;

/// Exponential backoff: `base`, doubling each attempt, never more than `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// No single wait is longer than this.
    pub cap: Duration,
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based): `base × 2^(attempt-1)`, capped; with a
    /// jitter draw, "equal jitter": half that delay plus up to as much again, so that clients
    /// failing together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: Option<f64>) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(self.cap);
        match jitter {
            None => exp,
            Some(j) => {
                let half = exp / 2;
                half + half.mul_f64(j.clamp(0.0, 1.0))
            }
        }
    }
}

/// Transient failures (network errors, 5xx, `InternalError*`): 0.5 s, doubling to 30 s.
pub const TRANSIENT: Backoff = Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(30) };
/// Throttled (the API asked us to slow down): 1 s, doubling to 30 s.
pub const THROTTLED: Backoff = Backoff { base: Duration::from_millis(1000), cap: Duration::from_secs(30) };
/// Polling a task until it finishes: 0.5 s, doubling to 10 s.
pub const TASK_POLL: Backoff = Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(10) };

/// The delay before retrying a request that failed with `class`, with jitter.
pub fn backoff(attempt: u32, class: Class, jitter: f64) -> Duration {
    let b = if class == Class::Throttled { THROTTLED } else { TRANSIENT };
    b.delay(attempt, Some(jitter))
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
        let polls: Vec<u128> = (1..=7).map(|a| TASK_POLL.delay(a, None).as_millis()).collect();
        assert_eq!(polls, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(TASK_POLL.delay(u32::MAX, None), Duration::from_secs(10), "no overflow");
    }
}
