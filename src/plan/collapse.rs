//! Replace URL purges by directory purges when that saves quota (`[limits] collapse = "auto"`).
//!
//! Directory purges are scarce (100 a day per area by default) and URL purges plentiful but
//! bounded (10,000 a day), so a directory is chosen only when:
//! - every file the domain serves changed (a whole-site rebuild): one purge of the root; or
//! - a directory holds at least [`SHARE_MIN_URLS`] owed URLs and at least [`SHARE_RATIO`] of its
//!   files changed: one directory purge replaces hundreds of URL purges, and purges few unchanged
//!   files; or
//! - the URL purges would not fit in today's URL quota: directories are chosen, best ratio of
//!   changed to total files first, until the rest fits (the root, as a last resort, always does).
//!
//! Directory purges are sent with `FlushType = flush`, which makes the CDN revalidate the cached
//! files under the directory, so the unchanged files it covers cost a conditional request each,
//! not a full refetch.

use std::collections::HashMap;

/// A directory qualifies for the share rule with at least this many owed URLs under it...
pub const SHARE_MIN_URLS: u64 = 200;
/// ...and at least this share of its files changed.
pub const SHARE_RATIO: f64 = 0.9;

/// What [`collapse`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collapsed {
    /// Directories to purge (publish-dir relative, no trailing slash, "" for the root).
    pub dirs: Vec<String>,
    /// Indices (into the `urls` argument) of URLs still purged one by one.
    pub kept: Vec<usize>,
}

fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(dir);
    std::iter::from_fn(move || {
        let cur = next?;
        next = if cur.is_empty() { None } else { Some(cur.rfind('/').map_or("", |i| &cur[..i])) };
        Some(cur)
    })
}

fn covers(dir: &str, container: &str) -> bool {
    dir.is_empty() || container == dir || (container.starts_with(dir) && container.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Per-directory file counts of one domain, shared by its areas.
#[derive(Debug, Default)]
pub struct DirCounts<'a> {
    /// Files served under each directory (recursively).
    total: HashMap<&'a str, u64>,
    /// Owed (changed) files under each directory.
    changed: HashMap<&'a str, u64>,
}

impl<'a> DirCounts<'a> {
    /// `changed_files`: the files whose URLs are owed; `served_files`: every file the domain
    /// serves (current and just removed), for the share of each directory that changed.
    pub fn new(changed_files: &[&'a str], served_files: impl Iterator<Item = &'a str>) -> Self {
        let total = count_under(served_files.map(parent));
        let mut unique = changed_files.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let changed = count_under(unique.into_iter().map(parent));
        DirCounts { total, changed }
    }
}

/// The directory of a file ("" for the root).
fn parent(file: &str) -> &str {
    file.rfind('/').map_or("", |i| &file[..i])
}

/// For each directory, how many of `dirs` are it or under it. Consecutive equal entries (the
/// files of one directory, in path order) are counted as a run: one map update per run and
/// ancestor, not per file.
fn count_under<'a>(dirs: impl Iterator<Item = &'a str>) -> HashMap<&'a str, u64> {
    let mut runs: HashMap<&str, u64> = HashMap::new();
    let mut run: Option<(&str, u64)> = None;
    for d in dirs {
        match &mut run {
            Some((cur, n)) if *cur == d => *n += 1,
            _ => {
                if let Some((cur, n)) = run.replace((d, 1)) {
                    *runs.entry(cur).or_default() += n;
                }
            }
        }
    }
    if let Some((cur, n)) = run {
        *runs.entry(cur).or_default() += n;
    }
    let mut under: HashMap<&str, u64> = HashMap::with_capacity(runs.len() * 2);
    for (d, n) in runs {
        for a in ancestors(d) {
            *under.entry(a).or_default() += n;
        }
    }
    under
}

/// Decide which URLs become directory purges.
///
/// - `counts`: the domain's [`DirCounts`];
/// - `urls`: each owed URL's container directory (see [`crate::plan::rules::UrlItem`]; `None`:
///   no directory purge of the site covers it, so it is always kept);
/// - `url_budget` / `path_budget`: what today's quotas leave for this domain;
/// - `everything`: treat the whole site as changed (`sync --all`).
pub fn collapse(counts: &DirCounts<'_>, urls: &[Option<&str>], url_budget: u64, path_budget: u64, everything: bool) -> Collapsed {
    collapse_with(counts, urls, url_budget, path_budget, everything, true)
}

/// The key of a domain and area in the count of whole-site purges (`[limits]
/// max_root_purges_per_day`).
pub fn root_key(host: &str, area: crate::model::Area) -> String {
    format!("{host}/{area}")
}

/// [`collapse`], where `allow_root` says whether the whole site (the root directory) may be
/// chosen: when today's whole-site purges are used up (`[limits] max_root_purges_per_day`) it may
/// not, and URLs that fit no smaller directory stay URL purges (the excess is deferred). An
/// explicit `everything` (`sync --all`) is not a surprise and is not limited.
pub fn collapse_with(
    counts: &DirCounts<'_>,
    urls: &[Option<&str>],
    url_budget: u64,
    path_budget: u64,
    everything: bool,
    allow_root: bool,
) -> Collapsed {
    let all_kept = || Collapsed { dirs: vec![], kept: (0..urls.len()).collect() };
    if urls.is_empty() || path_budget == 0 {
        return all_kept();
    }
    if everything {
        return Collapsed {
            dirs: vec![String::new()],
            kept: urls.iter().enumerate().filter(|(_, c)| c.is_none()).map(|(i, _)| i).collect(),
        };
    }
    let (total, ch_files) = (&counts.total, &counts.changed);
    let ch_urls = count_under(urls.iter().copied().flatten());
    let ratio = |d: &str| -> f64 {
        let t = total.get(d).copied().unwrap_or(0).max(ch_files.get(d).copied().unwrap_or(0)).max(1);
        ch_files.get(d).copied().unwrap_or(0) as f64 / t as f64
    };
    let mut selected: Vec<String> = Vec::new();
    let select = |selected: &mut Vec<String>, d: &str| {
        selected.retain(|s| !covers(d, s));
        selected.push(d.to_string());
    };
    let covered = |selected: &[String], c: &str| selected.iter().any(|d| covers(d, c));
    // The share rule: topmost directories first, so a qualifying parent wins over its children.
    let mut share: Vec<&str> = ch_urls
        .iter()
        .filter(|(d, n)| (allow_root || !d.is_empty()) && **n >= SHARE_MIN_URLS && ratio(d) >= SHARE_RATIO)
        .map(|(d, _)| *d)
        .collect();
    share.sort_by_key(|d| (d.matches('/').count() + usize::from(!d.is_empty()), std::cmp::Reverse(ch_urls[d]), *d));
    for d in share {
        if selected.len() as u64 >= path_budget {
            break;
        }
        if !covered(&selected, d) {
            select(&mut selected, d);
        }
    }
    // Selected directories never overlap (selecting one drops those under it), so the URLs left
    // are all but those under each.
    let remaining =
        |selected: &[String]| urls.len() as u64 - selected.iter().map(|s| ch_urls.get(s.as_str()).copied().unwrap_or(0)).sum::<u64>();
    if remaining(&selected) > url_budget {
        let mut cands: Vec<&str> = ch_urls.keys().copied().filter(|d| allow_root || !d.is_empty()).collect();
        // Best share first; among equals the one that saves most, then the narrowest (deepest).
        let depth = |d: &str| if d.is_empty() { 0 } else { d.matches('/').count() + 1 };
        cands.sort_by(|a, b| {
            ratio(b)
                .total_cmp(&ratio(a))
                .then(ch_urls[b].cmp(&ch_urls[a]))
                .then(total.get(a).cmp(&total.get(b)))
                .then(depth(b).cmp(&depth(a)))
                .then(a.cmp(b))
        });
        for d in cands {
            if remaining(&selected) <= url_budget {
                break;
            }
            if covered(&selected, d) {
                continue;
            }
            let freed = selected.iter().filter(|s| covers(d, s)).count() as u64;
            if selected.len() as u64 - freed + 1 > path_budget {
                continue;
            }
            select(&mut selected, d);
        }
        if remaining(&selected) > url_budget && allow_root {
            selected = vec![String::new()];
        }
    }
    selected.sort();
    // Many URLs share a container: decide each container once.
    let mut memo: HashMap<&str, bool> = HashMap::new();
    let kept = urls
        .iter()
        .enumerate()
        .filter(|(_, c)| match c {
            Some(c) => !*memo.entry(c).or_insert_with(|| covered(&selected, c)),
            None => true,
        })
        .map(|(i, _)| i)
        .collect();
    Collapsed { dirs: selected, kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}.html")).collect()
    }

    fn containers(fs: &[String]) -> Vec<String> {
        fs.iter().map(|f| f.rfind('/').map_or("", |i| &f[..i]).to_string()).collect()
    }

    fn run(changed: &[String], served: &[String], url_budget: u64, path_budget: u64, all: bool) -> Collapsed {
        let ch: Vec<&str> = changed.iter().map(String::as_str).collect();
        let cont = containers(changed);
        let urls: Vec<Option<&str>> = cont.iter().map(|c| Some(c.as_str())).collect();
        let counts = DirCounts::new(&ch, served.iter().map(String::as_str));
        collapse(&counts, &urls, url_budget, path_budget, all)
    }

    #[test]
    fn few_changes_stay_urls() {
        let served = files("blog/", 1000);
        let c = run(&served[..3], &served, 10_000, 100, false);
        assert_eq!(c.dirs, Vec::<String>::new());
        assert_eq!(c.kept, vec![0, 1, 2]);
    }

    #[test]
    fn whole_site_is_one_root_purge() {
        let served: Vec<String> = files("a/", 150).into_iter().chain(files("b/", 150)).collect();
        let c = run(&served, &served, 10_000, 100, false);
        assert_eq!((c.dirs, c.kept), (vec![String::new()], vec![]));
        let c = run(&served[..2], &served, 10_000, 100, true);
        assert_eq!(c.dirs, vec![String::new()]);
        // A small site that changed entirely stays URL purges: directory quota is scarcer.
        let small = files("a/", 20);
        let c = run(&small, &small, 10_000, 100, false);
        assert_eq!((c.dirs.len(), c.kept.len()), (0, 20));
    }

    #[test]
    fn share_rule_picks_mostly_changed_directory() {
        let mut served = files("docs/", 300);
        served.extend(files("blog/", 300));
        let mut changed = files("docs/", 295);
        changed.extend(files("blog/", 5));
        let c = run(&changed, &served, 10_000, 100, false);
        assert_eq!(c.dirs, vec!["docs".to_string()]);
        assert_eq!(c.kept.len(), 5, "the blog changes stay URL purges");
    }

    #[test]
    fn over_budget_collapses_until_it_fits() {
        let mut served = files("a/", 100);
        served.extend(files("b/", 100));
        served.extend(files("c/", 1000));
        let mut changed = files("a/", 100);
        changed.extend(files("b/", 60));
        changed.extend(files("c/", 10));
        let c = run(&changed, &served, 80, 100, false);
        assert_eq!(c.dirs, vec!["a".to_string()], "a is wholly changed, so it goes first");
        assert_eq!(c.kept.len(), 70);
        let c = run(&changed, &served, 5, 100, false);
        assert!(c.kept.len() <= 5, "{c:?}");
        // No directory quota: nothing collapses (the excess is deferred by the submitter).
        let c = run(&changed, &served, 5, 0, false);
        assert_eq!(c.kept.len(), changed.len());
        // Directory quota of one: the root is the only choice that fits.
        let c = run(&changed, &served, 5, 1, false);
        assert_eq!(c.dirs, vec![String::new()]);
    }

    #[test]
    fn without_root_purges_left_the_whole_site_is_never_chosen() {
        let served: Vec<String> = files("a/", 250).into_iter().chain(files("b/", 250)).chain(files("", 10)).collect();
        // Everything changed: the share rule would pick the root...
        let c = run(&served, &served, 10_000, 100, false);
        assert_eq!(c.dirs, vec![String::new()]);
        // ...without it, the two folders instead, and the top-level files stay URLs.
        let ch: Vec<&str> = served.iter().map(String::as_str).collect();
        let cont = containers(&served);
        let urls: Vec<Option<&str>> = cont.iter().map(|c| Some(c.as_str())).collect();
        let counts = DirCounts::new(&ch, served.iter().map(String::as_str));
        let c = collapse_with(&counts, &urls, 10_000, 100, false, false);
        assert_eq!(c.dirs, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(c.kept.len(), 10);
        // Over budget with one directory purge left: the root would be the last resort; not now.
        let c = collapse_with(&counts, &urls, 5, 1, false, false);
        assert!(!c.dirs.contains(&String::new()), "{c:?}");
        // `sync --all` is explicit, and not limited.
        assert_eq!(collapse_with(&counts, &urls, 10_000, 100, true, false).dirs, vec![String::new()]);
    }

    #[test]
    fn covers_is_prefix_by_segment() {
        assert!(covers("", "x"));
        assert!(covers("a", "a") && covers("a", "a/b"));
        assert!(!covers("a", "ab") && !covers("a/b", "a"));
    }
}
