//! What a run did, as data: the [`Report`] of `plan`, `sync`, `purge` and `prefetch`, and the
//! [`StatusReport`] of `status`. These serialise to the JSON of `docs/json.md`; the CLI renders
//! them as text. No decisions are made here except the exit code of a completed run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Area, ChangeSet, Job, JobError, JobKind, JobStatus, OutsideLink};

/// One job in a report.
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
    /// Where it stands.
    pub status: JobStatus,
    /// The API's task ID once accepted.
    pub task_id: Option<String>,
    /// Why it is not accepted.
    pub error: Option<JobError>,
    /// A deferred job is not sent before this time (Unix seconds; the next 00:00 China Standard
    /// Time).
    pub not_before_unix: Option<i64>,
}

impl JobReport {
    /// The report line of `job`, sent with `action`.
    pub fn of(job: &Job, action: &'static str) -> Self {
        JobReport {
            id: job.id.clone(),
            kind: job.kind,
            area: job.area,
            host: job.host.clone(),
            action,
            urls: job.urls.clone(),
            status: job.status,
            task_id: job.task_id.clone(),
            error: job.error.clone(),
            not_before_unix: job.not_before_unix,
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

/// Counts of owed jobs by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be (re)sent.
    pub pending: usize,
    /// Held until the daily quota resets.
    pub deferred: usize,
    /// Refused for good; resent by `sync --retry-failed`.
    pub failed: usize,
}

impl OutboxCounts {
    /// Count `jobs` by status.
    pub fn of(jobs: &[Job]) -> Self {
        let mut c = OutboxCounts::default();
        for j in jobs {
            match j.status {
                JobStatus::Deferred => c.deferred += 1,
                JobStatus::Failed => c.failed += 1,
                JobStatus::Pending | JobStatus::Planned => c.pending += 1,
                JobStatus::Accepted => {}
            }
        }
        c
    }
}

/// Quota left per `kind/area` key.
pub type QuotaLeft = BTreeMap<String, u64>;

/// What a plan or sync did (`docs/json.md`), plus details for the human summary.
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
    /// Symlinks that lead out of `publish_dir` (`docs/config.md`, `symlinks`), followed or not.
    pub links_outside: Vec<OutsideLink>,
    /// Quota left per `kind/area` before this plan.
    pub quota_before: QuotaLeft,
    /// Remaining quota after the run's jobs (estimated).
    pub quota_after: QuotaLeft,
    /// With `--wait`: did every submitted task finish, and well? `None` without `--wait`, or when
    /// the API cannot be asked (legacy v2).
    pub tasks_finished: Option<bool>,
    /// With `--wait`: how the tasks ended.
    pub wait: Option<WaitReport>,
    /// Owed jobs this run did not try to send: failed ones from earlier runs (resent only by
    /// `--retry-failed` or `cdnsync outbox retry`) and, for `purge`, `prefetch` and `outbox retry`,
    /// every other owed job. Reported, never counted in the exit code.
    pub held: Vec<JobReport>,
    /// The rule a run that found no manifest applied (`if_no_state`); `None` when a manifest was
    /// found (or `--all`/`--baseline` was given).
    pub no_state_rule: Option<crate::config::NoStateRule>,
    /// API requests sent to submit jobs or look them up (not counting quota and task polls).
    pub requests: usize,
    /// With `sync --verify`: what the CDN serves for the deploy's URLs.
    pub verify: Option<VerifyReport>,
}

impl Report {
    /// The exit code of a completed run (`docs/exit-codes.md`), from this run's jobs only (never
    /// [`Report::held`]): 3 if one was refused for good, else 1 if one is still owed after
    /// transient failures, else 4 if one was deferred by quota, else 0 (and 1 when `--wait` found
    /// tasks unfinished or failed at the CDN).
    pub fn exit_code(&self) -> u8 {
        let here = |s: JobStatus| self.jobs.iter().any(|j| j.status == s);
        if here(JobStatus::Failed) {
            3
        } else if here(JobStatus::Pending) {
            1
        } else if here(JobStatus::Deferred) {
            4
        } else if self.tasks_finished == Some(false) {
            1
        } else {
            self.verify.as_ref().map_or(0, VerifyReport::exit_code)
        }
    }
}

/// One task in a [`WaitReport`].
#[derive(Clone, Debug, Serialize)]
pub struct TaskRef {
    /// The job's ID.
    pub id: String,
    /// The API's task ID.
    pub task_id: Option<String>,
    /// What the job does.
    pub kind: JobKind,
    /// Mainland or overseas.
    pub area: Area,
    /// The CDN domain.
    pub host: String,
}

impl TaskRef {
    /// The task of `job`.
    pub fn of(job: &Job) -> Self {
        TaskRef { id: job.id.clone(), task_id: job.task_id.clone(), kind: job.kind, area: job.area, host: job.host.clone() }
    }
}

/// How the accepted tasks ended, with `--wait`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WaitReport {
    /// Tasks waited for (the jobs accepted in this run).
    pub tasks: usize,
    /// Finished well.
    pub done: usize,
    /// Reported failed by the CDN: the cache was not purged (or the URL not prefetched).
    pub failed: Vec<TaskRef>,
    /// Still running when the wait ran out.
    pub running: Vec<TaskRef>,
    /// Tasks whose state this API cannot report (legacy v2), or that carry no task ID.
    pub cannot_tell: usize,
    /// How long the wait took, in seconds.
    pub waited_secs: u64,
}

impl WaitReport {
    /// `Some(true)`: every task finished well; `Some(false)`: some still run or failed; `None`:
    /// nothing can be told (the API cannot be asked).
    pub fn finished(&self) -> Option<bool> {
        if !self.failed.is_empty() || !self.running.is_empty() {
            Some(false)
        } else if self.cannot_tell > 0 && self.done == 0 {
            None
        } else {
            Some(true)
        }
    }
}

/// A job given up with `cdnsync outbox drop` (`state_dir/dropped.json`), for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct DroppedReport {
    /// The job as it was when dropped.
    pub job: JobReport,
    /// When it was dropped (Unix seconds).
    pub dropped_unix: i64,
}

/// What `cdnsync verify` (or `sync --verify`) found: one [`UrlCheck`] per URL, the counts, and
/// what `--repurge` sent (`docs/json.md`, "Verify").
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// What was checked: `last_deploy` (the files the last deploy changed) or `all_tracked`.
    pub source: &'static str,
    /// When the deploy checked was recorded (`last_deploy`).
    pub deployed_unix: Option<i64>,
    /// URLs checked.
    pub checked: usize,
    /// Served the deployed bytes.
    pub fresh: usize,
    /// Served the bytes from before the deploy.
    pub stale: usize,
    /// Served other bytes (a mapping or transformation problem).
    pub different: usize,
    /// Answered with an error status, or not at all.
    pub errors: usize,
    /// One per URL checked.
    pub results: Vec<UrlCheck>,
    /// URLs not checked because their purge is still owed (in the outbox).
    pub owed: Vec<String>,
    /// URLs `--repurge` purged again (then checked again).
    pub repurged: Vec<String>,
    /// The jobs `--repurge` sent.
    pub jobs: Vec<JobReport>,
    /// Things worth knowing.
    pub notes: Vec<String>,
    /// Problems that did not stop the run.
    pub warnings: Vec<String>,
    /// The exit code the checks call for (decided by the verify module's summary).
    #[serde(skip)]
    pub code: u8,
}

impl VerifyReport {
    /// 0 all fresh; 6 some stale, different or refused (3xx, 4xx); 1 some unanswered or 5xx
    /// (`docs/exit-codes.md`).
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

/// What the CDN served for one URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UrlCheck {
    /// The URL.
    pub url: String,
    /// Its `[[domain]]` host.
    pub host: String,
    /// How it was checked: `hash`, `etag` or `status`.
    pub mode: &'static str,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// `fresh`, `stale`, `different` or `error`.
    pub result: &'static str,
    /// For `different`: what explains it (`{"code", "message"}`); empty otherwise.
    pub reasons: Vec<Reason>,
    /// For `error`: what happened; `null` otherwise.
    pub message: Option<String>,
}

/// Why bytes served are neither the new nor the old ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// A short name: `content_encoding`, `size`, `content_type`, `html_page`, `minified`,
    /// `too_large`, `etag` or `other_bytes`.
    pub code: &'static str,
    /// One sentence.
    pub message: String,
}

/// `before` less `used`, per key.
pub fn quota_after(before: &QuotaLeft, used: &QuotaLeft) -> QuotaLeft {
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
    /// Jobs given up with `cdnsync outbox drop`, most recent last (the last 100).
    pub dropped: Vec<DroppedReport>,
    /// Symlinks that lead out of `publish_dir` now, followed or not.
    pub links_outside: Vec<OutsideLink>,
    /// Problems that did not stop the command.
    pub warnings: Vec<String>,
    /// With `[fleet]`: the group's members as Redis knows them.
    pub fleet: Option<FleetStatus>,
}

/// `status` under `[fleet]`.
#[derive(Clone, Debug, Serialize)]
pub struct FleetStatus {
    /// The group.
    pub group: String,
    /// This member's name.
    pub member: String,
    /// Why the members could not be listed (Redis unreachable, say).
    pub error: Option<String>,
    /// Every member Redis remembers, live or not.
    pub members: Vec<FleetMemberReport>,
}

/// One member of the fleet.
#[derive(Clone, Debug, Serialize)]
pub struct FleetMemberReport {
    /// Its name.
    pub name: String,
    /// It heartbeated within the TTL (a member that is not live holds no purge back).
    pub live: bool,
    /// Its whole served state is published.
    pub ready: bool,
    /// Its last heartbeat (Unix seconds).
    pub last_seen_unix: i64,
    /// Its last deploy, as it reported it.
    pub last_deploy: Option<String>,
    /// When that deploy finished (Unix seconds).
    pub last_deploy_unix: Option<i64>,
    /// How far its last deploy is behind the newest among live members, in seconds.
    pub behind_secs: Option<i64>,
}

impl FleetMemberReport {
    /// From the coordinator's view.
    pub fn of(m: &crate::fleet::Member) -> Self {
        FleetMemberReport {
            name: m.name.clone(),
            live: m.live,
            ready: m.ready,
            last_seen_unix: m.last_seen_ms.div_euclid(1000),
            last_deploy: m.deploy.as_ref().map(|d| d.id.clone()),
            last_deploy_unix: m.deploy.as_ref().map(|d| d.at_ms.div_euclid(1000)),
            behind_secs: m.behind_ms.map(|b| b / 1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[JobStatus], outbox: OutboxCounts, finished: Option<bool>) -> Report {
        let jobs = statuses
            .iter()
            .map(|s| {
                let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec![], 0, 1);
                j.status = *s;
                JobReport::of(&j, "PurgeUrlsCache")
            })
            .collect();
        Report { jobs, outbox, tasks_finished: finished, ..Report::default() }
    }

    #[test]
    fn exit_code_table() {
        use JobStatus::*;
        let none = OutboxCounts::default();
        let cases: &[(&[JobStatus], OutboxCounts, Option<bool>, u8)] = &[
            (&[Accepted], none, None, 0),
            (&[Accepted], none, Some(true), 0),
            (&[Accepted], none, Some(false), 1),
            (&[Accepted, Deferred], none, None, 4),
            // What the outbox still holds from earlier runs is reported, never this run's code.
            (&[Accepted], OutboxCounts { deferred: 1, ..none }, None, 0),
            (&[Deferred, Pending], none, None, 1),
            (&[Pending, Failed], none, None, 3),
            (&[], OutboxCounts { failed: 1, ..none }, None, 0),
        ];
        for (statuses, outbox, finished, want) in cases {
            assert_eq!(report(statuses, *outbox, *finished).exit_code(), *want, "{statuses:?} {outbox:?} {finished:?}");
        }
    }

    #[test]
    fn held_jobs_are_reported_never_counted_and_a_failed_task_is_not_finished() {
        let mut r = report(&[JobStatus::Accepted], OutboxCounts { failed: 1, ..OutboxCounts::default() }, None);
        r.held = report(&[JobStatus::Failed], OutboxCounts::default(), None).jobs;
        assert_eq!(r.exit_code(), 0);
        let t = TaskRef { id: "j".into(), task_id: Some("t".into()), kind: JobKind::PurgeUrls, area: Area::Mainland, host: "h.com".into() };
        let w = |done, failed: usize, running: usize, cannot_tell| WaitReport {
            tasks: done + failed + running + cannot_tell,
            done,
            failed: vec![t.clone(); failed],
            running: vec![t.clone(); running],
            cannot_tell,
            waited_secs: 1,
        };
        assert_eq!(w(2, 0, 0, 0).finished(), Some(true));
        assert_eq!(w(1, 1, 0, 0).finished(), Some(false), "failed at the CDN is not finished well");
        assert_eq!(w(1, 0, 1, 0).finished(), Some(false));
        assert_eq!(w(0, 0, 0, 2).finished(), None, "cannot tell");
        assert_eq!(w(0, 0, 0, 0).finished(), Some(true));
        r.tasks_finished = w(1, 1, 0, 0).finished();
        assert_eq!(r.exit_code(), 1);
    }

    #[test]
    fn status_serialises_as_before() {
        let r = report(&[JobStatus::Deferred], OutboxCounts::default(), None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["jobs"][0]["status"], "deferred");
        assert_eq!(v["jobs"][0]["action"], "PurgeUrlsCache");
    }
}
