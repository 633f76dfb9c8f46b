//! Scan `publish_dir`: walk it ([`walk`]) and hash what the stat cache cannot vouch for ([`hash`]).

pub mod hash;
pub mod walk;

use std::path::{Path, PathBuf};

use globset::GlobSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{ContentHash, FileMeta, Snapshot};
use crate::progress::{Cancel, Progress};

/// What to scan and what to leave out.
#[derive(Clone, Debug)]
pub struct ScanSpec {
    /// `publish_dir` (a symlink is followed).
    pub root: PathBuf,
    /// Files never tracked (built-in and configured globs).
    pub exclude: GlobSet,
    /// Directories never entered.
    pub exclude_dirs: GlobSet,
}

impl ScanSpec {
    /// What a scan of `config`'s `publish_dir` covers.
    pub fn of(config: &Config) -> Self {
        ScanSpec { root: config.publish_dir.clone(), exclude: config.exclude.clone(), exclude_dirs: config.exclude_dirs.clone() }
    }

    /// Is `rel` (relative, `/`-separated) inside a directory that is never entered?
    pub fn in_excluded_dir(&self, rel: &str) -> bool {
        rel.match_indices('/').any(|(i, _)| self.exclude_dirs.is_match(&rel[..i]))
    }

    /// Would a scan leave `rel` out, be it a file or a directory?
    pub fn ignores(&self, rel: &str) -> bool {
        self.exclude.is_match(rel) || self.exclude_dirs.is_match(rel) || self.in_excluded_dir(rel)
    }
}

#[cfg(test)]
impl ScanSpec {
    /// The default excludes, scanning `root`.
    pub(crate) fn for_tests(root: &Path) -> Self {
        ScanSpec { root: root.to_path_buf(), ..ScanSpec::of(&crate::config::test_config("")) }
    }
}

/// The manifest's stat cache, as the scan needs it.
#[derive(Clone, Copy, Debug)]
pub struct PreviousScan<'a> {
    /// The previous deploy's tree.
    pub snapshot: &'a Snapshot,
    /// When the scan that produced `snapshot` started (ns since the epoch): entries modified at or
    /// after that instant (less a safety margin) are "racy" and always rehashed.
    pub scan_start_ns: i64,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// The tree found.
    pub snapshot: Snapshot,
    /// Files whose content was read and hashed.
    pub hashed: usize,
    /// Files whose hash was reused from the manifest.
    pub reused: usize,
    /// Things skipped, with the reason (unreadable files, broken links, non-UTF-8 names, loops).
    pub warnings: Vec<String>,
}

/// Walk `spec.root` and build a snapshot, rehashing only what changed since `prev`
/// (everything when `full` or without a previous scan). For tests: a sync uses
/// [`scan_walked`] and [`scan_paths`].
#[cfg(test)]
pub fn scan(spec: &ScanSpec, prev: Option<PreviousScan<'_>>, full: bool) -> Result<ScanOutcome> {
    let walked = walk::walk(spec)?;
    scan_walked(spec, walked, prev, full, &(), &Cancel::default())
}

/// The second half of [`scan`], for a walk done already (e.g. while the manifest was loading),
/// reporting hashing progress; stops early with [`Error::Cancelled`] when `cancel` is set.
pub fn scan_walked(
    spec: &ScanSpec,
    walked: walk::Walked,
    prev: Option<PreviousScan<'_>>,
    full: bool,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ScanOutcome> {
    build(spec, walked, prev, full, Snapshot::default(), progress, cancel)
}

/// Rescan only `paths` (relative to the root: files or directories, touched since `prev`, e.g.
/// by watch mode's events); every other entry of `prev` is carried over untouched. A path that
/// is gone drops its entry and everything under it.
pub fn scan_paths(
    spec: &ScanSpec,
    prev: PreviousScan<'_>,
    paths: &[String],
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ScanOutcome> {
    let walked = walk::walk_paths(spec, paths)?;
    let touched: Vec<&str> = paths.iter().map(|p| p.trim_matches('/')).collect();
    let base = if touched.contains(&"") {
        Snapshot::default()
    } else {
        let mut base = prev.snapshot.clone();
        base.remove_trees(&touched);
        base
    };
    build(spec, walked, Some(prev), false, base, progress, cancel)
}

fn build(
    spec: &ScanSpec,
    walked: walk::Walked,
    prev: Option<PreviousScan<'_>>,
    full: bool,
    base: Snapshot,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ScanOutcome> {
    let mut out = ScanOutcome { warnings: walked.warnings, ..Default::default() };
    let mut files = walked.files;
    // The walk hands its files over sorted, each once; a snapshot built from anything else
    // would drop files, so that promise is checked (one comparison per file) rather than trusted.
    if !files.is_sorted_by(|a, b| a.rel < b.rel) {
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        files.dedup_by(|a, b| a.rel == b.rel);
    }
    // One entry per file found, in path order; files to hash get their hash filled in below.
    let mut found = Snapshot::with_capacity(files.len(), files.iter().map(|f| f.rel.len()).sum());
    let mut to_hash: Vec<(usize, PathBuf)> = Vec::new();
    // Both the walk and the previous snapshot are sorted by path: join them in one pass instead
    // of a lookup per file.
    let mut cursor = prev.map(|p| p.snapshot.iter().peekable());
    for f in files {
        let old = cursor.as_mut().and_then(|c| {
            while c.peek().is_some_and(|(k, _)| *k < f.rel.as_str()) {
                c.next();
            }
            c.peek().filter(|(k, _)| *k == f.rel).map(|(_, m)| **m)
        });
        let meta = match (prev, old) {
            (Some(p), Some(o)) if !full && hash::can_reuse(&o, f.size, f.mtime_ns, p.scan_start_ns) => o,
            _ => {
                to_hash.push((found.len(), spec.root.join(&f.rel)));
                FileMeta { size: f.size, mtime_ns: f.mtime_ns, hash: ContentHash([0; 32]) }
            }
        };
        let pushed = found.push(&f.rel, meta);
        debug_assert!(pushed, "the walk is sorted, without duplicates");
    }
    out.reused = found.len() - to_hash.len();
    crate::failpoint::hit("scan");
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    progress.hashing(to_hash.len());
    let paths: Vec<&Path> = to_hash.iter().map(|(_, p)| p.as_path()).collect();
    let results = hash::hash_files(&paths, &|| progress.hashed(), cancel);
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    // Entries that turned out not to belong in the snapshot (deleted while we scanned), by
    // index, ascending (as `to_hash`).
    let mut gone: Vec<usize> = Vec::new();
    for ((idx, path), res) in to_hash.iter().zip(results) {
        match res {
            Ok(h) => {
                found.meta_at_mut(*idx).hash = h;
                out.hashed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted while we scanned: it is gone, so it is not in the snapshot.
                gone.push(*idx);
            }
            Err(e) => {
                out.warnings.push(format!("{}: cannot read ({e}); keeping its previous state", path.display()));
                // Unreadable: carry the old record over so the file is neither "removed" nor lost.
                match prev.and_then(|p| p.snapshot.get(found.path_at(*idx)).copied()) {
                    Some(o) if path.exists() => {
                        *found.meta_at_mut(*idx) = o;
                        out.reused += 1;
                    }
                    _ => gone.push(*idx),
                }
            }
        }
    }
    if !gone.is_empty() {
        found.retain_at(|i, _, _| gone.binary_search(&i).is_err());
    }
    out.snapshot = if base.is_empty() {
        found
    } else {
        // Files carried over and files rescanned are disjoint: merge the two sorted lists.
        let mut merged = Snapshot::with_capacity(base.len() + found.len(), 0);
        let (mut a, mut b) = (base.iter().peekable(), found.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => {
                    if x.0 < y.0 {
                        a.next()
                    } else {
                        b.next()
                    }
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            if let Some((p, m)) = next {
                merged.push(p, *m);
            }
        }
        merged
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn scanning_touched_paths_agrees_with_a_whole_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in ["a.html", "keep/b.html", "keep/c.html", "gone/d.html", "gone/sub/e.html"] {
            write(root, rel, rel);
        }
        let spec = ScanSpec::for_tests(root);
        let first = scan(&spec, None, false).unwrap();
        let prev = PreviousScan { snapshot: &first.snapshot, scan_start_ns: 0 };

        write(root, "a.html", "changed");
        write(root, "new/f.html", "new");
        write(root, "new/.f.html.swp", "editor swap file");
        std::fs::remove_dir_all(root.join("gone")).unwrap();
        write(root, ".git/objects/x", "never tracked");
        let touched: Vec<String> = ["a.html", "new", "gone", ".git/objects/x", "no/such/file"].map(String::from).to_vec();
        let partial = scan_paths(&spec, prev, &touched, &(), &Cancel::default()).unwrap();
        let whole = scan(&spec, None, false).unwrap();
        assert_eq!(partial.snapshot, whole.snapshot);
        assert_eq!(partial.hashed, 2, "only a.html and new/f.html were read");
        assert!(partial.snapshot.contains("keep/b.html"), "untouched entries carried over");
        assert!(!partial.snapshot.paths().any(|k| k.starts_with("gone/")));
    }

    #[test]
    fn files_handed_over_out_of_order_are_all_kept() {
        let tmp = tempfile::tempdir().unwrap();
        for rel in ["a.html", "b/c.html", "b.html"] {
            write(tmp.path(), rel, rel);
        }
        let found = |rel: &str| walk::Found { rel: rel.into(), size: rel.len() as u64, mtime_ns: 1 };
        // "a0.html" was listed, then deleted before it could be read: it is not in the tree.
        let walked = walk::Walked {
            files: vec![found("b/c.html"), found("a0.html"), found("a.html"), found("b.html"), found("a.html")],
            warnings: vec![],
        };
        let s = scan_walked(&ScanSpec::for_tests(tmp.path()), walked, None, false, &(), &Cancel::default()).unwrap();
        assert_eq!(s.snapshot.paths().collect::<Vec<_>>(), ["a.html", "b.html", "b/c.html"]);
        assert_eq!(s.snapshot.get("b/c.html").map(|m| m.hash), Some(ContentHash::of(b"b/c.html")));
    }

    #[test]
    fn touched_root_rescans_everything() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a.html", "1");
        let spec = ScanSpec::for_tests(tmp.path());
        let first = scan(&spec, None, false).unwrap();
        std::fs::remove_file(tmp.path().join("a.html")).unwrap();
        write(tmp.path(), "b.html", "2");
        let partial =
            scan_paths(&spec, PreviousScan { snapshot: &first.snapshot, scan_start_ns: 0 }, &[String::new()], &(), &Cancel::default())
                .unwrap();
        assert_eq!(partial.snapshot.paths().collect::<Vec<_>>(), ["b.html"]);
    }
}
