//! `cdnsync verify` and `sync --verify` through the real binary, against the fake API and the
//! fake edge (a CDN cache over the publish dir that only purges clear), both on 127.0.0.1:
//! fresh after a normal deploy, stale after a purge that beat the origin (and `--repurge` fixing
//! it), different for a wrong `base_path`. Every request the edge answered came from 127.0.0.1,
//! named cdnsync and asked for the bytes as deployed; every URL checked was answered by the edge.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cdnsync::clock::{Clock, SystemClock};
use cdnsync::fake::edge::{EdgeConfig, FakeEdge};
use cdnsync::fake::FakeCdn;

use crate::util::*;

struct EdgeSite {
    site: TempSite,
    fake: Arc<FakeCdn>,
    edge: FakeEdge,
}

/// A site on plain http (the fake edge speaks no TLS) whose verify requests go to an edge
/// serving `edge_root(site)` (default: the publish dir, at `/`).
fn edge_site(edge_root: impl FnOnce(&TempSite) -> std::path::PathBuf) -> EdgeSite {
    let fake = Arc::new(fake());
    let site = TempSite::new(&fake, "", "scheme = \"http\"\n");
    let edge = FakeEdge::start(EdgeConfig::new(edge_root(&site)).with_cdn(fake.clone())).unwrap();
    site.append_config(&format!("[verify]\nconnect_to = \"{}\"\n", edge.addr()));
    EdgeSite { site, fake, edge }
}

fn url(rel: &str) -> String {
    format!("http://www.example.com/{rel}")
}

/// `(url, result)` of a verify JSON, sorted.
fn results(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut r: Vec<(String, String)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["url"].as_str().unwrap().to_string(), r["result"].as_str().unwrap().to_string()))
        .collect();
    r.sort();
    r
}

/// Every request the edge saw came from loopback, from cdnsync, asking for identity bytes.
#[track_caller]
fn only_loopback_and_honest(edge: &FakeEdge) {
    let reqs = edge.requests();
    assert!(!reqs.is_empty());
    for r in reqs {
        assert_eq!(r.peer, IpAddr::from([127, 0, 0, 1]), "{r:?}");
        assert!(r.user_agent.as_deref().is_some_and(|u| u.starts_with("cdnsync/")), "{r:?}");
        assert_eq!(r.accept_encoding.as_deref(), Some("identity"), "{r:?}");
    }
}

/// Three files deployed once (a baseline), then seen by visitors (the edge caches them).
fn deployed_and_cached(s: &EdgeSite) {
    s.site.write("index.html", "<!doctype html><p>v1</p>");
    s.site.write("a.html", "<!doctype html><p>a v1</p>");
    s.site.write("css/site.css", "body { color: red }\n");
    s.site.run(&["sync"]).expect(0);
    // Every tracked URL asked once: the edge caches each (and verify finds the baseline fresh).
    let warm = s.site.run(&["--json", "verify", "--all-tracked"]);
    warm.expect(0);
    assert_eq!(warm.json()["fresh"], 4, "{}", warm.stdout);
    assert_eq!(s.edge.cached().len(), 4);
}

fn second_deploy(s: &EdgeSite) {
    s.site.write("index.html", "<!doctype html><p>v2</p>");
    s.site.write("a.html", "<!doctype html><p>a v2, longer</p>");
    s.site.write("css/site.css", "body { color: blue }\n");
}

const CHANGED: [&str; 4] = ["", "a.html", "css/site.css", "index.html"];

#[test]
fn all_fresh_after_a_normal_deploy() {
    let s = edge_site(|site| site.public());
    deployed_and_cached(&s);
    second_deploy(&s);
    let before = s.edge.requests().len();
    let out = s.site.run(&["--json", "sync", "--verify"]);
    out.expect(0);
    let v = &out.json()["verify"];
    assert_eq!(v["source"], "last_deploy");
    let want: Vec<(String, String)> = CHANGED.iter().map(|p| (url(p), "fresh".to_string())).collect();
    assert_eq!(results(v), want, "{}", out.stdout);
    assert_eq!((v["checked"].as_u64(), v["stale"].as_u64(), v["errors"].as_u64()), (Some(4), Some(0), Some(0)));
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["status"] == 200 && r["mode"] == "hash"));
    assert!(out.stderr.contains("verified 4 URL(s) of the deploy of"), "{}", out.stderr);
    // Each URL checked was one GET the edge answered (from its cache, refilled after the purge).
    let verify_gets: Vec<_> = s.edge.requests()[before..].iter().filter(|r| r.method == "GET").cloned().collect();
    assert_eq!(verify_gets.len(), 4, "{verify_gets:?}");
    assert!(verify_gets.iter().all(|r| r.cache == "hit"), "{verify_gets:?}");
    only_loopback_and_honest(&s.edge);
    // `verify` alone checks the same deploy, and says so.
    let again = s.site.run(&["--json", "verify"]);
    again.expect(0);
    assert_eq!(results(&again.json()), want);
}

#[test]
fn stale_after_a_purge_that_beat_the_origin_and_repurge_fixes_it() {
    let s = edge_site(|site| site.public());
    deployed_and_cached(&s);
    // The origin lags the deploy: for 5 s it still serves the old bytes, and the purge lands in
    // that window, so the edge (asked again at once, a busy site) re-caches the old bytes.
    let lag = Duration::from_secs(5);
    let lag_until = SystemClock.now_ms() + lag.as_millis() as i64;
    s.edge.lag_origin(None, lag).unwrap();
    second_deploy(&s);
    s.site.run(&["sync"]).expect(0);
    assert!(SystemClock.now_ms() < lag_until, "the sync took longer than the lag: the test proves nothing");
    let out = s.site.run(&["--json", "verify"]);
    out.expect(6);
    let v = out.json();
    let stale: Vec<(String, String)> = CHANGED.iter().map(|p| (url(p), "stale".to_string())).collect();
    assert_eq!(results(&v), stale, "{}", out.stdout);
    assert!(out.stderr.contains("--repurge"), "the human text says what to do: {}", out.stderr);
    // Once the origin has the bytes, --repurge purges the stale URLs once more and checks again.
    while SystemClock.now_ms() < lag_until + 200 {
        sleep(Duration::from_millis(100));
    }
    let purges_before = s.fake.accepted().len();
    let fixed = s.site.run(&["--json", "verify", "--repurge"]);
    fixed.expect(0);
    let v = fixed.json();
    let fresh: Vec<(String, String)> = CHANGED.iter().map(|p| (url(p), "fresh".to_string())).collect();
    assert_eq!(results(&v), fresh, "{}", fixed.stdout);
    let mut repurged: Vec<String> = v["repurged"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect();
    repurged.sort();
    assert_eq!(repurged, CHANGED.iter().map(|p| url(p)).collect::<Vec<_>>());
    assert!(v["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "accepted" && j["kind"] == "purge_urls"), "{}", fixed.stdout);
    let sent: Vec<String> = s.fake.accepted()[purges_before..].iter().flat_map(|a| a.urls.clone()).collect();
    assert_eq!(set(sent), set(repurged), "exactly the stale URLs were purged again");
    // Nothing is left owed, and a plain verify agrees.
    assert!(s.site.state().join("outbox").read_dir().map_or(true, |mut d| d.next().is_none()));
    s.site.run(&["verify"]).expect(0);
    only_loopback_and_honest(&s.edge);
}

#[test]
fn a_wrong_base_path_is_different_or_missing() {
    // The CDN serves the web root, where publish_dir is the folder `public/`: the right base_path
    // is "/public/", the config says "/". The root has a style.css of its own.
    let s = edge_site(|site| site.dir.clone());
    std::fs::write(s.site.dir.join("style.css"), "h1 { margin: 0 }\n").unwrap();
    s.site.write("style.css", "body { color: red }\n");
    s.site.write("app.js", "let a = 1;\n");
    s.site.run(&["sync"]).expect(0);
    s.site.write("style.css", "body { color: blue }\n");
    s.site.write("app.js", "let a = 2;\n");
    s.site.run(&["sync"]).expect(0);
    let out = s.site.run(&["--json", "verify"]);
    out.expect(6);
    let v = out.json();
    assert_eq!(results(&v), [(url("app.js"), "error".to_string()), (url("style.css"), "different".to_string())], "{}", out.stdout);
    let by_url = |u: &str| v["results"].as_array().unwrap().iter().find(|r| r["url"] == u).unwrap().clone();
    let css = by_url(&url("style.css"));
    assert_eq!(css["reasons"][0]["code"], "size", "{css}");
    assert!(css["message"].is_null());
    let js = by_url(&url("app.js"));
    assert_eq!(js["status"], 404);
    assert!(js["message"].as_str().unwrap().contains("base_path"), "{js}");
    assert_eq!(js["reasons"], serde_json::json!([]));
    assert!(out.stderr.contains("different") && out.stderr.contains("bytes served"), "{}", out.stderr);
    only_loopback_and_honest(&s.edge);
}

#[test]
fn nothing_recorded_is_a_usage_error_and_sample_needs_all_tracked() {
    let s = edge_site(|site| site.public());
    s.site.write("a.html", "a");
    let none = s.site.run(&["verify"]);
    none.expect(2);
    assert!(none.stderr.contains("no deploy recorded"), "{}", none.stderr);
    s.site.run(&["sync"]).expect(0);
    // A baseline purged nothing: still nothing to verify, but every tracked file can be.
    s.site.run(&["verify"]).expect(2);
    let sample = s.site.run(&["--json", "verify", "--all-tracked", "--sample", "1"]);
    sample.expect(0);
    assert_eq!(sample.json()["checked"], 1);
    s.site.run(&["verify", "--sample", "1"]).expect(2);
    // A damaged record is an error naming it, not a guess.
    s.site.write("a.html", "a2");
    s.site.run(&["sync"]).expect(0);
    std::fs::write(s.site.state().join("last-deploy.json"), "{\"version\": 1, \"fi").unwrap();
    let damaged = s.site.run(&["verify"]);
    damaged.expect(1);
    assert!(damaged.stderr.contains("last-deploy.json") && damaged.stderr.contains("damaged"), "{}", damaged.stderr);
}

#[test]
fn a_cdn_that_rewrites_bodies_is_explained_and_etag_mode_sees_through_it() {
    let s = edge_site(|site| site.public());
    // The CDN "compresses" whatever the client asks for, and weakens the origin's ETag.
    s.edge.set_transform(cdnsync::fake::edge::Transform::FakeGzip);
    s.site.write("a.html", "<!doctype html><p>a v1</p>");
    s.site.run(&["sync"]).expect(0);
    s.site.write("a.html", "<!doctype html><p>a v2</p>");
    s.site.run(&["sync"]).expect(0);
    let out = s.site.run(&["--json", "verify"]);
    out.expect(6);
    let r = &out.json()["results"][0];
    assert_eq!((r["result"].as_str(), r["mode"].as_str()), (Some("different"), Some("hash")), "{r}");
    let codes: Vec<&str> = r["reasons"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"content_encoding"), "{r}");
    // verify = "etag": the CDN's ETag against the origin's for the same file.
    let origin = FakeEdge::start(EdgeConfig::origin(s.site.public())).unwrap();
    s.site.edit_config(
        "scheme = \"http\"\n",
        &format!("scheme = \"http\"\nverify = \"etag\"\norigin = \"{}\"\norigin_wait_secs = 5\n", origin.url()),
    );
    let out = s.site.run(&["--json", "verify"]);
    out.expect(0);
    let r = &out.json()["results"][0];
    assert_eq!((r["result"].as_str(), r["mode"].as_str()), (Some("fresh"), Some("etag")), "{}", out.stdout);
    let heads: Vec<_> = s.edge.requests().into_iter().filter(|r| r.method == "HEAD").collect();
    assert_eq!(heads.len(), 1, "etag mode needs no body: {heads:?}");
    let asked: Vec<_> = origin.requests().into_iter().map(|r| (r.method, r.host, r.target)).collect();
    assert_eq!(asked, [("HEAD".to_string(), "www.example.com".to_string(), "/a.html".to_string())]);
    only_loopback_and_honest(&s.edge);
}
