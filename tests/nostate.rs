//! A cache miss in CI never passes silently (`if_no_state`): the binary run as a CI job runs it,
//! with `CI=true` and an empty state directory.

use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn ci(site: &TempSite, args: &[&str], ci: &str) -> Out {
    site.run_env(args, &[("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("CI", ci)])
}

fn built(fake: &cdnsync::fake::FakeCdn) -> TempSite {
    let site = TempSite::new(fake, "", "base_path = \"/docs/\"");
    for p in ["index.html", "a.html", "css/site.css"] {
        site.write(p, "v1");
    }
    site
}

#[test]
fn ci_with_an_empty_cache_purges_each_domain_root_once_and_says_why() {
    let fake = fake();
    let site = built(&fake);
    let out = ci(&site, &["--json", "sync"], "true");
    out.expect(0);
    let j = out.json();
    assert_eq!(j["no_state_rule"], "purge_all", "{j}");
    assert!(j["notes"].to_string().contains("rule purge_all (the default under CI (CI=\\\"true\\\""), "{}", j["notes"]);
    let kinds: Vec<(String, String)> =
        j["jobs"].as_array().unwrap().iter().map(|x| (x["kind"].as_str().unwrap().into(), x["status"].as_str().unwrap().into())).collect();
    assert_eq!(kinds, [("purge_paths".into(), "accepted".into()), ("purge_paths".into(), "accepted".into())], "{j}");
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgePaths, area), set(["https://www.example.com/docs/"]), "{area}");
        assert!(fake.urls(JobKind::PurgeUrls, area).is_empty());
    }
    assert!(fake.urls(JobKind::PrefetchUrls, Area::Mainland).is_empty(), "nothing prefetched: what changed is unknown");
    assert!(site.state().join("manifest").exists(), "the tree is recorded");
    // The next run of the same cache is an ordinary diff: nothing changed, nothing sent.
    let before = work_requests(&fake).len();
    let again = ci(&site, &["--json", "sync"], "true");
    again.expect(0);
    assert_eq!(again.json()["no_state_rule"], serde_json::Value::Null);
    assert_eq!(work_requests(&fake).len(), before);

    // The human summary says it too, on stdout.
    let fake = cdnsync::fake::FakeCdn::start(Default::default()).unwrap();
    let site = built(&fake);
    let out = ci(&site, &["sync"], "1");
    out.expect(0);
    assert!(out.stdout.contains("no manifest yet: rule purge_all (the default under CI (CI=\"1\""), "{}", out.stdout);
    assert!(out.stdout.contains("PurgePathCache purge_paths mainland www.example.com: 1 URL(s), accepted"), "{}", out.stdout);
}

#[test]
fn plan_says_which_rule_sync_would_apply() {
    let fake = fake();
    let site = built(&fake);
    let out = ci(&site, &["--json", "plan"], "true");
    out.expect(0);
    assert_eq!(out.json()["no_state_rule"], "purge_all");
    assert_eq!(out.json()["jobs"].as_array().unwrap().len(), 2, "{}", out.stdout);
    let out = ci(&site, &["--json", "plan"], "false");
    assert_eq!(out.json()["no_state_rule"], "baseline", "CI=false is not CI");
    assert!(out.json()["jobs"].as_array().unwrap().is_empty());
    assert!(work_requests(&fake).is_empty() && !site.state().join("manifest").exists(), "plan sends and writes nothing");
}

#[test]
fn fail_exits_2_and_does_nothing() {
    let fake = fake();
    let site = built(&fake);
    let out = ci(&site, &["--json", "sync", "--if-no-state=fail"], "true");
    out.expect(2);
    let msg = out.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("no manifest in") && msg.contains("--if-no-state=fail on the command line") && msg.contains("nothing was done"),
        "{msg}"
    );
    assert!(!site.state().join("manifest").exists());
    assert!(fake.requests().iter().all(|r| r.action.starts_with("Describe")), "{:?}", fake.requests());
    // The config's key wins over CI, and the flag over the key.
    site.edit_config("publish_dir = \"public\"", "publish_dir = \"public\"\nif_no_state = \"fail\"");
    let out = ci(&site, &["sync"], "");
    out.expect(2);
    assert!(out.stderr.contains("if_no_state = \"fail\" in"), "{}", out.stderr);
    let out = ci(&site, &["--json", "sync", "--if-no-state=baseline"], "true");
    out.expect(0);
    assert_eq!(out.json()["no_state_rule"], "baseline");
    assert!(work_requests(&fake).is_empty(), "a baseline purges nothing");
}

#[test]
fn a_usable_published_manifest_is_not_a_cache_miss() {
    let origin = tempfile::tempdir().unwrap();
    let fake = fake_with(|c| c.origin_dir = Some(origin.path().to_path_buf()));
    let runner = |a: &str| {
        let site = TempSite::new(&fake, "", "");
        site.edit_config(
            "publish_dir = \"public\"",
            &format!("publish_dir = \"public\"\nmanifest_url = \"{}/origin/.cdnsync/manifest\"", fake.url()),
        );
        site.write("a.html", a);
        site.write("b.html", "b");
        site
    };
    // The first deploy ever: nothing published, so under CI the root is purged.
    let first = runner("a1");
    let out = ci(&first, &["--json", "sync"], "true");
    out.expect(0);
    assert_eq!(out.json()["no_state_rule"], "purge_all", "{}", out.stdout);
    let published = first.public().join(".cdnsync/manifest");
    std::fs::create_dir_all(origin.path().join(".cdnsync")).unwrap();
    std::fs::copy(published, origin.path().join(".cdnsync/manifest")).unwrap();
    // A fresh runner with the published manifest: an ordinary diff, only a.html purged.
    let before = fake.urls(JobKind::PurgePaths, Area::Mainland).len();
    let second = runner("a2");
    let out = ci(&second, &["--json", "sync"], "true");
    out.expect(0);
    assert_eq!(out.json()["no_state_rule"], serde_json::Value::Null, "{}", out.stdout);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland), set(["https://www.example.com/a.html"]));
    assert_eq!(fake.urls(JobKind::PurgePaths, Area::Mainland).len(), before, "no second root purge");
}
