//! The real fetcher against the fake edge on 127.0.0.1: `connect_to` with the real Host, the
//! headers a CDN sees, fresh / stale / different / error end to end, and what is refused unsent.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{ManualClock, SystemClock};
use crate::fake::edge::{etag_of, EdgeConfig, FakeEdge, Transform};
use crate::model::ContentHash;
use crate::verify::classify::Reason;
use crate::verify::fetch::{FetchOptions, HttpFetcher, Method, Request, USER_AGENT};
use crate::verify::{verify, Fetch, Item, Mode, Options, Summary, Verdict};

struct Site {
    tmp: tempfile::TempDir,
    clock: ManualClock,
}

impl Site {
    fn new(files: &[(&str, &str)]) -> Site {
        let site = Site { tmp: tempfile::tempdir().unwrap(), clock: ManualClock::new(1_800_000_000_000) };
        for (p, b) in files {
            site.write(p, b);
        }
        site
    }

    fn write(&self, rel: &str, body: &str) {
        let p = self.tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn edge(&self) -> FakeEdge {
        FakeEdge::start(EdgeConfig { clock: Arc::new(self.clock.clone()), ..EdgeConfig::new(self.tmp.path()) }).unwrap()
    }
}

fn item(path: &str, new: &str, old: &str) -> Item {
    let url = format!("http://www.example.com/{path}");
    Item::new(url, "www.example.com", ContentHash::of(new.as_bytes())).previous(ContentHash::of(old.as_bytes())).size(new.len() as u64)
}

fn opts(edge: &FakeEdge) -> Options {
    Options { connect_to: Some(edge.addr()), requests_per_second: None, timeout: Duration::from_secs(5), ..Options::default() }
}

fn run(items: &[Item], o: &Options) -> Summary {
    let f = HttpFetcher::for_urls(&o.into(), items.iter().map(|i| i.url.as_str())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(verify(items, &f, o, &SystemClock))
}

fn verdicts(s: &Summary) -> Vec<&'static str> {
    s.results.iter().map(|r| r.verdict.as_str()).collect()
}

#[test]
fn connect_to_keeps_the_host_and_sends_honest_headers() {
    let site = Site::new(&[("a.html", "A"), ("s.css", "S"), ("i.png", "I")]);
    let edge = site.edge();
    let items = vec![
        item("a.html", "A", "-"),
        item("s.css", "S", "-").mode(Mode::Etag).etags(etag_of(b"S"), None),
        item("i.png", "I", "-").mode(Mode::Status),
    ];
    let s = run(&items, &opts(&edge));
    assert_eq!(verdicts(&s), ["fresh", "fresh", "fresh"], "{s:?}");
    let log = edge.requests();
    assert_eq!(log.len(), items.len(), "every request reached the edge, none went elsewhere");
    for r in &log {
        assert_eq!(r.peer, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(r.host, "www.example.com");
        assert_eq!(r.user_agent.as_deref(), Some(USER_AGENT));
        assert!(USER_AGENT.starts_with(concat!("cdnsync/", env!("CARGO_PKG_VERSION"))));
        assert_eq!(r.accept_encoding.as_deref(), Some("identity"));
    }
    let methods: Vec<(&str, &str)> = log.iter().map(|r| (r.method.as_str(), r.target.as_str())).collect();
    for want in [("GET", "/a.html"), ("HEAD", "/s.css"), ("HEAD", "/i.png")] {
        assert!(methods.contains(&want), "{want:?} in {methods:?}");
    }
}

#[test]
fn finds_stale_after_a_purge_that_beat_the_origin_and_fresh_after_a_repurge() {
    let site = Site::new(&[("a.html", "old a"), ("b.css", "old b")]);
    let edge = site.edge();
    let items = vec![item("a.html", "new a", "old a"), item("b.css", "new b", "old b")];
    // Visitors cached the old version; the origin lags the deploy; the purge lands early.
    assert_eq!(verdicts(&run(&items, &opts(&edge))), ["stale", "stale"]);
    edge.lag_origin(None, Duration::from_secs(60)).unwrap();
    site.write("a.html", "new a");
    site.write("b.css", "new b");
    edge.purge("http://www.example.com/a.html", false);
    edge.purge("http://www.example.com/b.css", false);
    let s = run(&items, &opts(&edge));
    assert_eq!(verdicts(&s), ["stale", "stale"]);
    assert_eq!(s.exit_code(), 6);
    assert_eq!(s.stale_urls().count(), 2);
    // --repurge once the origin caught up.
    site.clock.advance(Duration::from_secs(61));
    for u in s.stale_urls() {
        edge.purge(u, false);
    }
    let again = run(&items, &opts(&edge));
    let merged = s.merge(again);
    assert_eq!(verdicts(&merged), ["fresh", "fresh"]);
    assert_eq!(merged.exit_code(), 0);
}

#[test]
fn a_wrong_base_path_and_a_rewriting_cdn_are_explained() {
    let site = Site::new(&[("index.html", "<!doctype html><p>home</p>"), ("app.js", "function f() {\n  return 1;\n}\n")]);
    let edge = site.edge();
    edge.set_transform(Transform::Minify);
    let js = "function f() {\n  return 1;\n}\n";
    let items = vec![
        // base_path off by one folder: the URLs purged are not the ones served.
        item("blog/app.js", js, "-"),
        item("app.js", js, "-"),
    ];
    let s = run(&items, &opts(&edge));
    assert_eq!(verdicts(&s), ["error", "different"], "{s:?}");
    assert_eq!(s.results[0].status, Some(404));
    assert!(matches!(&s.results[0].verdict, Verdict::Error { message } if message.contains("base_path")));
    let Verdict::Different { reasons } = &s.results[1].verdict else { unreachable!() };
    assert_eq!(reasons, &[Reason::Size { got: 24, expected: js.len() as u64 }]);
    assert_eq!(s.exit_code(), 6);
    edge.set_transform(Transform::FakeGzip);
    edge.purge("http://www.example.com/", true);
    let s = run(&items[1..], &opts(&edge));
    let Verdict::Different { reasons } = &s.results[0].verdict else { panic!("{s:?}") };
    assert!(reasons.contains(&Reason::ContentEncoding("gzip".into())), "{reasons:?}");
}

#[test]
fn bodies_over_the_cap_are_not_read() {
    let big = "x".repeat(100_000);
    let site = Site::new(&[("big.txt", &big)]);
    let edge = site.edge();
    let o = Options { max_body: 1000, ..opts(&edge) };
    let s = run(&[item("big.txt", &big, "-")], &o);
    let Verdict::Different { reasons } = &s.results[0].verdict else { panic!("{s:?}") };
    assert_eq!(reasons, &[Reason::TooLarge { announced: Some(100_000) }]);
}

#[test]
fn nothing_leaves_connect_to() {
    let site = Site::new(&[("a.html", "A")]);
    let edge = site.edge();
    let items = vec![
        item("a.html", "A", "-"),
        Item::new("http://127.0.0.2:9/a.html", "www.example.com", ContentHash::of(b"A")),
        Item::new("not a url", "www.example.com", ContentHash::of(b"A")),
    ];
    let s = run(&items, &opts(&edge));
    assert_eq!(verdicts(&s), ["fresh", "error", "error"]);
    assert!(matches!(&s.results[1].verdict, Verdict::Error { message } if message.contains("cannot reroute the IP address 127.0.0.2")));
    assert!(matches!(&s.results[2].verdict, Verdict::Error { message } if message.starts_with("not sent")));
    // A fetcher built for one host refuses another (it would not be rerouted).
    let o: FetchOptions = (&opts(&edge)).into();
    let f = HttpFetcher::new(&o, ["www.example.com"]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let r = rt.block_on(f.fetch(Request { url: "http://cdn.example.org/a.html", method: Method::Get, host: None }));
    assert!(r.unwrap_err().message.contains("not routed through connect_to"));
    assert_eq!(edge.requests().len(), 1, "only the routed request was sent");
}

#[test]
fn connect_to_and_origins_never_go_through_a_proxy() {
    let addr: SocketAddr = "127.0.0.1:8081".parse().unwrap();
    let cdn = |connect_to| -> FetchOptions { (&Options { connect_to, ..Options::default() }).into() };
    assert!(cdn(None).uses_proxy(), "a plain verify goes the way the API client goes");
    assert!(!cdn(Some(addr)).uses_proxy());
    assert!(!FetchOptions { proxy: true, ..cdn(Some(addr)) }.uses_proxy(), "connect_to wins over a proxy");
    assert!(!FetchOptions::origin(Duration::from_secs(1), 1).uses_proxy());
}

/// A one-connection-per-request server: `reply(method)` is the raw answer, `None` for none at
/// all (the connection is held open a while). Serves `n` connections, then stops; returns the
/// methods it saw.
fn tiny_server(n: usize, reply: fn(&str) -> Option<String>) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { break };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let k = s.read(&mut buf).unwrap_or(0);
            let method = String::from_utf8_lossy(&buf[..k]).split(' ').next().unwrap_or("").to_string();
            match reply(&method) {
                Some(answer) => drop(s.write_all(answer.as_bytes())),
                None => {
                    // A server thread that stalls in real time, as a silent server does.
                    #[allow(clippy::disallowed_methods)]
                    std::thread::sleep(Duration::from_millis(800))
                }
            }
            seen.push(method);
        }
        seen
    });
    (addr, t)
}

fn answer(status: u16, extra: &str) -> Option<String> {
    Some(format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n{extra}\r\nok"))
}

#[test]
fn redirects_are_reported_not_followed() {
    let (addr, server) = tiny_server(1, |_| answer(301, "Location: http://www.example.com/elsewhere\r\n"));
    let o = Options { connect_to: Some(addr), requests_per_second: None, ..Options::default() };
    let s = run(&[Item::new("http://www.example.com/a", "www.example.com", ContentHash::of(b"ok"))], &o);
    assert_eq!(s.results[0].verdict, Verdict::Error { message: "HTTP 301, redirected to http://www.example.com/elsewhere".into() });
    assert_eq!(server.join().unwrap(), ["GET"], "one request: the redirect was not followed");
}

#[test]
fn a_refused_head_is_asked_again_as_get() {
    let (addr, server) = tiny_server(2, |m| if m == "HEAD" { answer(405, "") } else { answer(200, "") });
    let o = Options { connect_to: Some(addr), requests_per_second: None, ..Options::default() };
    let s = run(&[Item::new("http://www.example.com/a.html", "www.example.com", ContentHash::of(b"ok")).mode(Mode::Status)], &o);
    assert_eq!(verdicts(&s), ["fresh"]);
    assert_eq!(server.join().unwrap(), ["HEAD", "GET"]);
}

#[test]
fn a_silent_server_times_out() {
    let (addr, server) = tiny_server(1, |_| None);
    let o = Options {
        connect_to: Some(addr),
        timeout: Duration::from_millis(300),
        requests_per_second: NonZeroU32::new(50),
        ..Options::default()
    };
    let s = run(&[Item::new("http://www.example.com/a.html", "www.example.com", ContentHash::of(b"ok"))], &o);
    assert!(matches!(&s.results[0].verdict, Verdict::Error { message } if message.contains("timed out")), "{s:?}");
    assert_eq!((s.results[0].status, s.exit_code()), (None, 1));
    server.join().unwrap();
}
