//! Verify at scale: 10,000 URLs checked through the fake edge on 127.0.0.1, against a bare
//! reqwest loop doing the same GETs in the same process.
//!
//! ```text
//! cargo bench --bench verify
//! ```
//! Generates 10,000 files (1–16 KiB, deterministic) in a temporary folder, serves them through
//! the fake edge (its cache warmed by one pass, so every measured request is a cache hit), then
//! alternates, 3 times each:
//! - `cdnsync::verify::verify` (hash mode: GET, stream, BLAKE3, classify, summary), concurrency
//!   8, no rate limit, `connect_to` the edge;
//! - the reference: one reqwest client with the same `connect_to`, `buffer_unordered(8)`, each
//!   body read whole and hashed with BLAKE3 — the least any hash check must do.
//!
//! Prints the median time of each, the ratio, and the peak memory of each run: the kernel's
//! high-water mark (VmHWM) is reset before every run (`/proc/self/clear_refs`), so each peak is
//! that run's own; the edge's cache, in the same process, is part of both, so the growth over
//! the RSS at the run's start is printed too (`+N MB`). Settings:
//! `CDNSYNC_BENCH_URLS` (default 10000).
#![allow(clippy::disallowed_methods)] // a benchmark reads the real clock by definition

use std::net::SocketAddr;
use std::time::Instant;

use cdnsync::clock::SystemClock;
use cdnsync::fake::edge::{EdgeConfig, FakeEdge};
use cdnsync::internals::{verify, HttpFetcher, Item, Options};
use cdnsync::model::ContentHash;
use futures_util::StreamExt;

const CONCURRENCY: usize = 8;

fn main() {
    let n: usize = std::env::var("CDNSYNC_BENCH_URLS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut rng = fastrand::Rng::with_seed(17);
    let mut items = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let rel = format!("d{}/page-{i}.html", i % 100);
        let len = rng.usize(1024..16 * 1024);
        let body: Vec<u8> = (0..len).map(|_| rng.alphanumeric() as u8).collect();
        let p = tmp.path().join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &body).unwrap();
        bytes += len;
        let url = format!("http://www.example.com/{rel}");
        items.push(Item::new(url, "www.example.com", ContentHash::of(&body)).size(len as u64));
    }
    let edge = FakeEdge::start(EdgeConfig::new(tmp.path())).expect("fake edge");
    let opts = Options { concurrency: CONCURRENCY, requests_per_second: None, connect_to: Some(edge.addr()), ..Options::default() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!("{n} URLs, {:.1} MB of bodies, edge on {}", bytes as f64 / 1e6, edge.addr());

    // Warm the edge's cache: every measured request is then a hit.
    let warm = run_verify(&rt, &items, &opts);
    assert_eq!(warm.fresh, n, "warm-up: every URL fresh");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ours.push(measure(|| {
            let s = run_verify(&rt, &items, &opts);
            assert_eq!((s.fresh, s.exit_code()), (n, 0));
        }));
        theirs.push(measure(|| {
            let ok = rt.block_on(reference(&items, edge.addr()));
            assert_eq!(ok, n);
        }));
    }
    let (t, r) = (median(&ours), median(&theirs));
    let requests = edge.requests().len();
    println!();
    println!("| measurement | cdnsync | reference | ratio | peak RSS | notes |");
    println!("| --- | ---: | --- | ---: | ---: | --- |");
    println!(
        "| verify {n} URLs (hash mode, fake edge) | {:.2} s | bare reqwest loop {:.2} s | {:.2}× | {:.0} MB (+{:.1} MB; reference {:.0} MB, +{:.1} MB) | concurrency {CONCURRENCY}, no rate limit; the process holds the edge's cache; {} requests seen by the edge |",
        t.secs,
        r.secs,
        t.secs / r.secs,
        t.hwm_kb as f64 / 1024.0,
        t.grew_kb as f64 / 1024.0,
        r.hwm_kb as f64 / 1024.0,
        r.grew_kb as f64 / 1024.0,
        requests
    );
}

fn run_verify(rt: &tokio::runtime::Runtime, items: &[Item], opts: &Options) -> cdnsync::internals::Summary {
    let fetcher = HttpFetcher::for_urls(&opts.into(), items.iter().map(|i| i.url.as_str())).expect("fetcher");
    rt.block_on(verify(items, &fetcher, opts, &SystemClock))
}

/// The same GETs, bodies read whole and hashed; returns how many matched.
async fn reference(items: &[Item], edge: SocketAddr) -> usize {
    let client = reqwest::Client::builder().resolve("www.example.com", edge).build().unwrap();
    let client = &client;
    futures_util::stream::iter(items)
        .map(|item| async move {
            let body = client.get(&item.url).send().await.unwrap().bytes().await.unwrap();
            ContentHash::of(&body) == item.expected
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

#[derive(Clone, Copy)]
struct Sample {
    secs: f64,
    hwm_kb: u64,
    /// Peak minus the RSS at the start: what the run itself added.
    grew_kb: u64,
}

fn measure(f: impl FnOnce()) -> Sample {
    // Writing 5 resets the peak RSS to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kb("VmRSS:");
    let t = Instant::now();
    f();
    let secs = t.elapsed().as_secs_f64();
    let hwm_kb = status_kb("VmHWM:");
    Sample { secs, hwm_kb, grew_kb: hwm_kb.saturating_sub(before) }
}

fn median(v: &[Sample]) -> Sample {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    s[s.len() / 2]
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
