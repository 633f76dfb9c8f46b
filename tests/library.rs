//! The engine as a library, on a [`ManualClock`] shared with the fake: backoff, rate limits and
//! the daily quota reset happen in simulated time, so these runs take milliseconds.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cdnsync::clock::{Clock, ManualClock};
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, JobKind};
use cdnsync::{AnyApi, Engine, SyncOptions};

use crate::util::*;

/// 2026-11-23 23:59:00 China Standard Time, in milliseconds.
const LATE_EVENING_CST_MS: i64 = 1_795_449_540_000;

fn engine(site: &TempSite, clock: &ManualClock) -> Engine<AnyApi> {
    let cfg = cdnsync::config::load(&site.dir.join("cdnsync.toml")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let api = cdnsync::api_for(&cfg, Credentials::new(SECRET_ID, SECRET_KEY, None), clock.clone()).unwrap();
    Engine::new(cfg, api, clock)
}

fn fake_on(clock: &ManualClock, f: impl FnOnce(&mut FakeConfig)) -> FakeCdn {
    let mut c = FakeConfig { clock: Arc::new(clock.clone()), ..FakeConfig::default() };
    f(&mut c);
    FakeCdn::start(c).unwrap()
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// `n` pages deployed (the baseline) and then all edited, with today's overseas purge quotas
/// used up, on a fake and an engine sharing `clock`.
fn edited_with_overseas_quota_gone(clock: &ManualClock, n: usize) -> (FakeCdn, TempSite, Engine<AnyApi>) {
    let fake = fake_on(clock, |_| {});
    let site = TempSite::new(&fake, "", "");
    for i in 0..n {
        site.write(&format!("p/{i}.html"), "v1");
    }
    let e = engine(&site, clock);
    block(e.sync(&SyncOptions::default(), &())).unwrap();
    for i in 0..n {
        site.write(&format!("p/{i}.html"), "v2");
    }
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 0);
    fake.set_available(JobKind::PurgePaths, Area::Overseas, 0);
    (fake, site, e)
}

#[test]
fn clock_constant_is_late_evening_in_china() {
    let unix = LATE_EVENING_CST_MS / 1000;
    assert_eq!(cdnsync::clock::next_quota_reset(unix) - unix, 60, "one minute to the reset");
}

#[test]
fn thirty_percent_transient_faults_one_sync_delivers_everything() {
    for seed in [1, 2, 3] {
        let clock = ManualClock::new(LATE_EVENING_CST_MS - 3_600_000);
        let fake = fake_on(&clock, |c| {
            c.seed = seed;
            url_batch(c, 10);
        });
        let site = TempSite::new(&fake, "", "");
        site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 300");
        let pages: Vec<String> = (0..150).map(|i| format!("d{}/{}.html", i % 10, i)).collect();
        let indexes: Vec<String> = (0..10).map(|d| format!("d{d}/index.html")).collect();
        for p in pages.iter().chain(&indexes) {
            site.write(p, "v1");
        }
        let e = engine(&site, &clock);
        block(e.sync(&SyncOptions::default(), &())).unwrap();
        for p in pages.iter().chain(&indexes) {
            site.write(p, "v2");
        }
        fake.set_fault_rate(0.3);
        let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
        assert_eq!(r.exit_code(), 0, "seed {seed}: {:?}", r.jobs);
        // Each index page is also purged under its directory URL (`/d0/`).
        let dirs = (0..10).map(|d| format!("d{d}/"));
        let want: BTreeSet<String> =
            pages.iter().chain(&indexes).cloned().chain(dirs).map(|p| format!("https://www.example.com/{p}")).collect();
        for area in Area::ALL {
            assert_eq!(fake.urls(JobKind::PurgeUrls, area), want, "seed {seed} {area}");
            assert_eq!(fake.urls(JobKind::PrefetchUrls, area).len(), 20, "seed {seed} {area}: index pages and their directory URLs");
        }
        let faults = fake.requests().iter().filter(|r| r.outcome != "ok").count();
        assert!(faults >= 10, "seed {seed}: the fake injected faults ({faults})");
        assert_eq!(e.status().unwrap().outbox.pending, 0);
    }
}

#[test]
fn deferred_by_quota_delivered_after_midnight_china_time() {
    let clock = ManualClock::new(LATE_EVENING_CST_MS);
    let (fake, _site, e) = edited_with_overseas_quota_gone(&clock, 4);
    let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
    assert_eq!(r.exit_code(), 4);
    assert_eq!(r.outbox.deferred, 1);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 4);
    // Thirty seconds later, still before the reset: nothing is sent, still owed.
    clock.advance(Duration::from_secs(30));
    let before = work_requests(&fake).len();
    let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
    assert_eq!(r.exit_code(), 4);
    assert_eq!(work_requests(&fake).len(), before, "no request spent on a quota known to be gone");
    // Past 00:00 UTC+8 the fake's quota resets by its own clock and the job goes out.
    clock.advance(Duration::from_secs(31));
    let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
    assert_eq!(r.exit_code(), 0, "{:?}", r.jobs);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Overseas).len(), 4);
    assert_eq!(e.status().unwrap().outbox.deferred, 0);
}

/// Watch mode retries a job deferred by quota at the reset, in the background: on a manual clock
/// the wait until 00:00 UTC+8 passes at once.
#[test]
fn watch_retries_deferred_jobs_after_the_quota_reset() {
    let clock = ManualClock::new(LATE_EVENING_CST_MS);
    let (fake, _site, e) = edited_with_overseas_quota_gone(&clock, 3);
    let opts = cdnsync::watch::WatchOptions::default();
    let summary = block(async {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = cdnsync::watch::run(&e, &opts, &(), async {
            let _ = stop_rx.await;
        });
        let check = async {
            // Give the watcher (simulated) time; stop once the overseas purge is through and
            // recorded (on a manual clock the shutdown grace period passes at once).
            for _ in 0..400 {
                if fake.urls(JobKind::PurgeUrls, Area::Overseas).len() == 3 && e.owed().unwrap().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let _ = stop_tx.send(());
        };
        let (summary, ()) = tokio::join!(watcher, check);
        summary.unwrap()
    });
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Overseas).len(), 3, "delivered after the reset");
    assert!(clock.now_ms() >= LATE_EVENING_CST_MS + 60_000, "the watcher waited for 00:00 CST");
    assert_eq!(summary.syncs, 2, "the start-up sync, then the retry at the reset");
    assert_eq!(summary.owed_at_exit, 0);
}

/// A generator that knows what it wrote passes those paths: only they are rescanned.
#[test]
fn sync_on_a_list_of_changed_paths() {
    let clock = ManualClock::new(LATE_EVENING_CST_MS - 3_600_000);
    let fake = fake_on(&clock, |_| {});
    let site = TempSite::new(&fake, "", "");
    for p in ["a.html", "b.html", "docs/c.html"] {
        site.write(p, "v1");
    }
    let e = engine(&site, &clock);
    block(e.sync(&SyncOptions::default(), &())).unwrap();
    site.write("a.html", "v2");
    site.write("docs/c.html", "v2");
    site.write("docs/new.html", "new");
    site.write("b.html", "v2 (not reported by the generator)");
    let opts = SyncOptions { paths: Some(vec!["a.html".into(), "docs".into()]), ..SyncOptions::default() };
    let r = block(e.sync(&opts, &())).unwrap();
    assert_eq!(r.changes.modified, ["a.html", "docs/c.html"]);
    assert_eq!(r.changes.added, ["docs/new.html"]);
    assert_eq!(r.scan.hashed, 3, "only the paths given were read");
    assert_eq!(
        fake.urls(JobKind::PurgeUrls, Area::Mainland),
        set(["https://www.example.com/a.html", "https://www.example.com/docs/c.html"])
    );
    // A whole scan later still finds b.html: nothing is lost by trusting the list.
    let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
    assert_eq!(r.changes.modified, ["b.html"]);
}

#[test]
fn large_submissions_go_as_fast_as_the_rate_limit_allows_and_no_faster() {
    // 60 requests of one action, one at a time on a clock that only moves when the client waits
    // (so each is answered the instant it is sent): 20 at once, then 20 as each window of 1.01 s
    // ends (the fake counts 20 per 1 s, as the API).
    let clock = ManualClock::new(LATE_EVENING_CST_MS - 3_600_000);
    let fake = fake_on(&clock, |c| url_batch(c, 10));
    let site = TempSite::new(&fake, "", "");
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 20\nconcurrency = 1");
    // 300 of 1,000 pages change: too few for a directory purge (needs 90% of a directory).
    for i in 0..1000 {
        site.write(&format!("p{}/{i}.html", i % 30), "v1");
    }
    let e = engine(&site, &clock);
    block(e.sync(&SyncOptions::default(), &())).unwrap();
    for i in 0..300 {
        site.write(&format!("p{}/{i}.html", i % 30), "v2");
    }
    let start = clock.now_ms();
    let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
    let elapsed = clock.now_ms() - start;
    assert_eq!(r.exit_code(), 0, "{:?}", r.jobs);
    let purges: Vec<String> = fake.requests().into_iter().filter(|q| q.action == "PurgeUrlsCache").map(|q| q.outcome).collect();
    assert_eq!(purges.len(), 60, "300 URLs in batches of 10, two areas, nothing throttled and retried: {purges:?}");
    assert!(purges.iter().all(|o| o == "ok"), "{purges:?}");
    assert_eq!(elapsed, 2 * 1010, "two full windows of waiting, no more");
}

#[test]
fn one_engine_counts_its_earlier_runs_against_the_rate_limit() {
    // Watch mode runs many syncs on one engine: the second of two syncs in the same second must
    // wait for the first one's requests to leave the window, not have the API refuse its own.
    let clock = ManualClock::new(LATE_EVENING_CST_MS - 3_600_000);
    let fake = fake_on(&clock, |c| url_batch(c, 10));
    let site = TempSite::new(&fake, "", "");
    for i in 0..1000 {
        site.write(&format!("p{}/{i}.html", i % 30), "v1");
    }
    let e = engine(&site, &clock);
    block(e.sync(&SyncOptions::default(), &())).unwrap();
    for round in 0..2 {
        for i in (round * 100)..(round * 100 + 100) {
            site.write(&format!("p{}/{i}.html", i % 30), "v2");
        }
        let start = clock.now_ms();
        let r = block(e.sync(&SyncOptions::default(), &())).unwrap();
        assert_eq!(r.exit_code(), 0, "{:?}", r.jobs);
        // 100 URLs in batches of 10, two areas: 20 requests, a full window's worth.
        let waited = clock.now_ms() - start;
        assert_eq!(waited, if round == 0 { 0 } else { 1010 }, "round {round}");
    }
    let purges: Vec<String> = fake.requests().into_iter().filter(|q| q.action == "PurgeUrlsCache").map(|q| q.outcome).collect();
    assert_eq!(purges, vec!["ok"; 40]);
}
