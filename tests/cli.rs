//! Commands and flags not covered elsewhere: `sync --wait`, `status --tasks`, `quota` (API 3.0),
//! `completions`, `$CDNSYNC_CONFIG`.

use std::time::Duration;

use cdnsync::model::{Area, JobKind};

use crate::util::*;

/// A deployed site, then `page` and `a.html` edited (an `index.html` page is also prefetched).
fn deployed(fake: &cdnsync::fake::FakeCdn, page: &str) -> TempSite {
    let site = TempSite::new(fake, "", "");
    site.write(page, "v1");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write(page, "v2");
    site.write("a.html", "v2");
    site
}

#[test]
fn sync_wait_polls_until_the_tasks_finish() {
    let fake = fake_with(|c| c.task_duration = Duration::from_millis(1500));
    let site = deployed(&fake, "index.html");
    let out = site.run(&["--json", "sync", "--wait=30"]);
    out.expect(0);
    assert_eq!(out.json()["tasks_finished"], true, "{}", out.stdout);
    let polls = fake.requests().iter().filter(|r| r.action == "DescribePushTasks").count();
    assert!(polls >= 1, "the prefetch tasks were polled after submission");
}

#[test]
fn sync_wait_that_runs_out_exits_1_and_says_so() {
    let fake = fake_with(|c| c.task_duration = Duration::from_secs(3600));
    let site = deployed(&fake, "b.html");
    let out = site.run(&["--json", "sync", "--wait=1"]);
    assert_eq!(out.json()["tasks_finished"], false, "{}", out.stdout);
    out.expect(1);
    // Nothing is owed: the jobs were accepted, only unfinished.
    assert_eq!(out.json()["outbox"]["pending"], 0);
}

#[test]
fn status_tasks_asks_the_api() {
    let fake = fake_with(|c| c.task_duration = Duration::from_secs(3600));
    let site = deployed(&fake, "b.html");
    site.run(&["sync"]).expect(0);
    let st = site.run(&["--json", "status", "--tasks"]);
    st.expect(0);
    let tasks = st.json()["tasks"].as_array().unwrap().clone();
    let purges: Vec<_> = tasks.iter().filter(|t| t["kind"] == "purge_urls").collect();
    assert_eq!(purges.len(), 2, "one purge task per area: {tasks:?}");
    assert!(purges.iter().all(|t| t["state"] == "process"), "{tasks:?}");
    let ids: Vec<String> = fake.accepted().iter().map(|a| a.task_id.clone()).collect();
    assert!(purges.iter().all(|t| ids.contains(&t["task_id"].as_str().unwrap().to_string())), "{tasks:?}");
    assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"));
    // Without --tasks the API is not asked.
    let before = fake.requests().len();
    site.run(&["status"]).expect(0);
    assert_eq!(fake.requests().len(), before);
}

#[test]
fn quota_asks_the_api_on_v3() {
    let fake = fake();
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 1234);
    let site = TempSite::new(&fake, "", "");
    let out = site.run(&["--json", "quota"]);
    out.expect(0);
    let j = out.json();
    assert_eq!(j["entries"]["purge_urls/overseas"]["available"], 1234, "{j}");
    assert_eq!(j["entries"]["purge_urls/mainland"]["available"], 10000, "{j}");
    assert_eq!(j["entries"]["purge_paths/mainland"]["total"], 100, "{j}");
    let human = site.run(&["quota"]);
    assert!(human.stdout.contains("1234 of  10000"), "the answer is on stdout: {}", human.stdout);
}

#[test]
fn completions_for_each_shell() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    for (shell, needle) in [("bash", "complete -F"), ("zsh", "#compdef cdnsync"), ("fish", "complete -c cdnsync")] {
        let out = site.run(&["completions", shell]);
        out.expect(0);
        assert!(out.stdout.contains(needle), "{shell}: {}", &out.stdout[..out.stdout.len().min(300)]);
        assert!(out.stdout.contains("sync"), "{shell} completes subcommands");
    }
    site.run(&["completions", "tcsh"]).expect(2);
}

#[test]
fn config_from_environment_variable_and_dash_c() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("a.html", "x");
    std::fs::create_dir_all(site.dir.join("elsewhere")).unwrap();
    let moved = site.dir.join("conf/site.toml");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    // Relative paths in the config are relative to its folder.
    let text =
        std::fs::read_to_string(site.dir.join("cdnsync.toml")).unwrap().replace("publish_dir = \"public\"", "publish_dir = \"../public\"");
    std::fs::write(&moved, text).unwrap();
    std::fs::remove_file(site.dir.join("cdnsync.toml")).unwrap();
    let env = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("CDNSYNC_CONFIG", moved.to_str().unwrap())];
    let out = site.run_env(&["--json", "status"], &env);
    out.expect(0);
    assert!(out.json()["state_dir"].as_str().unwrap().ends_with("conf/.cdnsync"), "{}", out.stdout);
    // No config where it looks by default: exit 2 naming the path.
    let out = site.run(&["status"]);
    out.expect(2);
    assert!(out.stderr.contains("cdnsync.toml"), "{}", out.stderr);
    // -c wins over the variable.
    let out = site.run_env(&["-c", "nowhere.toml", "status"], &env);
    out.expect(2);
    assert!(out.stderr.contains("nowhere.toml"), "{}", out.stderr);
}

#[test]
fn human_summary_says_what_was_sent_and_what_is_left() {
    let fake = fake();
    let site = deployed(&fake, "b.html");
    let out = site.run(&["sync"]);
    out.expect(0);
    assert!(out.stdout.contains("scanned 2 files"), "{}", out.stdout);
    assert!(out.stdout.contains("changes: 0 added, 2 modified, 0 removed, 0 unchanged"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "sent 2 request(s); purged mainland 2 URL(s), overseas 2 URL(s); quota left today (estimated): purge_urls/mainland 9998, purge_urls/overseas 9998"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("owed: 0 pending, 0 deferred, 0 failed"), "{}", out.stdout);
    // The summary is the result: on stdout; stderr has only diagnostics (the placeholder domain).
    assert!(!out.stderr.contains("scanned") && !out.stderr.contains("owed:"), "{}", out.stderr);
    assert!(out.stderr.contains("warning: domain[0].host is still the placeholder www.example.com"), "{}", out.stderr);
}

/// Progress bars appear on a terminal (a pseudo-terminal from `script`), never in a pipe.
#[test]
fn progress_bars_only_on_a_terminal() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    for i in 0..50 {
        site.write(&format!("p/{i}.html"), "v1");
    }
    let bin = env!("CARGO_BIN_EXE_cdnsync");
    let run = |cmd: String| {
        TempSite::with_credentials(&mut site.command("script")).args(["-qec", &cmd, "/dev/null"]).env("TERM", "xterm").output().unwrap()
    };
    let tty = run(format!("{bin} sync --full"));
    let text = String::from_utf8_lossy(&tty.stdout);
    assert!(text.contains("hashing"), "a bar while hashing on a terminal: {text}");
    // The rate reads like a number people use: `56/s`, `3.4/s`, `1.2k/s` (not `1,234.5678/s`).
    let rates: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == '\r').filter(|w| w.ends_with("/s")).collect();
    assert!(!rates.is_empty(), "{text}");
    for r in rates {
        let n = r.trim_end_matches("/s").trim_end_matches(['k', 'M']);
        let human = n.parse::<f64>().is_ok() && !n.contains(',') && n.split('.').nth(1).is_none_or(|d| d.len() == 1);
        assert!(human, "rate {r:?} in {text}");
    }
    let piped = site.run(&["sync", "--full"]);
    assert!(!piped.stderr.contains("hashing"), "{}", piped.stderr);
    let quiet = run(format!("{bin} -q sync --full"));
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("hashing"), "-q: no bars");
}

#[test]
fn a_sync_with_nothing_to_do_needs_no_network_and_keeps_the_manifest() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    for i in 0..20 {
        site.write(&format!("p/{i}.html"), "v1");
    }
    site.backdate_all();
    site.run(&["sync"]).expect(0);
    let manifest = site.state().join("manifest");
    let before = (std::fs::read(&manifest).unwrap(), std::fs::metadata(&manifest).unwrap().modified().unwrap());
    let requests = fake.requests().len();
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert_eq!(out.json()["scan"]["hashed"], 0);
    assert_eq!(fake.requests().len(), requests, "no request when there is nothing to send");
    let after = (std::fs::read(&manifest).unwrap(), std::fs::metadata(&manifest).unwrap().modified().unwrap());
    assert!(before == after, "the manifest was not rewritten");
    // A change still goes out (and asks the API for fresh quota first).
    site.write("p/3.html", "v2");
    site.run(&["sync"]).expect(0);
    assert!(fake.requests().iter().skip(requests).any(|r| r.action == "DescribePurgeQuota"));
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 1);
}
