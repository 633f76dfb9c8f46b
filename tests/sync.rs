//! End-to-end: `plan` and `sync` of the real binary against the fake API 3.0.

use cdnsync::model::{Area, JobKind};

use crate::util::*;

const BASE: &str = "https://www.example.com/";

fn populate(site: &TempSite) {
    site.write("index.html", "home v1");
    site.write("about/index.html", "about v1");
    site.write("css/site.css", "body{}");
    site.write("js/app.js", "console.log(1)");
    for i in 0..12 {
        site.write(&format!("blog/post{i}.html"), &format!("post {i}"));
    }
    site.write(".git/HEAD", "ref: refs/heads/main");
    site.write("blog/.post1.html.swp", "swap");
}

/// The deploy of the issue: 3 modified, 2 added, 1 removed, 10 rewritten with identical bytes.
fn deploy(site: &TempSite) {
    site.write("index.html", "home v2");
    site.write("css/site.css", "body{color:red}");
    site.write("blog/post0.html", "post 0, edited");
    site.write("new.html", "brand new");
    site.write("docs/index.html", "new docs");
    site.remove("js/app.js");
    for i in 1..11 {
        site.rewrite_identical(&format!("blog/post{i}.html"));
    }
    // Editor and VCS noise must not count.
    site.write("blog/.post2.html.swp", "swap again");
    site.write(".git/index", "binary");
}

#[test]
fn deploy_purges_exactly_what_changed_in_every_area() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);

    // First sync: a baseline, nothing purged.
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    assert_eq!(j["jobs"].as_array().unwrap().len(), 0, "{j}");
    assert!(out.stderr.contains("first sync: baseline recorded"), "{}", out.stderr);
    assert!(work_requests(&fake).is_empty(), "{:?}", fake.requests());

    deploy(&site);

    // plan: what sync would do, with no request and nothing written.
    let manifest_before = std::fs::read(site.state().join("manifest")).unwrap();
    let plan = site.run(&["--json", "plan"]);
    plan.expect(0);
    let pj = plan.json();
    assert!(pj["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "planned"), "{pj}");
    assert_eq!(std::fs::read(site.state().join("manifest")).unwrap(), manifest_before, "plan must not write");
    assert!(work_requests(&fake).is_empty());

    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    assert_eq!(j["changes"]["added"], serde_json::json!(["docs/index.html", "new.html"]));
    assert_eq!(j["changes"]["modified"], serde_json::json!(["blog/post0.html", "css/site.css", "index.html"]));
    assert_eq!(j["changes"]["removed"], serde_json::json!(["js/app.js"]));
    assert_eq!(j["changes"]["unchanged"], 12, "10 identical rewrites and 2 untouched files are unchanged");
    assert_eq!(j["outbox"], serde_json::json!({"pending": 0, "deferred": 0, "failed": 0}));

    let want_purge = set(["blog/post0.html", "css/site.css", "index.html", "", "js/app.js"].map(|p| format!("{BASE}{p}")));
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), want_purge, "{area}");
        assert_eq!(
            fake.urls(JobKind::PrefetchUrls, area),
            set(["docs/index.html", "docs/", "index.html", ""].map(|p| format!("{BASE}{p}")))
        );
    }
    // docs/json.md: each job's own fields say what the API took, per area.
    let mut reported: std::collections::BTreeSet<(String, String)> = Default::default();
    for job in j["jobs"].as_array().unwrap() {
        assert!(job["id"].as_str().is_some_and(|id| !id.is_empty()), "{job}");
        if job["kind"] == "purge_urls" {
            for u in job["urls"].as_array().unwrap() {
                reported.insert((job["area"].as_str().unwrap().to_string(), u.as_str().unwrap().to_string()));
            }
        }
    }
    let want_reported: std::collections::BTreeSet<(String, String)> =
        Area::ALL.iter().flat_map(|a| want_purge.iter().map(move |u| (a.as_str().to_string(), u.clone()))).collect();
    assert_eq!(reported, want_reported);
    for job in j["jobs"].as_array().unwrap() {
        assert_eq!(job["status"], "accepted", "{job}");
        assert!(job["task_id"].as_str().is_some_and(|t| t.contains("fake")), "{job}");
        let action = if job["kind"] == "prefetch_urls" { "PushUrlsCache" } else { "PurgeUrlsCache" };
        assert_eq!(job["action"], action);
        assert!(job["error"].is_null());
    }
    // Prefetches were sent only after every purge.
    let actions: Vec<String> = work_requests(&fake).into_iter().map(|r| r.action).collect();
    let last_purge = actions.iter().rposition(|a| a == "PurgeUrlsCache").unwrap();
    let first_push = actions.iter().position(|a| a == "PushUrlsCache").unwrap();
    assert!(last_purge < first_push, "{actions:?}");

    // Nothing changed: nothing sent.
    let sent = work_requests(&fake).len();
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(out.json()["jobs"].as_array().unwrap().len(), 0);
    assert_eq!(work_requests(&fake).len(), sent, "a no-change sync sends nothing");
}

#[test]
fn all_purges_everything_as_directory_purges() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.run(&["sync", "--baseline"]).expect(0);
    assert!(work_requests(&fake).is_empty());
    let out = site.run(&["--json", "sync", "--all"]);
    out.expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgePaths, area), set([BASE]));
        assert!(fake.urls(JobKind::PurgeUrls, area).is_empty());
    }
}

#[test]
fn full_rehash_agrees_with_the_stat_cache() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.backdate_all();
    site.run(&["sync"]).expect(0);
    site.write("css/site.css", "changed");
    let cached = site.run(&["--json", "plan"]).json();
    let full = site.run(&["--json", "plan", "--full"]).json();
    assert_eq!(cached["changes"], full["changes"]);
    assert_eq!(full["scan"]["hashed"], full["scan"]["files"], "--full hashes every file");
    assert_eq!(cached["scan"]["hashed"], 1, "only the changed file is rehashed: {cached}");
}

#[test]
fn adhoc_purge_and_prefetch() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.run(&["purge", "about/index.html", "https://www.example.com/x.png", "--area", "overseas"]).expect(0);
    assert_eq!(
        fake.urls(JobKind::PurgeUrls, Area::Overseas),
        set([format!("{BASE}about/index.html"), format!("{BASE}about/"), format!("{BASE}x.png")])
    );
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).is_empty());
    site.run(&["purge", "--dir", "blog"]).expect(0);
    assert_eq!(fake.urls(JobKind::PurgePaths, Area::Mainland), set([format!("{BASE}blog/")]));
    site.run(&["prefetch", "index.html"]).expect(0);
    assert_eq!(fake.urls(JobKind::PrefetchUrls, Area::Mainland), set([format!("{BASE}index.html"), BASE.to_string()]));
    // A path no domain serves is a usage error, and nothing is sent.
    let before = work_requests(&fake).len();
    let site2 = TempSite::new(&fake, "", "include = [\"static/**\"]");
    site2.run(&["purge", "index.html"]).expect(2);
    assert_eq!(work_requests(&fake).len(), before);
}

#[test]
fn refused_domain_fails_with_exit_3_and_stays_owed() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    // A second domain the account does not have.
    let cfg = std::fs::read_to_string(site.dir.join("cdnsync.toml")).unwrap();
    std::fs::write(site.dir.join("cdnsync.toml"), cfg.replacen("[limits]", "[[domain]]\nhost = \"cdn.other.com\"\n\n[limits]", 1)).unwrap();
    populate(&site);
    site.run(&["sync"]).expect(0);
    site.write("index.html", "v2");
    let out = site.run(&["--json", "sync"]);
    out.expect(3);
    let j = out.json();
    let failed: Vec<&serde_json::Value> = j["jobs"].as_array().unwrap().iter().filter(|j| j["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{j}");
    assert_eq!(failed[0]["host"], "cdn.other.com");
    assert_eq!(failed[0]["error"]["code"], "ResourceNotFound.CdnHostNotExists");
    // The good domain was purged regardless.
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).contains(&format!("{BASE}index.html")));
    assert_eq!(j["outbox"]["failed"], 1);
    // Kept as failed, not retried by a plain sync: reported as held, but this run (which had
    // nothing to do) exits 0; status shows it.
    let again = site.run(&["--json", "sync"]);
    again.expect(0);
    let held = again.json()["held"].as_array().unwrap().clone();
    assert_eq!(held.len(), 1, "{}", again.stdout);
    assert_eq!((held[0]["host"].as_str(), held[0]["status"].as_str()), (Some("cdn.other.com"), Some("failed")));
    assert!(again.json()["jobs"].as_array().unwrap().is_empty(), "{}", again.stdout);
    let st = site.run(&["--json", "status"]);
    st.expect(0);
    assert_eq!(st.json()["outbox"]["failed"], 1);
}

#[test]
fn session_token_is_sent_and_checked() {
    let fake = fake_with(|c| c.token = Some("tmpSessionToken".into()));
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.run(&["sync"]).expect(0);
    site.write("index.html", "v2");
    let env = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)];
    let out = site.run_env(&["--json", "sync"], &env);
    out.expect(3);
    assert!(out.stdout.contains("AuthFailure.TokenFailure"), "{}", out.stdout);
    let env = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("TENCENTCLOUD_TOKEN", "tmpSessionToken")];
    let out = site.run_env(&["--json", "sync", "--retry-failed"], &env);
    out.expect(0);
    assert!(!out.stdout.contains("tmpSessionToken") && !out.stderr.contains("tmpSessionToken"));
}

#[test]
fn wrong_secret_is_refused_and_never_printed() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.run(&["sync"]).expect(0);
    site.write("index.html", "v2");
    let out = site.run_env(
        &["-vv", "--json", "sync"],
        &[("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", "wrongSecretKeyValue123")],
    );
    out.expect(3);
    assert!(out.stdout.contains("AuthFailure.SignatureFailure"), "{}", out.stdout);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("wrongSecretKeyValue123"));
    }
    for entry in walk(&site.state()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("wrongSecretKeyValue123") && !text.contains(SECRET_KEY), "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn missing_credentials_exit_2_naming_the_variables() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    let out = site.run_env(&["sync"], &[]);
    out.expect(2);
    assert!(out.stderr.contains("TENCENTCLOUD_SECRET_ID") && out.stderr.contains("TENCENTCLOUD_SECRET_KEY"), "{}", out.stderr);
    assert!(!site.state().join("manifest").exists(), "nothing was done");
    // plan needs no credentials.
    site.run_env(&["plan"], &[]).expect(0);
}

#[test]
fn status_shows_masked_secret_id() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    populate(&site);
    site.run(&["sync"]).expect(0);
    let out = site.run(&["status"]);
    out.expect(0);
    assert!(out.stdout.contains("AKID…0000") && !out.stdout.contains(SECRET_ID) && !out.stderr.contains(SECRET_ID), "{}", out.stdout);
    assert!(out.stdout.contains("tracked files: 16"), "{}", out.stdout);
}
