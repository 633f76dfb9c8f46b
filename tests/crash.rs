//! SIGKILL at many points of a sync; the rerun delivers every owed URL, and a request that may
//! have reached the API is looked up rather than sent twice.

use std::collections::BTreeSet;

use cdnsync::fake::{FakeCdn, Fault, FaultRule};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

const FILES: usize = 30;

/// A fake with batches of 10 URLs, a site of 30 pages with a baseline, then all 30 edited: each
/// area owes 3 purge jobs, sent one at a time.
fn deployed_site() -> (FakeCdn, TempSite) {
    let fake = fake_with(|c| {
        url_batch(c, 10);
    });
    let site = TempSite::new(&fake, "", "");
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 20\nconcurrency = 1");
    for i in 0..FILES {
        site.write(&format!("p/{i}.html"), "v1");
    }
    site.run(&["sync"]).expect(0);
    for i in 0..FILES {
        site.write(&format!("p/{i}.html"), "v2");
    }
    (fake, site)
}

fn all_urls() -> BTreeSet<String> {
    (0..FILES).map(|i| format!("https://www.example.com/p/{i}.html")).collect()
}

/// After the rerun: every URL purged in both areas, nothing owed.
#[track_caller]
fn everything_delivered(fake: &FakeCdn, site: &TempSite) {
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), all_urls(), "{area}");
    }
    let st = site.run(&["--json", "status"]).json();
    assert_eq!(st["outbox"]["pending"], 0, "{st}");
    assert_eq!(st["outbox"]["deferred"], 0, "{st}");
    assert_eq!(st["outbox"]["failed"], 0, "{st}");
}

fn kill_at(point: &str) -> (FakeCdn, TempSite) {
    let (fake, site) = deployed_site();
    let mut run = site.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", point)]);
    run.wait_for_line(&format!("failpoint {point}"));
    run.kill();
    (fake, site)
}

#[test]
fn killed_while_scanning() {
    let (fake, site) = kill_at("scan");
    assert!(work_requests(&fake).is_empty(), "nothing was sent before the kill");
    site.run(&["sync"]).expect(0);
    everything_delivered(&fake, &site);
}

#[test]
fn killed_after_the_outbox_write_before_the_manifest() {
    let (fake, site) = kill_at("outbox-written");
    assert!(work_requests(&fake).is_empty());
    // The old manifest is still in place, so the rerun sees the same changes and plans the same
    // jobs again; the owed copies and the new ones together purge each URL at least once.
    site.run(&["sync"]).expect(0);
    everything_delivered(&fake, &site);
}

#[test]
fn killed_after_the_manifest_before_any_request() {
    let (fake, site) = kill_at("manifest-written");
    assert!(work_requests(&fake).is_empty());
    // The files no longer look changed: only the outbox remembers the purges.
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(out.json()["changes"]["modified"].as_array().unwrap().len(), 0, "{}", out.stdout);
    everything_delivered(&fake, &site);
}

#[test]
fn killed_between_batches() {
    let (fake, site) = kill_at("job-accepted");
    let sent = work_requests(&fake).len();
    assert_eq!(sent, 1, "killed after the first of 6 jobs was accepted");
    site.run(&["sync"]).expect(0);
    everything_delivered(&fake, &site);
    let purges = work_requests(&fake).into_iter().filter(|r| r.action == "PurgeUrlsCache").count();
    assert_eq!(purges, 6, "the accepted job was not sent again");
}

#[test]
fn killed_during_a_request_is_looked_up_not_resent() {
    let (fake, site) = deployed_site();
    // The first purge is accepted by the API, but its answer never comes back in time.
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Latency(std::time::Duration::from_secs(60)), count: 1 });
    let run = site.spawn(&["sync"], &[]);
    let mut waited = 0;
    while !fake.requests().iter().any(|r| r.action == "PurgeUrlsCache") {
        assert!(waited < 600, "the request never reached the fake");
        crate::util::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    run.kill();
    assert_eq!(fake.accepted().len(), 1, "the API took the job the process never heard back about");
    site.run(&["sync"]).expect(0);
    everything_delivered(&fake, &site);
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "the rerun looked the job up");
    let accepted = fake.accepted().into_iter().filter(|a| a.action == "PurgeUrlsCache").count();
    assert_eq!(accepted, 6, "no job was sent twice");
}

#[test]
fn two_syncs_at_once_one_waits_and_state_stays_intact() {
    let (fake, site) = deployed_site();
    // The first holds the lock for 2 s after writing its outbox.
    let mut first = site.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", "outbox-written=2000")]);
    first.wait_for_line("failpoint outbox-written");
    // One that will not wait is refused with exit 5, naming the holder.
    let refused = site.run(&["--lock-timeout", "0", "sync"]);
    refused.expect(5);
    assert!(refused.stderr.contains("cdnsync sync") && refused.stderr.contains(&first.child.id().to_string()), "{}", refused.stderr);
    // One that waits runs after the first and finds nothing left to do.
    let second = site.spawn(&["--json", "--lock-timeout", "60", "sync"], &[]);
    let (code, err) = first.finish();
    assert_eq!(code, 0, "{err}");
    let (code, err) = second.finish();
    assert_eq!(code, 0, "{err}");
    everything_delivered(&fake, &site);
    let purges = fake.accepted().into_iter().filter(|a| a.action == "PurgeUrlsCache").count();
    assert_eq!(purges, 6, "each job sent by exactly one of them");
    // `status` and `plan` need no lock.
    let mut holder = site.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", "manifest-written=3000")]);
    holder.wait_for_line("failpoint manifest-written");
    site.run(&["status"]).expect(0);
    site.run(&["plan"]).expect(0);
    assert_eq!(holder.finish().0, 0);
}

/// A job accepted just before a kill is gone from the outbox but not yet in `history.json`. The
/// file changes again, and the new purge's request is lost on its way (the API never saw it):
/// its lookup must not take the earlier job's task, created before the change, for its own.
#[test]
fn a_lookup_after_a_kill_never_claims_the_task_of_a_job_accepted_before_the_change() {
    use cdnsync::clock::{Clock, SystemClock};
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.edit_config("areas = [\"mainland\", \"overseas\"]", "areas = [\"mainland\"]");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v2");
    let mut run = site.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", "job-accepted")]);
    run.wait_for_line("failpoint job-accepted");
    run.kill();
    assert_eq!(fake.accepted().len(), 1, "killed once the purge was accepted");
    site.write("a.html", "v3");
    let changed_ms = SystemClock.now_ms();
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Drop, count: 1 });
    site.run(&["sync"]).expect(0);
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "the dropped purge was looked up");
    let after = fake.accepted().into_iter().filter(|a| a.urls == ["https://www.example.com/a.html"] && a.at_ms > changed_ms).count();
    assert_eq!(after, 1, "a purge accepted after the change: {:?}", fake.accepted());
}
