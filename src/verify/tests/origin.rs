//! The origin wait: URL joining, one look's meaning and the backoff as tables; then the loop
//! against a plain origin on 127.0.0.1 that gets the new files 2 s into the wait, and one that
//! never gets some (held back, not lost).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::fake::edge::{EdgeConfig, FakeEdge};
use crate::model::ContentHash;
use crate::verify::fetch::{Body, FetchError, FetchOptions, HttpFetcher, Observed};
use crate::verify::origin::{origin_url, probe, wait_for_origin, Held, OriginItem, Probe, WaitPolicy};

#[test]
fn origin_urls() {
    let cases = [
        ("http://10.0.0.5:8080", "https://www.example.com/a.html", Some("http://10.0.0.5:8080/a.html")),
        ("http://10.0.0.5:8080/", "https://www.example.com/docs/", Some("http://10.0.0.5:8080/docs/")),
        ("http://origin.internal/site/", "https://www.example.com/a%20b.html?v=1", Some("http://origin.internal/site/a%20b.html?v=1")),
        ("https://o.example.net", "https://www.example.com/", Some("https://o.example.net/")),
        ("10.0.0.5:8080", "https://www.example.com/a.html", None),
        ("ftp://10.0.0.5", "https://www.example.com/a.html", None),
        ("http://10.0.0.5/?x=1", "https://www.example.com/a.html", None),
        ("http://10.0.0.5", "www.example.com/a.html", None),
    ];
    for (origin, cdn, want) in cases {
        assert_eq!(origin_url(origin, cdn).as_deref(), want, "{origin} + {cdn}");
    }
}

#[test]
fn what_one_look_means() {
    let new = ContentHash::of(b"new");
    let body = |b: &[u8]| Ok(Observed { status: 200, body: Some(Body::of(b)), ..Observed::default() });
    let status = |s| Ok(Observed { status: s, ..Observed::default() });
    let capped =
        Ok(Observed { status: 200, body: Some(Body { hash: None, bytes: 9, newlines: 0, prefix: vec![] }), ..Observed::default() });
    let old = |s: &str| Probe::Old(s.into());
    let old_bytes = Some(ContentHash::of(b"old"));
    let cases: Vec<(Option<ContentHash>, Result<Observed, FetchError>, Probe)> = vec![
        (Some(new), body(b"new"), Probe::Ready),
        (Some(new), body(b"old"), old("origin still serves other bytes")),
        (Some(new), status(404), old("origin does not have the file yet (HTTP 404)")),
        (Some(new), status(502), old("origin answers HTTP 502")),
        (Some(new), status(301), old("origin answers HTTP 301")),
        (Some(new), capped, old("origin's answer is over the size cap")),
        (Some(new), Err(FetchError { message: "connection refused".into() }), old("origin unreachable: connection refused")),
        (None, status(404), Probe::Ready),
        (None, status(410), Probe::Ready),
        (None, body(b"old"), old("origin still serves the removed file (HTTP 200)")),
    ];
    for (expect, answer, want) in cases {
        assert_eq!(probe(expect, None, &answer), want, "{answer:?}");
    }
    // A removed file whose old bytes are known: gone once they are not served, whatever else is
    // (an SPA fallback page, a redirect); not while they are, nor when nothing can be told.
    let removed: Vec<(Result<Observed, FetchError>, Probe)> = vec![
        (body(b"old"), old("origin still serves the removed file (HTTP 200)")),
        (body(b"<!doctype html>app shell"), Probe::Ready),
        (status(301), Probe::Ready),
        (status(403), Probe::Ready),
        (status(404), Probe::Ready),
        (status(503), old("origin still serves the removed file (HTTP 503)")),
        (Err(FetchError { message: "reset".into() }), old("origin unreachable: reset")),
    ];
    for (answer, want) in removed {
        assert_eq!(probe(None, old_bytes, &answer), want, "{answer:?}");
    }
}

#[test]
fn backoff_doubles_caps_and_ends_at_the_limit() {
    let p = WaitPolicy { limit: Duration::from_secs(10), first_delay: Duration::from_millis(500), max_delay: Duration::from_secs(3) };
    let ms = |rounds, elapsed_ms| p.delay_after(rounds, Duration::from_millis(elapsed_ms)).map(|d| d.as_millis() as u64);
    assert_eq!(ms(1, 0), Some(500));
    assert_eq!(ms(2, 500), Some(1000));
    assert_eq!(ms(3, 1500), Some(2000));
    assert_eq!(ms(4, 3500), Some(3000));
    assert_eq!(ms(40, 3500), Some(3000), "no overflow on many rounds");
    assert_eq!(ms(5, 9200), Some(800), "the last pause ends at the limit");
    assert_eq!(ms(6, 10_000), None);
    assert_eq!(ms(6, 12_000), None);
    assert_eq!(WaitPolicy::new(Duration::ZERO).delay_after(1, Duration::ZERO), None);
}

fn write(dir: &std::path::Path, rel: &str, body: &str) {
    std::fs::write(dir.join(rel), body).unwrap();
}

fn items(origin: &FakeEdge, files: &[(&str, Option<&str>)]) -> Vec<OriginItem> {
    files
        .iter()
        .map(|(p, new)| {
            let cdn = format!("https://www.example.com/{p}");
            OriginItem::new(&cdn, &origin.url(), "www.example.com", new.map(|b| ContentHash::of(b.as_bytes()))).unwrap()
        })
        .collect()
}

fn fetcher() -> HttpFetcher {
    HttpFetcher::new(&FetchOptions::origin(Duration::from_secs(5), 1 << 20), []).unwrap()
}

#[test]
fn waits_until_the_origin_has_the_new_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    write(&dir, "a.html", "old a");
    write(&dir, "b.css", "old b");
    write(&dir, "gone.html", "removed in this deploy");
    let origin = FakeEdge::start(EdgeConfig::origin(&dir)).unwrap();
    let list = items(&origin, &[("a.html", Some("new a")), ("b.css", Some("new b")), ("c.js", Some("new c")), ("gone.html", None)]);
    let changed_at = Arc::new(AtomicI64::new(i64::MAX));
    let flag = changed_at.clone();
    let deploy = std::thread::spawn(move || {
        // The origin gets the new files in real time, 2 s into the wait.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_secs(2));
        flag.store(SystemClock.now_ms(), Ordering::SeqCst);
        write(&dir, "a.html", "new a");
        write(&dir, "b.css", "new b");
        write(&dir, "c.js", "new c");
        std::fs::remove_file(dir.join("gone.html")).unwrap();
    });
    let policy =
        WaitPolicy { limit: Duration::from_secs(20), first_delay: Duration::from_millis(100), max_delay: Duration::from_millis(300) };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt.block_on(wait_for_origin(&list, &fetcher(), &policy, 4, &SystemClock));
    let done = SystemClock.now_ms();
    deploy.join().unwrap();
    assert!(report.all_ready(), "{report:?}");
    assert_eq!(report.ready, list.iter().map(|i| i.url.clone()).collect::<Vec<_>>());
    assert!(done >= changed_at.load(Ordering::SeqCst), "nothing was ready before the origin had it");
    assert!(report.rounds >= 3, "it looked, backed off and looked again: {report:?}");
    let log = origin.requests();
    assert!(log.iter().all(|r| r.host == "www.example.com" && r.method == "GET"), "asked with the domain as Host");
    let a = log.iter().filter(|r| r.target == "/a.html").count();
    assert_eq!(a as u32, report.rounds, "a.html asked once a round");
    assert!(log.iter().any(|r| r.target == "/c.js" && r.status == 404), "c.js was not there at first");
}

#[test]
fn what_never_arrives_is_held_back_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a.html", "new a");
    write(tmp.path(), "b.html", "old b");
    let origin = FakeEdge::start(EdgeConfig::origin(tmp.path())).unwrap();
    let mut list = items(&origin, &[("a.html", Some("new a")), ("b.html", Some("new b"))]);
    list.push(
        OriginItem::new("https://www.example.com/c.html", "http://127.0.0.1:9", "www.example.com", Some(ContentHash::of(b"c"))).unwrap(),
    );
    let policy = WaitPolicy { limit: Duration::from_secs(3), first_delay: Duration::from_millis(500), max_delay: Duration::from_secs(1) };
    // A manual clock: the pauses take no real time.
    let clock = ManualClock::new(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt.block_on(wait_for_origin(&list, &fetcher(), &policy, 2, &clock));
    assert_eq!(report.ready, ["https://www.example.com/a.html"]);
    assert_eq!(report.held.len(), 2);
    assert_eq!(report.held[0], Held { url: "https://www.example.com/b.html".into(), reason: "origin still serves other bytes".into() });
    assert!(report.held[1].reason.starts_with("origin unreachable"), "{:?}", report.held[1]);
    // Rounds at 0, 0.5, 1.5, 2.5 and 3.0 s: the last one at the limit itself.
    assert_eq!((report.rounds, report.waited_ms), (5, 3000));
    let b = origin.requests().iter().filter(|r| r.target == "/b.html").count();
    assert_eq!(b, 5);
    assert_eq!(origin.requests().iter().filter(|r| r.target == "/a.html").count(), 1, "a ready file is not asked again");
}
