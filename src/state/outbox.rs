//! The outbox: every job cdnsync owes the API, persisted before any request is made.
//!
//! One JSON file a job in `state_dir/outbox/`, each written atomically. A job leaves (its file
//! is deleted) only when the API accepted it. A file that cannot be read is reported, never
//! dropped.
//!
//! Outbox files are outside data too (anyone who can write the folder can write one): each job
//! read is checked ([`check`]) before anything uses it — its id is a file name, its URLs are sent
//! to the API, its times decide when it is sent — and a job that cdnsync could not have written
//! stops the run like a damaged file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{is_job_id, limits, Job, JobKind, JobStatus};

/// The largest outbox file read: a job of 1,000 URLs of 2,000 characters, pretty-printed, is
/// about 2 MB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Times in an outbox file are Unix seconds from 1970 to the year 9999.
const MAX_UNIX: i64 = 253_402_300_799;

/// Why a job read from the outbox cannot be one cdnsync wrote.
#[derive(Debug)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

fn damaged(path: &Path, why: String) -> Error {
    Error::OutboxDamaged { path: path.to_path_buf(), source: Box::new(Invalid(why)) }
}

/// The host of an `http(s)://` URL as the URL parser normalises it (lower case, IDNA).
fn url_host(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.host_str().map(str::to_string)).flatten()
}

/// Is `job`, read from the file named `stem.json`, one cdnsync could have written? `Err` says
/// what is wrong (values quoted with `{:?}`, so a hostile one prints escaped).
pub fn check(job: &Job, stem: &str) -> std::result::Result<(), String> {
    if !is_job_id(&job.id) {
        return Err(format!("id {:?} is not of the form cdnsync writes (<unix time>-<sequence>-<8 hex digits>)", job.id));
    }
    if job.id != stem {
        return Err(format!("id {:?} does not match the file name", job.id));
    }
    if !matches!(job.status, JobStatus::Pending | JobStatus::Deferred | JobStatus::Failed) {
        return Err(format!("status {:?} is never written to the outbox (pending, deferred or failed)", job.status.as_str()));
    }
    let most = limits::largest_batch(job.kind);
    if job.urls.is_empty() || job.urls.len() as u64 > most {
        return Err(format!("{} URLs: a job holds 1 to {most}", job.urls.len()));
    }
    let plain = !job.host.chars().any(|c| c.is_control() || c.is_whitespace() || "/\\?#@:[]%".contains(c));
    let Some(host) = url_host(&format!("https://{}/", job.host)).filter(|h| plain && !h.is_empty()) else {
        return Err(format!("host {:?} is not a domain name", job.host));
    };
    for u in &job.urls {
        if url_host(u).as_deref() != Some(host.as_str()) {
            return Err(format!("URL {u:?} is not an http(s) URL of the job's host {:?}", job.host));
        }
        if job.kind == JobKind::PurgePaths && !u.ends_with('/') {
            return Err(format!("directory URL {u:?} does not end with /"));
        }
    }
    let times =
        [("created_unix", Some(job.created_unix)), ("not_before_unix", job.not_before_unix), ("maybe_sent_unix", job.maybe_sent_unix)];
    for (name, t) in times {
        if let Some(t) = t.filter(|t| !(0..=MAX_UNIX).contains(t)) {
            return Err(format!("{name} {t} is not a time cdnsync writes"));
        }
    }
    Ok(())
}

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

    /// The file of job `id`; an id of another form is never used as a path.
    fn file(&self, id: &str) -> Result<PathBuf> {
        if !is_job_id(id) {
            return Err(damaged(&self.dir, format!("job id {id:?} is not of the form cdnsync writes; not used as a file name")));
        }
        Ok(self.dir.join(format!("{id}.json")))
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
            let size = fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
            if size > MAX_FILE_BYTES {
                return Err(damaged(&p, format!("{size} bytes; no job cdnsync writes is larger than {MAX_FILE_BYTES}")));
            }
            let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
            let job: Job = serde_json::from_slice(&bytes).map_err(|e| Error::OutboxDamaged { path: p.clone(), source: Box::new(e) })?;
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            check(&job, stem).map_err(|why| damaged(&p, why))?;
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
            super::write_renamed(&self.file(&j.id)?, &bytes)?;
        }
        // One fsync of the directory makes every rename above durable (a 10,000-URL purge is
        // 200 jobs: this halves the fsyncs before the first request).
        super::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// The API accepted the job: it is no longer owed.
    pub fn remove(&self, id: &str) -> Result<()> {
        let p = self.file(id)?;
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
    use crate::model::Area;

    const A: &str = "1700000001-0001-0000000a";
    const B: &str = "1700000002-0001-0000000b";

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
        o.put(&[job(B, 2), job(A, 1)]).unwrap();
        let ids: Vec<String> = o.load().unwrap().into_iter().map(|j| j.id).collect();
        assert_eq!(ids, vec![A, B]);
        o.remove(A).unwrap();
        assert_eq!(o.load().unwrap().len(), 1);
        // A leftover temp file is not a job.
        fs::write(o.dir().join(format!(".{B}.json.tmp1")), b"{").unwrap();
        assert_eq!(o.load().unwrap().len(), 1);
    }

    #[test]
    fn damaged_entry_stops_with_advice() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::new(tmp.path());
        o.put(&[job(A, 1)]).unwrap();
        fs::write(o.dir().join(format!("{A}.json")), b"{\"id\": \"a\", \"kin").unwrap();
        let err = o.load().unwrap_err().to_string();
        assert!(err.contains(&format!("{A}.json")) && err.contains("damaged"), "{err}");
    }

    /// `"id": "../../victim"` once made cdnsync overwrite, then delete, a file outside the state
    /// folder. Ids are checked on read and never used as paths on write or remove.
    #[test]
    fn an_id_that_is_not_cdnsyncs_is_never_a_path() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let victim = tmp.path().join("victim.json");
        fs::write(&victim, b"precious").unwrap();
        let o = Outbox::new(&state);
        o.put(&[job(A, 1)]).unwrap();
        let mut hostile = job(A, 1);
        hostile.id = "../../victim".into();
        fs::write(o.dir().join(format!("{A}.json")), serde_json::to_vec(&hostile).unwrap()).unwrap();
        let err = o.load().unwrap_err();
        assert!(matches!(err, Error::OutboxDamaged { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("\"../../victim\"") && text.contains("move it aside"), "{text}");
        for bad in ["../../victim", "../victim", "/tmp/x", "", "a/b"] {
            let mut j = job(A, 1);
            j.id = bad.into();
            assert!(matches!(o.put(&[j]), Err(Error::OutboxDamaged { .. })), "put {bad:?}");
            assert!(matches!(o.remove(bad), Err(Error::OutboxDamaged { .. })), "remove {bad:?}");
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious", "the file outside the state folder is untouched");
    }

    /// Every other field a hostile file could abuse, one line each.
    #[test]
    fn jobs_cdnsync_could_not_have_written_are_refused() {
        let with = |f: &dyn Fn(&mut Job)| {
            let mut j = job(A, 1);
            f(&mut j);
            j
        };
        let cases: Vec<(Job, &str)> = vec![
            (with(&|j| j.urls = vec!["https://evil.example/a".into()]), "not an http(s) URL of the job's host"),
            (with(&|j| j.urls = vec!["https://h.com.evil.example/a".into()]), "of the job's host"),
            (with(&|j| j.urls = vec!["https://evil.example@h.com/a".into(), "https://x@evil.example/".into()]), "of the job's host"),
            (with(&|j| j.urls = vec!["file:///etc/passwd".into()]), "not an http(s) URL"),
            (with(&|j| j.urls = vec!["h.com/a".into()]), "not an http(s) URL"),
            (with(&|j| j.urls = Vec::new()), "0 URLs"),
            (with(&|j| j.urls = vec!["https://h.com/a".into(); 1001]), "1001 URLs"),
            (with(&|j| j.host = "".into()), "not a domain name"),
            (with(&|j| j.host = "h.com/../x".into()), "not a domain name"),
            (with(&|j| j.host = "evil.example@h.com".into()), "not a domain name"),
            (with(&|j| j.host = "h.com\u{1b}[2J".into()), "not a domain name"),
            (with(&|j| j.created_unix = -1), "created_unix -1"),
            (with(&|j| j.not_before_unix = Some(-5)), "not_before_unix -5"),
            (with(&|j| j.maybe_sent_unix = Some(i64::MAX)), "maybe_sent_unix"),
            (with(&|j| j.status = JobStatus::Accepted), "status \"accepted\""),
            (with(&|j| j.status = JobStatus::Planned), "status \"planned\""),
            (with(&|j| j.id = B.into()), "does not match the file name"),
            (
                with(&|j| {
                    j.kind = JobKind::PurgePaths;
                    j.urls = vec!["https://h.com/dir".into()];
                }),
                "does not end with /",
            ),
        ];
        for (j, want) in cases {
            let err = check(&j, A).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
        check(&job(A, 1), A).unwrap();
        let mut upper = job(A, 1);
        upper.host = "H.COM".into();
        upper.urls = vec!["https://h.com:443/a".into(), "http://H.com/b?x=1#y".into()];
        check(&upper, A).unwrap();
        assert!(limits::largest_batch(JobKind::PurgeUrls) == 1000);
    }

    #[test]
    fn an_oversized_file_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::new(tmp.path());
        o.put(&[job(A, 1)]).unwrap();
        let f = fs::File::options().write(true).open(o.dir().join(format!("{A}.json"))).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = o.load().unwrap_err().to_string();
        assert!(err.contains("no job cdnsync writes is larger"), "{err}");
    }
}
