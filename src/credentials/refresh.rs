//! When to fetch temporary credentials again: a pure state machine driven by the time it is
//! given (no clock, no I/O), used by [`super::provider::Refreshing`].
//!
//! - Refresh a safe margin before `ExpiredTime`: the larger of 5 minutes (a request is signed
//!   with a timestamp the server accepts for 5 minutes, so a key must outlive its signatures) and
//!   a tenth of the credentials' lifetime, but never more than half of it.
//! - An early refresh that fails keeps the current credentials (still valid) and is tried again
//!   [`Refresher::RETRY_SECS`] later, so a flaky metadata service costs no purge.
//! - After [`Refresher::invalidate`] (the API said `AuthFailure.TokenFailure` or the signature
//!   expired) the cached credentials are never used again: the next request must fetch.

/// What to do before the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Use the cached credentials.
    Cached,
    /// Fetch new ones; if that fails, the cached ones are still good (not expired).
    RefreshEarly,
    /// Fetch: nothing usable is cached.
    Fetch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    Forever,
    Until { refresh_at: i64, expires_at: i64 },
}

/// The refresh policy's state.
#[derive(Clone, Debug)]
pub struct Refresher {
    held: Held,
    retry_at: Option<i64>,
}

impl Default for Refresher {
    fn default() -> Self {
        Self::new()
    }
}

impl Refresher {
    /// The least margin before `ExpiredTime` (seconds).
    pub const MARGIN_SECS: i64 = 300;
    /// After a failed early refresh, wait this long before the next try (seconds).
    pub const RETRY_SECS: i64 = 30;

    /// Nothing fetched yet.
    pub fn new() -> Self {
        Refresher { held: Held::Nothing, retry_at: None }
    }

    /// What to do at `now` (Unix seconds).
    pub fn need(&self, now: i64) -> Need {
        match self.held {
            Held::Nothing => Need::Fetch,
            Held::Forever => Need::Cached,
            Held::Until { expires_at, .. } if now >= expires_at => Need::Fetch,
            Held::Until { refresh_at, .. } if now >= refresh_at && self.retry_at.is_none_or(|r| now >= r) => Need::RefreshEarly,
            Held::Until { .. } => Need::Cached,
        }
    }

    /// Credentials were fetched at `now`, expiring at `expires_at` (`None`: never).
    pub fn fetched(&mut self, now: i64, expires_at: Option<i64>) {
        self.retry_at = None;
        self.held = match expires_at {
            None => Held::Forever,
            Some(expires_at) => {
                let life = (expires_at - now).max(0);
                let margin = (life / 10).max(Self::MARGIN_SECS).min(life / 2);
                Held::Until { refresh_at: expires_at - margin, expires_at }
            }
        };
    }

    /// A fetch failed at `now`.
    pub fn failed(&mut self, now: i64) {
        self.retry_at = Some(now + Self::RETRY_SECS);
    }

    /// The API refused the cached credentials: fetch before the next request.
    pub fn invalidate(&mut self) {
        self.held = Held::Nothing;
        self.retry_at = None;
    }

    /// When the next early refresh is due (for status and tests).
    pub fn refresh_at(&self) -> Option<i64> {
        match self.held {
            Held::Until { refresh_at, .. } => Some(refresh_at),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn fetch_first_then_cache_until_the_margin() {
        let mut r = Refresher::new();
        assert_eq!(r.need(T0), Need::Fetch);
        r.fetched(T0, Some(T0 + 7200));
        // Two hours: a tenth (720 s) is more than 5 minutes.
        assert_eq!(r.refresh_at(), Some(T0 + 7200 - 720));
        assert_eq!(r.need(T0 + 7200 - 721), Need::Cached);
        assert_eq!(r.need(T0 + 7200 - 720), Need::RefreshEarly);
        assert_eq!(r.need(T0 + 7200), Need::Fetch, "expired: nothing usable");
    }

    #[test]
    fn short_lives_keep_five_minutes_or_half() {
        let mut r = Refresher::new();
        r.fetched(T0, Some(T0 + 1800));
        assert_eq!(r.refresh_at(), Some(T0 + 1800 - 300));
        r.fetched(T0, Some(T0 + 120));
        assert_eq!(r.refresh_at(), Some(T0 + 60), "never refresh at once, forever");
        assert_eq!(r.need(T0 + 59), Need::Cached);
    }

    #[test]
    fn failed_early_refresh_waits_then_tries_again() {
        let mut r = Refresher::new();
        r.fetched(T0, Some(T0 + 7200));
        let due = r.refresh_at().unwrap();
        assert_eq!(r.need(due), Need::RefreshEarly);
        r.failed(due);
        assert_eq!(r.need(due + 1), Need::Cached);
        assert_eq!(r.need(due + Refresher::RETRY_SECS), Need::RefreshEarly);
        assert_eq!(r.need(T0 + 7200), Need::Fetch, "a retry wait never outlives the credentials");
        r.fetched(due + 40, Some(due + 40 + 7200));
        assert_eq!(r.need(due + 41), Need::Cached);
    }

    #[test]
    fn invalidate_forces_a_fetch_even_long_before_expiry() {
        let mut r = Refresher::new();
        r.fetched(T0, Some(T0 + 7200));
        r.invalidate();
        assert_eq!(r.need(T0 + 1), Need::Fetch);
    }

    #[test]
    fn long_term_keys_never_refresh() {
        let mut r = Refresher::new();
        r.fetched(T0, None);
        assert_eq!(r.need(i64::MAX), Need::Cached);
    }
}
