//! `[limits]`: the documented API limits, which a config may lower and never raise.

use std::time::Duration;

use super::Validator;
use crate::config::raw::RawLimits;
use crate::config::types::{Collapse, Limits, MAX_MAX_FILES, MAX_REQUESTS_PER_SECOND};
use crate::model::{limits, JobKind};

pub(super) fn limits(v: &mut Validator, r: &RawLimits) -> Limits {
    let mut l = Limits::default();
    if v.word(&r.collapse, "limits.collapse", &["auto", "never"]) == Some("never") {
        l.collapse = Collapse::Never;
    }
    if let Some(n) = v.int(&r.concurrency, "limits.concurrency", 1, 20, " (the API allows 20 requests/s)") {
        l.concurrency = n as usize;
    }
    let rps = MAX_REQUESTS_PER_SECOND as i64;
    if let Some(n) = v.int(&r.requests_per_second, "limits.requests_per_second", 1, rps, " (the documented API limit)") {
        l.requests_per_second = n as u32;
    }
    let batches = [
        (&r.purge_urls_batch, "limits.purge_urls_batch", JobKind::PurgeUrls, &mut l.purge_urls_batch),
        (&r.purge_paths_batch, "limits.purge_paths_batch", JobKind::PurgePaths, &mut l.purge_paths_batch),
        (&r.prefetch_batch, "limits.prefetch_batch", JobKind::PrefetchUrls, &mut l.prefetch_batch),
    ];
    for (field, key, kind, out) in batches {
        let max = limits::max_batch(kind) as i64;
        if let Some(n) = v.int(field, key, 1, max, " (the documented API limit; lower it, never raise it)") {
            *out = n as u64;
        }
    }
    if let Some(n) = v.int(&r.retry_deadline_secs, "limits.retry_deadline_secs", 1, 86_400, "") {
        l.retry_deadline = Duration::from_secs(n as u64);
    }
    // 0 forbids collapsing into a whole-site purge; 100 is the daily directory-purge quota.
    if let Some(n) =
        v.int(&r.max_root_purges_per_day, "limits.max_root_purges_per_day", 0, 100, " (0: never collapse into a purge of the whole site)")
    {
        l.max_root_purges_per_day = n as u32;
    }
    let why = " (each tracked path costs memory in every sync)";
    if let Some(n) = v.int(&r.max_files, "limits.max_files", 1, MAX_MAX_FILES as i64, why) {
        l.max_files = n as u64;
    }
    l
}
