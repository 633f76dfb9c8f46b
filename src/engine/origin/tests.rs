//! Which files a job's URLs wait for: a URL back to its file (index files, encoded names,
//! several domains on one host), a removed file, an untracked URL, and a folder purge.

use super::*;
use crate::config::test_config;
use crate::model::{ChangeSet, FileMeta, Snapshot};
use crate::state::manifest::Manifest;

fn tree(files: &[(&str, &str, i64)]) -> Snapshot {
    let mut s = Snapshot::default();
    for (p, c, mtime) in files {
        s.insert(p, FileMeta { size: c.len() as u64, mtime_ns: *mtime, hash: ContentHash::of(c.as_bytes()) });
    }
    s
}

#[test]
fn a_url_back_to_the_files_it_may_stand_for() {
    let cfg =
        test_config("index_files = [\"index.html\", \"index.htm\"]\n[[domain]]\nhost = \"www.example.com\"\nbase_path = \"/docs/\"\n");
    let rules = Rules::new(&cfg.domains);
    let d0 = &cfg.domains[0];
    let cases: &[(usize, &str, &[&str])] = &[
        (0, "https://www.example.com/a%20b.html", &["a b.html", "a b.html/index.html", "a b.html/index.htm"]),
        (0, "https://www.example.com/", &["index.html", "index.htm"]),
        (0, "https://www.example.com/blog/", &["blog/index.html", "blog/index.htm"]),
        (0, "https://www.example.com/%E4%BE%8B.css?v=2", &["例.css", "例.css/index.html", "例.css/index.htm"]),
        (0, "https://other.example.com/a.html", &[]),
        (0, "https://www.example.com/%FF.html", &[]),
        (1, "https://www.example.com/docs/x.html", &["x.html", "x.html/index.html"]),
    ];
    for (d, url, want) in cases {
        let dom = if *d == 0 { d0 } else { &cfg.domains[1] };
        assert_eq!(paths_of(&rules, *d, dom, url), *want, "{url}");
    }
    // One host, two base paths: a URL belongs to the longest base it starts with.
    assert_eq!(domain_of(&rules, "www.example.com", "https://www.example.com/docs/x.html"), Some(1));
    assert_eq!(domain_of(&rules, "www.example.com", "https://www.example.com/x.html"), Some(0));
    assert_eq!(domain_of(&rules, "www.example.com", "http://www.example.com/x.html"), None, "another scheme");
    assert_eq!(domain_of(&rules, "cdn.example.com", "https://www.example.com/x.html"), None);
}

fn scanned(current: Snapshot, previous: Option<Snapshot>, changes: ChangeSet) -> Scanned {
    Scanned {
        changes,
        current: Manifest { snapshot: current, scan_start_ns: 0 },
        scan: Default::default(),
        warnings: Vec::new(),
        links_outside: Vec::new(),
        baseline: false,
        previous: previous.map(|snapshot| Manifest { snapshot, scan_start_ns: 0 }),
        prev_is_local: true,
        no_state: None,
        roots_today: Default::default(),
    }
}

#[test]
fn what_the_origin_should_serve() {
    let cfg = test_config("");
    let rules = Rules::new(&cfg.domains);
    let before = tree(&[("a.html", "old a", 1), ("gone.html", "gone", 1)]);
    let s = scanned(tree(&[("a.html", "new a", 1), ("docs/index.html", "docs", 1)]), Some(before), ChangeSet::default());
    let removed = vec!["gone.html".to_string()];
    let h = |c: &str| Some(ContentHash::of(c.as_bytes()));
    let e = |url: &str| expect_url(&rules, 0, &cfg.domains[0], url, &s, &removed);
    assert_eq!(e("https://www.example.com/a.html"), Some((h("new a"), None)));
    assert_eq!(e("https://www.example.com/docs/"), Some((h("docs"), None)));
    assert_eq!(e("https://www.example.com/gone.html"), Some((None, h("gone"))), "removed: no longer its old bytes");
    assert_eq!(e("https://www.example.com/api/data.json"), None, "not tracked: nothing to wait for");
}

#[test]
fn a_folder_purge_waits_for_its_changed_files_else_the_newest() {
    let cfg = test_config("exclude = [\"blog/draft/**\"]\n");
    let rules = Rules::new(&cfg.domains);
    let mut files: Vec<(String, String, i64)> = (0..100).map(|i| (format!("blog/p{i:03}.html"), format!("p{i}"), i)).collect();
    files.push(("blog/draft/x.html".into(), "x".into(), 1000));
    files.push(("about.html".into(), "about".into(), 2000));
    let refs: Vec<(&str, &str, i64)> = files.iter().map(|(p, c, m)| (p.as_str(), c.as_str(), *m)).collect();
    let changes = ChangeSet {
        added: vec!["about.html".into()],
        modified: vec!["blog/p007.html".into()],
        removed: vec!["blog/old.html".into()],
        unchanged: 100,
    };
    let s = scanned(tree(&refs), Some(tree(&[("blog/old.html", "old", 1)])), changes);
    let got = dir_files(&rules, 0, "https://www.example.com/blog/", &s);
    let p7 = ("blog/p007.html".to_string(), Some(ContentHash::of(b"p7")), None);
    assert_eq!(got, [p7, ("blog/old.html".to_string(), None, Some(ContentHash::of(b"old")))]);
    // Owed from an earlier run, nothing changed under it now: the newest files, at most DIR_SAMPLE,
    // never one the domain does not serve.
    let s = Scanned { changes: ChangeSet::default(), ..s };
    let got = dir_files(&rules, 0, "https://www.example.com/blog/", &s);
    assert_eq!(got.len(), DIR_SAMPLE);
    assert_eq!(got[0].0, "blog/p099.html");
    assert!(got.iter().all(|(p, ..)| p.starts_with("blog/p")), "{got:?}");
}
