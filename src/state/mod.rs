//! Everything cdnsync keeps between runs, inside `state_dir`: the manifest (what was deployed),
//! the outbox (what is owed to the API), the lock, the history of accepted jobs, and caches
//! (last known quota, the v2 quota ledger).
//!
//! Every write is atomic and durable: temp file, fsync, rename, fsync of the directory.

pub mod deploy;
pub mod dropped;
pub mod history;
pub mod ledger;
pub mod lock;
pub mod manifest;
pub mod outbox;
pub mod remote;
pub mod roots;
pub mod zones;

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::QuotaBook;

/// Write `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename), leaving the fsync of the
/// directory, which makes the rename durable, to the caller: one for many files.
pub fn write_renamed(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("state"), std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e| Error::io(path, e))
}

/// fsync a directory so that a rename or unlink inside it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Create the state directory if needed.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Load the last known quota (`quota.json`), if any. A damaged cache is ignored: it is only a
/// cache, refreshed from the API on the next sync.
pub fn load_quota(state_dir: &Path) -> Option<QuotaBook> {
    let bytes = fs::read(state_dir.join("quota.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Remember the quota the API reported, for `plan` (which never uses the network).
pub fn save_quota(state_dir: &Path, q: &QuotaBook) -> Result<()> {
    ensure_dir(state_dir)?;
    let bytes = serde_json::to_vec_pretty(q).expect("quota serialises");
    write_atomic(&state_dir.join("quota.json"), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, JobKind, QuotaEntry};

    #[test]
    fn the_last_known_quota_is_what_was_saved_and_a_damaged_or_missing_cache_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        assert_eq!(load_quota(&dir), None, "nothing saved yet");
        let mut q = QuotaBook::documented_v3();
        q.set(JobKind::PurgeUrls, Area::Overseas, QuotaEntry { batch: 7, total: 100, available: 3 });
        q.read_unix = Some(1_700_000_000);
        save_quota(&dir, &q).unwrap();
        assert_eq!(load_quota(&dir), Some(q.clone()), "plan sees what sync saw");
        q.set(JobKind::PurgeUrls, Area::Overseas, QuotaEntry { batch: 7, total: 100, available: 0 });
        save_quota(&dir, &q).unwrap();
        assert_eq!(load_quota(&dir).unwrap().get(JobKind::PurgeUrls, Area::Overseas).unwrap().available, 0, "replaced, not merged");
        fs::write(dir.join("quota.json"), b"{ not json").unwrap();
        assert_eq!(load_quota(&dir), None, "a damaged cache is ignored");
    }

    #[test]
    fn atomic_writes_leave_the_file_and_no_temporary_and_name_the_path_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["f.json"], "no temporary file left behind");
        let missing = tmp.path().join("no/such/dir/f.json");
        let e = write_atomic(&missing, b"x").unwrap_err().to_string();
        assert!(e.contains("no/such/dir/f.json"), "{e}");
        // The directory fsync is a real call: it fails for a folder that does not exist.
        assert!(sync_dir(&tmp.path().join("gone")).is_err());
        assert!(sync_dir(tmp.path()).is_ok());
    }
}
