//! `manifest_url` (`docs/config.md`): on a runner with no state, diff against the manifest the
//! last deploy published; after a sync, write the copy to publish (the previous one while jobs
//! are still owed, so the next runner purges them again).

use super::scanned::Scanned;
use super::Engine;
use crate::api::CdnApi;
use crate::error::Result;
use crate::state::{manifest, remote};

impl<A: CdnApi> Engine<A> {
    /// With `manifest_url` and no local manifest (a fresh CI runner): the published manifest.
    pub(super) async fn fetch_published(&self, notes: &mut Vec<String>, warnings: &mut Vec<String>) -> Option<manifest::Manifest> {
        let url = self.config.manifest_url.as_ref()?;
        if manifest::path(&self.config.state_dir).exists() {
            return None;
        }
        match remote::fetch(url, self.config.provider.timeout, self.clock.now_unix()).await {
            remote::Fetched::Found(m) => {
                notes.push(format!("no local manifest: diffed against the published one at {url}"));
                Some(m)
            }
            remote::Fetched::Missing(why) => {
                notes.push(format!("no published manifest ({why}): first deploy, so the baseline rule applies"));
                None
            }
            remote::Fetched::Unusable(why) => {
                warnings.push(format!("cannot use the published manifest ({why}); the baseline rule applies, nothing changed is purged"));
                None
            }
        }
    }

    /// Write the manifest copy the deploy publishes: the new one when nothing is owed, else the
    /// previous one, so a fresh runner purges the owed changes again (see [`remote`]).
    pub(super) fn publish_manifest(&self, s: &Scanned, nothing_owed: bool, notes: &mut Vec<String>) -> Result<()> {
        let dest = remote::published_path(&self.config.publish_dir);
        if nothing_owed {
            remote::publish(&self.config.publish_dir, &s.current)?;
            notes.push(format!("wrote {}: publish it with the site", dest.display()));
        } else if let Some(prev) = &s.previous {
            remote::publish(&self.config.publish_dir, prev)?;
            notes
                .push(format!("jobs are still owed: {} keeps the previous manifest, so the next runner purges them again", dest.display()));
        } else {
            notes.push(format!("jobs are still owed and there is no previous manifest: {} not written", dest.display()));
        }
        Ok(())
    }
}
