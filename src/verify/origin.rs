//! Wait for the origin before purging (`[[domain]] origin`, issue 17 §2): a purge that reaches
//! the CDN before the origin has the new bytes makes the CDN re-cache the old ones. So before
//! purging, ask the origin itself (`GET http://10.0.0.5:8080/a.html` with `Host:` the domain)
//! for each changed file until it serves the new hash, backing off between rounds, up to
//! `origin_wait_secs`. What is still old then is returned as held back: the caller keeps those
//! purges owed (they are not lost) and purges them when a later run finds the origin ready.
//!
//! Decisions are pure ([`probe`], [`WaitPolicy::delay_after`]); [`wait_for_origin`] is the loop
//! that sends the requests through the [`Fetch`] seam and sleeps on the [`Clock`].

use std::time::Duration;

use serde::Serialize;

use super::fetch::{Fetch, FetchError, Method, Observed, Request};
use crate::clock::Clock;
use crate::model::ContentHash;

/// One changed file to look for on the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginItem {
    /// The CDN URL whose purge waits on this (what is reported and held back).
    pub url: String,
    /// Where the origin serves it (`http://10.0.0.5:8080/a.html`).
    pub origin_url: String,
    /// The `Host` header: the `[[domain]]` host.
    pub host: String,
    /// The deployed file's hash; `None` for a removed file (ready once the origin answers 404 or
    /// 410, or, when [`OriginItem::previous`] is known, once it no longer serves those bytes).
    pub expect: Option<ContentHash>,
    /// For a removed file: the bytes it had (an origin that now answers with a fallback page or
    /// a redirect is no longer serving them, and must not hold the purge back forever).
    pub previous: Option<ContentHash>,
}

impl OriginItem {
    /// The item for `cdn_url` on the origin `origin` (`http://host:port`, maybe with a path
    /// prefix); `None` when either is not an absolute http(s) URL.
    pub fn new(cdn_url: &str, origin: &str, host: &str, expect: Option<ContentHash>) -> Option<OriginItem> {
        Some(OriginItem { url: cdn_url.into(), origin_url: origin_url(origin, cdn_url)?, host: host.into(), expect, previous: None })
    }

    /// For a removed file: the bytes it had before.
    pub fn removed_from(mut self, previous: Option<ContentHash>) -> OriginItem {
        self.previous = previous;
        self
    }
}

/// The origin's URL for a CDN URL: the origin's scheme, address and path prefix, then the CDN
/// URL's path and query as they are (already encoded).
pub fn origin_url(origin: &str, cdn_url: &str) -> Option<String> {
    let o = reqwest::Url::parse(origin).ok()?;
    let c = reqwest::Url::parse(cdn_url).ok()?;
    let web = |u: &reqwest::Url| matches!(u.scheme(), "http" | "https") && u.host_str().is_some();
    if !web(&o) || !web(&c) || o.query().is_some() {
        return None;
    }
    let mut s = o.as_str().trim_end_matches('/').to_string();
    s.push_str(c.path());
    if let Some(q) = c.query() {
        s.push('?');
        s.push_str(q);
    }
    Some(s)
}

/// What one look at the origin says about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The origin serves the deployed version.
    Ready,
    /// Not yet: why.
    Old(String),
}

/// Read one origin answer, PURE. `previous`: for a removed file (`expect` `None`), the bytes it
/// had; then any answer but those bytes (or a 5xx) means the origin has let go of them.
pub fn probe(expect: Option<ContentHash>, previous: Option<ContentHash>, answer: &Result<Observed, FetchError>) -> Probe {
    let obs = match answer {
        Err(e) => return Probe::Old(format!("origin unreachable: {e}")),
        Ok(o) => o,
    };
    let body = obs.body.as_ref().map(|b| b.hash);
    match (expect, obs.status) {
        (None, 404 | 410) => Probe::Ready,
        (None, 200..=299) if previous.is_some() && matches!(body, Some(Some(h)) if Some(h) != previous) => Probe::Ready,
        (None, 300..=499) if previous.is_some() => Probe::Ready,
        (None, s) => Probe::Old(format!("origin still serves the removed file (HTTP {s})")),
        (Some(_), 404 | 410) => Probe::Old(format!("origin does not have the file yet (HTTP {})", obs.status)),
        (Some(want), 200..=299) => match body {
            Some(Some(h)) if h == want => Probe::Ready,
            Some(None) => Probe::Old("origin's answer is over the size cap".into()),
            _ => Probe::Old("origin still serves other bytes".into()),
        },
        (Some(_), s) => Probe::Old(format!("origin answers HTTP {s}")),
    }
}

/// How long to wait and how to space the looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Give up after this long (`origin_wait_secs`, default 120 s).
    pub limit: Duration,
    /// Pause after the first round; doubles each round.
    pub first_delay: Duration,
    /// No pause longer than this.
    pub max_delay: Duration,
}

impl WaitPolicy {
    /// Up to `limit`, pauses from 500 ms doubling to 10 s.
    pub fn new(limit: Duration) -> WaitPolicy {
        WaitPolicy { limit, first_delay: Duration::from_millis(500), max_delay: Duration::from_secs(10) }
    }

    /// After `rounds` rounds (≥ 1) and `elapsed` since the start, the pause before the next one;
    /// `None` when the time is up. The last pause is cut short so that one round happens at the
    /// limit itself.
    pub fn delay_after(&self, rounds: u32, elapsed: Duration) -> Option<Duration> {
        let left = self.limit.checked_sub(elapsed).filter(|d| !d.is_zero())?;
        let exp = self.first_delay.saturating_mul(1u32 << rounds.saturating_sub(1).min(20)).min(self.max_delay);
        Some(exp.min(left))
    }
}

/// A purge held back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The CDN URL not to purge yet.
    pub url: String,
    /// What the origin last said.
    pub reason: String,
}

/// Which purges may go, and which wait.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OriginReport {
    /// CDN URLs whose origin serves the new bytes: purge them.
    pub ready: Vec<String>,
    /// CDN URLs whose origin is still old: keep them owed.
    pub held: Vec<Held>,
    /// Rounds of requests sent.
    pub rounds: u32,
    /// How long it took, by the clock.
    pub waited_ms: u64,
}

impl OriginReport {
    /// Nothing held back.
    #[cfg(test)]
    pub fn all_ready(&self) -> bool {
        self.held.is_empty()
    }
}

/// Look at the origin for every item, round after round, until each serves its new version or
/// the policy's limit passes. Reported in the order of `items`.
pub async fn wait_for_origin<F: Fetch>(
    items: &[OriginItem],
    fetcher: &F,
    policy: &WaitPolicy,
    concurrency: usize,
    clock: &dyn Clock,
) -> OriginReport {
    let start = clock.now_ms();
    let mut ready = vec![false; items.len()];
    let mut reasons: Vec<String> = vec![String::new(); items.len()];
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        let reqs = pending.iter().map(|&i| Request { url: &items[i].origin_url, method: Method::Get, host: Some(&items[i].host) });
        super::fetch_all(fetcher, reqs, concurrency, None, clock, |k, answer| {
            let i = pending[k];
            match probe(items[i].expect, items[i].previous, &answer) {
                Probe::Ready => ready[i] = true,
                Probe::Old(why) => reasons[i] = why,
            }
        })
        .await;
        pending.retain(|&i| !ready[i]);
        if pending.is_empty() {
            break;
        }
        let elapsed = Duration::from_millis(clock.now_ms().saturating_sub(start).max(0) as u64);
        match policy.delay_after(rounds, elapsed) {
            Some(d) => clock.sleep(d).await,
            None => break,
        }
    }
    let mut report = OriginReport { rounds, waited_ms: clock.now_ms().saturating_sub(start).max(0) as u64, ..OriginReport::default() };
    for ((item, ok), reason) in items.iter().zip(ready).zip(reasons) {
        if ok {
            report.ready.push(item.url.clone());
        } else {
            report.held.push(Held { url: item.url.clone(), reason });
        }
    }
    report
}
