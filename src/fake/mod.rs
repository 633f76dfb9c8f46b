//! A local emulator of the Tencent Cloud CDN API (API 3.0 and the legacy v2), for tests, the demo
//! and trying a config without an account (`cargo run --example fake_cdn -- --port 8080`).
//!
//! It listens on 127.0.0.1 only and behaves like the real service where cdnsync depends on it:
//! it verifies signatures (TC3-HMAC-SHA256; v2 HmacSHA1/HmacSHA256 over GET or POST) and
//! timestamps (±5 minutes), refuses replayed v2 Nonces, validates every field (URLs must start
//! with http(s)://, `Area` values, batch sizes, known domains and their areas), enforces the rate
//! limits (20 requests/s per action; v2 100/min) and the daily quotas, records what it accepted,
//! answers the Describe* actions, accepts the temporary credentials of the fake STS and metadata
//! service while they live (`FakeConfig::issuers`; expired ones get `AuthFailure.TokenFailure`,
//! v2 4100), and injects faults on request: latency, HTTP 5xx, `InternalError`,
//! `RequestLimitExceeded`, dropped connections (before or after accepting), any reply a proxy
//! might forge; and it can deny actions to the key (`denied_actions`), as a least-privilege CAM
//! policy does.
//!
//! Its signature checks reuse [`crate::api::sign`], which is pinned independently by Tencent's
//! official vectors; the fake is never the only witness of signing.
//!
//! This file is its public surface. The rest, one job a file: `server.rs` (listener, connections,
//! the router choosing a product per request, `GET /origin/…`), `account.rs` (what the account
//! knows: quotas and their daily reset, rate windows, accepted tasks, faults, Nonces, and the
//! fake's copies of the documented limits), `v3.rs` (API 3.0), `v2.rs` (the legacy API),
//! `teo.rs` (EdgeOne: zones, their domains and quotas, tasks) and `http.rs` (HTTP/1.1 on the wire).

mod account;
pub mod edge;
mod http;
pub mod loopback;
pub mod metadata;
mod server;
pub mod sts;
mod teo;
mod v2;
mod v3;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::model::{Area, JobKind, QuotaBook};
use account::Account;
use server::{Server, Shared};
pub use teo::{FakeZone, TeoTask};

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Answer with this HTTP status and a non-API body.
    Http(u16),
    /// Answer with this HTTP status and this body, without acting on the request (what a proxy
    /// or a broken gateway might send: a "success" without `TaskId` or `RequestId`, say).
    Reply(u16, String),
    /// Answer with this API 3.0 error code (v2: `code` 6000 for InternalError*, 4400 for limits).
    ApiError(String),
    /// Close the connection without reading further or answering.
    Drop,
    /// Accept the request (it counts, and its task exists), then close without answering.
    AcceptThenDrop,
}

/// "The next `count` requests (of `action`, if given) get `fault`."
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// Only this action (any when `None`).
    pub action: Option<String>,
    /// What to do to the request.
    pub fault: Fault,
    /// How many requests it applies to.
    pub count: u32,
}

/// What the fake knows about the account.
#[derive(Clone)]
pub struct FakeConfig {
    /// The SecretId it accepts.
    pub secret_id: String,
    /// The SecretKey it verifies signatures with.
    pub secret_key: String,
    /// When set, requests must carry this session token.
    pub token: Option<String>,
    /// Temporary credentials it also accepts: those of a fake STS or metadata service
    /// (`FakeSts::issuer`, `FakeMetadata::issuer`), while they live; once expired, API 3.0
    /// answers `AuthFailure.TokenFailure` and v2 code 4100.
    pub issuers: Vec<sts::Issuer>,
    /// Domains and where each is accelerated.
    pub domains: Vec<(String, Vec<Area>)>,
    /// Batch sizes and daily totals (API 3.0 documented values by default).
    pub quota: QuotaBook,
    /// API 3.0 requests per second per action.
    pub rate_per_sec: usize,
    /// v2 requests per minute per action.
    pub v2_rate_per_min: usize,
    /// How long a task stays `process` before `done`.
    pub task_duration: Duration,
    /// A CDN task with a URL containing one of these ends `fail` instead of `done` (API 3.0):
    /// an origin that cannot be reached, say.
    pub failing_tasks: Vec<String>,
    /// Share of requests (0..1) that get a random transient fault.
    pub fault_rate: f64,
    /// Seed of the random faults.
    pub seed: u64,
    /// Its clock (signature freshness, rate limits, the daily reset).
    pub clock: Arc<dyn Clock>,
    /// When set, `GET /origin/PATH` serves files from this folder: the site's origin, for
    /// fetching a published manifest (`manifest_url`).
    pub origin_dir: Option<std::path::PathBuf>,
    /// EdgeOne zones (`api = "edgeone"`): by default `zone-2noz78a8ev6k`, `example.com`, serving
    /// `www.example.com`.
    pub zones: Vec<FakeZone>,
    /// API 3.0 actions this key may not call, as a CAM policy without them would have it
    /// (e.g. `DescribePurgeTasks` for a key that may purge but not list tasks): answered
    /// `UnauthorizedOperation.CdnCamUnauthorized`.
    pub denied_actions: Vec<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            secret_id: "AKIDFAKE0000000000000000000000000000".into(),
            secret_key: "fakeSecretKey0000000000000000000".into(),
            token: None,
            issuers: Vec::new(),
            domains: vec![("www.example.com".into(), vec![Area::Mainland, Area::Overseas])],
            quota: QuotaBook::documented_v3(),
            rate_per_sec: account::V3_RATE_PER_SEC,
            v2_rate_per_min: account::V2_RATE_PER_MIN,
            task_duration: Duration::ZERO,
            failing_tasks: Vec::new(),
            fault_rate: 0.0,
            seed: 1,
            clock: Arc::new(SystemClock),
            origin_dir: None,
            zones: vec![FakeZone::new("zone-2noz78a8ev6k", "example.com", &["www.example.com"])],
            denied_actions: Vec::new(),
        }
    }
}

/// One accepted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedJob {
    /// `v3`, `v2` or `teo` (EdgeOne: one entry per request, its targets in `urls`, area `global`).
    pub api: &'static str,
    /// The API action.
    pub action: String,
    /// What kind of job it was.
    pub kind: JobKind,
    /// The areas it was applied to.
    pub areas: Vec<Area>,
    /// The URLs or paths.
    pub urls: Vec<String>,
    /// The task ID it answered with.
    pub task_id: String,
    /// When (ms since the epoch, on the fake's clock).
    pub at_ms: i64,
}

/// One request, as seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// `v3`, `v2` or `teo`; `none` for a request no handler knew (answered `InvalidAction`, HTTP 404).
    pub api: &'static str,
    /// The action (`METHOD /path` when a request no handler knew names none).
    pub action: String,
    /// "ok", an error code, a fault name.
    pub outcome: String,
    /// URLs or paths in the request.
    pub size: usize,
}

/// A running fake. Stops when dropped.
pub struct FakeCdn {
    state: Arc<Mutex<Shared>>,
    server: Server,
}

impl FakeCdn {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start(cfg: FakeConfig) -> std::io::Result<FakeCdn> {
        Self::start_on(0, cfg)
    }

    /// Start on 127.0.0.1:`port` (0 for any free port).
    pub fn start_on(port: u16, cfg: FakeConfig) -> std::io::Result<FakeCdn> {
        let state = Arc::new(Mutex::new(Shared::new(Account::new(cfg))));
        let server = Server::start(port, state.clone())?;
        Ok(FakeCdn { state, server })
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, for `[provider] endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    fn st(&self) -> MutexGuard<'_, Shared> {
        server::lock(&self.state)
    }

    /// Everything accepted so far.
    pub fn accepted(&self) -> Vec<AcceptedJob> {
        self.st().account.accepted.clone()
    }

    /// The most requests it was handling at the same time (a client's concurrency).
    pub fn max_in_flight(&self) -> usize {
        self.st().max_in_flight
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<RequestLog> {
        self.st().log.clone()
    }

    /// URLs (or paths) accepted for `kind` in `area`.
    pub fn urls(&self, kind: JobKind, area: Area) -> BTreeSet<String> {
        self.st().account.accepted.iter().filter(|a| a.kind == kind && a.areas.contains(&area)).flat_map(|a| a.urls.clone()).collect()
    }

    /// Forget what was accepted and seen (quota use is kept).
    pub fn clear(&self) {
        let mut s = self.st();
        s.account.accepted.clear();
        s.log.clear();
    }

    /// Queue a fault for the next matching requests.
    pub fn inject(&self, rule: FaultRule) {
        self.st().account.inject(rule);
    }

    /// Drop every queued fault rule (the API is healthy again).
    pub fn clear_faults(&self) {
        self.st().account.rules.clear();
    }

    /// Random transient faults on this share of requests from now on.
    pub fn set_fault_rate(&self, rate: f64) {
        self.st().account.cfg.fault_rate = rate;
    }

    /// Set what is left of a daily quota (e.g. 0 to simulate an exhausted account).
    pub fn set_available(&self, kind: JobKind, area: Area, available: u64) {
        self.st().account.set_available(kind, area, available);
    }

    /// Simulate the daily reset at 00:00 UTC+8.
    pub fn reset_quota(&self) {
        self.st().account.reset_quota();
    }
}
