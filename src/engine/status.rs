//! The read-only and quota commands: `status`, `quota`, the history of accepted jobs.

use super::{manifest, scanned, Engine};
use crate::api::CdnApi;
use crate::error::{Error, Result};
use crate::model::{Api, Job, QuotaBook};
use crate::report::{OutboxCounts, StatusReport};
use crate::state;

impl<A: CdnApi> Engine<A> {
    /// The most recently accepted jobs, oldest first (`state_dir/history.json`).
    pub fn recent_accepted(&self) -> Vec<Job> {
        self.history().recent()
    }

    /// `cdnsync status`: tracked files, last deploy, owed jobs. Read-only, needs no lock.
    pub fn status(&self) -> Result<StatusReport> {
        let m = manifest::load(&self.config.state_dir)?;
        let owed = self.outbox().load()?;
        let (links_outside, cannot_list) = scanned::links_outside(&self.config);
        let last_deploy_unix = std::fs::metadata(manifest::path(&self.config.state_dir))
            .ok()
            .and_then(|md| md.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        Ok(StatusReport {
            state_dir: self.config.state_dir.display().to_string(),
            tracked_files: m.as_ref().map(|m| m.snapshot.len()),
            last_deploy_unix,
            outbox: OutboxCounts::of(&owed),
            jobs: self.reports(&owed),
            credentials: None,
            tasks: Vec::new(),
            dropped: self.dropped(),
            links_outside,
            warnings: cannot_list.into_iter().collect(),
            fleet: None,
        })
    }

    /// `cdnsync quota`: asks the API (v2: the ledger) and remembers the answer for `plan`.
    pub async fn quota(&self) -> Result<QuotaBook> {
        match self.fresh_quota().await {
            Ok(Some(q)) => {
                state::save_quota(&self.config.state_dir, &q)?;
                Ok(q)
            }
            Ok(None) => Ok(self.known_quota()),
            Err(failure) => {
                let action = if self.config.provider.api == Api::EdgeOne { "DescribeContentQuota" } else { "DescribePurgeQuota" };
                Err(Error::Api { action: action.into(), failure })
            }
        }
    }
}
