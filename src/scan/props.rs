//! Property test: the walk over random trees laced with random symlinks (to folders, files, the
//! site's parent, outside it, into /proc, to nothing, to themselves; absolute and relative) ends,
//! within `max_files`, and keeps every rule of `symlinks`. Case count fixed for CI;
//! `PROPTEST_CASES` runs more.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::walk::{walk, walk_paths};
use super::*;
use crate::config::Symlinks;

const MAX_FILES: u64 = 3000;

/// A link: the folder it is in, what it points at (an index into the targets), relative or not.
type Link = (usize, usize, bool);

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// The tree: `base/site` (the root) with folders and files, `base/outside` with one file.
struct Tree {
    base: PathBuf,
    root: PathBuf,
    dirs: Vec<PathBuf>,
}

fn build(base: &Path, parents: &[usize], files: &[usize], links: &[Link]) -> Tree {
    let root = base.join("site");
    std::fs::create_dir(&root).unwrap();
    let mut dirs = vec![root.clone()];
    for (i, p) in parents.iter().enumerate() {
        let d = dirs[p % dirs.len()].join(format!("d{i}"));
        std::fs::create_dir(&d).unwrap();
        dirs.push(d);
    }
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(base.join("outside/o.txt"), "outside").unwrap();
    let mut file_paths = Vec::new();
    for (i, d) in files.iter().enumerate() {
        let f = dirs[d % dirs.len()].join(format!("f{i}.html"));
        std::fs::write(&f, format!("{i}")).unwrap();
        file_paths.push(f);
    }
    let mut targets: Vec<PathBuf> = dirs.clone();
    targets.extend(file_paths);
    targets.extend([
        base.to_path_buf(),
        base.join("outside"),
        base.join("outside/o.txt"),
        base.join("nothing"),
        PathBuf::from("/proc/self"),
    ]);
    for (i, (at, target, relative)) in links.iter().enumerate() {
        let dir = &dirs[at % dirs.len()];
        let link = dir.join(format!("l{i}"));
        // The last choice: the link itself (a link to itself is a loop of one).
        let target = targets.get(target % (targets.len() + 1)).cloned().unwrap_or_else(|| link.clone());
        let written = match target.strip_prefix(base) {
            Ok(inside_base) if *relative => {
                let up = dir.strip_prefix(base).unwrap().components().count();
                PathBuf::from("../".repeat(up)).join(inside_base)
            }
            _ => target,
        };
        symlink(written, &link).unwrap();
    }
    Tree { base: base.to_path_buf(), root, dirs }
}

/// Does the way from the root to `rel` pass through a symlink?
fn through_a_link(root: &Path, rel: &str) -> bool {
    let mut at = root.to_path_buf();
    rel.split('/').any(|part| {
        at.push(part);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
    })
}

fn check(tree: &Tree, mode: Symlinks) -> Result<(), TestCaseError> {
    let spec = ScanSpec { symlinks: mode, max_files: MAX_FILES, ..ScanSpec::for_tests(&tree.root) };
    let w = match walk(&spec) {
        Ok(w) => w,
        Err(Error::TooManyFiles { limit, .. }) => {
            prop_assert_eq!(limit, MAX_FILES);
            prop_assert!(mode != Symlinks::Skip, "without links the tree is small");
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
    };
    prop_assert!(w.files.len() as u64 <= MAX_FILES);
    prop_assert!(w.files.windows(2).all(|p| p[0].rel < p[1].rel), "sorted, each path once");
    let real_root = tree.root.canonicalize().unwrap();
    let real_base = tree.base.canonicalize().unwrap();
    for f in &w.files {
        let real = tree.root.join(&f.rel).canonicalize().unwrap();
        prop_assert!(std::fs::metadata(&real).unwrap().is_file(), "{}", f.rel);
        prop_assert!(real.starts_with(&real_base), "{} is {}: never out of the test's folder, never into /proc", f.rel, real.display());
        match mode {
            Symlinks::Follow => {}
            Symlinks::Inside => prop_assert!(real.starts_with(&real_root), "{} leads out: {}", f.rel, real.display()),
            Symlinks::Skip => prop_assert!(!through_a_link(&tree.root, &f.rel), "{} is behind a link", f.rel),
        }
    }
    for l in &w.links_outside {
        let real = tree.root.join(&l.path).canonicalize().unwrap();
        prop_assert!(!real.starts_with(&real_root), "{} stays inside", l.path);
        prop_assert!(!l.followed || mode == Symlinks::Follow);
    }
    // A partial walk of the root finds the same files.
    let again = walk_paths(&spec, &[String::new()]).unwrap();
    let names = |w: &walk::Walked| w.files.iter().map(|f| f.rel.clone()).collect::<Vec<_>>();
    prop_assert_eq!(names(&again), names(&w));
    // And of each folder, what the whole walk found under it (outside of loops, which a
    // partial walk that starts lower down cannot see the start of).
    for d in &tree.dirs[1..] {
        let rel = d.strip_prefix(&tree.root).unwrap().to_str().unwrap().to_string();
        if let Ok(part) = walk_paths(&spec, std::slice::from_ref(&rel)) {
            let prefix = format!("{rel}/");
            let whole: Vec<String> = names(&w).into_iter().filter(|p| p.starts_with(&prefix)).collect();
            prop_assert!(names(&part).iter().all(|p| p.starts_with(&prefix)));
            prop_assert!(whole.iter().all(|p| names(&part).contains(p)), "{rel}: {whole:?} vs {:?}", names(&part));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_trees_of_random_links_are_walked_within_bounds(
        parents in proptest::collection::vec(0usize..8, 0..8),
        files in proptest::collection::vec(0usize..9, 0..10),
        links in proptest::collection::vec((0usize..9, 0usize..40, any::<bool>()), 0..10),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let tree = build(tmp.path(), &parents, &files, &links);
        for mode in [Symlinks::Follow, Symlinks::Inside, Symlinks::Skip] {
            check(&tree, mode)?;
        }
    }
}
