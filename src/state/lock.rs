//! One cdnsync per state directory: an advisory lock on `state_dir/lock`, which also names its
//! holder so a second process can say who it waited for.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{Error, Result};

/// Held for as long as it lives; released on drop (and by the OS if the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

impl StateLock {
    /// Take the lock, waiting up to `timeout` (sleeping on `clock`, so a caller can give up or a
    /// runtime go on meanwhile); `what` describes this process for others to see.
    pub async fn acquire(state_dir: &Path, timeout: Duration, what: &str, clock: &dyn Clock) -> Result<StateLock> {
        super::ensure_dir(state_dir)?;
        let path = state_dir.join("lock");
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io(&path, e))?;
        let step = Duration::from_millis(50);
        let deadline = clock.now_ms().saturating_add(timeout.as_millis() as i64);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if clock.now_ms() >= deadline {
                        let mut holder = String::new();
                        let _ = file.seek(SeekFrom::Start(0));
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        return Err(Error::Locked {
                            path,
                            holder: if holder.is_empty() { "unknown process".into() } else { holder.to_string() },
                            waited_secs: timeout.as_secs(),
                        });
                    }
                    clock.sleep(step).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let info = format!("pid {} on {} ({what})", std::process::id(), host.trim());
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        // Only a hint for whoever finds the lock taken: not worth an fsync.
        let _ = file.write_all(info.as_bytes());
        Ok(StateLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::ManualClock;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    #[test]
    fn second_holder_times_out_naming_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(0);
        let first = block(StateLock::acquire(tmp.path(), Duration::ZERO, "cdnsync sync", &clock)).unwrap();
        // Waiting happens on the clock: a minute passes on the manual clock at once.
        let err = block(StateLock::acquire(tmp.path(), Duration::from_secs(60), "cdnsync watch", &clock)).unwrap_err();
        assert!(clock.now_ms() >= 60_000 && clock.now_ms() < 61_000, "waited the timeout, no longer: {}", clock.now_ms());
        assert_eq!(err.exit_code(), 5);
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {}", std::process::id())) && msg.contains("cdnsync sync"), "{msg}");
        drop(first);
        block(StateLock::acquire(tmp.path(), Duration::ZERO, "again", &clock)).unwrap();
    }
}
