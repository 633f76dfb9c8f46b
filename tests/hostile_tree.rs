//! Hostile file trees (issue 12): symlinks out of the site, into pseudo filesystems and in
//! exploding chains; a state folder inside `publish_dir`; folders that cannot be listed for a
//! while; files swapped for a FIFO or a device mid-scan; `init` and a symlinked config path.
//! Each runs the real binary against the local fake.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::process::Command;

use crate::util::*;

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
