//! Fleet coordination at scale: 10 members × 10,000 changed URLs against a private
//! `redis-server` on 127.0.0.1, against one server doing the same calls alone.
//!
//! ```text
//! cargo bench --bench fleet
//! ```
//! Each member publishes its whole tree once (10,000 paths), then a deploy changes every file
//! and reaches the members one after another. Each member, as its sync would: heartbeat,
//! publish what it serves now, ask the barrier about its 10,000 purges (held for all but the
//! last member), and — for the last member — claim them and record them submitted; then every
//! other member asks again and finds them submitted. Printed:
//! - Redis round trips per member and per 1,000 URLs (the aim: at most 1 per 1,000 per call);
//! - the time from the last member's files landing to every purge claimed and recorded
//!   (the fleet's critical path), against the same calls by a single server with no fleet
//!   around it (medians of 3): the ratio is what the 9 other members' state costs;
//! - the process's peak memory (all 10 coordinators share it) and Redis' own memory.
//!
//! Settings: `CDNSYNC_BENCH_URLS` (default 10000), `CDNSYNC_BENCH_MEMBERS` (default 10). Needs
//! `redis-server` on the PATH (Debian's package); without it the bench says so and stops.
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock by definition

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdnsync::clock::{Clock, SystemClock};
use cdnsync::fleet::{Claim, Content, Coordinator, FleetSettings, Item, Served};
use cdnsync::model::{Area, ContentHash, JobKind};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<Server> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server(child, port);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn coordinator(port: u16, prefix: &str, name: &str) -> Coordinator {
    let mut s = FleetSettings::new(&format!("redis://127.0.0.1:{port}"), "www", name, &|_| None).unwrap();
    s.key_prefix = prefix.to_string();
    s.io_timeout = Duration::from_secs(60);
    Coordinator::new(s, Arc::new(SystemClock) as Arc<dyn Clock>).unwrap()
}

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn redis_memory(port: u16) -> String {
    let out = Command::new("redis-cli").args(["-p", &port.to_string(), "info", "memory"]).output();
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("used_memory_human:").map(str::trim).map(String::from)))
        .unwrap_or_else(|| "unknown (no redis-cli)".into())
}

/// One run: `members` members, `n` paths. Returns (critical path, round trips per member call
/// set, items the last member claimed).
async fn run(port: u16, members: usize, n: usize, tag: &str) -> (Duration, Vec<u64>, usize) {
    let prefix = format!("bench{tag}{}", fastrand::u32(..));
    let paths: Vec<String> = (0..n).map(|i| format!("d{}/page-{i}.html", i % 100)).collect();
    let v1 = ContentHash::of(b"v1");
    let v2 = ContentHash::of(b"v2");
    let fleet: Vec<Coordinator> = (0..members).map(|m| coordinator(port, &prefix, &format!("m{m}"))).collect();
    for c in &fleet {
        c.join(None).await.unwrap();
        c.publish_full(paths.iter().map(|p| (p.as_str(), Served::hash(v1)))).await.unwrap();
    }
    let served: Vec<(&str, Served)> = paths.iter().map(|p| (p.as_str(), Served::hash(v2))).collect();
    let asked: Vec<(&str, Content)> = paths.iter().map(|p| (p.as_str(), Content::Hash(v2))).collect();
    let items: Vec<Item> = paths
        .iter()
        .map(|p| Item {
            kind: JobKind::PurgeUrls,
            area: Area::Mainland,
            domain: "www.example.com".into(),
            url: format!("https://www.example.com/{p}"),
            content: Content::Hash(v2),
            round: 0,
        })
        .collect();
    let before: Vec<u64> = fleet.iter().map(Coordinator::round_trips).collect();
    // The deploy reaches the members one after another; all but the last are held.
    for c in &fleet[..members - 1] {
        c.join(None).await.unwrap();
        c.publish_served(&served).await.unwrap();
        let d = c.due(&asked).await.unwrap();
        assert_eq!(d.held.len(), n, "held until the last member has the bytes");
    }
    let last = &fleet[members - 1];
    let t = Instant::now();
    last.join(None).await.unwrap();
    last.publish_served(&served).await.unwrap();
    let d = last.due(&asked).await.unwrap();
    assert_eq!(d.due.len(), n, "due once every member serves it");
    let claims = last.claim(&items).await.unwrap();
    let mine = claims.iter().filter(|c| c.is_mine()).count();
    last.submitted(&items).await.unwrap();
    let critical = t.elapsed();
    // The others ask again: due, and already submitted.
    for c in &fleet[..members - 1] {
        c.due(&asked).await.unwrap();
        let again = c.claim(&items).await.unwrap();
        assert!(again.iter().all(|c| *c == Claim::Submitted), "submitted once for the fleet");
    }
    let trips = fleet.iter().zip(&before).map(|(c, b)| c.round_trips() - b).collect();
    (critical, trips, mine)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("CDNSYNC_BENCH_URLS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let members: usize = std::env::var("CDNSYNC_BENCH_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10).max(2);
    let Some(redis) = start_redis() else {
        println!("skip: redis-server not found on the PATH (Debian: apt-get install redis-server)");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!("{members} members × {n} changed URLs, redis-server on 127.0.0.1:{}", redis.1);
    let (mut fleet, mut solo) = (Vec::new(), Vec::new());
    let mut trips = Vec::new();
    for round in 0..3 {
        let (t, tr, mine) = rt.block_on(run(redis.1, members, n, &format!("f{round}")));
        assert_eq!(mine, n);
        fleet.push(t);
        trips = tr;
        let (t, _, mine) = rt.block_on(run(redis.1, 1, n, &format!("s{round}")));
        assert_eq!(mine, n);
        solo.push(t);
    }
    let (f, s) = (median(fleet), median(solo));
    let per_member_max = trips.iter().copied().max().unwrap_or(0);
    println!("round trips per member for the deploy (heartbeat, publish, barrier, claim/submit or re-ask): {trips:?}");
    println!("  at most {per_member_max} per member = {:.2} per 1,000 URLs", per_member_max as f64 * 1000.0 / n as f64);
    println!(
        "last member's files landed → every purge claimed and recorded: {:.3} s with {members} members, {:.3} s for one server alone → {:.2}×",
        f.as_secs_f64(),
        s.as_secs_f64(),
        f.as_secs_f64() / s.as_secs_f64()
    );
    println!("peak memory of this process (all {members} coordinators and the test data): {} MB", kib("VmHWM:") / 1024);
    println!("redis used_memory after 6 runs (keys are kept for the retention span): {}", redis_memory(redis.1));
}
