//! Walk `publish_dir`: every regular file that no exclude matches, in path order.
//!
//! A symlinked `publish_dir` is followed (atomic deploys swap such a link). Symlinks inside are
//! followed as `symlinks` says, within the bounds of [`super::guard`]: never into a pseudo
//! filesystem, never into a folder that is its own ancestor on the path walked (a loop, skipped
//! with a warning), never into the state folder, and never past `[limits] max_files` paths.
//!
//! A folder that cannot be listed, or a file that cannot be looked at, for a moment (permissions,
//! a deploy in progress) is not "gone": it is reported in [`Walked::kept`], and the scan keeps
//! what the manifest had there.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::guard::Guard;
use super::list::Lister;
use super::ScanSpec;
use crate::error::{Error, Result};
use crate::model::OutsideLink;

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
    /// What could not be looked at just now, whose previous state stands: a folder as its
    /// prefix (`docs/`), a file as its path.
    pub kept: Vec<String>,
    /// Symlinks that lead out of `publish_dir`, by path.
    pub links_outside: Vec<OutsideLink>,
}

/// The (device, inode) of a file or folder.
#[cfg(unix)]
pub(crate) fn dir_id(m: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
pub(crate) fn dir_id(_m: &fs::Metadata) -> (u64, u64) {
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

/// An error that means the thing is gone (deleted, or replaced by something that is not a
/// folder), not that it cannot be looked at.
pub(super) fn is_gone(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// A directory still to list.
pub(super) struct Pending {
    /// Where its listing goes (see [`Item::Dir`]).
    pub id: usize,
    pub path: PathBuf,
    /// Relative prefix ending in '/' (or empty for the root).
    pub prefix: String,
    /// The (device, inode) of its ancestors on the path walked, to detect loops.
    pub ancestors: Vec<(u64, u64)>,
    /// Reached through a symlink, or a starting point: its filesystem is checked even when it
    /// is on its parent's device.
    pub check_fs: bool,
    /// Under a link that leads out of `publish_dir` (that link is reported, not the ones here).
    pub outside: bool,
}

impl Pending {
    fn start(id: usize, path: PathBuf, prefix: String, ancestors: Vec<(u64, u64)>) -> Self {
        Pending { id, path, prefix, ancestors, check_fs: true, outside: false }
    }
}

/// One entry of a directory listing, sorted by path: a file, or a subdirectory whose own listing
/// is stored under that number. Ordering files by name and subdirectories by name + '/' within
/// each directory puts the whole tree in path order (the order the manifest and the diff use)
/// without sorting 100,000 paths at the end.
pub(super) enum Item {
    File(Found),
    Dir(usize),
}

/// Walk the tree under `spec.root`, sorted by path.
pub fn walk(spec: &ScanSpec) -> Result<Walked> {
    fs::metadata(&spec.root).map_err(|e| Error::io(&spec.root, e))?;
    let guard = Guard::new(spec);
    let mut out = Walked::default();
    drain(&guard, vec![Pending::start(0, spec.root.clone(), String::new(), Vec::new())], &mut out)?;
    out.links_outside = guard.into_links();
    Ok(out)
}

/// Only the given paths (relative to the root, `/`-separated): each file that exists and is not
/// excluded, and every file under each directory. Paths that no longer exist yield nothing (the
/// caller treats them as removed). Sorted by path, without duplicates.
pub fn walk_paths(spec: &ScanSpec, rels: &[String]) -> Result<Walked> {
    let root_meta = fs::metadata(&spec.root).map_err(|e| Error::io(&spec.root, e))?;
    let guard = Guard::new(spec);
    let mut out = Walked::default();
    let mut roots: Vec<Pending> = Vec::new();
    for rel in rels {
        let rel = rel.trim_matches('/');
        let id = roots.len();
        if rel.is_empty() {
            roots.push(Pending::start(id, spec.root.clone(), String::new(), Vec::new()));
            continue;
        }
        // Inside an excluded directory (`.git/`, the state dir…): never tracked.
        if spec.in_excluded_dir(rel) {
            continue;
        }
        let abs = spec.root.join(rel);
        let meta = guard.route_allowed(rel).and_then(|allowed| if allowed { fs::metadata(&abs).map(Some) } else { Ok(None) });
        let meta = match meta {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) if is_gone(&e) => continue,
            Err(e) => {
                out.warnings.push(format!("{}: cannot look at it ({e}); keeping its previous state", abs.display()));
                out.kept.extend([rel.to_string(), format!("{rel}/")]);
                continue;
            }
        };
        if meta.is_dir() {
            if !spec.excludes_dir(rel) {
                roots.push(Pending::start(id, abs, format!("{rel}/"), vec![dir_id(&root_meta)]));
            }
        } else if meta.is_file() && !spec.exclude.is_match(rel) {
            if let Some(kind) = guard.pseudo_fs(&abs, dir_id(&meta).0) {
                out.warnings.push(format!("{}: on a pseudo filesystem ({kind}); not tracked", abs.display()));
                continue;
            }
            guard.count(1)?;
            out.files.push(Found { rel: rel.to_string(), size: meta.len(), mtime_ns: mtime_ns(&meta) });
        }
    }
    drain(&guard, roots, &mut out)?;
    out.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    out.files.dedup_by(|a, b| a.rel == b.rel);
    out.links_outside = guard.into_links();
    Ok(out)
}

/// What one thread of the walk returns.
#[derive(Default)]
pub(super) struct Part {
    /// The listings it made, by directory number.
    pub listings: Vec<(usize, Vec<Item>)>,
    pub warnings: Vec<String>,
    pub kept: Vec<String>,
}

/// The directories waiting to be listed, shared by the walk's threads.
struct Queue {
    dirs: Vec<Pending>,
    /// Threads listing a directory now (which may add more).
    busy: usize,
    error: Option<Error>,
}

/// Walk the pending directories and everything below them, appending their files to `out` in
/// tree order (root by root). Directories are listed and their files stat'ed on several threads
/// (a no-change sync of a large site is mostly `stat` calls); each listing is sorted on its own
/// thread and the listings are stitched together at the end.
fn drain(guard: &Guard, roots: Vec<Pending>, out: &mut Walked) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let root_ids: Vec<usize> = roots.iter().map(|r| r.id).collect();
    // Numbers for the directories found: each listing takes a block for its subdirectories.
    let next_id = AtomicUsize::new(roots.len());
    let queue = Mutex::new(Queue { dirs: roots, busy: 0, error: None });
    let wake = Condvar::new();
    let worker = || {
        // Each thread matches with its own copy of the globs: a shared regex hands its scratch
        // space to one thread at a time.
        let mut lister =
            Lister { guard, exclude: guard.spec.exclude.clone(), exclude_dirs: guard.spec.exclude_dirs.clone(), part: Part::default() };
        let mut found: Vec<Pending> = Vec::new();
        loop {
            let job = {
                let mut q = queue.lock().expect("walk queue");
                loop {
                    if q.error.is_some() || (q.dirs.is_empty() && q.busy == 0) {
                        wake.notify_all();
                        break None;
                    }
                    if let Some(d) = q.dirs.pop() {
                        q.busy += 1;
                        break Some(d);
                    }
                    q = wake.wait(q).expect("walk queue");
                }
            };
            let Some(dir) = job else { break };
            let mut items = Vec::new();
            let res = lister.list(&dir, &mut items, &mut found).and_then(|()| guard.count(items.len()));
            // Subdirectories are numbered within this listing until here.
            items.sort_unstable_by(|a, b| item_key(a, &found).cmp(item_key(b, &found)));
            let base = next_id.fetch_add(found.len(), Ordering::Relaxed);
            for item in &mut items {
                if let Item::Dir(i) = item {
                    *i += base;
                }
            }
            for (i, sub) in found.iter_mut().enumerate() {
                sub.id = base + i;
            }
            lister.part.listings.push((dir.id, items));
            let mut q = queue.lock().expect("walk queue");
            q.busy -= 1;
            q.dirs.append(&mut found);
            if let Err(e) = res {
                q.error.get_or_insert(e);
            }
            wake.notify_all();
        }
        lister.part
    };
    let parts: Vec<Part> = if threads == 1 {
        vec![worker()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            handles.into_iter().map(|w| w.join().expect("walk thread")).collect()
        })
    };
    if let Some(e) = queue.into_inner().expect("walk queue").error {
        return Err(e);
    }
    let mut listings: Vec<Option<Vec<Item>>> = (0..next_id.into_inner()).map(|_| None).collect();
    let mut files = 0;
    for part in parts {
        out.warnings.extend(part.warnings);
        out.kept.extend(part.kept);
        for (id, items) in part.listings {
            files += items.len();
            listings[id] = Some(items);
        }
    }
    out.files.reserve(files);
    // Depth first, each listing in order: the tree in path order.
    let mut stack: Vec<std::vec::IntoIter<Item>> = Vec::new();
    for id in root_ids {
        stack.extend(listings[id].take().map(Vec::into_iter));
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(Item::File(f)) => out.files.push(f),
                Some(Item::Dir(sub)) => stack.extend(listings[sub].take().map(Vec::into_iter)),
                None => {
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

/// The path an item sorts by: a file's path, or a subdirectory's path with its trailing '/'
/// (`subdirs` holds this listing's subdirectories, `Item::Dir` their index in it).
fn item_key<'a>(item: &'a Item, subdirs: &'a [Pending]) -> &'a str {
    match item {
        Item::File(f) => &f.rel,
        Item::Dir(i) => &subdirs[*i].prefix,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn lists_the_tree_in_path_order_without_a_global_sort() {
        // Names around '/' (0x2F) in byte order: '-' and '.' sort before a directory's
        // children, '0' and 'z' after them; a directory named like a file's prefix; nesting.
        let tmp = tempfile::tempdir().unwrap();
        let rels = [
            "a",
            "a-b",
            "a.html",
            "a0",
            "az",
            "b/a-b",
            "b/a.html",
            "b/a/x",
            "b/a/x.y/z",
            "b/a0",
            "b/a/-",
            "b/a.b/c",
            "c/d/e/f/g.html",
            "c/d.html",
            "c/d/e.html",
            "c/d/e0",
            "z",
            "文档/b",
            "文档/a/c",
        ];
        for (i, rel) in rels.iter().enumerate() {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, i.to_string()).unwrap();
        }
        // Many directories, so that several threads share the work.
        for d in 0..60 {
            for f in 0..3 {
                let p = tmp.path().join(format!("m/{}/{f}.html", d * 7 % 60));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, "x").unwrap();
            }
        }
        let mut expected: Vec<String> = rels.iter().map(|r| r.to_string()).collect();
        expected.extend((0..60).flat_map(|d| (0..3).map(move |f| format!("m/{d}/{f}.html"))));
        expected.sort();
        let w = walk(&ScanSpec::for_tests(tmp.path())).unwrap();
        let got: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(got, expected);
        assert_eq!(w.files.iter().find(|f| f.rel == "b/a/x.y/z").map(|f| f.size), Some(1), "sizes come from stat");

        // Only some paths: still in order, each file once.
        let some =
            walk_paths(&ScanSpec::for_tests(tmp.path()), &["c".into(), "a0".into(), "c/d".into(), "b/a".into(), "gone".into()]).unwrap();
        let got: Vec<&str> = some.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(got, ["a0", "b/a/-", "b/a/x", "b/a/x.y/z", "c/d.html", "c/d/e.html", "c/d/e/f/g.html", "c/d/e0"]);
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
        let w = walk(&ScanSpec::for_tests(&current)).unwrap();
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["docs/a.html", "index.html"]);
        assert!(w.warnings.iter().any(|x| x.contains("symlink loop")), "{:?}", w.warnings);
    }
}
