//! Hostile file trees (issue 12): symlinks out of the site, into pseudo filesystems and in
//! exploding chains; a state folder inside `publish_dir`; folders that cannot be listed for a
//! while; files swapped for a FIFO or a device mid-scan; `init` and a symlinked config path.
//! Each runs the real binary against the local fake.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Every path the tree now holds, per the plan's changes (with `--all`, everything is "added"
/// against an empty manifest when there is none).
fn planned_paths(site: &TempSite) -> (BTreeSet<String>, serde_json::Value) {
    let out = site.run(&["--json", "plan", "--all"]);
    out.expect(0);
    let j = out.json();
    let c = &j["changes"];
    let mut all = strings(&c["added"]);
    all.extend(strings(&c["modified"]));
    (all, j)
}

fn links_outside(j: &serde_json::Value) -> Vec<(String, bool)> {
    j["links_outside"]
        .as_array()
        .unwrap_or_else(|| panic!("no links_outside in {j}"))
        .iter()
        .map(|l| (l["path"].as_str().unwrap().to_string(), l["followed"].as_bool().unwrap()))
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn links_out_of_the_site_are_named_and_pseudo_filesystems_are_never_entered() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "home");
    let outside = site.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("shared.css"), "x").unwrap();
    symlink(&outside, site.public().join("shared")).unwrap();
    // Pseudo filesystems: a small folder of proc, a file of proc, a small folder of sysfs.
    symlink("/proc/sys/kernel/random", site.public().join("rnd")).unwrap();
    symlink("/proc/uptime", site.public().join("uptime.txt")).unwrap();
    let sys = Path::new("/sys/kernel/mm");
    let has_sys = sys.is_dir();
    if has_sys {
        symlink(sys, site.public().join("mm")).unwrap();
    }

    let (paths, plan) = planned_paths(&site);
    assert_eq!(paths, set(["index.html", "shared/shared.css"]), "links are followed, pseudo filesystems never entered");
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("rnd") && warnings.contains("pseudo filesystem (proc)"), "{warnings}");
    assert!(warnings.contains("uptime.txt"), "{warnings}");
    let mut links = links_outside(&plan);
    links.sort();
    let mut want = vec![("rnd".to_string(), false), ("shared".into(), true), ("uptime.txt".into(), false)];
    if has_sys {
        want.insert(0, ("mm".into(), false));
    }
    assert_eq!(links, want);

    // `plan -v` and `status` name them in words too.
    let verbose = site.run(&["plan", "-v"]);
    verbose.expect(0);
    assert!(verbose.stdout.contains(&format!("shared -> {}", outside.canonicalize().unwrap().display())), "{}", verbose.stdout);
    let quiet = site.run(&["plan"]);
    assert!(quiet.stdout.contains("lead out of publish_dir") && !quiet.stdout.contains("shared ->"), "{}", quiet.stdout);
    let status = site.run(&["status"]);
    status.expect(0);
    assert!(status.stdout.contains("shared ->") && status.stdout.contains("rnd ->"), "{}", status.stdout);
    let status = site.run(&["--json", "status"]);
    assert_eq!(links_outside(&status.json()).len(), want.len(), "{}", status.stdout);
}

#[test]
fn symlinks_inside_follows_only_links_that_stay_in_the_site_and_skip_follows_none() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "home");
    site.write("docs/a.html", "a");
    let outside = site.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "do not publish").unwrap();
    symlink("docs", site.public().join("latest")).unwrap();
    symlink("index.html", site.public().join("home.html")).unwrap();
    symlink(&outside, site.public().join("out")).unwrap();
    symlink(outside.join("secret.txt"), site.public().join("secret.txt")).unwrap();
    // A relative link that climbs out through `..`.
    symlink("../../outside", site.public().join("docs/up")).unwrap();
    let follow = set([
        "index.html",
        "docs/a.html",
        "latest/a.html",
        "home.html",
        "out/secret.txt",
        "secret.txt",
        "docs/up/secret.txt",
        "latest/up/secret.txt",
    ]);
    assert_eq!(planned_paths(&site).0, follow);

    site.edit_config("publish_dir = \"public\"", "publish_dir = \"public\"\nsymlinks = \"inside\"");
    let (paths, plan) = planned_paths(&site);
    assert_eq!(paths, set(["index.html", "docs/a.html", "latest/a.html", "home.html"]));
    let links = links_outside(&plan);
    assert!(links.contains(&("secret.txt".into(), false)) && links.contains(&("docs/up".into(), false)), "{links:?}");

    // `skip`: no link is followed, but a symlinked publish_dir still is.
    symlink("public", site.dir.join("current")).unwrap();
    site.edit_config("publish_dir = \"public\"\nsymlinks = \"inside\"", "publish_dir = \"current\"\nsymlinks = \"skip\"");
    assert_eq!(planned_paths(&site).0, set(["index.html", "docs/a.html"]));
}

#[test]
fn a_dag_of_links_and_publish_dir_slash_end_with_an_error_naming_max_files() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    // 30 levels, each linking twice to the next: 2^30 paths if every chain were walked.
    for i in 0..30 {
        site.write(&format!("l{i}/page.html"), "x");
        if i < 29 {
            for name in ["a", "b"] {
                symlink(format!("../l{}", i + 1), site.public().join(format!("l{i}/{name}"))).unwrap();
            }
        }
    }
    site.append_config("max_files = 5000");
    let out = site.run(&["plan"]);
    out.expect(2);
    assert!(out.stderr.contains("more than 5000 files and folders") && out.stderr.contains("[limits] max_files"), "{}", out.stderr);

    // The whole machine as a site ends too, with the same error.
    site.edit_config("publish_dir = \"public\"", "publish_dir = \"/\"");
    let out = site.run(&["plan"]);
    out.expect(2);
    assert!(out.stderr.contains("more than 5000 files and folders"), "{}", out.stderr);
}

#[test]
fn a_state_folder_inside_publish_dir_is_never_tracked_or_purged() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.edit_config("publish_dir = \"public\"", "publish_dir = \"public\"\nstate_dir = \"public/state\"");
    site.write("index.html", "v1");
    // Reached through a link too, and a state folder outside the site linked in.
    symlink("state", site.public().join("state-again")).unwrap();
    site.run(&["sync"]).expect(0);
    assert!(site.public().join("state/manifest").exists(), "the state folder is where the config says");
    site.write("index.html", "v2");
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let c = &out.json()["changes"];
    assert_eq!(strings(&c["modified"]), set(["index.html"]), "{c}");
    assert!(strings(&c["added"]).is_empty() && strings(&c["removed"]).is_empty(), "{c}");
    let purged = fake.urls(JobKind::PurgeUrls, Area::Mainland);
    assert!(purged.iter().all(|u| !u.contains("state")), "{purged:?}");
    let status = site.run(&["--json", "status"]).json();
    assert_eq!(status["tracked_files"], 1, "{status}");
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Let another user read the whole site and its state (for [`run_unprivileged`]).
fn open_to_all(site: &TempSite) {
    let ok = Command::new("chmod").arg("-R").arg("a+rX").arg(site.tmp.path()).status().unwrap().success();
    assert!(ok, "chmod -R");
}

/// Run `cdnsync` as an unprivileged user when this test runs as root (root lists any folder).
fn run_unprivileged(site: &TempSite, args: &[&str]) -> Out {
    let mut c = if is_root() {
        let mut c = site.command("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_cdnsync")]);
        c
    } else {
        site.command(env!("CARGO_BIN_EXE_cdnsync"))
    };
    let out = c.args(args).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_folder_that_cannot_be_listed_keeps_its_files_and_loses_no_change() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "home");
    site.write("locked/a.html", "a1");
    site.write("locked/deep/b.html", "b1");
    site.write("nostat/c.html", "c1");
    site.run(&["sync"]).expect(0);
    open_to_all(&site);

    // No read permission: cannot be listed. No search permission: listed, but nothing in it can
    // be looked at.
    chmod(&site.public().join("locked"), 0o000);
    chmod(&site.public().join("nostat"), 0o644);
    let out = run_unprivileged(&site, &["--json", "plan"]);
    chmod(&site.public().join("locked"), 0o755);
    chmod(&site.public().join("nostat"), 0o755);
    out.expect(0);
    let j = out.json();
    assert!(strings(&j["changes"]["removed"]).is_empty(), "nothing is reported removed: {}", j["changes"]);
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("locked") && warnings.contains("keeping its previous"), "{warnings}");
    assert!(warnings.contains("nostat"), "{warnings}");

    // When it can be listed again, a change made meanwhile is purged as a change.
    site.write("locked/a.html", "a2");
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(strings(&out.json()["changes"]["modified"]), set(["locked/a.html"]));
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).contains("https://www.example.com/locked/a.html"));
}

#[test]
fn a_file_swapped_for_a_fifo_or_a_device_mid_scan_does_not_hang_the_scan() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "home");
    site.write("fifo.html", "soon a FIFO");
    site.write("zero.html", "soon /dev/zero");
    // Stop after the walk, before any file is read, and swap two files meanwhile.
    let mut run = site.spawn(&["plan"], &[("CDNSYNC_FAILPOINT", "scan=2000")]);
    run.wait_for_line("failpoint scan");
    site.remove("fifo.html");
    let ok = Command::new("mkfifo").arg(site.public().join("fifo.html")).status().unwrap().success();
    assert!(ok, "mkfifo");
    site.remove("zero.html");
    symlink("/dev/zero", site.public().join("zero.html")).unwrap();
    let (code, stderr) = run.finish_within(30);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("fifo.html") && stderr.contains("not a regular file"), "{stderr}");
    assert!(stderr.contains("zero.html"), "{stderr}");
}

#[test]
fn init_never_writes_through_a_symlink() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let bin = env!("CARGO_BIN_EXE_cdnsync");
    // Dangling: init would create its target.
    let target = site.dir.join("elsewhere/created.toml");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    symlink(&target, site.dir.join("new.toml")).unwrap();
    let out = site.command(bin).args(["-c", "new.toml", "init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symlink"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!target.exists(), "init created the link's target");
    // A plain new path still works.
    let out = site.command(bin).args(["-c", "fresh.toml", "init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(site.dir.join("fresh.toml")).unwrap().is_file());
}
