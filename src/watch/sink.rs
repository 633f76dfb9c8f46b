//! Where a watcher tells each sync's outcome as it happens (`cdnsync watch --json` writes one
//! JSON line per sync from it).

use std::sync::Arc;

use crate::error::Error;
use crate::report::Report;

/// One sync of a watcher.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// A sync completed with this report.
    Synced(&'a Report),
    /// A sync failed (its paths are kept for the next attempt).
    Failed(&'a Error),
}

/// A callback for every [`WatchEvent`], called on the watcher's task: keep it quick.
#[derive(Clone)]
pub struct Sink(pub Arc<dyn Fn(WatchEvent<'_>) + Send + Sync>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink(..)")
    }
}
