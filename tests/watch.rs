//! `cdnsync watch` as a process: bursts, identical rewrites, ignored files, symlink swaps, the
//! trigger file, polling, and SIGTERM with a request in flight.

use std::time::Duration;

use cdnsync::fake::{FakeCdn, Fault, FaultRule};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

const SETTLE_MS: u64 = 300;

/// A site of `n` pages with a baseline, watch settings for tests, no prefetch.
fn site(fake: &FakeCdn, n: usize, watch_extra: &str) -> TempSite {
    site_settling(fake, n, SETTLE_MS, watch_extra)
}

fn site_settling(fake: &FakeCdn, n: usize, settle_ms: u64, watch_extra: &str) -> TempSite {
    let site = TempSite::new(fake, "", "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    site.append_config(&format!("[watch]\nsettle_ms = {settle_ms}\nmax_wait_ms = 10000\n{watch_extra}"));
    for i in 0..n {
        site.write(&format!("p/{i}.html"), "v1");
    }
    site.run(&["sync"]).expect(0);
    site
}

fn start(site: &TempSite, args: &[&str]) -> Running {
    let mut all = vec!["watch"];
    all.extend_from_slice(args);
    let mut w = site.spawn(&all, &[]);
    w.wait_for_line("watching");
    w.wait_for_line("synced whole tree (start-up)");
    w
}

fn purge_requests(fake: &FakeCdn) -> Vec<cdnsync::fake::RequestLog> {
    fake.requests().into_iter().filter(|r| r.action == "PurgeUrlsCache").collect()
}

/// Wait (at most 15 s) until the fake has seen `n` purge requests.
#[track_caller]
fn wait_for_purges(fake: &FakeCdn, n: usize) {
    for _ in 0..300 {
        if purge_requests(fake).len() >= n {
            return;
        }
        crate::util::sleep(Duration::from_millis(50));
    }
    panic!("expected {n} purge requests, saw {:?}", purge_requests(fake));
}

fn url(rel: &str) -> String {
    format!("https://www.example.com/{rel}")
}

#[test]
#[allow(clippy::disallowed_methods)] // the settle window is the behaviour under test
fn a_burst_of_writes_becomes_one_purge_per_area() {
    // A longer quiet time than the other tests: on a loaded CI machine a pause of a few hundred
    // milliseconds between two writes of the burst must not split it.
    const SETTLE: u64 = 1000;
    let fake = fake();
    let site = site_settling(&fake, 20, SETTLE, "");
    let w = start(&site, &[]);
    for i in 0..20 {
        site.write(&format!("p/{i}.html"), "v2");
        crate::util::sleep(Duration::from_millis(10));
    }
    let last_write = std::time::Instant::now();
    wait_for_purges(&fake, 2);
    let took = last_write.elapsed();
    assert!(took >= Duration::from_millis(SETTLE - 100), "synced {took:?} after the burst: before the quiet time (settle {SETTLE} ms)");
    assert!(took < Duration::from_millis(SETTLE + 2500), "synced {took:?} after the burst (settle {SETTLE} ms)");
    crate::util::sleep(Duration::from_millis(2 * SETTLE));
    let purges = purge_requests(&fake);
    assert_eq!(purges.len(), 2, "one request per area for the whole burst: {purges:?}");
    assert!(purges.iter().all(|r| r.size == 20), "{purges:?}");
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area).len(), 20);
    }
    drop(w);
}

#[test]
fn identical_rewrites_temp_files_and_the_state_dir_send_nothing() {
    let fake = fake();
    let site = site(&fake, 5, "");
    let mut w = start(&site, &[]);
    // Junk that must not even start a sync: rsync temp files, editor swap files, .git.
    site.write("p/.0.html.Xy12Ab", "rsync temp");
    site.write("p/.1.html.swp", "vim swap");
    site.write(".git/objects/ab", "git");
    crate::util::sleep(Duration::from_millis(SETTLE_MS + 1000));
    let syncs = |w: &mut Running| w.lines_now().iter().filter(|l| l.contains("synced")).count();
    assert_eq!(syncs(&mut w), 1, "only the start-up sync: {:?}", w.lines_now());
    // A rebuild that rewrites every page with the same bytes: a sync that finds nothing.
    for i in 0..5 {
        site.rewrite_identical(&format!("p/{i}.html"));
    }
    // (One burst normally; a loaded machine may split it, which changes nothing here.)
    w.wait_for_line("touched path(s): 0 added, 0 modified, 0 removed; 0 job(s)");
    crate::util::sleep(Duration::from_millis(SETTLE_MS + 500));
    assert!(work_requests(&fake).is_empty(), "{:?}", work_requests(&fake));
    // The watcher is still alive and sees a real change.
    site.write("p/3.html", "v2");
    wait_for_purges(&fake, 2);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set([url("p/3.html")]));
    }
}

#[test]
fn a_swapped_symlink_is_followed() {
    swapped_symlink(&[]);
}

#[test]
fn a_swapped_symlink_is_followed_when_polling() {
    swapped_symlink(&["--poll=100"]);
}

fn swapped_symlink(args: &[&str]) {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    site.append_config(&format!("[watch]\nsettle_ms = {SETTLE_MS}\nmax_wait_ms = 5000\n"));
    let rel1 = site.dir.join("releases/1");
    let rel2 = site.dir.join("releases/2");
    for (dir, changed) in [(&rel1, "v1"), (&rel2, "v2")] {
        for f in ["a.html", "b.html"] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, if f == "a.html" { changed } else { "same" }).unwrap();
        }
    }
    std::fs::remove_dir(site.public()).unwrap();
    std::os::unix::fs::symlink("releases/1", site.public()).unwrap();
    site.run(&["sync"]).expect(0);
    let mut w = start(&site, args);
    // The atomic deploy: a new link renamed over the old one.
    let tmp_link = site.dir.join("public.new");
    std::os::unix::fs::symlink("releases/2", &tmp_link).unwrap();
    std::fs::rename(&tmp_link, site.public()).unwrap();
    wait_for_purges(&fake, 2);
    w.wait_for_line("publish_dir now resolves to");
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set([url("a.html")]), "b.html has the same bytes");
    }
    // Later edits in the new release are watched.
    std::fs::write(rel2.join("b.html"), "v3").unwrap();
    wait_for_purges(&fake, 4);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).contains(&url("b.html")));
}

#[test]
fn trigger_file_holds_the_sync_until_written() {
    let fake = fake();
    let site = site(&fake, 3, "trigger_file = \".deployed\"\n");
    let _w = start(&site, &[]);
    site.write("p/0.html", "v2");
    site.write("p/1.html", "v2");
    crate::util::sleep(Duration::from_millis(SETTLE_MS + 1200));
    assert!(purge_requests(&fake).is_empty(), "no trigger, no sync");
    site.write(".deployed", "done");
    wait_for_purges(&fake, 2);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set([url("p/0.html"), url("p/1.html")]), "the trigger is never purged");
    }
}

#[test]
fn poll_mode_sees_changes() {
    let fake = fake();
    let site = site(&fake, 3, "");
    let _w = start(&site, &["--poll=100"]);
    site.write("p/2.html", "v2");
    site.write("new/page.html", "new");
    site.remove("p/0.html");
    wait_for_purges(&fake, 2);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set([url("p/2.html"), url("p/0.html")]), "new files are not purged");
    }
}

#[test]
fn sigterm_with_a_request_in_flight_loses_nothing() {
    let fake = fake();
    let site = site(&fake, 4, "");
    let w = start(&site, &[]);
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Latency(Duration::from_secs(2)), count: 1 });
    for i in 0..4 {
        site.write(&format!("p/{i}.html"), "v2");
    }
    wait_for_purges(&fake, 1);
    w.terminate();
    let (code, err) = w.finish_within(15);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SIGTERM received"), "{err}");
    // Whatever was still owed goes out on the next run; nothing is sent twice.
    site.run(&["sync"]).expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area).len(), 4, "{area}");
        let n = fake.accepted().iter().filter(|a| a.kind == JobKind::PurgeUrls && a.areas == [area]).count();
        assert_eq!(n, 1, "{area}: accepted once");
    }
}

#[test]
fn sigterm_when_idle_exits_0_at_once() {
    let fake = fake();
    let site = site(&fake, 1, "");
    let w = start(&site, &[]);
    w.terminate();
    let (code, err) = w.finish_within(5);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stopped after 1 sync(s) (0 failed); 0 job(s) owed"), "{err}");
}

#[test]
fn an_event_queue_overflow_rescans_the_whole_tree() {
    let fake = fake();
    let site = site(&fake, 1, "");
    let mut w = start(&site, &[]);
    // Hold the watcher in a sync (a slow API) while thousands of events arrive.
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Latency(Duration::from_secs(2)), count: 1 });
    site.write("p/0.html", "v2");
    wait_for_purges(&fake, 1);
    for i in 0..1500 {
        site.write(&format!("many/{i}.html"), "x");
    }
    w.wait_for_line("file events queued up; rescanning the whole tree");
    w.wait_for_line("synced whole tree (event queue overflow)");
    // Whatever the rescan did not see yet, later events bring in: all 1500 end up tracked.
    for _ in 0..100 {
        if site.run(&["--json", "status"]).json()["tracked_files"] == 1501 {
            return;
        }
        crate::util::sleep(Duration::from_millis(100));
    }
    panic!("the new files were not all tracked: {}", site.run(&["--json", "status"]).stdout);
}

#[test]
fn sigterm_during_a_long_first_scan_exits_at_once_and_loses_nothing() {
    let fake = fake();
    let site = site(&fake, 2, "");
    // A purge owed from an earlier run: the API was down when it was sent.
    fake.inject(FaultRule { action: None, fault: Fault::Http(503), count: 1000 });
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 1");
    site.write("p/0.html", "v2");
    site.run(&["sync"]).expect(1);
    fake.clear_faults();
    let manifest = std::fs::read(site.state().join("manifest")).unwrap();
    // Then a deploy of gigabytes (sparse files: no disk, but every byte is read and hashed).
    for i in 0..16 {
        let f = std::fs::File::create(site.public().join(format!("big{i}.bin"))).unwrap();
        f.set_len(4 << 30).unwrap();
    }
    let mut w = site.spawn(&["watch"], &[("CDNSYNC_FAILPOINT", "scan=100")]);
    w.wait_for_line("failpoint scan");
    crate::util::sleep(Duration::from_millis(500));
    w.terminate();
    // 64 GB take far longer than this to hash: the scan was stopped, not finished.
    let (code, err) = w.finish_within(2);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("scan was stopped"), "{err}");
    assert_eq!(std::fs::read(site.state().join("manifest")).unwrap(), manifest, "nothing recorded by the stopped scan");
    assert!(work_requests(&fake).iter().all(|r| r.outcome != "ok"), "nothing sent before the scan ended");
    // The owed purge is still owed, and goes out with the next run.
    for i in 0..16 {
        site.remove(&format!("big{i}.bin"));
    }
    site.run(&["sync"]).expect(0);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).contains(&url("p/0.html")));
}
