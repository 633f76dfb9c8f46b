//! One account, shared limits: the API's per-action rate window and its daily quotas are the
//! account's, so the whole fleet counts them in Redis.
//!
//! - Rate: `<ns>:rate:<action>` is a sorted set of tickets scored by when each request was done
//!   (while in flight: taken + 60 s, in case its member dies), the same rule as the local
//!   limiter in `submit/ratelimit.rs`: a request counts from when it is sent until a window after
//!   its answer. [`Coordinator::rate_take`] takes N slots at once or says how long to wait.
//! - Quota: `<ns>:quota:<day>:<kind>:<area>` counts what the fleet spent on the China-time
//!   quota day (Tencent's quotas reset at 00:00 CST), and expires two days later.

use std::time::Duration;

use super::error::FleetError;
use super::link::{evalsha, int, list, texts};
use super::scripts::Lua;
use super::Coordinator;
use crate::clock::quota_day;
use crate::model::{Area, JobKind};

/// How long a taken slot counts while its request has not reported back (its member may have
/// died): longer than any request's timeout.
const IN_FLIGHT_MS: i64 = 60_000;

/// How soon to ask again when every slot is held by a request still in flight.
const IN_FLIGHT_POLL_MS: i64 = 50;

/// A request slot taken from the shared window: hand it back with [`Coordinator::rate_done`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a ticket not handed back keeps its slot for a minute"]
pub struct RateTicket(String);

/// The answer of [`Coordinator::rate_take`].
#[derive(Debug, PartialEq, Eq)]
pub enum RateGrant {
    /// The slots: send the requests.
    Granted(Vec<RateTicket>),
    /// Not enough free slots: ask again after this long.
    Wait(Duration),
}

/// What [`Coordinator::quota_spend`] granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaSpend {
    /// Units granted (≤ asked; 0 when the day's quota is used up).
    pub granted: u64,
    /// Units the fleet has spent today, these included.
    pub used: u64,
}

impl Coordinator {
    /// Take `n` slots of `action`'s shared window (at most `max` requests per `window`, as the
    /// API counts them: pass the local limiter's window, slack included), all or none.
    pub async fn rate_take(&self, action: &str, n: u32, max: u32, window: Duration) -> Result<RateGrant, FleetError> {
        if n == 0 || n > max {
            return Err(FleetError::Invalid(format!("rate_take {action}: {n} slots of a window of {max}")));
        }
        let mut pipe = redis::pipe();
        let mut cmd = evalsha(Lua::RateTake, &[self.rate_key(action)?, self.key("rate-seq")]);
        cmd.arg(&self.settings.member).arg(self.now()).arg(n).arg(max).arg(window.as_millis() as i64);
        cmd.arg(IN_FLIGHT_MS).arg(IN_FLIGHT_POLL_MS).arg(self.state_gc_ms());
        pipe.add_command(cmd);
        let answers = self.link.exec("rate_take", &pipe).await?;
        let bad = || self.link.protocol("rate_take", format!("answer {:?}", answers[0]));
        let parts = list(&answers[0]).filter(|p| p.len() == 2).ok_or_else(bad)?;
        let wait = int(&parts[0]).ok_or_else(bad)?;
        let tickets = texts(&parts[1]).ok_or_else(bad)?;
        Ok(match wait {
            0 if tickets.len() == n as usize => RateGrant::Granted(tickets.into_iter().map(RateTicket).collect()),
            w if w > 0 => RateGrant::Wait(Duration::from_millis(w as u64)),
            _ => return Err(bad()),
        })
    }

    /// These requests got their answers (or failed): each slot frees a window from now.
    pub async fn rate_done(&self, action: &str, tickets: Vec<RateTicket>) -> Result<(), FleetError> {
        if tickets.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut cmd = evalsha(Lua::RateDone, &[self.rate_key(action)?]);
        cmd.arg(self.now());
        for t in tickets {
            cmd.arg(t.0);
        }
        pipe.add_command(cmd);
        self.link.exec("rate_done", &pipe).await?;
        Ok(())
    }

    /// Spend up to `n` units of today's `limit` for (kind, area): returns what was granted.
    pub async fn quota_spend(&self, kind: JobKind, area: Area, n: u64, limit: u64) -> Result<QuotaSpend, FleetError> {
        let (granted, used) = self.quota_op("quota_spend", kind, area, "spend", n, limit).await?;
        Ok(QuotaSpend { granted, used })
    }

    /// Give back `n` units spent today (the API refused the job). Returns today's spend.
    pub async fn quota_refund(&self, kind: JobKind, area: Area, n: u64) -> Result<u64, FleetError> {
        Ok(self.quota_op("quota_refund", kind, area, "refund", n, 0).await?.1)
    }

    /// The API says `available` of `limit` are left today: spend at least `limit - available`
    /// (others outside the fleet spend the same account's quota). Returns today's spend.
    pub async fn quota_observe(&self, kind: JobKind, area: Area, available: u64, limit: u64) -> Result<u64, FleetError> {
        Ok(self.quota_op("quota_observe", kind, area, "observe", available, limit).await?.1)
    }

    /// Units the fleet spent today for (kind, area).
    pub async fn quota_used(&self, kind: JobKind, area: Area) -> Result<u64, FleetError> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(self.quota_key(kind, area));
        let answers = self.link.exec("quota_used", &pipe).await?;
        match &answers[0] {
            redis::Value::Nil => Ok(0),
            v => int(v).and_then(|u| u64::try_from(u).ok()).ok_or_else(|| self.link.protocol("quota_used", format!("answer {v:?}"))),
        }
    }

    async fn quota_op(&self, op: &'static str, kind: JobKind, area: Area, what: &str, a: u64, b: u64) -> Result<(u64, u64), FleetError> {
        let mut pipe = redis::pipe();
        let mut cmd = evalsha(Lua::Quota, &[self.quota_key(kind, area)]);
        cmd.arg(what).arg(a).arg(b).arg(2 * 86_400_000i64);
        pipe.add_command(cmd);
        let answers = self.link.exec(op, &pipe).await?;
        let bad = || self.link.protocol(op, format!("answer {:?}", answers[0]));
        let parts = list(&answers[0]).filter(|p| p.len() == 2).ok_or_else(bad)?;
        let num = |v| int(v).and_then(|x| u64::try_from(x).ok()).ok_or_else(bad);
        Ok((num(&parts[0])?, num(&parts[1])?))
    }

    fn rate_key(&self, action: &str) -> Result<String, FleetError> {
        if action.is_empty() || action.len() > 64 || !action.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            return Err(FleetError::Invalid(format!("rate action {action:?}: use 1 to 64 of A-Z a-z 0-9 _ .")));
        }
        Ok(self.key(&format!("rate:{action}")))
    }

    fn quota_key(&self, kind: JobKind, area: Area) -> String {
        self.key(&format!("quota:{}:{}:{}", quota_day(self.now().div_euclid(1000)), kind.as_str(), area.as_str()))
    }
}
