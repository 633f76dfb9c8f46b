//! `api = "edgeone"` end to end: the real binary against the fake's EdgeOne (`teo`): plan, sync,
//! purge, prefetch, status --tasks, quota and watch; zones by host and their cache; a host not in
//! its zone refused before anything is sent; FailedList; lost replies; quota deferral;
//! `sync --all` as purge_host.

use std::time::Duration;

use cdnsync::fake::{FakeCdn, FakeConfig, FakeZone, Fault, FaultRule, TeoTask};
use serde_json::Value;

use crate::util::*;

const ZONE: &str = "zone-2noz78a8ev6k";

/// A site whose config speaks EdgeOne to the fake, with `domain_extra` in its one `[[domain]]`
/// (`www.example.com`, prefetching index pages).
fn teo_site(fake: &FakeCdn, provider_extra: &str, domain_extra: &str) -> TempSite {
    let site = TempSite::new(fake, "", "");
    let cfg = format!(
        "publish_dir = \"public\"\n\n[provider]\napi = \"edgeone\"\nendpoint = \"{}\"\ntimeout_secs = 5\n{provider_extra}\n\n\
         [[domain]]\nhost = \"www.example.com\"\nprefetch = [\"**/index.html\"]\n{domain_extra}\n\n[limits]\nretry_deadline_secs = 20\n",
        fake.url()
    );
    std::fs::write(site.dir.join("cdnsync.toml"), cfg).unwrap();
    site
}

/// `site` with a baseline of `a.html`, `b.html`, `docs/index.html`, all then modified.
fn deployed(fake: &FakeCdn, domain_extra: &str) -> TempSite {
    let s = teo_site(fake, "", domain_extra);
    for f in ["a.html", "b.html", "docs/index.html"] {
        s.write(f, "v1");
    }
    s.run(&["sync"]).expect(0);
    for f in ["a.html", "b.html", "docs/index.html"] {
        s.write(f, "v2");
    }
    s
}

fn teo_fake(task_ms: u64, edit: impl FnOnce(&mut FakeConfig)) -> FakeCdn {
    fake_with(|c| {
        c.task_duration = Duration::from_millis(task_ms);
        edit(c);
    })
}

fn of_type(fake: &FakeCdn, t: &str) -> Vec<TeoTask> {
    fake.teo_tasks().into_iter().filter(|x| x.task_type == t).collect()
}

fn targets(tasks: &[TeoTask]) -> std::collections::BTreeSet<String> {
    tasks.iter().map(|t| t.target.clone()).collect()
}

fn creates(fake: &FakeCdn) -> usize {
    fake.requests().iter().filter(|r| r.action.starts_with("Create")).count()
}

/// The first job of `kind` in a report.
#[track_caller]
fn job_of(j: &Value, kind: &str) -> Value {
    j["jobs"].as_array().unwrap().iter().find(|x| x["kind"] == kind).unwrap_or_else(|| panic!("no {kind} job in {j}")).clone()
}

fn url(rel: &str) -> String {
    format!("https://www.example.com/{rel}")
}

#[test]
fn sync_purges_urls_then_prefetches_once_the_purge_has_finished() {
    let fake = teo_fake(1500, |_| {});
    let site = deployed(&fake, "");
    // `plan` needs no network and shows EdgeOne's actions, area global.
    let plan = site.run(&["--json", "plan"]);
    plan.expect(0);
    let jobs = plan.json()["jobs"].as_array().unwrap().clone();
    assert!(jobs.iter().all(|j| j["area"] == "global"), "{}", plan.stdout);
    let actions: Vec<&str> = jobs.iter().map(|j| j["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["CreatePurgeTask", "CreatePrefetchTask"], "{}", plan.stdout);
    assert_eq!(creates(&fake), 0);

    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    let jobs = j["jobs"].as_array().unwrap();
    assert!(jobs.iter().all(|j| j["status"] == "accepted" && j["task_id"].is_string() && j["area"] == "global"), "{j}");
    let purges = of_type(&fake, "purge_url");
    assert_eq!(targets(&purges), set([url("a.html"), url("b.html"), url("docs/index.html"), url("docs/")]));
    assert!(purges.iter().all(|t| t.zone == ZONE && t.method.is_empty()), "URL purges carry no Method: {purges:?}");
    let pre = of_type(&fake, "prefetch_url");
    assert_eq!(targets(&pre), set([url("docs/index.html"), url("docs/")]));
    // The prefetch went out only once DescribePurgeTasks said the purge had succeeded.
    assert!(pre[0].at_ms >= purges[0].at_ms + 1500, "prefetched {} ms after the purge", pre[0].at_ms - purges[0].at_ms);
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"));
    // The zone was found by host, said so, and remembered.
    let notes = j["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains(&format!("www.example.com: EdgeOne zone {ZONE} (example.com) found"))),
        "{j}"
    );
    let cache: Value = serde_json::from_slice(&std::fs::read(site.state().join("edgeone-zones.json")).unwrap()).unwrap();
    assert_eq!((cache["zones"][0]["host"].as_str(), cache["zones"][0]["zone_id"].as_str()), (Some("www.example.com"), Some(ZONE)));
    assert_eq!(cache["zones"][0]["source"], "lookup");
}

#[test]
fn the_zone_is_looked_up_once_then_read_from_the_cache() {
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    site.run(&["sync"]).expect(0);
    let count = |a: &str| fake.requests().iter().filter(|r| r.action == a).count();
    assert_eq!((count("DescribeZones"), count("DescribeAccelerationDomains")), (1, 1));
    site.write("a.html", "v3");
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!((count("DescribeZones"), count("DescribeAccelerationDomains")), (1, 1), "the second run asked nothing about zones");
    assert!(out.json()["notes"].as_array().unwrap().iter().all(|n| !n.as_str().unwrap().contains("found by looking")), "{}", out.stdout);
    assert_eq!(of_type(&fake, "purge_url").iter().filter(|t| t.target == url("a.html")).count(), 2);

    // A domain naming its zone: confirmed once with DescribeAccelerationDomains, never looked up.
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, &format!("zone_id = \"{ZONE}\""));
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v3");
    site.run(&["sync"]).expect(0);
    let count = |a: &str| fake.requests().iter().filter(|r| r.action == a).count();
    assert_eq!((count("DescribeZones"), count("DescribeAccelerationDomains")), (0, 1));
}

#[test]
fn a_host_not_in_its_zone_is_refused_before_anything_is_sent() {
    // The zone named in the config does not serve the host.
    let fake = teo_fake(0, |c| c.zones.push(FakeZone::new("zone-other1", "example.org", &["www.example.org"])));
    let site = deployed(&fake, "zone_id = \"zone-other1\"");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    let j = out.json();
    let purge = job_of(&j, "purge_urls");
    assert_eq!((purge["status"].as_str(), purge["error"]["code"].as_str()), (Some("failed"), Some("HostNotInZone")), "{j}");
    let msg = purge["error"]["message"].as_str().unwrap();
    assert!(msg.contains("www.example.com") && msg.contains("zone-other1"), "{msg}");
    assert_eq!(creates(&fake), 0, "nothing sent: {:?}", fake.requests());
    assert!(!site.state().join("edgeone-zones.json").exists(), "a refused zone is not remembered");

    // No zone of the account is named after the host.
    let fake = teo_fake(0, |c| c.zones = vec![FakeZone::new("zone-other1", "example.org", &["www.example.org"])]);
    let site = deployed(&fake, "");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    assert_eq!(job_of(&out.json(), "purge_urls")["error"]["code"], "ZoneNotFound", "{}", out.stdout);
    assert_eq!(creates(&fake), 0);

    // Two zones share the name (alias zones): the config must say which.
    let fake = teo_fake(0, |c| {
        let mut alias = FakeZone::new("zone-alias2", "example.com", &["www.example.com"]);
        alias.alias = "example.com-2".into();
        c.zones.push(alias);
    });
    let site = deployed(&fake, "");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    let e = &job_of(&out.json(), "purge_urls")["error"];
    assert_eq!(e["code"], "ZoneAmbiguous", "{}", out.stdout);
    assert!(e["message"].as_str().unwrap().contains(ZONE) && e["message"].as_str().unwrap().contains("zone-alias2"), "{e}");
    assert_eq!(creates(&fake), 0);
    // Naming the zone settles it; the failed jobs go out with --retry-failed.
    site.edit_config("prefetch = [\"**/index.html\"]", &format!("prefetch = [\"**/index.html\"]\nzone_id = \"{ZONE}\""));
    site.run(&["sync", "--retry-failed"]).expect(0);
    assert_eq!(of_type(&fake, "purge_url").len(), 4);
    assert!(of_type(&fake, "purge_url").iter().all(|t| t.zone == ZONE));
}

#[test]
fn failed_list_targets_fail_and_the_rest_is_accepted() {
    let fake = teo_fake(0, |c| c.zones[0].refuse = vec![url("b.html")]);
    let site = deployed(&fake, "");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    let j = out.json();
    let jobs = j["jobs"].as_array().unwrap();
    let failed: Vec<&Value> = jobs.iter().filter(|x| x["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{j}");
    assert_eq!(failed[0]["urls"], serde_json::json!([url("b.html")]));
    assert_eq!(failed[0]["error"]["code"], "FailedList");
    assert!(failed[0]["error"]["message"].as_str().unwrap().contains("target not valid"), "{j}");
    let accepted = jobs.iter().find(|x| x["status"] == "accepted" && x["kind"] == "purge_urls").unwrap();
    assert_eq!(accepted["urls"].as_array().unwrap().len(), 3, "{j}");
    assert_eq!(j["outbox"]["failed"], 1);
    assert!(!targets(&of_type(&fake, "purge_url")).contains(&url("b.html")));

    // The zone stops serving the host after the cache said it did: the API refuses every target,
    // the cache forgets the host, and the next attempt is refused before it is sent.
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    site.run(&["sync"]).expect(0);
    fake.teo_edit_zones(|z| z[0].domains.clear());
    site.write("a.html", "v3");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    assert_eq!(job_of(&out.json(), "purge_urls")["error"]["code"], "InvalidParameter.DomainNotFound", "{}", out.stdout);
    let sent = creates(&fake);
    let out = site.run(&["--json", "sync", "--retry-failed"]);
    out.expect(3);
    assert_eq!(job_of(&out.json(), "purge_urls")["error"]["code"], "HostNotInZone", "{}", out.stdout);
    assert_eq!(creates(&fake), sent, "refused before sending");
}

#[test]
fn a_lost_reply_is_resolved_by_task_lookup_without_a_second_purge() {
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    fake.inject(FaultRule { action: Some("CreatePurgeTask".into()), fault: Fault::AcceptThenDrop, count: 1 });
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let purges = of_type(&fake, "purge_url");
    assert_eq!(purges.len(), 4, "each URL purged once: {purges:?}");
    let lookups: Vec<_> = fake.requests().into_iter().filter(|r| r.action == "DescribePurgeTasks").collect();
    assert!(!lookups.is_empty() && lookups.iter().all(|r| r.outcome == "ok"), "looked up: {lookups:?}");
    let job = job_of(&out.json(), "purge_urls");
    assert_eq!(job["task_id"].as_str(), Some(purges[0].job_id.as_str()), "the lookup found the task the lost reply named");
    assert_eq!(fake.requests().iter().filter(|r| r.action == "CreatePurgeTask").count(), 1);
}

#[test]
fn a_used_up_daily_quota_defers_to_the_reset() {
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    // No prefetch: one waiting on a deferred purge is reported pending (exit 1), as for the CDN.
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    // Every purge type: with directory quota left, the planner would collapse to a directory purge.
    for t in ["purge_url", "purge_prefix", "purge_host"] {
        fake.teo_set_available(ZONE, t, 0);
    }
    let out = site.run(&["--json", "sync"]);
    out.expect(4);
    let j = out.json();
    let purge = job_of(&j, "purge_urls");
    assert_eq!((purge["status"].as_str(), purge["error"]["code"].as_str()), (Some("deferred"), Some("QuotaExhausted")), "{j}");
    assert_eq!(of_type(&fake, "purge_url").len(), 0, "deferred without a request");
    assert_eq!(j["quota_before"]["purge_urls/global"], 0, "{j}");
    let job: Value = {
        let f = std::fs::read_dir(site.state().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| std::fs::read_to_string(p).unwrap().contains("\"deferred\""));
        serde_json::from_slice(&std::fs::read(f.unwrap()).unwrap()).unwrap()
    };
    let not_before = job["not_before_unix"].as_i64().unwrap();
    assert_eq!((not_before + 8 * 3600) % 86_400, 0, "deferred to 00:00 UTC+8: {not_before}");

    // The API says so although the last reading did not: LimitExceeded.DailyQuota defers too.
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    fake.inject(FaultRule { action: Some("CreatePurgeTask".into()), fault: Fault::ApiError("LimitExceeded.DailyQuota".into()), count: 1 });
    let out = site.run(&["--json", "sync"]);
    out.expect(4);
    let purge = job_of(&out.json(), "purge_urls");
    assert_eq!((purge["status"].as_str(), purge["error"]["code"].as_str()), (Some("deferred"), Some("LimitExceeded.DailyQuota")));
    assert!(of_type(&fake, "purge_url").is_empty());
    // After the reset (simulated: the quota and the job's date) it goes out.
    fake.reset_quota();
    for e in std::fs::read_dir(site.state().join("outbox")).unwrap() {
        let p = e.unwrap().path();
        let mut job: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        job["not_before_unix"] = serde_json::json!(0);
        std::fs::write(&p, serde_json::to_vec(&job).unwrap()).unwrap();
    }
    site.run(&["sync"]).expect(0);
    assert_eq!(of_type(&fake, "purge_url").len(), 4);
}

#[test]
fn batches_follow_the_zones_quota_and_a_batch_refusal_splits() {
    let fake = teo_fake(0, |c| {
        for q in c.zones[0].quota.iter_mut().filter(|q| q.0 == "purge_url") {
            q.1 = 3;
        }
    });
    let site = deployed(&fake, "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    site.run(&["sync"]).expect(0);
    let sizes: Vec<usize> = fake.requests().iter().filter(|r| r.action == "CreatePurgeTask").map(|r| r.size).collect();
    assert_eq!(sizes, [3, 1], "batches of DescribeContentQuota's Batch");
    // The API refuses a batch as too large although the quota said otherwise: halves, resent.
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    fake.inject(FaultRule { action: Some("CreatePurgeTask".into()), fault: Fault::ApiError("LimitExceeded.BatchQuota".into()), count: 1 });
    site.run(&["sync"]).expect(0);
    let sizes: Vec<usize> = fake.requests().iter().filter(|r| r.action == "CreatePurgeTask" && r.outcome == "ok").map(|r| r.size).collect();
    assert_eq!(sizes, [2, 2]);
    assert_eq!(of_type(&fake, "purge_url").len(), 4);
}

/// The fake holds the client to EdgeOne's rules: windows of at most 7 days in ISO 8601 with an
/// offset, page sizes, filters, no Region, known zones.
#[test]
fn the_fake_refuses_what_edgeone_refuses() {
    use cdnsync::api::teo::TeoClient;
    use serde_json::json;
    let fake = teo_fake(0, |_| {});
    let text = format!(
        "publish_dir = \"p\"\n[provider]\napi = \"edgeone\"\nendpoint = \"{}\"\n[[domain]]\nhost = \"www.example.com\"\n",
        fake.url()
    );
    let cfg = cdnsync::config::from_str(&text, std::path::Path::new("t.toml"), std::path::Path::new("/")).unwrap();
    let creds = cdnsync::credentials::Credentials::new(SECRET_ID, SECRET_KEY, None);
    let clock: std::sync::Arc<dyn cdnsync::Clock> = std::sync::Arc::new(cdnsync::SystemClock);
    let client: TeoClient = match cdnsync::api_for(&cfg, creds, clock).unwrap() {
        cdnsync::AnyApi::EdgeOne(c) => c,
        _ => unreachable!("api = edgeone"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let code = |action: &str, body: Value| match rt.block_on(client.call(action, &body)) {
        Ok(_) => "ok".to_string(),
        Err(cdnsync::Failure::Api(e)) => e.code,
        Err(other) => format!("{other:?}"),
    };
    let window = |start: &str, end: &str| json!({"ZoneId": ZONE, "StartTime": start, "EndTime": end});
    assert_eq!(code("DescribePurgeTasks", window("2026-01-01T00:00:00+08:00", "2026-01-08T00:00:00+08:00")), "ok");
    assert_eq!(
        code("DescribePurgeTasks", window("2026-01-01T00:00:00+08:00", "2026-01-08T00:00:01+08:00")),
        "InvalidParameter.ParameterError"
    );
    assert_eq!(code("DescribePurgeTasks", window("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")), "InvalidParameter.ParameterError");
    assert_eq!(code("DescribePurgeTasks", window("2026-01-01 00:00:00", "2026-01-02 00:00:00")), "InvalidParameter.ParameterError");
    assert_eq!(code("DescribePurgeTasks", json!({"ZoneId": ZONE})), "InvalidParameter.ParameterError", "a window or a job-id");
    assert_eq!(code("DescribePurgeTasks", json!({"ZoneId": ZONE, "Filters": [{"Name": "job-id", "Values": ["x"]}]})), "ok");
    assert_eq!(
        code("DescribePrefetchTasks", json!({"ZoneId": ZONE, "Filters": [{"Name": "type", "Values": ["purge_url"]}]})),
        "InvalidParameter.ParameterError"
    );
    assert_eq!(
        code("DescribePurgeTasks", json!({"ZoneId": ZONE, "Limit": 1001, "Filters": [{"Name": "job-id", "Values": ["x"]}]})),
        "InvalidParameter.ParameterError"
    );
    assert_eq!(
        code("DescribePurgeTasks", json!({"ZoneId": "zone-nope1", "Filters": [{"Name": "job-id", "Values": ["x"]}]})),
        "InvalidParameter.ZoneNotFound"
    );
    assert_eq!(code("DescribeZones", json!({"Limit": 101})), "InvalidParameter.ParameterError");
    assert_eq!(code("DescribeAccelerationDomains", json!({"ZoneId": ZONE, "Limit": 200})), "ok");
    assert_eq!(code("DescribeContentQuota", json!({})), "MissingParameter");
    let purge = |t: &str, targets: Value| json!({"ZoneId": ZONE, "Type": t, "Targets": targets});
    assert_eq!(code("CreatePurgeTask", purge("purge_host", json!(["https://www.example.com/"]))), "InvalidParameter.Target");
    assert_eq!(code("CreatePurgeTask", purge("purge_url", json!(["www.example.com/a"]))), "InvalidParameter.Target");
    assert_eq!(code("CreatePurgeTask", purge("purge_url", json!(["https://www.example.com/a b"]))), "InvalidParameter.Target");
    assert_eq!(code("CreatePurgeTask", purge("purge_url", json!(["https://other.example.org/a"]))), "InvalidParameter.DomainNotFound");
    assert_eq!(code("CreatePurgeTask", purge("purge_everything", json!(["https://www.example.com/a"]))), "InvalidParameter.ParameterError");
    assert_eq!(
        code("CreatePurgeTask", json!({"ZoneId": ZONE, "Type": "purge_url", "Targets": [], "Area": "mainland"})),
        "UnknownParameter"
    );
    assert_eq!(code("CreatePurgeTask", purge("purge_url", json!(["https://www.example.com/a"]))), "ok");
    assert!(fake.requests().iter().all(|r| r.api == "teo"));
}

#[test]
fn sync_all_purges_each_host_never_the_whole_zone() {
    let fake = teo_fake(0, |_| {});
    let site = teo_site(&fake, "", "method = \"delete\"");
    for f in ["a.html", "blog/b.html", "index.html"] {
        site.write(f, "v1");
    }
    let out = site.run(&["--json", "sync", "--all"]);
    out.expect(0);
    let hosts = of_type(&fake, "purge_host");
    assert_eq!(hosts.len(), 1, "{:?}", fake.teo_tasks());
    assert_eq!((hosts[0].target.as_str(), hosts[0].method.as_str()), ("www.example.com", "delete"));
    assert!(of_type(&fake, "purge_all").is_empty() && of_type(&fake, "purge_url").is_empty());
    let j = out.json();
    let dir = job_of(&j, "purge_paths");
    assert_eq!((dir["action"].as_str(), dir["urls"][0].as_str()), (Some("CreatePurgeTask"), Some("https://www.example.com/")));

    // A site under a path is a prefix purge of that path, with the domain's method.
    let fake = teo_fake(0, |_| {});
    let site = teo_site(&fake, "", "base_path = \"/site/\"");
    site.write("a.html", "v1");
    site.run(&["sync", "--all"]).expect(0);
    let prefix = of_type(&fake, "purge_prefix");
    assert_eq!((prefix.len(), prefix[0].target.as_str(), prefix[0].method.as_str()), (1, "https://www.example.com/site/", "invalidate"));
    assert!(of_type(&fake, "purge_host").is_empty());
}

#[test]
fn purge_prefetch_status_tasks_quota_and_wait() {
    let fake = teo_fake(3000, |_| {});
    let site = teo_site(&fake, "", "");
    site.write("docs/index.html", "v1");
    site.run(&["sync"]).expect(0);
    let out = site.run(&["--json", "purge", "docs/index.html"]);
    out.expect(0);
    assert_eq!(out.json()["jobs"][0]["action"], "CreatePurgeTask");
    site.run(&["purge", "--dir", "docs"]).expect(0);
    assert_eq!(targets(&of_type(&fake, "purge_prefix")), set([url("docs/")]));
    // Tasks are `processing` for 3 s: status --tasks says so, then done.
    let st = site.run(&["--json", "status", "--tasks"]);
    st.expect(0);
    let states: Vec<String> = st.json()["tasks"].as_array().unwrap().iter().map(|t| t["state"].as_str().unwrap().to_string()).collect();
    assert!(states.contains(&"process".to_string()), "{states:?}");
    sleep(Duration::from_millis(3100));
    let st = site.run(&["--json", "status", "--tasks"]);
    assert!(st.json()["tasks"].as_array().unwrap().iter().all(|t| t["state"] == "done"), "{}", st.stdout);
    // --area means nothing to EdgeOne: refused, nothing sent.
    let before = creates(&fake);
    let out = site.run(&["purge", "--area", "mainland", "docs/index.html"]);
    out.expect(2);
    assert!(out.stderr.contains("--area mainland does not apply"), "{}", out.stderr);
    assert_eq!(creates(&fake), before);
    site.run(&["prefetch", "https://www.example.com/docs/"]).expect(0);
    assert_eq!(targets(&of_type(&fake, "prefetch_url")), set([url("docs/")]));
    // quota: the kinds in `global`, and each zone's rows.
    let q = site.run(&["--json", "quota"]);
    q.expect(0);
    let e = &q.json()["entries"];
    assert_eq!(e["purge_urls/global"]["available"], 10_000 - 2, "{}", q.stdout);
    assert_eq!(e[&format!("{ZONE}/purge_prefix")]["available"], 10_000 - 1, "{}", q.stdout);
    assert_eq!(e["prefetch_urls/global"]["total"], 10_000);
    assert!(e.get("purge_urls/mainland").is_none(), "{}", q.stdout);
    // sync --wait polls until the tasks have finished.
    site.write("docs/index.html", "v2");
    let out = site.run(&["--json", "sync", "--wait=30"]);
    out.expect(0);
    assert_eq!(out.json()["tasks_finished"], true, "{}", out.stdout);
    // A host in no [[domain]] (--any-host) is looked up like any: not a domain of the zone found.
    let before = creates(&fake);
    let out = site.run(&["--json", "purge", "--any-host", "https://static.example.com/x.css"]);
    out.expect(3);
    let j = job_of(&out.json(), "purge_urls");
    assert_eq!((j["area"].as_str(), j["error"]["code"].as_str()), (Some("global"), Some("HostNotInZone")), "{}", out.stdout);
    assert_eq!(creates(&fake), before);
}

#[test]
fn session_tokens_are_sent_and_bad_keys_are_refused_for_good() {
    let fake = teo_fake(0, |c| c.token = Some("tok-STS-0123456789".into()));
    let site = deployed(&fake, &format!("zone_id = \"{ZONE}\""));
    // A Region meant for the CDN API is not sent to EdgeOne (the fake refuses X-TC-Region).
    site.edit_config("timeout_secs = 5", "timeout_secs = 5\nregion = \"ap-guangzhou\"");
    let env =
        [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("TENCENTCLOUD_TOKEN", "tok-STS-0123456789")];
    site.run_env(&["sync"], &env).expect(0);
    assert_eq!(of_type(&fake, "purge_url").len(), 4);
    site.write("a.html", "v3");
    let wrong = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", "wrongwrongwrongwrongwrongwrong12"), env[2]];
    let out = site.run_env(&["--json", "sync"], &wrong);
    out.expect(3);
    assert_eq!(job_of(&out.json(), "purge_urls")["error"]["code"], "AuthFailure.SignatureFailure", "{}", out.stdout);
    assert!(fake.requests().iter().all(|r| r.api == "teo"), "every request went to EdgeOne: {:?}", fake.requests());
}

#[test]
fn watch_syncs_through_edgeone() {
    let fake = teo_fake(0, |_| {});
    let site = teo_site(&fake, "", "");
    site.append_config("[watch]\nsettle_ms = 300\nmax_wait_ms = 10000\n");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    let mut w = site.spawn(&["watch"], &[]);
    w.wait_for_line("watching");
    w.wait_for_line("synced whole tree (start-up)");
    site.write("a.html", "v2");
    for _ in 0..300 {
        if !of_type(&fake, "purge_url").is_empty() {
            break;
        }
        sleep(Duration::from_millis(50));
    }
    assert_eq!(targets(&of_type(&fake, "purge_url")), set([url("a.html")]));
    w.terminate();
    let (code, _) = w.finish_within(30);
    assert_eq!(code, 0);
}

#[test]
fn a_zone_lookup_lost_in_transit_is_retried_and_no_create_is_taken_as_maybe_sent() {
    let fake = teo_fake(0, |_| {});
    let site = deployed(&fake, "");
    site.edit_config("prefetch = [\"**/index.html\"]", "");
    // The quota reading loses the first, the job's own lookup the second.
    fake.inject(FaultRule { action: Some("DescribeZones".into()), fault: Fault::Drop, count: 2 });
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert!(
        out.json()["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("could not read the quota")),
        "{}",
        out.stdout
    );
    assert_eq!(of_type(&fake, "purge_url").len(), 4);
    assert!(!fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "no lookup of a create never sent: {:?}", fake.requests());
}
