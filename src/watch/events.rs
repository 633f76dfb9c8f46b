//! notify's vocabulary translated into cdnsync's, in pure functions with table tests: an OS
//! event becomes a [`Msg`] (or nothing), and each path it names becomes a [`Seen`] — a touch for
//! the settler, a sign that `publish_dir` itself changed, or nothing. No filesystem access here:
//! everything a decision needs is in [`Context`], built once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::settle::Touch;
use crate::scan::ScanSpec;

/// What the watcher thread tells the loop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    /// These paths were created, written, renamed or removed.
    Paths(Vec<PathBuf>),
    /// Events may have been lost: rescan everything, for this reason.
    Rescan(String),
    /// The watcher failed (it may go on); `watch_limit` when the inotify limit was hit.
    Error { text: String, watch_limit: bool },
}

/// One OS event as a message; `None` for events that change nothing (a file opened or read).
pub(crate) fn translate(res: notify::Result<notify::Event>) -> Option<Msg> {
    use notify::event::{AccessKind, AccessMode};
    use notify::EventKind;
    match res {
        Ok(ev) if ev.need_rescan() => Some(Msg::Rescan("the OS reported that events were lost".into())),
        Ok(ev) => match ev.kind {
            EventKind::Access(AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read)) => None,
            _ => Some(Msg::Paths(ev.paths)),
        },
        Err(e) => Some(Msg::Error { watch_limit: matches!(e.kind, notify::ErrorKind::MaxFilesWatch), text: e.to_string() }),
    }
}

/// What a path in an event means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Something in the tree: hand it to the settler.
    Touch(Touch),
    /// `publish_dir` itself (the link or the folder) changed: find out where it resolves now.
    Root,
    /// Nothing that counts (excluded, the state directory, elsewhere).
    Nothing,
}

/// Everything [`Context::classify`] needs, computed once.
#[derive(Debug)]
pub(crate) struct Context {
    /// What a scan leaves out (built-in and configured excludes).
    pub spec: ScanSpec,
    /// The state directory as configured and as resolved (events carry resolved paths).
    pub state_dirs: Vec<PathBuf>,
    /// The trigger file, relative to `publish_dir`.
    pub trigger: Option<String>,
    /// The last component of `publish_dir` as configured (a symlink's name, for swaps).
    pub root_name: Option<OsString>,
}

impl Context {
    /// What `path` means, for a tree currently resolved at `target`.
    pub(crate) fn classify(&self, path: &Path, target: &Path) -> Seen {
        let Ok(rel) = path.strip_prefix(target) else {
            // Outside the tree: only publish_dir itself counts (seen from its folder's watch).
            return if path.file_name().is_some() && path.file_name() == self.root_name.as_deref() { Seen::Root } else { Seen::Nothing };
        };
        let Some(rel) = rel.to_str() else { return Seen::Nothing };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        if self.trigger.as_deref() == Some(rel.as_str()) {
            Seen::Touch(Touch::Trigger)
        } else if !rel.is_empty() && (self.state_dirs.iter().any(|d| path.starts_with(d)) || self.spec.ignores(&rel)) {
            Seen::Nothing
        } else {
            Seen::Touch(Touch::Path(rel))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, EventKind, Flag, ModifyKind, RemoveKind, RenameMode};

    fn ev(kind: EventKind, paths: &[&str]) -> notify::Result<notify::Event> {
        let mut e = notify::Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        Ok(e)
    }

    #[test]
    fn os_events_to_messages() {
        let paths = |v: &[&str]| Some(Msg::Paths(v.iter().map(PathBuf::from).collect()));
        let cases: Vec<(notify::Result<notify::Event>, Option<Msg>)> = vec![
            (ev(EventKind::Create(CreateKind::File), &["/t/a"]), paths(&["/t/a"])),
            (ev(EventKind::Modify(ModifyKind::Data(DataChange::Content)), &["/t/a"]), paths(&["/t/a"])),
            (ev(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/t/a", "/t/b"]), paths(&["/t/a", "/t/b"])),
            (ev(EventKind::Remove(RemoveKind::Folder), &["/t/d"]), paths(&["/t/d"])),
            (ev(EventKind::Access(AccessKind::Close(AccessMode::Write)), &["/t/a"]), paths(&["/t/a"])),
            (ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), &["/t/a"]), None),
            (ev(EventKind::Access(AccessKind::Read), &["/t/a"]), None),
            (ev(EventKind::Access(AccessKind::Close(AccessMode::Read)), &["/t/a"]), None),
            (
                Ok(notify::Event::new(EventKind::Other).set_flag(Flag::Rescan)),
                Some(Msg::Rescan("the OS reported that events were lost".into())),
            ),
            (
                Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)),
                Some(Msg::Error { text: notify::Error::new(notify::ErrorKind::MaxFilesWatch).to_string(), watch_limit: true }),
            ),
            (Err(notify::Error::generic("boom")), Some(Msg::Error { text: "boom".into(), watch_limit: false })),
        ];
        for (input, want) in cases {
            let shown = format!("{input:?}");
            assert_eq!(translate(input), want, "{shown}");
        }
    }

    #[test]
    fn paths_to_what_they_mean() {
        let mut spec = ScanSpec::for_tests(Path::new("/srv/site/public"));
        spec.root = PathBuf::from("/srv/site/public");
        let ctx = Context {
            spec,
            state_dirs: vec![PathBuf::from("/srv/site/public/state"), PathBuf::from("/data/state")],
            trigger: Some(".deployed".into()),
            root_name: Some("public".into()),
        };
        let target = Path::new("/srv/releases/42");
        let touch = |p: &str| Seen::Touch(Touch::Path(p.into()));
        let cases = [
            ("/srv/releases/42/a.html", touch("a.html")),
            ("/srv/releases/42/docs/b c.html", touch("docs/b c.html")),
            ("/srv/releases/42/docs", touch("docs")),
            ("/srv/releases/42", touch("")),
            ("/srv/releases/42/.deployed", Seen::Touch(Touch::Trigger)),
            ("/srv/releases/42/.git/index", Seen::Nothing),
            ("/srv/releases/42/docs/.b.html.swp", Seen::Nothing),
            ("/srv/releases/42/docs/.b.html.Ab12Cd", Seen::Nothing),
            ("/srv/releases/42/.cdnsync/manifest", Seen::Nothing),
            ("/srv/site/public", Seen::Root),
            ("/srv/site/other", Seen::Nothing),
            ("/srv/releases/43/a.html", Seen::Nothing),
        ];
        for (path, want) in cases {
            assert_eq!(ctx.classify(Path::new(path), target), want, "{path}");
        }
        // The state directory inside the tree, as events name it.
        let in_tree = Context { state_dirs: vec![PathBuf::from("/srv/releases/42/state")], ..ctx };
        assert_eq!(in_tree.classify(Path::new("/srv/releases/42/state/lock"), target), Seen::Nothing);
    }
}
