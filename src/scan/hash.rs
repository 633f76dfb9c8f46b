//! Content hashing (BLAKE3, in parallel) and the rule that decides when a stored hash is reused.
//!
//! Only regular files are read. The walk saw a regular file, but by the time it is read it may be
//! a FIFO (opening one for reading waits for a writer: forever), a device (`/dev/zero` never
//! ends) or a socket: files are opened without blocking and the opened handle is checked
//! (`fstat`), not the name looked at earlier.

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

/// `O_NONBLOCK` of the platforms whose value is known here: an open of a FIFO returns at once.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: Option<i32> = Some(if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
    0o200
} else if cfg!(any(target_arch = "sparc", target_arch = "sparc64")) {
    0x4000
} else {
    0o4000
});
#[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))]
const O_NONBLOCK: Option<i32> = Some(0x4);
#[cfg_attr(not(unix), allow(dead_code))]
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
const O_NONBLOCK: Option<i32> = None;

/// What was opened is not a regular file (any more): a FIFO, a device, a socket, a folder.
#[derive(Debug)]
pub struct NotRegular(pub &'static str);

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a regular file ({})", self.0)
    }
}

impl std::error::Error for NotRegular {}

/// Is `e` a [`NotRegular`]?
pub fn is_not_regular(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<NotRegular>())
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        } else if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        } else if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Open `path` for reading if it is a regular file, without waiting on a FIFO or a device; the
/// check is made on the opened handle, so a swap after the check cannot slip through.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    match O_NONBLOCK {
        Some(flag) => {
            use std::os::unix::fs::OpenOptionsExt;
            o.custom_flags(flag);
        }
        // No flag known for this platform: at least refuse what the name is now.
        None => {
            let ft = std::fs::metadata(path)?.file_type();
            if !ft.is_file() {
                return Err(std::io::Error::other(NotRegular(kind_of(ft))));
            }
        }
    }
    let f = o.open(path)?;
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        return Err(std::io::Error::other(NotRegular(kind_of(ft))));
    }
    Ok(f)
}

/// Hash one regular file ([`open_regular`]), reading through `buf`; gives up (with an
/// `Interrupted` error) when `cancel` is set, checking between chunks so that even a huge file
/// stops at once.
pub fn hash_file(path: &Path, buf: &mut [u8], cancel: &Cancel) -> std::io::Result<ContentHash> {
    let mut f = open_regular(path)?;
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

    /// A FIFO without a writer, a device that never ends, a folder: refused at once, by what
    /// the handle is.
    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let paths = [fifo, zero, dir.path().to_path_buf()];
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
            let _ = tx.send(hash_files(&refs, &|| {}, &Cancel::default()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("hashing a FIFO or /dev/zero must not block");
        let msgs: Vec<String> = got.iter().map(|r| r.as_ref().map(|_| "hashed".to_string()).unwrap_or_else(|e| e.to_string())).collect();
        assert_eq!(msgs, ["not a regular file (a FIFO)", "not a regular file (a device)", "not a regular file (a folder)"]);
        assert!(got.iter().all(|r| r.as_ref().is_err_and(is_not_regular)));
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
