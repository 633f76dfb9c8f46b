//! A static-site generator calling cdnsync as a library after its build:
//!
//! ```text
//! cargo run --example plugin
//! ```
//! The "generator" renders a few pages, then hands cdnsync the paths it wrote, so only those are
//! rehashed, and gets a typed [`cdnsync::Report`] back. It runs against the bundled fake API (no
//! account needed); a real generator would use `cdnsync::config::load("cdnsync.toml")` and
//! `cdnsync::connect(config)`, which reads the credentials from the environment.

use std::path::Path;
use std::sync::Arc;

use cdnsync::clock::SystemClock;
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::{Area, Engine, SyncOptions};

/// The generator's build: writes `pages` under `out` and returns the paths it wrote.
fn build(out: &Path, pages: &[(&str, String)]) -> Vec<String> {
    let mut written = Vec::new();
    for (path, body) in pages {
        let file = out.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("create folders");
        // A careful generator leaves identical output untouched; cdnsync copes either way.
        if std::fs::read_to_string(&file).ok().as_deref() != Some(body.as_str()) {
            std::fs::write(&file, body).expect("write page");
        }
        written.push(path.to_string());
    }
    written
}

fn pages(version: u32) -> Vec<(&'static str, String)> {
    vec![
        ("index.html", format!("<h1>Home v{version}</h1>")),
        ("about/index.html", "<h1>About</h1>".to_string()),
        ("posts/hello.html", format!("<p>Hello, edition {version}</p>")),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeCdn::start(FakeConfig::default())?;
    let site = tempfile::tempdir()?;
    let out = site.path().join("public");

    // The config, built in code with the same validation as a cdnsync.toml.
    let config = cdnsync::Builder::new(site.path(), "public")
        .endpoint(&fake.url())
        .domain("www.example.com", &[Area::Mainland, Area::Overseas])
        .prefetch("**/index.html")
        .build()?;
    let fc = FakeConfig::default();
    let clock = Arc::new(SystemClock);
    let api = cdnsync::api_for(&config, Credentials::new(fc.secret_id, fc.secret_key, None), clock.clone())?;
    let engine = Engine::new(config, api, clock);
    let rt = tokio::runtime::Runtime::new()?;

    // First build: cdnsync records the baseline.
    build(&out, &pages(1));
    let report = rt.block_on(engine.sync(&SyncOptions::default(), &()))?;
    println!("first build: {} files tracked, {}", report.scan.files, report.notes.join("; "));

    // Next build: tell cdnsync what was written; it rehashes only those paths.
    let written = build(&out, &pages(2));
    let opts = SyncOptions { paths: Some(written), ..SyncOptions::default() };
    let report = rt.block_on(engine.sync(&opts, &()))?;
    println!("second build: modified {:?}", report.changes.modified);
    for job in &report.jobs {
        println!("  {} {} {}: {:?} -> {}", job.action, job.area, job.host, job.urls, job.status);
    }
    println!("exit code a CLI would give: {}", report.exit_code());
    if report.exit_code() != 0 {
        return Err("cdnsync could not deliver everything; it stays owed for the next run".into());
    }
    Ok(())
}
