//! `cdnsync init` on site generators' projects as they are really laid out (`tests/data/sites/`):
//! the site URL becomes `host`, `scheme` and `base_path`; `.cdnsync/` goes into `.gitignore`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

fn cdnsync(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cdnsync"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .unwrap()
}

/// A copy of the fixture `name`, optionally inside a git work tree.
fn project(name: &str, git: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sites").join(name), &dir);
    if git {
        // What `git init` leaves that matters here: a `.git` folder.
        std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
    }
    (tmp, dir)
}

fn domain_of(config: &str) -> (String, String, String) {
    let t: toml::Table = toml::from_str(config).unwrap();
    let d = &t["domain"].as_array().unwrap()[0];
    let s = |k: &str| d[k].as_str().unwrap().to_string();
    (s("host"), s("scheme"), s("base_path"))
}

#[test]
fn the_generators_site_url_fills_the_domain() {
    let cases = [
        ("hugo", "public", ("www.mysite.example.net", "https", "/docs/"), "hugo.toml: baseURL"),
        ("hugo-split", "public", ("blog.mysite.example.net", "http", "/"), "config/_default/hugo.yaml: baseURL"),
        ("zola", "public", ("zola.mysite.example.net", "https", "/"), "config.toml: base_url"),
        ("hexo", "public", ("hexo.mysite.example.net", "https", "/blog/"), "_config.yml: url + root"),
        ("jekyll", "_site", ("jekyll.mysite.example.net", "https", "/handbook/"), "_config.yml: url + baseurl"),
    ];
    for (name, publish, (host, scheme, base), from) in cases {
        let (_tmp, dir) = project(name, false);
        let out = cdnsync(&dir, &["--json", "init"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (j["host"].as_str(), j["site_url_from"].as_str(), j["publish_dir"].as_str()),
            (Some(host), Some(from), Some(publish)),
            "{name}: {j}"
        );
        let config = std::fs::read_to_string(dir.join("cdnsync.toml")).unwrap();
        assert_eq!(domain_of(&config), (host.to_string(), scheme.to_string(), base.to_string()), "{name}");
        assert_eq!(config.contains("--cleanDestinationDir"), name.starts_with("hugo"), "{name}: Hugo's clean build is recommended");
        // The written config is valid and no longer warns about the placeholder.
        std::fs::create_dir_all(dir.join(publish)).unwrap();
        let plan = cdnsync(&dir, &["plan"]);
        assert!(plan.status.success(), "{name}: {}", String::from_utf8_lossy(&plan.stderr));
        assert!(!String::from_utf8_lossy(&plan.stderr).contains("placeholder"), "{name}");
    }
}

#[test]
fn eleventy_has_no_site_url_and_the_placeholder_is_warned_about() {
    let (_tmp, dir) = project("eleventy", false);
    let out = cdnsync(&dir, &["init"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Eleventy has no site URL setting: set [[domain]] host"), "{text}");
    let config = std::fs::read_to_string(dir.join("cdnsync.toml")).unwrap();
    assert_eq!(domain_of(&config).0, "www.example.com");
    std::fs::create_dir_all(dir.join("_site")).unwrap();
    let plan = cdnsync(&dir, &["plan"]);
    assert!(String::from_utf8_lossy(&plan.stderr).contains("domain[0].host is still the placeholder www.example.com"));
}

#[test]
fn init_in_a_git_work_tree_ignores_the_state_directory_once() {
    let (tmp, dir) = project("hugo", true);
    std::fs::write(dir.join(".gitignore"), "public/").unwrap();
    let out = cdnsync(&dir, &["--json", "init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["gitignore"].as_str().map(|p| p.ends_with(".gitignore")), Some(true), "{j}");
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.starts_with("public/\n") && ignore.lines().filter(|l| *l == ".cdnsync/").count() == 1, "{ignore}");
    // A second init (another config) does not add it again.
    let out = cdnsync(&dir, &["--json", "-c", "other.toml", "init"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["gitignore"], serde_json::Value::Null);
    assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), ignore);
    // Outside a git work tree nothing is written.
    drop(tmp);
    let (_tmp, dir) = project("zola", false);
    assert!(cdnsync(&dir, &["init"]).status.success());
    assert!(!dir.join(".gitignore").exists());
}
