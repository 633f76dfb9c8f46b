//! The published manifest, for ephemeral CI runners that keep no `state_dir` between runs.
//!
//! With `manifest_url` set, `sync` writes a copy of the manifest to
//! `publish_dir/.cdnsync/manifest` (same checksummed format as the state file; `.cdnsync/` is
//! never tracked or purged), and the deploy publishes it with the site. On a fresh runner (no
//! local manifest) `sync` fetches the previous one from `manifest_url` and diffs against it, so
//! only what changed is purged. When anything is still owed at the end of a run, the copy written
//! is the *previous* manifest: the next runner then sees those changes again and purges them — an
//! ephemeral runner's outbox dies with it, so the published manifest must never get ahead of
//! what was purged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::manifest::{self, Manifest};
use crate::api::http::{Request, Transport};
use crate::error::Result;

/// The largest published manifest read (about 2.5 million files); anything larger is unusable
/// and the baseline rule applies, rather than the runner's memory filling up.
pub const MAX_MANIFEST_BYTES: usize = 256 << 20;

/// Where `sync` writes the published copy inside `publish_dir`.
pub const PUBLISHED: &str = ".cdnsync/manifest";

/// The published copy's path inside `publish_dir`.
pub fn published_path(publish_dir: &Path) -> PathBuf {
    publish_dir.join(PUBLISHED)
}

/// What fetching the previous manifest gave.
#[derive(Debug)]
pub enum Fetched {
    /// A valid manifest.
    Found(Manifest),
    /// The server answered, but not with a manifest (404 on a first deploy, say).
    Missing(String),
    /// No answer, or a damaged file.
    Unusable(String),
}

/// GET `url`, bypassing caches (a `Cache-Control: no-cache` request and a unique query string,
/// so that a CDN in front of the site does not answer with a stale copy; pointing `manifest_url`
/// at the origin is better still).
pub async fn fetch(url: &str, timeout: Duration, now_unix: i64) -> Fetched {
    // The API's HTTP client (rustls, timeouts, user agent, errors that never echo the URL).
    let transport = match Transport::new(timeout) {
        Ok(t) => t.with_max_body(MAX_MANIFEST_BYTES),
        Err(e) => return Fetched::Unusable(e.to_string()),
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let req = Request {
        method: "GET",
        url: format!("{url}{sep}cdnsync={now_unix}"),
        headers: vec![("Cache-Control".into(), "no-cache".into())],
        body: Vec::new(),
    };
    match transport.send(req).await {
        Ok((status, _)) if !(200..300).contains(&status) => Fetched::Missing(format!("{url}: HTTP {status}")),
        Ok((_, body)) => match manifest::decode(&body, Path::new(url)) {
            Ok(m) => Fetched::Found(m),
            Err(e) => Fetched::Unusable(e.to_string()),
        },
        Err(e) => Fetched::Unusable(format!("{url}: {e}")),
    }
}

/// Write the copy to publish inside `publish_dir`.
pub fn publish(publish_dir: &Path, m: &Manifest) -> Result<()> {
    let p = published_path(publish_dir);
    if let Some(dir) = p.parent() {
        super::ensure_dir(dir)?;
    }
    super::write_atomic(&p, &manifest::encode(m))
}
