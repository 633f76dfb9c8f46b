//! `watch --poll`: for network filesystems, where OS events do not arrive.

use std::path::Path;
use std::time::Duration;

use super::os::{existing_root_id, root_id, RootId};
use super::settle::{Settler, Touch};
use crate::error::Result;

/// Poll mode: stat the whole tree every so often and compare sizes and nanosecond mtimes with
/// the previous round (notify's own poller compares whole seconds only, which misses a rebuild
/// within the same second). Costs one `stat` per file per round, no reads.
pub(super) struct Poller {
    every: Duration,
    pub(super) next_ms: i64,
    id: Option<RootId>,
    last: std::collections::HashMap<String, (u64, i64)>,
}

impl Poller {
    pub(super) fn new(engine_root: &Path, every: Duration, spec: &crate::scan::ScanSpec, now_ms: i64) -> Result<Self> {
        let id = existing_root_id(engine_root)?;
        let last = stats(spec)?;
        Ok(Poller { every, next_ms: now_ms + every.as_millis() as i64, id: Some(id), last })
    }

    /// One round: what changed since the last.
    pub(super) async fn round(&mut self, root: &Path, spec: &crate::scan::ScanSpec, settler: &mut Settler, now_ms: i64) {
        self.next_ms = now_ms + self.every.as_millis() as i64;
        let id = root_id(root);
        if id != self.id {
            let why = match &id {
                Some(i) => format!("publish_dir now resolves to {}", i.target.display()),
                None => "publish_dir is gone".to_string(),
            };
            tracing::info!("{}; rescanning the new tree", crate::text::Printable(&why));
            self.id = id;
            settler.touch(now_ms, Touch::Swap(why));
        }
        let spec = spec.clone();
        let joined = tokio::task::spawn_blocking(move || stats(&spec)).await.map_err(|e| e.to_string());
        let now = match joined.and_then(|r| r.map_err(|e| e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("polling failed: {}", crate::text::Printable(&e));
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
