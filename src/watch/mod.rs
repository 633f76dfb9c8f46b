//! `cdnsync watch`: sync after every settled burst of changes, on the same engine as `sync`.
//!
//! - Starts with a whole sync (catches up on what changed while it was down, sends owed jobs).
//! - Watches `publish_dir` recursively with OS events (inotify, FSEvents…); the folder holding
//!   `publish_dir` is watched too, so that a swapped symlink (atomic deploys:
//!   `current -> releases/N`) or a replaced folder is noticed. With `--poll` (network
//!   filesystems, where OS events do not arrive) it stats the tree every interval instead.
//! - Bursts are batched by the pure [`settle::Settler`]; only touched paths are rescanned.
//! - Events that can be missed are never guessed at: a full queue, an event the OS marks as
//!   "rescan", a watcher error or the inotify watch limit each trigger a whole rescan with a
//!   log line saying why (and which sysctl to raise).
//! - Owed jobs are retried in the background: deferred ones at the quota reset (00:00 UTC+8),
//!   transient failures with backoff (30 s doubling to 15 min).
//! - The state directory's lock is taken per sync, not for the watcher's lifetime, so `status`,
//!   `plan` and even a manual `sync` or `purge` work while it runs (they queue on the lock).
//! - On shutdown (SIGINT/SIGTERM) it stops watching, lets an in-flight sync finish for up to
//!   [`WatchOptions::grace`], and exits; anything unfinished is already in the outbox (every job
//!   is persisted before its request) and goes out on the next start.

pub mod settle;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api::CdnApi;
use crate::engine::{Engine, SyncOptions};
use crate::error::{Error, Result};
use crate::model::JobStatus;
use crate::progress::Progress;
use crate::report::Report;
use crate::submit::retry::Backoff;
use crate::text::Printable;
use settle::{Burst, Settler, Touch};

/// How many watcher messages may wait; past that the queue overflows into a whole rescan, so
/// memory does not grow with the number of events.
pub const QUEUE: usize = 1024;
/// Retries of owed jobs that failed transiently: after 30 s, doubling to 15 min.
pub const OWED_BACKOFF: Backoff = Backoff { base: Duration::from_secs(30), cap: Duration::from_secs(900) };

/// How the watcher runs.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Poll every so often instead of using OS events.
    pub poll: Option<Duration>,
    /// On shutdown, how long an in-flight sync may take to finish.
    pub grace: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { poll: None, grace: Duration::from_secs(10) }
    }
}

/// What the watcher did, when it stops.
#[derive(Clone, Debug, Default)]
pub struct WatchSummary {
    /// Syncs run (the first one included).
    pub syncs: usize,
    /// Syncs that failed (their paths were kept for the next one).
    pub failed_syncs: usize,
    /// Jobs still owed at exit.
    pub owed_at_exit: usize,
}

/// A message from the watcher thread.
enum Msg {
    Paths(Vec<PathBuf>),
    Rescan(String),
    Error { text: String, watch_limit: bool },
}

/// Identity of `publish_dir`: where it resolves to, and that directory's (device, inode).
#[derive(Clone, Debug, PartialEq, Eq)]
struct RootId {
    target: PathBuf,
    dev_ino: (u64, u64),
}

/// [`root_id`], for start-up, where a missing `publish_dir` is an error.
fn existing_root_id(root: &Path) -> Result<RootId> {
    root_id(root).ok_or_else(|| Error::Usage(format!("publish_dir {} does not exist", root.display())))
}

fn root_id(root: &Path) -> Option<RootId> {
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
struct Watching {
    tree: Box<dyn notify::Watcher + Send>,
    /// Kept alive for its events only.
    _parent: Box<dyn notify::Watcher + Send>,
    id: RootId,
}

fn make_watcher(tx: tokio::sync::mpsc::Sender<Msg>, overflow: Arc<AtomicBool>) -> Result<Box<dyn notify::Watcher + Send>> {
    let handler = move |res: notify::Result<notify::Event>| {
        let msg = match res {
            Ok(ev) if ev.need_rescan() => Msg::Rescan("the OS reported that events were lost".into()),
            Ok(ev) => {
                if matches!(ev.kind, notify::EventKind::Access(notify::event::AccessKind::Open(_)))
                    || matches!(ev.kind, notify::EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Read)))
                    || matches!(ev.kind, notify::EventKind::Access(notify::event::AccessKind::Read))
                {
                    return;
                }
                Msg::Paths(ev.paths)
            }
            Err(e) => Msg::Error { watch_limit: matches!(e.kind, notify::ErrorKind::MaxFilesWatch), text: e.to_string() },
        };
        if tx.try_send(msg).is_err() {
            overflow.store(true, Ordering::SeqCst);
        }
    };
    Ok(Box::new(
        notify::recommended_watcher(handler).map_err(|source| Error::Watch { context: "cannot start the file watcher".into(), source })?,
    ))
}

fn watch_error(path: &Path, e: notify::Error) -> Error {
    let hint = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) { INOTIFY_HINT } else { "" };
    Error::Watch { context: format!("cannot watch {}{hint}", path.display()), source: e }
}

/// What to do when the inotify watch limit is hit.
const INOTIFY_HINT: &str = "; the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288` \
     (persist it in /etc/sysctl.d/), or run `cdnsync watch --poll`";

impl Watching {
    fn start(root: &Path, tx: &tokio::sync::mpsc::Sender<Msg>, overflow: &Arc<AtomicBool>) -> Result<Self> {
        let id = existing_root_id(root)?;
        let mut tree = make_watcher(tx.clone(), overflow.clone())?;
        tree.watch(&id.target, notify::RecursiveMode::Recursive).map_err(|e| watch_error(&id.target, e))?;
        let mut parent = make_watcher(tx.clone(), overflow.clone())?;
        let holder = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        parent.watch(holder, notify::RecursiveMode::NonRecursive).map_err(|e| watch_error(holder, e))?;
        Ok(Watching { tree, _parent: parent, id })
    }

    /// `publish_dir` resolves elsewhere now: move the tree watch there.
    fn follow(&mut self, new: RootId) -> Result<()> {
        let _ = self.tree.unwatch(&self.id.target);
        self.tree.watch(&new.target, notify::RecursiveMode::Recursive).map_err(|e| watch_error(&new.target, e))?;
        self.id = new;
        Ok(())
    }
}

/// Poll mode: stat the whole tree every so often and compare sizes and nanosecond mtimes with
/// the previous round (notify's own poller compares whole seconds only, which misses a rebuild
/// within the same second). Costs one `stat` per file per round, no reads.
struct Poller {
    every: Duration,
    next_ms: i64,
    id: Option<RootId>,
    last: std::collections::HashMap<String, (u64, i64)>,
}

impl Poller {
    fn new(engine_root: &Path, every: Duration, spec: &crate::scan::ScanSpec, now_ms: i64) -> Result<Self> {
        let id = existing_root_id(engine_root)?;
        let last = stats(spec)?;
        Ok(Poller { every, next_ms: now_ms + every.as_millis() as i64, id: Some(id), last })
    }

    /// One round: what changed since the last.
    async fn round(&mut self, root: &Path, spec: &crate::scan::ScanSpec, settler: &mut Settler, now_ms: i64) {
        self.next_ms = now_ms + self.every.as_millis() as i64;
        let id = root_id(root);
        if id != self.id {
            let why = match &id {
                Some(i) => format!("publish_dir now resolves to {}", i.target.display()),
                None => "publish_dir is gone".to_string(),
            };
            tracing::info!("{}; rescanning the new tree", Printable(&why));
            self.id = id;
            settler.touch(now_ms, Touch::Swap(why));
        }
        let spec = spec.clone();
        let joined = tokio::task::spawn_blocking(move || stats(&spec)).await.map_err(|e| e.to_string());
        let now = match joined.and_then(|r| r.map_err(|e| e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("polling failed: {}", Printable(&e));
                return;
            }
        };
        for (rel, st) in &now {
            if self.last.get(rel) != Some(st) {
                settler.touch(now_ms, Touch::Path(rel.clone()));
            }
        }
        for rel in self.last.keys() {
            if !now.contains_key(rel) {
                settler.touch(now_ms, Touch::Path(rel.clone()));
            }
        }
        self.last = now;
    }
}

fn stats(spec: &crate::scan::ScanSpec) -> Result<std::collections::HashMap<String, (u64, i64)>> {
    let w = crate::scan::walk::walk(spec)?;
    Ok(w.files.into_iter().map(|f| (f.rel, (f.size, f.mtime_ns))).collect())
}

/// Run until `shutdown` completes.
pub async fn run<A: CdnApi>(
    engine: &Engine<A>,
    opts: &WatchOptions,
    progress: &dyn Progress,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    let cfg = &engine.config;
    let clock = engine.clock.clone();
    let root = cfg.publish_dir.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    // Watch first, then sync: whatever changes during the first sync is seen.
    let spec = engine.scan_spec();
    let (mut watching, mut poller) = match opts.poll {
        Some(every) => (None, Some(Poller::new(&root, every, &spec, clock.now_ms())?)),
        None => (Some(Watching::start(&root, &tx, &overflow)?), None),
    };
    drop(tx);
    let ignore = Ignore::new(spec.clone(), &cfg.state_dir);
    let mut settler = Settler::new(cfg.watch.settle, cfg.watch.max_wait, cfg.watch.trigger_file.is_some());
    let mut summary = WatchSummary::default();
    let mut owed = OwedRetry::default();
    tokio::pin!(shutdown);

    tracing::info!(
        "watching {} ({}, settle {} ms, max wait {} ms{})",
        root.display(),
        match opts.poll {
            Some(d) => format!("polling every {} ms", d.as_millis()),
            None => "OS events".to_string(),
        },
        cfg.watch.settle.as_millis(),
        cfg.watch.max_wait.as_millis(),
        cfg.watch.trigger_file.as_ref().map(|t| format!(", syncing when {t} is written")).unwrap_or_default()
    );
    let first = Burst { paths: Vec::new(), rescan: Some("start-up".into()) };
    let mut next: Option<Burst> = Some(first);
    loop {
        if let Some(burst) = next.take() {
            let (res, stopping) = sync_with_grace(engine, &burst, progress, shutdown.as_mut(), opts.grace).await;
            summary.syncs += 1;
            let now = clock.now_ms();
            match res {
                Some(Ok(r)) => log_report(&burst, &r),
                Some(Err(Error::Cancelled)) => tracing::info!("the scan was stopped; it starts again on the next start"),
                Some(Err(e)) => {
                    summary.failed_syncs += 1;
                    let wait = owed.fail_delay();
                    tracing::warn!("sync failed: {}; trying again in {} s", Printable(&e), wait.as_secs());
                    settler.restore(burst, now + wait.as_millis() as i64);
                }
                None => tracing::warn!("shutdown grace period over; what is still owed stays in the outbox for the next start"),
            }
            if stopping {
                break;
            }
            owed.schedule(engine, now);
        }
        if overflow.swap(false, Ordering::SeqCst) {
            tracing::warn!("more than {QUEUE} file events queued up; rescanning the whole tree");
            settler.touch(clock.now_ms(), Touch::Rescan("event queue overflow".into()));
        }
        let now = clock.now_ms();
        let wake = [settler.due_at(), owed.at_ms, poller.as_ref().map(|p| p.next_ms)].into_iter().flatten().min();
        let sleep = async {
            match wake {
                Some(t) => clock.sleep(Duration::from_millis((t - now).max(0) as u64)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.as_mut() => {
                tracing::info!("stopping: no sync was running");
                break;
            }
            msg = rx.recv(), if watching.is_some() => {
                let (Some(msg), Some(w)) = (msg, watching.as_mut()) else {
                    let source = notify::Error::generic("its event channel closed");
                    return Err(Error::Watch { context: "the file watcher stopped".into(), source });
                };
                let now = clock.now_ms();
                handle(msg, engine, &ignore, w, &mut settler, now);
                // Drain what else is queued without waiting.
                while let Ok(m) = rx.try_recv() {
                    handle(m, engine, &ignore, w, &mut settler, now);
                }
            }
            _ = sleep => {}
        }
        let now = clock.now_ms();
        if let Some(p) = poller.as_mut().filter(|p| p.next_ms <= now) {
            p.round(&root, &spec, &mut settler, now).await;
        }
        if let Some(b) = settler.take(now) {
            next = Some(b);
        } else if owed.at_ms.is_some_and(|t| t <= now) {
            owed.at_ms = None;
            next = Some(Burst { paths: Vec::new(), rescan: None });
        }
    }
    drop(watching);
    summary.owed_at_exit = engine.owed().map(|o| o.len()).unwrap_or(0);
    if summary.owed_at_exit > 0 {
        tracing::info!("{} job(s) still owed; they go out on the next start or sync", summary.owed_at_exit);
    }
    Ok(summary)
}

/// Run one sync; if `shutdown` fires meanwhile, give it `grace` to finish. Returns the result
/// (`None` if it was cut off) and whether to stop.
async fn sync_with_grace<A: CdnApi>(
    engine: &Engine<A>,
    burst: &Burst,
    progress: &dyn Progress,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    grace: Duration,
) -> (Option<Result<Report>>, bool) {
    let opts = SyncOptions { paths: if burst.rescan.is_some() { None } else { Some(burst.paths.clone()) }, ..SyncOptions::default() };
    let sync = engine.sync(&opts, progress);
    tokio::pin!(sync);
    tokio::select! {
        r = &mut sync => (Some(r), false),
        _ = shutdown.as_mut() => {
            // A scan still running stops at once (nothing is written or sent before it ends);
            // a sync already submitting is given the grace period.
            opts.cancel.cancel();
            tracing::info!("stopping: letting the running sync finish (at most {} s)", grace.as_secs());
            tokio::select! {
                r = &mut sync => (Some(r), true),
                _ = engine.clock.sleep(grace) => (None, true),
            }
        }
    }
}

fn log_report(burst: &Burst, r: &Report) {
    let c = &r.changes;
    let accepted = r.jobs.iter().filter(|j| j.status == JobStatus::Accepted);
    let urls: usize = accepted.clone().map(|j| j.urls.len()).sum();
    let why = match &burst.rescan {
        Some(w) => format!("whole tree ({w})"),
        None if burst.paths.is_empty() => "owed jobs".to_string(),
        None => format!("{} touched path(s)", burst.paths.len()),
    };
    tracing::info!(
        "synced {why}: {} added, {} modified, {} removed; {} job(s) accepted ({urls} URL(s)); owed: {} pending, {} deferred, {} failed",
        c.added.len(),
        c.modified.len(),
        c.removed.len(),
        accepted.count(),
        r.outbox.pending,
        r.outbox.deferred,
        r.outbox.failed
    );
    for n in &r.notes {
        tracing::info!("{}", Printable(n));
    }
    for w in &r.warnings {
        tracing::warn!("{}", Printable(w));
    }
}

/// Turn a watcher message into touches.
fn handle<A: CdnApi>(msg: Msg, engine: &Engine<A>, ignore: &Ignore, watching: &mut Watching, settler: &mut Settler, now: i64) {
    let cfg = &engine.config;
    match msg {
        Msg::Rescan(why) => {
            tracing::warn!("{}; rescanning the whole tree", Printable(&why));
            settler.touch(now, Touch::Rescan(why));
        }
        Msg::Error { text, watch_limit } => {
            let hint = if watch_limit { INOTIFY_HINT } else { "" };
            tracing::warn!("file watcher error: {}{hint}; rescanning the whole tree", Printable(&text));
            settler.touch(now, Touch::Rescan(format!("watcher error: {text}")));
        }
        Msg::Paths(paths) => {
            let link_name = cfg.publish_dir.file_name();
            for p in paths {
                if let Ok(rel) = p.strip_prefix(&watching.id.target) {
                    let Some(rel) = rel.to_str() else { continue };
                    let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
                    if cfg.watch.trigger_file.as_deref() == Some(rel.as_str()) {
                        settler.touch(now, Touch::Trigger);
                    } else if !ignore.ignores(&rel, &p) {
                        settler.touch(now, Touch::Path(rel));
                    }
                } else if p.file_name().is_some() && p.file_name() == link_name {
                    // Something happened to publish_dir itself (a symlink swap, a replaced folder).
                    match root_id(&cfg.publish_dir) {
                        Some(id) if id != watching.id => {
                            let why = format!("publish_dir now resolves to {}", id.target.display());
                            match watching.follow(id) {
                                Ok(()) => {
                                    tracing::info!("{}; rescanning the new tree", Printable(&why));
                                    settler.touch(now, Touch::Swap(why));
                                }
                                Err(e) => {
                                    tracing::warn!("{}; rescanning", Printable(&e));
                                    settler.touch(now, Touch::Rescan(why));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Paths that never count: what a scan leaves out (rsync temp files, editor swap files, `.git/`,
/// the config's excludes) and the state directory. Built once, consulted for every event.
struct Ignore {
    spec: crate::scan::ScanSpec,
    /// The state directory as configured and as resolved (events carry resolved paths).
    state_dirs: Vec<PathBuf>,
}

impl Ignore {
    fn new(spec: crate::scan::ScanSpec, state_dir: &Path) -> Self {
        let mut state_dirs = vec![state_dir.to_path_buf()];
        state_dirs.extend(std::fs::canonicalize(state_dir));
        Ignore { spec, state_dirs }
    }

    fn ignores(&self, rel: &str, abs: &Path) -> bool {
        !rel.is_empty() && (self.state_dirs.iter().any(|d| abs.starts_with(d)) || self.spec.ignores(rel))
    }
}

/// When to retry owed jobs in the background.
#[derive(Debug, Default)]
struct OwedRetry {
    at_ms: Option<i64>,
    failures: u32,
}

impl OwedRetry {
    /// Look at the outbox after a sync and plan the next retry.
    fn schedule<A: CdnApi>(&mut self, engine: &Engine<A>, now_ms: i64) {
        let owed = match engine.owed() {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!("{}", Printable(&e));
                return;
            }
        };
        let deferred = owed.iter().filter(|j| j.status == JobStatus::Deferred).filter_map(|j| j.not_before_unix).min().map(|t| t * 1000);
        let pending = owed.iter().any(|j| j.status == JobStatus::Pending);
        let retry = if pending { Some(now_ms + self.fail_delay().as_millis() as i64) } else { None };
        if !pending {
            self.failures = 0;
        }
        self.at_ms = [deferred, retry].into_iter().flatten().min();
        if let Some(t) = self.at_ms {
            tracing::info!("owed jobs will be retried in {} s", ((t - now_ms).max(0) + 999) / 1000);
        }
    }

    /// The next backoff delay (30 s, 60 s, … 15 min).
    fn fail_delay(&mut self) -> Duration {
        self.failures += 1;
        OWED_BACKOFF.delay(self.failures, None)
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

    #[test]
    fn owed_retries_back_off_and_cap() {
        let mut o = OwedRetry::default();
        let d: Vec<u64> = (0..8).map(|_| o.fail_delay().as_secs()).collect();
        assert_eq!(d, [30, 60, 120, 240, 480, 900, 900, 900]);
    }
}
