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
//! - With `[watch] metrics` it serves `/metrics` and `/healthz`, and under systemd it notifies
//!   `READY=1`, `STATUS=` and `WATCHDOG=1` (`daemon.rs`).

mod daemon;
mod events;
mod os;
mod poll;
pub mod settle;
mod sink;

pub use sink::{Sink, WatchEvent};

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api::CdnApi;
use crate::engine::{Engine, SyncOptions, FLEET_BARRIER, FLEET_CLAIMED};
use crate::error::{Error, Result};
use crate::model::JobStatus;
use crate::progress::Progress;
use crate::report::Report;
use crate::submit::retry::Backoff;
use crate::text::Printable;
use events::{Context, Msg, Seen};
use os::{root_id, Watching, INOTIFY_HINT};
use poll::Poller;
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
    /// Told about every sync as it ends (`watch --json`).
    pub sink: Option<Sink>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { poll: None, grace: Duration::from_secs(10), sink: None }
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

/// Run until `shutdown` completes.
pub async fn run<A: CdnApi>(
    engine: &Engine<A>,
    opts: &WatchOptions,
    progress: &dyn Progress,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    // Metrics, health and systemd (`[watch] metrics`, $NOTIFY_SOCKET): the engine's API calls
    // and jobs are counted through these.
    let daemon = daemon::Daemon::start(&engine.config, engine.clock.clone()).await?;
    let (metered, observer) = (daemon.metered(engine), daemon.progress(progress));
    let (engine, progress): (&Engine<_>, &dyn Progress) = (&metered, &observer);
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
    let mut state_dirs = vec![cfg.state_dir.clone()];
    state_dirs.extend(std::fs::canonicalize(&cfg.state_dir));
    let ctx = Context {
        spec: spec.clone(),
        state_dirs,
        trigger: cfg.watch.trigger_file.clone(),
        root_name: cfg.publish_dir.file_name().map(Into::into),
    };
    let mut settler = Settler::new(cfg.watch.settle, cfg.watch.max_wait, cfg.watch.trigger_file.is_some());
    let mut summary = WatchSummary::default();
    let mut owed = OwedRetry::default();
    // `[fleet]`: heartbeat every third of the TTL, so an idle member still holds purges back
    // until it serves their bytes.
    let beat_ms = engine.config.fleet.as_ref().map(|f| (f.heartbeat_ttl.as_millis() / 3).max(1) as i64);
    let mut heartbeat_at = beat_ms.map(|b| clock.now_ms() + b);
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
            let (res, stopping) = sync_with_grace(engine, &burst, progress, shutdown.as_mut(), opts.grace, &daemon).await;
            daemon.sync_done(&res, &engine.owed().unwrap_or_default());
            summary.syncs += 1;
            let now = clock.now_ms();
            match res {
                Some(Ok(r)) => {
                    log_report(&burst, &r);
                    if let Some(s) = &opts.sink {
                        (s.0)(WatchEvent::Synced(&r));
                    }
                }
                Some(Err(Error::Cancelled)) => tracing::info!("the scan was stopped; it starts again on the next start"),
                Some(Err(e)) => {
                    if let Some(s) = &opts.sink {
                        (s.0)(WatchEvent::Failed(&e));
                    }
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
        let wake =
            [settler.due_at(), owed.at_ms, poller.as_ref().map(|p| p.next_ms), daemon.ping_due(), heartbeat_at].into_iter().flatten().min();
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
                handle(msg, engine, &ctx, w, &mut settler, now);
                // Drain what else is queued without waiting.
                while let Ok(m) = rx.try_recv() {
                    handle(m, engine, &ctx, w, &mut settler, now);
                }
            }
            _ = sleep => {}
        }
        let now = clock.now_ms();
        if let (Some(t), Some(b)) = (heartbeat_at, beat_ms) {
            if t <= now {
                engine.fleet_heartbeat().await;
                heartbeat_at = Some(now + b);
            }
        }
        if let Some(p) = poller.as_mut().filter(|p| p.next_ms <= now) {
            p.round(&root, &spec, &mut settler, now).await;
        }
        daemon.changes(settler.touched());
        daemon.ping();
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
    engine.fleet_leave().await;
    daemon.stop(summary.owed_at_exit).await;
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
    daemon: &daemon::Daemon,
) -> (Option<Result<Report>>, bool) {
    let opts = SyncOptions { paths: if burst.rescan.is_some() { None } else { Some(burst.paths.clone()) }, ..SyncOptions::default() };
    let sync = engine.sync(&opts, progress);
    tokio::pin!(sync);
    loop {
        tokio::select! {
            r = &mut sync => return (Some(r), false),
            // The watchdog keeps being fed from this task while the sync runs.
            _ = daemon.until_ping() => daemon.ping(),
            _ = shutdown.as_mut() => break,
        }
    }
    // A scan still running stops at once (nothing is written or sent before it ends); a sync
    // already submitting is given the grace period.
    opts.cancel.cancel();
    tracing::info!("stopping: letting the running sync finish (at most {} s)", grace.as_secs());
    tokio::select! {
        r = &mut sync => (Some(r), true),
        _ = engine.clock.sleep(grace) => (None, true),
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
fn handle<A: CdnApi>(msg: Msg, engine: &Engine<A>, ctx: &Context, watching: &mut Watching, settler: &mut Settler, now: i64) {
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
            for p in paths {
                match ctx.classify(&p, &watching.id.target) {
                    Seen::Touch(t) => settler.touch(now, t),
                    Seen::Nothing => {}
                    // Something happened to publish_dir itself (a symlink swap, a replaced folder).
                    Seen::Root => match root_id(&engine.config.publish_dir) {
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
                    },
                }
            }
        }
    }
}

/// How soon jobs held back by the fleet are asked about again.
const FLEET_RECHECK: Duration = Duration::from_secs(5);

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
        // Jobs the fleet holds back (barrier, another member's claim) are asked about again
        // soon, without counting as failures; other pending jobs back off.
        let fleet_held = |j: &&crate::model::Job| j.error.as_ref().is_some_and(|e| e.code == FLEET_BARRIER || e.code == FLEET_CLAIMED);
        let pending = owed.iter().filter(|j| j.status == JobStatus::Pending);
        let retry = if pending.clone().any(|j| !fleet_held(&j)) {
            Some(now_ms + self.fail_delay().as_millis() as i64)
        } else if pending.clone().any(|j| fleet_held(&j)) {
            Some(now_ms + FLEET_RECHECK.as_millis() as i64)
        } else {
            None
        };
        let pending = pending.count() > 0;
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
    fn owed_retries_back_off_and_cap() {
        let mut o = OwedRetry::default();
        let d: Vec<u64> = (0..8).map(|_| o.fail_delay().as_secs()).collect();
        assert_eq!(d, [30, 60, 120, 240, 480, 900, 900, 900]);
    }
}
