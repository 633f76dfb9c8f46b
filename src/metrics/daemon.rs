//! cdnsync's own metrics (issue 17 §3) and its health, behind typed methods: the watch loop
//! says what happened (`sync_finished`, `job`, `api_request`…), never a metric name or a
//! free-form label. Kinds, areas and statuses come from the model's enums; API actions and
//! result codes are checked by the registry like any label value.

use std::sync::Mutex;

use super::registry::{Family, Kind, MetricError, Registry};
use crate::model::{Area, JobKind, JobStatus};

/// Latency buckets (seconds) from a change on disk to the API accepting its purge.
pub const LATENCY_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

const fn family(name: &'static str, help: &'static str, kind: Kind, labels: &'static [&'static str]) -> Family {
    Family { name, help, kind, labels, buckets: &[] }
}

/// Every family cdnsync exports.
pub const FAMILIES: &[Family] = &[
    family("cdnsync_build_info", "Always 1; the version of cdnsync running.", Kind::Gauge, &["version"]),
    family("cdnsync_syncs_total", "Syncs finished, by result (ok, deferred, failed).", Kind::Counter, &["result"]),
    family("cdnsync_jobs_total", "Jobs by kind, area and result (accepted, deferred, failed).", Kind::Counter, &["kind", "area", "result"]),
    family("cdnsync_urls_purged_total", "URLs and directories in accepted purge jobs, by area.", Kind::Counter, &["area"]),
    family(
        "cdnsync_api_requests_total",
        "API requests by action and result (ok, an error code, transport).",
        Kind::Counter,
        &["action", "result"],
    ),
    family("cdnsync_retries_total", "API requests sent again after a retryable failure, by action.", Kind::Counter, &["action"]),
    family("cdnsync_owed_jobs", "Jobs in the outbox by status (pending, deferred, failed).", Kind::Gauge, &["status"]),
    family("cdnsync_quota_remaining", "Daily quota left, by kind and area.", Kind::Gauge, &["kind", "area"]),
    family("cdnsync_last_success_timestamp_seconds", "Unix time the last sync that left nothing owed finished.", Kind::Gauge, &[]),
    family("cdnsync_seconds_since_last_deploy_event", "Seconds since the last change seen in publish_dir.", Kind::Gauge, &[]),
    Family {
        name: "cdnsync_change_to_accepted_seconds",
        help: "Seconds from a change in publish_dir to the API accepting its purge.",
        kind: Kind::Histogram,
        labels: &[],
        buckets: LATENCY_BUCKETS,
    },
];

/// How a sync ended, for the counters and `/healthz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncResult {
    /// Everything owed was accepted (exit 0).
    Ok,
    /// Some jobs wait for the daily quota (exit 4): healthy.
    QuotaDeferred,
    /// Anything else, with a reason for `/healthz`.
    Failed(String),
}

/// What `/healthz` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// No sync has finished yet.
    Starting,
    /// The last sync succeeded.
    Healthy,
    /// The last sync succeeded but for jobs waiting on the daily quota.
    QuotaDeferred,
    /// The last sync failed, or the daemon is stuck.
    Failing(String),
}

impl Health {
    /// Status code and one-line body.
    pub fn answer(&self) -> (u16, String) {
        match self {
            Health::Healthy => (200, "ok\n".into()),
            Health::QuotaDeferred => (200, "ok: some jobs wait for the daily quota\n".into()),
            Health::Starting => (503, "starting: no sync has finished yet\n".into()),
            Health::Failing(why) => (503, format!("failing: {}\n", one_line(why))),
        }
    }
}

/// A reason fit for a status line: one line, no control characters, at most 300 characters.
fn one_line(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut t: String = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 300 {
        t = t.chars().take(299).collect::<String>() + "…";
    }
    t
}

/// Outcome of one job, for `cdnsync_jobs_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobResult {
    /// The API accepted it.
    Accepted,
    /// Waiting for the daily quota.
    Deferred,
    /// Refused for good.
    Failed,
}

impl JobResult {
    fn as_str(self) -> &'static str {
        match self {
            JobResult::Accepted => "accepted",
            JobResult::Deferred => "deferred",
            JobResult::Failed => "failed",
        }
    }
}

struct Daemon {
    health: Health,
    last_event_ms: Option<i64>,
}

/// The daemon's metrics and health. Share it as `Arc<Metrics>`.
pub struct Metrics {
    reg: Registry,
    daemon: Mutex<Daemon>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// All families, nothing observed yet, health `Starting`.
    pub fn new() -> Metrics {
        let reg = Registry::new(FAMILIES).expect("cdnsync's metric families are well formed");
        reg.set("cdnsync_build_info", &[env!("CARGO_PKG_VERSION")], 1.0).expect("version label");
        Metrics { reg, daemon: Mutex::new(Daemon { health: Health::Starting, last_event_ms: None }) }
    }

    fn d(&self) -> std::sync::MutexGuard<'_, Daemon> {
        self.daemon.lock().expect("metrics daemon state")
    }

    /// The registry underneath (values for tests and `status`).
    #[cfg(test)]
    pub fn registry(&self) -> &Registry {
        &self.reg
    }

    /// A sync ended at `now_ms`.
    pub fn sync_finished(&self, result: SyncResult, now_ms: i64) {
        let label = match &result {
            SyncResult::Ok => "ok",
            SyncResult::QuotaDeferred => "deferred",
            SyncResult::Failed(_) => "failed",
        };
        let _ = self.reg.inc("cdnsync_syncs_total", &[label], 1.0);
        // Success is everything owed accepted: a sync that left jobs for the quota reset is
        // healthy (below), but not a success to alert on the age of.
        if result == SyncResult::Ok {
            let _ = self.reg.set("cdnsync_last_success_timestamp_seconds", &[], now_ms.div_euclid(1000) as f64);
        }
        self.d().health = match result {
            SyncResult::Ok => Health::Healthy,
            SyncResult::QuotaDeferred => Health::QuotaDeferred,
            SyncResult::Failed(why) => Health::Failing(why),
        };
    }

    /// What `/healthz` says now.
    pub fn health(&self) -> Health {
        self.d().health.clone()
    }

    /// A job ended this way.
    pub fn job(&self, kind: JobKind, area: Area, result: JobResult) {
        let _ = self.reg.inc("cdnsync_jobs_total", &[kind.as_str(), area.as_str(), result.as_str()], 1.0);
    }

    /// `n` URLs or directories were in accepted purge jobs for `area`.
    pub fn urls_purged(&self, area: Area, n: u64) {
        let _ = self.reg.inc("cdnsync_urls_purged_total", &[area.as_str()], n as f64);
    }

    /// One API request ended: `result` is `ok`, the API's error code, or `transport`.
    pub fn api_request(&self, action: &str, result: &str) -> Result<(), MetricError> {
        self.reg.inc("cdnsync_api_requests_total", &[action, result], 1.0)
    }

    /// A request to `action` is being sent again.
    pub fn retry(&self, action: &str) -> Result<(), MetricError> {
        self.reg.inc("cdnsync_retries_total", &[action], 1.0)
    }

    /// Jobs owed in the outbox with this status (pending, deferred or failed; others ignored).
    pub fn owed(&self, status: JobStatus, n: u64) {
        if matches!(status, JobStatus::Pending | JobStatus::Deferred | JobStatus::Failed) {
            let _ = self.reg.set("cdnsync_owed_jobs", &[status.as_str()], n as f64);
        }
    }

    /// Daily quota left.
    pub fn quota_remaining(&self, kind: JobKind, area: Area, n: u64) {
        let _ = self.reg.set("cdnsync_quota_remaining", &[kind.as_str(), area.as_str()], n as f64);
    }

    /// Something changed in publish_dir at `now_ms`.
    pub fn deploy_event(&self, now_ms: i64) {
        self.d().last_event_ms = Some(now_ms);
    }

    /// A change reached an accepted purge after `secs`.
    pub fn change_to_accepted(&self, secs: f64) {
        let _ = self.reg.observe("cdnsync_change_to_accepted_seconds", &[], secs.max(0.0));
    }

    /// The `/metrics` text at `now_ms`.
    pub fn render(&self, now_ms: i64) -> String {
        if let Some(t) = self.d().last_event_ms {
            let _ = self.reg.set("cdnsync_seconds_since_last_deploy_event", &[], (now_ms - t).max(0) as f64 / 1000.0);
        }
        self.reg.render()
    }
}
