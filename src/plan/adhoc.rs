//! `cdnsync purge` / `cdnsync prefetch` arguments -> jobs, pure.
//!
//! An argument is either a full `http(s)://` URL, or a path inside `publish_dir` mapped through
//! the domain rules (every URL each serving domain has for it). URLs are sent as given (they are
//! what visitors request); a host that no `[[domain]]` names is refused unless `any_host` (one
//! refused job would otherwise sit in the outbox as failed), and so is a `..` segment, which a
//! CDN cache key never contains.

use std::collections::BTreeMap;

use crate::config::{Domain, Limits};
use crate::error::{Error, Result};
use crate::model::{Area, Job, JobKind};
use crate::plan::batches;
use crate::plan::rules::Rules;

/// What the user asked for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Purge or prefetch (`dir` turns a purge into a directory purge).
    pub kind: JobKind,
    /// The arguments: URLs or publish-dir paths.
    pub targets: &'a [String],
    /// Directory purge.
    pub dir: bool,
    /// Only this area (default: each domain's areas).
    pub area: Option<Area>,
    /// Allow URLs whose host is in no `[[domain]]`.
    pub any_host: bool,
    /// Then poll the accepted tasks until they finish, at most this long (`--wait`).
    pub wait: Option<std::time::Duration>,
}

/// The jobs for `req`, cut into batches no larger than `limits` allow.
pub fn jobs(domains: &[Domain], limits: &Limits, req: &Request, now_unix: i64) -> Result<Vec<Job>> {
    let rules = Rules::new(domains);
    // (host, areas, url)
    let mut items: Vec<(String, Vec<Area>, String)> = Vec::new();
    for a in req.targets {
        if a.starts_with("http://") || a.starts_with("https://") {
            let (host, url) = full_url(a, req.dir)?;
            let areas = match domains.iter().find(|d| d.host == host) {
                Some(d) => d.areas.clone(),
                // The first domain's areas when they are EdgeOne's one `global`, else mainland.
                None if req.any_host => {
                    domains.first().filter(|d| d.areas == [Area::Global]).map_or(vec![Area::Mainland], |d| d.areas.clone())
                }
                None => {
                    let known: Vec<&str> = domains.iter().map(|d| d.host.as_str()).collect();
                    return Err(Error::Usage(format!(
                        "{a}: host {host} is in no [[domain]] (configured: {}); nothing was sent. Use --any-host to purge it anyway",
                        known.join(", ")
                    )));
                }
            };
            items.push((host, areas, url));
        } else {
            let path = a.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
            if path.split('/').any(|seg| seg == "..") {
                return Err(Error::Usage(format!("{a}: a path inside publish_dir cannot contain \"..\"")));
            }
            let mut matched = false;
            for (d, dom) in domains.iter().enumerate() {
                if req.dir {
                    matched = true;
                    items.push((dom.host.clone(), dom.areas.clone(), rules.dir_url(d, path)));
                } else if rules.serves(d, path) {
                    matched = true;
                    for it in rules.urls(d, path) {
                        items.push((dom.host.clone(), dom.areas.clone(), it.url));
                    }
                }
            }
            if !matched {
                return Err(Error::Usage(format!("{a}: no [[domain]] serves this path (check include/exclude)")));
            }
        }
    }
    let kind = if req.dir { JobKind::PurgePaths } else { req.kind };
    let mut groups: BTreeMap<(String, Area), Vec<String>> = BTreeMap::new();
    for (host, areas, url) in items {
        let areas = match req.area {
            Some(a) => vec![a],
            None => areas,
        };
        for a in areas {
            let g = groups.entry((host.clone(), a)).or_default();
            if !g.contains(&url) {
                g.push(url.clone());
            }
        }
    }
    let mut jobs = Vec::new();
    for ((host, a), urls) in groups {
        for b in batches(urls, limits.batch(kind)) {
            jobs.push(Job::planned(kind, a, &host, b, now_unix, jobs.len() + 1));
        }
    }
    Ok(jobs)
}

/// The host (lower case) of a full URL argument, and the URL to send (a directory purge's URL
/// ends in `/`).
fn full_url(arg: &str, dir: bool) -> Result<(String, String)> {
    let bad = |why: &str| Error::Usage(format!("{arg}: {why}"));
    let parsed = url::Url::parse(arg).map_err(|e| bad(&format!("not a valid URL ({e})")))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(_) => return Err(bad("an IP address is not a CDN domain")),
        None => return Err(bad("not a URL with a host")),
    };
    // The URL parser resolves dot segments; the argument as typed must not have any.
    let path = arg.split("://").nth(1).and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.split('/').any(|seg| seg == ".." || seg == "." || seg.eq_ignore_ascii_case("%2e%2e")) {
        return Err(bad("a URL with \"..\" or \".\" segments is never a cache key; give the path it resolves to"));
    }
    let mut url = arg.to_string();
    if dir && !url.ends_with('/') {
        url.push('/');
    }
    Ok((host, url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    /// (kind, area, host, URLs) of each job.
    type Row = (JobKind, Area, String, Vec<String>);

    fn run(req: Request) -> Result<Vec<Row>> {
        let c = test_config("prefetch = [\"**/index.html\"]\n");
        let jobs = jobs(&c.domains, &c.limits, &req, 1_700_000_000)?;
        Ok(jobs.into_iter().map(|j| (j.kind, j.area, j.host, j.urls)).collect())
    }

    fn req<'a>(targets: &'a [String]) -> Request<'a> {
        Request { kind: JobKind::PurgeUrls, targets, dir: false, area: None, any_host: false, wait: None }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_and_urls_become_jobs_per_domain_and_area() {
        let t = strings(&["docs/index.html", "https://WWW.example.com/x.png", "./docs/index.html"]);
        let got = run(req(&t)).unwrap();
        let urls = strings(&["https://www.example.com/docs/index.html", "https://www.example.com/docs/", "https://WWW.example.com/x.png"]);
        assert_eq!(
            got,
            vec![
                (JobKind::PurgeUrls, Area::Mainland, "www.example.com".to_string(), urls.clone()),
                (JobKind::PurgeUrls, Area::Overseas, "www.example.com".to_string(), urls),
            ]
        );
        let dirs = run(Request { dir: true, area: Some(Area::Overseas), ..req(&strings(&["blog", "https://www.example.com/a"])) });
        assert_eq!(
            dirs.unwrap(),
            vec![(
                JobKind::PurgePaths,
                Area::Overseas,
                "www.example.com".into(),
                strings(&["https://www.example.com/blog/", "https://www.example.com/a/"])
            )]
        );
    }

    #[test]
    fn refuses_what_cannot_be_a_cache_key_or_is_not_ours() {
        for (arg, words) in [
            ("https://other.example.org/a.html", "in no [[domain]]"),
            ("https://www.example.com/a/../b.html", "\"..\""),
            ("https://www.example.com/%2E%2E/etc/passwd", "\"..\""),
            ("../../etc/passwd", "\"..\""),
            ("https:///nohost", "host"),
            ("https://127.0.0.1/a", "IP address"),
            ("no/such/dir/../x", "\"..\""),
        ] {
            let err = run(req(&strings(&[arg]))).unwrap_err().to_string();
            assert!(err.contains(words), "{arg}: {err}");
        }
        let err = run(req(&strings(&["https://other.example.org/a.html"]))).unwrap_err().to_string();
        assert!(err.contains("www.example.com") && err.contains("--any-host"), "names the configured hosts: {err}");
        let any = run(Request { any_host: true, ..req(&strings(&["https://other.example.org/a.html"])) }).unwrap();
        assert_eq!(any[0].2, "other.example.org");
    }
}
