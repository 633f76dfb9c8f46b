//! A token bucket, pure: every method takes `now`.

/// The share of a per-second limit the client uses (see [`TokenBucket::per_second`]): 20/s
/// becomes one request every 52.6 ms, leaving about 50 ms of jitter tolerance per second.
pub const SLACK: f64 = 0.95;

/// Allows `rate` events per second with bursts of at most `burst`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_per_ms: f64,
    burst: f64,
    tokens: f64,
    last_ms: Option<i64>,
}

impl TokenBucket {
    /// A bucket for `per_second` events a second. A burst of one keeps any one-second window
    /// at or under `per_second`, as the API counts; the pace is [`SLACK`] below the limit, because
    /// requests sent exactly 1000 ms / `per_second` apart arrive with jitter, and any request
    /// overtaking an earlier one would put 21 into some second at the server.
    pub fn per_second(per_second: f64) -> Self {
        Self::new(per_second * SLACK / 1000.0, 1.0)
    }

    /// `per_minute` events a minute (the legacy API's 100/min), with the same [`SLACK`].
    pub fn per_minute(per_minute: f64) -> Self {
        Self::new(per_minute * SLACK / 60_000.0, 1.0)
    }

    /// A bucket refilling `rate_per_ms` tokens a millisecond, holding at most `burst`.
    pub fn new(rate_per_ms: f64, burst: f64) -> Self {
        TokenBucket { rate_per_ms, burst, tokens: burst, last_ms: None }
    }

    /// Take a token at `now_ms`, or say how many milliseconds to wait for one.
    pub fn try_take(&mut self, now_ms: i64) -> Result<(), u64> {
        if let Some(last) = self.last_ms {
            // A clock that went backwards refills nothing rather than panicking.
            let elapsed = (now_ms - last).max(0) as f64;
            self.tokens = (self.tokens + elapsed * self.rate_per_ms).min(self.burst);
        }
        self.last_ms = Some(now_ms.max(self.last_ms.unwrap_or(now_ms)));
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.rate_per_ms - 1e-6).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_per_second() {
        let mut b = TokenBucket::per_second(20.0);
        assert_eq!(b.try_take(0), Ok(()));
        assert_eq!(b.try_take(0), Err(53));
        assert_eq!(b.try_take(52), Err(1));
        assert_eq!(b.try_take(53), Ok(()));
        // Simulate a steady caller: never more than 20 in any 1000 ms window.
        let mut b = TokenBucket::per_second(20.0);
        let mut t = 0i64;
        let mut times = Vec::new();
        while times.len() < 100 {
            match b.try_take(t) {
                Ok(()) => times.push(t),
                Err(w) => t += w as i64,
            }
        }
        for (i, &s) in times.iter().enumerate() {
            // Even if each request arrived up to 45 ms late and the next on time, a second holds 20.
            let in_window = times[i..].iter().take_while(|&&x| x < s + 1000 + 45).count();
            assert!(in_window <= 20, "{in_window} requests in the second after {s}");
        }
        assert!(times[99] <= 99 * 53, "the bucket should not be much slower than the limit: {}", times[99]);
    }

    #[test]
    fn per_minute_and_backwards_clock() {
        let mut b = TokenBucket::per_minute(100.0);
        assert_eq!(b.try_take(1000), Ok(()));
        assert_eq!(b.try_take(1000), Err(632));
        assert!(b.try_take(10).is_err());
        assert_eq!(b.try_take(1632), Ok(()));
    }
}
