//! The owed jobs as a user handles them (`docs/cli.md`, `cdnsync outbox`): which of them a run is
//! answerable for, listing, giving up (`drop`, recorded in `dropped.json`) and resending now
//! (`retry`). An exit code reports the run it ends: a job refused in an earlier run and not resent
//! is *held* — reported in text and JSON, never turned into exit 3 of an unrelated command.

use std::collections::HashSet;
use std::time::Duration;

use crate::api::CdnApi;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Api, Job, JobKind, JobStatus};
use crate::plan::collapse::root_key;
use crate::plan::rules::Rules;
use crate::progress::Progress;
use crate::report::{DroppedReport, JobReport, OutboxCounts, Report, WaitReport};
use crate::state::dropped::Dropped;
use crate::state::roots::RootPurges;

use super::Engine;

/// Which owed jobs an `outbox drop` or `outbox retry` means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxPick {
    /// These job IDs (each must be owed, or nothing is done).
    Ids(Vec<String>),
    /// Every failed job.
    Failed,
}

/// The host every placeholder of `cdnsync init`'s template names.
pub const PLACEHOLDER_HOST: &str = "www.example.com";

/// Split the owed jobs: failed ones are held unless `retry_failed`; the rest are this run's.
pub(super) fn hold_failed(owed: Vec<Job>, retry_failed: bool) -> (Vec<Job>, Vec<Job>) {
    owed.into_iter().partition(|j| j.status == JobStatus::Failed && !retry_failed)
}

/// The note of a run that held `n` failed jobs.
pub(super) fn held_note(n: usize) -> String {
    format!(
        "{n} job(s) refused in an earlier run are still owed as failed (reported, not this run's exit code): \
         `cdnsync outbox` lists them; after fixing the cause `cdnsync outbox retry --failed`, or give them up with \
         `cdnsync outbox drop --failed`"
    )
}

/// The owed jobs of `remaining` that are not among `done`.
pub(super) fn others(remaining: &[Job], done: &[Job]) -> Vec<Job> {
    let mine: HashSet<&str> = done.iter().map(|j| j.id.as_str()).collect();
    remaining.iter().filter(|j| !mine.contains(j.id.as_str())).cloned().collect()
}

/// A warning per domain still named like the template's placeholder.
pub(super) fn placeholder_warnings(config: &Config) -> Vec<String> {
    config
        .domains
        .iter()
        .enumerate()
        .filter(|(_, d)| d.host == PLACEHOLDER_HOST)
        .map(|(i, _)| {
            format!(
                "domain[{i}].host is still the placeholder {PLACEHOLDER_HOST} of {}: set your CDN domain, or the purges go \
                 to a domain that is not yours",
                config.source.display()
            )
        })
        .collect()
}

/// Count the whole-site purges among the accepted `done` jobs (`root_purges.json`). Only a
/// counter for `[limits] max_root_purges_per_day`: a failed write is a warning, never a failed run.
pub(super) fn count_root_purges(config: &Config, done: &[Job], now_unix: i64) {
    let rules = Rules::new(&config.domains);
    let roots: Vec<(&str, String)> = config.domains.iter().enumerate().map(|(d, dom)| (dom.host.as_str(), rules.dir_url(d, ""))).collect();
    let keys: Vec<String> = done
        .iter()
        .filter(|j| j.status == JobStatus::Accepted && j.kind == JobKind::PurgePaths)
        .filter(|j| roots.iter().any(|(h, root)| *h == j.host && j.urls.contains(root)))
        .map(|j| root_key(&j.host, j.area))
        .collect();
    if let Err(e) = RootPurges::new(&config.state_dir).add(&keys, now_unix) {
        tracing::warn!("could not count today's whole-site purges: {e}");
    }
}

impl<A: CdnApi> Engine<A> {
    /// `--wait`: poll the accepted ones of `done` (see [`super::wait`]).
    pub(super) async fn wait_tasks(&self, done: &[Job], limit: Duration, progress: &dyn Progress) -> WaitReport {
        let fixed = (self.config.provider.api == Api::V2).then_some(self.config.provider.v2_prefetch_delay);
        super::wait::wait_tasks(&self.api, self.clock.as_ref(), done, limit, fixed, progress).await
    }

    /// The report line of an owed job (with the API action it is sent with).
    pub fn job_report(&self, job: &Job) -> JobReport {
        JobReport::of(job, self.action(job))
    }

    /// The jobs given up with `outbox drop` (most recent last).
    pub(super) fn dropped(&self) -> Vec<DroppedReport> {
        let d = Dropped::new(&self.config.state_dir).recent();
        d.into_iter().map(|(j, t)| DroppedReport { job: self.job_report(&j), dropped_unix: t }).collect()
    }

    /// The owed jobs `pick` names; an ID that is not owed is a usage error (nothing is done).
    fn picked(&self, owed: &[Job], pick: &OutboxPick) -> Result<Vec<Job>> {
        match pick {
            OutboxPick::Failed => Ok(owed.iter().filter(|j| j.status == JobStatus::Failed).cloned().collect()),
            OutboxPick::Ids(ids) => {
                let missing: Vec<&str> = ids.iter().filter(|id| !owed.iter().any(|j| &j.id == *id)).map(String::as_str).collect();
                if !missing.is_empty() {
                    return Err(Error::Usage(format!(
                        "not in the outbox: {} (`cdnsync outbox` lists the owed jobs); nothing was done",
                        missing.join(", ")
                    )));
                }
                Ok(owed.iter().filter(|j| ids.contains(&j.id)).cloned().collect())
            }
        }
    }

    /// The jobs `cdnsync outbox drop` would give up (read-only: what to ask about).
    pub fn outbox_pick(&self, pick: &OutboxPick) -> Result<Vec<Job>> {
        let owed = self.owed()?;
        self.picked(&owed, pick)
    }

    /// `cdnsync outbox drop`: give the picked jobs up. Each is recorded in `dropped.json` (shown by
    /// `status`) before it leaves the outbox. Returns the dropped jobs.
    pub async fn outbox_drop(&self, pick: &OutboxPick) -> Result<Vec<Job>> {
        let _lock = self.lock("cdnsync outbox drop").await?;
        let outbox = self.outbox();
        let jobs = self.picked(&outbox.load()?, pick)?;
        Dropped::new(&self.config.state_dir).record(&jobs, self.clock.now_unix())?;
        for j in &jobs {
            outbox.remove(&j.id)?;
        }
        Ok(jobs)
    }

    /// `cdnsync outbox retry`: send the picked jobs again now (failed ones too; a deferred job's
    /// wait for the quota reset is lifted, the API says if the quota is still gone). The report's
    /// jobs are these; every other owed job is [`Report::held`].
    pub async fn outbox_retry(&self, pick: &OutboxPick, wait: Option<Duration>, progress: &dyn Progress) -> Result<Report> {
        let _lock = self.lock("cdnsync outbox retry").await?;
        let outbox = self.outbox();
        let mut jobs = self.picked(&outbox.load()?, pick)?;
        for j in &mut jobs {
            j.status = JobStatus::Pending;
            j.not_before_unix = None;
        }
        outbox.put(&jobs)?;
        let quota = self.fresh_quota().await.ok().flatten();
        let super::Sent { done, waited, requests, warnings } = self.send(&outbox, jobs, quota, wait, progress).await?;
        let remaining = outbox.load()?;
        Ok(Report {
            jobs: self.reports(&done),
            held: self.reports(&others(&remaining, &done)),
            notes: self.api.take_notes(),
            warnings,
            outbox: OutboxCounts::of(&remaining),
            requests,
            tasks_finished: waited.as_ref().and_then(|w| w.finished()),
            wait: waited,
            ..Report::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Area;

    #[test]
    fn failed_jobs_are_held_unless_retried_and_others_excludes_this_runs() {
        let job = |i: usize, s: JobStatus| {
            let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec![format!("https://h.com/{i}")], 0, i);
            j.status = s;
            j
        };
        let owed = vec![job(1, JobStatus::Failed), job(2, JobStatus::Pending), job(3, JobStatus::Deferred)];
        let (held, run) = hold_failed(owed.clone(), false);
        assert_eq!((held.len(), run.len()), (1, 2));
        assert_eq!(held[0].id, owed[0].id);
        let (held, run) = hold_failed(owed.clone(), true);
        assert_eq!((held.len(), run.len()), (0, 3));
        let o = others(&owed, &owed[1..2]);
        assert_eq!(o.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [owed[0].id.as_str(), owed[2].id.as_str()]);
    }

    #[test]
    fn the_placeholder_domain_is_warned_about() {
        let c = crate::config::test_config("[[domain]]\nhost = \"cdn.mysite.org\"\n");
        let w = placeholder_warnings(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("domain[0].host is still the placeholder www.example.com of test.toml"), "{}", w[0]);
    }
}
