//! One plan or sync, start to finish (`docs/cli.md`, "What a sync does"), read top to bottom:
//! lock -> owed jobs -> scan -> diff -> map -> plan -> persist (outbox, then manifest) -> submit
//! -> report. Generic over the API ([`CdnApi`]) and the clock.
//!
//! The scan and the planning are blocking work (reading and hashing files, planning 100,000
//! paths): they run on tokio's blocking pool, so that a sync never stalls the runtime it runs on
//! and watch mode still sees a shutdown signal mid-scan (it cancels the scan through
//! [`SyncOptions::cancel`]; nothing has been written or sent by then).

use std::sync::Arc;
use std::time::Duration;

mod fleet;
mod nostate;
mod origin;
mod owed;
mod published;
mod scanned;
mod status;
mod verify;
mod wait;

pub use fleet::{FLEET_BARRIER, FLEET_CLAIMED};
pub use owed::OutboxPick;

use crate::api::{self, CdnApi, Failure};
use crate::clock::Clock;
use crate::config::{Config, V2Overseas};
use crate::error::{Error, Result};
use crate::model::{Api, Job, JobStatus, QuotaBook};
use crate::plan::adhoc;
use crate::progress::{Cancel, Progress};
use crate::report::{quota_after, JobReport, OutboxCounts, Report, WaitReport};
use crate::scan::ScanSpec;
use crate::state::history::History;
use crate::state::ledger::Ledger;
use crate::state::{self, lock::StateLock, manifest, outbox::Outbox};
use crate::submit::{RateLimits, RateRule, SubmitOptions, Submitter};
use scanned::{plan_jobs, scan_and_diff, Scanned};
pub use verify::{VerifyOptions, VERIFY_WAIT};

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
    /// What to do when no manifest is found (`--if-no-state`); `None`: the config's `if_no_state`.
    pub if_no_state: Option<crate::config::NoStateRule>,
    /// Then check what the CDN serves for the deploy's URLs (`sync --verify`; implies `wait`,
    /// 600 s unless set).
    pub verify: bool,
    /// Only these paths (relative to `publish_dir`, files or directories) may have changed: rescan
    /// just them and carry the rest of the manifest over (watch mode, or a site generator that
    /// knows what it wrote). `Some(vec![])` scans nothing and only sends owed jobs. Ignored
    /// (a whole scan) when there is no manifest yet.
    pub paths: Option<Vec<String>>,
    /// Stops the scan early (the sync then fails with [`Error::Cancelled`], having written and
    /// sent nothing). Once jobs are persisted the sync runs to its end.
    pub cancel: Cancel,
}

/// The engine: a config, an API and a clock.
pub struct Engine<A: CdnApi> {
    /// The validated config.
    pub config: Arc<Config>,
    /// The CDN API (or the fake, or a test double).
    pub api: A,
    /// Time and sleeping.
    pub clock: Arc<dyn Clock>,
    /// How long to wait for another cdnsync's lock.
    pub lock_timeout: Duration,
    /// The API's rate limits, as this engine's requests have used them.
    limits: RateLimits,
    /// `[fleet]`'s coordinator, once built.
    fleet: fleet::FleetCell,
}

/// What sending some jobs gave.
struct Sent {
    /// Every job with its outcome.
    done: Vec<Job>,
    /// With `--wait`: how their tasks ended.
    waited: Option<WaitReport>,
    /// Requests made.
    requests: usize,
    /// What the run should say (a lookup the key may not make, say).
    warnings: Vec<String>,
}

impl<A: CdnApi> Engine<A> {
    /// An engine with the default lock timeout (60 s).
    pub fn new(config: Config, api: A, clock: Arc<dyn Clock>) -> Self {
        Engine {
            config: Arc::new(config),
            api,
            clock,
            lock_timeout: Duration::from_secs(60),
            limits: Default::default(),
            fleet: Default::default(),
        }
    }

    /// The same engine (config, clock, lock timeout, rate limits) over another API: one that
    /// observes the calls of this one, say.
    pub(crate) fn with_api<B: CdnApi>(&self, api: B) -> Engine<B> {
        Engine {
            config: self.config.clone(),
            api,
            clock: self.clock.clone(),
            lock_timeout: self.lock_timeout,
            limits: self.limits.clone(),
            fleet: self.fleet.clone(),
        }
    }

    fn outbox(&self) -> Outbox {
        Outbox::new(&self.config.state_dir)
    }

    fn history(&self) -> History {
        History::new(&self.config.state_dir)
    }

    /// The jobs still owed (pending, deferred, failed), read from the outbox. Needs no lock.
    pub fn owed(&self) -> Result<Vec<Job>> {
        self.outbox().load()
    }

    /// What a scan of `publish_dir` covers.
    pub fn scan_spec(&self) -> ScanSpec {
        ScanSpec::of(&self.config)
    }

    fn action(&self, j: &Job) -> &'static str {
        api::action_name(self.config.provider.api, self.config.provider.v2_overseas, j.kind, j.area)
    }

    fn reports(&self, jobs: &[Job]) -> Vec<JobReport> {
        jobs.iter().map(|j| JobReport::of(j, self.action(j))).collect()
    }

    fn v2_dedicated(&self) -> bool {
        self.config.provider.api == Api::V2 && self.config.provider.v2_overseas == V2Overseas::Dedicated
    }

    /// The last quota the API reported (`quota.json`), else the documented one.
    fn known_quota(&self) -> QuotaBook {
        state::load_quota(&self.config.state_dir).unwrap_or_else(|| QuotaBook::documented(self.config.provider.api, self.v2_dedicated()))
    }

    /// The quota now: the API's answer, or for an API without a quota query (v2) the ledger's.
    async fn fresh_quota(&self) -> Result<Option<QuotaBook>, Failure> {
        match self.api.quota().await? {
            Some(q) => Ok(Some(q)),
            None if self.config.provider.api == Api::V2 => {
                let now = self.clock.now_unix();
                Ok(Some(Ledger::new(&self.config.state_dir).today(now).quota(self.v2_dedicated(), now)))
            }
            None => Ok(None),
        }
    }

    /// `cdnsync plan`: what the next sync would do. No network, nothing written.
    pub fn plan(&self, opts: &SyncOptions) -> Result<Report> {
        let owed = self.outbox().load()?;
        let quota = self.known_quota();
        let s = scan_and_diff(&self.config, self.clock.as_ref(), opts, None, &(), &opts.cancel)?;
        let p = plan_jobs(&self.config, self.clock.as_ref(), opts, &s, &owed, &quota);
        let (held, owed) = owed::hold_failed(owed, opts.retry_failed);
        let mut jobs = self.reports(&owed);
        jobs.extend(self.reports(&p.jobs));
        let mut notes = p.notes;
        if let Some((rule, why)) = &s.no_state {
            notes.push(nostate::note(*rule, why, true, self.config.manifest_url.as_deref()));
        }
        let mut warnings = s.warnings;
        warnings.extend(owed::placeholder_warnings(&self.config));
        Ok(Report {
            held: self.reports(&held),
            no_state_rule: s.no_state.as_ref().map(|(r, _)| *r),
            wait: None,
            changes: s.changes,
            jobs,
            outbox: OutboxCounts::of(&owed),
            scan: s.scan,
            baseline: s.baseline,
            notes,
            warnings,
            links_outside: s.links_outside,
            quota_after: quota_after(&p.quota_before, &p.quota_used),
            quota_before: p.quota_before,
            tasks_finished: None,
            requests: 0,
            verify: None,
        })
    }

    /// Take the state directory's lock, waiting (on the engine's clock) up to `lock_timeout`.
    pub async fn lock(&self, what: &str) -> Result<StateLock> {
        StateLock::acquire(&self.config.state_dir, self.lock_timeout, what, self.clock.as_ref()).await
    }

    /// `cdnsync sync`: one deploy.
    pub async fn sync(&self, opts: &SyncOptions, progress: &dyn Progress) -> Result<Report> {
        let _lock = self.lock("cdnsync sync").await?;
        let outbox = self.outbox();
        let owed = outbox.load()?;
        let mut warnings = Vec::new();
        let mut notes = Vec::new();
        let remote = self.fetch_published(&mut notes, &mut warnings).await;
        let s = self.scan_off_runtime(opts, remote, progress).await?;
        if let Some((crate::config::NoStateRule::Fail, why)) = &s.no_state {
            return Err(nostate::fail(&self.config, why.clone()));
        }
        // Plan with the last known quota; only when there is something to send is the API asked
        // for fresh numbers (and the plan redone with them), so a sync that finds nothing to do
        // needs no network at all.
        let known = self.known_quota();
        let mut p = plan_jobs(&self.config, self.clock.as_ref(), opts, &s, &owed, &known);
        let mut fresh = None;
        if !owed.is_empty() || !p.jobs.is_empty() {
            match self.fresh_quota().await {
                Ok(q) => fresh = q,
                Err(f) => warnings.push(format!("could not read the quota ({f}); using the last known values")),
            }
            if let Some(q) = &fresh {
                state::save_quota(&self.config.state_dir, q)?;
                p = plan_jobs(&self.config, self.clock.as_ref(), opts, &s, &owed, q);
            }
        }
        let quota = fresh.unwrap_or(known);
        warnings.extend(s.warnings.iter().cloned());
        warnings.extend(owed::placeholder_warnings(&self.config));
        // Persist: the jobs first, then the manifest that makes them owed.
        let mut new_jobs = p.jobs;
        for j in &mut new_jobs {
            j.status = JobStatus::Pending;
        }
        outbox.put(&new_jobs)?;
        self.record_deploy(&s)?;
        crate::failpoint::hit("outbox-written");
        // Nothing changed and nothing needed rehashing (so nothing is racy): the manifest on
        // disk already says all this, and rewriting 100,000 entries would be the run's main cost.
        let unchanged = s.prev_is_local && s.scan.hashed == 0 && s.changes.is_empty();
        if !unchanged {
            manifest::save(&self.config.state_dir, &s.current)?;
        }
        crate::failpoint::hit("manifest-written");
        // Submit: owed jobs first, then the new ones.
        let (held, mut to_send) = owed::hold_failed(owed, opts.retry_failed);
        to_send.extend(new_jobs);
        let (to_send, origin_held) = self.origin_gate(to_send, &s, &outbox, &mut notes).await?;
        let (to_send, gated) = self.fleet_gate(to_send, &s, &outbox, &mut notes, &mut warnings).await?;
        let wait = opts.wait.or(opts.verify.then_some(VERIFY_WAIT));
        let Sent { done, waited, requests, warnings: sent_warnings } = self.send(&outbox, to_send, Some(quota), wait, progress).await?;
        warnings.extend(sent_warnings);
        let deploy = (!s.changes.is_empty()).then(|| format!("{} changed file(s) at {}", s.changes.changed_count(), self.clock.now_unix()));
        self.fleet_after(&gated, &done, deploy.as_deref(), &mut warnings).await;
        let verify = if opts.verify { Some(self.verify_after_sync(s.baseline, progress).await) } else { None };
        // Report.
        let remaining = outbox.load()?;
        if self.config.manifest_url.is_some() {
            self.publish_manifest(&s, remaining.is_empty(), &mut notes)?;
        }
        let mut jobs = self.reports(&done);
        jobs.extend(self.reports(&origin_held));
        notes.extend(p.notes);
        notes.extend(self.api.take_notes());
        if opts.baseline {
            notes.push("baseline recorded: the current tree counts as deployed; nothing new was purged".into());
        }
        if let Some((rule, why)) = &s.no_state {
            notes.push(nostate::note(*rule, why, false, self.config.manifest_url.as_deref()));
        }
        if !held.is_empty() {
            notes.push(owed::held_note(held.len()));
        }
        // Held for the fleet: another member's sync sends it (or this one's next); not this run's debt.
        let mut held = self.reports(&held);
        held.extend(self.reports(&gated.held));
        Ok(Report {
            held,
            no_state_rule: s.no_state.as_ref().map(|(r, _)| *r),
            tasks_finished: waited.as_ref().and_then(|w| w.finished()),
            wait: waited,
            changes: s.changes,
            jobs,
            outbox: OutboxCounts::of(&remaining),
            scan: s.scan,
            baseline: s.baseline,
            notes,
            warnings,
            links_outside: s.links_outside,
            quota_after: quota_after(&p.quota_before, &p.quota_used),
            quota_before: p.quota_before,
            requests,
            verify,
        })
    }

    /// Scan and diff on tokio's blocking pool, relaying the scan's progress to `progress`.
    async fn scan_off_runtime(&self, opts: &SyncOptions, remote: Option<manifest::Manifest>, progress: &dyn Progress) -> Result<Scanned> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let relay = crate::progress::Relay(tx);
        let (config, clock, opts2) = (self.config.clone(), self.clock.clone(), opts.clone());
        let task = tokio::task::spawn_blocking(move || scan_and_diff(&config, clock.as_ref(), &opts2, remote, &relay, &opts2.cancel));
        // Relay events until the scan's end closes the channel, then take its result.
        while let Some(ev) = rx.recv().await {
            ev.replay(progress);
        }
        task.await.map_err(|e| Error::runtime("the scan", e))?
    }

    fn submitter<'s>(
        &'s self,
        outbox: &'s Outbox,
        progress: &'s dyn Progress,
        any_jobs: bool,
        ledger: &'s Ledger,
        history: &'s History,
    ) -> Submitter<'s, A> {
        let l = &self.config.limits;
        let v2 = self.config.provider.api == Api::V2;
        let opts = SubmitOptions {
            concurrency: l.concurrency,
            rate: if v2 {
                RateRule::PerMinute(crate::model::limits::V2_REQUESTS_PER_MINUTE)
            } else {
                RateRule::PerSecond(l.requests_per_second)
            },
            retry_deadline: l.retry_deadline,
            fixed_purge_delay: v2.then_some(self.config.provider.v2_prefetch_delay),
            ..SubmitOptions::default()
        };
        // Only an ambiguous job's lookup needs them; a run with nothing to send skips the read.
        let known_tasks = if any_jobs { history.taken() } else { Default::default() };
        Submitter {
            api: &self.api,
            clock: self.clock.clone(),
            outbox,
            opts,
            progress,
            known_tasks,
            history: Some(history),
            lookups_refused: Default::default(),
            requests: Default::default(),
            limits: self.limits.clone(),
            ledger: v2.then_some(ledger),
            fleet: self.coordinator().ok().flatten().map(crate::submit::shared::FleetRate::new),
        }
    }

    /// Ad hoc jobs (`purge`, `prefetch`): planned from the arguments, persisted, then sent like
    /// any other.
    pub async fn submit_adhoc(&self, req: &adhoc::Request<'_>, progress: &dyn Progress) -> Result<Report> {
        if let Some(area) = req.area.filter(|a| !self.config.provider.api.areas().contains(a)) {
            return Err(Error::Usage(format!(
                "--area {area} does not apply to api = \"{}\": an EdgeOne task covers every node serving the zone; nothing was sent",
                self.config.provider.api.as_str()
            )));
        }
        let mut jobs = adhoc::jobs(&self.config.domains, &self.config.limits, req, self.clock.now_unix())?;
        let _lock = self.lock("cdnsync purge/prefetch").await?;
        let outbox = self.outbox();
        for j in &mut jobs {
            j.status = JobStatus::Pending;
        }
        outbox.put(&jobs)?;
        let quota = self.fresh_quota().await.ok().flatten();
        let Sent { done, waited, requests, warnings } = self.send(&outbox, jobs, quota, req.wait, progress).await?;
        let remaining = outbox.load()?;
        let held = owed::others(&remaining, &done);
        let mut notes = self.api.take_notes();
        if held.iter().any(|j| j.status == JobStatus::Failed) {
            notes.push(owed::held_note(held.iter().filter(|j| j.status == JobStatus::Failed).count()));
        }
        Ok(Report {
            jobs: self.reports(&done),
            warnings,
            held: self.reports(&held),
            notes,
            outbox: OutboxCounts::of(&remaining),
            requests,
            tasks_finished: waited.as_ref().and_then(|w| w.finished()),
            wait: waited,
            ..Report::default()
        })
    }

    /// Send `jobs` (already in the outbox) and record what became of them (the history, today's
    /// whole-site purges); then, with `wait`, poll their tasks until they finish.
    async fn send(
        &self,
        outbox: &Outbox,
        jobs: Vec<Job>,
        quota: Option<QuotaBook>,
        wait: Option<Duration>,
        progress: &dyn Progress,
    ) -> Result<Sent> {
        let ledger = Ledger::new(&self.config.state_dir);
        let history = self.history();
        let submitter = self.submitter(outbox, progress, !jobs.is_empty(), &ledger, &history);
        let done = submitter.run(jobs, quota).await?;
        history.record(&done)?;
        owed::count_root_purges(&self.config, &done, self.clock.now_unix());
        let waited = match wait {
            Some(limit) => Some(self.wait_tasks(&done, limit, progress).await),
            None => None,
        };
        Ok(Sent { requests: submitter.requests.load(std::sync::atomic::Ordering::Relaxed), warnings: submitter.warnings(), done, waited })
    }
}
