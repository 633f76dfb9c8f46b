//! The submitter against a recording API double, on a manual clock.

use std::sync::{Arc, Mutex};

use super::*;
use crate::api::Accepted;
use crate::clock::ManualClock;
use crate::model::{Area, JobKind};

/// Accepts every request and remembers which jobs it saw (by their one URL's path).
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<String>>,
}

impl CdnApi for Recorder {
    fn action(&self, _kind: JobKind, _area: Area) -> &'static str {
        "PurgeUrlsCache"
    }
    async fn submit(&self, job: &Job) -> std::result::Result<Accepted, Failure> {
        self.sent.lock().unwrap().push(job.urls[0].trim_start_matches("https://www.example.com/").to_string());
        Ok(Accepted { task_id: Some(format!("task-{}", job.id)), rejected: Vec::new() })
    }
    async fn quota(&self) -> std::result::Result<Option<QuotaBook>, Failure> {
        Ok(None)
    }
    async fn task_state(&self, _job: &Job) -> std::result::Result<Option<TaskState>, Failure> {
        Ok(None)
    }
    async fn find_tasks(&self, _job: &Job, _since_unix: i64) -> std::result::Result<Vec<String>, Failure> {
        Ok(Vec::new())
    }
}

/// 2026-11-23 23:59:00 China Standard Time: one minute before the quotas reset.
const LATE_EVENING_CST: i64 = 1_795_449_540;

fn job(id: &str, status: JobStatus, not_before: Option<i64>) -> Job {
    let mut j =
        Job::planned(JobKind::PurgeUrls, Area::Mainland, "www.example.com", vec![format!("https://www.example.com/{id}")], 0, id.len());
    j.status = status;
    j.not_before_unix = not_before;
    j
}

fn run(api: &Recorder, clock: &ManualClock, outbox: &Outbox, jobs: Vec<Job>) -> Vec<Job> {
    outbox.put(&jobs).unwrap();
    let s = Submitter {
        api,
        clock: Arc::new(clock.clone()),
        outbox,
        opts: SubmitOptions::default(),
        progress: &(),
        known_tasks: HashSet::new(),
        history: None,
        requests: Default::default(),
        limits: Default::default(),
        ledger: None,
        lookups_refused: Default::default(),
        fleet: None,
    };
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(s.run(jobs, None)).unwrap()
}

#[test]
fn a_deferred_job_is_not_sent_before_00_00_china_time_and_is_sent_after() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(tmp.path());
    let clock = ManualClock::new(LATE_EVENING_CST * 1000);
    let api = Recorder::default();
    let reset = next_quota_reset(LATE_EVENING_CST);
    assert_eq!(reset - LATE_EVENING_CST, 60);
    let jobs = vec![
        job("deferred", JobStatus::Deferred, Some(reset)),
        // A pending job carrying a time (left from an earlier deferral) is sent: only the
        // deferred status holds a job back.
        job("pending", JobStatus::Pending, Some(reset)),
    ];
    let done = run(&api, &clock, &outbox, jobs);
    assert_eq!(*api.sent.lock().unwrap(), ["pending"]);
    let held = done.iter().find(|j| j.urls[0].ends_with("/deferred")).unwrap();
    assert_eq!(held.status, JobStatus::Deferred, "still owed, unsent");
    // At the reset it goes.
    clock.advance(std::time::Duration::from_secs(60));
    let done = run(&api, &clock, &outbox, vec![held.clone()]);
    assert_eq!(*api.sent.lock().unwrap(), ["pending", "deferred"]);
    assert_eq!(done[0].status, JobStatus::Accepted);
}

#[test]
fn a_deferral_past_the_next_reset_is_not_held_for_ever() {
    // cdnsync defers to the next 00:00 UTC+8 only; a later time (a damaged or foreign outbox
    // entry) is treated as due rather than holding the purge back for days.
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(tmp.path());
    let clock = ManualClock::new(LATE_EVENING_CST * 1000);
    let api = Recorder::default();
    let far = next_quota_reset(LATE_EVENING_CST) + 86_400;
    run(&api, &clock, &outbox, vec![job("far", JobStatus::Deferred, Some(far))]);
    assert_eq!(*api.sent.lock().unwrap(), ["far"]);
}
