//! `state_dir/history.json`: the most recently accepted jobs with their task IDs, for
//! `status --tasks`, `sync --wait`, and so that a task lookup never claims a task another job
//! already owns.
//!
//! `history.json` is rewritten once at the end of a run. A run killed before that would forget the
//! tasks of the jobs it had accepted, and a later lookup could take one of them (a task created
//! before the change it is looking for) for its own. So each accepted task is also appended, and
//! flushed to disk, to `state_dir/accepted.log` *before* its job leaves the outbox; the task IDs
//! known to belong to other jobs are those of both files.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Job, JobStatus};

/// How many accepted jobs the history keeps.
pub const LEN: usize = 200;
/// How many task IDs `accepted.log` keeps (trimmed when the history is recorded).
pub const LOG_LEN: usize = 2000;

/// The history files of a state directory.
#[derive(Clone, Debug)]
pub struct History {
    path: PathBuf,
    log: PathBuf,
}

/// One line of `accepted.log`.
#[derive(Serialize, Deserialize)]
struct Noted {
    task_id: String,
    at_unix: i64,
}

impl History {
    /// The history of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        History { path: state_dir.join("history.json"), log: state_dir.join("accepted.log") }
    }

    /// Note, durably, that the API accepted `task_id` (before its job leaves the outbox).
    pub fn note_accepted(&self, task_id: &str, now_unix: i64) -> Result<()> {
        // Each line starts with a newline too: a line cut short by a crash then stays on its own.
        let mut line = vec![b'\n'];
        line.extend(serde_json::to_vec(&Noted { task_id: task_id.to_string(), at_unix: now_unix }).expect("serialises"));
        line.push(b'\n');
        let created = !self.log.exists();
        let res = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
            f.write_all(&line)?;
            f.sync_data()
        })();
        res.map_err(|e| Error::io(&self.log, e))?;
        if created {
            let dir = self.log.parent().unwrap_or(Path::new("."));
            super::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(())
    }

    /// The task IDs `accepted.log` holds, oldest first. Lines that cannot be read (the last one,
    /// cut by a crash) are skipped.
    fn noted(&self) -> Vec<String> {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        bytes.split(|&b| b == b'\n').filter_map(|l| serde_json::from_slice::<Noted>(l).ok()).map(|n| n.task_id).collect()
    }

    /// Every task ID known to belong to an accepted job: never to be claimed by a lookup.
    pub fn taken(&self) -> HashSet<String> {
        let mut t: HashSet<String> = self.recent().into_iter().filter_map(|j| j.task_id).collect();
        t.extend(self.noted());
        t
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
        super::write_atomic(&self.path, &serde_json::to_vec(&h).expect("jobs serialise"))?;
        self.trim_log()
    }

    /// Keep the last [`LOG_LEN`] lines of `accepted.log`.
    fn trim_log(&self) -> Result<()> {
        let Ok(bytes) = std::fs::read(&self.log) else { return Ok(()) };
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        if lines.len() <= LOG_LEN {
            return Ok(());
        }
        let mut kept = lines[lines.len() - LOG_LEN..].join(&b'\n');
        kept.push(b'\n');
        super::write_atomic(&self.log, &kept)
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

    #[test]
    fn noted_tasks_are_taken_before_the_history_is_recorded_and_the_log_stays_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let h = History::new(tmp.path());
        assert!(h.taken().is_empty());
        h.note_accepted("t-1", 10).unwrap();
        h.note_accepted("t-\"2\"\n", 11).unwrap();
        // A line cut by a crash is skipped, the others still count.
        let mut f = std::fs::OpenOptions::new().append(true).open(tmp.path().join("accepted.log")).unwrap();
        f.write_all(b"{\"task_id\": \"t-3").unwrap();
        drop(f);
        let want: HashSet<String> = ["t-1", "t-\"2\"\n"].iter().map(|s| s.to_string()).collect();
        assert_eq!(h.taken(), want);
        let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec!["https://h.com/".into()], 0, 1);
        j.status = JobStatus::Accepted;
        j.task_id = Some("t-4".into());
        h.record(&[j]).unwrap();
        assert!(h.taken().contains("t-4") && h.taken().contains("t-1"));
        for i in 0..LOG_LEN + 10 {
            h.note_accepted(&format!("n{i}"), 12).unwrap();
        }
        h.record(&[]).unwrap();
        assert_eq!(h.noted().len(), LOG_LEN + 12, "nothing accepted: not rewritten");
        let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "h.com", vec!["https://h.com/".into()], 0, 2);
        j.status = JobStatus::Accepted;
        h.record(&[j]).unwrap();
        let noted = h.noted();
        assert_eq!(noted.len(), LOG_LEN);
        assert_eq!(noted.last().map(String::as_str), Some(format!("n{}", LOG_LEN + 9).as_str()), "the newest are kept");
    }
}
