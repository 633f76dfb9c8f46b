//! The requests-per-second limit, pure: each request reserves the next free slot, slots are
//! `1/rps` apart, and an idle spell earns no burst (a CDN's edge sees at most `rps` requests in
//! any second, not `2 × rps` after a pause).

use std::num::NonZeroU32;

/// Hands out start times at most `rps` a second.
#[derive(Debug)]
pub struct Pacer {
    /// Microseconds between two starts; 0 when unlimited.
    interval_us: i64,
    /// The first free slot, in microseconds on the caller's clock.
    next_us: i64,
}

impl Pacer {
    /// A pacer for `rps` requests a second (`None`: no limit).
    pub fn new(rps: Option<NonZeroU32>) -> Pacer {
        let interval_us = rps.map_or(0, |r| 1_000_000 / i64::from(r.get()));
        Pacer { interval_us, next_us: i64::MIN }
    }

    /// Reserve a slot for a request that wants to start at `now_ms`; returns how many
    /// milliseconds it must wait first (rounded up, so it never starts early).
    pub fn reserve(&mut self, now_ms: i64) -> u64 {
        if self.interval_us == 0 {
            return 0;
        }
        let now_us = now_ms.saturating_mul(1000);
        let slot = self.next_us.max(now_us);
        self.next_us = slot.saturating_add(self.interval_us);
        let wait_us = (slot - now_us) as u64;
        wait_us.div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(rps: u32) -> Pacer {
        Pacer::new(NonZeroU32::new(rps))
    }

    #[test]
    fn spaces_requests_one_interval_apart() {
        let mut p = pacer(20);
        let waits: Vec<u64> = (0..5).map(|_| p.reserve(1_000)).collect();
        assert_eq!(waits, [0, 50, 100, 150, 200]);
    }

    #[test]
    fn an_idle_spell_earns_no_burst() {
        let mut p = pacer(10);
        assert_eq!(p.reserve(0), 0);
        // Long after: the next one goes at once, the one after waits a full interval.
        assert_eq!(p.reserve(10_000), 0);
        assert_eq!(p.reserve(10_000), 100);
    }

    #[test]
    fn never_more_than_rps_in_any_second() {
        // 7 requests a second, asked for in irregular clumps: start times never put more than 7
        // in a window of 1000 ms.
        let mut p = pacer(7);
        let mut starts = Vec::new();
        for (i, now) in [0, 0, 0, 10, 10, 400, 400, 400, 400, 1_200, 1_200, 1_201, 5_000, 5_000].into_iter().enumerate() {
            starts.push(now + p.reserve(now) as i64);
            assert!(starts[i] >= now, "never early");
        }
        for (i, &s) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().take_while(|&&t| t < s + 1000).count();
            assert!(in_window <= 7, "{in_window} starts in the second after {s}: {starts:?}");
        }
    }

    #[test]
    fn rounds_waits_up_and_unlimited_never_waits() {
        let mut p = pacer(3); // 333.333 ms apart
        assert_eq!(p.reserve(0), 0);
        assert_eq!(p.reserve(0), 334);
        let mut u = Pacer::new(None);
        assert!((0..1000).all(|_| u.reserve(5) == 0));
    }
}
