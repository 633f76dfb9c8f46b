//! A local emulator of the Tencent Cloud CDN API (API 3.0 and the legacy v2), for tests, the demo
//! and trying a config without an account (`cargo run --example fake_cdn -- --port 8080`).
//!
//! It listens on 127.0.0.1 only and behaves like the real service where cdnsync depends on it:
//! it verifies signatures (TC3-HMAC-SHA256; v2 HmacSHA1/HmacSHA256 over GET or POST) and
//! timestamps (±5 minutes), refuses replayed v2 Nonces, validates every field (URLs must start
//! with http(s)://, `Area` values, batch sizes, known domains and their areas), enforces the rate
//! limits (20 requests/s per action; v2 100/min) and the daily quotas, records what it accepted,
//! answers the Describe* actions, and injects faults on request: latency, HTTP 5xx,
//! `InternalError`, `RequestLimitExceeded`, dropped connections (before or after accepting).
//!
//! Its signature checks reuse [`crate::api::sign`], which is pinned independently by Tencent's
//! official vectors; the fake is never the only witness of signing.

pub mod edge;
mod http;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::sign::{tc3, v2 as sign_v2};
use crate::clock::{self, Clock, SystemClock};
use crate::config::SignatureMethod;
use crate::model::{Area, JobKind, QuotaBook, QuotaEntry};
use http::{HttpRequest, Reply};

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Answer with this HTTP status and a non-API body.
    Http(u16),
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
    /// Share of requests (0..1) that get a random transient fault.
    pub fault_rate: f64,
    /// Seed of the random faults.
    pub seed: u64,
    /// Its clock (signature freshness, rate limits, the daily reset).
    pub clock: Arc<dyn Clock>,
    /// When set, `GET /origin/PATH` serves files from this folder: the site's origin, for
    /// fetching a published manifest (`manifest_url`).
    pub origin_dir: Option<std::path::PathBuf>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            secret_id: "AKIDFAKE0000000000000000000000000000".into(),
            secret_key: "fakeSecretKey0000000000000000000".into(),
            token: None,
            domains: vec![("www.example.com".into(), vec![Area::Mainland, Area::Overseas])],
            quota: QuotaBook::documented_v3(),
            rate_per_sec: 20,
            v2_rate_per_min: 100,
            task_duration: Duration::ZERO,
            fault_rate: 0.0,
            seed: 1,
            clock: Arc::new(SystemClock),
            origin_dir: None,
        }
    }
}

/// One accepted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedJob {
    /// `v3` or `v2`.
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
    /// `v3` or `v2`.
    pub api: &'static str,
    /// The action.
    pub action: String,
    /// "ok", an error code, a fault name.
    pub outcome: String,
    /// URLs or paths in the request.
    pub size: usize,
}

struct State {
    cfg: FakeConfig,
    accepted: Vec<AcceptedJob>,
    log: Vec<RequestLog>,
    rules: VecDeque<FaultRule>,
    /// Quota used per "kind/area" on `day`.
    used: HashMap<String, u64>,
    day: i64,
    recent: HashMap<String, VecDeque<i64>>,
    nonces: HashSet<(String, String)>,
    rng: fastrand::Rng,
    seq: u64,
    /// Requests being handled now, and the most ever at once.
    in_flight: usize,
    max_in_flight: usize,
}

/// A running fake. Stops when dropped.
pub struct FakeCdn {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCdn {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start(cfg: FakeConfig) -> std::io::Result<FakeCdn> {
        Self::start_on(0, cfg)
    }

    /// Start on 127.0.0.1:`port` (0 for any free port).
    pub fn start_on(port: u16, cfg: FakeConfig) -> std::io::Result<FakeCdn> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let rng = fastrand::Rng::with_seed(cfg.seed);
        let day = clock::quota_day(cfg.clock.now_unix());
        let state = Arc::new(Mutex::new(State {
            cfg,
            accepted: Vec::new(),
            log: Vec::new(),
            rules: VecDeque::new(),
            used: HashMap::new(),
            day,
            recent: HashMap::new(),
            nonces: HashSet::new(),
            rng,
            seq: 0,
            in_flight: 0,
            max_in_flight: 0,
        }));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let st = state.clone();
        let thread = std::thread::Builder::new().name("fake-cdn".into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("fake runtime");
            rt.block_on(serve(std_listener, st, rx));
        })?;
        Ok(FakeCdn { addr, state, stop: Some(tx), thread: Some(thread) })
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `[provider] endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// Everything accepted so far.
    pub fn accepted(&self) -> Vec<AcceptedJob> {
        self.st().accepted.clone()
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
        self.st().accepted.iter().filter(|a| a.kind == kind && a.areas.contains(&area)).flat_map(|a| a.urls.clone()).collect()
    }

    /// Forget what was accepted and seen (quota use is kept).
    pub fn clear(&self) {
        let mut s = self.st();
        s.accepted.clear();
        s.log.clear();
    }

    /// Queue a fault for the next matching requests.
    pub fn inject(&self, rule: FaultRule) {
        self.st().rules.push_back(rule);
    }

    /// Random transient faults on this share of requests from now on.
    pub fn set_fault_rate(&self, rate: f64) {
        self.st().cfg.fault_rate = rate;
    }

    /// Set what is left of a daily quota (e.g. 0 to simulate an exhausted account).
    pub fn set_available(&self, kind: JobKind, area: Area, available: u64) {
        let mut s = self.st();
        let total = s.cfg.quota.get(kind, area).map_or(0, |q| q.total);
        s.used.insert(QuotaBook::key(kind, area), total.saturating_sub(available));
    }

    /// Simulate the daily reset at 00:00 UTC+8.
    pub fn reset_quota(&self) {
        self.st().used.clear();
    }
}

impl Drop for FakeCdn {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, state: Arc<Mutex<State>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("fake listener");
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let st = state.clone();
                let mut stop2 = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop2.changed() => {}
                        _ = connection(stream, st) => {}
                    }
                });
            }
        }
    }
}

async fn connection(mut stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    loop {
        let req = match http::read_request(&mut stream, &mut buf).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        if req.method == "GET" && req.path.starts_with("/origin/") {
            let dir = state.lock().expect("fake state").cfg.origin_dir.clone();
            let rel = req.path.trim_start_matches("/origin/");
            let file = dir.filter(|_| !rel.split('/').any(|c| c == "..")).map(|d| d.join(rel));
            let res = match file.and_then(|f| std::fs::read(f).ok()) {
                Some(body) => http::write_body(&mut stream, 200, "application/octet-stream", &body).await,
                None => http::write_body(&mut stream, 404, "text/plain", b"not found").await,
            };
            if res.is_err() {
                return;
            }
            continue;
        }
        {
            let mut s = state.lock().expect("fake state");
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
        }
        let (reply, delay) = handle(&state, &req);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        state.lock().expect("fake state").in_flight -= 1;
        match reply {
            Reply::Json(status, body) => {
                if http::write_json(&mut stream, status, &body).await.is_err() {
                    return;
                }
            }
            Reply::Drop => return,
        }
    }
}

fn v3_error(code: &str, message: &str, request_id: &str) -> String {
    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}).to_string()
}

fn v2_error(code: i64, code_desc: &str, message: &str) -> String {
    json!({"code": code, "message": message, "codeDesc": code_desc}).to_string()
}

/// Returns the reply and an optional delay before sending it.
fn handle(state: &Mutex<State>, req: &HttpRequest) -> (Reply, Option<Duration>) {
    let mut s = state.lock().expect("fake state");
    let today = clock::quota_day(s.cfg.clock.now_unix());
    if today != s.day {
        s.day = today;
        s.used.clear();
    }
    let is_v2 = req.path.ends_with("/v2/index.php");
    let v2_params = if is_v2 {
        let raw = if req.method == "GET" { req.query.clone() } else { String::from_utf8_lossy(&req.body).into_owned() };
        sign_v2::parse_params(&raw)
    } else {
        None
    };
    let action = if is_v2 {
        v2_params.as_ref().and_then(|p| p.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone())).unwrap_or_default()
    } else {
        req.headers.get("x-tc-action").cloned().unwrap_or_default()
    };
    let api: &'static str = if is_v2 { "v2" } else { "v3" };
    // Faults: queued rules first, then random ones.
    let mut fault = None;
    if let Some(i) = s.rules.iter().position(|r| r.action.as_deref().is_none_or(|a| a == action)) {
        let r = &mut s.rules[i];
        fault = Some(r.fault.clone());
        r.count = r.count.saturating_sub(1);
        if r.count == 0 {
            s.rules.remove(i);
        }
    } else if s.cfg.fault_rate > 0.0 && !action.starts_with("Describe") && s.rng.f64() < s.cfg.fault_rate {
        fault = Some(match s.rng.u32(0..4) {
            0 => Fault::Http(503),
            1 => Fault::ApiError("InternalError".into()),
            2 => Fault::ApiError("RequestLimitExceeded".into()),
            _ => Fault::Drop,
        });
    }
    let mut delay = None;
    let mut drop_after = false;
    match fault {
        Some(Fault::Latency(d)) => delay = Some(d),
        Some(Fault::Http(code)) => {
            s.log.push(RequestLog { api, action, outcome: format!("HTTP{code}"), size: 0 });
            return (Reply::Json(code, "{\"message\": \"upstream unavailable\"}".into()), None);
        }
        Some(Fault::ApiError(code)) => {
            s.log.push(RequestLog { api, action, outcome: code.clone(), size: 0 });
            let body = if is_v2 {
                let c = if code.starts_with("InternalError") { 6000 } else { 4400 };
                v2_error(c, &code, "injected fault")
            } else {
                v3_error(&code, "injected fault", "fake-fault")
            };
            return (Reply::Json(200, body), None);
        }
        Some(Fault::Drop) => {
            s.log.push(RequestLog { api, action, outcome: "dropped".into(), size: 0 });
            return (Reply::Drop, None);
        }
        Some(Fault::AcceptThenDrop) => drop_after = true,
        None => {}
    }
    let (body, outcome, size) = if is_v2 {
        match v2_params {
            Some(p) => v2_handle(&mut s, req, &action, &p),
            None => (v2_error(4000, "InvalidParameter", "cannot decode parameters"), "4000".into(), 0),
        }
    } else {
        v3_handle(&mut s, req, &action)
    };
    let outcome = if drop_after { format!("{outcome}+dropped") } else { outcome };
    s.log.push(RequestLog { api, action, outcome, size });
    if drop_after {
        return (Reply::Drop, delay);
    }
    (Reply::Json(200, body), delay)
}

impl State {
    fn next_task(&mut self) -> String {
        self.seq += 1;
        format!("{}-fake{:04}", self.cfg.clock.now_unix(), self.seq)
    }

    fn areas_of(&self, host: &str) -> Option<&Vec<Area>> {
        self.cfg.domains.iter().find(|(h, _)| h == host).map(|(_, a)| a)
    }

    fn rate_ok(&mut self, key: String, window_ms: i64, max: usize) -> bool {
        let now = self.cfg.clock.now_ms();
        let q = self.recent.entry(key).or_default();
        while q.front().is_some_and(|&t| t <= now - window_ms) {
            q.pop_front();
        }
        if q.len() >= max {
            return false;
        }
        q.push_back(now);
        true
    }

    fn available(&self, kind: JobKind, area: Area) -> u64 {
        let total = self.cfg.quota.get(kind, area).map_or(0, |q| q.total);
        total.saturating_sub(self.used.get(&QuotaBook::key(kind, area)).copied().unwrap_or(0))
    }

    fn batch(&self, kind: JobKind, area: Area) -> u64 {
        self.cfg.quota.get(kind, area).map_or(0, |q| q.batch)
    }

    fn charge(&mut self, kind: JobKind, areas: &[Area], n: u64) {
        for a in areas {
            *self.used.entry(QuotaBook::key(kind, *a)).or_default() += n;
        }
    }

    fn task_status(&self, a: &AcceptedJob) -> &'static str {
        if self.cfg.clock.now_ms() >= a.at_ms + self.cfg.task_duration.as_millis() as i64 {
            "done"
        } else {
            "process"
        }
    }
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Check URLs: scheme, known domain, accelerated in the areas asked for.
/// Returns the areas the request applies to.
fn check_urls(s: &State, urls: &[String], area: Option<Area>, dirs: bool) -> Result<Vec<Area>, (String, String)> {
    let mut areas: BTreeSet<Area> = BTreeSet::new();
    for u in urls {
        let Some(host) = host_of(u) else {
            return Err(("InvalidParameter.CdnParamError".into(), format!("URL must start with http:// or https://: {u}")));
        };
        if dirs && !u.ends_with('/') {
            return Err(("InvalidParameter.CdnParamError".into(), format!("directory must end with /: {u}")));
        }
        if u.contains(' ') || u.chars().any(|c| !c.is_ascii() || c.is_ascii_control()) {
            return Err(("InvalidParameter.CdnParamError".into(), format!("URL is not encoded: {u}")));
        }
        let Some(dom_areas) = s.areas_of(&host.to_ascii_lowercase()) else {
            return Err(("ResourceNotFound.CdnHostNotExists".into(), format!("no such domain: {host}")));
        };
        match area {
            Some(a) if !dom_areas.contains(&a) => {
                return Err(("InvalidParameter.CdnParamError".into(), format!("{host} is not accelerated in {a}")));
            }
            Some(a) => {
                areas.insert(a);
            }
            None => areas.extend(dom_areas.iter().copied()),
        }
    }
    Ok(areas.into_iter().collect())
}

fn v3_verify(s: &State, req: &HttpRequest) -> Result<(), (String, String)> {
    let e = |c: &str, m: &str| Err((c.to_string(), m.to_string()));
    if req.method != "POST" {
        return e("InvalidParameter", "only POST is emulated");
    }
    let ct = req.headers.get("content-type").cloned().unwrap_or_default();
    if !ct.starts_with("application/json") {
        return e("InvalidParameter", "Content-Type must be application/json");
    }
    let host = req.headers.get("host").cloned().unwrap_or_default();
    if req.headers.get("x-tc-version").map(String::as_str) != Some(crate::api::v3::VERSION) {
        return e("InvalidParameter", "X-TC-Version must be 2018-06-06");
    }
    let Some(ts) = req.headers.get("x-tc-timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return e("MissingParameter", "X-TC-Timestamp is required");
    };
    if (s.cfg.clock.now_unix() - ts).abs() > 300 {
        return e("AuthFailure.SignatureExpire", "the request timestamp is more than 5 minutes off the server's clock");
    }
    let Some(auth) = req.headers.get("authorization").and_then(|a| tc3::parse_authorization(a)) else {
        return e("AuthFailure.InvalidAuthorization", "Authorization header is not TC3-HMAC-SHA256");
    };
    if auth.secret_id != s.cfg.secret_id {
        return e("AuthFailure.SecretIdNotFound", "unknown SecretId");
    }
    if auth.service != "cdn" || auth.date != tc3::scope_date(ts) || auth.signed_headers != "content-type;host" {
        return e("AuthFailure.InvalidAuthorization", "credential scope or signed headers are wrong");
    }
    let canonical =
        tc3::canonical_request(&tc3::Tc3Request { method: "POST", query: "", content_type: &ct, host: &host, payload: &req.body });
    let sts = tc3::string_to_sign(&canonical, ts, "cdn");
    if tc3::signature(&s.cfg.secret_key, ts, "cdn", &sts) != auth.signature {
        return e("AuthFailure.SignatureFailure", "the signature does not match");
    }
    if let Some(t) = &s.cfg.token {
        if req.headers.get("x-tc-token") != Some(t) {
            return e("AuthFailure.TokenFailure", "the session token is missing or wrong");
        }
    }
    Ok(())
}

fn v3_handle(s: &mut State, req: &HttpRequest, action: &str) -> (String, String, usize) {
    let rid = format!("fake-{}", s.rng.u64(..));
    let fail = |code: &str, msg: &str, size: usize| (v3_error(code, msg, &rid), code.to_string(), size);
    if let Err((c, m)) = v3_verify(s, req) {
        return fail(&c, &m, 0);
    }
    if !s.rate_ok(format!("v3/{action}"), 1000, s.cfg.rate_per_sec) {
        return fail("RequestLimitExceeded", "more than 20 requests a second", 0);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => Value::Object(m),
        _ => return fail("InvalidParameter", "body must be a JSON object", 0),
    };
    let allowed: &[&str] = match action {
        "PurgeUrlsCache" => &["Urls", "Area", "UrlEncode"],
        "PurgePathCache" => &["Paths", "FlushType", "Area", "UrlEncode"],
        "PushUrlsCache" => &["Urls", "Area", "Layer", "UserAgent", "Headers", "ParseM3U8", "UrlEncode", "DisableRange"],
        "DescribePurgeQuota" | "DescribePushQuota" => &[],
        "DescribePurgeTasks" => &["TaskId", "StartTime", "EndTime", "PurgeType", "Keyword", "Status", "Area", "Offset", "Limit"],
        "DescribePushTasks" => &["TaskId", "StartTime", "EndTime", "Keyword", "Status", "Area", "Offset", "Limit"],
        _ => return fail("InvalidAction", &format!("unknown action {action:?}"), 0),
    };
    if let Some(k) = body.as_object().expect("object").keys().find(|k| !allowed.contains(&k.as_str())) {
        return fail("UnknownParameter", &format!("unknown parameter {k}"), 0);
    }
    let ok = |mut v: Value| {
        v["RequestId"] = json!(rid);
        (json!({"Response": v}).to_string(), "ok".to_string())
    };
    match action {
        "PurgeUrlsCache" | "PurgePathCache" | "PushUrlsCache" => {
            let (field, kind) = match action {
                "PurgeUrlsCache" => ("Urls", JobKind::PurgeUrls),
                "PurgePathCache" => ("Paths", JobKind::PurgePaths),
                _ => ("Urls", JobKind::PrefetchUrls),
            };
            let Some(list) = body.get(field).and_then(Value::as_array) else {
                return fail("MissingParameter", &format!("{field} is required"), 0);
            };
            let urls: Option<Vec<String>> = list.iter().map(|v| v.as_str().map(str::to_string)).collect();
            let Some(urls) = urls.filter(|u| !u.is_empty()) else {
                return fail("InvalidParameter.CdnParamError", &format!("{field} must be a non-empty list of strings"), list.len());
            };
            let n = urls.len();
            let area = match body.get("Area") {
                None => None,
                Some(Value::String(a)) if kind == JobKind::PrefetchUrls && a == "global" => None,
                Some(Value::String(a)) => match Area::parse(a) {
                    Some(a) => Some(a),
                    None => return fail("InvalidParameter.CdnParamError", &format!("Area must be mainland or overseas, not {a:?}"), n),
                },
                Some(_) => return fail("InvalidParameter.CdnParamError", "Area must be a string", n),
            };
            if kind == JobKind::PurgePaths {
                match body.get("FlushType").and_then(Value::as_str) {
                    Some("flush") | Some("delete") => {}
                    _ => return fail("InvalidParameter.CdnParamError", "FlushType must be flush or delete", n),
                }
            }
            let areas = match check_urls(s, &urls, area, kind == JobKind::PurgePaths) {
                Ok(a) => a,
                Err((c, m)) => return fail(&c, &m, n),
            };
            for a in &areas {
                if n as u64 > s.batch(kind, *a) {
                    let code = match kind {
                        JobKind::PurgeUrls => "LimitExceeded.CdnPurgeUrlExceedBatchLimit",
                        JobKind::PurgePaths => "LimitExceeded.CdnPurgePathExceedBatchLimit",
                        JobKind::PrefetchUrls => "LimitExceeded.CdnPushExceedBatchLimit",
                    };
                    return fail(code, &format!("{n} exceeds the batch limit of {}", s.batch(kind, *a)), n);
                }
                if n as u64 > s.available(kind, *a) {
                    let code = match kind {
                        JobKind::PurgeUrls => "LimitExceeded.CdnPurgeUrlExceedDayLimit",
                        JobKind::PurgePaths => "LimitExceeded.CdnPurgePathExceedDayLimit",
                        JobKind::PrefetchUrls => "LimitExceeded.CdnPushExceedDayLimit",
                    };
                    return fail(code, &format!("daily quota for {a} used up"), n);
                }
            }
            s.charge(kind, &areas, n as u64);
            let task_id = s.next_task();
            let at_ms = s.cfg.clock.now_ms();
            s.accepted.push(AcceptedJob { api: "v3", action: action.into(), kind, areas, urls, task_id: task_id.clone(), at_ms });
            let (b, o) = ok(json!({"TaskId": task_id}));
            (b, o, n)
        }
        "DescribePurgeQuota" | "DescribePushQuota" => {
            let entry = |s: &State, kind: JobKind| -> Vec<Value> {
                Area::ALL
                    .iter()
                    .filter_map(|a| {
                        let q: QuotaEntry = s.cfg.quota.get(kind, *a)?;
                        Some(json!({"Batch": q.batch, "Total": q.total, "Available": s.available(kind, *a), "Area": a.as_str()}))
                    })
                    .collect()
            };
            let v = if action == "DescribePurgeQuota" {
                json!({"UrlPurge": entry(s, JobKind::PurgeUrls), "PathPurge": entry(s, JobKind::PurgePaths)})
            } else {
                json!({"UrlPush": entry(s, JobKind::PrefetchUrls)})
            };
            let (b, o) = ok(v);
            (b, o, 0)
        }
        _ => {
            // DescribePurgeTasks / DescribePushTasks
            let push = action == "DescribePushTasks";
            let task = body.get("TaskId").and_then(Value::as_str);
            let start = body.get("StartTime").and_then(Value::as_str).and_then(|t| clock::parse_datetime(t, clock::CST_OFFSET_SECS));
            let end = body.get("EndTime").and_then(Value::as_str).and_then(|t| clock::parse_datetime(t, clock::CST_OFFSET_SECS));
            if task.is_none() && (start.is_none() || end.is_none()) {
                return fail("InvalidParameter.CdnParamError", "TaskId or StartTime and EndTime (YYYY-MM-DD hh:mm:ss) are required", 0);
            }
            let purge_type = body.get("PurgeType").and_then(Value::as_str);
            let keyword = body.get("Keyword").and_then(Value::as_str);
            let area = match body.get("Area").and_then(Value::as_str) {
                None => None,
                Some(a) => match Area::parse(a) {
                    Some(a) => Some(a),
                    None => return fail("InvalidParameter.CdnParamError", &format!("Area must be mainland or overseas, not {a:?}"), 0),
                },
            };
            let offset = body.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
            let limit = body.get("Limit").and_then(Value::as_u64).unwrap_or(20) as usize;
            let mut logs = Vec::new();
            for a in &s.accepted {
                let is_push = a.kind == JobKind::PrefetchUrls;
                if is_push != push {
                    continue;
                }
                if let Some(pt) = purge_type {
                    let t = if a.kind == JobKind::PurgePaths { "path" } else { "url" };
                    if pt != t {
                        continue;
                    }
                }
                if task.is_some_and(|t| t != a.task_id) {
                    continue;
                }
                if area.is_some_and(|want| !a.areas.contains(&want)) {
                    continue;
                }
                let at = a.at_ms.div_euclid(1000);
                if start.is_some_and(|st| at < st) || end.is_some_and(|en| at > en) {
                    continue;
                }
                for u in &a.urls {
                    if keyword.is_some_and(|k| !u.contains(k)) {
                        continue;
                    }
                    let created = clock::datetime(at, clock::CST_OFFSET_SECS);
                    let status = s.task_status(a);
                    logs.push(if push {
                        json!({"TaskId": a.task_id, "Url": u, "Status": status, "Percent": if status == "done" {100} else {0}, "Area": a.areas.first().map(|x| x.as_str()), "CreateTime": created, "UpdateTime": created})
                    } else {
                        json!({"TaskId": a.task_id, "Url": u, "Status": status, "PurgeType": if a.kind == JobKind::PurgePaths {"path"} else {"url"}, "FlushType": "flush", "CreateTime": created})
                    });
                }
            }
            let total = logs.len();
            let page: Vec<Value> = logs.into_iter().skip(offset).take(limit).collect();
            let list = if push { "PushLogs" } else { "PurgeLogs" };
            let (b, o) = ok(json!({list: page, "TotalCount": total}));
            (b, o, 0)
        }
    }
}

fn v2_handle(s: &mut State, req: &HttpRequest, action: &str, params: &[(String, String)]) -> (String, String, usize) {
    let fail = |code: i64, desc: &str, msg: &str, size: usize| (v2_error(code, desc, msg), code.to_string(), size);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if req.method == "POST" && !req.headers.get("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return fail(4000, "InvalidParameter", "POST bodies must be application/x-www-form-urlencoded", 0);
    }
    let (Some(secret_id), Some(ts), Some(nonce), Some(signature)) = (get("SecretId"), get("Timestamp"), get("Nonce"), get("Signature"))
    else {
        return fail(4000, "MissingParameter", "SecretId, Timestamp, Nonce and Signature are required", 0);
    };
    let method = match get("SignatureMethod").unwrap_or("HmacSHA1") {
        "HmacSHA1" => SignatureMethod::HmacSha1,
        "HmacSHA256" => SignatureMethod::HmacSha256,
        other => return fail(4000, "InvalidParameter", &format!("SignatureMethod {other:?}"), 0),
    };
    let Ok(ts) = ts.parse::<i64>() else { return fail(4000, "InvalidParameter", "Timestamp", 0) };
    if nonce.parse::<u64>().map_or(true, |n| n == 0) {
        return fail(4000, "InvalidParameter", "Nonce must be a positive integer", 0);
    }
    if (s.cfg.clock.now_unix() - ts).abs() > 300 {
        return fail(4200, "RequestExpired", "the request has expired", 0);
    }
    if secret_id != s.cfg.secret_id {
        return fail(4104, "SecretIdNotFound", "unknown SecretId", 0);
    }
    let host = req.headers.get("host").cloned().unwrap_or_default();
    let sts = sign_v2::string_to_sign(&req.method, &host, &req.path, params);
    if sign_v2::signature(&s.cfg.secret_key, method, &sts) != signature {
        return fail(4100, "AuthFailure", "signature verification failed", 0);
    }
    if let Some(t) = &s.cfg.token {
        if get("Token") != Some(t.as_str()) {
            return fail(4100, "AuthFailure", "the session token is missing or wrong", 0);
        }
    }
    if !s.nonces.insert((secret_id.to_string(), nonce.to_string())) {
        return fail(4500, "Replay", "this Nonce was used already", 0);
    }
    if !s.rate_ok(format!("v2/{action}"), 60_000, s.cfg.v2_rate_per_min) {
        return fail(4400, "4400", "over the call-frequency quota", 0);
    }
    let mut urls = Vec::new();
    for i in 0.. {
        match get(&format!("urls.{i}")) {
            Some(u) => urls.push(u.to_string()),
            None => break,
        }
    }
    let n = urls.len();
    if params.iter().filter(|(k, _)| k.starts_with("urls.")).count() != n || n == 0 {
        return fail(4000, "InvalidParameter", "urls.0 … urls.N must be present and consecutive", n);
    }
    let (kind, areas_req, limit_batch): (JobKind, Vec<Area>, u64) = match action {
        "FlushOrPushOverall" => {
            let kind = match (get("command"), get("type")) {
                (Some("flush"), Some("url")) => JobKind::PurgeUrls,
                (Some("flush"), Some("dir")) => JobKind::PurgePaths,
                (Some("push"), Some("url")) => JobKind::PrefetchUrls,
                (Some("push"), Some("dir")) => return fail(4000, "InvalidParameter", "dir is not supported for prefetch", n),
                _ => return fail(4000, "InvalidParameter", "command must be flush or push, type url or dir", n),
            };
            let mut areas = Vec::new();
            if get("mainland") == Some("1") {
                areas.push(Area::Mainland);
            }
            if get("oversea") == Some("1") {
                areas.push(Area::Overseas);
            }
            if areas.is_empty() {
                return fail(4000, "InvalidParameter", "one of mainland and oversea must be 1", n);
            }
            let batch = if kind == JobKind::PurgePaths { 500 } else { 1000 };
            (kind, areas, batch)
        }
        "RefreshCdnOverSeaUrl" => (JobKind::PurgeUrls, vec![Area::Overseas], 1000),
        "CdnOverseaPushser" => (JobKind::PrefetchUrls, vec![Area::Overseas], 20),
        _ => return fail(6100, "ApiNotSupported", &format!("{action} is not supported at this host"), n),
    };
    if n as u64 > limit_batch {
        return fail(4000, "ExceedBatchLimit", &format!("at most {limit_batch} URLs a call"), n);
    }
    for a in &areas_req {
        if let Err((code, msg)) = check_urls(s, &urls, Some(*a), kind == JobKind::PurgePaths) {
            return if code.starts_with("ResourceNotFound") {
                fail(4000, "9110", "(9110)没有这个域名的信息 cdn no such host", n)
            } else {
                fail(4000, "InvalidParameter", &msg, n)
            };
        }
        let total = match (action, kind) {
            ("CdnOverseaPushser", _) | (_, JobKind::PrefetchUrls) => 1000,
            (_, JobKind::PurgePaths) => 100,
            _ => 10_000,
        };
        let used = s.used.get(&QuotaBook::key(kind, *a)).copied().unwrap_or(0);
        if used + n as u64 > total {
            return fail(4000, "CdnPurgeExceedDayLimit", "daily limit exceeded", n);
        }
    }
    s.charge(kind, &areas_req, n as u64);
    let task_id = s.next_task();
    let at_ms = s.cfg.clock.now_ms();
    s.accepted.push(AcceptedJob { api: "v2", action: action.into(), kind, areas: areas_req, urls, task_id: task_id.clone(), at_ms });
    let data = match action {
        "RefreshCdnOverSeaUrl" => json!({"count": n}),
        "CdnOverseaPushser" => json!([{"task_id": task_id, "date": clock::datetime(at_ms / 1000, clock::CST_OFFSET_SECS)}]),
        _ => Value::Null,
    };
    let mut body = json!({"code": 0, "message": "", "codeDesc": "Success"});
    if !data.is_null() {
        body["data"] = data;
    }
    (body.to_string(), "ok".into(), n)
}
