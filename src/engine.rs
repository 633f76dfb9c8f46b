//! One plan or sync, start to finish (SPEC §3): lock -> owed jobs -> scan -> diff -> map -> plan ->
//! persist (outbox, then manifest) -> submit -> report. Generic over the API and the clock.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::api::CdnApi;
use crate::clock::Clock;
use crate::config::{ApiVersion, Config, V2Overseas};
use crate::error::{Error, Result};
use crate::model::{Area, ChangeSet, Job, JobError, JobKind, JobStatus, QuotaBook, Snapshot};
use crate::plan::{self, rules::Rules, PlanInput};
use crate::scan::{self, PreviousScan, ScanSpec};
use crate::state::{self, lock::StateLock, manifest, outbox::Outbox, remote};
use crate::submit::{OutboxCounts, Progress, SubmitOptions, Submitter};

/// What `sync` should do beyond the default.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Rehash every file (ignore the stat cache).
    pub full: bool,
    /// Treat every file as changed.
    pub all: bool,
    /// Record the tree as deployed and send nothing new.
    pub baseline: bool,
    /// Resend jobs the API refused for good in an earlier run (after fixing the cause).
    pub retry_failed: bool,
    /// Then poll the submitted tasks until they finish, at most this long.
    pub wait: Option<Duration>,
    /// Only these paths (relative to `publish_dir`, files or directories) may have changed: rescan
    /// just them and carry the rest of the manifest over (watch mode, or a site generator that
    /// knows what it wrote). `Some(vec![])` scans nothing and only sends owed jobs. Ignored
    /// (a whole scan) when there is no manifest yet.
    pub paths: Option<Vec<String>>,
}

/// One job in a report (SPEC §6).
#[derive(Clone, Debug, Serialize)]
pub struct JobReport {
    /// Job ID (stable across runs).
    pub id: String,
    /// What the job does.
    pub kind: JobKind,
    /// Mainland or overseas.
    pub area: Area,
    /// The CDN domain.
    pub host: String,
    /// The API action it is sent with.
    pub action: &'static str,
    /// URLs (or directory URLs).
    pub urls: Vec<String>,
    /// `planned`, `accepted`, `pending`, `deferred` or `failed`.
    pub status: &'static str,
    /// The API's task ID once accepted.
    pub task_id: Option<String>,
    /// Why it is not accepted.
    pub error: Option<JobError>,
}

impl JobReport {
    fn of(j: &Job, action: &'static str) -> Self {
        JobReport {
            id: j.id.clone(),
            kind: j.kind,
            area: j.area,
            host: j.host.clone(),
            action,
            urls: j.urls.clone(),
            status: j.status.as_str(),
            task_id: j.task_id.clone(),
            error: j.error.clone(),
        }
    }
}

/// Scan figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanStats {
    /// Files in the tree.
    pub files: usize,
    /// Files read and hashed.
    pub hashed: usize,
    /// Files whose hash came from the stat cache.
    pub reused: usize,
}

/// What a plan or sync did (SPEC §6, plus details for the human summary).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Added, modified, removed files.
    pub changes: ChangeSet,
    /// Every job of the run, owed ones included.
    pub jobs: Vec<JobReport>,
    /// What is still owed after the run.
    pub outbox: OutboxCounts,
    /// Scan statistics.
    pub scan: ScanStats,
    /// True when this run recorded a baseline (first sync, or `--baseline`).
    pub baseline: bool,
    /// Things worth knowing (baseline recorded, collapse decisions…).
    pub notes: Vec<String>,
    /// Problems that did not stop the run.
    pub warnings: Vec<String>,
    /// Quota left per `kind/area` before and after this plan.
    pub quota_before: std::collections::BTreeMap<String, u64>,
    /// Remaining quota after the run's jobs (estimated).
    pub quota_after: std::collections::BTreeMap<String, u64>,
    /// With `--wait`: did every submitted task finish?
    pub tasks_finished: Option<bool>,
    /// API requests sent to submit jobs or look them up (not counting quota and task polls).
    pub requests: usize,
}

impl Report {
    /// SPEC §1 exit code of a completed run: 3 if something was refused for good, else 1 if
    /// something is still owed after transient failures, else 4 if something was deferred by
    /// quota, else 0 (and 1 when `--wait` found tasks unfinished or failed).
    pub fn exit_code(&self) -> u8 {
        let here = |s: &str| self.jobs.iter().any(|j| j.status == s);
        if here("failed") || self.outbox.failed > 0 {
            3
        } else if here("pending") {
            1
        } else if here("deferred") || self.outbox.deferred > 0 {
            4
        } else if self.tasks_finished == Some(false) {
            1
        } else {
            0
        }
    }
}

/// How many accepted jobs `history.json` keeps.
pub const HISTORY_LEN: usize = 200;

/// The engine: a config, an API and a clock.
pub struct Engine<A: CdnApi> {
    /// The validated config.
    pub config: Config,
    /// The CDN API (or the fake, or a test double).
    pub api: A,
    /// Time and sleeping.
    pub clock: Arc<dyn Clock>,
    /// How long to wait for another cdnsync's lock.
    pub lock_timeout: Duration,
    /// The API's rate limits, as this engine's requests have used them.
    limits: crate::submit::RateLimits,
}

/// The parts of a plan shared by `plan` and `sync`.
struct Planned {
    changes: ChangeSet,
    plan: plan::Plan,
    /// The tree found and when its scan started (for the racy-timestamp rule): the manifest
    /// `sync` records, written from here without a copy.
    current: manifest::Manifest,
    scan: ScanStats,
    warnings: Vec<String>,
    baseline: bool,
    /// The manifest diffed against (local, or fetched from `manifest_url`).
    previous: Option<manifest::Manifest>,
    /// `previous` is this state directory's own manifest.
    prev_is_local: bool,
}

impl<A: CdnApi> Engine<A> {
    /// An engine with the default lock timeout (60 s).
    pub fn new(config: Config, api: A, clock: Arc<dyn Clock>) -> Self {
        Engine { config, api, clock, lock_timeout: Duration::from_secs(60), limits: Default::default() }
    }

    fn outbox(&self) -> Outbox {
        Outbox::new(&self.config.state_dir)
    }

    /// The jobs still owed (pending, deferred, failed), read from the outbox. Needs no lock.
    pub fn owed(&self) -> Result<Vec<Job>> {
        self.outbox().load()
    }

    /// What a scan of `publish_dir` covers.
    pub fn scan_spec(&self) -> ScanSpec {
        ScanSpec {
            root: self.config.publish_dir.clone(),
            exclude: self.config.exclude.clone(),
            exclude_dirs: self.config.exclude_dirs.clone(),
        }
    }

    fn overseas_prefetch_batch(&self) -> Option<u64> {
        (self.config.provider.api == ApiVersion::V2 && self.config.provider.v2_overseas == V2Overseas::Dedicated).then_some(20)
    }

    fn action(&self, j: &Job) -> &'static str {
        self.api.action(j.kind, j.area)
    }

    /// Steps 3–6, read-only.
    fn compute(
        &self,
        opts: &SyncOptions,
        owed: &[Job],
        quota: &QuotaBook,
        progress: &dyn Progress,
        remote: Option<manifest::Manifest>,
    ) -> Result<Planned> {
        // Before any stat: the racy-timestamp rule measures from the start of the scan.
        let scan_start_ns = self.clock.now_ms().saturating_mul(1_000_000);
        // Walk the tree while the manifest loads: the walk is stat calls, the load is parsing.
        let spec = self.scan_spec();
        let whole = opts.paths.is_none() || opts.all;
        let (local, walked) = std::thread::scope(|s| {
            let walker = whole.then(|| s.spawn(|| scan::walk::walk(&spec)));
            let local = manifest::load(&self.config.state_dir);
            (local, walker.map(|w| w.join().expect("walk thread")))
        });
        let local = local?;
        // A manifest from another machine vouches for hashes, never for this disk's timestamps.
        let from_remote = local.is_none() && remote.is_some();
        let prev = local.or(remote);
        let previous =
            prev.as_ref().filter(|_| !from_remote).map(|m| PreviousScan { snapshot: &m.snapshot, scan_start_ns: m.scan_start_ns });
        let (scanned, scan_start_ns) = match (&opts.paths, previous) {
            // Entries carried over were vouched for by the earlier scan: keep its start time, so
            // that the racy-timestamp rule still covers them (the rescanned files merely get
            // rehashed once more by the next whole scan).
            (Some(paths), Some(previous)) if !opts.all => (scan::scan_paths(&spec, previous, paths, progress)?, previous.scan_start_ns),
            _ => {
                let walked = match walked {
                    Some(w) => w?,
                    None => scan::walk::walk(&spec)?,
                };
                (scan::scan_walked(&spec, walked, previous, opts.full, progress)?, scan_start_ns)
            }
        };
        let stats = ScanStats { files: scanned.snapshot.len(), hashed: scanned.hashed, reused: scanned.reused };
        let baseline = opts.baseline || (prev.is_none() && !opts.all);
        let empty = Snapshot::default();
        let changes = plan::diff::diff(prev.as_ref().map_or(&empty, |m| &m.snapshot), &scanned.snapshot);
        let plan = self.plan_jobs(opts, baseline, &changes, &scanned.snapshot, owed, quota);
        Ok(Planned {
            prev_is_local: prev.is_some() && !from_remote,
            changes,
            plan,
            current: manifest::Manifest { snapshot: scanned.snapshot, scan_start_ns },
            scan: stats,
            warnings: scanned.warnings,
            baseline,
            previous: prev,
        })
    }

    /// Step 6, pure: the jobs for `changes` given the quota.
    fn plan_jobs(
        &self,
        opts: &SyncOptions,
        baseline: bool,
        changes: &ChangeSet,
        tree: &Snapshot,
        owed: &[Job],
        quota: &QuotaBook,
    ) -> plan::Plan {
        if baseline {
            return plan::Plan::default();
        }
        plan::make_plan(&PlanInput {
            domains: &self.config.domains,
            limits: &self.config.limits,
            changes,
            tree,
            quota,
            owed,
            all: opts.all,
            overseas_prefetch_batch: self.overseas_prefetch_batch(),
            now_unix: self.clock.now_unix(),
        })
    }

    fn known_quota(&self) -> QuotaBook {
        state::load_quota(&self.config.state_dir).unwrap_or_else(QuotaBook::documented_v3)
    }

    /// `cdnsync plan`: what the next sync would do. No network, nothing written.
    pub fn plan(&self, opts: &SyncOptions) -> Result<Report> {
        let owed = self.outbox().load()?;
        let quota = self.known_quota();
        let p = self.compute(opts, &owed, &quota, &(), None)?;
        let mut jobs: Vec<JobReport> = owed.iter().map(|j| JobReport::of(j, self.action(j))).collect();
        jobs.extend(p.plan.jobs.iter().map(|j| JobReport::of(j, self.action(j))));
        let mut notes = p.plan.notes.clone();
        if p.baseline && !opts.baseline {
            notes.push(match &self.config.manifest_url {
                Some(url) => format!("no local manifest: `plan` does not fetch {url} (no network); `sync` will diff against it"),
                None => "no manifest yet: the first sync records a baseline and purges nothing (use --all to purge everything)".into(),
            });
        }
        let quota_after = after(&p.plan.quota_before, &p.plan.quota_used);
        Ok(Report {
            changes: p.changes,
            jobs,
            outbox: OutboxCounts::of(&owed),
            scan: p.scan,
            baseline: p.baseline,
            notes,
            warnings: p.warnings,
            quota_before: p.plan.quota_before,
            quota_after,
            tasks_finished: None,
            requests: 0,
        })
    }

    /// Take the state directory's lock.
    pub fn lock(&self, what: &str) -> Result<StateLock> {
        StateLock::acquire(&self.config.state_dir, self.lock_timeout, what)
    }

    /// `cdnsync sync`: one deploy.
    pub async fn sync(&self, opts: &SyncOptions, progress: &dyn Progress) -> Result<Report> {
        let _lock = self.lock("cdnsync sync")?;
        let outbox = self.outbox();
        let owed = outbox.load()?;
        let mut warnings = Vec::new();
        let mut notes = Vec::new();
        let remote = self.fetch_published(&mut notes, &mut warnings).await;
        // Scan and plan with the last known quota; only when there is something to send is the
        // API asked for fresh numbers (and the plan redone with them), so a sync that finds
        // nothing to do needs no network at all.
        let known = self.known_quota();
        let mut p = self.compute(opts, &owed, &known, progress, remote)?;
        let mut fresh = None;
        if !owed.is_empty() || !p.plan.jobs.is_empty() {
            // Fresh quota from the API where it has a query; the cache or the docs otherwise.
            match self.api.quota().await {
                Ok(q) => fresh = q,
                Err(f) => warnings.push(format!("could not read the quota ({f}); using the last known values")),
            }
            if let Some(q) = &fresh {
                state::save_quota(&self.config.state_dir, q)?;
                p.plan = self.plan_jobs(opts, p.baseline, &p.changes, &p.current.snapshot, &owed, q);
            }
        }
        let quota = fresh.clone().unwrap_or(known);
        warnings.extend(p.warnings.iter().cloned());
        // Step 7: the jobs first, then the manifest that makes them owed.
        let mut new_jobs = p.plan.jobs.clone();
        for j in &mut new_jobs {
            j.status = JobStatus::Pending;
        }
        outbox.put(&new_jobs)?;
        crate::failpoint::hit("outbox-written");
        // Nothing changed and nothing needed rehashing (so nothing is racy): the manifest on
        // disk already says all this, and rewriting 100,000 entries would be the run's main cost.
        // (A file not rehashed keeps its old record; with none added or removed, the two
        // snapshots are equal.)
        let unchanged = p.prev_is_local && p.scan.hashed == 0 && p.changes.is_empty();
        if !unchanged {
            manifest::save(&self.config.state_dir, &p.current)?;
        }
        crate::failpoint::hit("manifest-written");
        // Step 8: owed jobs first, then the new ones.
        let mut to_send: Vec<Job> = Vec::new();
        let mut held: Vec<Job> = Vec::new();
        for j in owed {
            if j.status == JobStatus::Failed && !opts.retry_failed {
                held.push(j);
            } else {
                to_send.push(j);
            }
        }
        to_send.extend(new_jobs);
        let submitter = self.submitter(&outbox, progress, !to_send.is_empty());
        let done = submitter.run(to_send, fresh.or(Some(quota))).await?;
        self.record_history(&done)?;
        let tasks_finished = match opts.wait {
            Some(limit) => {
                let accepted: Vec<&Job> = done.iter().filter(|j| j.status == JobStatus::Accepted).collect();
                Some(submitter.wait_for(&accepted, limit).await)
            }
            None => None,
        };
        let remaining = outbox.load()?;
        if self.config.manifest_url.is_some() {
            self.publish_manifest(&p, remaining.is_empty(), &mut notes)?;
        }
        let mut jobs: Vec<JobReport> = done.iter().map(|j| JobReport::of(j, self.action(j))).collect();
        jobs.extend(held.iter().map(|j| JobReport::of(j, self.action(j))));
        notes.extend(p.plan.notes.iter().cloned());
        if p.baseline {
            notes.push(if opts.baseline {
                "baseline recorded: the current tree counts as deployed; nothing new was purged".into()
            } else {
                "first sync: baseline recorded, nothing purged (the next sync purges what changes; --all purges everything)".into()
            });
        }
        if !held.is_empty() {
            notes.push(format!(
                "{} job(s) refused earlier are kept as failed; fix the cause, then run `cdnsync sync --retry-failed`",
                held.len()
            ));
        }
        Ok(Report {
            changes: p.changes,
            jobs,
            outbox: OutboxCounts::of(&remaining),
            scan: p.scan,
            baseline: p.baseline,
            notes,
            warnings,
            quota_after: after(&p.plan.quota_before, &p.plan.quota_used),
            quota_before: p.plan.quota_before,
            tasks_finished,
            requests: submitter.requests.load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// With `manifest_url` and no local manifest (a fresh CI runner): the published manifest.
    async fn fetch_published(&self, notes: &mut Vec<String>, warnings: &mut Vec<String>) -> Option<manifest::Manifest> {
        let url = self.config.manifest_url.as_ref()?;
        if manifest::path(&self.config.state_dir).exists() {
            return None;
        }
        match remote::fetch(url, self.config.provider.timeout, self.clock.now_unix()).await {
            remote::Fetched::Found(m) => {
                notes.push(format!("no local manifest: diffed against the published one at {url}"));
                Some(m)
            }
            remote::Fetched::Missing(why) => {
                notes.push(format!("no published manifest ({why}): first deploy, so the baseline rule applies"));
                None
            }
            remote::Fetched::Unusable(why) => {
                warnings.push(format!("cannot use the published manifest ({why}); the baseline rule applies, nothing changed is purged"));
                None
            }
        }
    }

    /// Write the manifest copy the deploy publishes: the new one when nothing is owed, else the
    /// previous one, so a fresh runner purges the owed changes again (see [`remote`]).
    fn publish_manifest(&self, p: &Planned, nothing_owed: bool, notes: &mut Vec<String>) -> Result<()> {
        let dest = remote::published_path(&self.config.publish_dir);
        if nothing_owed {
            remote::publish(&self.config.publish_dir, &p.current)?;
            notes.push(format!("wrote {}: publish it with the site", dest.display()));
        } else if let Some(prev) = &p.previous {
            remote::publish(&self.config.publish_dir, prev)?;
            notes
                .push(format!("jobs are still owed: {} keeps the previous manifest, so the next runner purges them again", dest.display()));
        } else {
            notes.push(format!("jobs are still owed and there is no previous manifest: {} not written", dest.display()));
        }
        Ok(())
    }

    fn submitter<'s>(&'s self, outbox: &'s Outbox, progress: &'s dyn Progress, any_jobs: bool) -> Submitter<'s, A> {
        let l = &self.config.limits;
        let mut opts = SubmitOptions {
            concurrency: l.concurrency,
            requests_per_second: l.requests_per_second,
            retry_deadline: l.retry_deadline,
            ..SubmitOptions::default()
        };
        if self.config.provider.api == ApiVersion::V2 {
            opts.rate = crate::api::v2::rate;
            opts.fixed_purge_delay = Some(self.config.provider.v2_prefetch_delay);
        }
        // Only an ambiguous job's lookup needs them; a run with nothing to send skips the read.
        let known_tasks =
            if any_jobs { self.recent_accepted().into_iter().filter_map(|j| j.task_id).collect() } else { Default::default() };
        Submitter {
            api: &self.api,
            clock: self.clock.clone(),
            outbox,
            opts,
            progress,
            known_tasks,
            requests: Default::default(),
            limits: self.limits.clone(),
        }
    }

    /// Ad hoc jobs (`purge`, `prefetch`): persisted, then sent like any other.
    pub async fn submit_adhoc(&self, jobs: Vec<Job>, progress: &dyn Progress) -> Result<Report> {
        let _lock = self.lock("cdnsync purge/prefetch")?;
        let outbox = self.outbox();
        let mut jobs = jobs;
        for j in &mut jobs {
            j.status = JobStatus::Pending;
        }
        outbox.put(&jobs)?;
        let quota = self.api.quota().await.ok().flatten();
        let submitter = self.submitter(&outbox, progress, true);
        let done = submitter.run(jobs, quota).await?;
        self.record_history(&done)?;
        let remaining = outbox.load()?;
        Ok(Report {
            jobs: done.iter().map(|j| JobReport::of(j, self.action(j))).collect(),
            outbox: OutboxCounts::of(&remaining),
            requests: submitter.requests.load(std::sync::atomic::Ordering::Relaxed),
            ..Report::default()
        })
    }

    /// Turn `purge` / `prefetch` arguments (full URLs, or publish-dir paths mapped through the
    /// domain rules) into jobs.
    pub fn adhoc_jobs(&self, kind: JobKind, args: &[String], dir: bool, area: Option<Area>) -> Result<Vec<Job>> {
        let rules = Rules::new(&self.config.domains);
        // (host, areas, url)
        let mut items: Vec<(String, Vec<Area>, String)> = Vec::new();
        for a in args {
            if a.starts_with("http://") || a.starts_with("https://") {
                let host = a.split("://").nth(1).and_then(|r| r.split(['/', '?', '#']).next()).unwrap_or("").to_ascii_lowercase();
                if host.is_empty() {
                    return Err(Error::Usage(format!("{a}: not a URL with a host")));
                }
                let areas =
                    self.config.domains.iter().find(|d| d.host == host).map(|d| d.areas.clone()).unwrap_or_else(|| vec![Area::Mainland]);
                let mut url = a.clone();
                if dir && !url.ends_with('/') {
                    url.push('/');
                }
                items.push((host, areas, url));
            } else {
                let path = a.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                let mut matched = false;
                for (d, dom) in self.config.domains.iter().enumerate() {
                    if dir {
                        matched = true;
                        items.push((dom.host.clone(), dom.areas.clone(), rules.dir_url(d, path)));
                    } else if rules.serves(d, path) {
                        matched = true;
                        for it in rules.urls(d, path) {
                            items.push((dom.host.clone(), dom.areas.clone(), it.url));
                        }
                    }
                }
                if !matched {
                    return Err(Error::Usage(format!("{a}: no [[domain]] serves this path (check include/exclude)")));
                }
            }
        }
        let kind = if dir { JobKind::PurgePaths } else { kind };
        let now = self.clock.now_unix();
        let mut jobs = Vec::new();
        let mut groups: std::collections::BTreeMap<(String, Area), Vec<String>> = Default::default();
        for (host, areas, url) in items {
            let areas = match area {
                Some(a) => vec![a],
                None => areas,
            };
            for a in areas {
                let g = groups.entry((host.clone(), a)).or_default();
                if !g.contains(&url) {
                    g.push(url.clone());
                }
            }
        }
        let mut seq = 0;
        for ((host, a), urls) in groups {
            let size = self.config.limits.batch(kind);
            for b in plan::batches(urls, size) {
                seq += 1;
                jobs.push(Job::planned(kind, a, &host, b, now, seq));
            }
        }
        Ok(jobs)
    }

    fn history_path(&self) -> std::path::PathBuf {
        self.config.state_dir.join("history.json")
    }

    /// Remember accepted jobs (the last [`HISTORY_LEN`]) for `status --tasks` and `sync --wait`.
    fn record_history(&self, done: &[Job]) -> Result<()> {
        let accepted: Vec<&Job> = done.iter().filter(|j| j.status == JobStatus::Accepted).collect();
        if accepted.is_empty() {
            return Ok(());
        }
        let mut h = self.recent_accepted();
        h.extend(accepted.into_iter().cloned());
        let skip = h.len().saturating_sub(HISTORY_LEN);
        let h: Vec<Job> = h.into_iter().skip(skip).collect();
        state::write_atomic(&self.history_path(), &serde_json::to_vec(&h).expect("jobs serialise"))
    }

    /// The most recently accepted jobs, oldest first.
    pub fn recent_accepted(&self) -> Vec<Job> {
        std::fs::read(self.history_path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// `cdnsync status`: tracked files, last deploy, owed jobs. Read-only, needs no lock.
    pub fn status(&self) -> Result<StatusReport> {
        let m = manifest::load(&self.config.state_dir)?;
        let owed = self.outbox().load()?;
        let last_deploy_unix = std::fs::metadata(manifest::path(&self.config.state_dir))
            .ok()
            .and_then(|md| md.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        Ok(StatusReport {
            state_dir: self.config.state_dir.display().to_string(),
            tracked_files: m.as_ref().map(|m| m.snapshot.len()),
            last_deploy_unix,
            outbox: OutboxCounts::of(&owed),
            jobs: owed.iter().map(|j| JobReport::of(j, self.action(j))).collect(),
            credentials: None,
            tasks: Vec::new(),
        })
    }

    /// `cdnsync quota`.
    pub async fn quota(&self) -> Result<QuotaBook> {
        match self.api.quota().await {
            Ok(Some(q)) => {
                state::save_quota(&self.config.state_dir, &q)?;
                Ok(q)
            }
            Ok(None) => Ok(self.known_quota()),
            Err(f) => Err(Error::Network(format!("could not read the quota: {f}"))),
        }
    }
}

fn after(
    before: &std::collections::BTreeMap<String, u64>,
    used: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    before.iter().map(|(k, v)| (k.clone(), v.saturating_sub(used.get(k).copied().unwrap_or(0)))).collect()
}

/// `cdnsync status` output.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The state folder.
    pub state_dir: String,
    /// Files in the manifest (`None` before the first sync).
    pub tracked_files: Option<usize>,
    /// When the manifest was last written.
    pub last_deploy_unix: Option<i64>,
    /// Owed jobs by status.
    pub outbox: OutboxCounts,
    /// The owed jobs.
    pub jobs: Vec<JobReport>,
    /// Where the credentials come from (never the secret).
    pub credentials: Option<String>,
    /// With `--tasks`: the recent tasks' states.
    pub tasks: Vec<serde_json::Value>,
}
