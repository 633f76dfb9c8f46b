//! Outside data that lies or attacks: answers of any size or shape, outbox files written by
//! someone else, names and messages carrying terminal control sequences. The real binary, with
//! servers on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cdnsync::fake::{Fault, FaultRule};
use cdnsync::model::{Area, JobKind};

use crate::util::*;

/// A server on 127.0.0.1 answering every request with a 200 whose chunked body never ends.
/// It stops accepting when dropped; each connection ends when the client hangs up.
struct Endless {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endless {
    fn start() -> Endless {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        std::thread::spawn(move || serve_endless(s));
                    }
                    Err(_) => sleep(Duration::from_millis(10)),
                }
            }
        });
        Endless { url, stop, thread: Some(thread) }
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_endless(mut s: std::net::TcpStream) {
    s.set_nonblocking(false).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").is_err() {
        return;
    }
    let mut chunk = b"10000\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b' ', 0x10000));
    chunk.extend_from_slice(b"\r\n");
    while s.write_all(&chunk).is_ok() {}
}

/// An API whose answers never end: each is cut at the cap, the run ends normally (exit 1, the
/// job still owed), saying why; the process neither fills its memory nor aborts.
#[test]
fn an_answer_that_never_ends_is_cut_and_the_job_stays_owed() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v2");
    let endless = Endless::start();
    site.edit_config(&fake.url(), &endless.url);
    site.edit_config("retry_deadline_secs = 20", "retry_deadline_secs = 1");
    let out = site.run(&["--json", "sync"]);
    out.expect(1);
    assert!(out.stderr.contains("larger than 8 MiB"), "{}", out.stderr);
    let j = out.json();
    assert_eq!(j["outbox"]["pending"], 2, "{j}");
    let errors: Vec<&str> = j["jobs"].as_array().unwrap().iter().filter_map(|j| j["error"]["message"].as_str()).collect();
    assert!(errors.iter().all(|m| m.contains("larger than 8 MiB")), "{errors:?}");
    // Back to the real API: the owed purges go out.
    site.edit_config(&endless.url, &fake.url());
    site.run(&["sync"]).expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set(["https://www.example.com/a.html"]), "{area}");
    }
}

/// A "success" without `TaskId`, or without `RequestId`, came from something that is not the
/// API (here: the API never saw the request). It is not counted as accepted: the job is looked
/// up, not found, and sent again.
#[test]
fn a_success_without_task_id_or_request_id_is_looked_up_not_accepted() {
    for reply in [r#"{"Response": {"RequestId": "proxy-1"}}"#, r#"{"Response": {"TaskId": "forged"}}"#] {
        let fake = fake();
        let site = TempSite::new(&fake, "", "");
        site.write("a.html", "v1");
        site.run(&["sync"]).expect(0);
        site.write("a.html", "v2");
        fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Reply(200, reply.into()), count: 2 });
        let out = site.run(&["--json", "sync"]);
        out.expect(0);
        assert!(fake.requests().iter().any(|r| r.action == "DescribePurgeTasks"), "{reply}: looked up");
        for area in Area::ALL {
            assert_eq!(fake.urls(JobKind::PurgeUrls, area), set(["https://www.example.com/a.html"]), "{reply} {area}");
        }
        let j = out.json();
        let tasks: Vec<&str> = j["jobs"].as_array().unwrap().iter().filter_map(|j| j["task_id"].as_str()).collect();
        assert!(tasks.len() == 2 && tasks.iter().all(|t| t.contains("fake")), "{reply}: real task IDs only: {tasks:?}");
    }
}

fn job_json(id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut j = serde_json::json!({
        "id": id, "kind": "purge_urls", "area": "mainland", "host": "www.example.com",
        "urls": ["https://www.example.com/a.html"], "status": "pending", "created_unix": 1_700_000_000,
    });
    for (k, v) in extra.as_object().unwrap() {
        j[k] = v.clone();
    }
    j
}

fn put_job(site: &TempSite, file: &str, job: &serde_json::Value) {
    let dir = site.state().join("outbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), serde_json::to_vec_pretty(job).unwrap()).unwrap();
}

/// An outbox file whose id is a path (`"../../victim"`) once made `sync` overwrite and then
/// delete a file outside the state folder. Now it stops the run, naming the file, and touches
/// nothing.
#[test]
fn an_outbox_id_that_is_a_path_stops_the_run_and_touches_nothing() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    let victim = site.dir.join("victim.json");
    std::fs::write(&victim, "precious").unwrap();
    put_job(&site, "1700000000-0001-0000000a.json", &job_json("../../victim", serde_json::json!({})));
    for cmd in [&["sync"][..], &["status"], &["plan"]] {
        let out = site.run(cmd);
        out.expect(1);
        assert!(out.stderr.contains("1700000000-0001-0000000a.json") && out.stderr.contains("../../victim"), "{}", out.stderr);
        assert!(out.stderr.contains("move it aside"), "{}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(work_requests(&fake).is_empty(), "nothing was sent");
}

/// A hostile outbox job may not purge another domain's URLs under this one's name, and a
/// deferral to the far future does not hold a job for ever.
#[test]
fn outbox_fields_a_hostile_file_could_abuse() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    let id = "1700000000-0001-0000000b";
    put_job(&site, &format!("{id}.json"), &job_json(id, serde_json::json!({"urls": ["https://victim.example/x"]})));
    let out = site.run(&["sync"]);
    out.expect(1);
    assert!(out.stderr.contains("victim.example") && out.stderr.contains("job's host"), "{}", out.stderr);
    let far = serde_json::json!({"status": "deferred", "not_before_unix": 253_402_300_000_i64});
    put_job(&site, &format!("{id}.json"), &job_json(id, far));
    site.run(&["sync"]).expect(0);
    assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland), set(["https://www.example.com/a.html"]), "sent, not held for ever");
}

/// A file name with ESC, CR and LF, and API error messages with ANSI sequences and line breaks:
/// human output shows them escaped, so nothing reaches the terminal that could move the cursor,
/// recolour, or forge a line. (JSON is escaped by its encoder.)
#[test]
fn control_characters_from_outside_are_escaped_in_human_output() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let evil = "evil\u{1b}[2J\r\nname.html";
    site.write(evil, "v1");
    site.run(&["sync"]).expect(0);
    site.write(evil, "v2");
    let message = "\u{1b}[31mred\u{1b}[0m\r\ncdnsync: forged line";
    let refusal = serde_json::json!({"Response": {"Error": {"Code": "InvalidParameter.CdnParamError", "Message": message}, "RequestId": "r-\u{1b}[K"}});
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Reply(200, refusal.to_string()), count: 2 });
    let out = site.run(&["-v", "sync"]);
    out.expect(3);
    // Results go to stdout and diagnostics to stderr: both reach the terminal.
    let stderr = format!("{}{}", out.stdout, out.stderr);
    assert!(!stderr.contains(['\u{1b}', '\r']), "raw control characters reached the terminal:\n{stderr:?}");
    assert!(stderr.contains("evil\\u{1b}[2J\\r\\nname.html"), "the name, escaped:\n{stderr}");
    assert!(stderr.contains("\\u{1b}[31mred\\u{1b}[0m\\r\\ncdnsync: forged line"), "the message, escaped:\n{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("cdnsync: forged")), "no forged line:\n{stderr}");
    // -q prints failures only; the same care.
    site.write(evil, "v3");
    fake.inject(FaultRule { action: Some("PurgeUrlsCache".into()), fault: Fault::Reply(200, refusal.to_string()), count: 2 });
    let out = site.run(&["-q", "sync"]);
    out.expect(3);
    assert!(!out.stderr.contains(['\u{1b}', '\r']) && out.stderr.contains("\\u{1b}[31mred"), "{:?}", out.stderr);
    // A failed command's message (the API's refusal of a quota query).
    fake.inject(FaultRule { action: Some("DescribePurgeQuota".into()), fault: Fault::Reply(200, refusal.to_string()), count: 1 });
    let out = site.run(&["quota"]);
    out.expect(1);
    assert!(!out.stderr.contains(['\u{1b}', '\r']) && out.stderr.contains("\\u{1b}[31mred"), "{:?}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {:?}", out.stderr);
}
