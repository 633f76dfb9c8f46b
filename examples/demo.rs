//! The whole job on a bundled example, with no cloud account:
//!
//! ```text
//! cargo run --release --example demo
//! cargo run --release --example demo -- --edgeone   # the same through EdgeOne (api = "edgeone")
//! ```
//! Starts the fake API on loopback, builds a small sample site, syncs (baseline), changes a few
//! files (edits, a new page, a deletion, and a rebuild that rewrites files with identical bytes),
//! syncs again, and shows what was purged and why.

use std::path::Path;
use std::sync::Arc;

use cdnsync::clock::SystemClock;
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::{Engine, SyncOptions};

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn main() {
    let edgeone = std::env::args().any(|a| a == "--edgeone");
    let fake = FakeCdn::start(FakeConfig::default()).expect("start the fake API");
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path();
    let public = site.join("public");
    println!("== sample site in {}", public.display());
    write(&public, "index.html", "<h1>Home</h1>");
    write(&public, "about/index.html", "<h1>About</h1>");
    write(&public, "css/site.css", "body { font: 16px serif }");
    write(&public, "js/old.js", "console.log('old')");
    write(&public, "文档/中文 名.html", "<p>你好</p>");
    for i in 1..=20 {
        write(&public, &format!("blog/post-{i}.html"), &format!("<p>post {i}</p>"));
    }
    // EdgeOne calls take no area: its domains name none (the fake's zone serves www.example.com).
    let (api, areas) = if edgeone { ("api = \"edgeone\"\n", "") } else { ("", "areas = [\"mainland\", \"overseas\"]\n") };
    let config_text = format!(
        r#"publish_dir = "public"

[provider]
{api}endpoint = "{}"

[[domain]]
host = "www.example.com"
{areas}prefetch = ["**/index.html"]
"#,
        fake.url()
    );
    std::fs::write(site.join("cdnsync.toml"), &config_text).unwrap();
    println!("== cdnsync.toml\n{config_text}");
    let cfg = cdnsync::config::load(&site.join("cdnsync.toml")).expect("valid config");
    let fc = FakeConfig::default();
    let creds = Credentials::new(fc.secret_id, fc.secret_key, None);
    let clock = Arc::new(SystemClock);
    let api = cdnsync::api_for(&cfg, creds, clock.clone()).unwrap();
    let engine = Engine::new(cfg, api, clock);
    let rt = tokio::runtime::Runtime::new().unwrap();

    println!("== first sync: records a baseline, purges nothing");
    let r = rt.block_on(engine.sync(&SyncOptions::default(), &())).unwrap();
    println!("   {} files tracked; {} jobs; notes: {:?}\n", r.scan.files, r.jobs.len(), r.notes);

    println!("== deploy: edit the home page and the stylesheet, add a page, delete a script,");
    println!("   rebuild the blog (same bytes, new timestamps), edit a page with a Chinese name");
    write(&public, "index.html", "<h1>Home, new</h1>");
    write(&public, "css/site.css", "body { font: 17px serif }");
    write(&public, "docs/index.html", "<h1>Docs</h1>");
    std::fs::remove_file(public.join("js/old.js")).unwrap();
    for i in 1..=20 {
        write(&public, &format!("blog/post-{i}.html"), &format!("<p>post {i}</p>"));
    }
    write(&public, "文档/中文 名.html", "<p>你好，世界</p>");

    let r = rt.block_on(engine.sync(&SyncOptions::default(), &())).unwrap();
    let c = &r.changes;
    println!("\n== second sync");
    println!("   added:    {:?}  (new files had nothing cached: not purged, but index pages are prefetched)", c.added);
    println!("   modified: {:?}", c.modified);
    println!("   removed:  {:?}", c.removed);
    println!("   unchanged: {} (the 20 rebuilt blog posts have identical bytes: no purge)", c.unchanged);
    for j in &r.jobs {
        println!("   {} {} -> {} ({} URLs, task {})", j.action, j.area, j.status, j.urls.len(), j.task_id.as_deref().unwrap_or("-"));
        for u in &j.urls {
            println!("       {u}");
        }
    }
    for n in &r.notes {
        println!("   note: {n}");
    }
    println!("\n== what the (fake) CDN accepted, in order");
    for a in fake.accepted() {
        println!("   {} {:?}: {} URL(s)", a.action, a.areas, a.urls.len());
    }
    for t in fake.teo_tasks() {
        println!("   EdgeOne task {} in {}: {} {} {}", t.job_id, t.zone, t.task_type, t.method, t.target);
    }
    println!("\nexit code would be {}; owed: {:?}", r.exit_code(), r.outbox);
}
