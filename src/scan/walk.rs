//! Walk `publish_dir`: every regular file (symlinks followed) that no exclude matches.
//!
//! A symlinked `publish_dir` is followed (atomic deploys swap such a link). Symlinked directories
//! inside are followed too, with a guard against loops: a directory that is its own ancestor is
//! skipped with a warning.

use std::fs;
use std::path::PathBuf;

use super::ScanSpec;
use crate::error::{Error, Result};

/// One file found by the walk (its path on disk is `root.join(rel)`: no per-file `PathBuf`).
#[derive(Debug)]
pub struct Found {
    /// `/`-separated path relative to the root.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
}

#[derive(Debug, Default)]
/// What a walk found.
pub struct Walked {
    /// Files, sorted by path.
    pub files: Vec<Found>,
    /// Things skipped, and why.
    pub warnings: Vec<String>,
}

#[cfg(unix)]
fn dir_id(m: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dir_id(_m: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Modification time in nanoseconds since the epoch (0 if the platform has none).
pub fn mtime_ns(m: &fs::Metadata) -> i64 {
    match m.modified() {
        Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i64,
            Err(e) => -(e.duration().as_nanos() as i64),
        },
        Err(_) => 0,
    }
}

/// A directory still to list: absolute path, relative prefix ending in '/' (or empty), and the
/// (device, inode) of it and its ancestors, to detect symlink loops.
type Pending = (PathBuf, String, Vec<(u64, u64)>);

/// Walk the tree under `spec.root`, sorted by path.
pub fn walk(spec: &ScanSpec) -> Result<Walked> {
    let root_meta = fs::metadata(&spec.root).map_err(|e| Error::io(&spec.root, e))?;
    let mut out = Walked::default();
    let stack: Vec<Pending> = vec![(spec.root.clone(), String::new(), vec![dir_id(&root_meta)])];
    drain(spec, stack, &mut out)?;
    out.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// Only the given paths (relative to the root, `/`-separated): each file that exists and is not
/// excluded, and every file under each directory. Paths that no longer exist yield nothing (the
/// caller treats them as removed). Sorted by path, without duplicates.
pub fn walk_paths(spec: &ScanSpec, rels: &[String]) -> Result<Walked> {
    let root_meta = fs::metadata(&spec.root).map_err(|e| Error::io(&spec.root, e))?;
    let mut out = Walked::default();
    let mut stack: Vec<Pending> = Vec::new();
    for rel in rels {
        let rel = rel.trim_matches('/');
        if rel.is_empty() {
            stack.push((spec.root.clone(), String::new(), vec![dir_id(&root_meta)]));
            continue;
        }
        // Inside an excluded directory (`.git/`, the state dir…): never tracked.
        if spec.in_excluded_dir(rel) {
            continue;
        }
        let abs = spec.root.join(rel);
        let Ok(meta) = fs::metadata(&abs) else { continue };
        if meta.is_dir() {
            if !spec.exclude_dirs.is_match(rel) {
                stack.push((abs, format!("{rel}/"), vec![dir_id(&root_meta), dir_id(&meta)]));
            }
        } else if meta.is_file() && !spec.exclude.is_match(rel) {
            out.files.push(Found { rel: rel.to_string(), size: meta.len(), mtime_ns: mtime_ns(&meta) });
        }
    }
    drain(spec, stack, &mut out)?;
    out.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    out.files.dedup_by(|a, b| a.rel == b.rel);
    Ok(out)
}

/// Walk the pending directories and everything below them. Directories are listed and their
/// files stat'ed on several threads (a no-change sync of a large site is mostly `stat` calls);
/// each thread keeps its own results, merged at the end (the caller sorts).
fn drain(spec: &ScanSpec, stack: Vec<Pending>, out: &mut Walked) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    if threads == 1 {
        let mut stack = stack;
        while let Some((dir, prefix, ancestors)) = stack.pop() {
            list_dir(spec, &dir, &prefix, &ancestors, out, &mut stack)?;
        }
        return Ok(());
    }
    struct Queue {
        dirs: Vec<Pending>,
        busy: usize,
        error: Option<Error>,
    }
    let queue = std::sync::Mutex::new(Queue { dirs: stack, busy: 0, error: None });
    let wake = std::sync::Condvar::new();
    let parts: Vec<Walked> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Walked::default();
                    let mut found = Vec::new();
                    loop {
                        let (dir, prefix, ancestors) = {
                            let mut q = queue.lock().expect("walk queue");
                            loop {
                                if q.error.is_some() || (q.dirs.is_empty() && q.busy == 0) {
                                    wake.notify_all();
                                    drop(q);
                                    // Each thread sorts its share; the shares are merged below.
                                    mine.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
                                    return mine;
                                }
                                if let Some(d) = q.dirs.pop() {
                                    q.busy += 1;
                                    break d;
                                }
                                q = wake.wait(q).expect("walk queue");
                            }
                        };
                        let res = list_dir(spec, &dir, &prefix, &ancestors, &mut mine, &mut found);
                        let mut q = queue.lock().expect("walk queue");
                        q.busy -= 1;
                        q.dirs.append(&mut found);
                        if let Err(e) = res {
                            q.error.get_or_insert(e);
                        }
                        wake.notify_all();
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("walk thread")).collect()
    });
    if let Some(e) = queue.into_inner().expect("walk queue").error {
        return Err(e);
    }
    let mut merged: Vec<Found> = std::mem::take(&mut out.files);
    merged.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    for p in parts {
        merged = merge_sorted(merged, p.files);
        out.warnings.extend(p.warnings);
    }
    out.files = merged;
    Ok(())
}

/// Merge two lists sorted by path.
fn merge_sorted(a: Vec<Found>, b: Vec<Found>) -> Vec<Found> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        if x.rel <= y.rel {
            out.extend(a.next());
        } else {
            out.extend(b.next());
        }
    }
    out.extend(a);
    out.extend(b);
    out
}

/// List one directory: its files into `out`, its subdirectories into `subdirs`.
fn list_dir(
    spec: &ScanSpec,
    dir: &std::path::Path,
    prefix: &str,
    ancestors: &[(u64, u64)],
    out: &mut Walked,
    subdirs: &mut Vec<Pending>,
) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if prefix.is_empty() => return Err(Error::io(dir, e)),
        Err(e) => {
            out.warnings.push(format!("{}: cannot list ({e}); skipped", dir.display()));
            return Ok(());
        }
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.warnings.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            out.warnings.push(format!("{}: file name is not UTF-8; not tracked", entry.path().display()));
            continue;
        };
        let rel = format!("{prefix}{name}");
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                out.warnings.push(format!("{}: {e}", entry.path().display()));
                continue;
            }
        };
        let meta = if ft.is_symlink() {
            match fs::metadata(entry.path()) {
                Ok(m) => m,
                Err(e) => {
                    out.warnings.push(format!("{}: broken symlink ({e}); skipped", entry.path().display()));
                    continue;
                }
            }
        } else if ft.is_dir() {
            // Lazily stat directories only when needed (below); files need size and mtime.
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.warnings.push(format!("{}: {e}", entry.path().display()));
                    continue;
                }
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.warnings.push(format!("{}: {e}", entry.path().display()));
                    continue;
                }
            }
        };
        if meta.is_dir() {
            if spec.exclude_dirs.is_match(&rel) {
                continue;
            }
            let id = dir_id(&meta);
            if cfg!(unix) && ancestors.contains(&id) {
                out.warnings.push(format!("{}: symlink loop; skipped", entry.path().display()));
                continue;
            }
            let mut anc = ancestors.to_vec();
            anc.push(id);
            subdirs.push((entry.path(), format!("{rel}/"), anc));
        } else if meta.is_file() {
            if spec.exclude.is_match(&rel) {
                continue;
            }
            out.files.push(Found { rel, size: meta.len(), mtime_ns: mtime_ns(&meta) });
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn spec(root: &std::path::Path) -> ScanSpec {
        let c = crate::config::from_str("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\n", std::path::Path::new("t"), root).unwrap();
        ScanSpec { root: root.to_path_buf(), exclude: c.exclude, exclude_dirs: c.exclude_dirs }
    }

    #[test]
    fn follows_symlinked_root_and_survives_loops() {
        let tmp = tempfile::tempdir().unwrap();
        let release = tmp.path().join("releases/r1");
        std::fs::create_dir_all(release.join("docs")).unwrap();
        std::fs::write(release.join("index.html"), "x").unwrap();
        std::fs::write(release.join("docs/a.html"), "y").unwrap();
        std::fs::create_dir_all(release.join(".git")).unwrap();
        std::fs::write(release.join(".git/HEAD"), "z").unwrap();
        // A loop: docs/again -> .. (the release root).
        std::os::unix::fs::symlink("..", release.join("docs/again")).unwrap();
        let current = tmp.path().join("current");
        std::os::unix::fs::symlink(&release, &current).unwrap();
        let w = walk(&spec(&current)).unwrap();
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["docs/a.html", "index.html"]);
        assert!(w.warnings.iter().any(|x| x.contains("symlink loop")), "{:?}", w.warnings);
    }
}
