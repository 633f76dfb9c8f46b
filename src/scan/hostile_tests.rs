//! The scan against hostile trees: webs and loops of symlinks, links out of the site and into
//! pseudo filesystems, the state folder inside the site, folders that cannot be listed.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::list::UNLISTABLE;
use super::walk::{walk, walk_paths};
use super::*;
use crate::config::Symlinks;

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn rels(w: &walk::Walked) -> Vec<&str> {
    w.files.iter().map(|f| f.rel.as_str()).collect()
}

/// `levels` folders `l0`…, each with a page and two links to the next: a web of links in
/// which the page of `lN` has 2^(N+1) - 1 paths.
fn web(root: &Path, levels: usize) {
    for i in 0..levels {
        write(root, &format!("l{i}/page.html"), "x");
        if i + 1 < levels {
            for name in ["a", "b"] {
                symlink(format!("../l{}", i + 1), root.join(format!("l{i}/{name}"))).unwrap();
            }
        }
    }
}

#[test]
fn every_path_of_a_web_of_links_is_walked_and_max_files_bounds_them() {
    let tmp = tempfile::tempdir().unwrap();
    web(tmp.path(), 4);
    let w = walk(&ScanSpec::for_tests(tmp.path())).unwrap();
    // Each path is a URL the web server serves: all of them, each once.
    assert_eq!(w.files.len(), 1 + 3 + 7 + 15, "{:?}", rels(&w));
    assert!(rels(&w).contains(&"l0/a/b/a/page.html"));
    assert!(w.links_outside.is_empty(), "every link stays inside");

    let big = tempfile::tempdir().unwrap();
    web(big.path(), 40);
    let spec = ScanSpec { max_files: 3000, ..ScanSpec::for_tests(big.path()) };
    match walk(&spec) {
        Err(e @ Error::TooManyFiles { limit: 3000, .. }) => assert!(e.to_string().contains("[limits] max_files"), "{e}"),
        other => panic!("expected TooManyFiles, got {:?}", other.map(|w| w.files.len())),
    }
    // Folders count too: a web of empty folders ends as well.
    let empty = tempfile::tempdir().unwrap();
    web(empty.path(), 40);
    for i in 0..40 {
        std::fs::remove_file(empty.path().join(format!("l{i}/page.html"))).unwrap();
    }
    assert!(matches!(walk(&ScanSpec { max_files: 3000, ..ScanSpec::for_tests(empty.path()) }), Err(Error::TooManyFiles { .. })));
    // The partial walk counts as well.
    assert!(matches!(walk_paths(&spec, &["l0".into()]), Err(Error::TooManyFiles { .. })));
}

#[test]
fn links_out_of_the_site_are_reported_once_and_loops_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    write(&root, "index.html", "home");
    write(tmp.path(), "beside.txt", "next to the site");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    // Up two levels: the folder holding the site, whose walk meets the site again (a loop).
    symlink("../..", root.join("sub/up")).unwrap();
    symlink(".", root.join("self")).unwrap();
    let w = walk(&ScanSpec::for_tests(&root)).unwrap();
    assert_eq!(rels(&w), ["index.html", "sub/up/beside.txt"]);
    let loops = w.warnings.iter().filter(|x| x.contains("symlink loop")).count();
    assert_eq!(loops, 2, "{:?}", w.warnings);
    let real = tmp.path().canonicalize().unwrap().display().to_string();
    assert_eq!(w.links_outside, [OutsideLink { path: "sub/up".into(), target: real, followed: true }]);

    // `inside`: not followed, still named; `skip`: nothing followed.
    let inside = walk(&ScanSpec { symlinks: Symlinks::Inside, ..ScanSpec::for_tests(&root) }).unwrap();
    assert_eq!(rels(&inside), ["index.html"]);
    assert_eq!(inside.links_outside.len(), 1);
    assert!(!inside.links_outside[0].followed);
}

#[test]
fn a_partial_walk_takes_only_the_links_a_whole_walk_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    write(&root, "docs/a.html", "a");
    write(tmp.path(), "outside/secret.txt", "s");
    symlink(tmp.path().join("outside"), root.join("out")).unwrap();
    symlink("docs", root.join("latest")).unwrap();
    let touched: Vec<String> = ["out/secret.txt", "latest/a.html", "out"].map(String::from).to_vec();
    let got = |symlinks| {
        let w = walk_paths(&ScanSpec { symlinks, ..ScanSpec::for_tests(&root) }, &touched).unwrap();
        rels(&w).iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(got(Symlinks::Follow), ["latest/a.html", "out/secret.txt"]);
    assert_eq!(got(Symlinks::Inside), ["latest/a.html"]);
    assert!(got(Symlinks::Skip).is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn pseudo_filesystems_are_never_entered() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "index.html", "home");
    symlink("/proc/self", tmp.path().join("me")).unwrap();
    symlink("/proc/uptime", tmp.path().join("uptime")).unwrap();
    let w = walk(&ScanSpec::for_tests(tmp.path())).unwrap();
    assert_eq!(rels(&w), ["index.html"]);
    assert_eq!(w.warnings.iter().filter(|x| x.contains("pseudo filesystem (proc)")).count(), 2, "{:?}", w.warnings);
    assert!(w.links_outside.iter().all(|l| !l.followed) && w.links_outside.len() == 2);
    // The partial walk, for a file behind such a link.
    let p = walk_paths(&ScanSpec::for_tests(tmp.path()), &["uptime".into(), "me/status".into()]).unwrap();
    assert!(p.files.is_empty(), "{:?}", rels(&p));
    // publish_dir itself on one: a usage error, not a walk.
    let e = walk(&ScanSpec::for_tests(Path::new("/proc/sys/kernel/random"))).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("pseudo filesystem (proc)"), "{e}");
}

#[test]
fn the_state_folder_is_never_walked_wherever_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "public/index.html", "home");
    write(&site, "public/state/manifest", "state");
    write(&site, "public/.cdnsync/manifest", "the published copy");
    symlink("state", site.join("public/again")).unwrap();
    let text = "publish_dir = \"public\"\nstate_dir = \"public/state\"\n[[domain]]\nhost = \"a.com\"\n";
    let cfg = crate::config::from_str(text, Path::new("cdnsync.toml"), &site).unwrap();
    let spec = ScanSpec::of(&cfg);
    assert_eq!(spec.skip_dirs, [".cdnsync", "state"]);
    assert_eq!(rels(&walk(&spec).unwrap()), ["index.html"]);
    assert!(spec.ignores("state/manifest") && spec.ignores("state") && !spec.ignores("statements.html"));
    assert!(walk_paths(&spec, &["state".into(), "state/manifest".into(), "again".into()]).unwrap().files.is_empty());

    // Written through a symlinked publish_dir, or not there yet: the same folder.
    symlink("public", site.join("current")).unwrap();
    let text = "publish_dir = \"current\"\nstate_dir = \"public/state/new\"\n[[domain]]\nhost = \"a.com\"\n";
    let cfg = crate::config::from_str(text, Path::new("cdnsync.toml"), &site).unwrap();
    assert_eq!(ScanSpec::of(&cfg).skip_dirs, [".cdnsync", "state/new"]);
    assert_eq!(rel_inside(&site.join("public"), &site.join("elsewhere")), None);
}

/// Make `dir` unlistable for this test's walks (see `walk::read_dir`), until dropped.
struct Unlistable(PathBuf);

impl Unlistable {
    fn new(dir: PathBuf) -> Self {
        UNLISTABLE.lock().unwrap().push(dir.clone());
        Unlistable(dir)
    }
}

impl Drop for Unlistable {
    fn drop(&mut self) {
        UNLISTABLE.lock().unwrap().retain(|p| *p != self.0);
    }
}

#[test]
fn a_folder_that_cannot_be_listed_keeps_its_previous_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for rel in ["index.html", "sub/a.html", "sub/deep/b.html", "sub.html", "subway/c.html"] {
        write(root, rel, rel);
    }
    let spec = ScanSpec::for_tests(root);
    let first = scan(&spec, None, false).unwrap();
    let prev = PreviousScan { snapshot: &first.snapshot, scan_start_ns: 0 };
    {
        let _sub = Unlistable::new(root.join("sub"));
        write(root, "index.html", "changed");
        let whole = scan(&spec, Some(prev), false).unwrap();
        assert_eq!(whole.snapshot.paths().collect::<Vec<_>>(), first.snapshot.paths().collect::<Vec<_>>());
        assert_eq!(whole.snapshot.get("sub/deep/b.html"), first.snapshot.get("sub/deep/b.html"));
        assert_ne!(whole.snapshot.get("index.html"), first.snapshot.get("index.html"), "what could be read is read");
        assert!(
            whole.warnings.iter().any(|w| w.contains("sub: cannot list it") && w.contains("keeping its previous state")),
            "{:?}",
            whole.warnings
        );
        // The partial (watch) scan of that folder, or of the root.
        for touched in [vec!["sub".to_string()], vec![String::new()], vec!["sub/deep".to_string(), "sub".to_string()]] {
            let partial = scan_paths(&spec, prev, &touched, &(), &Cancel::default()).unwrap();
            assert_eq!(partial.snapshot.len(), first.snapshot.len(), "{touched:?}");
            assert_eq!(partial.snapshot.get("sub/a.html"), first.snapshot.get("sub/a.html"), "{touched:?}");
        }
    }
    // Listable again: a change made meanwhile is a change.
    write(root, "sub/a.html", "changed too");
    let again = scan(&spec, Some(prev), false).unwrap();
    let changes = crate::plan::diff::diff(&first.snapshot, &again.snapshot);
    assert_eq!(changes.modified, ["index.html", "sub/a.html"]);
    assert!(changes.removed.is_empty() && changes.added.is_empty());
}

/// A manifest from another machine (`manifest_url`) is passed with the earliest scan start: no
/// hash is reused from it, but what cannot be listed keeps its entries from it.
#[test]
fn a_published_manifest_reuses_no_hash_but_keeps_what_cannot_be_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for rel in ["index.html", "sub/a.html"] {
        write(root, rel, rel);
    }
    let spec = ScanSpec::for_tests(root);
    let first = scan(&spec, None, false).unwrap();
    let published = PreviousScan { snapshot: &first.snapshot, scan_start_ns: i64::MIN };
    let again = scan(&spec, Some(published), false).unwrap();
    assert_eq!((again.hashed, again.reused), (2, 0), "every file read again");
    let _sub = Unlistable::new(root.join("sub"));
    let kept = scan(&spec, Some(published), false).unwrap();
    assert_eq!(kept.snapshot, first.snapshot);
    assert_eq!((kept.hashed, kept.reused), (1, 1));
}
