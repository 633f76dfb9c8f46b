//! What makes `watch` a daemon you can monitor (`docs/cli.md`, "Metrics and health", "systemd"):
//! the `[watch] metrics` endpoint, fed from the watch loop and its syncs, and `Type=notify`
//! messages to systemd. The loop calls a few methods of [`Daemon`]; everything here is
//! observation, nothing changes what a sync does.
//!
//! - Syncs: counters by result, `/healthz` (ok, quota-deferred, or failing with the reason), the
//!   owed gauges, the quota left, the last success; a `STATUS=` line each, `READY=1` after the
//!   first (whatever its outcome: a failed sync is retried, not fatal).
//! - Jobs: through a [`Progress`] observer (accepted, deferred, failed by kind and area; URLs
//!   purged; the change-to-accepted latency, from the first change of the burst not yet synced).
//! - API requests: through [`Metered`], which wraps the engine's API.
//! - The watchdog: `WATCHDOG=1` every half `WatchdogSec`, sent from the watch loop's own task
//!   (also while a sync runs), so a stuck loop stops the pings and systemd restarts the unit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::CdnApi;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metrics::metered::Metered;
use crate::metrics::{JobResult, Metrics, MetricsServer, SyncResult};
use crate::model::{Area, Job, JobKind, JobStatus};
use crate::progress::Progress;
use crate::report::Report;

#[derive(Default)]
struct State {
    /// The first change of the burst(s) not synced yet (latency is measured from it).
    first_change_ms: Option<i64>,
    /// The last change seen.
    last_change_ms: Option<i64>,
    /// Syncs finished.
    syncs: usize,
    /// When the next watchdog ping is due.
    next_ping_ms: Option<i64>,
}

/// The metrics endpoint and the service manager, for one watch run.
pub(super) struct Daemon {
    metrics: Option<Arc<Metrics>>,
    server: Option<MetricsServer>,
    #[cfg(unix)]
    notifier: Option<crate::metrics::systemd::Notifier>,
    ping_every: Option<Duration>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl Daemon {
    /// Bind the metrics endpoint (when configured) and find systemd's socket (when there is one).
    pub async fn start(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Daemon> {
        let (mut metrics, mut server) = (None, None);
        if let Some(addr) = cfg.watch.metrics {
            let m = Arc::new(Metrics::new());
            let s = MetricsServer::bind(addr, m.clone(), clock.clone()).await.map_err(|e| {
                Error::runtime("the metrics endpoint", std::io::Error::new(e.kind(), format!("{addr} ([watch] metrics): {e}")))
            })?;
            tracing::info!("serving metrics on http://{}/metrics and health on /healthz", s.local_addr());
            (metrics, server) = (Some(m), Some(s));
        }
        #[cfg(unix)]
        let notifier = match crate::metrics::systemd::Notifier::from_process_env() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("not notifying systemd: {e}");
                None
            }
        };
        #[cfg(unix)]
        let ping_every = notifier.as_ref().and_then(|n| n.watchdog_interval());
        #[cfg(not(unix))]
        let ping_every = None;
        let state = State { next_ping_ms: ping_every.map(|_| clock.now_ms()), ..State::default() };
        Ok(Daemon {
            metrics,
            server,
            #[cfg(unix)]
            notifier,
            ping_every,
            clock,
            state: Mutex::new(state),
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("daemon state")
    }

    /// The engine the loop runs: the same, with its API calls counted.
    pub fn metered<'a, A: CdnApi>(&self, engine: &'a Engine<A>) -> Engine<Metered<'a, A>> {
        engine.with_api(Metered::new(&engine.api, engine.config.provider.api, self.metrics.clone()))
    }

    /// A progress observer that also counts jobs.
    pub fn progress<'a>(&'a self, inner: &'a dyn Progress) -> Observer<'a> {
        Observer { daemon: self, inner }
    }

    /// The settler's `(first, last)` change times now: a change seen.
    pub fn changes(&self, touched: Option<(i64, i64)>) {
        let Some((first, last)) = touched else { return };
        let mut st = self.st();
        if st.last_change_ms == Some(last) {
            return;
        }
        st.first_change_ms.get_or_insert(first);
        st.last_change_ms = Some(last);
        if let Some(m) = &self.metrics {
            m.deploy_event(last);
        }
    }

    /// A sync ended (`None`: cut off at shutdown). `owed` is what the outbox holds now.
    pub fn sync_done(&self, res: &Option<Result<Report>>, owed: &[Job]) {
        let now = self.clock.now_ms();
        let (result, status) = match res {
            None | Some(Err(Error::Cancelled)) => return,
            Some(Ok(r)) => outcome(r),
            Some(Err(e)) => (SyncResult::Failed(format!("sync failed: {e}")), format!("sync failed: {e}")),
        };
        let first = {
            let mut st = self.st();
            st.syncs += 1;
            if matches!(result, SyncResult::Ok | SyncResult::QuotaDeferred) {
                st.first_change_ms = None;
            }
            st.syncs == 1
        };
        if let Some(m) = &self.metrics {
            for s in [JobStatus::Pending, JobStatus::Deferred, JobStatus::Failed] {
                m.owed(s, owed.iter().filter(|j| j.status == s).count() as u64);
            }
            if let Some(Ok(r)) = res {
                for (key, &n) in &r.quota_after {
                    let (kind, area) = key.split_once('/').unwrap_or_default();
                    if let (Some(k), Some(a)) = (JobKind::ALL.into_iter().find(|k| k.as_str() == kind), Area::parse(area)) {
                        m.quota_remaining(k, a, n);
                    }
                }
            }
            m.sync_finished(result, now);
        }
        #[cfg(unix)]
        if let Some(n) = &self.notifier {
            let sent = if first { n.ready(&status) } else { n.status(&status) };
            if let Err(e) = sent {
                tracing::warn!("cannot notify systemd: {e}");
            }
        }
        #[cfg(not(unix))]
        let _ = (first, status);
    }

    /// When the next watchdog ping is due, if the unit asked for them.
    pub fn ping_due(&self) -> Option<i64> {
        self.st().next_ping_ms
    }

    /// Send `WATCHDOG=1` if it is due.
    pub fn ping(&self) {
        let (Some(every), now) = (self.ping_every, self.clock.now_ms()) else { return };
        {
            let mut st = self.st();
            if st.next_ping_ms.is_some_and(|t| t > now) {
                return;
            }
            st.next_ping_ms = Some(now + every.as_millis() as i64);
        }
        #[cfg(unix)]
        if let Some(Err(e)) = self.notifier.as_ref().map(|n| n.watchdog()) {
            tracing::warn!("cannot ping systemd's watchdog: {e}");
        }
    }

    /// Sleep until the next ping is due (forever without a watchdog).
    pub async fn until_ping(&self) {
        match self.ping_due() {
            Some(t) => self.clock.sleep(Duration::from_millis((t - self.clock.now_ms()).max(0) as u64)).await,
            None => std::future::pending().await,
        }
    }

    /// Shutting down: tell systemd, stop serving.
    pub async fn stop(self, owed: usize) {
        #[cfg(unix)]
        if let Some(n) = &self.notifier {
            let _ = n.stopping(&format!("stopping; {owed} job(s) owed"));
        }
        #[cfg(not(unix))]
        let _ = owed;
        if let Some(s) = self.server {
            s.shutdown().await;
        }
    }
}

/// How a sync's report reads for the counters, `/healthz` and the status line.
fn outcome(r: &Report) -> (SyncResult, String) {
    let accepted: Vec<_> = r.jobs.iter().filter(|j| j.status == JobStatus::Accepted).collect();
    let urls: usize = accepted.iter().map(|j| j.urls.len()).sum();
    let o = &r.outbox;
    let line = format!(
        "synced: {} job(s) accepted ({urls} URL(s)); owed: {} pending, {} deferred, {} failed",
        accepted.len(),
        o.pending,
        o.deferred,
        o.failed
    );
    let first_error = |s: JobStatus| {
        r.jobs.iter().filter(|j| j.status == s).find_map(|j| j.error.as_ref()).map(|e| format!(" (first: {}: {})", e.code, e.message))
    };
    let result = match r.exit_code() {
        0 => SyncResult::Ok,
        4 => SyncResult::QuotaDeferred,
        3 => SyncResult::Failed(format!(
            "{} job(s) refused by the API for good{}",
            o.failed.max(1),
            first_error(JobStatus::Failed).unwrap_or_default()
        )),
        _ => SyncResult::Failed(format!(
            "{} job(s) still owed after this sync{}",
            o.pending,
            first_error(JobStatus::Pending).unwrap_or_default()
        )),
    };
    let line = match &result {
        SyncResult::Failed(why) => format!("{line}; failing: {why}"),
        _ => line,
    };
    (result, line)
}

/// Forwards progress to the caller's observer, and counts jobs.
pub(super) struct Observer<'a> {
    daemon: &'a Daemon,
    inner: &'a dyn Progress,
}

impl Progress for Observer<'_> {
    fn hashing(&self, files: usize) {
        self.inner.hashing(files);
    }

    fn hashed(&self) {
        self.inner.hashed();
    }

    fn submitting(&self, jobs: usize) {
        self.inner.submitting(jobs);
    }

    fn job_done(&self, job: &Job) {
        self.inner.job_done(job);
        let Some(m) = &self.daemon.metrics else { return };
        let result = match job.status {
            JobStatus::Accepted => JobResult::Accepted,
            JobStatus::Deferred => JobResult::Deferred,
            JobStatus::Failed => JobResult::Failed,
            _ => return,
        };
        m.job(job.kind, job.area, result);
        if result == JobResult::Accepted {
            if job.kind.is_purge() {
                m.urls_purged(job.area, job.urls.len() as u64);
            }
            if let Some(first) = self.daemon.st().first_change_ms {
                m.change_to_accepted((self.daemon.clock.now_ms() - first) as f64 / 1000.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobError, JobKind};
    use crate::report::{JobReport, OutboxCounts};

    fn report(status: JobStatus, error: Option<(&str, &str)>, outbox: OutboxCounts) -> Report {
        let mut j = Job::planned(JobKind::PurgeUrls, Area::Mainland, "www.example.com", vec!["https://www.example.com/a".into()], 0, 1);
        j.status = status;
        j.error = error.map(|(code, message)| JobError { code: code.into(), message: message.into() });
        Report { jobs: vec![JobReport::of(&j, "PurgeUrlsCache")], outbox, ..Report::default() }
    }

    #[test]
    fn a_sync_reads_as_healthy_deferred_or_failing_with_its_reason() {
        let none = OutboxCounts::default();
        let (r, line) = outcome(&report(JobStatus::Accepted, None, none));
        assert_eq!((r, line.as_str()), (SyncResult::Ok, "synced: 1 job(s) accepted (1 URL(s)); owed: 0 pending, 0 deferred, 0 failed"));
        let deferred = OutboxCounts { deferred: 1, ..none };
        assert_eq!(outcome(&report(JobStatus::Deferred, Some(("QuotaExhausted", "used up")), deferred)).0, SyncResult::QuotaDeferred);
        let failed = OutboxCounts { failed: 1, ..none };
        let (r, line) = outcome(&report(JobStatus::Failed, Some(("ResourceNotFound.CdnHostNotExists", "no such domain")), failed));
        let why = "1 job(s) refused by the API for good (first: ResourceNotFound.CdnHostNotExists: no such domain)";
        assert_eq!(r, SyncResult::Failed(why.into()));
        assert!(line.ends_with(&format!("; failing: {why}")), "{line}");
        let pending = OutboxCounts { pending: 1, ..none };
        let (r, _) = outcome(&report(JobStatus::Pending, Some(("OriginNotReady", "origin still old")), pending));
        assert_eq!(r, SyncResult::Failed("1 job(s) still owed after this sync (first: OriginNotReady: origin still old)".into()));
    }
}
