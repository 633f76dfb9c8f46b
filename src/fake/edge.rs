//! A fake CDN edge on 127.0.0.1, for testing `verify` and the origin wait without a real CDN.
//!
//! It serves `publish_dir` (the origin) through a cache that only a purge clears: the first
//! request for a URL fetches it from the origin and caches it (404s too, as CDNs do), later ones
//! are answered from the cache, whatever the origin holds by then. It learns of purges by polling
//! the fake API's public record of accepted jobs ([`crate::fake::FakeCdn::accepted`], through an
//! [`EdgeConfig::purges`] feed): URL purges drop one entry, directory purges every entry under
//! the prefix, prefetches fill the cache, each only for jobs covering the edge's area. A purge of
//! a cached URL refetches it at once (a busy site: some visitor asks right after the purge).
//!
//! It can be told to lag the origin ([`FakeEdge::lag_origin`]): for a while, origin reads return
//! the bytes the files had when it was told, so a purge that lands before the origin has the new
//! bytes re-caches the old ones — the race verify exists to catch. It can rewrite bodies like some
//! CDNs do ([`Transform`]). With `cache: false` it is a plain origin (for the origin wait).
//!
//! It records every request it answers, with the peer address, so tests can assert what was
//! asked and that nothing but loopback addresses were contacted.

mod origin;
mod wire;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::AcceptedJob;
use crate::clock::{Clock, SystemClock};
use crate::model::{Area, ContentHash, JobKind};
use origin::{from_origin, plain, snapshot};
use wire::Answer;

/// Where the edge learns of accepted purges: typically `move || cdn.accepted()`.
pub type PurgeFeed = Arc<dyn Fn() -> Vec<AcceptedJob> + Send + Sync>;

/// How the edge rewrites bodies it caches, like some CDNs do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transform {
    /// Bytes as the origin has them.
    #[default]
    None,
    /// Text files (html, css, js, json, svg, xml) lose their newlines and indentation.
    Minify,
    /// Every body is served with `Content-Encoding: gzip` and a weakened ETag, whatever the
    /// client asked (the bytes are changed, not really compressed).
    FakeGzip,
}

/// What the edge serves and how.
#[derive(Clone)]
pub struct EdgeConfig {
    /// The origin's files.
    pub publish_dir: PathBuf,
    /// Hosts it serves (others get 404).
    pub hosts: Vec<String>,
    /// URL prefix the publish dir is served under (starts and ends with `/`).
    pub base_path: String,
    /// Its area: only purges covering it apply.
    pub area: Area,
    /// `false`: no cache, a plain origin.
    pub cache: bool,
    /// A purge takes effect this long after the API accepted it.
    pub purge_delay: Duration,
    /// Accepted purges, polled.
    pub purges: Option<PurgeFeed>,
    /// Its clock (cache ages, lags, purge delays).
    pub clock: Arc<dyn Clock>,
}

impl EdgeConfig {
    /// A caching edge for `www.example.com` in the mainland, serving `publish_dir` at `/`.
    pub fn new(publish_dir: impl Into<PathBuf>) -> EdgeConfig {
        EdgeConfig {
            publish_dir: publish_dir.into(),
            hosts: vec!["www.example.com".into()],
            base_path: "/".into(),
            area: Area::Mainland,
            cache: true,
            purge_delay: Duration::ZERO,
            purges: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A plain origin (no cache) for `publish_dir`.
    pub fn origin(publish_dir: impl Into<PathBuf>) -> EdgeConfig {
        EdgeConfig { cache: false, ..EdgeConfig::new(publish_dir) }
    }

    /// Learn of purges from this fake API.
    pub fn with_cdn(mut self, cdn: Arc<super::FakeCdn>) -> EdgeConfig {
        self.purges = Some(Arc::new(move || cdn.accepted()));
        self
    }
}

/// One request the edge answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeRequest {
    /// Who asked.
    pub peer: IpAddr,
    /// `GET`, `HEAD`…
    pub method: String,
    /// The `Host` header (port removed, lower case).
    pub host: String,
    /// The request target (path and query, encoded).
    pub target: String,
    /// `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// `Accept-Encoding`, when sent.
    pub accept_encoding: Option<String>,
    /// Status answered.
    pub status: u16,
    /// `hit`, `miss` (fetched from the origin and cached) or `origin` (no cache).
    pub cache: &'static str,
}

struct Entry {
    answer: Answer,
    at_ms: i64,
}

struct Lag {
    until_ms: i64,
    files: HashMap<String, Option<Vec<u8>>>,
    whole_tree: bool,
}

struct State {
    cfg: EdgeConfig,
    cache: HashMap<(String, String), Entry>,
    lag: Option<Lag>,
    transform: Transform,
    log: Vec<EdgeRequest>,
    applied: HashSet<String>,
    origin_reads: u64,
}

/// A running edge. Stops when dropped.
pub struct FakeEdge {
    server: super::http::Background,
    state: Arc<Mutex<State>>,
}

impl FakeEdge {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start(cfg: EdgeConfig) -> std::io::Result<FakeEdge> {
        let state = Arc::new(Mutex::new(State {
            cfg,
            cache: HashMap::new(),
            lag: None,
            transform: Transform::None,
            log: Vec::new(),
            applied: HashSet::new(),
            origin_reads: 0,
        }));
        let (st, polled) = (state.clone(), state.clone());
        // Purges the fake API accepted are learnt by polling it, every 20 ms.
        let poll: Box<dyn FnMut() + Send> = Box::new(move || poll_purges(&polled));
        let server = super::http::Background::start(
            "fake-edge",
            0,
            move |stream, peer| connection(stream, peer.ip(), st.clone()),
            Some((Duration::from_millis(20), poll)),
        )?;
        Ok(FakeEdge { server, state })
    }

    /// The loopback address (for `[verify] connect_to`).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT` (for `[[domain]] origin`).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("edge state")
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<EdgeRequest> {
        self.st().log.clone()
    }

    /// How many times it read a file from the origin.
    pub fn origin_reads(&self) -> u64 {
        self.st().origin_reads
    }

    /// `(host, path)` of every cached entry, sorted.
    pub fn cached(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.st().cache.keys().cloned().collect();
        v.sort();
        v
    }

    /// Rewrite bodies fetched from the origin from now on.
    pub fn set_transform(&self, t: Transform) {
        self.st().transform = t;
    }

    /// For `for_` from now, the origin serves `paths` (publish-dir relative; `None`: the whole
    /// tree) as they are now; files missing now are missing then.
    pub fn lag_origin(&self, paths: Option<&[&str]>, for_: Duration) -> std::io::Result<()> {
        let (dir, now) = {
            let s = self.st();
            (s.cfg.publish_dir.clone(), s.cfg.clock.now_ms())
        };
        let mut files = HashMap::new();
        match paths {
            Some(list) => {
                for p in list {
                    files.insert(p.to_string(), std::fs::read(dir.join(p)).ok());
                }
            }
            None => snapshot(&dir, &dir, &mut files)?,
        }
        self.st().lag = Some(Lag { until_ms: now + for_.as_millis() as i64, files, whole_tree: paths.is_none() });
        Ok(())
    }

    /// Purge `url` (a directory prefix when `directory`) as if the API had accepted it.
    pub fn purge(&self, url: &str, directory: bool) {
        let kind = if directory { JobKind::PurgePaths } else { JobKind::PurgeUrls };
        apply(&mut self.st(), kind, &[url.to_string()]);
    }
}

/// The ETag the edge (and its origin) gives a body.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &ContentHash::of(bytes).to_hex()[..16])
}

async fn connection(mut stream: tokio::net::TcpStream, peer: IpAddr, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    while let Ok(Some(head)) = wire::read_head(&mut stream, &mut buf).await {
        poll_purges(&state);
        let answer = handle(&mut state.lock().expect("edge state"), &head, peer);
        if wire::write(&mut stream, &answer, head.method == "HEAD").await.is_err() {
            return;
        }
        if head.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            return;
        }
    }
}

/// Apply the accepted jobs not applied yet (and due: `purge_delay` after acceptance).
fn poll_purges(state: &Mutex<State>) {
    let Some(feed) = state.lock().expect("edge state").cfg.purges.clone() else { return };
    // Called without the edge's lock: the feed takes the fake API's.
    let jobs = feed();
    let mut s = state.lock().expect("edge state");
    let now = s.cfg.clock.now_ms();
    let delay = s.cfg.purge_delay.as_millis() as i64;
    for job in jobs {
        if job.at_ms + delay > now || s.applied.contains(&job.task_id) {
            continue;
        }
        s.applied.insert(job.task_id.clone());
        if job.areas.contains(&s.cfg.area) {
            apply(&mut s, job.kind, &job.urls);
        }
    }
}

fn apply(s: &mut State, kind: JobKind, urls: &[String]) {
    for url in urls {
        let Some((host, path)) = split_url(url) else { continue };
        let dropped: Vec<(String, String)> = match kind {
            JobKind::PurgeUrls => s.cache.remove_entry(&(host, path)).map(|(k, _)| k).into_iter().collect(),
            JobKind::PurgePaths => {
                let keys: Vec<_> = s.cache.keys().filter(|(h, p)| *h == host && p.starts_with(&path)).cloned().collect();
                for k in &keys {
                    s.cache.remove(k);
                }
                keys
            }
            JobKind::PrefetchUrls => vec![(host, path)],
        };
        // A busy site: what was cached (or prefetched) is asked for again right away.
        for (host, path) in dropped {
            if s.cfg.cache && s.cfg.hosts.contains(&host) {
                let answer = from_origin(s, &path);
                let at_ms = s.cfg.clock.now_ms();
                s.cache.insert((host, path), Entry { answer, at_ms });
            }
        }
    }
}

/// `https://Host:port/p?q` → (`host`, `/p`).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let path = path.split(['?', '#']).next().unwrap_or("/");
    Some((strip_port(authority).to_ascii_lowercase(), path.to_string()))
}

fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

fn handle(s: &mut State, head: &wire::Head, peer: IpAddr) -> Answer {
    let host = strip_port(head.header("host").unwrap_or("")).to_ascii_lowercase();
    let path = head.target.split(['?', '#']).next().unwrap_or("/").to_string();
    let (answer, cache) = if head.method != "GET" && head.method != "HEAD" {
        (plain(405, "method not allowed"), "none")
    } else if !s.cfg.hosts.contains(&host) {
        (plain(404, "unknown host"), "none")
    } else if !s.cfg.cache {
        (from_origin(s, &path), "origin")
    } else if let Some(e) = s.cache.get(&(host.clone(), path.clone())) {
        let mut a = e.answer.clone();
        a.headers.push(("X-Cache", "HIT".into()));
        a.headers.push(("Age", ((s.cfg.clock.now_ms() - e.at_ms).max(0) / 1000).to_string()));
        (a, "hit")
    } else {
        let answer = from_origin(s, &path);
        let at_ms = s.cfg.clock.now_ms();
        s.cache.insert((host.clone(), path), Entry { answer: answer.clone(), at_ms });
        let mut a = answer;
        a.headers.push(("X-Cache", "MISS".into()));
        (a, "miss")
    };
    s.log.push(EdgeRequest {
        peer,
        method: head.method.clone(),
        host,
        target: head.target.clone(),
        user_agent: head.header("user-agent").map(str::to_string),
        accept_encoding: head.header("accept-encoding").map(str::to_string),
        status: answer.status,
        cache,
    });
    answer
}

#[cfg(test)]
mod tests;
