//! `cdnsync verify` and `sync --verify` (`docs/cli.md`): fetch the last deploy's URLs (or every
//! tracked file's, or a sample) through the CDN and compare what is served with what was deployed;
//! with `--repurge`, purge the stale ones again once, wait for the task, and check them again.
//!
//! The checking itself is [`crate::verify`]; this file decides what to check (the deploy record
//! that `sync` writes, `state/deploy.rs`), leaves out URLs whose purge is still owed, looks up
//! the origin's ETags for `verify = "etag"` domains, and turns the result into a
//! [`VerifyReport`].

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::time::Duration;

use super::scanned::Scanned;
use super::Engine;
use crate::api::CdnApi;
use crate::config::{Config, VerifyMode};
use crate::error::{Error, Result};
use crate::model::{ContentHash, Job, JobKind, JobStatus};
use crate::plan::adhoc;
use crate::plan::rules::Rules;
use crate::progress::Progress;
use crate::report::{Reason, UrlCheck, VerifyReport};
use crate::state::deploy::{self, Deploy};
use crate::state::manifest;
use crate::verify::fetch::{FetchOptions, Method, Request};
use crate::verify::origin::origin_url;
use crate::verify::summary::{Summary, Verdict};
use crate::verify::{self, HttpFetcher, Item, Mode, Options};

/// How long `--repurge` waits for its purge tasks before checking again, and `sync --verify` for
/// the sync's (unless `--wait` says otherwise).
pub const VERIFY_WAIT: Duration = Duration::from_secs(600);

/// What `verify` checks (`docs/cli.md`, `cdnsync verify`).
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Every tracked file (the manifest) instead of the last deploy's changed files.
    pub all_tracked: bool,
    /// With `all_tracked`: this many files picked at random.
    pub sample: Option<usize>,
    /// Purge the URLs found stale once more, wait for the task, and check them again.
    pub repurge: bool,
}

/// One file to check: where it is, and what should be served for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub path: String,
    pub expected: ContentHash,
    pub previous: Option<ContentHash>,
    pub size: u64,
}

fn mode(m: VerifyMode) -> Mode {
    match m {
        VerifyMode::Hash => Mode::Hash,
        VerifyMode::Etag => Mode::Etag,
        VerifyMode::Status => Mode::Status,
    }
}

/// Every URL under which a domain serves each target, once each (PURE).
pub(super) fn items(cfg: &Config, targets: &[Target]) -> Vec<Item> {
    let rules = Rules::new(&cfg.domains);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in targets {
        for (d, dom) in cfg.domains.iter().enumerate() {
            if !rules.serves(d, &t.path) {
                continue;
            }
            for u in rules.urls(d, &t.path) {
                if seen.insert(u.url.clone()) {
                    let mut item = Item::new(u.url, dom.host.clone(), t.expected).size(t.size).mode(mode(dom.verify));
                    item.previous = t.previous;
                    out.push(item);
                }
            }
        }
    }
    out
}

/// Split off the items whose purge is still owed: a URL purge of that URL, or a folder purge
/// above it, in the outbox (PURE). Returns (to check, owed URLs).
pub(super) fn without_owed(items: Vec<Item>, owed: &[Job]) -> (Vec<Item>, Vec<String>) {
    let purges = owed.iter().filter(|j| j.kind.is_purge() && j.status != JobStatus::Accepted);
    let mut urls = HashSet::new();
    let mut dirs = Vec::new();
    for j in purges {
        match j.kind {
            JobKind::PurgePaths => dirs.extend(j.urls.iter().map(String::as_str)),
            _ => urls.extend(j.urls.iter().map(String::as_str)),
        }
    }
    let (owed_items, check): (Vec<Item>, Vec<Item>) =
        items.into_iter().partition(|i| urls.contains(i.url.as_str()) || dirs.iter().any(|d| i.url.starts_with(d)));
    (check, owed_items.into_iter().map(|i| i.url).collect())
}

/// The report of a summary (and the exit code it calls for).
fn report_of(summary: &Summary) -> VerifyReport {
    let results = summary
        .results
        .iter()
        .map(|o| UrlCheck {
            url: o.url.clone(),
            host: o.host.clone(),
            mode: o.mode.as_str(),
            status: o.status,
            result: o.verdict.as_str(),
            reasons: match &o.verdict {
                Verdict::Different { reasons } => reasons.iter().map(|r| Reason { code: r.code(), message: r.explain() }).collect(),
                _ => Vec::new(),
            },
            message: match &o.verdict {
                Verdict::Error { message } => Some(message.clone()),
                _ => None,
            },
        })
        .collect();
    VerifyReport {
        checked: summary.checked,
        fresh: summary.fresh,
        stale: summary.stale,
        different: summary.different,
        errors: summary.errors,
        results,
        code: summary.exit_code(),
        ..VerifyReport::default()
    }
}

impl<A: CdnApi> Engine<A> {
    /// `sync`: remember what this deploy changed, for `verify`. Only a deploy that changed
    /// something replaces the record.
    pub(super) fn record_deploy(&self, s: &Scanned) -> Result<()> {
        if s.baseline || s.changes.is_empty() {
            return Ok(());
        }
        let d = Deploy::of(&s.changes, s.previous.as_ref().map(|m| &m.snapshot), &s.current.snapshot, self.clock.now_unix());
        deploy::save(&self.config.state_dir, &d)
    }

    /// `sync --verify`: check the deploy just made; a failure to check is reported, not fatal
    /// (the sync's work is done and recorded).
    pub(super) async fn verify_after_sync(&self, baseline: bool, progress: &dyn Progress) -> VerifyReport {
        if baseline {
            let note = "a baseline was recorded and nothing purged: nothing to verify".to_string();
            return VerifyReport { source: "last_deploy", notes: vec![note], ..VerifyReport::default() };
        }
        match self.verify(&VerifyOptions::default(), progress).await {
            Ok(r) => r,
            Err(e) => {
                VerifyReport { source: "last_deploy", warnings: vec![format!("could not verify: {e}")], code: 1, ..VerifyReport::default() }
            }
        }
    }

    /// `cdnsync verify`: what the CDN serves for the last deploy's URLs (or every tracked file's).
    pub async fn verify(&self, opts: &VerifyOptions, progress: &dyn Progress) -> Result<VerifyReport> {
        let cfg = &self.config;
        let (source, deployed_unix, targets, mut notes) = self.targets(opts)?;
        let owed = self.outbox().load()?;
        let (items, owed_urls) = without_owed(items(cfg, &targets), &owed);
        if !owed_urls.is_empty() {
            notes.push(format!("{} URL(s) not checked: their purge is still owed (see `cdnsync status`)", owed_urls.len()));
        }
        let mut warnings = Vec::new();
        let (items, etag_warnings) = self.with_origin_etags(items).await;
        warnings.extend(etag_warnings);
        let options = self.verify_options();
        let fetcher = HttpFetcher::for_urls(&FetchOptions::from(&options), items.iter().map(|i| i.url.as_str()))
            .map_err(|e| Error::runtime("the verify HTTP client", std::io::Error::other(e)))?;
        let mut summary = verify::verify(&items, &fetcher, &options, self.clock.as_ref()).await;
        let (mut repurged, mut jobs) = (Vec::new(), Vec::new());
        if opts.repurge {
            let stale: Vec<String> = summary.stale_urls().map(String::from).collect();
            if !stale.is_empty() {
                let done = self.repurge(&stale, progress, &mut notes).await?;
                jobs = self.reports(&done);
                let sent: HashSet<&str> =
                    done.iter().filter(|j| j.status == JobStatus::Accepted).flat_map(|j| j.urls.iter().map(String::as_str)).collect();
                let again: Vec<Item> = items.iter().filter(|i| sent.contains(i.url.as_str())).cloned().collect();
                repurged = again.iter().map(|i| i.url.clone()).collect();
                summary = summary.merge(verify::verify(&again, &fetcher, &options, self.clock.as_ref()).await);
            }
        }
        if summary.checked == 0 && owed_urls.is_empty() {
            notes.push(if targets.is_empty() { "no file to check".into() } else { "no URL to check: no domain serves these files".into() });
        }
        Ok(VerifyReport { source, deployed_unix, owed: owed_urls, repurged, jobs, notes, warnings, ..report_of(&summary) })
    }

    /// What to check: the record of the last deploy, or the manifest.
    #[allow(clippy::type_complexity)]
    fn targets(&self, opts: &VerifyOptions) -> Result<(&'static str, Option<i64>, Vec<Target>, Vec<String>)> {
        let dir = &self.config.state_dir;
        if !opts.all_tracked {
            if opts.sample.is_some() {
                return Err(Error::Usage("--sample picks among the tracked files: use it with --all-tracked".into()));
            }
            let Some(d) = deploy::load(dir)? else {
                return Err(Error::Usage(format!(
                    "no deploy recorded in {} yet: run a `cdnsync sync` that changes something first, or check every tracked file \
                     with `cdnsync verify --all-tracked`",
                    dir.display()
                )));
            };
            let targets = d
                .files
                .iter()
                .filter_map(|f| Some(Target { path: f.path.clone(), expected: f.expected()?, previous: f.previous_hash(), size: f.size }))
                .collect();
            let notes = if d.removed > 0 { vec![format!("{} removed file(s) not checked", d.removed)] } else { Vec::new() };
            return Ok(("last_deploy", Some(d.at_unix), targets, notes));
        }
        let Some(m) = manifest::load(dir)? else {
            return Err(Error::Usage(format!("no manifest in {} yet: nothing is tracked; run `cdnsync sync` first", dir.display())));
        };
        let mut targets: Vec<Target> =
            m.snapshot.iter().map(|(p, f)| Target { path: p.to_string(), expected: f.hash, previous: None, size: f.size }).collect();
        let mut notes = Vec::new();
        if let Some(n) = opts.sample.filter(|&n| n < targets.len()) {
            notes.push(format!("checked a random sample of {n} of {} tracked files", targets.len()));
            targets = fastrand::choose_multiple(targets, n);
        }
        Ok(("all_tracked", None, targets, notes))
    }

    fn verify_options(&self) -> Options {
        let v = &self.config.verify;
        Options {
            concurrency: v.concurrency,
            requests_per_second: NonZeroU32::new(v.requests_per_second),
            connect_to: v.connect_to,
            timeout: self.config.provider.timeout,
            ..Options::default()
        }
    }

    /// `verify = "etag"`: ask each item's origin for its ETag now (HEAD, with the domain as Host).
    async fn with_origin_etags(&self, mut items: Vec<Item>) -> (Vec<Item>, Vec<String>) {
        let origins: HashMap<&str, &str> =
            self.config.domains.iter().filter_map(|d| Some((d.host.as_str(), d.origin.as_deref()?))).collect();
        let asks: Vec<(usize, String)> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.mode == Mode::Etag)
            .filter_map(|(k, i)| Some((k, origin_url(origins.get(i.host.as_str())?, &i.url)?)))
            .collect();
        if asks.is_empty() {
            return (items, Vec::new());
        }
        let opts = FetchOptions::origin(self.config.provider.timeout, 0);
        let fetcher = match HttpFetcher::new(&opts, std::iter::empty()) {
            Ok(f) => f,
            Err(e) => return (items, vec![format!("cannot ask the origin for ETags: {e}")]),
        };
        let hosts: Vec<String> = asks.iter().map(|(k, _)| items[*k].host.clone()).collect();
        let reqs = asks.iter().zip(&hosts).map(|((_, url), host)| Request { url, method: Method::Head, host: Some(host) });
        let mut answers = Vec::new();
        let conc = self.config.verify.concurrency;
        verify::fetch_all(&fetcher, reqs, conc, None, self.clock.as_ref(), |n, a| answers.push((n, a))).await;
        let mut warnings = Vec::new();
        for (n, answer) in answers {
            let (k, url) = &asks[n];
            match answer.map(|o| (o.status, o.etag)) {
                Ok((200..=299, Some(tag))) => items[*k].etag = Some(tag),
                Ok((s, _)) => warnings.push(format!("{url}: the origin answered HTTP {s} without an ETag")),
                Err(e) => warnings.push(format!("{url}: cannot ask the origin for its ETag: {e}")),
            }
        }
        (items, warnings)
    }

    /// `--repurge`: purge `urls` again (persisted first, like any job), and wait for the tasks.
    async fn repurge(&self, urls: &[String], progress: &dyn Progress, notes: &mut Vec<String>) -> Result<Vec<Job>> {
        let req = adhoc::Request { kind: JobKind::PurgeUrls, targets: urls, dir: false, area: None, any_host: true, wait: None };
        let mut jobs = adhoc::jobs(&self.config.domains, &self.config.limits, &req, self.clock.now_unix())?;
        let _lock = self.lock("cdnsync verify --repurge").await?;
        let outbox = self.outbox();
        for j in &mut jobs {
            j.status = JobStatus::Pending;
        }
        outbox.put(&jobs)?;
        let quota = self.fresh_quota().await.ok().flatten();
        let super::Sent { done, waited, .. } = self.send(&outbox, jobs, quota, Some(VERIFY_WAIT), progress).await?;
        let accepted = done.iter().filter(|j| j.status == JobStatus::Accepted).count();
        notes.push(format!("--repurge: {} stale URL(s) purged again in {accepted} job(s)", urls.len()));
        if accepted > 0 && waited.and_then(|w| w.finished()) != Some(true) {
            notes.push(format!("--repurge: the tasks had not finished after {} s; checked again anyway", VERIFY_WAIT.as_secs()));
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests;
