//! `state_dir/dropped.json`: the jobs given up with `cdnsync outbox drop`, so that `status` can say
//! what was never sent (the last [`LEN`]). Dropping is the one way an owed job leaves the outbox
//! without the API having accepted it, and it is never silent.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Job;

/// How many dropped jobs are remembered.
pub const LEN: usize = 100;

#[derive(Serialize, Deserialize)]
struct Entry {
    job: Job,
    dropped_unix: i64,
}

/// The dropped-jobs file of a state directory.
#[derive(Clone, Debug)]
pub struct Dropped {
    path: PathBuf,
}

impl Dropped {
    /// The file of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Dropped { path: state_dir.join("dropped.json") }
    }

    /// Every remembered drop, oldest first, with when it happened. A missing or unreadable file
    /// is an empty list: it is a record for people, not state anything depends on.
    pub fn recent(&self) -> Vec<(Job, i64)> {
        let entries: Vec<Entry> = std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        entries.into_iter().map(|e| (e.job, e.dropped_unix)).collect()
    }

    /// Remember `jobs` as dropped at `now_unix`, keeping the last [`LEN`]. Written before the jobs
    /// leave the outbox, so a crash in between forgets nothing.
    pub fn record(&self, jobs: &[Job], now_unix: i64) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut all: Vec<Entry> = self.recent().into_iter().map(|(job, dropped_unix)| Entry { job, dropped_unix }).collect();
        all.extend(jobs.iter().map(|j| Entry { job: j.clone(), dropped_unix: now_unix }));
        let skip = all.len().saturating_sub(LEN);
        let kept: Vec<Entry> = all.into_iter().skip(skip).collect();
        super::ensure_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        super::write_atomic(&self.path, &serde_json::to_vec_pretty(&kept).expect("jobs serialise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, JobKind};

    #[test]
    fn keeps_the_last_drops_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let d = Dropped::new(tmp.path());
        assert!(d.recent().is_empty());
        let job = |i: usize| Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec![format!("https://h.com/{i}")], 0, i);
        d.record(&[job(0), job(1)], 10).unwrap();
        let more: Vec<Job> = (2..LEN + 3).map(job).collect();
        d.record(&more, 20).unwrap();
        let r = d.recent();
        assert_eq!(r.len(), LEN);
        assert_eq!(r[0].0.urls, ["https://h.com/3"], "the oldest are forgotten");
        assert_eq!(r.last().unwrap().1, 20);
        std::fs::write(tmp.path().join("dropped.json"), b"{not json").unwrap();
        assert!(d.recent().is_empty(), "a damaged record is an empty one");
    }
}
