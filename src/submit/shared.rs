//! Rate slots: this engine's own sliding window ([`super::ratelimit`]) and, under `[fleet]`, the
//! window the whole fleet shares in Redis — the API's per-second limit belongs to the account,
//! not to one server (`docs/fleet.md`).
//!
//! A request takes its local slot first, then a fleet slot (waiting as the fleet says). If Redis
//! fails, this member stops asking it for the rest of the run and goes on with its own limit
//! alone (a warning says so): a few throttled answers, which are retried, are better than no
//! purge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ratelimit::{Ticket, SLACK};
use super::{RateRule, Submitter};
use crate::api::CdnApi;
use crate::fleet::{Coordinator, RateGrant, RateTicket};

/// The fleet's shared window, for one run.
pub struct FleetRate {
    coordinator: Arc<Coordinator>,
    /// Redis failed during this run: local limits only from now on.
    down: AtomicBool,
}

impl FleetRate {
    /// Share `coordinator`'s window.
    pub fn new(coordinator: Arc<Coordinator>) -> Self {
        FleetRate { coordinator, down: AtomicBool::new(false) }
    }
}

/// Slots held by one request.
pub(super) struct Slot {
    local: Ticket,
    fleet: Option<Vec<RateTicket>>,
}

impl RateRule {
    /// The most requests in a window, and the window as the local limiter counts it (slack
    /// included).
    fn window(self) -> (u32, Duration) {
        let (max, ms) = match self {
            RateRule::PerSecond(n) => (n, 1000.0),
            RateRule::PerMinute(n) => (n, 60_000.0),
        };
        (max.max(1), Duration::from_millis((ms * SLACK).round() as u64))
    }
}

impl<A: CdnApi> Submitter<'_, A> {
    /// Wait for a slot of `action`'s rate limit (this engine's, then the fleet's); hand it back
    /// with [`Self::rate_done`] when the request has its answer.
    pub(super) async fn rate_wait(&self, action: &'static str) -> Slot {
        let local = loop {
            let wait = {
                let mut limits = self.limits.lock().expect("rate limits");
                let rate = self.opts.rate;
                let b = limits.entry(action).or_insert_with(|| rate.limiter());
                b.try_take(self.clock.now_ms())
            };
            match wait {
                Ok(ticket) => break ticket,
                Err(ms) => self.clock.sleep(Duration::from_millis(ms)).await,
            }
        };
        Slot { local, fleet: self.fleet_slot(action).await }
    }

    async fn fleet_slot(&self, action: &'static str) -> Option<Vec<RateTicket>> {
        let f = self.fleet.as_ref().filter(|f| !f.down.load(Ordering::Relaxed))?;
        let (max, window) = self.opts.rate.window();
        loop {
            match f.coordinator.rate_take(action, 1, max, window).await {
                Ok(RateGrant::Granted(t)) => return Some(t),
                Ok(RateGrant::Wait(d)) => self.clock.sleep(d).await,
                Err(e) => {
                    if !f.down.swap(true, Ordering::Relaxed) {
                        tracing::warn!("{e}; this member keeps to its own rate limit for the rest of the run");
                    }
                    return None;
                }
            }
        }
    }

    /// The request has its answer (or failed): its slots count a window from now.
    pub(super) async fn rate_done(&self, action: &'static str, slot: Slot) {
        if let Some(b) = self.limits.lock().expect("rate limits").get_mut(action) {
            b.done(slot.local, self.clock.now_ms());
        }
        if let (Some(f), Some(t)) = (&self.fleet, slot.fleet) {
            if let Err(e) = f.coordinator.rate_done(action, t).await {
                if !f.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{e}; this member keeps to its own rate limit for the rest of the run");
                }
            }
        }
    }
}
