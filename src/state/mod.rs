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
