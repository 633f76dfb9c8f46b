//! Verify through the CDN (issue 17): after purges finish, fetch each purged URL the way a visitor
//! would and compare what the CDN serves with the hash of the file cdnsync deployed.
//!
//! The pieces, each with one job:
//! - [`classify`]: PURE — what one answer means: fresh, stale (the previous bytes), different
//!   (neither, with the reasons that explain it) or an error.
//! - [`fetch`]: the seam that sends requests ([`fetch::Fetch`]) and its reqwest implementation
//!   ([`fetch::HttpFetcher`]: `Accept-Encoding: identity`, a `User-Agent` naming cdnsync, HEAD
//!   where the mode allows it, bodies hashed as they stream under a size cap, `connect_to`).
//! - `pace`: PURE — the requests-per-second limit.
//! - [`summary`]: the counts, the exit code and the `--json` form.
//! - [`origin`]: before a purge, wait until the origin serves the new bytes.
//!
//! [`verify`] runs them: bounded concurrency, paced, results in input order. It does no
//! filesystem I/O and reads time only through a [`Clock`].

pub mod classify;
pub mod fetch;
pub mod origin;
mod pace;
pub mod summary;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::model::ContentHash;
pub use fetch::{Fetch, FetchError, HttpFetcher, Method, Observed, Request};
pub use summary::Summary;
#[cfg(test)]
pub use summary::Verdict;

/// How a domain's URLs are checked (`[[domain]] verify`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// GET the body and compare its BLAKE3 hash (the default, and the only mode that can tell
    /// stale from different for every file).
    #[default]
    Hash,
    /// HEAD, and compare the `ETag` with the origin's (for CDNs that rewrite bodies).
    Etag,
    /// HEAD, and accept any 2xx answer (for CDNs that rewrite bodies and ETags).
    Status,
}

impl Mode {
    /// `hash`, `etag` or `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hash => "hash",
            Mode::Etag => "etag",
            Mode::Status => "status",
        }
    }

    /// Parse the config value.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "hash" => Some(Mode::Hash),
            "etag" => Some(Mode::Etag),
            "status" => Some(Mode::Status),
            _ => None,
        }
    }

    /// The request method this mode needs: only a hash needs the body.
    pub fn method(self) -> Method {
        match self {
            Mode::Hash => Method::Get,
            Mode::Etag | Mode::Status => Method::Head,
        }
    }
}

/// One URL to check, and what the CDN should serve for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The URL as purged (`https://www.example.com/a.html`).
    pub url: String,
    /// The `[[domain]]` host it belongs to (reported; `connect_to` routes it).
    pub host: String,
    /// How to check it.
    pub mode: Mode,
    /// BLAKE3 of the deployed file.
    pub expected: ContentHash,
    /// BLAKE3 of the file before this deploy, when known: seeing it means "stale".
    pub previous: Option<ContentHash>,
    /// Size of the deployed file, when known (explains a `different`).
    pub size: Option<u64>,
    /// `etag` mode: the origin's ETag for the deployed bytes.
    pub etag: Option<String>,
    /// `etag` mode: the origin's ETag before this deploy, when known.
    pub previous_etag: Option<String>,
}

impl Item {
    /// An item checked by hash, with nothing else known.
    pub fn new(url: impl Into<String>, host: impl Into<String>, expected: ContentHash) -> Item {
        Item { url: url.into(), host: host.into(), mode: Mode::Hash, expected, previous: None, size: None, etag: None, previous_etag: None }
    }

    /// With the hash the URL had before this deploy.
    pub fn previous(mut self, h: ContentHash) -> Item {
        self.previous = Some(h);
        self
    }

    /// With the deployed file's size.
    pub fn size(mut self, n: u64) -> Item {
        self.size = Some(n);
        self
    }

    /// Checked in this mode.
    pub fn mode(mut self, m: Mode) -> Item {
        self.mode = m;
        self
    }

    /// `etag` mode: the origin's ETags for the new bytes and, when known, the old ones.
    pub fn etags(mut self, new: impl Into<String>, old: Option<String>) -> Item {
        self.etag = Some(new.into());
        self.previous_etag = old;
        self
    }
}

/// Traffic shape (`[verify]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Requests in flight at most (`concurrency`, default 8; 0 is taken as 1).
    pub concurrency: usize,
    /// Requests started per second at most (`requests_per_second`, default 20); `None`: no
    /// limit (benchmarks, a local edge).
    pub requests_per_second: Option<NonZeroU32>,
    /// Send every request to this address, keeping the URL's Host and TLS SNI (`connect_to`).
    pub connect_to: Option<SocketAddr>,
    /// Per-request timeout, connecting and reading included.
    pub timeout: Duration,
    /// Bodies longer than this are not read to the end (and cannot be `fresh`).
    pub max_body: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 8,
            requests_per_second: NonZeroU32::new(20),
            connect_to: None,
            timeout: Duration::from_secs(30),
            max_body: 256 * 1024 * 1024,
        }
    }
}

/// Check every item through `fetcher` and summarize. Results are in the order of `items`.
pub async fn verify<F: Fetch>(items: &[Item], fetcher: &F, opts: &Options, clock: &dyn Clock) -> Summary {
    let requests = items.iter().map(|i| Request { url: &i.url, method: i.mode.method(), host: None });
    let mut outcomes = Vec::with_capacity(items.len());
    let answers = fetch_all(fetcher, requests, opts.concurrency, opts.requests_per_second, clock, |i, answer| {
        outcomes.push((i, classify::outcome(&items[i], &answer)));
    });
    answers.await;
    outcomes.sort_unstable_by_key(|(i, _)| *i);
    Summary::new(outcomes.into_iter().map(|(_, o)| o).collect())
}

/// Send `requests` through `fetcher`, at most `concurrency` at once and `rps` started a second,
/// and hand each answer to `on_answer` with the request's index, as it arrives (answers are not
/// kept: memory stays flat however many URLs there are).
pub async fn fetch_all<'a, F: Fetch>(
    fetcher: &F,
    requests: impl Iterator<Item = Request<'a>>,
    concurrency: usize,
    rps: Option<NonZeroU32>,
    clock: &dyn Clock,
    mut on_answer: impl FnMut(usize, Result<Observed, FetchError>),
) {
    let pacer = Mutex::new(pace::Pacer::new(rps));
    let pacer = &pacer;
    let mut answers = futures_util::stream::iter(requests.enumerate())
        .map(|(i, req)| async move {
            let wait = pacer.lock().expect("pacer").reserve(clock.now_ms());
            if wait > 0 {
                clock.sleep(Duration::from_millis(wait)).await;
            }
            (i, fetcher.fetch(req).await)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, answer)) = answers.next().await {
        on_answer(i, answer);
    }
}
