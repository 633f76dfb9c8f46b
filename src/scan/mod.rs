//! Scan `publish_dir`: walk it ([`walk`], within the bounds of [`guard`]) and hash what the stat
//! cache cannot vouch for ([`hash`]).
//!
//! What could not be looked at for a moment (a folder without permissions, a file being
//! replaced) keeps its previous entry from the manifest, with a warning: it is neither "removed"
//! now nor "added" (and so not purged) once it can be read again.

mod guard;
pub mod hash;
#[cfg(all(test, unix))]
mod hostile_tests;
mod list;
#[cfg(all(test, unix))]
mod props;
mod pseudo;
pub mod walk;

use std::path::{Component, Path, PathBuf};

use globset::GlobSet;

use crate::config::{Config, Symlinks};
use crate::error::{Error, Result};
use crate::model::{ContentHash, FileMeta, OutsideLink, Snapshot};
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
    /// Which symlinks are followed.
    pub symlinks: Symlinks,
    /// Most files and folders one walk may find (`[limits] max_files`).
    pub max_files: u64,
    /// Folders never entered, relative to the root, without a trailing `/`: the state folder
    /// when it is inside `publish_dir`, and the published manifest's folder.
    pub skip_dirs: Vec<String>,
    /// The (device, inode) of the state folder, never entered wherever a link leads to it.
    pub skip_ids: Vec<(u64, u64)>,
}

impl ScanSpec {
    /// What a scan of `config`'s `publish_dir` covers.
    pub fn of(config: &Config) -> Self {
        let published = Path::new(crate::state::remote::PUBLISHED).parent().and_then(Path::to_str).unwrap_or_default();
        let mut skip_dirs = vec![published.to_string()];
        skip_dirs.extend(rel_inside(&config.publish_dir, &config.state_dir).filter(|r| !r.is_empty() && r != published));
        ScanSpec {
            root: config.publish_dir.clone(),
            exclude: config.exclude.clone(),
            exclude_dirs: config.exclude_dirs.clone(),
            symlinks: config.symlinks,
            max_files: config.limits.max_files,
            skip_dirs,
            skip_ids: std::fs::metadata(&config.state_dir).map(|m| walk::dir_id(&m)).into_iter().collect(),
        }
    }

    /// Is the folder `rel` never entered?
    pub fn excludes_dir(&self, rel: &str) -> bool {
        self.exclude_dirs.is_match(rel) || self.skip_dirs.iter().any(|d| d == rel)
    }

    /// Is `rel` (relative, `/`-separated) inside a directory that is never entered?
    pub fn in_excluded_dir(&self, rel: &str) -> bool {
        rel.match_indices('/').any(|(i, _)| self.excludes_dir(&rel[..i]))
    }

    /// Would a scan leave `rel` out, be it a file or a directory?
    pub fn ignores(&self, rel: &str) -> bool {
        self.exclude.is_match(rel) || self.excludes_dir(rel) || self.in_excluded_dir(rel)
    }
}

/// Where `path` is inside `root` (`/`-separated, `""` for the root itself), links resolved on
/// both sides, or `None` when it is elsewhere. `path` need not exist yet.
fn rel_inside(root: &Path, path: &Path) -> Option<String> {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    // The deepest part of `path` that exists, resolved, and the rest as written.
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    let resolved = loop {
        if let Ok(r) = std::fs::canonicalize(&existing) {
            break r;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break existing.clone(),
        }
    };
    let mut full = resolved;
    full.extend(rest.iter().rev());
    let inside = full.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = inside.components().map(|c| if let Component::Normal(n) = c { n.to_str() } else { None }).collect();
    parts.map(|p| p.join("/"))
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
    /// Symlinks that lead out of `publish_dir`, by path.
    pub links_outside: Vec<OutsideLink>,
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
    let mut out = ScanOutcome { warnings: walked.warnings, links_outside: walked.links_outside, ..Default::default() };
    let kept = walked.kept;
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
            Err(e) if hash::is_not_regular(&e) => {
                // Swapped for a FIFO, a device… since the walk: nothing a web server serves.
                out.warnings.push(format!("{}: {e} since the scan listed it; not tracked", path.display()));
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
    if !kept.is_empty() {
        if let Some(p) = prev {
            let carried = carried_over(spec, p.snapshot, &kept, &found);
            out.reused += carried.len();
            found = found.merge(&carried);
        }
    }
    // Files carried over and files rescanned are disjoint: merge the two sorted lists.
    out.snapshot = if base.is_empty() { found } else { base.merge(&found) };
    Ok(out)
}

/// The entries of `prev` that `kept` (folders as `dir/`, files as their path: what could not be
/// looked at) covers and the walk did not find again: they stand as they were.
fn carried_over(spec: &ScanSpec, prev: &Snapshot, kept: &[String], found: &Snapshot) -> Snapshot {
    let mut out: Vec<(String, FileMeta)> = Vec::new();
    let mut add = |p: &str, m: &FileMeta| {
        if !found.contains(p) && !spec.ignores(p) {
            out.push((p.to_string(), *m));
        }
    };
    for k in kept {
        match k.strip_suffix('/') {
            Some("") => prev.iter().for_each(|(p, m)| add(p, m)),
            Some(dir) => prev.tree(dir).filter(|(p, _)| p.len() > dir.len()).for_each(|(p, m)| add(p, m)),
            None => prev.get(k).into_iter().for_each(|m| add(k, m)),
        }
    }
    // Sorted, each path once (a file may be kept twice, as itself and under its folder).
    out.into_iter().collect()
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
            ..Default::default()
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
