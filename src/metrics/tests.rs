//! Metrics: family and label checks as tables, the exposition text validated by an independent
//! parser (the `prometheus-parse` crate), and the endpoint scraped over loopback while health
//! flips.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_parse::{LineInfo, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::registry::{check_label_value, escape_label_value, number, Family, Kind, MetricError, Registry, MAX_SERIES};
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::model::{Area, JobKind, JobStatus};

const fn fam(name: &'static str, kind: Kind, labels: &'static [&'static str], buckets: &'static [f64]) -> Family {
    Family { name, help: "h", kind, labels, buckets }
}

#[test]
fn families_are_checked_when_declared() {
    let bad: &[(&[Family], &str)] = &[
        (&[fam("9lives", Kind::Gauge, &[], &[])], "not a valid metric name"),
        (&[fam("a-b", Kind::Gauge, &[], &[])], "not a valid metric name"),
        (&[fam("requests", Kind::Counter, &[], &[])], "ends in _total"),
        (&[fam("g", Kind::Gauge, &["x", "x"], &[])], "unique"),
        (&[fam("g", Kind::Gauge, &["__x"], &[])], "unique"),
        (&[fam("g", Kind::Gauge, &["a b"], &[])], "unique"),
        (&[fam("h", Kind::Histogram, &["le"], &[1.0])], "buckets"),
        (&[fam("h", Kind::Histogram, &[], &[])], "buckets"),
        (&[fam("h", Kind::Histogram, &[], &[2.0, 1.0])], "buckets"),
        (&[fam("h", Kind::Histogram, &[], &[1.0, f64::INFINITY])], "buckets"),
        (&[fam("g", Kind::Gauge, &[], &[]), fam("g", Kind::Gauge, &[], &[])], "declared twice"),
    ];
    for (families, want) in bad {
        let err = Registry::new(families).unwrap_err();
        assert!(err.to_string().contains(want), "{families:?}: {err}");
    }
    Registry::new(daemon::FAMILIES).expect("cdnsync's own families");
}

#[test]
fn label_values_are_checked_and_secrets_refused_without_being_repeated() {
    for ok in ["", "PurgeUrlsCache", "AuthFailure.SignatureFailure", "www.example.com", "ok", "a \"quoted\" \\ value", "文档"] {
        assert_eq!(check_label_value(ok), Ok(()), "{ok:?}");
    }
    let secret_key = "fakeSecretKey0000000000000000000";
    let bad = [
        ("two\nlines", "control"),
        ("tab\there", "control"),
        (&*"x".repeat(129), "longer than 128"),
        ("AKIDEXAMPLE12345678", "credential"),
        ("key=AKIDabcdefgh1", "credential"),
        (secret_key, "credential"),
        ("token:dGhpcyBpcyBhIHNlc3Npb24gdG9rZW4x", "credential"),
    ];
    for (value, why) in bad {
        assert!(check_label_value(value).unwrap_err().contains(why), "{value:?}");
    }
    let m = Metrics::new();
    let err = m.api_request("PurgeUrlsCache", secret_key).unwrap_err();
    assert!(matches!(err, MetricError::LabelValue { label: "result", .. }), "{err:?}");
    assert!(!err.to_string().contains(secret_key) && !format!("{err:?}").contains(secret_key));
    assert!(!m.render(0).contains(secret_key));
}

#[test]
fn updates_are_checked() {
    let r = Registry::new(&[fam("c_total", Kind::Counter, &["a"], &[]), fam("g", Kind::Gauge, &[], &[])]).unwrap();
    assert!(matches!(r.inc("nope_total", &["x"], 1.0), Err(MetricError::Unknown { .. })));
    assert!(matches!(r.set("c_total", &["x"], 1.0), Err(MetricError::Unknown { .. })), "a counter is not set");
    assert!(matches!(r.inc("c_total", &[], 1.0), Err(MetricError::LabelCount { expected: 1, got: 0, .. })));
    assert!(matches!(r.inc("c_total", &["x"], -1.0), Err(MetricError::Value { .. })), "counters never go down");
    assert!(matches!(r.set("g", &[], f64::NAN), Err(MetricError::Value { .. })));
    for i in 0..MAX_SERIES {
        r.inc("c_total", &[&i.to_string()], 1.0).unwrap();
    }
    assert!(matches!(r.inc("c_total", &["one more"], 1.0), Err(MetricError::TooManySeries { .. })));
    r.inc("c_total", &["7"], 2.5).unwrap();
    assert_eq!(r.value("c_total", &["7"]), Some(3.5), "an existing series still counts");
}

#[test]
fn numbers_and_escapes() {
    for (v, want) in [(3.0, "3"), (0.5, "0.5"), (-2.0, "-2"), (1e20, "100000000000000000000"), (f64::INFINITY, "+Inf"), (f64::NAN, "NaN")] {
        assert_eq!(number(v), want);
    }
    assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

/// A metrics set with something in every family.
fn busy(clock: &ManualClock) -> Metrics {
    let m = Metrics::new();
    m.deploy_event(clock.now_ms());
    for _ in 0..3 {
        m.job(JobKind::PurgeUrls, Area::Mainland, JobResult::Accepted);
    }
    m.job(JobKind::PurgePaths, Area::Overseas, JobResult::Deferred);
    m.job(JobKind::PrefetchUrls, Area::Mainland, JobResult::Failed);
    m.urls_purged(Area::Mainland, 250);
    m.api_request("PurgeUrlsCache", "ok").unwrap();
    m.api_request("PurgeUrlsCache", "RequestLimitExceeded").unwrap();
    m.api_request("we\"ird\\action", "transport").unwrap();
    m.retry("PurgeUrlsCache").unwrap();
    m.owed(JobStatus::Pending, 2);
    m.owed(JobStatus::Deferred, 1);
    m.owed(JobStatus::Accepted, 99);
    m.quota_remaining(JobKind::PurgeUrls, Area::Mainland, 9_750);
    for secs in [0.3, 4.0, 7000.0] {
        m.change_to_accepted(secs);
    }
    clock.advance(Duration::from_millis(12_500));
    m.sync_finished(SyncResult::Ok, clock.now_ms());
    m
}

fn parse(text: &str) -> Scrape {
    // The parser skips lines it does not recognise; so first, every line must be one it does.
    for line in text.lines() {
        assert!(!matches!(LineInfo::parse(line), LineInfo::Ignored | LineInfo::Empty), "not exposition format: {line:?}");
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    // …and it drops samples whose value it cannot read: every sample line must come out.
    let lines = text.lines().filter(|l| matches!(LineInfo::parse(l), LineInfo::Sample { .. })).count();
    let parsed: usize = scrape.samples.iter().map(|s| if let Value::Histogram(b) = &s.value { b.len() } else { 1 }).sum();
    assert_eq!(parsed, lines, "every sample line was understood");
    scrape
}

fn sample<'a>(s: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> &'a Value {
    let found = s
        .samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)) && x.labels.len() == labels.len());
    &found.unwrap_or_else(|| panic!("no {name} {labels:?}")).value
}

#[test]
fn the_text_parses_as_prometheus_exposition_format() {
    let clock = ManualClock::new(1_800_000_000_000);
    let m = busy(&clock);
    let text = m.render(clock.now_ms());
    let s = parse(&text);
    assert_eq!(sample(&s, "cdnsync_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), &Value::Gauge(1.0));
    let accepted = [("kind", "purge_urls"), ("area", "mainland"), ("result", "accepted")];
    assert_eq!(sample(&s, "cdnsync_jobs_total", &accepted), &Value::Counter(3.0));
    assert_eq!(
        sample(&s, "cdnsync_jobs_total", &[("kind", "purge_paths"), ("area", "overseas"), ("result", "deferred")]),
        &Value::Counter(1.0)
    );
    assert_eq!(sample(&s, "cdnsync_urls_purged_total", &[("area", "mainland")]), &Value::Counter(250.0));
    assert_eq!(
        sample(&s, "cdnsync_api_requests_total", &[("action", "PurgeUrlsCache"), ("result", "RequestLimitExceeded")]),
        &Value::Counter(1.0)
    );
    assert_eq!(sample(&s, "cdnsync_retries_total", &[("action", "PurgeUrlsCache")]), &Value::Counter(1.0));
    assert_eq!(sample(&s, "cdnsync_owed_jobs", &[("status", "pending")]), &Value::Gauge(2.0));
    assert!(!text.contains("status=\"accepted\""), "accepted jobs are not owed");
    assert_eq!(sample(&s, "cdnsync_quota_remaining", &[("kind", "purge_urls"), ("area", "mainland")]), &Value::Gauge(9750.0));
    assert_eq!(sample(&s, "cdnsync_last_success_timestamp_seconds", &[]), &Value::Gauge(1_800_000_012.0));
    assert_eq!(sample(&s, "cdnsync_seconds_since_last_deploy_event", &[]), &Value::Gauge(12.5));
    let Value::Histogram(buckets) = sample(&s, "cdnsync_change_to_accepted_seconds", &[]) else { panic!("a histogram") };
    let at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
    assert_eq!((at(0.5), at(2.0), at(5.0), at(3600.0), at(f64::INFINITY)), (Some(1.0), Some(1.0), Some(2.0), Some(2.0), Some(3.0)));
    assert_eq!(buckets.len(), daemon::LATENCY_BUCKETS.len() + 1);
    assert!(text.contains("cdnsync_change_to_accepted_seconds_sum 7004.3\n"));
    assert!(text.contains("cdnsync_change_to_accepted_seconds_count 3\n"));
    // Escaped on output (this parser keeps escapes as written).
    assert!(text.contains(r#"action="we\"ird\\action""#), "{text}");
    assert_eq!(
        sample(&s, "cdnsync_api_requests_total", &[("action", r#"we\"ird\\action"#), ("result", "transport")]),
        &Value::Counter(1.0)
    );
    // Every family announces its type once, before its samples.
    for f in daemon::FAMILIES {
        assert_eq!(text.matches(&format!("# TYPE {} ", f.name)).count(), 1, "{}", f.name);
    }
}

async fn ask(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A server that hangs up on a request it refuses may reset the connection: no answer.
    let _ = s.write_all(request.as_bytes()).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await.expect("answered or closed in time");
    if read.is_err() && raw.is_empty() {
        return (0, String::new(), String::new());
    }
    let text = String::from_utf8(raw).unwrap();
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return (0, String::new(), text) };
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

#[test]
fn serves_metrics_and_health_on_the_given_address_only() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let clock = ManualClock::new(1_800_000_000_000);
        let m = Arc::new(Metrics::new());
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), m.clone(), Arc::new(clock.clone())).await.unwrap();
        let addr = server.local_addr();
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        let other: SocketAddr = format!("127.0.0.2:{}", addr.port()).parse().unwrap();
        assert!(tokio::net::TcpStream::connect(other).await.is_err(), "not listening on other addresses");

        let (status, body) = {
            let (s, _, b) = ask(addr, &get("/healthz")).await;
            (s, b)
        };
        assert_eq!((status, body.as_str()), (503, "starting: no sync has finished yet\n"));
        m.sync_finished(SyncResult::Ok, clock.now_ms());
        assert_eq!(ask(addr, &get("/healthz")).await.0, 200);
        m.sync_finished(SyncResult::QuotaDeferred, clock.now_ms());
        assert_eq!(ask(addr, &get("/healthz")).await.0, 200, "only quota-deferred is healthy");
        m.sync_finished(SyncResult::Failed("injected failure\nsecond line".into()), clock.now_ms());
        let (status, _, body) = ask(addr, &get("/healthz")).await;
        assert_eq!((status, body.as_str()), (503, "failing: injected failure second line\n"));

        m.job(JobKind::PurgeUrls, Area::Mainland, JobResult::Accepted);
        let (status, head, body) = ask(addr, &get("/metrics?x=1")).await;
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
        let s = parse(&body);
        assert_eq!(sample(&s, "cdnsync_syncs_total", &[("result", "failed")]), &Value::Counter(1.0));
        assert_eq!(sample(&s, "cdnsync_syncs_total", &[("result", "ok")]), &Value::Counter(1.0));

        let (status, head, body) = ask(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert!(!head.contains("Content-Length: 0"));
        assert_eq!(ask(addr, &get("/")).await.0, 404);
        assert_eq!(ask(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await.0, 405);
        // Garbage and oversized heads are cut off unanswered; an idle client blocks no one.
        let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(ask(addr, "\r\n\r\n").await.0, 0);
        assert_eq!(ask(addr, &format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(10_000))).await.0, 0);
        assert_eq!(ask(addr, &get("/healthz")).await.0, 503);

        server.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "stopped when told");
    });
}

#[test]
fn only_a_sync_that_left_nothing_owed_is_a_success() {
    let clock = ManualClock::new(1_800_000_000_000);
    let m = Metrics::new();
    let last = |m: &Metrics| m.registry().value("cdnsync_last_success_timestamp_seconds", &[]);
    m.sync_finished(SyncResult::QuotaDeferred, clock.now_ms());
    assert_eq!((last(&m), m.health()), (None, Health::QuotaDeferred), "healthy, but no success yet");
    m.sync_finished(SyncResult::Ok, clock.now_ms());
    assert_eq!(last(&m), Some(1_800_000_000.0));
    clock.advance(Duration::from_secs(60));
    m.sync_finished(SyncResult::QuotaDeferred, clock.now_ms());
    m.sync_finished(SyncResult::Failed("x".into()), clock.now_ms());
    assert_eq!(last(&m), Some(1_800_000_000.0));
}
