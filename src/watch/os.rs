//! OS file events (inotify, FSEvents…) through notify: one recursive watch on the tree and one
//! on the folder holding `publish_dir` (so that a swapped symlink or a replaced folder is
//! noticed), and the identity of `publish_dir` used to tell that it now resolves elsewhere.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::events::{translate, Msg};
use crate::error::{Error, Result};

/// Identity of `publish_dir`: where it resolves to, and that directory's (device, inode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RootId {
    pub(super) target: PathBuf,
    dev_ino: (u64, u64),
}

/// [`root_id`], for start-up, where a missing `publish_dir` is an error.
pub(super) fn existing_root_id(root: &Path) -> Result<RootId> {
    root_id(root).ok_or_else(|| Error::Usage(format!("publish_dir {} does not exist", root.display())))
}

pub(super) fn root_id(root: &Path) -> Option<RootId> {
    let target = std::fs::canonicalize(root).ok()?;
    let meta = std::fs::metadata(&target).ok()?;
    #[cfg(unix)]
    let dev_ino = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let dev_ino = {
        let _ = meta;
        (0, 0)
    };
    Some(RootId { target, dev_ino })
}

/// The OS (or polling) watchers: one recursive on the tree, one on the folder holding it.
pub(super) struct Watching {
    tree: Box<dyn notify::Watcher + Send>,
    /// Kept alive for its events only.
    _parent: Box<dyn notify::Watcher + Send>,
    pub(super) id: RootId,
}

fn make_watcher(tx: tokio::sync::mpsc::Sender<Msg>, overflow: Arc<AtomicBool>) -> Result<Box<dyn notify::Watcher + Send>> {
    let handler = move |res: notify::Result<notify::Event>| {
        let Some(msg) = translate(res) else { return };
        if tx.try_send(msg).is_err() {
            overflow.store(true, Ordering::SeqCst);
        }
    };
    Ok(Box::new(
        notify::recommended_watcher(handler).map_err(|source| Error::Watch { context: "cannot start the file watcher".into(), source })?,
    ))
}

pub(super) fn watch_error(path: &Path, e: notify::Error) -> Error {
    let hint = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) { INOTIFY_HINT } else { "" };
    Error::Watch { context: format!("cannot watch {}{hint}", path.display()), source: e }
}

/// What to do when the inotify watch limit is hit.
pub(super) const INOTIFY_HINT: &str = "; the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288` \
     (persist it in /etc/sysctl.d/), or run `cdnsync watch --poll`";

impl Watching {
    pub(super) fn start(root: &Path, tx: &tokio::sync::mpsc::Sender<Msg>, overflow: &Arc<AtomicBool>) -> Result<Self> {
        let id = existing_root_id(root)?;
        let mut tree = make_watcher(tx.clone(), overflow.clone())?;
        tree.watch(&id.target, notify::RecursiveMode::Recursive).map_err(|e| watch_error(&id.target, e))?;
        let mut parent = make_watcher(tx.clone(), overflow.clone())?;
        let holder = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        parent.watch(holder, notify::RecursiveMode::NonRecursive).map_err(|e| watch_error(holder, e))?;
        Ok(Watching { tree, _parent: parent, id })
    }

    /// `publish_dir` resolves elsewhere now: move the tree watch there.
    pub(super) fn follow(&mut self, new: RootId) -> Result<()> {
        let _ = self.tree.unwatch(&self.id.target);
        self.tree.watch(&new.target, notify::RecursiveMode::Recursive).map_err(|e| watch_error(&new.target, e))?;
        self.id = new;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_limit_error_says_which_sysctl_to_raise() {
        let e = watch_error(Path::new("/srv/www"), notify::Error::new(notify::ErrorKind::MaxFilesWatch));
        let text = e.to_string();
        assert!(text.contains("/srv/www") && text.contains("fs.inotify.max_user_watches") && text.contains("--poll"), "{text}");
        let other = watch_error(Path::new("/srv/www"), notify::Error::path_not_found()).to_string();
        assert!(!other.contains("inotify"), "{other}");
    }
}
