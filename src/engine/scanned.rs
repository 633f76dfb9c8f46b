//! The disk side of a plan or sync: scan `publish_dir`, diff it with the manifest (local, or the
//! published one), and plan the jobs for what changed. Blocking work, run off the async runtime.

use crate::clock::Clock;
use crate::config::NoStateRule;
use crate::config::{Config, V2Overseas};
use crate::error::Result;
use crate::model::{Api, ChangeSet, Job, OutsideLink, QuotaBook, Snapshot};
use crate::plan::{self, PlanInput};
use crate::progress::{Cancel, Progress};
use crate::report::ScanStats;
use crate::scan::{self, PreviousScan, ScanSpec};
use crate::state::{manifest, roots::RootPurges};

use super::SyncOptions;

/// What the scan found, and what it was compared with: everything `plan` and `sync` need from
/// the disk, computed off the async runtime.
pub(super) struct Scanned {
    pub(super) changes: ChangeSet,
    /// The tree found and when its scan started (for the racy-timestamp rule): the manifest
    /// `sync` records.
    pub(super) current: manifest::Manifest,
    pub(super) scan: ScanStats,
    pub(super) warnings: Vec<String>,
    /// Symlinks that lead out of `publish_dir`.
    pub(super) links_outside: Vec<OutsideLink>,
    pub(super) baseline: bool,
    /// The manifest diffed against (local, or fetched from `manifest_url`).
    pub(super) previous: Option<manifest::Manifest>,
    /// `previous` is this state directory's own manifest.
    pub(super) prev_is_local: bool,
    /// No manifest was found (and neither `--all` nor `--baseline` was given): the rule that
    /// applies and why (`if_no_state`).
    pub(super) no_state: Option<(NoStateRule, String)>,
    /// Whole-site purges accepted today, per `host/area` (`[limits] max_root_purges_per_day`).
    pub(super) roots_today: std::collections::BTreeMap<String, u32>,
}

/// Scan `publish_dir` and diff it with the manifest (local, else `remote`). Blocking.
pub(super) fn scan_and_diff(
    config: &Config,
    clock: &dyn Clock,
    opts: &SyncOptions,
    remote: Option<manifest::Manifest>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Scanned> {
    // Before any stat: the racy-timestamp rule measures from the start of the scan.
    let scan_start_ns = clock.now_ms().saturating_mul(1_000_000);
    // Walk the tree while the manifest loads: the walk is stat calls, the load is parsing.
    let spec = ScanSpec::of(config);
    let whole = opts.paths.is_none() || opts.all;
    let (local, walked) = std::thread::scope(|s| {
        let walker = whole.then(|| s.spawn(|| scan::walk::walk(&spec)));
        let local = manifest::load(&config.state_dir);
        (local, walker.map(|w| w.join().expect("walk thread")))
    });
    let local = local?;
    // A manifest from another machine vouches for hashes, never for this disk's timestamps.
    let from_remote = local.is_none() && remote.is_some();
    let prev = local.or(remote);
    let previous = prev.as_ref().filter(|_| !from_remote).map(|m| PreviousScan { snapshot: &m.snapshot, scan_start_ns: m.scan_start_ns });
    let (scanned, scan_start_ns) = match (&opts.paths, previous) {
        // Entries carried over were vouched for by the earlier scan: keep its start time, so
        // that the racy-timestamp rule still covers them (the rescanned files merely get
        // rehashed once more by the next whole scan).
        (Some(paths), Some(previous)) if !opts.all => (scan::scan_paths(&spec, previous, paths, progress, cancel)?, previous.scan_start_ns),
        _ => {
            let walked = match walked {
                Some(w) => w?,
                None => scan::walk::walk(&spec)?,
            };
            // A published manifest vouches for no timestamp here (the earliest start reuses no
            // hash), but what cannot be looked at now keeps its entry from it too.
            let carry = previous.or(prev.as_ref().map(|m| PreviousScan { snapshot: &m.snapshot, scan_start_ns: i64::MIN }));
            (scan::scan_walked(&spec, walked, carry, opts.full, progress, cancel)?, scan_start_ns)
        }
    };
    let stats = ScanStats { files: scanned.snapshot.len(), hashed: scanned.hashed, reused: scanned.reused };
    let baseline = opts.baseline || (prev.is_none() && !opts.all);
    let no_state = (prev.is_none() && !opts.baseline && !opts.all).then(|| super::nostate::rule(config, opts));
    let empty = Snapshot::default();
    let changes = plan::diff::diff(prev.as_ref().map_or(&empty, |m| &m.snapshot), &scanned.snapshot);
    Ok(Scanned {
        prev_is_local: prev.is_some() && !from_remote,
        changes,
        current: manifest::Manifest { snapshot: scanned.snapshot, scan_start_ns },
        scan: stats,
        warnings: scanned.warnings,
        links_outside: scanned.links_outside,
        baseline,
        previous: prev,
        no_state,
        roots_today: RootPurges::new(&config.state_dir).today(clock.now_unix()),
    })
}

/// For `status`: the symlinks that lead out of `publish_dir` now (a walk, no hashing), or why
/// they cannot be listed.
pub(super) fn links_outside(config: &Config) -> (Vec<OutsideLink>, Option<String>) {
    match scan::walk::walk(&ScanSpec::of(config)) {
        Ok(w) => (w.links_outside, None),
        Err(e) => (Vec::new(), Some(format!("cannot list the links that lead out of publish_dir: {e}"))),
    }
}

/// The jobs for what the scan found, given the quota (pure).
pub(super) fn plan_jobs(
    config: &Config,
    clock: &dyn Clock,
    opts: &SyncOptions,
    s: &Scanned,
    owed: &[Job],
    quota: &QuotaBook,
) -> plan::Plan {
    if s.baseline {
        return match &s.no_state {
            Some((NoStateRule::PurgeAll, _)) => super::nostate::whole_site_plan(config, owed, quota, clock.now_unix()),
            _ => plan::Plan::default(),
        };
    }
    let v2_dedicated = config.provider.api == Api::V2 && config.provider.v2_overseas == V2Overseas::Dedicated;
    plan::make_plan(&PlanInput {
        domains: &config.domains,
        limits: &config.limits,
        changes: &s.changes,
        tree: &s.current.snapshot,
        quota,
        owed,
        all: opts.all,
        overseas_prefetch_batch: v2_dedicated.then_some(crate::model::limits::V2_DEDICATED_OVERSEAS_PREFETCH_BATCH),
        now_unix: clock.now_unix(),
        roots_today: &s.roots_today,
    })
}
