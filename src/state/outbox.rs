//! The outbox: every job cdnsync owes the API, persisted before any request is made.
//!
//! One JSON file a job in `state_dir/outbox/`, each written atomically. A job leaves (its file
//! is deleted) only when the API accepted it. A file that cannot be read is reported, never
//! dropped.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Job;

/// Handle on `state_dir/outbox/`.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// The outbox of a state directory (nothing is created until a job is put).
    pub fn new(state_dir: &Path) -> Self {
        Outbox { dir: state_dir.join("outbox") }
    }

    /// The outbox folder.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Every owed job, oldest first. Read-only.
    pub fn load(&self) -> Result<Vec<Job>> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut jobs = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let p = entry.path();
            if p.extension().and_then(|e| e.to_str()) != Some("json") {
                continue; // temp files of an interrupted write: the rename never happened
            }
            let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
            let job: Job = serde_json::from_slice(&bytes).map_err(|e| Error::OutboxDamaged { path: p.clone(), source: Box::new(e) })?;
            jobs.push(job);
        }
        jobs.sort_by(|a, b| (a.created_unix, &a.id).cmp(&(b.created_unix, &b.id)));
        Ok(jobs)
    }

    /// Persist jobs (new or updated) durably.
    pub fn put(&self, jobs: &[Job]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for j in jobs {
            let bytes = serde_json::to_vec_pretty(j).expect("jobs serialise");
            super::write_renamed(&self.file(&j.id), &bytes)?;
        }
        // One fsync of the directory makes every rename above durable (a 10,000-URL purge is
        // 200 jobs: this halves the fsyncs before the first request).
        super::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// The API accepted the job: it is no longer owed.
    pub fn remove(&self, id: &str) -> Result<()> {
        let p = self.file(id);
        match fs::remove_file(&p) {
            Ok(()) => super::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(p, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, JobKind, JobStatus};

    fn job(id: &str, t: i64) -> Job {
        Job {
            id: id.into(),
            kind: JobKind::PurgeUrls,
            area: Area::Mainland,
            host: "h.com".into(),
            urls: vec!["https://h.com/a".into()],
            status: JobStatus::Pending,
            task_id: None,
            error: None,
            attempts: 0,
            created_unix: t,
            not_before_unix: None,
            maybe_sent_unix: None,
        }
    }

    #[test]
    fn put_load_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::new(tmp.path());
        assert!(o.load().unwrap().is_empty());
        o.put(&[job("b", 2), job("a", 1)]).unwrap();
        let ids: Vec<String> = o.load().unwrap().into_iter().map(|j| j.id).collect();
        assert_eq!(ids, vec!["a", "b"]);
        o.remove("a").unwrap();
        assert_eq!(o.load().unwrap().len(), 1);
        // A leftover temp file is not a job.
        fs::write(o.dir().join(".b.json.tmp1"), b"{").unwrap();
        assert_eq!(o.load().unwrap().len(), 1);
    }

    #[test]
    fn damaged_entry_stops_with_advice() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::new(tmp.path());
        o.put(&[job("a", 1)]).unwrap();
        fs::write(o.dir().join("a.json"), b"{\"id\": \"a\", \"kin").unwrap();
        let err = o.load().unwrap_err().to_string();
        assert!(err.contains("a.json") && err.contains("damaged"), "{err}");
    }
}
