//! Fleet mode: many origin servers behind one CDN, coordinated through Redis, so that each
//! change is purged once for the whole fleet, and not before every origin serves it.
//!
//! Redis is a coordinator, not the source of truth: each member keeps its own manifest and
//! outbox. When Redis cannot be reached every call fails with [`FleetError::Unavailable`] and
//! the member purges on its own (duplicates possible, nothing lost), rejoining on a later call:
//! the link reconnects by itself. `docs/fleet.md` tells the model as a sequence.
//!
//! # The engine's calls, per sync
//! 1. [`Coordinator::join`] (heartbeat; in `watch`, also every third of the heartbeat TTL). If
//!    [`Joined::needs_full_publish`], [`Coordinator::publish_full`] every tracked path.
//! 2. After the scan and diff: [`Coordinator::publish_served`] the changed paths (the new hash,
//!    or removed; [`Served::Excluded`] for paths this member's rules skip).
//! 3. [`Coordinator::due`] for each changed (path, content): `due` and `forced` go on (warn for
//!    forced, naming the laggards); `held` wait — keep them owed locally and ask again by
//!    `until_ms` (watch: a timer; sync: wait up to that or leave them owed for the next run).
//! 4. [`Coordinator::repurges`]: purges owed again after a forced one. Take up those whose
//!    content still matches this member's manifest (a newer version brings its own purge).
//! 5. Map paths to URL/directory/prefetch [`Item`]s (with the round from steps 3–4) and
//!    [`Coordinator::claim`] them. Write the [`Claim::is_mine`] ones to the outbox first; then
//!    [`Coordinator::settle`] the re-purges (and due items with round ≥ 1) now in the outbox.
//!    Skip [`Claim::Submitted`]; [`Claim::Held`] items are another member's — ask again after
//!    the lease (it takes over if that member died).
//! 6. Submit as today, taking slots with [`Coordinator::rate_take`] / [`Coordinator::rate_done`]
//!    and units with [`Coordinator::quota_spend`] (refund on refusal). While sending, claim the
//!    items again every third of the lease (renewal). After the API accepts:
//!    [`Coordinator::submitted`]. Items deferred or dropped: [`Coordinator::release`].
//! 7. Report the deploy with the next [`Coordinator::join`]; `status` shows
//!    [`Coordinator::members`].
//!
//! Any [`FleetError::Unavailable`] on the way: finish this sync solo (everything still owed is
//! purged by this member alone) and say so. Other errors are bugs or misconfiguration: report.
//!
//! # Time
//! Every timestamp in Redis comes from the members' [`Clock`] (logical ms) and every expiry is
//! decided by comparing them in the scripts, so tests drive leases and TTLs with a
//! [`crate::clock::ManualClock`]; Redis' own key expiry only collects garbage, long after.
//! Members' clocks must agree to well within the lease and heartbeat TTL (NTP).
//!
//! # Round trips
//! Each call is one pipeline: one round trip for any batch (script calls of [`CHUNK`] items),
//! plus one for [`Coordinator::due`] when it records a forced purge, plus one per new
//! connection (loading the scripts). [`Coordinator::round_trips`] counts them.

mod barrier;
mod claims;
mod error;
mod gate;
mod limits;
mod link;
mod members;
mod scripts;
mod settings;

use std::sync::Arc;

pub use barrier::{Content, Served};
pub use claims::{Claim, Item};
pub use error::FleetError;
pub use gate::{DueItem, DueReport, ForcedItem, HeldItem, Repurge};
pub use limits::{QuotaSpend, RateGrant, RateTicket};
pub use members::{Deploy, Joined, Member};
pub use settings::{default_member, CaPem, FleetSettings, Password, PasswordSource, RedisUrl, PASSWORD_ENV};

use crate::clock::Clock;

/// Items per script call: keeps each call short (Redis runs one script at a time) while a
/// pipeline carries any number of them in one round trip.
pub const CHUNK: usize = 1000;

/// A member's handle on the fleet. Cheap to share (`Arc`); every call is one round trip.
pub struct Coordinator {
    settings: FleetSettings,
    ns: String,
    clock: Arc<dyn Clock>,
    link: link::Link,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Coordinator {
    /// A coordinator for `settings` on `clock`. Checks the settings; connects on first call.
    pub fn new(settings: FleetSettings, clock: Arc<dyn Clock>) -> Result<Self, FleetError> {
        settings.check()?;
        let link = link::Link::new(&settings)?;
        Ok(Coordinator { ns: settings.namespace(), settings, clock, link })
    }

    /// The settings.
    pub fn settings(&self) -> &FleetSettings {
        &self.settings
    }

    /// Round trips to Redis so far (pipelines sent, including script loads on new connections).
    pub fn round_trips(&self) -> u64 {
        self.link.round_trips()
    }

    /// Connections made so far (more than one: Redis went away and came back).
    pub fn connects(&self) -> u64 {
        self.link.connects()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.ns)
    }

    fn ms(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    fn ttl_ms(&self) -> i64 {
        Self::ms(self.settings.heartbeat_ttl)
    }

    fn timeout_ms(&self) -> i64 {
        Self::ms(self.settings.barrier_timeout)
    }

    /// Real expiry of barrier records: retention + barrier timeout.
    fn bar_gc_ms(&self) -> i64 {
        Self::ms(self.settings.retention + self.settings.barrier_timeout)
    }

    /// Real expiry of membership, served maps and forced records: a week of retention spans.
    fn state_gc_ms(&self) -> i64 {
        Self::ms(self.settings.retention * 7)
    }

    /// Real expiry of a claim: retention + lease.
    fn claim_gc_ms(&self) -> i64 {
        Self::ms(self.settings.retention + self.settings.lease)
    }

    /// Real expiry of a submitted marker: retention + barrier timeout.
    fn done_gc_ms(&self) -> i64 {
        Self::ms(self.settings.retention + self.settings.barrier_timeout)
    }
}
