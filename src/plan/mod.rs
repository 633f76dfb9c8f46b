//! Planning: PURE. No filesystem, no network, no clock — values in, values out.
//!
//! [`diff`] finds what changed, [`rules`] maps paths to URLs, [`collapse`] trades URL purges for
//! directory purges where that saves quota, and [`make_plan`] cuts everything into jobs no larger
//! than the API takes in one request.
//!
//! This file is long because of its tests: tables of plans, one owed state per line.

pub mod adhoc;
pub mod collapse;
pub mod diff;
pub mod rules;
pub mod urlenc;

use std::collections::{BTreeMap, HashSet};

use crate::config::{Collapse, Domain, Limits};
use crate::model::{Area, ChangeSet, Job, JobKind, JobStatus, QuotaBook, Snapshot};
use rules::Rules;

/// What the planner needs to know.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    /// The configured domains and their rules.
    pub domains: &'a [Domain],
    /// Batch sizes, collapse policy.
    pub limits: &'a Limits,
    /// What changed since the last deploy.
    pub changes: &'a ChangeSet,
    /// The current tree (for the share of each directory that changed).
    pub tree: &'a Snapshot,
    /// Remaining quotas and batch sizes (from the API, the cache of its last answer, or the docs).
    pub quota: &'a QuotaBook,
    /// Jobs already owed (the outbox): their cost is reserved, and their URLs are not planned
    /// again unless a request of the job may already have reached the API
    /// (`covers_new_changes`).
    pub owed: &'a [Job],
    /// `sync --all`: every file counts as changed and may collapse to directory purges.
    pub all: bool,
    /// Legacy v2 with `v2_overseas = "dedicated"`: overseas prefetch goes through
    /// CdnOverseaPushser, which takes at most 20 URLs a call.
    pub overseas_prefetch_batch: Option<u64>,
    /// Now, for job IDs and timestamps.
    pub now_unix: i64,
    /// Whole-site purges accepted today per `collapse::root_key` (`[limits]
    /// max_root_purges_per_day`): at the limit, a collapse never chooses a domain's root.
    pub roots_today: &'a BTreeMap<String, u32>,
}

/// The jobs of one plan, and the quota they would use.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// New jobs, in sending order (purges before prefetches).
    pub jobs: Vec<Job>,
    /// Quota left before this plan (after owed jobs), keyed like [`QuotaBook`].
    pub quota_before: BTreeMap<String, u64>,
    /// What this plan would spend, keyed like [`QuotaBook`].
    pub quota_used: BTreeMap<String, u64>,
    /// Decisions worth telling the user (collapses, over-quota warnings).
    pub notes: Vec<String>,
}

/// Split `items` into batches of at most `size`.
pub fn batches<T>(items: Vec<T>, size: u64) -> Vec<Vec<T>> {
    let size = size.max(1) as usize;
    let mut out = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter();
    loop {
        let batch: Vec<T> = items.by_ref().take(size).collect();
        if batch.is_empty() {
            return out;
        }
        out.push(batch);
    }
}

/// Keep the first item of each key, in order (an index page's directory alias can be reached
/// from two index files).
fn first_of_each<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &str) {
    let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
    let keep: Vec<bool> = items.iter().map(|it| seen.insert(key(it))).collect();
    drop(seen);
    if keep.contains(&false) {
        let mut i = 0;
        items.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// Does an owed job stand for a change of its URLs found now, so that they need not be planned
/// again?
///
/// The promise is that every change gets a purge (or prefetch) the API accepts *after* the change.
/// The changes passed to the planner were found by the scan that just ran, so an owed job covers
/// them only if its request is certain to reach the API from now on, in a run that reports it.
/// That holds exactly when no request of it may have reached the API yet (`maybe_sent_unix`
/// unset) and it is not held as failed:
///
/// - **pending, never sent** (just planned, or planned by a run killed before sending): it goes out
///   in this run or a later one, after the change. Covers.
/// - **pending after a definite failure** (refused connection, HTTP 5xx, throttled, an API error):
///   a definite answer clears `maybe_sent_unix`; the job is resent later. Covers.
/// - **pending, maybe sent** (a timeout or a dropped connection after sending, or a kill while the
///   request was out): its next step is a task lookup, and the task it finds may have been
///   created before this change. Does **not** cover: the URL is planned again. A duplicate purge
///   is cheap; a stale page is the failure cdnsync exists to prevent.
/// - **deferred** (daily quota): it is sent, or looked up, at the reset. Covers unless maybe sent
///   (a maybe-sent job can be deferred before its lookup when the quota is known to be gone).
/// - **failed** (refused for good): held until the user fixes the cause and retries it
///   (`outbox retry`, `sync --retry-failed`), and a run's exit code reports only its own jobs.
///   Does **not** cover: a new change gets a job of its own, sent in this run, so the run says
///   whether *this* change went out (if the cause is still there, it fails again, exit 3; if it
///   was fixed, it is purged and the old failed job can be dropped).
/// - **prefetch waiting for its purge** (`WaitingForPurge`): never sent yet. Covers.
/// - **halves of a job split by the submitter** (batch too large, or only part fits today's
///   quota): written as new jobs that were never sent; a maybe-sent job is never split. Cover.
pub fn covers_new_changes(owed: &Job) -> bool {
    owed.maybe_sent_unix.is_none() && owed.status != JobStatus::Failed
}

/// Plan the jobs for a set of changes.
pub fn make_plan(input: &PlanInput) -> Plan {
    let rules = Rules::new(input.domains);
    let mut plan = Plan::default();
    // URLs owed by jobs that will certainly be sent after this change (see `covers_new_changes`).
    let owed_urls: HashSet<(JobKind, Area, &str)> = input
        .owed
        .iter()
        .filter(|j| covers_new_changes(j))
        .flat_map(|j| j.urls.iter().map(move |u| (j.kind, j.area, u.as_str())))
        .collect();
    // What is left of each quota once the owed jobs are sent.
    let mut left: BTreeMap<String, u64> = BTreeMap::new();
    // The CDN's two areas, or EdgeOne's one (its domains carry only `global`).
    let areas: &[Area] = if input.domains.iter().any(|d| d.areas.contains(&Area::Global)) { &[Area::Global] } else { &Area::ALL };
    for kind in [JobKind::PurgeUrls, JobKind::PurgePaths, JobKind::PrefetchUrls] {
        for &area in areas {
            let key = QuotaBook::key(kind, area);
            let avail = input.quota.get(kind, area).map_or(u64::MAX, |q| q.available);
            let owed: u64 = input.owed.iter().filter(|j| j.kind == kind && j.area == area).map(Job::cost).sum();
            left.insert(key, avail.saturating_sub(owed));
        }
    }
    plan.quota_before = left.clone();

    let everything: Vec<&str>;
    let (purge_files, prefetch_files): (Vec<&str>, Vec<&str>) = if input.all {
        everything = input.tree.paths().collect();
        let purge = everything.iter().copied().chain(input.changes.removed.iter().map(String::as_str)).collect();
        let pre = everything.clone();
        (purge, pre)
    } else {
        let purge = input.changes.modified.iter().chain(&input.changes.removed).map(String::as_str).collect();
        let mut pre: Vec<&str> = input.changes.added.iter().chain(&input.changes.modified).map(String::as_str).collect();
        pre.sort_unstable();
        (purge, pre)
    };

    let mut seq = 0usize;
    let mut push_job = |plan: &mut Plan, kind: JobKind, area: Area, host: &str, urls: Vec<String>| {
        seq += 1;
        *plan.quota_used.entry(QuotaBook::key(kind, area)).or_default() += urls.len() as u64;
        plan.jobs.push(Job::planned(kind, area, host, urls, input.now_unix, seq));
    };

    let mut prefetch_jobs: Vec<(JobKind, Area, String, Vec<String>)> = Vec::new();
    for (d, dom) in input.domains.iter().enumerate() {
        // Files whose URLs this domain owes a purge.
        let mut files: Vec<&str> = purge_files.iter().copied().filter(|p| rules.serves(d, p)).collect();
        if dom.purge_added && !input.all {
            files.extend(input.changes.added.iter().map(String::as_str).filter(|p| rules.serves(d, p)));
        }
        files.sort_unstable();
        files.dedup();
        let mut items: Vec<rules::UrlItem> = files.iter().flat_map(|f| rules.urls(d, f)).collect();
        first_of_each(&mut items, |it| &it.url);
        let mut counts: Option<collapse::DirCounts> = None;
        for area in &dom.areas {
            let area = *area;
            let area_items: Vec<&rules::UrlItem> =
                items.iter().filter(|it| !owed_urls.contains(&(JobKind::PurgeUrls, area, it.url.as_str()))).collect();
            let url_key = QuotaBook::key(JobKind::PurgeUrls, area);
            let path_key = QuotaBook::key(JobKind::PurgePaths, area);
            let (dirs, kept): (Vec<String>, Vec<usize>) = if input.limits.collapse == Collapse::Auto && !area_items.is_empty() {
                let containers: Vec<Option<&str>> = area_items.iter().map(|it| it.container.as_deref()).collect();
                let counts = counts.get_or_insert_with(|| {
                    let served = input.tree.paths().chain(input.changes.removed.iter().map(String::as_str)).filter(|p| rules.serves(d, p));
                    collapse::DirCounts::new(&files, served)
                });
                let root_key = collapse::root_key(&dom.host, area);
                let allow_root = input.roots_today.get(&root_key).copied().unwrap_or(0) < input.limits.max_root_purges_per_day;
                let c = collapse::collapse_with(counts, &containers, left[&url_key], left[&path_key], input.all, allow_root);
                if !allow_root && !input.all {
                    let full = collapse::collapse(counts, &containers, left[&url_key], left[&path_key], false);
                    if full.dirs.iter().any(String::is_empty) {
                        plan.notes.push(format!(
                            "{} {area}: NOT purging the whole site although most of it changed: {} whole-site purge(s) already today \
                             ([limits] max_root_purges_per_day = {}); smaller folders and single URLs instead, the excess deferred",
                            dom.host,
                            input.roots_today.get(&root_key).copied().unwrap_or(0),
                            input.limits.max_root_purges_per_day
                        ));
                    }
                }
                (c.dirs, c.kept)
            } else {
                (Vec::new(), (0..area_items.len()).collect())
            };
            if !dirs.is_empty() {
                let dir_urls: Vec<String> = dirs
                    .iter()
                    .map(|dir| rules.dir_url(d, dir))
                    .filter(|u| !owed_urls.contains(&(JobKind::PurgePaths, area, u.as_str())))
                    .collect();
                let replaced = area_items.len() - kept.len();
                plan.notes.push(if dirs.iter().any(String::is_empty) {
                    format!(
                        "{} {area}: the WHOLE SITE is purged ({}): one directory purge of the root replaces {replaced} URL purges{}",
                        dom.host,
                        dir_urls.join(", "),
                        if input.all { " (--all)" } else { " because most of it changed or the URL quota would not cover it" }
                    )
                } else {
                    format!(
                        "{} {area}: {replaced} URL purges replaced by {} directory purge(s): {}",
                        dom.host,
                        dir_urls.len(),
                        dir_urls.join(", ")
                    )
                });
                *left.get_mut(&path_key).expect("key") = left[&path_key].saturating_sub(dir_urls.len() as u64);
                let size = batch_size(input, JobKind::PurgePaths, area);
                for b in batches(dir_urls, size) {
                    push_job(&mut plan, JobKind::PurgePaths, area, &dom.host, b);
                }
            }
            let urls: Vec<String> = kept.iter().map(|&i| area_items[i].url.clone()).collect();
            if urls.len() as u64 > left[&url_key] {
                plan.notes.push(format!(
                    "{} {area}: {} URL purges exceed today's remaining quota ({}); the excess will be deferred",
                    dom.host,
                    urls.len(),
                    left[&url_key]
                ));
            }
            *left.get_mut(&url_key).expect("key") = left[&url_key].saturating_sub(urls.len() as u64);
            let size = batch_size(input, JobKind::PurgeUrls, area);
            for b in batches(urls, size) {
                push_job(&mut plan, JobKind::PurgeUrls, area, &dom.host, b);
            }
        }
        // Prefetch: changed or added files matching `prefetch`, under every URL they are served at.
        let mut pre_urls: Vec<String> = prefetch_files
            .iter()
            .filter(|p| rules.serves(d, p) && rules.prefetches(d, p))
            .flat_map(|f| rules.urls(d, f).into_iter().map(|it| it.url))
            .collect();
        first_of_each(&mut pre_urls, |u| u);
        for area in &dom.areas {
            let urls: Vec<String> =
                pre_urls.iter().filter(|u| !owed_urls.contains(&(JobKind::PrefetchUrls, *area, u.as_str()))).cloned().collect();
            if !urls.is_empty() {
                prefetch_jobs.push((JobKind::PrefetchUrls, *area, dom.host.clone(), urls));
            }
        }
    }
    // Prefetch jobs come after every purge: a prefetch of a URL that is still cached does nothing.
    for (kind, area, host, urls) in prefetch_jobs {
        let key = QuotaBook::key(kind, area);
        *left.get_mut(&key).expect("key") = left[&key].saturating_sub(urls.len() as u64);
        let size = batch_size(input, kind, area);
        for b in batches(urls, size) {
            push_job(&mut plan, kind, area, &host, b);
        }
    }
    plan
}

/// The request size for `kind` in `area`: the configured limit, lowered to what the API reported.
fn batch_size(input: &PlanInput, kind: JobKind, area: Area) -> u64 {
    let mut size = input.limits.batch(kind);
    if let Some(q) = input.quota.get(kind, area) {
        if q.batch > 0 {
            size = size.min(q.batch);
        }
    }
    if kind == JobKind::PrefetchUrls && area == Area::Overseas {
        if let Some(b) = input.overseas_prefetch_batch {
            size = size.min(b);
        }
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::model::{ContentHash, FileMeta, JobStatus, QuotaEntry};

    static NO_ROOTS: BTreeMap<String, u32> = BTreeMap::new();

    fn cfg(extra: &str) -> config::Config {
        config::test_config(&format!("prefetch = [\"**/index.html\"]\n{extra}"))
    }

    fn tree(paths: &[&str]) -> Snapshot {
        let mut s = Snapshot::default();
        for p in paths {
            s.insert(p, FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(p.as_bytes()) });
        }
        s
    }

    fn input<'a>(c: &'a config::Config, changes: &'a ChangeSet, t: &'a Snapshot, q: &'a QuotaBook, owed: &'a [Job]) -> PlanInput<'a> {
        PlanInput {
            domains: &c.domains,
            limits: &c.limits,
            changes,
            tree: t,
            quota: q,
            owed,
            all: false,
            overseas_prefetch_batch: None,
            now_unix: 1_700_000_000,
            roots_today: &NO_ROOTS,
        }
    }

    #[test]
    fn purges_modified_and_removed_in_every_area_then_prefetches() {
        let c = cfg("");
        let t = tree(&["a.html", "b/index.html", "new.html", "new/index.html"]);
        let changes = ChangeSet {
            added: vec!["new.html".into(), "new/index.html".into()],
            modified: vec!["a.html".into(), "b/index.html".into()],
            removed: vec!["old.html".into()],
            unchanged: 0,
        };
        let q = QuotaBook::documented_v3();
        let p = make_plan(&input(&c, &changes, &t, &q, &[]));
        let kinds: Vec<(JobKind, Area)> = p.jobs.iter().map(|j| (j.kind, j.area)).collect();
        assert_eq!(
            kinds,
            vec![
                (JobKind::PurgeUrls, Area::Mainland),
                (JobKind::PurgeUrls, Area::Overseas),
                (JobKind::PrefetchUrls, Area::Mainland),
                (JobKind::PrefetchUrls, Area::Overseas)
            ]
        );
        let purge = &p.jobs[0].urls;
        assert_eq!(
            purge,
            &vec![
                "https://www.example.com/a.html",
                "https://www.example.com/b/index.html",
                "https://www.example.com/b/",
                "https://www.example.com/old.html"
            ]
        );
        assert_eq!(
            p.jobs[2].urls,
            vec![
                "https://www.example.com/b/index.html",
                "https://www.example.com/b/",
                "https://www.example.com/new/index.html",
                "https://www.example.com/new/"
            ]
        );
        assert_eq!(p.quota_used["purge_urls/mainland"], 4);
    }

    #[test]
    fn batches_respect_the_smallest_limit() {
        let c = cfg("[limits]\npurge_urls_batch = 7\n");
        let names: Vec<String> = (0..30).map(|i| format!("f{i:02}.css")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = tree(&refs);
        let changes = ChangeSet { modified: names.clone(), ..Default::default() };
        let mut q = QuotaBook::documented_v3();
        let mut e = q.get(JobKind::PurgeUrls, Area::Overseas).unwrap();
        e.batch = 5;
        q.set(JobKind::PurgeUrls, Area::Overseas, e);
        let mut c2 = c.clone();
        c2.limits.collapse = Collapse::Never;
        let p = make_plan(&input(&c2, &changes, &t, &q, &[]));
        let sizes = |a: Area| p.jobs.iter().filter(|j| j.area == a).map(|j| j.urls.len()).collect::<Vec<_>>();
        assert_eq!(sizes(Area::Mainland), vec![7, 7, 7, 7, 2]);
        assert_eq!(sizes(Area::Overseas), vec![5, 5, 5, 5, 5, 5]);
        // Law: every owed URL is in exactly one job of each area.
        for a in Area::ALL {
            let mut all: Vec<&String> = p.jobs.iter().filter(|j| j.area == a).flat_map(|j| &j.urls).collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 30);
        }
    }

    #[test]
    fn a_directory_alias_reached_from_two_index_files_is_purged_and_prefetched_once() {
        let c = config::test_config(
            "prefetch = [\"**/index.*\"]\nindex_files = [\"index.html\", \"index.htm\"]\nindex_aliases = [\"slash\", \"bare\"]\n",
        );
        let t = tree(&["docs/index.htm", "docs/index.html"]);
        let changes = ChangeSet { modified: vec!["docs/index.htm".into(), "docs/index.html".into()], ..Default::default() };
        let p = make_plan(&input(&c, &changes, &t, &QuotaBook::documented_v3(), &[]));
        let want = [
            "https://www.example.com/docs/index.htm",
            "https://www.example.com/docs/",
            "https://www.example.com/docs",
            "https://www.example.com/docs/index.html",
        ];
        for j in &p.jobs {
            assert_eq!(j.urls, want, "{:?} {}", j.kind, j.area);
        }
        assert_eq!(p.jobs.len(), 4, "purge and prefetch, two areas");
    }

    #[test]
    fn owed_urls_are_not_planned_twice() {
        let c = cfg("");
        let t = tree(&["a.html", "b.html"]);
        let changes = ChangeSet { modified: vec!["a.html".into(), "b.html".into()], ..Default::default() };
        let q = QuotaBook::documented_v3();
        let first = make_plan(&input(&c, &changes, &t, &q, &[]));
        let owed: Vec<Job> = first.jobs.iter().filter(|j| j.area == Area::Mainland).cloned().collect();
        let second = make_plan(&input(&c, &changes, &t, &q, &owed));
        assert!(second.jobs.iter().all(|j| j.area == Area::Overseas), "{:?}", second.jobs);
        assert_eq!(second.quota_before["purge_urls/mainland"], 10_000 - 2);
    }

    /// Every owed state, one line each: does it stand for a change of its URL found now?
    #[test]
    fn an_owed_url_is_planned_again_when_its_job_may_have_reached_the_api() {
        let c = config::test_config("prefetch = [\"**/*.html\"]\n");
        let t = tree(&["a.html"]);
        let changes = ChangeSet { modified: vec!["a.html".into()], ..Default::default() };
        let q = QuotaBook::documented_v3();
        let first = make_plan(&input(&c, &changes, &t, &q, &[]));
        let purge = first.jobs.iter().find(|j| j.kind == JobKind::PurgeUrls && j.area == Area::Mainland).unwrap().clone();
        let prefetch = first.jobs.iter().find(|j| j.kind == JobKind::PrefetchUrls && j.area == Area::Mainland).unwrap().clone();
        let with = |j: &Job, status: JobStatus, maybe_sent: Option<i64>, code: Option<&str>| {
            let mut j = j.clone();
            j.status = status;
            j.maybe_sent_unix = maybe_sent;
            j.error = code.map(|c| crate::model::JobError { code: c.into(), message: String::new() });
            j
        };
        let cases = [
            ("pending, never sent", with(&purge, JobStatus::Pending, None, None), true),
            ("pending after a definite failure", with(&purge, JobStatus::Pending, None, Some("HTTP503")), true),
            ("pending, maybe sent", with(&purge, JobStatus::Pending, Some(1_699_999_990), Some("Network")), false),
            ("deferred", with(&purge, JobStatus::Deferred, None, Some("QuotaExhausted")), true),
            ("deferred, maybe sent", with(&purge, JobStatus::Deferred, Some(1_699_999_990), Some("QuotaExhausted")), false),
            ("failed", with(&purge, JobStatus::Failed, None, Some("InvalidParameter")), false),
            ("prefetch waiting for its purge", with(&prefetch, JobStatus::Pending, None, Some("WaitingForPurge")), true),
            ("prefetch, maybe sent", with(&prefetch, JobStatus::Pending, Some(1_699_999_990), None), false),
        ];
        for (what, owed, covers) in cases {
            assert_eq!(covers_new_changes(&owed), covers, "{what}");
            let p = make_plan(&input(&c, &changes, &t, &q, std::slice::from_ref(&owed)));
            let replanned = p.jobs.iter().any(|j| j.kind == owed.kind && j.area == Area::Mainland && j.urls == owed.urls);
            assert_eq!(replanned, !covers, "{what}: {:?}", p.jobs);
            // The other area owes nothing: always planned.
            assert!(p.jobs.iter().any(|j| j.kind == owed.kind && j.area == Area::Overseas), "{what}");
            // Reserved either way: the owed job will still be sent (or looked up).
            assert_eq!(p.quota_before[&QuotaBook::key(owed.kind, Area::Mainland)], q.get(owed.kind, Area::Mainland).unwrap().available - 1);
        }
        // The halves of a split are new jobs, never sent: they cover.
        let mut two = purge.clone();
        two.urls.push("https://www.example.com/b.html".into());
        let half = Job { id: "x".into(), urls: vec![two.urls[0].clone()], maybe_sent_unix: None, status: JobStatus::Pending, ..two };
        let p = make_plan(&input(&c, &changes, &t, &q, &[half]));
        assert!(!p.jobs.iter().any(|j| j.kind == JobKind::PurgeUrls && j.area == Area::Mainland), "{:?}", p.jobs);
    }

    #[test]
    fn all_collapses_to_root_directory_purge() {
        let c = cfg("base_path = \"/site/\"\n");
        let t = tree(&["a.html", "b/c.html", "index.html"]);
        let changes = ChangeSet { unchanged: 3, ..Default::default() };
        let q = QuotaBook::documented_v3();
        let mut i = input(&c, &changes, &t, &q, &[]);
        i.all = true;
        let p = make_plan(&i);
        let purges: Vec<&Job> = p.jobs.iter().filter(|j| j.kind.is_purge()).collect();
        assert_eq!(purges.len(), 2);
        assert!(purges.iter().all(|j| j.kind == JobKind::PurgePaths && j.urls == vec!["https://www.example.com/site/"]));
    }

    #[test]
    fn the_bare_base_url_lies_outside_every_directory_purge() {
        // `/site` (no slash) is not under `/site/`: a root purge does not cover it.
        let c = cfg("base_path = \"/site/\"\nindex_aliases = [\"slash\", \"bare\"]\n");
        let t = tree(&["a.html", "index.html"]);
        let q = QuotaBook::documented_v3();
        let changes = ChangeSet { unchanged: 2, ..Default::default() };
        let mut i = input(&c, &changes, &t, &q, &[]);
        i.all = true;
        let p = make_plan(&i);
        let mainland: Vec<(JobKind, Vec<String>)> =
            p.jobs.iter().filter(|j| j.area == Area::Mainland && j.kind.is_purge()).map(|j| (j.kind, j.urls.clone())).collect();
        assert_eq!(
            mainland,
            vec![
                (JobKind::PurgePaths, vec!["https://www.example.com/site/".to_string()]),
                (JobKind::PurgeUrls, vec!["https://www.example.com/site".to_string()]),
            ]
        );
    }

    #[test]
    fn purge_added_and_excludes() {
        let c = cfg("purge_added = true\nexclude = [\"drafts/**\"]\n");
        let t = tree(&["n.html", "drafts/x.html"]);
        let changes = ChangeSet { added: vec!["drafts/x.html".into(), "n.html".into()], ..Default::default() };
        let q = QuotaBook::documented_v3();
        let p = make_plan(&input(&c, &changes, &t, &q, &[]));
        assert_eq!(p.jobs[0].urls, vec!["https://www.example.com/n.html"]);
        let c = cfg("");
        let p = make_plan(&input(&c, &changes, &t, &q, &[]));
        assert!(p.jobs.iter().all(|j| !j.kind.is_purge()), "added files are not purged by default");
    }

    /// 1,000 pages of which `n` changed: too few for any folder purge.
    fn few_of_many(n: usize, index: bool) -> (Snapshot, ChangeSet) {
        let name = |i: usize| if index { format!("d{i}/index.html") } else { format!("p{}/{i}.html", i % 10) };
        let all: Vec<String> = (0..1000).map(name).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let changes = ChangeSet { added: vec![], modified: all[..n].to_vec(), removed: vec![], unchanged: 1000 - n };
        (tree(&refs), changes)
    }

    fn sizes(p: &Plan, kind: JobKind, area: Area) -> Vec<usize> {
        p.jobs.iter().filter(|j| j.kind == kind && j.area == area).map(|j| j.urls.len()).collect()
    }

    #[test]
    fn the_api_s_batch_size_lowers_the_configured_one_and_a_reported_zero_is_ignored() {
        let c = cfg("[limits]\npurge_urls_batch = 100\n");
        let (t, changes) = few_of_many(120, false);
        let mut q = QuotaBook::documented_v3();
        let e = q.get(JobKind::PurgeUrls, Area::Mainland).unwrap();
        q.set(JobKind::PurgeUrls, Area::Mainland, QuotaEntry { batch: 0, ..e });
        q.set(JobKind::PurgeUrls, Area::Overseas, QuotaEntry { batch: 50, ..e });
        let p = make_plan(&input(&c, &changes, &t, &q, &[]));
        assert_eq!(sizes(&p, JobKind::PurgeUrls, Area::Mainland), [100, 20], "batch 0 from the API: the configured 100");
        assert_eq!(sizes(&p, JobKind::PurgeUrls, Area::Overseas), [50, 50, 20], "the API's 50 is smaller: it wins");
    }

    #[test]
    fn the_overseas_prefetch_limit_applies_to_overseas_prefetches_only() {
        let c = cfg("");
        let (t, changes) = few_of_many(30, true);
        let q = QuotaBook::documented_v3();
        let mut i = input(&c, &changes, &t, &q, &[]);
        i.overseas_prefetch_batch = Some(20);
        let p = make_plan(&i);
        // 30 index pages, each under its file URL and its folder URL: 60 prefetches.
        assert_eq!(sizes(&p, JobKind::PrefetchUrls, Area::Overseas), [20, 20, 20]);
        assert_eq!(sizes(&p, JobKind::PrefetchUrls, Area::Mainland), [60]);
        assert_eq!(sizes(&p, JobKind::PurgeUrls, Area::Overseas), [60], "purges keep their own batch (file and folder URL each)");
        assert_eq!(sizes(&p, JobKind::PurgeUrls, Area::Mainland), [60]);
    }
}
