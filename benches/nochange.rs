//! The no-change sync of a large site, against another cdnsync binary, alternately on the same
//! tree: what a change to the walk costs, as a ratio (the bounds of issue 12 were held to 5 %).
//!
//! ```text
//! cargo bench --bench nochange                                      # this build alone
//! CDNSYNC_BENCH_BASE=/path/to/other/cdnsync cargo bench --bench nochange   # against another build
//! ```
//! To compare with `main`: `git archive main | tar -x -C /tmp/base`, then in `/tmp/base`
//! `cargo build --release --features fake --bin cdnsync --target-dir <this repo>/target` and copy
//! `target/release/cdnsync` aside before benching (the bench rebuilds this one).
//!
//! The tree: `CDNSYNC_BENCH_FILES` (default 100,000) small files in the layout of
//! `benches/scale.rs` (10 sections × 100 folders; a stat-only sync does not read them, so their
//! size does not matter), in `target/bench-nochange-<files>/`, reused by later runs. Each binary
//! runs `CDNSYNC_BENCH_RUNS` times (default 21), alternating; the medians are compared.
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock by definition

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cdnsync::fake::{FakeCdn, FakeConfig};

const SECRET_ID: &str = "AKIDFAKE0000000000000000000000000000";
const SECRET_KEY: &str = "fakeSecretKey0000000000000000000";

fn main() {
    let files: usize = std::env::var("CDNSYNC_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let runs: usize = std::env::var("CDNSYNC_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(21);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(format!("bench-nochange-{files}"));
    let t = Instant::now();
    generate(&dir.join("public"), files);
    println!("site: {files} files in {} (ready in {:.1} s)", dir.display(), t.elapsed().as_secs_f64());
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_cdnsync"));
    let base = std::env::var_os("CDNSYNC_BENCH_BASE").map(PathBuf::from);

    let fake = FakeCdn::start(FakeConfig::default()).expect("fake API");
    let config = format!("publish_dir = \"public\"\n[provider]\nendpoint = \"{}\"\n[[domain]]\nhost = \"www.example.com\"\n", fake.url());
    std::fs::write(dir.join("cdnsync.toml"), config).unwrap();
    let _ = std::fs::remove_dir_all(dir.join(".cdnsync"));
    run(&ours, &dir, &["sync", "--baseline"]);
    // Warm the page cache and both binaries.
    for bin in [Some(&ours), base.as_ref()].into_iter().flatten() {
        run(bin, &dir, &["sync"]);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        if let Some(base) = &base {
            b.push(run(base, &dir, &["sync"]));
        }
        a.push(run(&ours, &dir, &["sync"]));
    }
    let ours_s = median(a);
    println!("no-change sync, {files} files, median of {runs}: this build {:.3} s", ours_s.as_secs_f64());
    if let Some(base) = &base {
        let base_s = median(b);
        println!("                                         {}: {:.3} s", base.display(), base_s.as_secs_f64());
        println!("ratio (this build / base): {:.3}", ours_s.as_secs_f64() / base_s.as_secs_f64());
    }
}

/// Run `bin args` in `dir`; its wall time. A failure stops the bench.
fn run(bin: &Path, dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .output()
        .expect("run cdnsync");
    let took = t.elapsed();
    assert!(out.status.success(), "{} {args:?}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `files` small files as `s<i % 10>/d<(i / 10) % 100>/f<i>.html`, written once.
fn generate(public: &Path, files: usize) {
    let marker = public.join(".generated");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&files.to_string()) {
        return;
    }
    let _ = std::fs::remove_dir_all(public);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= files {
                    break;
                }
                let path = public.join(format!("s{}/d{}/f{i}.html", i % 10, (i / 10) % 100));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, format!("file {i}\n")).unwrap();
            });
        }
    });
    std::fs::write(&marker, files.to_string()).unwrap();
    // Files built "a while ago" (the racy-timestamp rule rehashes files modified within 2 s).
    std::thread::sleep(Duration::from_millis(2100));
}
