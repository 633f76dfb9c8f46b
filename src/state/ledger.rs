//! The legacy API's quota ledger (`state_dir/ledger.json`): v2 has no quota query, so cdnsync
//! counts what it had accepted per quota day (resetting at 00:00 UTC+8) and answers "how much is
//! left" from the documented totals less today's use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::clock::quota_day;
use crate::error::Result;
use crate::model::{Api, Job, QuotaBook};

/// What was sent on one quota day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Days since the epoch in UTC+8.
    pub day: i64,
    /// URLs or paths accepted that day, keyed like [`QuotaBook`].
    pub used: BTreeMap<String, u64>,
}

impl Day {
    /// The day as of `now_unix`: an earlier day's counts are dropped.
    pub fn current(mut self, now_unix: i64) -> Day {
        let today = quota_day(now_unix);
        if self.day != today {
            self = Day { day: today, used: BTreeMap::new() };
        }
        self
    }

    /// The documented v2 quotas less this day's use.
    pub fn quota(&self, v2_dedicated_overseas: bool, now_unix: i64) -> QuotaBook {
        let mut b = QuotaBook::documented(Api::V2, v2_dedicated_overseas);
        for (k, e) in b.entries.iter_mut() {
            e.available = e.total.saturating_sub(self.used.get(k).copied().unwrap_or(0));
        }
        b.read_unix = Some(now_unix);
        b
    }
}

/// The ledger file of a state directory. Reads and writes are serialised within the process.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Ledger {
    /// The ledger of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Ledger { path: state_dir.join("ledger.json"), lock: Mutex::new(()) }
    }

    /// Today's counts. A missing or unreadable file counts as nothing used: the ledger is an
    /// estimate, and the API refuses what is really over its quota (the job is then deferred).
    pub fn today(&self, now_unix: i64) -> Day {
        let _g = self.lock.lock().expect("ledger");
        self.read(now_unix)
    }

    fn read(&self, now_unix: i64) -> Day {
        let d: Day = std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        d.current(now_unix)
    }

    /// Count an accepted job against today's quota.
    pub fn record(&self, job: &Job, now_unix: i64) -> Result<()> {
        let _g = self.lock.lock().expect("ledger");
        let mut d = self.read(now_unix);
        *d.used.entry(QuotaBook::key(job.kind, job.area)).or_default() += job.cost();
        if let Some(dir) = self.path.parent() {
            super::ensure_dir(dir)?;
        }
        super::write_atomic(&self.path, &serde_json::to_vec_pretty(&d).expect("ledger serialises"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, JobKind};

    #[test]
    fn resets_at_cst_midnight() {
        let before = 1_704_124_799; // 2024-01-01 23:59:59 CST
        let mut d = Day::default().current(before);
        d.used.insert("purge_urls/mainland".into(), 9_999);
        assert_eq!(d.quota(false, before).get(JobKind::PurgeUrls, Area::Mainland).unwrap().available, 1);
        let d = d.current(before + 1);
        assert_eq!(d.quota(false, before + 1).get(JobKind::PurgeUrls, Area::Mainland).unwrap().available, 10_000);
    }

    #[test]
    fn records_accepted_jobs_per_day() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Ledger::new(tmp.path());
        let t = 1_704_124_000;
        let job = Job::planned(JobKind::PrefetchUrls, Area::Overseas, "h.com", vec!["https://h.com/a".into(); 3], t, 1);
        l.record(&job, t).unwrap();
        l.record(&job, t).unwrap();
        let q = l.today(t).quota(true, t);
        assert_eq!(q.get(JobKind::PrefetchUrls, Area::Overseas).map(|e| (e.batch, e.available)), Some((20, 994)));
        assert_eq!(l.today(t + 86_400).used.len(), 0, "the next day starts empty");
    }
}
