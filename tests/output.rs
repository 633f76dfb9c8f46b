//! Output where tools expect it: results on stdout, diagnostics and progress on stderr (each
//! captured separately), a closed pipe ends quietly, `--wait` shows progress and ends with the
//! tasks' fate, request logs with `-vv`, whole-site purges said and limited, deferred jobs in local
//! time, `man`.

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn deployed(fake: &cdnsync::fake::FakeCdn) -> TempSite {
    let site = TempSite::new(fake, "", "");
    site.write("index.html", "v1");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v2");
    site
}

#[test]
fn results_go_to_stdout_and_diagnostics_to_stderr() {
    let fake = fake();
    let site = deployed(&fake);
    let plan = site.run(&["plan"]);
    plan.expect(0);
    assert!(plan.stdout.contains("changes: 0 added, 1 modified") && plan.stdout.contains("PurgeUrlsCache"), "{}", plan.stdout);
    assert!(!plan.stderr.contains("changes:"), "{}", plan.stderr);
    // The placeholder domain is a diagnostic.
    assert!(plan.stderr.contains("warning: domain[0].host is still the placeholder www.example.com"), "{}", plan.stderr);
    assert!(!plan.stdout.contains("warning:"), "{}", plan.stdout);
    site.run(&["sync"]).expect(0);
    for (args, answer) in [(&["status"][..], "tracked files: 2"), (&["quota"][..], "left today"), (&["outbox"][..], "nothing is owed")] {
        let o = site.run(args);
        o.expect(0);
        assert!(o.stdout.contains(answer), "{args:?}: {}", o.stdout);
        assert!(!o.stderr.contains(answer), "{args:?}: {}", o.stderr);
    }
    // `status | grep` works on the human form.
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{} status | grep -c 'owed: 0 pending'", env!("CARGO_BIN_EXE_cdnsync")))
        .current_dir(&site.dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&piped.stdout).trim(), "1");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let fake = fake();
    let site = deployed(&fake);
    site.run(&["sync"]).expect(0);
    for args in [&["--json", "status"][..], &["status"][..], &["--json", "plan"][..], &["completions", "bash"][..], &["man"][..]] {
        let mut child = TempSite::with_credentials(&mut site.command(env!("CARGO_BIN_EXE_cdnsync")))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written (as `| head -1` does after its line).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn status_tasks_is_a_table() {
    let fake = fake_with(|c| c.task_duration = Duration::from_secs(3600));
    let site = deployed(&fake);
    site.run(&["sync"]).expect(0);
    let st = site.run(&["status", "--tasks"]);
    st.expect(0);
    let lines: Vec<&str> = st.stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("TASK ")).unwrap_or_else(|| panic!("no table: {}", st.stdout));
    assert!(lines[header].split_whitespace().eq(["TASK", "KIND", "AREA", "HOST", "URLS", "STATE"]), "{}", lines[header]);
    let rows: Vec<Vec<&str>> = lines[header + 1..].iter().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.len() >= 2 && rows.iter().all(|r| r.len() == 6 && r[5] == "process"), "{}", st.stdout);
    assert!(!st.stdout.contains('{'), "not raw JSON: {}", st.stdout);
}

#[test]
fn wait_shows_progress_then_says_how_the_tasks_ended() {
    // Finished: progress lines on stderr (no terminal), the end on stdout.
    let fake = fake_with(|c| c.task_duration = Duration::from_millis(1500));
    let site = deployed(&fake);
    let out = site.run(&["purge", "--wait=30", "index.html"]);
    out.expect(0);
    assert!(out.stderr.contains("waiting for 2 task(s) to finish at the CDN"), "{}", out.stderr);
    assert!(out.stdout.contains("all 2 tasks finished"), "{}", out.stdout);
    // Ran out: the tasks still running are named, exit 1.
    let fake = fake_with(|c| c.task_duration = Duration::from_secs(3600));
    let site = deployed(&fake);
    let out = site.run(&["sync", "--wait=1"]);
    out.expect(1);
    let tasks: Vec<String> = fake.accepted().iter().filter(|a| a.action == "PurgeUrlsCache").map(|a| a.task_id.clone()).collect();
    assert!(out.stdout.contains("2 task(s) still running when --wait gave up after"), "{}", out.stdout);
    assert!(tasks.iter().all(|t| out.stdout.contains(t.as_str())), "{tasks:?} in {}", out.stdout);
    // Failed at the CDN: not finished OK.
    let fake = fake_with(|c| c.failing_tasks = vec!["a.html".into()]);
    let site = deployed(&fake);
    let out = site.run(&["--json", "sync", "--wait=30"]);
    out.expect(1);
    let j = out.json();
    assert_eq!(j["tasks_finished"], false, "{j}");
    assert_eq!(j["wait"]["failed"].as_array().unwrap().len(), 2, "{j}");
    assert!(out.stderr.contains("2 task(s) FAILED at the CDN"), "{}", out.stderr);
}

#[test]
fn the_legacy_api_cannot_tell_and_does_not_fail_every_wait() {
    let fake = fake();
    let site = TempSite::new(&fake, "api = \"v2\"\nv2_prefetch_delay_secs = 1", "");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v2");
    let out = site.run(&["--json", "sync", "--wait=5"]);
    out.expect(0);
    let j = out.json();
    assert_eq!(j["tasks_finished"], serde_json::Value::Null, "{j}");
    assert_eq!(j["wait"]["cannot_tell"], 2, "{j}");
    assert!(out.stderr.contains("cannot report task progress"), "{}", out.stderr);
}

#[test]
fn vv_logs_each_request_without_secrets() {
    let fake = fake();
    let site = deployed(&fake);
    let out = site.run(&["-vv", "sync"]);
    out.expect(0);
    let line = out.stderr.lines().find(|l| l.contains("submitted")).unwrap_or_else(|| panic!("{}", out.stderr));
    for field in ["action=\"PurgeUrlsCache\"", "area=mainland", "urls=1", "latency_ms=", "status=accepted"] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(!out.stderr.contains(SECRET_KEY), "never the secret");
}

#[test]
fn whole_site_purges_are_said_plainly_and_limited_per_day() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.append_config("max_root_purges_per_day = 1");
    let write_all = |v: &str| {
        for i in 0..210 {
            site.write(&format!("p{i:03}.html"), v);
        }
    };
    write_all("v1");
    site.run(&["sync"]).expect(0);
    write_all("v2");
    let out = site.run(&["sync"]);
    out.expect(0);
    assert!(out.stdout.contains("www.example.com mainland: the WHOLE SITE is purged (https://www.example.com/)"), "{}", out.stdout);
    assert_eq!(fake.urls(JobKind::PurgePaths, Area::Mainland).len(), 1);
    // The same rebuild again the same day: no second whole-site flush.
    write_all("v3");
    let out = site.run(&["sync"]);
    out.expect(0);
    assert!(out.stdout.contains("NOT purging the whole site") && out.stdout.contains("max_root_purges_per_day = 1"), "{}", out.stdout);
    let purged = fake.requests().iter().filter(|r| r.action == "PurgePathCache").count();
    assert_eq!(purged, 2, "one whole-site purge per area, on the first rebuild only");
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len() >= 210, "URL purges instead");
}

#[test]
fn a_deferred_job_says_when_it_goes_in_local_time() {
    let fake = fake();
    let site = deployed(&fake);
    fake.set_available(JobKind::PurgeUrls, Area::Overseas, 0);
    fake.set_available(JobKind::PurgePaths, Area::Overseas, 0);
    // A fixed zone one hour east of UTC: 00:00 China Standard Time is 17:00 there.
    let env = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("TZ", "XYZ-1")];
    let out = site.run_env(&["sync"], &env);
    out.expect(4);
    let line = out.stdout.lines().find(|l| l.contains("goes out after")).unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains(" 00:00 China Standard Time (") && line.contains(" 17:00 here, UTC+01:00)"), "{line}");
    let list = site.run_env(&["outbox"], &env);
    assert!(list.stdout.contains("17:00 here, UTC+01:00"), "{}", list.stdout);
}

#[test]
fn man_renders_roff_from_the_command_definition() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let out = site.run(&["man"]);
    out.expect(0);
    assert!(out.stdout.contains(".TH cdnsync 1") && out.stdout.contains(".SH NAME"), "{}", &out.stdout[..out.stdout.len().min(400)]);
    for cmd in ["sync", "outbox", "man", "purge"] {
        assert!(out.stdout.contains(cmd), "{cmd}");
    }
    let sync = site.run(&["man", "sync"]);
    sync.expect(0);
    assert!(sync.stdout.contains(".TH cdnsync-sync 1") && sync.stdout.contains("if\\-no\\-state"), "{}", sync.stdout);
    site.run(&["man", "nosuch"]).expect(2);
    // Where groff is installed, the page renders without a warning (-k: UTF-8 text, as `man` reads it).
    let Ok(mut groff) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("skipped: groff is not installed, the page is not rendered");
        return;
    };
    use std::io::Write;
    groff.stdin.take().unwrap().write_all(out.stdout.as_bytes()).unwrap();
    let r = groff.wait_with_output().unwrap();
    assert!(r.status.success() && r.stderr.is_empty(), "groff: {}", String::from_utf8_lossy(&r.stderr));
}

/// `watch --json` and its logs: a line per sync as it happens; times unless journald reads them.
#[test]
fn watch_json_is_one_line_per_sync_and_logs_carry_times_off_journald() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.append_config("[watch]\nsettle_ms = 100");
    site.write("a.html", "v1");
    let mut child = TempSite::with_credentials(&mut site.command(env!("CARGO_BIN_EXE_cdnsync")))
        .args(["--json", "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || serde_json::from_str::<serde_json::Value>(&lines.next().unwrap().unwrap()).unwrap();
    let first = next();
    assert_eq!(first["event"], "sync", "{first}");
    assert!(first["at_unix"].as_i64().unwrap() > 1_600_000_000 && first["baseline"] == true, "{first}");
    // The next sync's line arrives while the watcher still runs.
    site.write("a.html", "v2");
    let second = next();
    assert_eq!((second["event"].as_str(), second["changes"]["modified"][0].as_str()), (Some("sync"), Some("a.html")), "{second}");
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let last = next();
    assert_eq!((last["event"].as_str(), last["syncs"].as_u64()), (Some("stopped"), Some(2)), "{last}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let watching = stderr.lines().find(|l| l.contains("watching")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(watching.starts_with("20") && watching.as_bytes().get(10) == Some(&b'T'), "a timestamp first: {watching}");

    // On journald (JOURNAL_STREAM names stderr's device and inode) the journal stamps lines.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (reader, writer) = std::io::pipe().unwrap();
        let md = std::fs::File::from(std::os::fd::OwnedFd::from(writer.try_clone().unwrap())).metadata().unwrap();
        let mut child = TempSite::with_credentials(&mut site.command(env!("CARGO_BIN_EXE_cdnsync")))
            .arg("watch")
            .env("JOURNAL_STREAM", format!("{}:{}", md.dev(), md.ino()))
            .stdout(Stdio::null())
            .stderr(writer)
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(reader).lines();
        let watching = lines.by_ref().map(|l| l.unwrap()).find(|l| l.contains("watching")).unwrap();
        assert!(!watching.starts_with("20"), "no timestamp on journald: {watching}");
        assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}
