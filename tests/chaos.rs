//! Deploys keep coming while syncs are killed at random and requests fail, some after the API did
//! the work; at the end every changed (URL, area) has a purge the API accepted *after* the URL's
//! last change.
//!
//! The real binary against the fake: syncs run to their end, or are SIGKILLed at a failpoint
//! (`src/failpoint.rs`) or after a random delay, with a deploy landing while they run; the fake
//! fails 30% of the submissions (HTTP 503, `InternalError`, throttling, dropped connections) and
//! queued faults add answers lost after acceptance (`AcceptThenDrop`) and answers later than
//! `timeout_secs` (`Latency`). Each seed is one reproducible schedule (process timings aside).
//!
//! CI runs the seeds in [`CI_SEEDS`]; `CDNSYNC_TEST_SEEDS=50 cargo test --test integration chaos::`
//! runs seeds 1 to 50 instead, and `CDNSYNC_TEST_SEED=17` just that one.

use std::collections::BTreeMap;
use std::time::Duration;

use cdnsync::clock::{Clock, SystemClock};
use cdnsync::fake::{AcceptedJob, FakeCdn, Fault, FaultRule};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

const CI_SEEDS: &[u64] = &[1, 2, 3];
const FILES: usize = 10;
const ROUNDS: usize = 7;
const FAILPOINTS: &[&str] = &["scan", "outbox-written", "manifest-written", "job-accepted"];

fn seeds() -> Vec<u64> {
    if let Some(one) = std::env::var("CDNSYNC_TEST_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![one];
    }
    match std::env::var("CDNSYNC_TEST_SEEDS").ok().and_then(|s| s.parse::<u64>().ok()) {
        Some(n) => (1..=n).collect(),
        None => CI_SEEDS.to_vec(),
    }
}

fn url(i: usize) -> String {
    format!("https://www.example.com/p/{i}.html")
}

/// One seed's world: the fake, the site, and when each URL last changed (ms, taken once the
/// change was on disk).
struct World {
    fake: FakeCdn,
    site: TempSite,
    rng: fastrand::Rng,
    last_change: BTreeMap<String, i64>,
    removed: Vec<bool>,
    version: usize,
    log: Vec<String>,
}

impl World {
    /// Change 1–3 files (rarely remove one); remember when.
    fn deploy(&mut self) {
        self.version += 1;
        for _ in 0..self.rng.usize(1..=3) {
            let i = self.rng.usize(0..FILES);
            if self.removed[i] {
                continue;
            }
            let rel = format!("p/{i}.html");
            if self.rng.u8(0..10) == 0 {
                self.site.remove(&rel);
                self.removed[i] = true;
            } else {
                self.site.write(&rel, &format!("version {} of {i}", self.version));
            }
            self.last_change.insert(url(i), SystemClock.now_ms());
        }
    }

    /// Queue a few answers that never arrive although the API did the work.
    fn queue_ambiguous_faults(&mut self) {
        let fault = match self.rng.u8(0..4) {
            0 | 1 => Fault::AcceptThenDrop,
            2 => Fault::Latency(Duration::from_millis(1300)),
            _ => return,
        };
        self.log.push(format!("queue {fault:?}"));
        self.fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault, count: self.rng.u32(1..=2) });
    }

    /// One sync that runs to its end, or is killed at a failpoint or after a random delay (with a
    /// deploy landing while it runs).
    fn sync(&mut self) {
        match self.rng.u8(0..3) {
            0 => {
                let out = self.site.run(&["sync"]);
                self.log.push(format!("sync: exit {}", out.code));
                assert!(out.code == 0 || out.code == 1, "exit {}: {}", out.code, out.stderr);
            }
            1 => {
                let point = FAILPOINTS[self.rng.usize(0..FAILPOINTS.len())];
                let mut run = self.site.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", point)]);
                for _ in 0..3000 {
                    if run.lines_now().iter().any(|l| l.contains("cdnsync: failpoint")) || run.child.try_wait().unwrap().is_some() {
                        break;
                    }
                    sleep(Duration::from_millis(10));
                }
                let reached = run.lines_now().iter().any(|l| l.contains("cdnsync: failpoint"));
                self.log.push(format!("sync killed at {point} (reached: {reached})"));
                run.kill();
            }
            _ => {
                let mut run = self.site.spawn(&["sync"], &[]);
                sleep(Duration::from_millis(self.rng.u64(0..300)));
                self.deploy();
                sleep(Duration::from_millis(self.rng.u64(0..300)));
                let done = run.child.try_wait().unwrap().is_some();
                self.log.push(format!("sync with a deploy during it, killed (had finished: {done})"));
                run.kill();
            }
        }
    }

    /// Every changed (URL, area) without a purge accepted after its last change.
    fn stale(&self) -> Vec<String> {
        let accepted = self.fake.accepted();
        let covers = |a: &AcceptedJob, u: &str, area: Area| {
            a.areas.contains(&area)
                && match a.kind {
                    JobKind::PurgeUrls => a.urls.iter().any(|x| x == u),
                    JobKind::PurgePaths => a.urls.iter().any(|d| u.starts_with(d.as_str())),
                    JobKind::PrefetchUrls => false,
                }
        };
        let mut stale = Vec::new();
        for (u, &changed) in &self.last_change {
            for area in Area::ALL {
                if !accepted.iter().any(|a| a.at_ms > changed && covers(a, u, area)) {
                    let last = accepted.iter().filter(|a| covers(a, u, area)).map(|a| a.at_ms).max();
                    stale.push(format!("{u} {area}: changed at {changed}, last purge accepted at {last:?}"));
                }
            }
        }
        stale
    }
}

fn run_seed(seed: u64) {
    let fake = fake_with(|c| {
        c.seed = seed;
        url_batch(c, 4);
    });
    let site = TempSite::new(&fake, "", "");
    site.edit_config("timeout_secs = 5", "timeout_secs = 1");
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 1\nconcurrency = 2");
    for i in 0..FILES {
        site.write(&format!("p/{i}.html"), "version 0");
    }
    site.run(&["sync"]).expect(0);
    fake.set_fault_rate(0.3);
    let mut w = World {
        fake,
        site,
        rng: fastrand::Rng::with_seed(seed),
        last_change: BTreeMap::new(),
        removed: vec![false; FILES],
        version: 0,
        log: Vec::new(),
    };
    for _ in 0..ROUNDS {
        w.deploy();
        w.queue_ambiguous_faults();
        w.sync();
    }
    // The network heals: syncs until one ends with nothing owed (queued faults may still bite).
    w.fake.set_fault_rate(0.0);
    w.site.edit_config("retry_deadline_secs = 1", "retry_deadline_secs = 20");
    let mut healthy = false;
    for _ in 0..6 {
        let out = w.site.run(&["--json", "sync"]);
        w.log.push(format!("healthy sync: exit {}", out.code));
        if out.code == 0 && out.json()["outbox"]["pending"] == 0 {
            healthy = true;
            break;
        }
    }
    assert!(healthy, "seed {seed}: still owed after the network healed\n{}", w.log.join("\n"));
    let stale = w.stale();
    assert!(
        stale.is_empty(),
        "seed {seed} (rerun with CDNSYNC_TEST_SEED={seed}): changes never purged after they were made:\n{}\nschedule:\n{}",
        stale.join("\n"),
        w.log.join("\n")
    );
}

#[test]
fn every_change_gets_a_purge_accepted_after_it_despite_kills_and_faults() {
    for seed in seeds() {
        run_seed(seed);
    }
}
