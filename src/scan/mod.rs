//! Scan `publish_dir`: walk it ([`walk`]) and hash what the stat cache cannot vouch for ([`hash`]).

pub mod hash;
pub mod walk;

use std::path::{Path, PathBuf};

use globset::GlobSet;

use crate::error::Result;
use crate::model::{FileMeta, Snapshot};

/// What to scan and what to leave out.
#[derive(Clone, Debug)]
pub struct ScanSpec {
    pub root: PathBuf,
    pub exclude: GlobSet,
    pub exclude_dirs: GlobSet,
}

/// The manifest's stat cache, as the scan needs it.
#[derive(Clone, Copy, Debug)]
pub struct PreviousScan<'a> {
    pub snapshot: &'a Snapshot,
    /// When the scan that produced `snapshot` started (ns since the epoch): entries modified at or
    /// after that instant (less a safety margin) are "racy" and always rehashed.
    pub scan_start_ns: i64,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub snapshot: Snapshot,
    /// Files whose content was read and hashed.
    pub hashed: usize,
    /// Files whose hash was reused from the manifest.
    pub reused: usize,
    /// Things skipped, with the reason (unreadable files, broken links, non-UTF-8 names, loops).
    pub warnings: Vec<String>,
}

/// Walk `spec.root` and build a snapshot, rehashing only what changed since `prev`
/// (everything when `full` or without a previous scan).
pub fn scan(spec: &ScanSpec, prev: Option<PreviousScan<'_>>, full: bool) -> Result<ScanOutcome> {
    let walked = walk::walk(spec)?;
    let mut out = ScanOutcome { warnings: walked.warnings, ..Default::default() };
    let mut to_hash: Vec<(usize, PathBuf)> = Vec::new();
    let mut entries: Vec<(String, u64, i64, Option<FileMeta>)> = Vec::with_capacity(walked.files.len());
    for f in walked.files {
        let old = prev.and_then(|p| p.snapshot.files.get(&f.rel).copied());
        let reuse = !full
            && match (prev, old) {
                (Some(p), Some(o)) => hash::can_reuse(&o, f.size, f.mtime_ns, p.scan_start_ns),
                _ => false,
            };
        if reuse {
            entries.push((f.rel, f.size, f.mtime_ns, old));
        } else {
            to_hash.push((entries.len(), f.abs));
            entries.push((f.rel, f.size, f.mtime_ns, None));
        }
    }
    crate::failpoint::hit("scan");
    let results = hash::hash_files(to_hash.iter().map(|(_, p)| p.as_path()).collect::<Vec<&Path>>().as_slice());
    let mut hashed = vec![None; entries.len()];
    for ((idx, path), res) in to_hash.iter().zip(results) {
        match res {
            Ok(h) => hashed[*idx] = Some(h),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted while we scanned: it is gone, so it is not in the snapshot.
            }
            Err(e) => out.warnings.push(format!("{}: cannot read ({e}); keeping its previous state", path.display())),
        }
    }
    for (i, (rel, size, mtime_ns, old)) in entries.into_iter().enumerate() {
        let meta = match (old, hashed[i]) {
            (Some(o), _) => {
                out.reused += 1;
                o
            }
            (None, Some(h)) => {
                out.hashed += 1;
                FileMeta { size, mtime_ns, hash: h }
            }
            (None, None) => {
                // Unreadable: carry the old record over so the file is neither "removed" nor lost.
                match prev.and_then(|p| p.snapshot.files.get(&rel).copied()) {
                    Some(o) if Path::new(&spec.root).join(&rel).exists() => o,
                    _ => continue,
                }
            }
        };
        out.snapshot.files.insert(rel, meta);
    }
    Ok(out)
}
