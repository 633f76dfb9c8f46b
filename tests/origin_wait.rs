//! `[[domain]] origin`: a sync purges nothing until the origin (a plain fake origin on 127.0.0.1)
//! serves the new bytes; what is still old when `origin_wait_secs` runs out stays owed in the
//! outbox and goes out on a later sync — never dropped.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use cdnsync::clock::{Clock, SystemClock};
use cdnsync::fake::edge::{EdgeConfig, FakeEdge};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A deployed site (baseline recorded) whose origin, a folder of its own, holds the same files.
fn site_with_origin(fake: &cdnsync::fake::FakeCdn, wait_secs: u64) -> (TempSite, FakeEdge, tempfile::TempDir) {
    let origin_dir = tempfile::tempdir().unwrap();
    let origin = FakeEdge::start(EdgeConfig::origin(origin_dir.path())).unwrap();
    let site = TempSite::new(fake, "", &format!("origin = \"{}\"\norigin_wait_secs = {wait_secs}\n", origin.url()));
    site.write("index.html", "<p>v1</p>");
    site.write("a.html", "a v1");
    site.write("css/b.css", "b v1");
    copy_tree(&site.public(), origin_dir.path());
    site.run(&["sync"]).expect(0);
    assert!(origin.requests().is_empty(), "a baseline purges nothing, so it waits for nothing");
    site.write("index.html", "<p>v2</p>");
    site.write("a.html", "a v2");
    site.write("css/b.css", "b v2");
    (site, origin, origin_dir)
}

fn url(rel: &str) -> String {
    format!("https://www.example.com/{rel}")
}

fn all_urls() -> BTreeSet<String> {
    set(["", "index.html", "a.html", "css/b.css"].map(url))
}

fn purged(fake: &cdnsync::fake::FakeCdn, area: Area) -> BTreeSet<String> {
    fake.urls(JobKind::PurgeUrls, area)
}

#[test]
fn no_purge_before_the_origin_has_the_bytes_and_all_after() {
    let fake = fake();
    let (site, origin, origin_dir) = site_with_origin(&fake, 30);
    let running = site.spawn(&["sync"], &[]);
    sleep(Duration::from_secs(2));
    assert!(fake.accepted().is_empty(), "purged before the origin had the new bytes: {:?}", fake.accepted());
    let seen_before = origin.requests().len();
    assert!(seen_before >= 4, "the origin was asked for every changed URL while it was old: {:?}", origin.requests());
    let copied_ms = SystemClock.now_ms();
    copy_tree(&site.public(), origin_dir.path());
    let (code, stderr) = running.finish_within(60);
    assert_eq!(code, 0, "{stderr}");
    let accepted = fake.accepted();
    assert!(!accepted.is_empty());
    for a in &accepted {
        assert!(a.at_ms >= copied_ms, "{} accepted {} ms before the origin had the bytes", a.action, copied_ms - a.at_ms);
    }
    assert_eq!(purged(&fake, Area::Mainland), all_urls());
    assert_eq!(purged(&fake, Area::Overseas), all_urls());
    assert_eq!(fake.urls(JobKind::PrefetchUrls, Area::Mainland), set([url(""), url("index.html")]), "prefetched after the wait too");
    // The origin was asked as the CDN would: by cdnsync, for the domain, from 127.0.0.1 only.
    for r in origin.requests() {
        assert_eq!((r.peer, r.host.as_str(), r.method.as_str()), (IpAddr::from([127, 0, 0, 1]), "www.example.com", "GET"), "{r:?}");
        assert!(r.user_agent.as_deref().is_some_and(|u| u.starts_with("cdnsync/")));
    }
    assert!(origin.requests().len() > seen_before);
    assert!(site.state().join("outbox").read_dir().map_or(true, |mut d| d.next().is_none()), "nothing owed");
}

#[test]
fn what_the_origin_lacks_at_the_deadline_stays_owed_and_goes_out_later() {
    let fake = fake();
    let (site, origin, origin_dir) = site_with_origin(&fake, 1);
    // Only a.html reached the origin in time.
    std::fs::copy(site.public().join("a.html"), origin_dir.path().join("a.html")).unwrap();
    let first = site.run(&["--json", "sync"]);
    first.expect(1);
    let r = first.json();
    assert_eq!(purged(&fake, Area::Mainland), set([url("a.html")]), "the ready URL went at once");
    let held: Vec<&serde_json::Value> = r["jobs"].as_array().unwrap().iter().filter(|j| j["status"] == "pending").collect();
    assert!(!held.is_empty(), "{}", first.stdout);
    let mut held_urls = BTreeSet::new();
    for j in &held {
        assert_eq!(j["error"]["code"], "OriginNotReady", "{j}");
        assert!(j["error"]["message"].as_str().unwrap().contains("origin still serves other bytes"), "{j}");
        held_urls.extend(j["urls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()));
    }
    let mut rest = all_urls();
    rest.remove(&url("a.html"));
    assert!(held_urls.is_superset(&rest), "held {held_urls:?}");
    assert!(first.stderr.contains("held back"), "{}", first.stderr);
    assert!(r["outbox"]["pending"].as_u64().unwrap() >= 2, "{}", first.stdout);
    // Owed, on disk: a status shows them, and a sync while the origin is still old sends nothing.
    let status = site.run(&["--json", "status"]);
    assert!(status.json()["jobs"].as_array().unwrap().iter().all(|j| j["error"]["code"] == "OriginNotReady"), "{}", status.stdout);
    site.run(&["sync"]).expect(1);
    assert_eq!(purged(&fake, Area::Mainland), set([url("a.html")]));
    // The origin catches up: the next sync sends every held URL, once.
    copy_tree(&site.public(), origin_dir.path());
    let before = fake.accepted().len();
    site.run(&["sync"]).expect(0);
    assert_eq!(purged(&fake, Area::Mainland), all_urls());
    assert_eq!(purged(&fake, Area::Overseas), all_urls());
    let again: Vec<String> =
        fake.accepted()[before..].iter().filter(|a| a.kind == JobKind::PurgeUrls).flat_map(|a| a.urls.clone()).collect();
    assert!(!again.contains(&url("a.html")), "a.html went out once: {again:?}");
    assert!(site.state().join("outbox").read_dir().map_or(true, |mut d| d.next().is_none()), "nothing owed");
    drop(origin);
}
