//! The documented limits of Tencent's purge APIs, in one table: per-request batch sizes, daily
//! quotas and request rates. Everything else (config bounds, the planner's fallbacks, the v2 quota
//! ledger, the fake API) reads them from here.
//!
//! These are only what the documents promise; accounts differ, so API 3.0's DescribePurgeQuota /
//! DescribePushQuota answers win whenever cdnsync has one (see `docs/config.md`, `[limits]`).

use super::{Api, Area, JobKind};

/// One documented limit: the most URLs (or directories) a request may carry and a day allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Documented {
    /// Most URLs or directories in one request.
    pub batch: u64,
    /// Most URLs or directories a day, per area.
    pub daily: u64,
}

/// API 3.0: PurgeUrlsCache 1,000 a call and 10,000 a day; PurgePathCache 500 a call but only 100
/// a day; PushUrlsCache 500 a call and 1,000 a day (each per area).
const V3: [(JobKind, Documented); 3] = [
    (JobKind::PurgeUrls, Documented { batch: 1000, daily: 10_000 }),
    (JobKind::PurgePaths, Documented { batch: 500, daily: 100 }),
    (JobKind::PrefetchUrls, Documented { batch: 500, daily: 1000 }),
];

/// Legacy v2 (FlushOrPushOverall and the dedicated overseas actions): 1,000 URLs or 500
/// directories a call; the same daily totals as API 3.0.
const V2: [(JobKind, Documented); 3] = [
    (JobKind::PurgeUrls, Documented { batch: 1000, daily: 10_000 }),
    (JobKind::PurgePaths, Documented { batch: 500, daily: 100 }),
    (JobKind::PrefetchUrls, Documented { batch: 1000, daily: 1000 }),
];

/// EdgeOne (CreatePurgeTask, CreatePrefetchTask): batch sizes and daily quotas depend on the
/// zone's plan and are read from DescribeContentQuota; the only figures its API documents are
/// that action's example, 2,000 a call and 10,000 a day for every purge type and for prefetch.
/// (The planner's batches stay within `[limits]`, whose ceilings are API 3.0's, see
/// [`max_batch`].) Quotas count per zone, not per area.
const EDGEONE: [(JobKind, Documented); 3] = [
    (JobKind::PurgeUrls, Documented { batch: 2000, daily: 10_000 }),
    (JobKind::PurgePaths, Documented { batch: 2000, daily: 10_000 }),
    (JobKind::PrefetchUrls, Documented { batch: 2000, daily: 10_000 }),
];

/// EdgeOne: 20 requests a second per action (stated for CreatePurgeTask, CreatePrefetchTask,
/// Describe{Purge,Prefetch}Tasks and DescribeContentQuota; assumed for the zone lookups).
pub const EDGEONE_REQUESTS_PER_SECOND: u32 = 20;

/// v2's CdnOverseaPushser (overseas prefetch with `v2_overseas = "dedicated"`): 20 URLs a call.
pub const V2_DEDICATED_OVERSEAS_PREFETCH_BATCH: u64 = 20;

/// API 3.0: 20 requests a second per action.
pub const V3_REQUESTS_PER_SECOND: u32 = 20;

/// v2 FlushOrPushOverall: 100 calls a minute (the other v2 actions document no rate and are
/// held to the same).
pub const V2_REQUESTS_PER_MINUTE: u32 = 100;

/// Most a request of `kind` may carry on any API cdnsync speaks: the ceiling of `[limits]`.
pub fn max_batch(kind: JobKind) -> u64 {
    V3.iter().find(|(k, _)| *k == kind).map_or(1, |(_, d)| d.batch)
}

/// The largest batch of `kind` any API documents: no job cdnsync writes holds more.
pub fn largest_batch(kind: JobKind) -> u64 {
    V3.iter().chain(V2.iter()).filter(|(k, _)| *k == kind).map(|(_, d)| d.batch).max().unwrap_or(1)
}

/// The documented limit of `kind` in `area` on `api`.
pub fn documented(api: Api, kind: JobKind, area: Area, v2_dedicated_overseas: bool) -> Documented {
    let table = match api {
        Api::V3 => &V3,
        Api::V2 => &V2,
        Api::EdgeOne => &EDGEONE,
    };
    let mut d = table.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d).expect("every kind is in the table");
    if api == Api::V2 && v2_dedicated_overseas && kind == JobKind::PrefetchUrls && area == Area::Overseas {
        d.batch = V2_DEDICATED_OVERSEAS_PREFETCH_BATCH;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_as_documented() {
        let row = |api, kind, area, dedicated| {
            let d = documented(api, kind, area, dedicated);
            (d.batch, d.daily)
        };
        assert_eq!(row(Api::V3, JobKind::PurgeUrls, Area::Mainland, false), (1000, 10_000));
        assert_eq!(row(Api::V3, JobKind::PurgePaths, Area::Overseas, false), (500, 100));
        assert_eq!(row(Api::V3, JobKind::PrefetchUrls, Area::Overseas, true), (500, 1000), "dedicated is a v2 setting");
        assert_eq!(row(Api::V2, JobKind::PrefetchUrls, Area::Mainland, true), (1000, 1000));
        assert_eq!(row(Api::V2, JobKind::PrefetchUrls, Area::Overseas, true), (20, 1000));
        assert_eq!(row(Api::V2, JobKind::PrefetchUrls, Area::Overseas, false), (1000, 1000));
        assert_eq!(max_batch(JobKind::PrefetchUrls), 500);
        assert_eq!(largest_batch(JobKind::PrefetchUrls), 1000, "v2 takes more than API 3.0");
        assert_eq!(largest_batch(JobKind::PurgePaths), 500);
        assert_eq!(row(Api::EdgeOne, JobKind::PurgePaths, Area::Global, false), (2000, 10_000));
    }
}
