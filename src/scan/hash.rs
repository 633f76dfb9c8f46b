//! Content hashing (BLAKE3, in parallel) and the rule that decides when a stored hash is reused.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::model::{ContentHash, FileMeta};
use crate::progress::Cancel;

/// Files modified this close before the previous scan started are rehashed: filesystems with
/// coarse timestamps (1 s on ext3/HFS+, 2 s on FAT) cannot tell two writes in one tick apart.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// May the stored hash of a file be reused? Only when size and mtime are unchanged and the file
/// was not modified in the same instant the previous scan looked at it (git's "racy" rule).
pub fn can_reuse(old: &FileMeta, size: u64, mtime_ns: i64, prev_scan_start_ns: i64) -> bool {
    old.size == size && old.mtime_ns == mtime_ns && mtime_ns < prev_scan_start_ns.saturating_sub(RACY_MARGIN_NS)
}

/// Hash one file, reading through `buf`; gives up (with an `Interrupted` error) when `cancel` is
/// set, checking between chunks so that even a huge file stops at once.
pub fn hash_file(path: &Path, buf: &mut [u8], cancel: &Cancel) -> std::io::Result<ContentHash> {
    let mut f = std::fs::File::open(path)?;
    let mut h = blake3::Hasher::new();
    loop {
        if cancel.is_cancelled() {
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
    }
    Ok(ContentHash(*h.finalize().as_bytes()))
}

/// Hash many files on all cores; results are in input order. With `cancel` set, the remaining
/// files are not read (their results are errors; the caller checks `cancel`).
pub fn hash_files(paths: &[&Path], on_done: &(dyn Fn() + Sync), cancel: &Cancel) -> Vec<std::io::Result<ContentHash>> {
    if paths.is_empty() {
        // Nothing to read (a no-change scan): start no thread.
        return Vec::new();
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(paths.len().max(1));
    let results: Vec<Mutex<Option<std::io::Result<ContentHash>>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= paths.len() {
                        break;
                    }
                    let r = hash_file(paths[i], &mut buf, cancel);
                    *results[i].lock().expect("hash slot") = Some(r);
                    on_done();
                }
            });
        }
    });
    results.into_iter().map(|m| m.into_inner().expect("hash slot").expect("every file hashed")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, mtime_ns: i64) -> FileMeta {
        FileMeta { size, mtime_ns, hash: ContentHash::of(b"x") }
    }

    #[test]
    fn reuse_rule() {
        let s = 1_000 * RACY_MARGIN_NS;
        // (old, new size, new mtime, previous scan start, reuse?)
        let cases = [
            (meta(10, 100), 10, 100, s, true),
            (meta(10, 100), 11, 100, s, false),     // size changed
            (meta(10, 100), 10, 101, s, false),     // mtime changed
            (meta(10, s - 1), 10, s - 1, s, false), // racy: modified just before the scan
            (meta(10, s - RACY_MARGIN_NS - 1), 10, s - RACY_MARGIN_NS - 1, s, true),
            (meta(10, s + 5), 10, s + 5, s, false), // modified after the scan started
        ];
        for (old, size, mtime, start, want) in cases {
            assert_eq!(can_reuse(&old, size, mtime, start), want, "{old:?} {size} {mtime}");
        }
    }

    #[test]
    fn parallel_hashes_match_serial() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..50 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, vec![i as u8; i * 1000]).unwrap();
            paths.push(p);
        }
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let got = hash_files(&refs, &|| {}, &Cancel::default());
        for (i, r) in got.into_iter().enumerate() {
            assert_eq!(r.unwrap(), ContentHash::of(&vec![i as u8; i * 1000]));
        }
        let missing = hash_files(&[dir.path().join("nope").as_path()], &|| {}, &Cancel::default());
        assert_eq!(missing[0].as_ref().unwrap_err().kind(), std::io::ErrorKind::NotFound);
        let stop = Cancel::default();
        stop.cancel();
        let stopped = hash_files(&refs, &|| {}, &stop);
        assert!(
            stopped.iter().all(|r| r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::Interrupted)),
            "nothing read once cancelled"
        );
    }
}
