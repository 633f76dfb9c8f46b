//! The CI examples and the git hook are what users copy: they parse, they use current major
//! versions of actions, they say what a cache miss or an exit code means, and linters agree
//! (`shellcheck`, `actionlint`) where they are installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

fn yaml(name: &str) -> Yaml {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

/// The oldest major version of each action that runs on the current runtime (node24); older
/// ones run on deprecated Node.js releases.
const CURRENT: &[(&str, u32)] = &[("actions/checkout", 6), ("actions/cache", 6)];

#[test]
fn github_actions_example_is_valid_and_current() {
    let doc = yaml("github-actions.yml");
    let steps = doc["jobs"]["deploy"]["steps"].as_vec().expect("jobs.deploy.steps");
    let mut uses = Vec::new();
    for s in steps {
        assert!(s["uses"].as_str().is_some() != s["run"].as_str().is_some(), "a step has `uses` or `run`: {s:?}");
        if let Some(u) = s["uses"].as_str() {
            uses.push(u.to_string());
        }
    }
    for u in &uses {
        let (action, version) = u.split_once('@').unwrap_or_else(|| panic!("{u}: no version"));
        let major: u32 = version.trim_start_matches('v').split('.').next().unwrap().parse().unwrap();
        let base = action.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
        let min = CURRENT.iter().find(|(a, _)| *a == base).map(|(_, m)| *m).unwrap_or_else(|| panic!("{u}: not a known action"));
        assert!(major >= min, "{u}: v{min} or later runs on a supported Node.js");
    }
    let step = |name: &str| steps.iter().find(|s| s["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("no step {name:?}"));
    // The state cache: saved even on failure, a key per attempt (keys are immutable), the same
    // key restored and saved, restored by prefix.
    let restore = step("Restore cdnsync state");
    let save = step("Save cdnsync state");
    let key = restore["with"]["key"].as_str().unwrap();
    assert!(key.contains("github.run_id") && key.contains("github.run_attempt"), "{key}");
    assert_eq!(save["with"]["key"].as_str(), Some(key));
    assert_eq!(save["if"].as_str(), Some("always()"));
    assert!(key.starts_with(restore["with"]["restore-keys"].as_str().unwrap().trim()), "restore-keys is a prefix of key");
    // The log shows whether the state was found.
    let shown = step("Show the state cache")["run"].as_str().unwrap();
    assert!(
        shown.contains("cache-hit=")
            && step("Show the state cache")["env"]["HIT"].as_str().unwrap().contains("steps.state.outputs.cache-hit")
    );
    // The SSH key is private, the build is clean, the binary is cached.
    assert!(step("Deploy to the origin")["run"].as_str().unwrap().contains("chmod 600"));
    assert!(step("Build")["run"].as_str().unwrap().contains("--cleanDestinationDir"));
    assert_eq!(step("Install cdnsync")["if"].as_str(), Some("steps.cdnsync-bin.outputs.cache-hit != 'true'"));
    assert!(step("Install cdnsync")["run"].as_str().unwrap().contains("cargo install --locked --git"));
    lint_with_actionlint();
}

fn lint_with_actionlint() {
    let Ok(out) = Command::new("actionlint").arg(example("github-actions.yml")).output() else {
        eprintln!("skipped: actionlint is not installed (a Go program, not packaged by Debian: `go install github.com/rhysd/actionlint/cmd/actionlint@latest`)");
        return;
    };
    assert!(out.status.success(), "actionlint:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn gitlab_example_is_valid() {
    let doc = yaml("gitlab-ci.yml");
    let deploy = &doc["deploy"];
    let before: Vec<&str> = deploy["before_script"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    let chmod = before.iter().position(|l| l.contains("chmod 600 \"$DEPLOY_SSH_KEY\"")).expect("the key file is made private");
    let script: Vec<&str> = deploy["script"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert!(script.iter().any(|l| l.contains("ssh -i $DEPLOY_SSH_KEY")) && chmod < before.len(), "chmod before ssh");
    assert!(script.iter().any(|l| l.starts_with("cdnsync sync")), "{script:?}");
    let caches = deploy["cache"].as_vec().expect("a list of caches");
    let state = caches.iter().find(|c| c["paths"][0].as_str() == Some(".cdnsync/")).expect("the state is cached");
    assert_eq!(state["when"].as_str(), Some("always"));
    assert!(caches.iter().any(|c| c["key"].as_str().is_some_and(|k| k.contains("cdnsync-bin"))), "the binary is cached");
    assert!(doc["build"]["script"][0].as_str().unwrap().contains("--cleanDestinationDir"));
}

#[test]
fn post_receive_hook_passes_shellcheck() {
    let Ok(out) = Command::new("shellcheck").arg(example("post-receive")).output() else {
        eprintln!("skipped: shellcheck is not installed (Debian: apt-get install shellcheck)");
        return;
    };
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

/// After exit 2 (a config error) the hook says nothing was planned, not that work is owed.
#[test]
fn post_receive_hook_says_nothing_was_planned_after_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
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
            .env("CDNSYNC", env!("CARGO_BIN_EXE_cdnsync"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (bare, work, www) = (root.join("site.git"), root.join("work"), root.join("www"));
    git(root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    std::fs::copy(example("post-receive"), bare.join("hooks/post-receive")).unwrap();
    git(&bare, &["config", "deploy.worktree", www.to_str().unwrap()]);
    git(root, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    std::fs::create_dir_all(work.join("public")).unwrap();
    std::fs::write(work.join("public/index.html"), "home").unwrap();
    // A config with a mistake: exit 2 before anything is planned.
    std::fs::write(work.join("cdnsync.toml"), "publish_dir = \"public\"\n[[domain]]\nhost = \"https://www.example.com/\"\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "site"]);
    let (_, pushed) = git(&work, &["push", bare.to_str().unwrap(), "HEAD:main"]);
    assert!(pushed.contains("cdnsync exited 2") && pushed.contains("nothing was planned or purged"), "{pushed}");
    assert!(!pushed.contains("stays in its outbox"), "{pushed}");
}
