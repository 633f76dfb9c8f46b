//! `state_dir/history.json`: the most recently accepted jobs with their task IDs, for
//! `status --tasks`, `sync --wait`, and so that a task lookup never claims a task another job
//! already owns.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::model::{Job, JobStatus};

/// How many accepted jobs the history keeps.
pub const LEN: usize = 200;

/// The history file of a state directory.
#[derive(Clone, Debug)]
pub struct History {
    path: PathBuf,
}

impl History {
    /// The history of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        History { path: state_dir.join("history.json") }
    }

    /// The most recently accepted jobs, oldest first. A missing or unreadable file is an empty
    /// history: it is a convenience, not state anything depends on for correctness.
    pub fn recent(&self) -> Vec<Job> {
        std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Add the accepted ones of `done`, keeping the last [`LEN`].
    pub fn record(&self, done: &[Job]) -> Result<()> {
        let accepted: Vec<&Job> = done.iter().filter(|j| j.status == JobStatus::Accepted).collect();
        if accepted.is_empty() {
            return Ok(());
        }
        let mut h = self.recent();
        h.extend(accepted.into_iter().cloned());
        let skip = h.len().saturating_sub(LEN);
        let h: Vec<Job> = h.into_iter().skip(skip).collect();
        super::write_atomic(&self.path, &serde_json::to_vec(&h).expect("jobs serialise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, JobKind};

    #[test]
    fn keeps_the_last_accepted_jobs() {
        let tmp = tempfile::tempdir().unwrap();
        let h = History::new(tmp.path());
        assert!(h.recent().is_empty());
        let job = |i: usize, status| {
            let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec![format!("https://h.com/{i}")], 0, i);
            j.status = status;
            j
        };
        let batch: Vec<Job> = (0..LEN + 5).map(|i| job(i, JobStatus::Accepted)).chain([job(999, JobStatus::Failed)]).collect();
        h.record(&batch).unwrap();
        let r = h.recent();
        assert_eq!(r.len(), LEN);
        assert_eq!(r[0].urls, ["https://h.com/5"], "the oldest are dropped");
        assert!(r.iter().all(|j| j.status == JobStatus::Accepted));
    }
}
