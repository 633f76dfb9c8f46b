//! `state_dir/root_purges.json`: how many purges of a domain's whole site (a directory purge of
//! its root) were accepted today, per domain and area, for `[limits] max_root_purges_per_day`. The
//! day is the quota day (China Standard Time); a file from another day counts as empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::quota_day;
use crate::error::Result;

#[derive(Default, Serialize, Deserialize)]
struct Counts {
    day: i64,
    /// `host/area` -> whole-site purges accepted that day.
    counts: BTreeMap<String, u32>,
}

/// The root-purge counter of a state directory.
#[derive(Clone, Debug)]
pub struct RootPurges {
    path: PathBuf,
}

impl RootPurges {
    /// The counter of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        RootPurges { path: state_dir.join("root_purges.json") }
    }

    fn load(&self) -> Counts {
        std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Today's counts (`host/area` -> n). A missing, unreadable or older file is all zeros.
    pub fn today(&self, now_unix: i64) -> BTreeMap<String, u32> {
        let c = self.load();
        if c.day == quota_day(now_unix) {
            c.counts
        } else {
            BTreeMap::new()
        }
    }

    /// Count whole-site purges accepted now, keyed `host/area` (`plan::collapse::root_key`).
    pub fn add(&self, keys: &[String], now_unix: i64) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let counts = self.today(now_unix);
        let mut c = Counts { day: quota_day(now_unix), counts };
        for k in keys {
            *c.counts.entry(k.clone()).or_default() += 1;
        }
        super::write_atomic(&self.path, &serde_json::to_vec(&c).expect("counts serialise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_with_the_quota_day() {
        let tmp = tempfile::tempdir().unwrap();
        let r = RootPurges::new(tmp.path());
        // 2023-11-14 20:00 CST, then 5 h later (past 00:00 CST).
        let evening = 1_699_963_200;
        assert!(r.today(evening).is_empty());
        let k = "www.example.com/mainland".to_string();
        r.add(&[k.clone(), k.clone()], evening).unwrap();
        assert_eq!(r.today(evening + 60)[&k], 2);
        assert!(r.today(evening + 5 * 3600).is_empty(), "a new quota day starts at zero");
        r.add(std::slice::from_ref(&k), evening + 5 * 3600).unwrap();
        assert_eq!(r.today(evening + 5 * 3600)[&k], 1);
    }
}
