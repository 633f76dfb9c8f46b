//! Property tests of every decoder of outside data: the binary manifest (fetched over HTTP with
//! `manifest_url`), outbox files, the API's answers (API 3.0 envelopes, quotas, task logs; v2
//! answers), and the config (TOML-like text and any bytes). Whatever the bytes: no panic, a clear error, and memory in proportion to the
//! input — a count field claiming 2^60 entries allocates nothing of the kind.
//!
//! Memory is watched by this test binary's allocator ([`Counting`]): it records, per thread, the
//! largest single allocation made while a decoder runs. Case counts are fixed for CI.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

use cdnsync::api::{v2, v3, Failure};
use cdnsync::internals::manifest::{self, Manifest};
use cdnsync::internals::outbox::{self, Outbox};
use cdnsync::model::{Area, ContentHash, FileMeta, JobKind, QuotaBook};

/// The system allocator, noting the largest single allocation of each thread.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run `f`; return its result and the largest single allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

/// What a decoder may allocate at once for `input` bytes: a few times the input, plus slack for
/// small fixed buffers.
fn bound(input: usize) -> usize {
    8 * input + (64 << 10)
}

/// `cases` each (CI); `PROPTEST_CASES=100000` runs more.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

// --- The manifest ------------------------------------------------------------------------------

const MAGIC: &[u8] = b"cdnsync-manifest 2\n";

/// Seal a body (magic included) with the trailer, so that decoding gets past the checksum.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let sum = blake3::hash(&body);
    body.extend_from_slice(b"end");
    body.extend_from_slice(sum.as_bytes());
    body
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.-]{1,12}".prop_filter("not . or ..", |s| s != "." && s != ".."),
        "[\\PC\\n\\t\\x1b ]{1,8}"
            .prop_filter("no / or NUL, not . or ..", |s| { !s.contains('/') && !s.contains('\0') && s != "." && s != ".." }),
    ]
}

fn snapshot_paths() -> impl Strategy<Value = std::collections::BTreeSet<String>> {
    proptest::collection::btree_set(proptest::collection::vec(path_segment(), 1..4).prop_map(|s| s.join("/")), 0..24)
}

fn check_manifest(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest) = largest_allocation(|| manifest::decode(bytes, Path::new("https://origin.example/.cdnsync/manifest")));
    prop_assert!(largest <= bound(bytes.len()), "{largest} bytes allocated at once for {} bytes of input", bytes.len());
    if let Err(e) = res {
        let text = e.to_string();
        prop_assert!(text.contains("https://origin.example/.cdnsync/manifest") && text.contains("manifest is damaged"), "{text}");
        prop_assert!(text.contains("sync --all"), "advice: {text}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn manifest_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_manifest(&bytes)?;
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        check_manifest(&with_magic)?;
        check_manifest(&sealed(with_magic))?;
    }

    /// A sealed header with any count (2^60 included) and any entries: checked past the
    /// checksum, never allocating for the count it claims.
    #[test]
    fn manifest_any_count(count in prop_oneof![any::<u64>(), Just(1u64 << 60), Just(u64::MAX), 0u64..64], start in any::<i64>(),
                          rest in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&count.to_le_bytes());
        body.extend_from_slice(&rest);
        check_manifest(&sealed(body))?;
    }

    /// Entry lengths that claim more than is there (up to u32::MAX) are refused, not allocated.
    #[test]
    fn manifest_any_entry_length(len in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&0i64.to_le_bytes());
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&tail);
        check_manifest(&sealed(body))?;
    }

    /// What cdnsync writes, it reads back; any byte of it changed (and resealed) is read back
    /// or refused, never panicked on.
    #[test]
    fn manifest_round_trip_and_mutations(paths in snapshot_paths(), start in any::<i64>(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut m = Manifest { scan_start_ns: start, ..Default::default() };
        for (i, p) in paths.iter().enumerate() {
            m.snapshot.insert(p, FileMeta { size: i as u64, mtime_ns: -(i as i64), hash: ContentHash::of(p.as_bytes()) });
        }
        let bytes = manifest::encode(&m);
        prop_assert_eq!(manifest::decode(&bytes, Path::new("m")).unwrap(), m);
        let mut body = bytes[..bytes.len() - 35].to_vec();
        let i = MAGIC.len() + at.index(body.len() - MAGIC.len());
        body[i] = byte;
        check_manifest(&sealed(body))?;
    }
}

// --- Outbox files ------------------------------------------------------------------------------

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        prop_oneof![Just("mainland"), Just("overseas"), Just("purge_urls"), Just("done"), Just("url")].prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[A-Za-z]{1,10}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const ID: &str = "1700000000-0001-0000000a";

/// Job-shaped JSON: every field present, each either plausible or anything at all.
fn job_like() -> impl Strategy<Value = Value> {
    let id = prop_oneof![Just(json!(ID)), Just(json!("../../victim")), "\\PC{0,24}".prop_map(Value::String), any_json()];
    let kind = prop_oneof![Just(json!("purge_urls")), Just(json!("purge_paths")), Just(json!("prefetch_urls")), any_json()];
    let area = prop_oneof![Just(json!("mainland")), Just(json!("overseas")), any_json()];
    let host = prop_oneof![Just(json!("www.example.com")), Just(json!("WWW.example.com")), "\\PC{0,20}".prop_map(Value::String)];
    let url = prop_oneof!["https://www\\.example\\.com/[a-z/%0-9]{0,12}", "https?://[a-z.@:]{0,20}/[a-z]{0,4}", "\\PC{0,24}",];
    let urls = prop_oneof![proptest::collection::vec(url, 0..5).prop_map(|u| json!(u)), any_json()];
    let status = prop_oneof![Just(json!("pending")), Just(json!("deferred")), Just(json!("failed")), Just(json!("accepted")), any_json()];
    let time = prop_oneof![Just(json!(1_700_000_000)), any::<i64>().prop_map(|t| json!(t)), any_json()];
    (id, kind, area, host, urls, status, time.clone(), time.clone(), time).prop_map(|(id, kind, area, host, urls, status, c, n, m)| {
        json!({"id": id, "kind": kind, "area": area, "host": host, "urls": urls, "status": status,
               "created_unix": c, "not_before_unix": n, "maybe_sent_unix": m, "attempts": 0})
    })
}

fn load_one(bytes: &[u8]) -> (cdnsync::Result<Vec<cdnsync::Job>>, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{ID}.json")), bytes).unwrap();
    let victim = tmp.path().join("victim.json");
    std::fs::write(&victim, b"precious").unwrap();
    let res = largest_allocation(|| Outbox::new(tmp.path()).load());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    res
}

fn check_outbox(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest) = load_one(bytes);
    prop_assert!(largest <= bound(bytes.len()), "{largest} bytes allocated at once for {} bytes", bytes.len());
    match res {
        Ok(jobs) => {
            prop_assert_eq!(jobs.len(), 1);
            // Whatever loads is a job cdnsync could have written.
            prop_assert_eq!(outbox::check(&jobs[0], ID), Ok(()));
        }
        Err(e) => {
            prop_assert!(matches!(e, cdnsync::Error::OutboxDamaged { .. }), "{e:?}");
            let text = e.to_string();
            prop_assert!(text.contains(&format!("{ID}.json")) && text.contains("move it aside"), "{text}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn outbox_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        check_outbox(&bytes)?;
    }

    #[test]
    fn outbox_any_job_like_json(job in job_like()) {
        check_outbox(&serde_json::to_vec(&job).unwrap())?;
    }
}

// --- API answers -------------------------------------------------------------------------------

fn envelope_like() -> impl Strategy<Value = Value> {
    let request_id = prop_oneof![Just(json!("r-1")), Just(json!("")), any_json()];
    let task_id = prop_oneof![Just(json!("1700000000-fake0001")), Just(json!("")), any_json()];
    let error = prop_oneof![
        Just(None),
        any_json().prop_map(Some),
        ("[A-Za-z.]{0,40}", "\\PC{0,40}").prop_map(|(c, m)| Some(json!({"Code": c, "Message": m}))),
    ];
    (request_id, task_id, error, any_json(), any::<bool>()).prop_map(|(rid, tid, err, extra, drop_rid)| {
        let mut r = json!({"TaskId": tid, "RequestId": rid, "Extra": extra});
        if drop_rid {
            r.as_object_mut().unwrap().remove("RequestId");
        }
        if let Some(e) = err {
            r["Error"] = e;
        }
        json!({ "Response": r })
    })
}

fn check_v3(status: u16, bytes: &[u8]) -> Result<(), TestCaseError> {
    let (res, largest) = largest_allocation(|| v3::parse_envelope(status, bytes));
    prop_assert!(largest <= bound(bytes.len()), "{largest} for {}", bytes.len());
    match res {
        Ok(resp) => {
            prop_assert_eq!(status, 200);
            prop_assert!(resp.get("Error").is_none());
            prop_assert!(
                resp.get("RequestId").and_then(Value::as_str).is_some_and(|r| !r.is_empty()),
                "accepted without RequestId: {resp}"
            );
            match v3::task_id(&resp) {
                Ok(t) => prop_assert!(!t.is_empty() && resp["TaskId"] == json!(t)),
                Err(f) => {
                    let decode = matches!(f, Failure::Decode { .. });
                    prop_assert!(decode && f.to_string().contains("TaskId"), "{f:?}");
                }
            }
        }
        Err(Failure::Decode { message }) => prop_assert!(status == 200 && !message.is_empty()),
        Err(Failure::Http { status: s, .. }) => prop_assert!(s == status && s != 200),
        Err(Failure::Api(e)) => prop_assert!(!e.code.is_empty()),
        Err(other) => prop_assert!(false, "not a decoding failure: {other:?}"),
    }
    Ok(())
}

fn task_log() -> impl Strategy<Value = Value> {
    let task = prop_oneof![Just(json!("t1")), Just(json!("t2")), Just(json!("t3")), any_json()];
    let url = prop_oneof![Just(json!("https://h/a")), Just(json!("https://h/b")), any_json()];
    let time = prop_oneof![Just(json!("2024-03-01 10:00:00")), Just(json!("2024-03-01 10:00:05")), any_json()];
    (task, url, time, any_json()).prop_map(|(t, u, c, x)| json!({"TaskId": t, "Url": u, "CreateTime": c, "Status": x}))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn v3_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), status in prop_oneof![Just(200u16), 100u16..600]) {
        check_v3(status, &bytes)?;
    }

    #[test]
    fn v3_any_envelope(v in envelope_like(), status in prop_oneof![Just(200u16), Just(502u16), 100u16..600]) {
        check_v3(status, &serde_json::to_vec(&v).unwrap())?;
    }

    #[test]
    fn v3_any_json(v in any_json()) {
        check_v3(200, &serde_json::to_vec(&v).unwrap())?;
        check_v3(200, &serde_json::to_vec(&json!({"Response": v})).unwrap())?;
    }

    /// Quota lists of any shape: only well-formed entries of known areas are read.
    #[test]
    fn v3_any_quota_list(list in proptest::collection::vec(prop_oneof![
        any_json(),
        (prop_oneof![Just("mainland"), Just("overseas"), Just("global")], any_json(), any_json(), any_json())
            .prop_map(|(a, b, t, v)| json!({"Area": a, "Batch": b, "Total": t, "Available": v})),
        (prop_oneof![Just("mainland"), Just("overseas")], any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(a, b, t, v)| json!({"Area": a, "Batch": b, "Total": t, "Available": v})),
    ], 0..8)) {
        let mut book = QuotaBook::default();
        v3::parse_quota(&mut book, JobKind::PurgeUrls, &list);
        for key in book.entries.keys() {
            prop_assert!(key == "purge_urls/mainland" || key == "purge_urls/overseas", "{key}");
        }
        for area in Area::ALL {
            if let Some(e) = book.get(JobKind::PurgeUrls, area) {
                let from = list.iter().rev().find(|x| x["Area"] == json!(area.as_str()) && x["Available"].as_u64() == Some(e.available));
                prop_assert!(from.is_some(), "{area}: {e:?} read from no entry of {list:?}");
            }
        }
    }

    /// Task pages of any shape: candidates are task IDs of logs of the URL, each once, newest
    /// first among those with a time.
    #[test]
    fn v3_any_task_page(logs in proptest::collection::vec(task_log(), 0..12)) {
        let found = v3::candidate_tasks(&logs, "https://h/a");
        let mut seen = std::collections::HashSet::new();
        for t in &found {
            prop_assert!(seen.insert(t.clone()), "{t} twice");
            prop_assert!(logs.iter().any(|l| l["TaskId"] == json!(t) && l["Url"] == json!("https://h/a")), "{t} is no task of the URL");
        }
        let times: Vec<&str> = found.iter().map(|t| {
            logs.iter().find(|l| l["TaskId"] == json!(t) && l["Url"] == json!("https://h/a")).and_then(|l| l["CreateTime"].as_str()).unwrap_or("")
        }).collect();
        prop_assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first: {times:?}");
    }

    #[test]
    fn v2_any_answer(v in prop_oneof![
        any_json(),
        (prop_oneof![Just(json!(0)), Just(json!("0")), Just(json!(4000)), Just(json!("4400")), Just(json!("")), Just(json!(" 0 ")), any_json()], any_json(), any_json())
            .prop_map(|(code, desc, data)| json!({"code": code, "codeDesc": desc, "message": "m", "data": data})),
    ], status in prop_oneof![Just(200u16), 100u16..600], raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        let bytes = serde_json::to_vec(&v).unwrap();
        for input in [&bytes[..], &raw[..]] {
            let (res, largest) = largest_allocation(|| v2::parse_response(status, input));
            prop_assert!(largest <= bound(input.len()));
            match res {
                Ok(_) => {
                    let code = serde_json::from_slice::<Value>(input).ok().and_then(|v| v.get("code").cloned());
                    prop_assert!(status == 200 && (code == Some(json!(0)) || code == Some(json!("0"))), "accepted: {:?}", code);
                }
                Err(Failure::Decode { .. }) => prop_assert_eq!(status, 200),
                Err(Failure::Http { status: s, .. }) => prop_assert!(s == status && s != 200),
                Err(Failure::Api(e)) => prop_assert!(!e.code.is_empty() && e.code != "0"),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}

/// The case the issue names: a count of 2^60 entries in a well-sealed manifest, and a quota
/// page claiming a huge `Limit`-like count, allocate nothing of the kind.
#[test]
fn a_count_of_two_to_the_sixty_allocates_nothing_huge() {
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&0i64.to_le_bytes());
    body.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let bytes = sealed(body);
    let (res, largest) = largest_allocation(|| manifest::decode(&bytes, Path::new("m")));
    assert!(res.unwrap_err().to_string().contains("runs past the end"));
    assert!(largest < 64 << 10, "{largest} bytes at once");
}

// --- The config ---------------------------------------------------------------------------------

/// A config that loads; the property tests change it line by line.
const GOOD_CONFIG: &str = "publish_dir = \"public\"\nsymlinks = \"inside\"\n[provider]\napi = \"v3\"\ntimeout_secs = 10\n\
    [[domain]]\nhost = \"www.example.com\"\nareas = [\"mainland\"]\ninclude = [\"**\"]\n[limits]\nmax_files = 5000\nconcurrency = 2";

#[test]
fn config_the_good_one_is_good() {
    let c = cdnsync::config::from_str(GOOD_CONFIG, Path::new("c.toml"), Path::new("/srv/site")).unwrap();
    assert_eq!((c.limits.max_files, c.domains.len()), (5000, 1));
}

/// Keys cdnsync reads, and a few it does not.
const CONFIG_KEYS: &[&str] = &[
    "publish_dir",
    "state_dir",
    "exclude",
    "symlinks",
    "manifest_url",
    "credentials_file",
    "api",
    "endpoint",
    "timeout_secs",
    "allow_plain_http",
    "host",
    "areas",
    "include",
    "base_path",
    "scheme",
    "index_files",
    "index_aliases",
    "prefetch",
    "zone_id",
    "settle_ms",
    "trigger_file",
    "max_files",
    "concurrency",
    "collapse",
    "purge_urls_batch",
    "retry_deadline_secs",
    "nope",
    "__toml_private",
    "provider.api",
    "limits.max_files",
    "\"quoted key\"",
    "a.b.c",
];

const CONFIG_TABLES: &[&str] =
    &["[provider]", "[[domain]]", "[watch]", "[limits]", "[fleet]", "[domain]", "[[provider]]", "[limits.x]", "[]", "[[", "[a.b]"];

fn config_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[\\PC\\x1b\\n]{0,16}".prop_map(|s| toml::Value::String(s).to_string()),
        "[a-z/.*\\[\\]{}-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("\"public\"".to_string()),
        Just("\"www.example.com\"".to_string()),
        Just("[\"mainland\", \"overseas\", 3]".to_string()),
        Just("{ api = \"v2\", endpoint = 4 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("\"\"\"multi\nline\"\"\"".to_string()),
        "[\\PC]{0,12}",
    ]
}

fn config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(CONFIG_KEYS), config_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(CONFIG_TABLES).prop_map(str::to_string),
        1 => "[\\PC\\t]{0,24}",
    ]
}

/// Text that parses and validates, or errors that name the file, a line of it (or none), a key
/// (or none) and what is wrong; never more than the documented number of errors, and memory in
/// proportion to the text.
fn check_config_text(text: &str) -> Result<(), TestCaseError> {
    let file = Path::new("site/cdnsync.toml");
    let (res, largest) = largest_allocation(|| cdnsync::config::from_str(text, file, Path::new("/srv/site")));
    prop_assert!(largest <= bound(text.len()), "{largest} bytes allocated at once for {} bytes of config", text.len());
    let lines = text.lines().count().max(1) + 1;
    match res {
        Ok(c) => prop_assert!(c.publish_dir.is_absolute(), "{}", c.publish_dir.display()),
        Err(errors) => {
            prop_assert!(!errors.0.is_empty() && errors.0.len() <= cdnsync::config::MAX_ERRORS + 1, "{} errors", errors.0.len());
            for e in &errors.0 {
                prop_assert_eq!(e.file.as_path(), file);
                prop_assert!(e.line.is_none_or(|l| l >= 1 && l <= lines), "line {:?} of {lines}: {e}", e.line);
                prop_assert!(!e.message.trim().is_empty(), "{e}");
                prop_assert!(e.to_string().starts_with("site/cdnsync.toml"), "{e}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn config_any_toml_like_text(lines in proptest::collection::vec(config_line(), 0..32)) {
        check_config_text(&lines.join("\n"))?;
    }

    #[test]
    fn config_a_good_file_with_one_line_changed(at in 0usize..12, line in config_line()) {
        let mut good: Vec<String> = GOOD_CONFIG.lines().map(str::to_string).collect();
        good[at] = line;
        check_config_text(&good.join("\n"))?;
    }

    #[test]
    fn config_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdnsync.toml");
        std::fs::write(&path, &bytes).unwrap();
        let (res, largest) = largest_allocation(|| cdnsync::config::load(&path));
        prop_assert!(largest <= bound(bytes.len()));
        if let Err(e) = res {
            prop_assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
        }
    }
}
