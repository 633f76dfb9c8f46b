//! What keeps a walk within bounds (`docs/config.md`, `symlinks` and `[limits] max_files`): which
//! symlinks it follows, the links that lead out of `publish_dir`, pseudo filesystems it never
//! enters, and the count of paths found. Shared by the walk's threads.
//!
//! A folder is walked at most once along any one path (the loop guard in `walk.rs`), not once per
//! walk: a folder reachable under two paths is served under two URLs, and both must be tracked
//! to be purged. What bounds a web of links that multiplies the paths is the count here.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::pseudo::PseudoFs;
use super::ScanSpec;
use crate::config::Symlinks;
use crate::error::Error;
use crate::model::OutsideLink;

/// Links named in a [`Error::TooManyFiles`] message.
const LINKS_IN_ERROR: usize = 5;

/// One walk's shared state.
pub(super) struct Guard<'a> {
    pub spec: &'a ScanSpec,
    /// `publish_dir` with every link resolved: what "inside" means.
    real_root: PathBuf,
    /// Read on first need (a walk without links or mount points never reads it).
    pseudo: OnceLock<PseudoFs>,
    /// Files and folders found so far.
    found: AtomicU64,
    /// Links that lead out of `publish_dir`, as found.
    links: Mutex<Vec<OutsideLink>>,
}

/// A symlink the walk follows: what it leads to.
pub(super) struct Followed {
    pub meta: fs::Metadata,
    /// It leads out of `publish_dir`.
    pub leaves: bool,
}

impl<'a> Guard<'a> {
    pub fn new(spec: &'a ScanSpec) -> Self {
        let real_root = fs::canonicalize(&spec.root).unwrap_or_else(|_| spec.root.clone());
        Guard { spec, real_root, pseudo: OnceLock::new(), found: AtomicU64::new(0), links: Mutex::new(Vec::new()) }
    }

    /// The pseudo filesystem `path` (on device `dev`) is on, if any.
    pub fn pseudo_fs(&self, path: &Path, dev: u64) -> Option<String> {
        self.pseudo.get_or_init(PseudoFs::load).kind(path, dev)
    }

    /// Count `n` more paths found; past `[limits] max_files`, the error that stops the walk.
    pub fn count(&self, n: usize) -> Result<(), Error> {
        let total = self.found.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total <= self.spec.max_files {
            return Ok(());
        }
        let links = self.links.lock().expect("links").iter().take(LINKS_IN_ERROR).map(|l| format!("{} -> {}", l.path, l.target)).collect();
        Err(Error::TooManyFiles { root: self.spec.root.clone(), limit: self.spec.max_files, links })
    }

    /// The links found that lead out of `publish_dir`, by path.
    pub fn into_links(self) -> Vec<OutsideLink> {
        let mut links = self.links.into_inner().expect("links");
        links.sort_by(|a, b| a.path.cmp(&b.path));
        links
    }

    /// The symlink `path` (at `rel`) in a folder that is `outside` publish_dir already: what it
    /// leads to, if the walk follows it. A link out of `publish_dir` is recorded (followed or
    /// not); a broken one, or one into a pseudo filesystem, is a warning. `Err` when it cannot be
    /// told where the link leads (no permission): the caller keeps what was there.
    pub fn follow(&self, path: &Path, rel: &str, outside: bool, warnings: &mut Vec<String>) -> io::Result<Option<Followed>> {
        let resolved = fs::metadata(path).and_then(|m| if outside { Ok((m, None)) } else { fs::canonicalize(path).map(|r| (m, Some(r))) });
        let (meta, real) = match resolved {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
            Err(e) => {
                warnings.push(format!("{}: broken symlink ({e}); skipped", path.display()));
                return Ok(None);
            }
        };
        let leaves = real.as_ref().is_some_and(|r| !r.starts_with(&self.real_root));
        let pseudo = self.pseudo_fs(path, super::walk::dir_id(&meta).0);
        let follow = pseudo.is_none()
            && match self.spec.symlinks {
                Symlinks::Follow => true,
                Symlinks::Inside => !leaves && !outside,
                Symlinks::Skip => false,
            };
        if let (true, Some(real)) = (leaves, &real) {
            let link = OutsideLink { path: rel.to_string(), target: real.display().to_string(), followed: follow };
            self.links.lock().expect("links").push(link);
        }
        if let Some(kind) = pseudo {
            warnings.push(format!("{}: leads to a pseudo filesystem ({kind}); not followed", path.display()));
        }
        Ok(follow.then_some(Followed { meta, leaves }))
    }

    /// May a partial walk go to `rel` (relative to the root)? Only along links the whole walk
    /// follows: under `symlinks = "inside"` none that leads out of `publish_dir`, under `"skip"`
    /// none at all. A path that is not there passes (the caller finds it gone).
    pub fn route_allowed(&self, rel: &str) -> io::Result<bool> {
        if self.spec.symlinks == Symlinks::Follow {
            return Ok(true);
        }
        let mut at = self.spec.root.clone();
        for part in rel.split('/') {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    if self.spec.symlinks == Symlinks::Skip {
                        return Ok(false);
                    }
                    match fs::canonicalize(&at) {
                        Ok(real) if real.starts_with(&self.real_root) => {}
                        Ok(_) => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
                        Err(e) => return Err(e),
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
