//! A sliding-window rate limiter, pure: every method takes `now`.
//!
//! The API counts calls per action in a window ("20 requests per second"; the legacy API's
//! "100 per minute"). The limiter mirrors that count on the client: at most `max` requests in any
//! window, the window being [`SLACK`] longer than the API's. So a large submission sends the
//! first 20 requests at once and the next 20 as soon as the first leave the window, which is the
//! best the limit allows (a steady pace of one request every 1/20 s would lose the first second),
//! and the client's window being longer absorbs network jitter: a request may arrive up to 5% of
//! a window early relative to the one it follows (50 ms a second) and the API still counts 20.

use std::collections::VecDeque;

/// How much longer the client's window is than the API's (1.05: 1050 ms for "a second").
pub const SLACK: f64 = 1.05;

/// At most `max` events in any window of `window_ms`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    window_ms: i64,
    max: usize,
    /// When the events still inside the window happened, oldest first.
    sent: VecDeque<i64>,
}

impl RateLimit {
    /// `per_second` requests a second, as the API counts them (with [`SLACK`]).
    pub fn per_second(per_second: u32) -> Self {
        Self::new(per_second as usize, (1000.0 * SLACK).round() as i64)
    }

    /// `per_minute` requests a minute (the legacy API's 100/min), with the same [`SLACK`].
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(per_minute as usize, (60_000.0 * SLACK).round() as i64)
    }

    /// At most `max` (at least 1) events in any `window_ms`.
    pub fn new(max: usize, window_ms: i64) -> Self {
        RateLimit { window_ms: window_ms.max(1), max: max.max(1), sent: VecDeque::new() }
    }

    /// Take a slot at `now_ms`, or say how many milliseconds to wait for one.
    pub fn try_take(&mut self, now_ms: i64) -> Result<(), u64> {
        // A clock that went backwards counts as standing still: the window never shrinks.
        let now = self.sent.back().map_or(now_ms, |&last| now_ms.max(last));
        while self.sent.front().is_some_and(|&t| t <= now - self.window_ms) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.max {
            self.sent.push_back(now);
            Ok(())
        } else {
            let oldest = *self.sent.front().expect("a full window holds events");
            Err((oldest + self.window_ms - now).max(1) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive a limiter as the submitter does: take, or sleep as told and try again.
    fn steady(mut b: RateLimit, n: usize) -> Vec<i64> {
        let mut t = 0i64;
        let mut times = Vec::new();
        while times.len() < n {
            match b.try_take(t) {
                Ok(()) => times.push(t),
                Err(w) => t += w as i64,
            }
        }
        times
    }

    #[test]
    fn twenty_per_second() {
        let mut b = RateLimit::per_second(20);
        for _ in 0..20 {
            assert_eq!(b.try_take(0), Ok(()), "the first 20 go at once");
        }
        assert_eq!(b.try_take(0), Err(1050));
        assert_eq!(b.try_take(1049), Err(1));
        assert_eq!(b.try_take(1050), Ok(()));

        let times = steady(RateLimit::per_second(20), 200);
        for (i, &s) in times.iter().enumerate() {
            // Even if each request arrived up to 45 ms late and the next on time, a second holds 20.
            let in_window = times[i..].iter().take_while(|&&x| x < s + 1000 + 45).count();
            assert!(in_window <= 20, "{in_window} requests in the second after {s}");
        }
        // 200 requests: ten windows of 20, the last starting after nine windows.
        assert_eq!(times[199], 9 * 1050, "no slower than the limit needs");
    }

    #[test]
    fn per_minute_and_backwards_clock() {
        let mut b = RateLimit::per_minute(100);
        for _ in 0..100 {
            assert_eq!(b.try_take(1000), Ok(()));
        }
        assert_eq!(b.try_take(1000), Err(63_000));
        assert_eq!(b.try_take(10), Err(63_000), "an earlier time waits as long as the latest seen");
        assert_eq!(b.try_take(64_000), Ok(()));
        let times = steady(RateLimit::per_minute(100), 250);
        assert_eq!((times[99], times[100], times[249]), (0, 63_000, 126_000));
    }
}
