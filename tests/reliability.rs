//! Failures on the way: transient faults are retried, ambiguous ones looked up, quota defers.

use cdnsync::fake::{Fault, FaultRule};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn site_with_changes(fake: &cdnsync::fake::FakeCdn, n: usize) -> TempSite {
    let site = TempSite::new(fake, "", "");
    for i in 0..n {
        site.write(&format!("p/{i}.html"), "v1");
    }
    site.run(&["sync"]).expect(0);
    for i in 0..n {
        site.write(&format!("p/{i}.html"), "v2");
    }
    site
}

#[test]
fn transient_faults_are_retried_until_delivered() {
    let fake = fake();
    let site = site_with_changes(&fake, 5);
    for f in [
        Fault::Http(503),
        Fault::ApiError("InternalError.CdnSystemError".into()),
        Fault::ApiError("RequestLimitExceeded".into()),
        Fault::Drop,
    ] {
        fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: f, count: 1 });
    }
    site.run(&["sync"]).expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area).len(), 5, "{area}");
    }
}

#[test]
fn accepted_then_dropped_is_looked_up_not_resent() {
    let fake = fake();
    let site = site_with_changes(&fake, 3);
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::AcceptThenDrop, count: 1 });
    site.run(&["sync"]).expect(0);
    let purges: Vec<_> = fake.accepted().into_iter().filter(|a| a.action == "PurgeUrlsCache").collect();
    assert_eq!(purges.len(), 2, "one per area, none twice: {purges:?}");
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "the ambiguous job was looked up");
}

#[test]
fn exhausted_quota_defers_with_exit_4_and_delivers_after_reset() {
    let fake = fake();
    let site = site_with_changes(&fake, 4);
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 0);
    fake.set_available(JobKind::PurgePaths, Area::Overseas, 0);
    let out = site.run(&["--json", "sync"]);
    out.expect(4);
    let j = out.json();
    assert_eq!(j["outbox"]["deferred"], 1, "{j}");
    let deferred: Vec<&serde_json::Value> = j["jobs"].as_array().unwrap().iter().filter(|j| j["status"] == "deferred").collect();
    assert_eq!(deferred.len(), 1, "{j}");
    assert_eq!(deferred[0]["area"], "overseas");
    assert_eq!(deferred[0]["urls"].as_array().unwrap().len(), 4);
    assert!(deferred[0]["error"]["code"].is_string(), "{j}");
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 4);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Overseas).is_empty());
    // Before the reset another sync does not send it (and still says 4).
    site.run(&["sync"]).expect(4);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Overseas).is_empty());
    // Simulate the clock passing 00:00 UTC+8: the quota resets, the job comes due.
    fake.reset_quota();
    for e in std::fs::read_dir(site.state().join("outbox")).unwrap() {
        let p = e.unwrap().path();
        let mut job: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        job["not_before_unix"] = serde_json::json!(0);
        std::fs::write(&p, serde_json::to_vec(&job).unwrap()).unwrap();
    }
    site.run(&["sync"]).expect(0);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Overseas).len(), 4);
    assert_eq!(site.run(&["--json", "status"]).json()["outbox"]["deferred"], 0);
}

#[test]
fn over_size_batch_from_a_smaller_account_limit_is_split() {
    let fake = fake_with(|c| {
        url_batch(c, 3);
    });
    let site = site_with_changes(&fake, 8);
    site.run(&["sync"]).expect(0);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 8);
    assert!(fake.requests().iter().filter(|r| r.action == "PurgeUrlsCache").all(|r| r.size <= 3), "batches follow DescribePurgeQuota");
}

#[test]
fn network_down_exits_1_and_keeps_jobs_owed() {
    let fake = fake();
    let site = site_with_changes(&fake, 2);
    // Point the config at a port nothing listens on.
    let cfg = std::fs::read_to_string(site.dir.join("cdnsync.toml")).unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    std::fs::write(
        site.dir.join("cdnsync.toml"),
        cfg.replace(&fake.url(), &format!("http://{dead}")).replace("retry_deadline_secs = 20", "retry_deadline_secs = 2"),
    )
    .unwrap();
    let out = site.run(&["--json", "sync"]);
    out.expect(1);
    assert_eq!(out.json()["outbox"]["pending"], 2, "{}", out.stdout);
    assert!(out.json()["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "pending" && j["task_id"].is_null()), "{}", out.stdout);
    // Back online: the owed jobs go out although the files no longer look changed.
    std::fs::write(site.dir.join("cdnsync.toml"), cfg).unwrap();
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(out.json()["changes"]["modified"].as_array().unwrap().len(), 0);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Overseas).len(), 2);
}

#[test]
fn url_quota_used_up_collapses_to_a_directory_purge() {
    let fake = fake();
    let site = site_with_changes(&fake, 4);
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 2);
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let dir_jobs: Vec<serde_json::Value> =
        out.json()["jobs"].as_array().unwrap().iter().filter(|j| j["kind"] == "purge_paths").cloned().collect();
    assert_eq!(dir_jobs.len(), 1, "{}", out.stdout);
    assert_eq!(dir_jobs[0]["action"], "PurgePathCache");
    assert_eq!(dir_jobs[0]["area"], "overseas");
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 4);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Overseas).is_empty());
    assert_eq!(fake.urls(JobKind::PurgePaths, Area::Overseas), set(["https://www.example.com/p/"]));
}

/// A dropped request is looked up before it is resent; the lookup must not claim a task of the
/// same URLs that belongs to another job: the other area's job of this deploy, or the previous
/// deploy's purge of the same files a moment ago.
#[test]
fn a_lookup_never_claims_another_jobs_task() {
    let fake = fake();
    let site = site_with_changes(&fake, 3);
    site.run(&["sync"]).expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area).len(), 3, "{area}");
    }
    for i in 0..3 {
        site.write(&format!("p/{i}.html"), "v3");
    }
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Drop, count: 2 });
    site.run(&["sync"]).expect(0);
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "the dropped jobs were looked up");
    let purges: Vec<_> = fake.accepted().into_iter().filter(|a| a.action == "PurgeUrlsCache").collect();
    for area in Area::ALL {
        let n = purges.iter().filter(|a| a.areas == [area] && a.urls.len() == 3).count();
        assert_eq!(n, 2, "{area}: both deploys purged, each once: {purges:?}");
    }
}

/// `[limits] concurrency` bounds the requests in flight, and is used: with slow answers, exactly
/// that many are outstanding at once.
#[test]
fn requests_in_flight_are_bounded_by_concurrency() {
    let fake = fake_with(|c| {
        url_batch(c, 2);
    });
    let site = site_with_changes(&fake, 12);
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 20\nconcurrency = 3");
    fake.inject(FaultRule {
        action: Some("PurgeUrlsCache".into()),
        fault: Fault::Latency(std::time::Duration::from_millis(300)),
        count: 12,
    });
    site.run(&["sync"]).expect(0);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Overseas).len(), 12);
    assert_eq!(fake.max_in_flight(), 3, "12 slow jobs, concurrency 3");
}

/// The answer to a purge comes back after `timeout_secs` (the API did the work): the job stays
/// owed, "maybe sent". The file then changes again. The next, healthy sync must purge the new
/// bytes: the owed job's task, which its lookup will find, was accepted before the change and
/// cannot stand for it.
#[test]
fn a_change_after_a_maybe_sent_purge_is_purged_again() {
    use cdnsync::clock::{Clock, SystemClock};
    let fake = fake();
    let site = site_with_changes(&fake, 1);
    site.edit_config("timeout_secs = 5", "timeout_secs = 1");
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 1");
    fake.inject(FaultRule {
        action: Some("PurgeUrlsCache".into()),
        fault: Fault::Latency(std::time::Duration::from_millis(1500)),
        count: 2,
    });
    let out = site.run(&["--json", "sync"]);
    out.expect(1);
    assert_eq!(out.json()["outbox"]["pending"], 2, "{}", out.stdout);
    assert_eq!(fake.accepted().len(), 2, "the API took both purges; their answers came too late");
    site.write("p/0.html", "v3");
    let changed_ms = SystemClock.now_ms();
    site.edit_config("retry_deadline_secs = 1", "retry_deadline_secs = 20");
    site.run(&["sync"]).expect(0);
    for area in Area::ALL {
        let after: Vec<_> = fake
            .accepted()
            .into_iter()
            .filter(|a| a.areas == [area] && a.urls.contains(&"https://www.example.com/p/0.html".to_string()) && a.at_ms > changed_ms)
            .collect();
        assert_eq!(after.len(), 1, "{area}: one purge accepted after the change: {:?}", fake.accepted());
    }
    assert_eq!(site.run(&["--json", "status"]).json()["outbox"]["pending"], 0);
}

/// A least-privilege key may purge but not list tasks (no `cdn:DescribePurgeTasks`). A purge whose
/// answer was lost cannot be looked up: it is resent at once (not retried as if the refusal were
/// transient), with a warning naming the permission that would avoid spending quota twice.
#[test]
fn a_refused_task_lookup_resends_and_names_the_missing_permission() {
    let fake = fake_with(|c| c.denied_actions = vec!["DescribePurgeTasks".into()]);
    let site = site_with_changes(&fake, 2);
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 3");
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::AcceptThenDrop, count: 2 });
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    assert_eq!(j["outbox"]["pending"], 0, "{j}");
    // (Besides the warning that www.example.com is still the example domain.)
    let warnings: Vec<&serde_json::Value> =
        j["warnings"].as_array().unwrap().iter().filter(|w| !w.as_str().unwrap().contains("placeholder")).collect();
    assert_eq!(warnings.len(), 1, "one warning for both jobs: {j}");
    let w = warnings[0].as_str().unwrap();
    assert!(w.contains("cdn:DescribePurgeTasks") && w.contains("2 job(s)") && w.contains("twice"), "{w}");
    assert!(out.stderr.contains("cdn:DescribePurgeTasks"), "{}", out.stderr);
    let lookups = fake.requests().iter().filter(|r| r.action == "DescribePurgeTasks").count();
    assert_eq!(lookups, 1, "a refused lookup is not asked again in the same run");
    for area in Area::ALL {
        let n = fake.accepted().iter().filter(|a| a.areas == [area] && a.action == "PurgeUrlsCache").count();
        assert_eq!(n, 2, "{area}: accepted twice (the lost answer, then the resend)");
    }
}
