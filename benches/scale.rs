//! Speed at scale, against reference tools measured in the same run on the same tree.
//!
//! ```text
//! cargo bench --bench scale
//! ```
//! Generates a deterministic synthetic site (default 100,000 files, 3.25 GB, in
//! `target/bench-site-100000/`, reused by later runs), then measures, each as a ratio against a
//! reference:
//! 1. cold scan (no manifest, every file hashed: `cdnsync plan`) vs `b3sum` over the same files
//!    (installed into `target/bench-tools` with `cargo install b3sum` when absent);
//! 2. a no-change sync (warm cache, stat only) vs `git status` on the tree committed to a
//!    throwaway repository;
//! 3. a deploy changing 1% of the files: time, and how many files were rehashed;
//! 4. planning 100,000 changed paths into jobs (in process) vs formatting the same number of
//!    naive URLs;
//! 5. submitting 10,000 URLs to the local fake API (batches of 100, rate limits on) vs the best
//!    the 20 requests/s limit allows;
//!
//! and the peak memory (max RSS) of each. Quick measurements are the median of several runs
//! (cold scan 3, no-change sync 15, alternating with the reference). Settings: `CDNSYNC_BENCH_FILES` (default 100000),
//! `CDNSYNC_BENCH_DIR`.
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock by definition

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, ChangeSet, ContentHash, FileMeta, JobKind, QuotaBook, Snapshot};

const SECRET_ID: &str = "AKIDFAKE0000000000000000000000000000";
const SECRET_KEY: &str = "fakeSecretKey0000000000000000000";

/// (extension, share in per mille, min KiB, max KiB)
const MIX: &[(&str, u64, u64, u64)] =
    &[("html", 600, 2, 24), ("css", 50, 4, 60), ("js", 100, 4, 60), ("png", 150, 10, 90), ("jpg", 80, 20, 120), ("woff2", 20, 200, 400)];

fn main() {
    let files: usize = std::env::var("CDNSYNC_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let dir = std::env::var_os("CDNSYNC_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| target.join(format!("bench-site-{files}")));
    let public = dir.join("public");
    let t = Instant::now();
    let bytes = generate(&public, files);
    println!("site: {files} files, {:.2} GB in {} (ready in {:.1} s)", bytes as f64 / 1e9, public.display(), t.elapsed().as_secs_f64());
    let b3sum = ensure_b3sum(&target);
    let bin = Path::new(env!("CARGO_BIN_EXE_cdnsync"));

    let mut fc = FakeConfig::default();
    for kind in [JobKind::PurgeUrls, JobKind::PurgePaths, JobKind::PrefetchUrls] {
        for area in Area::ALL {
            let mut e = fc.quota.get(kind, area).unwrap();
            e.total = 10_000_000;
            fc.quota.set(kind, area, e);
        }
    }
    let fake = FakeCdn::start(fc).expect("fake API");
    std::fs::write(
        dir.join("cdnsync.toml"),
        format!(
            "publish_dir = \"public\"\n[provider]\nendpoint = \"{}\"\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"mainland\", \"overseas\"]\n",
            fake.url()
        ),
    )
    .unwrap();
    let state = dir.join(".cdnsync");
    let _ = std::fs::remove_dir_all(&state);
    let mut rows: Vec<Row> = Vec::new();

    // 1. Cold scan vs b3sum (both on a warm page cache: the first b3sum run warms it).
    let list = dir.join("files.list");
    run_sh(&format!("cd '{}' && find public -type f -print0 > '{}'", dir.display(), list.display()));
    let b3 = format!("cd '{}' && xargs -0 '{}' < '{}' > /dev/null", dir.display(), b3sum.display(), list.display());
    run_sh(&b3);
    let reference = median(3, || measure_sh(&b3));
    let cold = median(3, || measure(bin, &dir, &["plan"]));
    rows.push(Row::new("cold scan (hash every file)", cold, Some(("b3sum", reference)), "target ≤ 1.0×, aim 0.5×"));

    // 2. No-change sync vs git status.
    let out = measure(bin, &dir, &["sync", "--baseline"]);
    println!("baseline sync: {:.2} s", out.secs);
    let git_dir = dir.join("git");
    let g = |args: &str| format!("git --git-dir='{}' --work-tree='{}' {args}", git_dir.display(), public.display());
    if !git_dir.join("HEAD").exists() {
        let t = Instant::now();
        run_sh(&format!("{} && {} && {}", g("init -q"), g("add -A"), g("-c user.name=b -c user.email=b@b commit -q -m site")));
        println!("throwaway git repository committed in {:.1} s", t.elapsed().as_secs_f64());
    }
    // An earlier run's 1% deploy left the tree modified against the commit: commit it, so that
    // git too has nothing to report (a modified file would cost git a read and a hash per run).
    run_sh(&format!(
        "test -z \"$({})\" || {{ {} && {}; }}",
        g("status --porcelain"),
        g("add -A"),
        g("-c user.name=b -c user.email=b@b commit -q -m deploy")
    ));
    // `exec`: the shell that starts git is not part of its time.
    let status = format!("exec {} > /dev/null", g("status --porcelain"));
    run_sh(&status);
    // Alternate the two, so that any drift of the machine hits both alike.
    let (mut gits, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        gits.push(measure_sh(&status));
        ours.push(measure(bin, &dir, &["sync"]));
    }
    let (git, nochange) = (median_of(gits), median_of(ours));
    rows.push(Row::new("no-change sync (stat only)", nochange, Some(("git status", git)), "target ≤ 1.0×"));

    // 3. A deploy that changes 1% of the files.
    let changed = touch_one_percent(&public);
    let deploy = measure(bin, &dir, &["--json", "sync"]);
    let report: serde_json::Value = serde_json::from_str(&deploy.stdout).expect("sync --json");
    let hashed = report["scan"]["hashed"].as_u64().unwrap_or(0);
    let mut row = Row::new("1% deploy (sync)", deploy, Some(("no-change sync", nochange_copy(&rows))), "");
    row.note = format!("{hashed} files rehashed for {changed} changed ({:.2}%)", 100.0 * hashed as f64 / files as f64);
    rows.push(row);

    // 4. Planning 100,000 changed paths: with today's quota (collapses to directory purges), and
    //    with quota to spare and collapse off (every URL mapped, encoded and batched).
    rows.push(plan_bench(files, true));
    rows.push(plan_bench(files, false));

    // 5. Submitting 10,000 URLs at 20 requests/s.
    std::fs::write(
        dir.join("cdnsync.toml"),
        format!(
            "publish_dir = \"public\"\n[provider]\nendpoint = \"{}\"\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"mainland\", \"overseas\"]\n[limits]\npurge_urls_batch = 100\n",
            fake.url()
        ),
    )
    .unwrap();
    let urls: Vec<String> = (0..10_000).map(|i| format!("https://www.example.com/bench/{i}.html")).collect();
    let mut args = vec!["purge".to_string()];
    args.extend(urls);
    let before = fake.requests().len();
    // The deploy above sent its purges within the last second: let the fake's window (and the
    // API's) clear, or it would count them against this run, which cannot know about them.
    std::thread::sleep(Duration::from_millis(1100));
    let submit = measure(bin, &dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let sent = fake.requests().iter().skip(before).filter(|r| r.action == "PurgeUrlsCache").count();
    let refused = fake.requests().iter().skip(before).filter(|r| r.outcome == "RequestLimitExceeded").count();
    // Both areas' requests are one action, 20 a second between them: at best 20 in the first
    // second, 20 more in each next one.
    let ideal = Duration::from_secs_f64(((sent - refused).div_ceil(20).saturating_sub(1)) as f64);
    let mut row = Row::new(
        "submit 10,000 URLs (2 areas)",
        submit,
        Some(("20 req/s ideal", Sample { secs: ideal.as_secs_f64(), max_rss_kb: 0, stdout: String::new() })),
        "",
    );
    row.note = format!("{sent} requests, {refused} throttled by the fake");
    rows.push(row);

    println!();
    println!("| measurement | cdnsync | reference | ratio | peak RSS | notes |");
    println!("| --- | ---: | --- | ---: | ---: | --- |");
    for r in &rows {
        let (rname, rsecs) = r.reference.as_ref().map_or(("—".to_string(), f64::NAN), |(n, s)| (format!("{n} {:.2} s", s.secs), s.secs));
        let ratio = if rsecs.is_finite() && rsecs > 0.0 { format!("{:.2}×", r.sample.secs / rsecs) } else { "—".into() };
        let mem = if r.sample.max_rss_kb > 0 { format!("{:.0} MB", r.sample.max_rss_kb as f64 / 1024.0) } else { "—".into() };
        println!("| {} | {:.2} s | {} | {} | {} | {} {} |", r.name, r.sample.secs, rname, ratio, mem, r.target, r.note);
    }
}

#[derive(Clone, Debug)]
struct Sample {
    secs: f64,
    max_rss_kb: u64,
    stdout: String,
}

struct Row {
    name: String,
    sample: Sample,
    reference: Option<(String, Sample)>,
    target: String,
    note: String,
}

impl Row {
    fn new(name: &str, sample: Sample, reference: Option<(&str, Sample)>, target: &str) -> Self {
        Row { name: name.into(), sample, reference: reference.map(|(n, s)| (n.to_string(), s)), target: target.into(), note: String::new() }
    }
}

/// The median of `n` runs (by wall time).
fn median(n: usize, mut f: impl FnMut() -> Sample) -> Sample {
    median_of((0..n).map(|_| f()).collect())
}

fn median_of(mut v: Vec<Sample>) -> Sample {
    v.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    v.swap_remove(v.len() / 2)
}

fn nochange_copy(rows: &[Row]) -> Sample {
    rows.iter().find(|r| r.name.starts_with("no-change")).map(|r| r.sample.clone()).expect("measured before")
}

/// Run the cdnsync binary under GNU time: wall time and max RSS.
fn measure(bin: &Path, dir: &Path, args: &[&str]) -> Sample {
    let rss = dir.join("time.out");
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .output()
        .expect("run cdnsync");
    let secs = t.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0, "cdnsync {:?} exited {code}: {}", &args[..args.len().min(3)], String::from_utf8_lossy(&out.stderr));
    Sample { secs, max_rss_kb: read_rss(&rss), stdout: String::from_utf8_lossy(&out.stdout).into_owned() }
}

fn measure_sh(script: &str) -> Sample {
    let rss = std::env::temp_dir().join(format!("cdnsync-bench-{}.time", std::process::id()));
    let t = Instant::now();
    let ok =
        Command::new("/usr/bin/time").arg("-f").arg("%M").arg("-o").arg(&rss).args(["sh", "-c", script]).status().expect("sh").success();
    assert!(ok, "{script}");
    Sample { secs: t.elapsed().as_secs_f64(), max_rss_kb: read_rss(&rss), stdout: String::new() }
}

fn read_rss(p: &Path) -> u64 {
    std::fs::read_to_string(p).ok().and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok())).unwrap_or(0)
}

fn run_sh(script: &str) {
    let ok = Command::new("sh").args(["-c", script]).status().expect("sh").success();
    assert!(ok, "{script}");
}

fn ensure_b3sum(target: &Path) -> PathBuf {
    if let Ok(out) = Command::new("sh").args(["-c", "command -v b3sum"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let root = target.join("bench-tools");
    let bin = root.join("bin/b3sum");
    if !bin.exists() {
        println!("installing b3sum into {} (cargo install b3sum)", root.display());
        let ok = Command::new("cargo")
            .args(["install", "--quiet", "--locked", "b3sum", "--root"])
            .arg(&root)
            .status()
            .expect("cargo install")
            .success();
        assert!(ok, "cargo install b3sum failed");
    }
    bin
}

/// xorshift64*: deterministic, fast.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The tree: 10 sections × 100 folders, files spread over them; returns the total size.
fn generate(public: &Path, files: usize) -> u64 {
    let marker = public.join(".generated");
    let mut block = vec![0u8; 1 << 20];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for chunk in block.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    let plan: Vec<(PathBuf, usize, u64)> = (0..files)
        .map(|i| {
            let r = rng.next();
            let pick = r % 1000;
            let mut acc = 0;
            let &(ext, _, lo, hi) = MIX
                .iter()
                .find(|(_, share, _, _)| {
                    acc += share;
                    pick < acc
                })
                .unwrap_or(&MIX[0]);
            let size = (lo + (r >> 16) % (hi - lo + 1)) * 1024;
            let rel = PathBuf::from(format!("s{}/d{}/f{i}.{ext}", i % 10, (i / 10) % 100));
            (rel, i, size)
        })
        .collect();
    let total: u64 = plan.iter().map(|p| p.2).sum();
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&format!("{files} {total}")) {
        return total;
    }
    let _ = std::fs::remove_dir_all(public);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((rel, i, size)) = plan.get(k) else { break };
                let path = public.join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let mut body = format!("file {i}\n").into_bytes();
                let start = (i * 4099) % (block.len() / 2);
                let mut left = *size as usize;
                while left > 0 {
                    let n = left.min(block.len() - start);
                    body.extend_from_slice(&block[start..start + n]);
                    left -= n;
                }
                std::fs::write(&path, &body).unwrap();
            });
        }
    });
    // Files built "a while ago" (the racy-timestamp rule rehashes files modified within 2 s).
    std::thread::sleep(Duration::from_millis(2100));
    std::fs::write(&marker, format!("{files} {total}")).unwrap();
    total
}

/// Rewrite every 100th file with new content; returns how many.
fn touch_one_percent(public: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![public.to_path_buf()];
    let mut all = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".generated" {
                all.push(e.path());
            }
        }
    }
    all.sort();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    for p in all.iter().step_by(100) {
        let mut body = std::fs::read(p).unwrap();
        body.extend_from_slice(format!("\nchanged {stamp}\n").as_bytes());
        std::fs::write(p, body).unwrap();
        n += 1;
    }
    n
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Planning `n` changed paths, in process, against formatting `n` naive URLs. `collapse`: with
/// the documented daily quota (10,000 URLs), which forces directory purges; else with quota to
/// spare and `collapse = "never"`, so every URL is mapped, encoded and batched.
fn plan_bench(n: usize, collapse: bool) -> Row {
    let mut b = cdnsync::config::Builder::new("/bench", "public")
        .domain("www.example.com", &[Area::Mainland, Area::Overseas])
        .prefetch("**/index.html");
    if !collapse {
        b = b.collapse(cdnsync::config::Collapse::Never);
    }
    let cfg = b.build().unwrap();
    let paths: Vec<String> = (0..n).map(|i| format!("s{}/d{}/文档 {i}.html", i % 10, (i / 10) % 100)).collect();
    let meta = FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(b"x") };
    let tree: Snapshot = paths.iter().map(|p| (p, meta)).collect();
    let changes = ChangeSet { modified: paths.clone(), ..ChangeSet::default() };
    let mut quota = QuotaBook::documented_v3();
    if !collapse {
        for kind in [JobKind::PurgeUrls, JobKind::PurgePaths, JobKind::PrefetchUrls] {
            for area in Area::ALL {
                let mut e = quota.get(kind, area).unwrap();
                e.available = 10_000_000;
                e.total = 10_000_000;
                quota.set(kind, area, e);
            }
        }
    }
    let t = Instant::now();
    let naive: Vec<String> = paths.iter().map(|p| format!("https://www.example.com/{p}")).collect();
    let reference = t.elapsed().as_secs_f64();
    drop(naive);
    let hwm = vm_hwm_kb();
    let t = Instant::now();
    let plan = cdnsync::internals::make_plan(&cdnsync::internals::PlanInput {
        domains: &cfg.domains,
        limits: &cfg.limits,
        changes: &changes,
        tree: &tree,
        quota: &quota,
        owed: &[],
        all: false,
        overseas_prefetch_batch: None,
        now_unix: 1_800_000_000,
        roots_today: &Default::default(),
    });
    let secs = t.elapsed().as_secs_f64();
    let grew = vm_hwm_kb().saturating_sub(hwm);
    let name = if collapse { format!("plan {n} changed paths (quota-bound)") } else { format!("plan {n} changed paths (no collapse)") };
    let mut row = Row::new(
        &name,
        Sample { secs, max_rss_kb: grew, stdout: String::new() },
        Some(("naive URL format", Sample { secs: reference, max_rss_kb: 0, stdout: String::new() })),
        "",
    );
    let urls: usize = plan.jobs.iter().map(|j| j.urls.len()).sum();
    row.note = format!("{} jobs, {urls} URLs/dirs; RSS = growth in process", plan.jobs.len());
    row
}
