//! A sync that finds no manifest (`docs/config.md`, `if_no_state`): a first deploy, or a CI runner
//! whose cached state directory is gone. Which rule applies and why, the whole-site plan of
//! `purge_all`, and what the run says about it.

use std::collections::BTreeMap;

use crate::config::{Config, NoStateRule};
use crate::error::Error;
use crate::model::{Area, Job, JobKind, QuotaBook};
use crate::plan::{rules::Rules, Plan};

use super::SyncOptions;

/// The rule for a run that found no manifest, and where it comes from: the command line's
/// `--if-no-state`, else the config's `if_no_state`, else the default (`purge_all` under CI).
pub(super) fn rule(config: &Config, opts: &SyncOptions) -> (NoStateRule, String) {
    match opts.if_no_state {
        Some(r) => (r, format!("--if-no-state={} on the command line", r.as_str())),
        None => (config.if_no_state.rule, config.if_no_state.why.clone()),
    }
}

/// `purge_all`: one directory purge of each domain's root (its `base_path`) in each of its areas.
/// Under EdgeOne a site at `/` goes out as `purge_host` of the domain. Nothing is prefetched: what
/// changed is not known.
pub(super) fn whole_site_plan(config: &Config, owed: &[Job], quota: &QuotaBook, now_unix: i64) -> Plan {
    let rules = Rules::new(&config.domains);
    let mut plan = Plan::default();
    let mut seq = 0;
    for (d, dom) in config.domains.iter().enumerate() {
        let root = rules.dir_url(d, "");
        for &area in &dom.areas {
            let owed_already = owed.iter().any(|j| j.kind == JobKind::PurgePaths && j.area == area && j.urls.contains(&root));
            if owed_already {
                continue;
            }
            seq += 1;
            *plan.quota_used.entry(QuotaBook::key(JobKind::PurgePaths, area)).or_default() += 1;
            plan.jobs.push(Job::planned(JobKind::PurgePaths, area, &dom.host, vec![root.clone()], now_unix, seq));
        }
    }
    plan.quota_before = quota_left(config, owed, quota);
    plan
}

/// Directory-purge quota left per area once the owed jobs are sent.
fn quota_left(config: &Config, owed: &[Job], quota: &QuotaBook) -> BTreeMap<String, u64> {
    let mut areas: Vec<Area> = config.domains.iter().flat_map(|d| d.areas.iter().copied()).collect();
    areas.sort();
    areas.dedup();
    areas
        .into_iter()
        .map(|area| {
            let avail = quota.get(JobKind::PurgePaths, area).map_or(u64::MAX, |q| q.available);
            let owed: u64 = owed.iter().filter(|j| j.kind == JobKind::PurgePaths && j.area == area).map(Job::cost).sum();
            (QuotaBook::key(JobKind::PurgePaths, area), avail.saturating_sub(owed))
        })
        .collect()
}

/// What the run says about the rule it applied (`plan` says what `sync` would do).
pub(super) fn note(rule: NoStateRule, why: &str, planning: bool, manifest_url: Option<&str>) -> String {
    let found = match (planning, manifest_url) {
        (true, Some(url)) => format!("no local manifest, and `plan` does not fetch {url} (no network); if `sync` finds none there either"),
        (true, None) => "no manifest yet".to_string(),
        (false, Some(_)) => "no manifest, here or published".to_string(),
        (false, None) => "no manifest yet".to_string(),
    };
    let what = match (rule, planning) {
        (NoStateRule::Baseline, true) => "the first sync records a baseline and purges nothing (--all purges everything)",
        (NoStateRule::Baseline, false) => {
            "first sync: baseline recorded, nothing purged (the next sync purges what changes; --all purges everything)"
        }
        (NoStateRule::PurgeAll, true) => "`sync` purges each domain's root once per area and records the tree",
        (NoStateRule::PurgeAll, false) => "purged each domain's root once per area (what changed is unknown) and recorded the tree",
        (NoStateRule::Fail, true) => "`sync` stops with exit code 2 and does nothing",
        (NoStateRule::Fail, false) => "stopped",
    };
    format!("{found}: rule {} ({why}): {what}", rule.as_str())
}

/// The error of `fail`.
pub(super) fn fail(config: &Config, why: String) -> Error {
    Error::NoState { state_dir: config.state_dir.clone(), why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn whole_site_plan_is_one_root_purge_per_domain_and_area_not_owed_twice() {
        let c = test_config("base_path = \"/blog/\"\n[[domain]]\nhost = \"static.example.org\"\nareas = [\"mainland\"]\n");
        let q = QuotaBook::documented_v3();
        let p = whole_site_plan(&c, &[], &q, 1_700_000_000);
        let got: Vec<(JobKind, Area, &str, Vec<String>)> =
            p.jobs.iter().map(|j| (j.kind, j.area, j.host.as_str(), j.urls.clone())).collect();
        let root = |u: &str| vec![u.to_string()];
        assert_eq!(
            got,
            vec![
                (JobKind::PurgePaths, Area::Mainland, "www.example.com", root("https://www.example.com/blog/")),
                (JobKind::PurgePaths, Area::Overseas, "www.example.com", root("https://www.example.com/blog/")),
                (JobKind::PurgePaths, Area::Mainland, "static.example.org", root("https://static.example.org/")),
            ]
        );
        assert_eq!(p.quota_used["purge_paths/mainland"], 2);
        assert_eq!(p.quota_before["purge_paths/mainland"], 100);
        // A root purge already owed is not planned again, and its cost is reserved.
        let owed = vec![p.jobs[0].clone()];
        let again = whole_site_plan(&c, &owed, &q, 1_700_000_001);
        assert_eq!(again.jobs.len(), 2);
        assert_eq!(again.quota_before["purge_paths/mainland"], 99);
    }

    #[test]
    fn the_rule_comes_from_the_flag_then_the_config() {
        let c = test_config("");
        let (r, why) = rule(&c, &SyncOptions::default());
        assert_eq!((r, why.as_str()), (NoStateRule::Baseline, "the default outside CI"));
        let opts = SyncOptions { if_no_state: Some(NoStateRule::Fail), ..Default::default() };
        let (r, why) = rule(&c, &opts);
        assert_eq!((r, why.as_str()), (NoStateRule::Fail, "--if-no-state=fail on the command line"));
        let n = note(NoStateRule::PurgeAll, "the default under CI (CI=\"true\" in the environment)", false, None);
        assert!(n.starts_with("no manifest yet: rule purge_all (the default under CI"), "{n}");
    }
}
