//! A sliding-window rate limiter, pure: every method takes `now`.
//!
//! The API counts calls per action in a window ("20 requests per second"; the legacy API's
//! "100 per minute"), by when each call reaches it. The client cannot see that instant, but it
//! knows a bound: a call reached the API before its answer came back. So the limiter counts each
//! request from the moment it is sent until a full window after its answer (or failure). Then
//! the API never sees more than `max` calls in one of its windows, however the network delays
//! them (a first request held up by a TLS handshake, a later one on a warm connection), and a
//! large submission still goes as fast as the limit allows: 20 at once, then 20 more as each
//! window ends, instead of a steady trickle that wastes the first second.

/// How much longer the client's window is than the API's (1.01: 1010 ms for "a second"), for
/// the two clocks' rounding to the millisecond.
pub const SLACK: f64 = 1.01;

/// At most `max` requests in any window of `window_ms`, each counted from when it is sent until
/// `window_ms` after it is [done](RateLimit::done).
#[derive(Clone, Debug)]
pub struct RateLimit {
    window_ms: i64,
    max: usize,
    /// The requests still counted: their ticket, and when they were done (`None`: in flight).
    slots: Vec<(u64, Option<i64>)>,
    next_ticket: u64,
    /// The latest time seen: a clock that goes backwards counts as standing still.
    latest: i64,
}

/// One request counted by a [`RateLimit`]: hand it back with [`RateLimit::done`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a ticket not handed back keeps its slot taken"]
pub struct Ticket(u64);

/// How long to wait while every slot is held by a request still in flight (its answer frees it).
const IN_FLIGHT_POLL_MS: u64 = 10;

impl RateLimit {
    /// `per_second` requests a second, as the API counts them (with [`SLACK`]).
    pub fn per_second(per_second: u32) -> Self {
        Self::new(per_second as usize, (1000.0 * SLACK).round() as i64)
    }

    /// `per_minute` requests a minute (the legacy API's 100/min), with the same [`SLACK`].
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(per_minute as usize, (60_000.0 * SLACK).round() as i64)
    }

    /// At most `max` (at least 1) requests in any `window_ms`.
    pub fn new(max: usize, window_ms: i64) -> Self {
        RateLimit { window_ms: window_ms.max(1), max: max.max(1), slots: Vec::new(), next_ticket: 0, latest: i64::MIN }
    }

    fn seen(&mut self, now_ms: i64) -> i64 {
        self.latest = self.latest.max(now_ms);
        self.latest
    }

    /// Take a slot at `now_ms` to send a request, or say how many milliseconds to wait for one.
    pub fn try_take(&mut self, now_ms: i64) -> Result<Ticket, u64> {
        let now = self.seen(now_ms);
        let window = self.window_ms;
        self.slots.retain(|(_, done)| done.is_none_or(|t| t > now - window));
        if self.slots.len() < self.max {
            self.next_ticket += 1;
            self.slots.push((self.next_ticket, None));
            return Ok(Ticket(self.next_ticket));
        }
        let first_free = self.slots.iter().filter_map(|(_, done)| done.map(|t| t + window - now)).min();
        Err(first_free.map_or(IN_FLIGHT_POLL_MS, |ms| ms.max(1) as u64))
    }

    /// The request of `ticket` got its answer (or failed) at `now_ms`: it leaves the count a
    /// window later.
    pub fn done(&mut self, ticket: Ticket, now_ms: i64) {
        let now = self.seen(now_ms);
        if let Some(slot) = self.slots.iter_mut().find(|(t, _)| *t == ticket.0) {
            slot.1 = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive a limiter as the submitter does: take a slot, or sleep as told and try again; each
    /// request is answered `latency` ms after it is sent (before the next is tried).
    fn steady(mut b: RateLimit, n: usize, latency: i64) -> Vec<(i64, i64)> {
        let mut t = 0i64;
        let mut sent = Vec::new();
        while sent.len() < n {
            match b.try_take(t) {
                Ok(ticket) => {
                    b.done(ticket, t + latency);
                    sent.push((t, t + latency));
                }
                Err(w) => t += w as i64,
            }
        }
        sent
    }

    #[test]
    fn twenty_per_second() {
        let mut b = RateLimit::per_second(20);
        let tickets: Vec<Ticket> = (0..20).map(|_| b.try_take(0).expect("the first 20 go at once")).collect();
        assert_eq!(b.try_take(0), Err(IN_FLIGHT_POLL_MS), "all 20 in flight: poll");
        for t in tickets {
            b.done(t, 30);
        }
        assert_eq!(b.try_take(40), Err(1000), "a window after the answers");
        assert_eq!(b.try_take(1039), Err(1));
        assert!(b.try_take(1040).is_ok());

        // 200 requests answered instantly: ten windows of 20, the last after nine windows.
        let sent = steady(RateLimit::per_second(20), 200, 0);
        assert_eq!(sent[199].0, 9 * 1010, "no slower than the limit needs");
    }

    #[test]
    fn the_api_never_counts_more_than_its_limit_whatever_the_latency() {
        // Each request reaches the API at some instant between its sending and its answer: take
        // the worst case, the earliest of each window arriving as late as possible and the rest
        // as early as possible.
        for latency in [0, 1, 45, 300, 2500] {
            let sent = steady(RateLimit::per_second(20), 120, latency);
            for (i, &(_, answered)) in sent.iter().enumerate() {
                let in_window = sent[i + 1..].iter().take_while(|(s, _)| *s < answered + 1000).count() + 1;
                assert!(in_window <= 20, "latency {latency}: {in_window} requests in the API's second after {answered}");
            }
        }
    }

    #[test]
    fn per_minute_and_backwards_clock() {
        let mut b = RateLimit::per_minute(100);
        for _ in 0..100 {
            let t = b.try_take(1000).unwrap();
            b.done(t, 1000);
        }
        assert_eq!(b.try_take(1000), Err(60_600));
        assert_eq!(b.try_take(10), Err(60_600), "an earlier time waits as long as the latest seen");
        assert!(b.try_take(61_600).is_ok());
        let sent = steady(RateLimit::per_minute(100), 250, 0);
        assert_eq!((sent[99].0, sent[100].0, sent[249].0), (0, 60_600, 121_200));
    }
}
