//! The fake edge: cache, purges (URL, directory, area, delay, prefetch), lag, transforms, the
//! request log and hostile paths, asked over plain TCP so no client library's habits help.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;

struct Site {
    tmp: tempfile::TempDir,
    jobs: Arc<Mutex<Vec<AcceptedJob>>>,
    clock: ManualClock,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        Site { tmp, jobs: Arc::default(), clock: ManualClock::new(1_800_000_000_000) }
    }

    fn write(&self, rel: &str, body: &str) {
        let p = self.tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn config(&self) -> EdgeConfig {
        let jobs = self.jobs.clone();
        EdgeConfig {
            purges: Some(Arc::new(move || jobs.lock().unwrap().clone())),
            clock: Arc::new(self.clock.clone()),
            ..EdgeConfig::new(self.tmp.path())
        }
    }

    fn accept(&self, kind: JobKind, areas: &[Area], urls: &[&str]) {
        let mut jobs = self.jobs.lock().unwrap();
        let n = jobs.len();
        jobs.push(AcceptedJob {
            api: "v3",
            action: "PurgeUrlsCache".into(),
            kind,
            areas: areas.to_vec(),
            urls: urls.iter().map(|u| u.to_string()).collect(),
            task_id: format!("task-{n}"),
            at_ms: self.clock.now_ms(),
        });
    }
}

/// (status, lower-case headers, body) of one request over a fresh connection.
fn ask(edge: &FakeEdge, method: &str, host: &str, target: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = std::net::TcpStream::connect(edge.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: edge-test\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    (status, headers, body.to_string())
}

fn get(edge: &FakeEdge, path: &str) -> (u16, String) {
    let (s, _, b) = ask(edge, "GET", "www.example.com", path);
    (s, b)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn serves_from_a_cache_that_only_a_purge_clears() {
    let site = Site::new();
    site.write("a.html", "v1");
    site.write("css/site.css", "c1");
    let edge = FakeEdge::start(site.config()).unwrap();
    assert_eq!(get(&edge, "/a.html"), (200, "v1".into()));
    assert_eq!(get(&edge, "/css/site.css"), (200, "c1".into()));
    site.write("a.html", "v2");
    site.write("css/site.css", "c2");
    assert_eq!(get(&edge, "/a.html"), (200, "v1".into()), "cached, whatever the origin has now");
    // A purge for the other area changes nothing; one for the edge's area does.
    site.accept(JobKind::PurgeUrls, &[Area::Overseas], &["https://www.example.com/a.html"]);
    assert_eq!(get(&edge, "/a.html"), (200, "v1".into()));
    site.accept(JobKind::PurgeUrls, &[Area::Mainland, Area::Overseas], &["https://www.example.com/a.html"]);
    assert_eq!(get(&edge, "/a.html"), (200, "v2".into()));
    assert_eq!(get(&edge, "/css/site.css"), (200, "c1".into()), "a URL purge touches one URL");
    site.accept(JobKind::PurgePaths, &[Area::Mainland], &["https://www.example.com/css/"]);
    assert_eq!(get(&edge, "/css/site.css"), (200, "c2".into()));
    let caches: Vec<&str> = edge.requests().iter().map(|r| r.cache).collect();
    assert_eq!(caches, ["miss", "miss", "hit", "hit", "hit", "hit", "hit"], "purged URLs were refetched at once");
}

#[test]
fn a_404_is_cached_until_purged() {
    let site = Site::new();
    let edge = FakeEdge::start(site.config()).unwrap();
    assert_eq!(get(&edge, "/new.html").0, 404);
    site.write("new.html", "hello");
    assert_eq!(get(&edge, "/new.html").0, 404);
    edge.purge("https://www.example.com/new.html", false);
    assert_eq!(get(&edge, "/new.html"), (200, "hello".into()));
}

#[test]
fn a_lagging_origin_makes_a_purge_recache_old_bytes() {
    let site = Site::new();
    site.write("a.html", "old");
    site.write("b.html", "b-old");
    let edge = FakeEdge::start(site.config()).unwrap();
    assert_eq!(get(&edge, "/a.html").1, "old");
    edge.lag_origin(None, Duration::from_secs(30)).unwrap();
    site.write("a.html", "new");
    site.write("b.html", "b-new");
    site.write("added.html", "added");
    site.accept(JobKind::PurgeUrls, &[Area::Mainland], &["https://www.example.com/a.html"]);
    assert_eq!(get(&edge, "/a.html").1, "old", "the purge landed before the origin had the bytes");
    assert_eq!(get(&edge, "/b.html").1, "b-old", "an uncached file is read from the lagging origin too");
    assert_eq!(get(&edge, "/added.html").0, 404, "a file added after the lag began is not there yet");
    site.clock.advance(Duration::from_secs(31));
    assert_eq!(get(&edge, "/a.html").1, "old", "still cached: the lag ending purges nothing");
    site.accept(JobKind::PurgeUrls, &[Area::Mainland], &["https://www.example.com/a.html"]);
    assert_eq!(get(&edge, "/a.html").1, "new");
}

#[test]
fn lag_of_named_paths_only() {
    let site = Site::new();
    site.write("a.html", "a1");
    site.write("b.html", "b1");
    let edge = FakeEdge::start(EdgeConfig { clock: Arc::new(site.clock.clone()), ..EdgeConfig::origin(site.tmp.path()) }).unwrap();
    edge.lag_origin(Some(&["a.html", "gone.html"]), Duration::from_secs(10)).unwrap();
    site.write("a.html", "a2");
    site.write("b.html", "b2");
    site.write("gone.html", "now here");
    assert_eq!(get(&edge, "/a.html").1, "a1");
    assert_eq!(get(&edge, "/b.html").1, "b2", "no cache, no lag: the disk as it is");
    assert_eq!(get(&edge, "/gone.html").0, 404);
    site.clock.advance(Duration::from_secs(10));
    assert_eq!(get(&edge, "/a.html").1, "a2");
    assert_eq!(edge.requests().iter().filter(|r| r.cache == "origin").count(), 4);
}

#[test]
fn purges_take_effect_after_the_delay_and_prefetch_fills_the_cache() {
    let site = Site::new();
    site.write("a.html", "v1");
    let edge = FakeEdge::start(EdgeConfig { purge_delay: Duration::from_secs(5), ..site.config() }).unwrap();
    assert_eq!(get(&edge, "/a.html").1, "v1");
    site.write("a.html", "v2");
    site.accept(JobKind::PurgeUrls, &[Area::Mainland], &["https://www.example.com/a.html"]);
    assert_eq!(get(&edge, "/a.html").1, "v1", "accepted is not done");
    site.clock.advance(Duration::from_secs(5));
    assert_eq!(get(&edge, "/a.html").1, "v2");
    site.write("p.html", "prefetched");
    site.accept(JobKind::PrefetchUrls, &[Area::Mainland], &["https://www.example.com/p.html"]);
    site.clock.advance(Duration::from_secs(5));
    assert_eq!(get(&edge, "/a.html").1, "v2", "any request lets the edge see the due prefetch");
    std::fs::remove_file(site.tmp.path().join("p.html")).unwrap();
    assert_eq!(get(&edge, "/p.html"), (200, "prefetched".into()));
    assert_eq!(edge.requests().last().unwrap().cache, "hit");
}

#[test]
fn maps_urls_to_files_and_refuses_escapes() {
    let site = Site::new();
    site.write("index.html", "root");
    site.write("docs/index.html", "docs");
    site.write("文档 1.html", "unicode");
    let edge = FakeEdge::start(EdgeConfig { base_path: "/site/".into(), ..site.config() }).unwrap();
    assert_eq!(get(&edge, "/site/"), (200, "root".into()));
    assert_eq!(get(&edge, "/site/docs/"), (200, "docs".into()));
    assert_eq!(get(&edge, "/site/%E6%96%87%E6%A1%A3%201.html"), (200, "unicode".into()));
    assert_eq!(get(&edge, "/site/docs/?q=1"), (200, "docs".into()), "the query is not part of the file");
    for bad in ["/index.html", "/site/../secret.txt", "/site/%2e%2e/secret.txt", "/site//index.html", "/site/%zz", "/site/docs"] {
        assert_eq!(get(&edge, bad).0, 404, "{bad}");
    }
    assert_eq!(ask(&edge, "GET", "evil.example.net", "/site/").0, 404, "unknown host");
    assert_eq!(ask(&edge, "DELETE", "www.example.com", "/site/").0, 405);
}

#[test]
fn head_answers_and_the_log_names_who_asked() {
    let site = Site::new();
    site.write("s.css", "body {}\n");
    let edge = FakeEdge::start(site.config()).unwrap();
    let (status, h, body) = ask(&edge, "HEAD", "www.example.com:443", "/s.css");
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(header(&h, "content-length"), Some("8"));
    assert_eq!(header(&h, "content-type"), Some("text/css"));
    assert_eq!(header(&h, "etag"), Some(etag_of(b"body {}\n").as_str()));
    let log = edge.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].peer, IpAddr::from([127, 0, 0, 1]));
    assert_eq!((log[0].method.as_str(), log[0].host.as_str(), log[0].target.as_str()), ("HEAD", "www.example.com", "/s.css"));
    assert_eq!(log[0].user_agent.as_deref(), Some("edge-test"));
}

#[test]
fn transforms_rewrite_what_is_cached() {
    let site = Site::new();
    site.write("app.js", "function f() {\n  return 1;\n}\n");
    site.write("img.png", "\u{1}\u{2}");
    let edge = FakeEdge::start(site.config()).unwrap();
    edge.set_transform(Transform::Minify);
    assert_eq!(get(&edge, "/app.js").1, "function f() {return 1;}");
    assert_eq!(get(&edge, "/img.png").1, "\u{1}\u{2}", "binary files are not minified");
    edge.set_transform(Transform::FakeGzip);
    edge.purge("https://www.example.com/", true);
    let (_, h, body) = ask(&edge, "GET", "www.example.com", "/app.js");
    assert_eq!(header(&h, "content-encoding"), Some("gzip"));
    assert!(header(&h, "etag").unwrap().starts_with("W/\""));
    assert!(body.as_bytes().starts_with(b"\x1f"));
}

#[test]
fn learns_of_purges_from_the_fake_api() {
    use crate::api::{v3::V3Client, CdnApi};
    use crate::fake::{FakeCdn, FakeConfig};
    let site = Site::new();
    site.write("a.html", "v1");
    let cdn = Arc::new(FakeCdn::start(FakeConfig::default()).unwrap());
    let edge = FakeEdge::start(EdgeConfig::new(site.tmp.path()).with_cdn(cdn.clone())).unwrap();
    assert_eq!(get(&edge, "/a.html").1, "v1");
    site.write("a.html", "v2");
    let cfg = crate::config::test_config(&format!("[provider]\nendpoint = \"{}\"\n", cdn.url()));
    let fc = FakeConfig::default();
    let creds = crate::credentials::Credentials::new(fc.secret_id, fc.secret_key, None);
    let client = V3Client::new(crate::api::http::Transport::new(Duration::from_secs(5)).unwrap(), &cfg, creds, Arc::new(SystemClock));
    let job = crate::model::Job::planned(
        JobKind::PurgeUrls,
        Area::Mainland,
        "www.example.com",
        vec!["https://www.example.com/a.html".into()],
        0,
        0,
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(client.submit(&job)).expect("accepted");
    assert_eq!(get(&edge, "/a.html").1, "v2");
}
