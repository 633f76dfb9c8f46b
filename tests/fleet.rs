//! Fleet coordination against a real `redis-server`, one per test on a free port (never the
//! shared one on 6379), with a unique key prefix each and a `ManualClock` driving leases, TTLs
//! and the barrier timeout.
//!
//! Without `redis-server` on PATH each test prints "skip: redis-server not found" and returns,
//! unless `CDNSYNC_REQUIRE_REDIS=1` (CI), which turns the skip into a failure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cdnsync::clock::{Clock, ManualClock};
use cdnsync::fleet::{
    CaPem, Claim, Content, Coordinator, Deploy, DueReport, FleetError, FleetSettings, Item, QuotaSpend, RateGrant, Repurge, Served,
};
use cdnsync::model::{Area, ContentHash, JobKind};

const T0: i64 = 1_700_000_000_000;

/// A `redis-server` of our own; killed on drop.
pub(crate) struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    /// Serve TLS only (with the test certificates in tests/data/fleet-tls).
    tls: bool,
}

fn tls_file(name: &str) -> String {
    format!("{}/tests/data/fleet-tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Redis {
    /// A server with `extra` arguments, or `None` (skip) when redis-server is not on PATH.
    pub(crate) fn start(extra: &[&str]) -> Option<Redis> {
        Self::start_with(extra, false)
    }

    fn start_with(extra: &[&str], tls: bool) -> Option<Redis> {
        let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("redis-server").is_file()));
        if !on_path {
            assert!(
                std::env::var("CDNSYNC_REQUIRE_REDIS").as_deref() != Ok("1"),
                "redis-server not found on PATH (CDNSYNC_REQUIRE_REDIS=1)"
            );
            eprintln!("skip: redis-server not found");
            return None;
        }
        let mut r =
            Redis { child: None, port: 0, dir: tempfile::tempdir().unwrap(), extra: extra.iter().map(|s| s.to_string()).collect(), tls };
        for _ in 0..5 {
            r.port = free_port();
            if r.spawn() {
                return Some(r);
            }
        }
        panic!("redis-server did not start on a free port");
    }

    /// Start on `self.port`; false if the server exited (port taken meanwhile).
    pub(crate) fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().unwrap().to_string();
        let args = ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", &dir, "--daemonize", "no"];
        let (cert, key, ca) = (tls_file("server.crt"), tls_file("server.key"), tls_file("ca.crt"));
        let tls = ["--port", "0", "--tls-port", &port, "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca];
        let mut child = Command::new("redis-server")
            .args(args)
            .args(if self.tls { &tls[..] } else { &[] })
            .args(if self.tls { &["--tls-auth-clients", "no"][..] } else { &[] })
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        for _ in 0..500 {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                if self.tls {
                    self.child = Some(child);
                    return true;
                }
                let mut buf = [0u8; 64];
                // Any answer (+PONG, or -NOAUTH with --requirepass) means it is serving.
                if s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0 && (buf[0] == b'+' || buf[0] == b'-')) {
                    self.child = Some(child);
                    return true;
                }
            }
            crate::util::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

fn settings(url: &str, prefix: &str, name: &str) -> FleetSettings {
    let mut s = FleetSettings::new(url, "www", name, &|_| None).unwrap();
    s.key_prefix = prefix.to_string();
    s.barrier_timeout = Duration::from_secs(300);
    s.lease = Duration::from_secs(30);
    s.heartbeat_ttl = Duration::from_secs(60);
    s.io_timeout = Duration::from_secs(3);
    s
}

fn member(r: &Redis, prefix: &str, name: &str, clock: &Arc<ManualClock>) -> Coordinator {
    Coordinator::new(settings(&r.url(), prefix, name), clock.clone() as Arc<dyn Clock>).unwrap()
}

fn hash(n: u32) -> ContentHash {
    ContentHash::of(&n.to_le_bytes())
}

fn item(i: usize, round: u32) -> Item {
    Item {
        kind: JobKind::PurgeUrls,
        area: Area::Mainland,
        domain: "www.example.com".into(),
        url: format!("https://www.example.com/p/{i}.html"),
        content: Content::Hash(hash(i as u32)),
        round,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Join `members` and publish the same full state: `paths` at version 0.
async fn fleet_at_v0(members: &[&Coordinator], paths: &[&str]) {
    for m in members {
        assert!(m.join(None).await.unwrap().needs_full_publish, "a new member has no state yet");
        m.publish_full(paths.iter().map(|p| (*p, Served::hash(hash(0))))).await.unwrap();
        assert!(!m.join(None).await.unwrap().needs_full_publish);
    }
}

fn held_by(r: &DueReport) -> Vec<String> {
    assert!(r.due.is_empty() && r.forced.is_empty(), "{r:?}");
    sorted(r.held[0].waiting_for.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_members_claim_overlapping_batches_exactly_once() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let all: Arc<Vec<Item>> = Arc::new((0..10_000).map(|i| item(i, 0)).collect());
    let members: Vec<Arc<Coordinator>> = (0..5).map(|i| Arc::new(member(&r, "once", &format!("m{i}"), &c))).collect();
    for m in &members {
        m.join(None).await.unwrap();
    }
    // Member i asks for 8,000 items starting at i * 2,000 (wrapping): each item is wanted by four.
    let mut tasks = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let (m, all) = (m.clone(), all.clone());
        tasks.push(tokio::spawn(async move {
            let idx: Vec<usize> = (0..8_000).map(|k| (i * 2_000 + k) % 10_000).collect();
            let batch: Vec<Item> = idx.iter().map(|&k| all[k].clone()).collect();
            let before = m.round_trips();
            let claims = m.claim(&batch).await.unwrap();
            assert!(m.round_trips() - before <= 8, "8,000 claims in {} round trips", m.round_trips() - before);
            idx.into_iter().zip(claims).collect::<Vec<_>>()
        }));
    }
    let mut owner: Vec<Vec<usize>> = vec![Vec::new(); 10_000];
    for (i, t) in tasks.into_iter().enumerate() {
        for (k, claim) in t.await.unwrap() {
            match claim {
                Claim::Mine => owner[k].push(i),
                Claim::Held { by } => assert_ne!(by, format!("m{i}")),
                other => panic!("item {k} for m{i}: {other:?}"),
            }
        }
    }
    for (k, o) in owner.iter().enumerate() {
        assert_eq!(o.len(), 1, "item {k} claimed by {o:?}");
    }
    // Each owner submits its own; afterwards nobody can claim any of them.
    for (i, m) in members.iter().enumerate() {
        let mine: Vec<Item> = (0..10_000).filter(|&k| owner[k][0] == i).map(|k| all[k].clone()).collect();
        m.submitted(&mine).await.unwrap();
    }
    c.advance(Duration::from_secs(3600));
    for m in &members {
        let again = m.claim(&all).await.unwrap();
        assert!(again.iter().all(|c| *c == Claim::Submitted), "{:?}", again.iter().find(|c| **c != Claim::Submitted));
    }
}

#[tokio::test]
async fn a_dead_holders_lease_is_taken_over() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b) = (member(&r, "lease", "a", &c), member(&r, "lease", "b", &c));
    let items: Vec<Item> = (0..3).map(|i| item(i, 0)).collect();
    assert!(a.claim(&items).await.unwrap().iter().all(|c| *c == Claim::Mine));
    assert_eq!(b.claim(&items).await.unwrap(), vec![Claim::Held { by: "a".into() }; 3]);

    // a renews at 20 s; at 45 s its renewed lease (until 50 s) still holds.
    c.advance(Duration::from_secs(20));
    assert!(a.claim(&items).await.unwrap().iter().all(|c| *c == Claim::Mine), "renewal");
    c.advance(Duration::from_secs(25));
    assert_eq!(b.claim(&items[..1]).await.unwrap(), vec![Claim::Held { by: "a".into() }]);

    // a dies: exactly when its lease ends, b takes over, and a is now the one held off.
    c.advance(Duration::from_millis(4_999));
    assert_eq!(b.claim(&items[..1]).await.unwrap(), vec![Claim::Held { by: "a".into() }]);
    c.advance(Duration::from_millis(1));
    assert_eq!(b.claim(&items).await.unwrap(), vec![Claim::TakenOver { from: "a".into() }; 3]);
    assert_eq!(a.claim(&items[..1]).await.unwrap(), vec![Claim::Held { by: "b".into() }]);

    // b submits one and releases another: the first is done for everyone, the second free.
    b.submitted(&items[..1]).await.unwrap();
    assert_eq!(b.release(&items[1..2]).await.unwrap(), 1);
    assert_eq!(a.release(&items[2..]).await.unwrap(), 0, "releasing someone else's claim does nothing");
    assert_eq!(a.claim(&items).await.unwrap(), vec![Claim::Submitted, Claim::Mine, Claim::Held { by: "b".into() }]);
    // Submitted even when the API accepted it from a member whose lease had lapsed.
    a.submitted(&items[2..]).await.unwrap();
    assert_eq!(b.claim(&items[2..]).await.unwrap(), vec![Claim::Submitted]);
}

#[tokio::test]
async fn the_barrier_holds_a_purge_until_every_live_member_serves_it() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b, m) = (member(&r, "bar", "a", &c), member(&r, "bar", "b", &c), member(&r, "bar", "c", &c));
    fleet_at_v0(&[&a, &b, &m], &["index.html", "old.html", "draft.html"]).await;
    let v1 = Content::Hash(hash(1));

    // index.html changes: a has it first.
    a.publish_served(&[("index.html", Served::hash(hash(1)))]).await.unwrap();
    let rep = a.due(&[("index.html", v1)]).await.unwrap();
    assert_eq!(held_by(&rep), vec!["b", "c"]);
    assert_eq!(rep.held[0].until_ms, T0 + 300_000);
    b.publish_served(&[("index.html", Served::hash(hash(1)))]).await.unwrap();
    assert_eq!(held_by(&b.due(&[("index.html", v1)]).await.unwrap()), vec!["c"]);
    m.publish_served(&[("index.html", Served::hash(hash(1)))]).await.unwrap();
    let rep = m.due(&[("index.html", v1)]).await.unwrap();
    assert_eq!((rep.due.len(), rep.due[0].round), (1, 0), "{rep:?}");

    // A removal waits for the members that still have the file; a new file for those without it.
    a.publish_served(&[("old.html", Served::Content(Content::Removed)), ("new.html", Served::hash(hash(1)))]).await.unwrap();
    let rep = a.due(&[("old.html", Content::Removed), ("new.html", v1)]).await.unwrap();
    assert_eq!(
        rep.held.iter().map(|h| (h.index, sorted(h.waiting_for.clone()))).collect::<Vec<_>>(),
        vec![(0, vec!["b".to_string(), "c".to_string()]), (1, vec!["b".to_string(), "c".to_string()])]
    );
    for x in [&b, &m] {
        x.publish_served(&[("old.html", Served::Content(Content::Removed)), ("new.html", Served::hash(hash(1)))]).await.unwrap();
    }
    assert_eq!(a.due(&[("old.html", Content::Removed), ("new.html", v1)]).await.unwrap().due.len(), 2);

    // A member whose rules exclude a path never holds it back.
    m.publish_served(&[("draft.html", Served::Excluded)]).await.unwrap();
    for x in [&a, &b] {
        x.publish_served(&[("draft.html", Served::hash(hash(1)))]).await.unwrap();
    }
    assert_eq!(a.due(&[("draft.html", v1)]).await.unwrap().due.len(), 1);
}

#[tokio::test]
async fn a_member_whose_heartbeat_lapsed_stops_holding_the_barrier() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b, m) = (member(&r, "lapse", "a", &c), member(&r, "lapse", "b", &c), member(&r, "lapse", "c", &c));
    fleet_at_v0(&[&a, &b, &m], &["x.html", "y.html"]).await;
    for x in [&a, &b] {
        x.publish_served(&[("x.html", Served::hash(hash(1))), ("y.html", Served::hash(hash(1)))]).await.unwrap();
    }
    a.join(Some(&Deploy { id: "deploy-2".into(), at_ms: T0 + 5_000 })).await.unwrap();
    assert_eq!(held_by(&a.due(&[("x.html", Content::Hash(hash(1)))]).await.unwrap()), vec!["c"]);

    // c stops heartbeating; a and b go on. At 60 s c is still live, past it no longer.
    c.advance(Duration::from_secs(60));
    for x in [&a, &b] {
        x.join(None).await.unwrap();
    }
    assert_eq!(held_by(&a.due(&[("x.html", Content::Hash(hash(1)))]).await.unwrap()), vec!["c"]);
    c.advance(Duration::from_millis(1));
    assert_eq!(a.due(&[("x.html", Content::Hash(hash(1)))]).await.unwrap().due.len(), 1);

    let members = a.members().await.unwrap();
    let view: Vec<_> = members.iter().map(|m| (m.name.as_str(), m.live, m.ready, m.behind_ms)).collect();
    assert_eq!(view, vec![("a", true, true, Some(0)), ("b", true, true, None), ("c", false, true, None)]);
    assert_eq!(members[0].deploy, Some(Deploy { id: "deploy-2".into(), at_ms: T0 + 5_000 }));

    // c comes back (still at v0): it holds the barrier again; b leaves: it holds nothing.
    m.join(None).await.unwrap();
    assert_eq!(held_by(&a.due(&[("y.html", Content::Hash(hash(1)))]).await.unwrap()), vec!["c"]);
    m.leave().await.unwrap();
    assert_eq!(a.due(&[("y.html", Content::Hash(hash(1)))]).await.unwrap().due.len(), 1);
}

#[tokio::test]
async fn past_the_timeout_the_purge_is_forced_then_repeated_when_the_laggard_catches_up() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b, m) = (member(&r, "force", "a", &c), member(&r, "force", "b", &c), member(&r, "force", "c", &c));
    fleet_at_v0(&[&a, &b, &m], &["p.html", "q.html"]).await;
    let v1 = Content::Hash(hash(1));
    a.publish_served(&[("p.html", Served::hash(hash(1))), ("q.html", Served::hash(hash(1)))]).await.unwrap();
    b.publish_served(&[("q.html", Served::hash(hash(1)))]).await.unwrap();
    let items = [("p.html", v1), ("q.html", v1)];
    assert_eq!(a.due(&items).await.unwrap().held.len(), 2);

    c.advance(Duration::from_secs(299));
    for x in [&a, &b, &m] {
        x.join(None).await.unwrap();
    }
    assert_eq!(a.due(&items).await.unwrap().held.len(), 2, "not yet");
    c.advance(Duration::from_secs(1));
    let rep = a.due(&items).await.unwrap();
    let forced: Vec<_> = rep.forced.iter().map(|f| (f.index, f.round, sorted(f.laggards.clone()))).collect();
    assert_eq!(forced, vec![(0, 0, vec!["b".to_string(), "c".to_string()]), (1, 0, vec!["c".to_string()])]);
    let purge = |path: &str, round| Item { url: format!("https://www.example.com/{path}"), content: v1, round, ..item(0, 0) };
    assert_eq!(a.claim(&[purge("p.html", 0)]).await.unwrap(), vec![Claim::Mine]);
    a.submitted(&[purge("p.html", 0)]).await.unwrap();
    assert_eq!(b.due(&items).await.unwrap().forced.len(), 2, "still forced for everyone, same round");
    assert!(a.repurges().await.unwrap().is_empty(), "laggards still behind");

    // b catches up on p: c is still behind on both, so nothing is repeated yet.
    b.publish_served(&[("p.html", Served::hash(hash(1)))]).await.unwrap();
    assert!(a.repurges().await.unwrap().is_empty());
    // c catches up: both are owed again, as round 1, to whoever takes them up first.
    m.publish_served(&[("p.html", Served::hash(hash(1))), ("q.html", Served::hash(hash(1)))]).await.unwrap();
    let mut again = b.repurges().await.unwrap();
    again.sort_by(|x, y| x.path.cmp(&y.path));
    let want = |p: &str| Repurge { path: p.into(), content: v1, round: 1 };
    assert_eq!(again, vec![want("p.html"), want("q.html")]);
    let rep = m.due(&items).await.unwrap();
    assert_eq!(rep.due.iter().map(|d| d.round).collect::<Vec<_>>(), vec![1, 1], "{rep:?}");
    assert_eq!(m.claim(&[purge("p.html", 1)]).await.unwrap(), vec![Claim::Mine], "round 1 is a new purge");
    assert_eq!(b.claim(&[purge("p.html", 1)]).await.unwrap(), vec![Claim::Held { by: "c".into() }]);
    m.settle(&[want("p.html")]).await.unwrap();
    assert_eq!(a.repurges().await.unwrap(), vec![want("q.html")], "settled ones are no longer offered");
    assert_eq!(a.due(&items[..1]).await.unwrap().due[0].round, 1, "the round stays after settling");
}

#[tokio::test]
async fn a_forced_purge_is_repeated_when_its_laggard_leaves() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b) = (member(&r, "gone", "a", &c), member(&r, "gone", "b", &c));
    fleet_at_v0(&[&a, &b], &["p.html"]).await;
    a.publish_served(&[("p.html", Served::hash(hash(1)))]).await.unwrap();
    assert_eq!(held_by(&a.due(&[("p.html", Content::Hash(hash(1)))]).await.unwrap()), vec!["b"]);
    for _ in 0..5 {
        c.advance(Duration::from_secs(60));
        for x in [&a, &b] {
            x.join(None).await.unwrap();
        }
    }
    assert_eq!(a.due(&[("p.html", Content::Hash(hash(1)))]).await.unwrap().forced[0].laggards, vec!["b".to_string()]);
    assert!(a.repurges().await.unwrap().is_empty(), "b is live and behind");
    c.advance(Duration::from_secs(61));
    a.join(None).await.unwrap();
    // b's heartbeat is now 61 s old: it is gone, so the forced purge is owed once more.
    assert_eq!(a.repurges().await.unwrap(), vec![Repurge { path: "p.html".into(), content: Content::Hash(hash(1)), round: 1 }]);
}

fn unavailable(e: FleetError, port: u16) {
    assert!(e.is_unavailable(), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("redis://127.0.0.1:{port}")) && msg.contains("unavailable"), "{msg}");
}

#[tokio::test]
async fn redis_killed_mid_run_is_unavailable_and_members_rejoin_when_it_returns() {
    let Some(mut r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b) = (member(&r, "kill", "a", &c), member(&r, "kill", "b", &c));
    fleet_at_v0(&[&a, &b], &["p.html"]).await;
    let items: Vec<Item> = (0..5).map(|i| item(i, 0)).collect();
    assert!(a.claim(&items).await.unwrap().iter().all(Claim::is_mine));
    a.submitted(&items).await.unwrap();

    r.kill();
    let port = r.port;
    unavailable(a.join(None).await.unwrap_err(), port);
    unavailable(a.claim(&items).await.unwrap_err(), port);
    unavailable(b.due(&[("p.html", Content::Hash(hash(1)))]).await.unwrap_err(), port);
    unavailable(b.submitted(&items).await.unwrap_err(), port);
    unavailable(a.rate_take("PurgeUrlsCache", 1, 20, Duration::from_secs(1)).await.unwrap_err(), port);
    unavailable(a.quota_spend(JobKind::PurgeUrls, Area::Mainland, 1, 100).await.unwrap_err(), port);
    unavailable(b.members().await.unwrap_err(), port);

    // A new, empty server on the same port: members reconnect and rejoin from scratch.
    assert!(r.spawn(), "restart on port {port}");
    let j = a.join(None).await.unwrap();
    assert!(j.needs_full_publish, "Redis lost a's state");
    a.publish_full([("p.html", Served::hash(hash(0)))]).await.unwrap();
    assert_eq!(b.join(None).await.unwrap().live_members, 2);
    // The worst outcome: what was submitted before is claimable again (a duplicate purge).
    assert!(b.claim(&items).await.unwrap().iter().all(Claim::is_mine));
    assert_eq!((a.connects(), b.connects()), (2, 2));
}

#[tokio::test]
async fn password_from_url_or_env_and_a_clear_error_for_a_wrong_one() {
    let Some(r) = Redis::start(&["--requirepass", "S3cret-pw"]) else { return };
    let c = clock() as Arc<dyn Clock>;
    let url_pw = format!("redis://:S3cret-pw@127.0.0.1:{}", r.port);
    let ok = Coordinator::new(FleetSettings::new(&url_pw, "www", "a", &|_| None).unwrap(), c.clone()).unwrap();
    assert!(ok.join(None).await.unwrap().needs_full_publish);
    let env = |k: &str| (k == "CDNSYNC_REDIS_PASSWORD").then(|| "S3cret-pw".to_string());
    let from_env = Coordinator::new(FleetSettings::new(&r.url(), "www", "b", &env).unwrap(), c.clone()).unwrap();
    assert_eq!(from_env.join(None).await.unwrap().live_members, 2);
    assert!(!format!("{from_env:?}").contains("S3cret"), "{from_env:?}");

    let wrong = format!("redis://:Wr0ng-pw@127.0.0.1:{}", r.port);
    for (url, env) in [(wrong.as_str(), None), (&r.url(), None), (&r.url(), Some("Wr0ng-pw"))] {
        let get = move |k: &str| (k == "CDNSYNC_REDIS_PASSWORD").then(|| env.map(str::to_string)).flatten();
        let bad = Coordinator::new(FleetSettings::new(url, "www", "c", &get).unwrap(), c.clone()).unwrap();
        let e = bad.join(None).await.unwrap_err();
        assert!(matches!(e, FleetError::Auth { .. }), "{e:?}");
        let shown = format!("{e} / {e:?}");
        assert!(shown.contains("refused the credentials") && shown.contains(&format!("127.0.0.1:{}", r.port)), "{shown}");
        assert!(!shown.contains("Wr0ng") && !shown.contains("S3cret"), "{shown}");
    }
}

#[tokio::test]
async fn one_round_trip_per_thousand_items_or_better() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let members: Vec<Coordinator> = ["a", "b", "c"].iter().map(|n| member(&r, "rt", n, &c)).collect();
    let paths: Vec<String> = (0..10_000).map(|i| format!("p/{i}.html")).collect();
    let changes: Vec<(&str, Served)> = paths.iter().map(|p| (p.as_str(), Served::hash(hash(1)))).collect();
    let wanted: Vec<(&str, Content)> = paths.iter().map(|p| (p.as_str(), Content::Hash(hash(1)))).collect();
    let items: Vec<Item> = (0..10_000).map(|i| item(i, 0)).collect();
    let count = |m: &Coordinator, before: u64, what: &str, limit: u64| {
        let used = m.round_trips() - before;
        assert!(used <= limit, "{what}: {used} round trips for 10,000 items");
    };
    for m in &members {
        m.join(None).await.unwrap(); // connects and loads the scripts: 2 round trips
        let n = m.round_trips();
        m.publish_full(changes.iter().map(|(p, _)| (*p, Served::hash(hash(0))))).await.unwrap();
        count(m, n, "publish_full", 10);
        let n = m.round_trips();
        m.publish_served(&changes).await.unwrap();
        count(m, n, "publish_served", 10);
    }
    for m in &members {
        let n = m.round_trips();
        assert_eq!(m.due(&wanted).await.unwrap().due.len(), 10_000);
        count(m, n, "due", 10);
        let n = m.round_trips();
        let mine: Vec<Item> =
            m.claim(&items).await.unwrap().iter().zip(&items).filter(|(c, _)| c.is_mine()).map(|(_, i)| i.clone()).collect();
        count(m, n, "claim", 10);
        let n = m.round_trips();
        m.submitted(&mine).await.unwrap();
        count(m, n, "submitted", 10);
    }
    assert_eq!(members[0].round_trips(), 2 + 5, "one pipeline per call for the first member");
}

#[tokio::test]
async fn the_fleet_shares_one_rate_window_and_one_quota_ledger() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let (a, b) = (member(&r, "lim", "a", &c), member(&r, "lim", "b", &c));
    let sec = Duration::from_millis(1010);
    let RateGrant::Granted(ta) = a.rate_take("PurgeUrlsCache", 15, 20, sec).await.unwrap() else { panic!("a first") };
    let RateGrant::Granted(tb) = b.rate_take("PurgeUrlsCache", 5, 20, sec).await.unwrap() else { panic!("b next") };
    assert_eq!((ta.len(), tb.len()), (15, 5));
    assert_eq!(a.rate_take("PurgeUrlsCache", 1, 20, sec).await.unwrap(), RateGrant::Wait(Duration::from_millis(50)), "all in flight");
    assert!(matches!(a.rate_take("PushUrlsCache", 20, 20, sec).await.unwrap(), RateGrant::Granted(_)), "another action");
    a.rate_done("PurgeUrlsCache", ta).await.unwrap();
    c.advance(Duration::from_millis(10));
    assert_eq!(b.rate_take("PurgeUrlsCache", 1, 20, sec).await.unwrap(), RateGrant::Wait(Duration::from_millis(1000)));
    c.advance(Duration::from_millis(1000));
    assert!(matches!(b.rate_take("PurgeUrlsCache", 15, 20, sec).await.unwrap(), RateGrant::Granted(t) if t.len() == 15));
    assert!(matches!(a.rate_take("PurgeUrlsCache", 0, 20, sec).await, Err(FleetError::Invalid(_))));

    let (k, ar) = (JobKind::PurgeUrls, Area::Mainland);
    assert_eq!(a.quota_spend(k, ar, 60, 100).await.unwrap(), QuotaSpend { granted: 60, used: 60 });
    assert_eq!(b.quota_spend(k, ar, 60, 100).await.unwrap(), QuotaSpend { granted: 40, used: 100 });
    assert_eq!(b.quota_spend(k, Area::Overseas, 60, 100).await.unwrap().granted, 60, "per area");
    assert_eq!(b.quota_refund(k, ar, 10).await.unwrap(), 90);
    assert_eq!(a.quota_observe(k, ar, 5, 100).await.unwrap(), 95, "others spent some of the account's quota");
    assert_eq!(a.quota_observe(k, ar, 50, 100).await.unwrap(), 95, "never lowered by an older reading");
    assert_eq!(a.quota_used(k, ar).await.unwrap(), 95);
    // 00:00 China time starts a new quota day.
    let next = cdnsync::clock::next_quota_reset(c.now_unix()) * 1000;
    c.set_ms(next - 1);
    assert_eq!(a.quota_used(k, ar).await.unwrap(), 95);
    c.set_ms(next);
    assert_eq!(a.quota_used(k, ar).await.unwrap(), 0);
    assert_eq!(b.quota_spend(k, ar, 60, 100).await.unwrap(), QuotaSpend { granted: 60, used: 60 });
}

#[tokio::test]
async fn rediss_trusts_the_ca_it_is_given_and_nothing_else() {
    let Some(r) = Redis::start_with(&[], true) else { return };
    let c = clock();
    let ca = CaPem(std::fs::read(tls_file("ca.crt")).unwrap());
    for host in ["127.0.0.1", "localhost"] {
        let mut s = settings(&format!("rediss://{host}:{}", r.port), "tls", host);
        s.tls_ca = Some(ca.clone());
        let m = Coordinator::new(s, c.clone() as Arc<dyn Clock>).unwrap();
        assert!(m.join(None).await.unwrap().needs_full_publish, "{host}");
        assert_eq!(m.claim(&[item(1, 0)]).await.unwrap().len(), 1);
    }
    // Without the test CA (the system's roots), and plain text to the TLS port: refused, named.
    let no_ca = Coordinator::new(settings(&format!("rediss://localhost:{}", r.port), "tls", "x"), c.clone() as Arc<dyn Clock>).unwrap();
    let plain = Coordinator::new(settings(&format!("redis://localhost:{}", r.port), "tls", "y"), c.clone() as Arc<dyn Clock>).unwrap();
    for (m, shown) in [(no_ca, "rediss://localhost"), (plain, "redis://localhost")] {
        let e = m.join(None).await.unwrap_err();
        assert!(e.is_unavailable() && e.to_string().contains(shown), "{e:?}");
    }
}

/// Send one command to the test server as a foreign client would (RESP over TCP), return the reply.
fn raw(port: u16, args: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn foreign_or_damaged_data_in_the_key_space() {
    let Some(r) = Redis::start(&[]) else { return };
    let c = clock();
    let a = member(&r, "foreign", "a", &c);
    a.join(None).await.unwrap();
    // A claim record someone mangled counts as an expired lease: taken over, never a crash.
    let it = item(7, 0);
    assert_eq!(a.claim(std::slice::from_ref(&it)).await.unwrap(), vec![Claim::Mine]);
    let b = member(&r, "foreign", "b", &c);
    assert_eq!(
        raw(
            r.port,
            &["EVAL", "for _, k in ipairs(redis.call('KEYS', 'foreign:{www}:c:*')) do redis.call('SET', k, 'garbage') end return 1", "0"]
        ),
        ":1\r\n"
    );
    assert_eq!(b.claim(std::slice::from_ref(&it)).await.unwrap(), vec![Claim::TakenOver { from: String::new() }]);
    // Another program's value where the member list should be: a protocol error, not "unavailable".
    assert_eq!(raw(r.port, &["SET", "foreign:{www}:members", "not a hash"]), "+OK\r\n");
    let e = a.join(None).await.unwrap_err();
    assert!(matches!(e, FleetError::Protocol { op: "join", .. }) && !e.is_unavailable(), "{e:?}");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_io_timeout() {
    // A listener nobody accepts on: the kernel completes the handshake, nothing ever answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut s = settings(&format!("redis://127.0.0.1:{port}"), "silent", "a");
    s.io_timeout = Duration::from_millis(300);
    let m = Coordinator::new(s, clock() as Arc<dyn Clock>).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), m.join(None)).await.expect("gave up by itself").unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
    drop(silent);
}
