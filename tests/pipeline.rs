//! Pipelines: ephemeral CI runners with `manifest_url`, and the git post-receive hook.

use std::path::Path;

use cdnsync::fake::FakeCdn;
use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A fresh runner: a new checkout with no state, building `pages` into `public/`.
fn runner(fake: &FakeCdn, pages: &[(&str, &str)]) -> TempSite {
    let site = TempSite::new(fake, "", "");
    site.edit_config(
        "publish_dir = \"public\"",
        &format!("publish_dir = \"public\"\nmanifest_url = \"{}/origin/.cdnsync/manifest\"", fake.url()),
    );
    for (p, body) in pages {
        site.write(p, body);
    }
    site
}

#[test]
fn ephemeral_runners_purge_only_what_changed_via_the_published_manifest() {
    let origin = tempfile::tempdir().unwrap();
    let fake = fake_with(|c| c.origin_dir = Some(origin.path().to_path_buf()));
    let deploy = |site: &TempSite| copy_tree(&site.public(), origin.path());

    // First deploy ever: nothing published yet -> baseline, and it says so.
    let r1 = runner(&fake, &[("a.html", "a1"), ("b.html", "b1"), ("c.html", "c1")]);
    let out = r1.run(&["--json", "sync"]);
    out.expect(0);
    let notes = out.json()["notes"].to_string();
    assert!(notes.contains("no published manifest") && notes.contains("HTTP 404"), "{notes}");
    assert!(r1.public().join(".cdnsync/manifest").exists());
    deploy(&r1);
    assert!(work_requests(&fake).is_empty());

    // Second runner, fresh disk: only a.html changed.
    let r2 = runner(&fake, &[("a.html", "a2"), ("b.html", "b1"), ("c.html", "c1")]);
    let out = r2.run(&["--json", "sync"]);
    out.expect(0);
    assert!(out.json()["notes"].to_string().contains("diffed against the published one"), "{}", out.stdout);
    assert_eq!(out.json()["changes"]["modified"], serde_json::json!(["a.html"]));
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set(["https://www.example.com/a.html"]));
    }
    deploy(&r2);

    // Third runner: b.html changed but the overseas quota is gone -> owed, and the runner's
    // outbox dies with it. The published manifest stays the previous one...
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 0);
    fake.set_available(JobKind::PurgePaths, Area::Overseas, 0);
    let r3 = runner(&fake, &[("a.html", "a2"), ("b.html", "b2"), ("c.html", "c1")]);
    let out = r3.run(&["--json", "sync"]);
    out.expect(4);
    assert!(out.json()["notes"].to_string().contains("keeps the previous manifest"), "{}", out.stdout);
    deploy(&r3);
    // ...so the fourth runner, with the quota back, purges b.html again.
    fake.reset_quota();
    let r4 = runner(&fake, &[("a.html", "a2"), ("b.html", "b2"), ("c.html", "c1")]);
    let out = r4.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(out.json()["changes"]["modified"], serde_json::json!(["b.html"]));
    assert!(fake.urls(JobKind::PurgeUrls, Area::Overseas).contains("https://www.example.com/b.html"));
    // The manifest itself is never tracked or purged.
    assert!(!fake.urls(JobKind::PurgeUrls, Area::Mainland).iter().any(|u| u.contains(".cdnsync")));
}

#[test]
fn a_damaged_published_manifest_falls_back_to_the_baseline_and_warns() {
    let origin = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(origin.path().join(".cdnsync")).unwrap();
    std::fs::write(origin.path().join(".cdnsync/manifest"), "cdnsync-manifest 1\ngarbage").unwrap();
    let fake = fake_with(|c| c.origin_dir = Some(origin.path().to_path_buf()));
    let r = runner(&fake, &[("a.html", "a")]);
    let out = r.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    assert!(j["warnings"].to_string().contains("cannot use the published manifest"), "{j}");
    assert_eq!(j["baseline"], true);
    // A local manifest (a cached state_dir) wins: the URL is not fetched again.
    assert!(!r.run(&["--json", "sync"]).json()["warnings"].to_string().contains("published"));
}
