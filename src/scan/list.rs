//! List one folder of a walk (`walk.rs`): its files with their size and time, its subfolders,
//! and the symlinks in it, followed or not as [`Guard`] decides. What cannot be looked at for a
//! moment is reported as kept, not as gone.

use std::fs;
use std::io;
use std::path::Path;
#[cfg(test)]
use std::{path::PathBuf, sync::Mutex};

use globset::GlobSet;

use super::guard::Guard;
use super::walk::{dir_id, is_gone, mtime_ns, Found, Item, Part, Pending};
use crate::error::{Error, Result};

/// One thread's lister: its own globs, and what it found besides listings.
pub(super) struct Lister<'g, 's> {
    pub guard: &'g Guard<'s>,
    pub exclude: GlobSet,
    pub exclude_dirs: GlobSet,
    pub part: Part,
}

impl Lister<'_, '_> {
    /// `rel` cannot be looked at now (`e`): keep what was there (under it too, with
    /// `folder_too`), unless it is gone.
    fn cannot(&mut self, path: &Path, rel: &str, what: &str, e: io::Error, folder_too: bool) {
        if !is_gone(&e) {
            self.part.warnings.push(format!("{}: cannot {what} ({e}); keeping its previous state", path.display()));
            self.part.kept.push(rel.to_string());
            if folder_too {
                self.part.kept.push(format!("{rel}/"));
            }
        }
    }

    /// List one directory: its files into `items`; its subdirectories into `subdirs` and, as
    /// their index there, into `items`. Only the root's own failures are errors.
    pub fn list(&mut self, dir: &Pending, items: &mut Vec<Item>, subdirs: &mut Vec<Pending>) -> Result<()> {
        let spec = self.guard.spec;
        let is_root = dir.prefix.is_empty();
        // Its identity (for the loop guard) and its filesystem: one `stat` per folder.
        let meta = match fs::metadata(&dir.path) {
            Ok(m) => m,
            Err(e) if is_root => return Err(Error::io(&dir.path, e)),
            Err(e) => {
                self.cannot(&dir.path, &dir.prefix, "look at it", e, false);
                return Ok(());
            }
        };
        let id = dir_id(&meta);
        if cfg!(unix) && dir.ancestors.contains(&id) {
            self.part.warnings.push(format!("{}: symlink loop; skipped", dir.path.display()));
            return Ok(());
        }
        if cfg!(unix) && !is_root && spec.skip_ids.contains(&id) {
            return Ok(());
        }
        if dir.check_fs || dir.ancestors.last().is_none_or(|parent| parent.0 != id.0) {
            if let Some(kind) = self.guard.pseudo_fs(&dir.path, id.0) {
                if is_root {
                    return Err(Error::Usage(format!(
                        "publish_dir {} is on a pseudo filesystem ({kind}), which cdnsync never walks",
                        dir.path.display()
                    )));
                }
                self.part.warnings.push(format!("{}: on a pseudo filesystem ({kind}); not walked", dir.path.display()));
                return Ok(());
            }
        }
        let rd = match read_dir(&dir.path) {
            Ok(rd) => rd,
            Err(e) if is_root => return Err(Error::io(&dir.path, e)),
            Err(e) => {
                self.cannot(&dir.path, &dir.prefix, "list it", e, false);
                return Ok(());
            }
        };
        let mut ancestors = Vec::with_capacity(dir.ancestors.len() + 1);
        ancestors.extend_from_slice(&dir.ancestors);
        ancestors.push(id);
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    // The listing broke off: what it did not reach keeps its previous state.
                    self.cannot(&dir.path, &dir.prefix, "list all of it", e, false);
                    break;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                self.part.warnings.push(format!("{}: file name is not UTF-8; not tracked", entry.path().display()));
                continue;
            };
            let mut rel = String::with_capacity(dir.prefix.len() + name.len() + 1);
            rel.push_str(&dir.prefix);
            rel.push_str(name);
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                Err(e) => {
                    self.cannot(&entry.path(), &rel, "look at it", e, true);
                    continue;
                }
            };
            // A real directory needs no stat here (its own listing makes one); a file needs its
            // size and mtime; a symlink is followed or not, as `symlinks` says.
            let (meta, leaves) = if ft.is_dir() {
                (None, false)
            } else if ft.is_symlink() {
                match self.guard.follow(&entry.path(), &rel, dir.outside, &mut self.part.warnings) {
                    Ok(Some(f)) => (Some(f.meta), f.leaves),
                    Ok(None) => continue,
                    Err(e) => {
                        self.cannot(&entry.path(), &rel, "follow it", e, true);
                        continue;
                    }
                }
            } else if ft.is_file() {
                if self.exclude.is_match(&rel) {
                    continue;
                }
                match entry.metadata() {
                    Ok(m) => (Some(m), false),
                    Err(e) => {
                        self.cannot(&entry.path(), &rel, "look at it", e, false);
                        continue;
                    }
                }
            } else {
                // A FIFO, a socket, a device: nothing a web server serves.
                continue;
            };
            if meta.as_ref().is_none_or(fs::Metadata::is_dir) {
                if self.exclude_dirs.is_match(&rel) || spec.skip_dirs.contains(&rel) {
                    continue;
                }
                rel.push('/');
                items.push(Item::Dir(subdirs.len()));
                subdirs.push(Pending {
                    id: usize::MAX,
                    path: entry.path(),
                    prefix: rel,
                    ancestors: ancestors.clone(),
                    check_fs: meta.is_some(),
                    outside: dir.outside || leaves,
                });
            } else if let Some(meta) = meta.filter(fs::Metadata::is_file) {
                if ft.is_symlink() && self.exclude.is_match(&rel) {
                    continue;
                }
                items.push(Item::File(Found { rel, size: meta.len(), mtime_ns: mtime_ns(&meta) }));
            }
        }
        Ok(())
    }
}

/// Folders [`read_dir`] fails to list in unit tests (root lists any folder, so permissions
/// cannot make one unlistable in a test that runs as root; `tests/hostile_tree.rs` does it for
/// real, as another user).
#[cfg(test)]
pub(crate) static UNLISTABLE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// `fs::read_dir` (failing for [`UNLISTABLE`] folders in unit tests).
fn read_dir(path: &Path) -> io::Result<fs::ReadDir> {
    #[cfg(test)]
    if UNLISTABLE.lock().expect("unlistable").iter().any(|p| p == path) {
        return Err(io::Error::from(io::ErrorKind::PermissionDenied));
    }
    fs::read_dir(path)
}
