//! Drain owed jobs through a [`CdnApi`]: rate-limited, a few requests in flight, retries with
//! backoff, quota-aware, and never forgetting a job — each outcome is written to the outbox
//! before the next step (accepted jobs are removed from it, all others stay).

mod outcome;
pub mod ratelimit;
pub mod refused;
pub mod retry;
pub mod shared;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::{CdnApi, Class, Failure, TaskState};
use crate::clock::{next_quota_reset, Clock};
use crate::error::Result;
use crate::model::{Job, JobError, JobStatus, QuotaBook};
use crate::progress::Progress;
use crate::state::history::History;
use crate::state::ledger::Ledger;
use crate::state::outbox::Outbox;
use ratelimit::RateLimit;
use refused::RefusedLookups;

/// How the submitter behaves.
#[derive(Clone, Debug)]
pub struct SubmitOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The rate limit of each action (API 3.0: 20/s, or less as configured; v2: 100/min).
    pub rate: RateRule,
    /// Stop retrying transient failures this long after the run started; the job stays owed.
    pub retry_deadline: Duration,
    /// How long to wait for purges to finish before prefetching the same URLs (API 3.0 polls).
    pub purge_wait: Duration,
    /// The legacy API cannot be polled: wait this long after its purges instead.
    pub fixed_purge_delay: Option<Duration>,
}

/// How many requests an action may make (each action is limited on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateRule {
    /// At most this many a second.
    PerSecond(u32),
    /// At most this many a minute.
    PerMinute(u32),
}

impl RateRule {
    fn limiter(self) -> RateLimit {
        match self {
            RateRule::PerSecond(n) => RateLimit::per_second(n),
            RateRule::PerMinute(n) => RateLimit::per_minute(n),
        }
    }
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            concurrency: 4,
            rate: RateRule::PerSecond(crate::model::limits::V3_REQUESTS_PER_SECOND),
            retry_deadline: Duration::from_secs(300),
            purge_wait: Duration::from_secs(300),
            fixed_purge_delay: None,
        }
    }
}

struct Shared {
    queue: VecDeque<Job>,
    done: Vec<Job>,
    /// Remaining quota per (kind, area), when known.
    quota: Option<QuotaBook>,
    seq: usize,
    error: Option<crate::error::Error>,
    /// Task IDs that belong to other jobs (recent history and this run): an ambiguous job's
    /// lookup must never claim one of them, or a purge owed would be taken as done.
    taken: HashSet<String>,
}

/// Drains jobs.
pub struct Submitter<'a, A: CdnApi> {
    /// The API.
    pub api: &'a A,
    /// Time and sleeping.
    pub clock: Arc<dyn Clock>,
    /// Where jobs are persisted.
    pub outbox: &'a Outbox,
    /// Limits and timings.
    pub opts: SubmitOptions,
    /// Progress observer.
    pub progress: &'a dyn Progress,
    /// Task IDs of jobs already accepted (`history.json` and `accepted.log`).
    pub known_tasks: HashSet<String>,
    /// Where each accepted task is noted, durably, before its job leaves the outbox.
    pub history: Option<&'a History>,
    /// Requests sent so far (submissions and task lookups), for the summary.
    pub requests: std::sync::atomic::AtomicUsize,
    /// The rate limit of each action, shared by every run of one engine (so that watch mode's
    /// syncs and ad hoc purges in one process count each other's requests).
    pub limits: RateLimits,
    /// Where accepted jobs are counted when the API has no quota query (legacy v2).
    pub ledger: Option<&'a Ledger>,
    /// Task lookups the API refused for good (see [`Self::warnings`]).
    pub lookups_refused: RefusedLookups,
    /// `[fleet]`: the account's rate window shared with the other members ([`shared`]).
    pub fleet: Option<shared::FleetRate>,
}

/// Rate limits by action (see [`ratelimit`]).
pub type RateLimits = Arc<Mutex<HashMap<&'static str, RateLimit>>>;

impl<A: CdnApi> Submitter<'_, A> {
    /// Send `jobs` (owed jobs first, then new ones; prefetches only after the purges of their
    /// domain and area are done). Returns every job with its final status.
    pub async fn run(&self, jobs: Vec<Job>, quota: Option<QuotaBook>) -> Result<Vec<Job>> {
        let now = self.clock.now_unix();
        self.progress.submitting(jobs.len());
        let (mut purges, mut prefetches): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.kind.is_purge());
        let mut finished = Vec::new();
        // Deferred jobs whose reset has not come yet stay as they are, unsent. A time past the
        // next reset is not one cdnsync writes (a job is deferred to the next 00:00 UTC+8): the
        // job is due, rather than held for ever.
        let reset = next_quota_reset(now);
        let not_yet = |j: &Job| j.status == JobStatus::Deferred && j.not_before_unix.is_some_and(|t| t > now && t <= reset);
        for list in [&mut purges, &mut prefetches] {
            let (wait, go): (Vec<Job>, Vec<Job>) = std::mem::take(list).into_iter().partition(not_yet);
            finished.extend(wait);
            *list = go;
        }
        let deadline_ms = self.clock.now_ms() + self.opts.retry_deadline.as_millis() as i64;
        let shared =
            Mutex::new(Shared { queue: purges.into(), done: Vec::new(), quota, seq: 0, error: None, taken: self.known_tasks.clone() });
        self.drain(&shared, deadline_ms).await;
        let purge_done = std::mem::take(&mut shared.lock().expect("submit state").done);

        // Prefetch only after the purges of the same domain and area have finished.
        let mut ready = Vec::new();
        for mut p in prefetches {
            let blocked = purge_done
                .iter()
                .chain(finished.iter())
                .any(|j| j.kind.is_purge() && j.host == p.host && j.area == p.area && j.status != JobStatus::Accepted);
            if blocked {
                p.status = if p.status == JobStatus::Planned { JobStatus::Pending } else { p.status };
                p.error = Some(JobError {
                    code: "WaitingForPurge".into(),
                    message: "the purge of the same domain and area is still owed".into(),
                });
                self.outbox.put(std::slice::from_ref(&p))?;
                finished.push(p);
            } else {
                ready.push(p);
            }
        }
        if !ready.is_empty() {
            let accepted: Vec<&Job> = purge_done
                .iter()
                .filter(|j| j.status == JobStatus::Accepted && ready.iter().any(|p| p.host == j.host && p.area == j.area))
                .collect();
            if !accepted.is_empty() {
                self.wait_for(&accepted, self.opts.purge_wait).await;
            }
            shared.lock().expect("submit state").queue = ready.into();
            self.drain(&shared, deadline_ms.max(self.clock.now_ms() + 60_000)).await;
        }
        let mut s = shared.into_inner().expect("submit state");
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        finished.extend(purge_done);
        finished.extend(s.done);
        Ok(finished)
    }

    /// Poll accepted jobs until their tasks are done or `limit` has passed.
    /// Returns true when every task is known to be done.
    pub async fn wait_for(&self, jobs: &[&Job], limit: Duration) -> bool {
        if let Some(d) = self.opts.fixed_purge_delay {
            self.clock.sleep(d.min(limit)).await;
            return false;
        }
        let until = self.clock.now_ms() + limit.as_millis() as i64;
        let mut pending: Vec<&Job> = jobs.iter().copied().filter(|j| j.task_id.is_some()).collect();
        let mut polls = 0;
        loop {
            let mut still = Vec::new();
            for j in pending {
                match self.api.task_state(j).await {
                    Ok(Some(TaskState::Done)) | Ok(Some(TaskState::Failed)) | Ok(None) => {}
                    _ => still.push(j),
                }
            }
            pending = still;
            if pending.is_empty() {
                return true;
            }
            if self.clock.now_ms() >= until {
                return false;
            }
            polls += 1;
            self.clock.sleep(retry::TASK_POLL.delay(polls, None)).await;
        }
    }

    async fn drain(&self, shared: &Mutex<Shared>, deadline_ms: i64) {
        let workers = (0..self.opts.concurrency.max(1)).map(|_| self.worker(shared, deadline_ms));
        futures_util::future::join_all(workers).await;
    }

    async fn worker(&self, shared: &Mutex<Shared>, deadline_ms: i64) {
        loop {
            let job = {
                let mut s = shared.lock().expect("submit state");
                if s.error.is_some() {
                    return;
                }
                match s.queue.pop_front() {
                    Some(j) => j,
                    None => return,
                }
            };
            match self.one(shared, job, deadline_ms).await {
                Ok(jobs) => {
                    let mut s = shared.lock().expect("submit state");
                    for j in jobs {
                        self.progress.job_done(&j);
                        s.done.push(j);
                    }
                }
                Err(e) => {
                    shared.lock().expect("submit state").error.get_or_insert(e);
                    return;
                }
            }
        }
    }

    /// Carry one job to an outcome. Returns the job(s) it became (a split makes several).
    async fn one(&self, shared: &Mutex<Shared>, mut job: Job, deadline_ms: i64) -> Result<Vec<Job>> {
        let action = self.api.action(job.kind, job.area);
        let mut attempt = 0u32;
        let mut out = Vec::new();
        loop {
            // Quota we know is gone: defer without spending a request; partly gone: send what fits.
            let avail = shared.lock().expect("submit state").quota.as_ref().and_then(|q| q.get(job.kind, job.area)).map(|q| q.available);
            if let Some(avail) = avail {
                if avail == 0 {
                    self.defer(&mut job, None)?;
                    out.push(job);
                    return Ok(out);
                }
                if (job.urls.len() as u64) > avail && job.maybe_sent_unix.is_none() {
                    let rest = job.urls.split_off(avail as usize);
                    let mut later = self.child(shared, &job, rest);
                    self.outbox.put(std::slice::from_ref(&later))?;
                    self.outbox.put(std::slice::from_ref(&job))?;
                    self.defer(&mut later, None)?;
                    out.push(later);
                }
            }
            if let Some(since) = job.maybe_sent_unix {
                // The last request may have been accepted: look before sending again (unless
                // the API already refused this run's lookups of this kind: it will again).
                if let Some(f) = self.refused_before(&job) {
                    self.lookup_refused(&job, &f);
                    job.maybe_sent_unix = None;
                    continue;
                }
                let ticket = self.rate_wait("Describe").await;
                self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let found = self.api.find_tasks(&job, since).await;
                self.rate_done("Describe", ticket).await;
                match found {
                    Ok(tasks) => {
                        let mine = {
                            let st = shared.lock().expect("submit state");
                            tasks.into_iter().find(|t| !st.taken.contains(t))
                        };
                        if let Some(task) = mine {
                            self.accept(shared, &mut job, Some(task))?;
                            out.push(job);
                            return Ok(out);
                        }
                        job.maybe_sent_unix = None;
                    }
                    Err(f) if f.class() == Class::Permanent => {
                        // The API will not say (a key that may purge but not list tasks, say):
                        // asking again changes nothing. Resend, and say what would avoid it.
                        self.lookup_refused(&job, &f);
                        job.maybe_sent_unix = None;
                    }
                    Err(f) => {
                        attempt += 1;
                        if !self.backoff_or_give_up(&mut job, &f, Class::Transient, attempt, deadline_ms).await? {
                            out.push(job);
                            return Ok(out);
                        }
                        continue;
                    }
                }
            }
            attempt += 1;
            job.attempts += 1;
            let sent_at = self.clock.now_unix();
            // Say durably that this job may be at the API before it is: if the process dies
            // while the request is out (or waits for its slot), the rerun looks the task up
            // instead of sending it twice. Done before taking the slot, so that a slow fsync
            // is not counted as time on the network.
            job.maybe_sent_unix = Some(sent_at);
            self.outbox.put(std::slice::from_ref(&job))?;
            let ticket = self.rate_wait(action).await;
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sent_ms = self.clock.now_ms();
            let res = self.api.submit(&job).await;
            self.rate_done(action, ticket).await;
            // `-vv`: one line per request, never a secret (URLs are counted, not listed).
            tracing::debug!(
                action,
                area = %job.area,
                urls = job.urls.len(),
                latency_ms = self.clock.now_ms() - sent_ms,
                status = %res.as_ref().map_or_else(|f| f.to_job_error().code, |_| "accepted".to_string()),
                "submitted"
            );
            if res.as_ref().is_err_and(|f| f.class() != Class::Ambiguous) {
                // A definite answer: the API did not take it.
                job.maybe_sent_unix = None;
            }
            match res {
                Ok(acc) => {
                    // Targets the API named as not taken (EdgeOne's FailedList) failed; the rest
                    // were accepted. The failed part is persisted before the job leaves the outbox.
                    let (kept, refused, error) = acc.split(&job.urls);
                    if let Some(error) = error {
                        if kept.is_empty() {
                            job.status = JobStatus::Failed;
                            job.error = Some(error);
                            job.maybe_sent_unix = None;
                            self.outbox.put(std::slice::from_ref(&job))?;
                            out.push(job);
                            return Ok(out);
                        }
                        let mut failed = self.child(shared, &job, refused);
                        failed.status = JobStatus::Failed;
                        failed.error = Some(error);
                        self.outbox.put(std::slice::from_ref(&failed))?;
                        out.push(failed);
                        job.urls = kept;
                    }
                    self.accept(shared, &mut job, acc.task_id)?;
                    out.push(job);
                    return Ok(out);
                }
                Err(f) => {
                    tracing::debug!(job = %job.id, error = %crate::text::Printable(&f), "request failed");
                    match f.class() {
                        Class::Transient | Class::Throttled => {
                            if !self.backoff_or_give_up(&mut job, &f, f.class(), attempt, deadline_ms).await? {
                                out.push(job);
                                return Ok(out);
                            }
                        }
                        Class::Ambiguous => {
                            if !self.backoff_or_give_up(&mut job, &f, Class::Transient, attempt, deadline_ms).await? {
                                out.push(job);
                                return Ok(out);
                            }
                        }
                        Class::QuotaExhausted => {
                            if let Some(q) = shared.lock().expect("submit state").quota.as_mut() {
                                if let Some(mut e) = q.get(job.kind, job.area) {
                                    e.available = 0;
                                    q.set(job.kind, job.area, e);
                                }
                            }
                            self.defer(&mut job, Some(&f))?;
                            out.push(job);
                            return Ok(out);
                        }
                        Class::BatchTooLarge if job.urls.len() > 1 => {
                            // Split in halves, persist both before forgetting the original.
                            let half = job.urls.len() / 2;
                            let rest = job.urls.split_off(half);
                            let b = self.child(shared, &job, rest);
                            let first = std::mem::take(&mut job.urls);
                            let a = self.child(shared, &job, first);
                            self.outbox.put(&[a.clone(), b.clone()])?;
                            self.outbox.remove(&job.id)?;
                            {
                                let mut s = shared.lock().expect("submit state");
                                if let Some(q) = s.quota.as_mut() {
                                    if let Some(mut e) = q.get(a.kind, a.area) {
                                        e.batch = e.batch.min(half as u64).max(1);
                                        q.set(a.kind, a.area, e);
                                    }
                                }
                                s.queue.push_front(b);
                                s.queue.push_front(a);
                            }
                            return Ok(out);
                        }
                        Class::BatchTooLarge | Class::Permanent => {
                            job.status = JobStatus::Failed;
                            job.error = Some(f.to_job_error());
                            self.outbox.put(std::slice::from_ref(&job))?;
                            out.push(job);
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }

    /// The refusal of an earlier lookup needing the same permission in this run, if any.
    fn refused_before(&self, job: &Job) -> Option<Failure> {
        self.lookups_refused.earlier(self.api.lookup_permission(job.kind)?)
    }

    fn lookup_refused(&self, job: &Job, f: &Failure) {
        let perm = self.api.lookup_permission(job.kind);
        tracing::debug!(job = %job.id, error = %crate::text::Printable(f), "task lookup refused ({}); resending", perm.unwrap_or("?"));
        self.lookups_refused.note(perm, f);
    }

    /// What the run should warn about: task lookups the API refused (the jobs concerned were
    /// resent, and may have spent their quota twice).
    pub fn warnings(&self) -> Vec<String> {
        self.lookups_refused.warnings()
    }
}

#[cfg(test)]
mod tests;
