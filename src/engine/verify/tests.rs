//! What `verify` checks: every URL of each target on each domain serving it, in its domain's
//! mode; URLs whose purge is still owed left out.

use super::*;
use crate::config::test_config;
use crate::model::Area;

fn target(path: &str, new: &str, old: Option<&str>) -> Target {
    Target {
        path: path.into(),
        expected: ContentHash::of(new.as_bytes()),
        previous: old.map(|o| ContentHash::of(o.as_bytes())),
        size: new.len() as u64,
    }
}

#[test]
fn every_url_of_every_serving_domain_in_its_mode() {
    let cfg = test_config(
        "scheme = \"http\"\n[[domain]]\nhost = \"static.example.com\"\ninclude = [\"**/*.css\"]\nbase_path = \"/s/\"\n\
         origin = \"http://127.0.0.1:9\"\nverify = \"etag\"\n",
    );
    let targets = [target("docs/index.html", "new", Some("old")), target("a.css", "css", None)];
    let got: Vec<(String, Mode, Option<ContentHash>, Option<u64>)> =
        items(&cfg, &targets).into_iter().map(|i| (i.url, i.mode, i.previous, i.size)).collect();
    let old = Some(ContentHash::of(b"old"));
    assert_eq!(
        got,
        [
            ("http://www.example.com/docs/index.html".to_string(), Mode::Hash, old, Some(3)),
            ("http://www.example.com/docs/".to_string(), Mode::Hash, old, Some(3)),
            ("http://www.example.com/a.css".to_string(), Mode::Hash, None, Some(3)),
            ("https://static.example.com/s/a.css".to_string(), Mode::Etag, None, Some(3)),
        ]
    );
    // A file served twice under one URL is checked once.
    assert_eq!(items(&cfg, &[target("a.css", "css", None), target("a.css", "css", None)]).len(), 2);
}

#[test]
fn urls_whose_purge_is_owed_are_left_out() {
    let cfg = test_config("");
    let targets = [target("a.html", "a", None), target("blog/b.html", "b", None), target("c.html", "c", None)];
    let mut url_job =
        Job::planned(JobKind::PurgeUrls, Area::Mainland, "www.example.com", vec!["https://www.example.com/a.html".into()], 0, 1);
    url_job.status = JobStatus::Deferred;
    let mut dir_job =
        Job::planned(JobKind::PurgePaths, Area::Overseas, "www.example.com", vec!["https://www.example.com/blog/".into()], 0, 2);
    dir_job.status = JobStatus::Failed;
    let prefetch =
        Job::planned(JobKind::PrefetchUrls, Area::Mainland, "www.example.com", vec!["https://www.example.com/c.html".into()], 0, 3);
    let (check, owed) = without_owed(items(&cfg, &targets), &[url_job, dir_job, prefetch]);
    assert_eq!(check.iter().map(|i| i.url.as_str()).collect::<Vec<_>>(), ["https://www.example.com/c.html"], "a prefetch owes no purge");
    assert_eq!(owed, ["https://www.example.com/a.html", "https://www.example.com/blog/b.html"]);
}
