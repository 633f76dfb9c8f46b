//! What becomes of a job once a request has its answer: accepted (it leaves the outbox), deferred
//! to the quota reset, split into children, or still owed after backoff. Each outcome is written
//! to the outbox before the submitter moves on.

use std::sync::Mutex;

use super::{retry, Shared, Submitter};
use crate::api::{CdnApi, Class, Failure};
use crate::clock::next_quota_reset;
use crate::error::Result;
use crate::model::{new_job_id, Job, JobError, JobStatus};

impl<A: CdnApi> Submitter<'_, A> {
    pub(super) fn child(&self, shared: &Mutex<Shared>, parent: &Job, urls: Vec<String>) -> Job {
        let seq = {
            let mut s = shared.lock().expect("submit state");
            s.seq += 1;
            s.seq
        };
        Job {
            id: new_job_id(self.clock.now_unix(), 9000 + seq),
            urls,
            status: JobStatus::Pending,
            task_id: None,
            error: None,
            attempts: 0,
            not_before_unix: None,
            maybe_sent_unix: None,
            ..parent.clone()
        }
    }

    /// Sleep before the next attempt, or record the job as still owed if the deadline is near.
    pub(super) async fn backoff_or_give_up(
        &self,
        job: &mut Job,
        f: &Failure,
        class: Class,
        attempt: u32,
        deadline_ms: i64,
    ) -> Result<bool> {
        let wait = retry::backoff(attempt, class, fastrand::f64());
        if self.clock.now_ms() + wait.as_millis() as i64 > deadline_ms {
            job.status = JobStatus::Pending;
            job.error = Some(f.to_job_error());
            self.outbox.put(std::slice::from_ref(job))?;
            return Ok(false);
        }
        self.clock.sleep(wait).await;
        Ok(true)
    }

    pub(super) fn defer(&self, job: &mut Job, f: Option<&Failure>) -> Result<()> {
        job.status = JobStatus::Deferred;
        job.not_before_unix = Some(next_quota_reset(self.clock.now_unix()));
        job.error = Some(match f {
            Some(f) => f.to_job_error(),
            None => JobError { code: "QuotaExhausted".into(), message: format!("today's {} quota for {} is used up", job.kind, job.area) },
        });
        self.outbox.put(std::slice::from_ref(job))
    }

    pub(super) fn accept(&self, shared: &Mutex<Shared>, job: &mut Job, task_id: Option<String>) -> Result<()> {
        job.status = JobStatus::Accepted;
        job.task_id = task_id;
        job.error = None;
        job.maybe_sent_unix = None;
        // Known as taken before the job is gone, so that a kill from here on cannot let a later
        // lookup claim this task for another job.
        if let (Some(h), Some(t)) = (self.history, &job.task_id) {
            h.note_accepted(t, self.clock.now_unix())?;
        }
        self.outbox.remove(&job.id)?;
        if let Some(l) = self.ledger {
            // Only an estimate of today's use: a failed write must not fail an accepted job.
            if let Err(e) = l.record(job, self.clock.now_unix()) {
                tracing::warn!("could not update the v2 quota ledger: {e}");
            }
        }
        crate::failpoint::hit("job-accepted");
        let mut st = shared.lock().expect("submit state");
        if let Some(t) = &job.task_id {
            st.taken.insert(t.clone());
        }
        if let Some(q) = st.quota.as_mut() {
            if let Some(mut e) = q.get(job.kind, job.area) {
                e.available = e.available.saturating_sub(job.cost());
                q.set(job.kind, job.area, e);
            }
        }
        Ok(())
    }
}
