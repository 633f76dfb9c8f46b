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

/// `examples/post-receive` driven by a real `git push` into a bare repository on disk.
#[test]
fn post_receive_hook_deploys_only_the_configured_branch_and_purges_what_changed() {
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bare = root.join("site.git");
    let www = root.join("www");
    let work = root.join("work");
    let bin = env!("CARGO_BIN_EXE_cdnsync");
    let git = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("CDNSYNC", bin)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    git(root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    let hook = bare.join("hooks/post-receive");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/post-receive"), &hook).unwrap();
    git(&bare, &["config", "deploy.branch", "main"]);
    git(&bare, &["config", "deploy.worktree", www.to_str().unwrap()]);
    // The "site generator": copy src/ to public/.
    git(&bare, &["config", "deploy.build", "rm -rf public && cp -r src public"]);

    git(root, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    let write = |rel: &str, body: &str| {
        let p = work.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    write(
        "cdnsync.toml",
        &format!("publish_dir = \"public\"\n\n[provider]\nendpoint = \"{}\"\n\n[[domain]]\nhost = \"www.example.com\"\n", fake.url()),
    );
    write(".gitignore", "public/\n.cdnsync/\n");
    write("src/index.html", "home 1");
    write("src/a.html", "a 1");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "site"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    let first = git(&work, &["push", "-q", "origin", "main"]);
    assert!(first.contains("first sync: baseline recorded"), "{first}");
    assert!(www.join("public/a.html").exists());
    assert!(work_requests(&fake).is_empty());

    // One push, two refs: a change on main and another on a feature branch.
    write("src/a.html", "a 2");
    git(&work, &["commit", "-q", "-am", "edit a"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    write("src/index.html", "home from a feature branch");
    git(&work, &["commit", "-q", "-am", "feature work"]);
    let second = git(&work, &["push", "origin", "main", "feature"]);
    assert!(second.contains("refs/heads/feature updated; only refs/heads/main is deployed"), "{second}");
    assert!(second.contains("https://www.example.com/a.html"), "the hook logs what was purged: {second}");
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland), set(["https://www.example.com/a.html"]));
    assert_eq!(std::fs::read_to_string(www.join("public/index.html")).unwrap(), "home 1", "feature not deployed");
    let log = std::fs::read_to_string(bare.join("cdnsync.log")).unwrap();
    assert!(log.contains("deploying main") && log.contains("PurgeUrlsCache"), "{log}");

    // Pushing only the feature branch deploys nothing.
    let before = fake.requests().len();
    write("src/a.html", "a 3 (feature)");
    git(&work, &["commit", "-q", "-am", "more feature"]);
    git(&work, &["push", "-q", "origin", "feature"]);
    assert_eq!(fake.requests().len(), before);
    assert_eq!(std::fs::read_to_string(www.join("public/a.html")).unwrap(), "a 2");
}
