//! `cdnsync watch` as a daemon you can monitor, as a process: `/metrics` scraped while a deploy
//! happens and parsed by an independent Prometheus parser (the `prometheus-parse` crate),
//! `/healthz` flipping to 503 on an injected API failure and back, and the systemd notifications
//! (`READY=1`, `STATUS=`, `WATCHDOG=1`, `STOPPING=1`) received on a test socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use cdnsync::fake::{Fault, FaultRule};
use prometheus_parse::{Scrape, Value};

use crate::util::*;

/// `(status, body)` of `GET path` on `addr`, over a fresh connection.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn scrape(addr: &str) -> Scrape {
    let (status, text) = get(addr, "/metrics");
    assert_eq!(status, 200, "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap_or_else(|e| panic!("not the exposition format ({e}):\n{text}"))
}

/// The value of a counter or gauge sample; `None` when absent.
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples.iter().find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))).map(|x| match &x.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(b) => b.last().map_or(0.0, |c| c.count),
        Value::Summary(_) => f64::NAN,
    })
}

/// Scrape until `cond` holds (at most 60 s).
#[track_caller]
fn until(addr: &str, what: &str, cond: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..600 {
        let s = scrape(addr);
        if cond(&s) {
            return s;
        }
        sleep(Duration::from_millis(100));
    }
    panic!("never: {what}");
}

fn syncs(s: &Scrape, result: &str) -> f64 {
    value(s, "cdnsync_syncs_total", &[("result", result)]).unwrap_or(0.0)
}

/// Every datagram received so far (waiting up to `wait` for the first).
fn datagrams(sock: &UnixDatagram, wait: Duration) -> Vec<String> {
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    out
}

#[test]
fn metrics_health_and_systemd_while_watch_runs_and_deploys() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 1");
    site.append_config("[watch]\nsettle_ms = 200\nmax_wait_ms = 2000\nmetrics = \"127.0.0.1:0\"\n");
    site.write("index.html", "<p>v1</p>");
    site.write("a.html", "a v1");
    let notify = site.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    let mut w = site.spawn(&["watch"], &[("NOTIFY_SOCKET", notify.to_str().unwrap()), ("WATCHDOG_USEC", "400000")]);
    w.wait_for_line("serving metrics on http://");
    let line = w.lines_now().iter().find(|l| l.contains("serving metrics on")).unwrap().clone();
    let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "bound where configured: {addr}");

    // READY=1 once the start-up sync (a baseline) is done, with a status line.
    let first = datagrams(&sock, Duration::from_secs(30));
    let ready = first.iter().find(|m| m.starts_with("READY=1")).unwrap_or_else(|| panic!("{first:?}"));
    assert!(ready.contains("\nSTATUS=synced: 0 job(s) accepted"), "{ready}");
    let s = until(&addr, "the start-up sync is counted", |s| syncs(s, "ok") == 1.0);
    assert_eq!(value(&s, "cdnsync_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".to_string()));

    // A deploy while it runs.
    site.write("index.html", "<p>v2</p>");
    site.write("a.html", "a v2");
    let s = until(&addr, "the deploy is synced", |s| syncs(s, "ok") == 2.0);
    let accepted = |area| value(&s, "cdnsync_jobs_total", &[("kind", "purge_urls"), ("area", area), ("result", "accepted")]);
    assert_eq!((accepted("mainland"), accepted("overseas")), (Some(1.0), Some(1.0)));
    assert_eq!(value(&s, "cdnsync_urls_purged_total", &[("area", "mainland")]), Some(3.0), "a.html, index.html and /");
    assert_eq!(value(&s, "cdnsync_jobs_total", &[("kind", "prefetch_urls"), ("area", "mainland"), ("result", "accepted")]), Some(1.0));
    assert!(value(&s, "cdnsync_api_requests_total", &[("action", "PurgeUrlsCache"), ("result", "ok")]) >= Some(2.0));
    assert!(value(&s, "cdnsync_api_requests_total", &[("action", "DescribePurgeQuota"), ("result", "ok")]) >= Some(1.0));
    assert_eq!(value(&s, "cdnsync_owed_jobs", &[("status", "pending")]), Some(0.0));
    assert!(value(&s, "cdnsync_quota_remaining", &[("kind", "purge_urls"), ("area", "mainland")]).is_some_and(|q| q > 0.0 && q < 10_000.0));
    assert!(value(&s, "cdnsync_last_success_timestamp_seconds", &[]).is_some_and(|t| t > 1.7e9));
    assert!(value(&s, "cdnsync_seconds_since_last_deploy_event", &[]).is_some_and(|t| (0.0..60.0).contains(&t)));
    let latency = s.samples.iter().find(|x| x.metric == "cdnsync_change_to_accepted_seconds").expect("the latency histogram");
    let Value::Histogram(buckets) = &latency.value else { panic!("{latency:?}") };
    assert_eq!(buckets.last().map(|b| b.count), Some(4.0), "one observation per accepted job (2 purges, 2 prefetches)");
    assert!(buckets.iter().find(|b| b.less_than == 30.0).is_some_and(|b| b.count == 4.0), "{buckets:?}");
    // Nothing that looks like a credential anywhere in the text.
    let (_, text) = get(&addr, "/metrics");
    assert!(!text.contains(SECRET_ID) && !text.contains(SECRET_KEY) && !text.contains("AKID"));

    // An injected failure: the API answers 502 to every purge; the sync leaves them owed.
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Http(502), count: 10_000 });
    site.write("a.html", "a v3");
    let s = until(&addr, "the failed sync is counted", |s| syncs(s, "failed") == 1.0);
    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("failing: ") && body.contains("still owed") && body.contains("HTTP502"), "{body}");
    assert!(value(&s, "cdnsync_api_requests_total", &[("action", "PurgeUrlsCache"), ("result", "http_502")]) >= Some(1.0));
    assert!(value(&s, "cdnsync_retries_total", &[("action", "PurgeUrlsCache")]) >= Some(1.0));
    assert!(value(&s, "cdnsync_owed_jobs", &[("status", "pending")]) >= Some(1.0));
    // The API recovers; the next deploy sends what was owed too, and health comes back.
    fake.clear_faults();
    site.write("b.html", "b v1");
    let s = until(&addr, "the recovering sync is counted", |s| syncs(s, "ok") == 3.0);
    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(value(&s, "cdnsync_owed_jobs", &[("status", "pending")]), Some(0.0));

    // systemd heard every sync, and the watchdog was fed from the loop, during and between syncs.
    let msgs = datagrams(&sock, Duration::from_secs(1));
    let statuses: Vec<&String> = msgs.iter().filter(|m| m.starts_with("STATUS=")).collect();
    assert!(statuses.len() >= 3, "{msgs:?}");
    assert!(statuses.iter().any(|m| m.contains("still owed")), "{statuses:?}");
    assert!(msgs.iter().filter(|m| *m == "WATCHDOG=1").count() >= 5, "{msgs:?}");
    assert!(msgs.iter().all(|m| !m.starts_with("READY=1")), "READY=1 is sent once");
    w.terminate();
    let (code, stderr) = w.finish_within(30);
    assert_eq!(code, 0, "{stderr}");
    let last = datagrams(&sock, Duration::from_secs(5));
    assert!(last.iter().any(|m| m.starts_with("STOPPING=1\nSTATUS=stopping; 0 job(s) owed")), "{last:?}");
    assert!(std::net::TcpStream::connect(&addr).is_err(), "the endpoint is gone with the process");
}

#[test]
fn a_metrics_address_in_use_stops_watch_with_a_clear_error() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    site.append_config(&format!("[watch]\nmetrics = \"{}\"\n", taken.local_addr().unwrap()));
    site.write("a.html", "a");
    let w = site.spawn(&["watch"], &[]);
    let (code, stderr) = w.finish_within(30);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot start the metrics endpoint") && stderr.contains(&taken.local_addr().unwrap().to_string()), "{stderr}");
}

#[test]
fn the_example_unit_uses_notify_and_the_watchdog() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cdnsync.service")).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    for want in ["Type=notify", "NotifyAccess=main", "ExecStart=/usr/local/bin/cdnsync watch"] {
        assert!(lines.contains(&want), "examples/cdnsync.service lacks {want}");
    }
    assert!(lines.iter().any(|l| l.strip_prefix("WatchdogSec=").is_some_and(|v| v.trim_end_matches('s').parse::<u64>().is_ok())));
}
