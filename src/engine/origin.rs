//! The origin wait in a sync (`[[domain]] origin`, `docs/config.md`): before jobs go out, ask
//! each domain's origin whether it serves the new bytes of every URL they carry; send what is
//! ready, and hold the rest back in the outbox — owed, never dropped.
//!
//! How a held URL is kept: its job stays in the outbox as `pending`, with the job error
//! `OriginNotReady` saying what the origin last answered. A job whose URLs are partly ready is
//! split first (the ready part becomes a job of its own, persisted before the held part is
//! rewritten, so a crash in between can only purge a URL twice, never lose one). Every later
//! sync — the next `cdnsync sync`, or `watch`'s background retry of pending jobs — runs owed jobs
//! through this gate again and sends them once their origin is ready. What to expect of a URL is
//! read from the current tree when the gate runs, so a file changed again meanwhile is waited
//! for in its newest version.
//!
//! The looking and waiting is [`crate::verify::origin`]; this file decides which files each job
//! waits for and does the splitting.

use std::collections::HashMap;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::scanned::Scanned;
use super::Engine;
use crate::api::CdnApi;
use crate::config::Domain;
use crate::error::{Error, Result};
use crate::model::{ContentHash, Job, JobError, JobKind, JobStatus};
use crate::plan::rules::Rules;
use crate::state::outbox::Outbox;
use crate::verify::fetch::{FetchOptions, HttpFetcher};
use crate::verify::origin::{wait_for_origin, OriginItem, OriginReport, WaitPolicy};

/// The job error of a job held back for its origin.
pub const ORIGIN_NOT_READY: &str = "OriginNotReady";
/// A folder purge owed from an earlier run waits for at most this many of the most recently
/// modified files under it (the ones a deploy most likely just wrote).
pub const DIR_SAMPLE: usize = 64;
/// Held URLs named one by one in the run's notes; the rest are counted.
const NOTE_URLS: usize = 10;

/// What the origin should serve for a URL: these bytes, or nothing (a removed file).
type Expect = Option<ContentHash>;

/// The publish-dir paths a URL of domain `d` may stand for (the file, or an index file of a
/// folder URL), PURE. Empty when the URL is not under the domain's base.
pub(super) fn paths_of(rules: &Rules, d: usize, dom: &Domain, url: &str) -> Vec<String> {
    let Some(rest) = url.strip_prefix(rules.base(d)) else { return Vec::new() };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let Ok(path) = percent_decode_str(rest).decode_utf8() else { return Vec::new() };
    let path = path.trim_end_matches('/');
    let join = |dir: &str, f: &str| if dir.is_empty() { f.to_string() } else { format!("{dir}/{f}") };
    let mut out = Vec::new();
    if !rest.is_empty() && !rest.ends_with('/') {
        out.push(path.to_string());
    }
    out.extend(dom.index_files.iter().map(|f| join(path, f)));
    out
}

/// The domain a URL of `host` belongs to: the one whose base it starts with (the longest, when
/// several domains share the host under different `base_path`s).
fn domain_of(rules: &Rules, host: &str, url: &str) -> Option<usize> {
    (0..rules.domains.len())
        .filter(|&d| rules.domains[d].host == host && url.starts_with(rules.base(d)))
        .max_by_key(|&d| rules.base(d).len())
}

/// What the origin should serve for `url`, if cdnsync knows (PURE): the current tree's bytes
/// for a tracked file; for a file this run removed, no longer its `previous` bytes (returned
/// too); `None` for a URL it does not track.
fn expect_url(rules: &Rules, d: usize, dom: &Domain, url: &str, s: &Scanned, removed: &[String]) -> Option<(Expect, Option<ContentHash>)> {
    let paths = paths_of(rules, d, dom, url);
    if let Some(m) = paths.iter().find_map(|p| s.current.snapshot.get(p)) {
        return Some((Some(m.hash), None));
    }
    let gone = paths.iter().find(|p| removed.binary_search(p).is_ok())?;
    Some((None, previous_hash(s, gone)))
}

/// The hash a file had before this run.
fn previous_hash(s: &Scanned, path: &str) -> Option<ContentHash> {
    s.previous.as_ref().and_then(|m| m.snapshot.get(path)).map(|m| m.hash)
}

/// The files a folder purge waits for (PURE): this run's changes under the folder, else the
/// [`DIR_SAMPLE`] most recently modified tracked files under it.
fn dir_files(rules: &Rules, d: usize, dir_url: &str, s: &Scanned) -> Vec<(String, Expect, Option<ContentHash>)> {
    let Some(rest) = dir_url.strip_prefix(rules.base(d)) else { return Vec::new() };
    let Ok(dir) = percent_decode_str(rest).decode_utf8() else { return Vec::new() };
    let prefix = dir.as_ref();
    let under = |p: &str| p.starts_with(prefix) && rules.serves(d, p);
    let c = &s.changes;
    let mut files: Vec<(String, Expect, Option<ContentHash>)> = c
        .added
        .iter()
        .chain(&c.modified)
        .filter(|p| under(p))
        .filter_map(|p| Some((p.clone(), Some(s.current.snapshot.get(p)?.hash), None)))
        .chain(c.removed.iter().filter(|p| under(p)).map(|p| (p.clone(), None, previous_hash(s, p))))
        .collect();
    if files.is_empty() {
        let mut tracked: Vec<(&str, i64, ContentHash)> =
            s.current.snapshot.iter().filter(|(p, _)| under(p)).map(|(p, m)| (p, m.mtime_ns, m.hash)).collect();
        tracked.sort_by_key(|(_, mtime, _)| std::cmp::Reverse(*mtime));
        files = tracked.into_iter().take(DIR_SAMPLE).map(|(p, _, h)| (p.to_string(), Some(h), None)).collect();
    }
    files
}

/// One job's wait: the origin items (by index into the gate's list) each of its URLs needs.
struct Waits {
    /// Per URL of the job: the items it needs (empty: nothing to wait for).
    per_url: Vec<Vec<usize>>,
}

impl<A: CdnApi> Engine<A> {
    /// Hold back what the origin does not serve yet. Returns the jobs to send now and the jobs
    /// held (already persisted as pending, with the error [`ORIGIN_NOT_READY`]).
    pub(super) async fn origin_gate(
        &self,
        jobs: Vec<Job>,
        s: &Scanned,
        outbox: &Outbox,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<Job>, Vec<Job>)> {
        let domains = &self.config.domains;
        if domains.iter().all(|d| d.origin.is_none()) {
            return Ok((jobs, Vec::new()));
        }
        let rules = Rules::new(domains);
        let now = self.clock.now_unix();
        let mut removed = s.changes.removed.clone();
        removed.sort();
        // Every file to look at once, by origin URL: (item, domain index).
        let mut items: Vec<(OriginItem, usize)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |item: OriginItem, d: usize| -> usize {
            *index.entry(item.origin_url.clone()).or_insert_with(|| {
                items.push((item, d));
                items.len() - 1
            })
        };
        let mut plans: Vec<(Job, Option<Waits>)> = Vec::new();
        for job in jobs {
            // Not sent this run anyway (deferred until the quota resets), or maybe at the API
            // already (its task is looked up first): nothing to wait for.
            let later = job.status == JobStatus::Deferred && job.not_before_unix.is_some_and(|t| t > now);
            let gated = domains.iter().any(|d| d.host == job.host && d.origin.is_some());
            if later || job.maybe_sent_unix.is_some() || !gated {
                plans.push((job, None));
                continue;
            }
            let mut per_url = Vec::with_capacity(job.urls.len());
            for url in &job.urls {
                let Some((d, origin)) = domain_of(&rules, &job.host, url).and_then(|d| Some((d, domains[d].origin.as_deref()?))) else {
                    per_url.push(Vec::new());
                    continue;
                };
                let dom = &domains[d];
                let files: Vec<(String, Expect, Option<ContentHash>)> = if job.kind == JobKind::PurgePaths {
                    dir_files(&rules, d, url, s).into_iter().map(|(p, e, before)| (rules.file_url(d, &p), e, before)).collect()
                } else {
                    expect_url(&rules, d, dom, url, s, &removed).map(|(e, before)| (url.clone(), e, before)).into_iter().collect()
                };
                let wanted =
                    files.into_iter().filter_map(|(u, e, before)| Some(OriginItem::new(&u, origin, &dom.host, e)?.removed_from(before)));
                per_url.push(wanted.map(|it| add(it, d)).collect());
            }
            plans.push((job, Some(Waits { per_url })));
        }
        if items.is_empty() {
            return Ok((plans.into_iter().map(|(j, _)| j).collect(), Vec::new()));
        }
        let ready = self.look_at_origins(&items, notes).await?;
        self.split_held(plans, &items, &ready, outbox, notes)
    }

    /// Ask every origin, each domain with its own patience, all at once. Returns, per item,
    /// `None` when ready or the origin's last word.
    async fn look_at_origins(&self, items: &[(OriginItem, usize)], notes: &mut Vec<String>) -> Result<Vec<Option<String>>> {
        let opts = FetchOptions::origin(self.config.provider.timeout, crate::verify::Options::default().max_body);
        let fetcher =
            HttpFetcher::new(&opts, std::iter::empty()).map_err(|e| Error::runtime("the origin HTTP client", std::io::Error::other(e)))?;
        let mut by_domain: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, (_, d)) in items.iter().enumerate() {
            by_domain.entry(*d).or_default().push(k);
        }
        let conc = self.config.verify.concurrency;
        let waits = by_domain.iter().map(|(&d, ks)| {
            let list: Vec<OriginItem> = ks.iter().map(|&k| items[k].0.clone()).collect();
            let policy = WaitPolicy::new(self.config.domains[d].origin_wait);
            let fetcher = &fetcher;
            async move { (d, ks.clone(), wait_for_origin(&list, fetcher, &policy, conc, self.clock.as_ref()).await) }
        });
        let mut out: Vec<Option<String>> = vec![None; items.len()];
        for (d, ks, report) in futures_util::future::join_all(waits).await {
            let OriginReport { held, rounds, waited_ms, .. } = report;
            let reasons: HashMap<&str, &str> = held.iter().map(|h| (h.url.as_str(), h.reason.as_str())).collect();
            for &k in &ks {
                out[k] = reasons.get(items[k].0.url.as_str()).map(|r| r.to_string());
            }
            let origin = self.config.domains[d].origin.as_deref().unwrap_or_default();
            if rounds > 1 || !held.is_empty() {
                let secs = Duration::from_millis(waited_ms).as_secs_f64();
                notes.push(format!("origin {origin}: {} of {} file(s) ready after {secs:.1} s", ks.len() - held.len(), ks.len()));
            }
        }
        Ok(out)
    }

    /// Split each job into what may go and what waits; persist the held parts.
    fn split_held(
        &self,
        plans: Vec<(Job, Option<Waits>)>,
        items: &[(OriginItem, usize)],
        ready: &[Option<String>],
        outbox: &Outbox,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<Job>, Vec<Job>)> {
        let (mut send, mut held) = (Vec::new(), Vec::new());
        let mut held_urls: Vec<(String, String)> = Vec::new();
        let mut seq = 0;
        for (mut job, waits) in plans {
            let Some(waits) = waits else {
                send.push(job);
                continue;
            };
            let mut go = Vec::new();
            let mut wait = Vec::new();
            let mut why = None;
            for (url, needs) in job.urls.iter().zip(&waits.per_url) {
                match needs.iter().find_map(|&k| ready[k].as_ref().map(|r| (k, r))) {
                    None => go.push(url.clone()),
                    Some((k, reason)) => {
                        let what = if job.kind == JobKind::PurgePaths { format!("{} (for {url})", items[k].0.url) } else { url.clone() };
                        held_urls.push((what, reason.clone()));
                        why.get_or_insert_with(|| format!("{url}: {reason}"));
                        wait.push(url.clone());
                    }
                }
            }
            if wait.is_empty() {
                if job.error.as_ref().is_some_and(|e| e.code == ORIGIN_NOT_READY) {
                    job.error = None;
                }
                send.push(job);
                continue;
            }
            let error = JobError {
                code: ORIGIN_NOT_READY.into(),
                message: format!(
                    "{} URL(s) held back until the origin serves the new bytes; first: {}",
                    wait.len(),
                    why.unwrap_or_default()
                ),
            };
            let mut persist = Vec::new();
            if !go.is_empty() {
                seq += 1;
                let mut ready_part = job.clone();
                ready_part.id = crate::model::new_job_id(self.clock.now_unix(), seq);
                ready_part.urls = go;
                ready_part.error = None;
                ready_part.status = JobStatus::Pending;
                persist.push(ready_part.clone());
                send.push(ready_part);
            }
            job.urls = wait;
            job.status = JobStatus::Pending;
            job.error = Some(error);
            persist.push(job.clone());
            // The ready part first: a crash between the two writes purges a URL twice at worst.
            outbox.put(&persist)?;
            held.push(job);
        }
        if !held_urls.is_empty() {
            notes.push(format!(
                "{} URL(s) held back: their origin does not serve the new bytes yet; they stay owed and go out once it does",
                held_urls.len()
            ));
            for (url, reason) in held_urls.iter().take(NOTE_URLS) {
                notes.push(format!("  held: {url}: {reason}"));
            }
            if held_urls.len() > NOTE_URLS {
                notes.push(format!("  … and {} more", held_urls.len() - NOTE_URLS));
            }
        }
        Ok((send, held))
    }
}

#[cfg(test)]
mod tests;
