//! The fake's network side: the 127.0.0.1 listener on its own thread, one task per connection,
//! and the router that hands each request to the product speaking its protocol.
//!
//! Products are listed in [`ROUTES`]. Adding one (EdgeOne `teo`, STS, the CVM metadata service,
//! an edge serving the site) is one new file and one route: an [`Api`] for a signed API (its
//! requests count as in flight, can be faulted and are logged), or a [`Plain`] handler for plain
//! GETs such as `GET /origin/…`, the site's origin. TC3 requests are routed by the service named
//! in their credential scope, or by `X-TC-Version` when they carry no TC3 `Authorization`; the
//! legacy API by its path. A request that no route takes gets a loud `InvalidAction` (HTTP 404,
//! "cdnsync fake: no handler for …") and is logged, so a test that sends one fails with a reason.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::account::Account;
use super::http::{self, HttpRequest, Reply};
use super::{teo, v2, v3, Fault, RequestLog};
use crate::api::sign::tc3;

/// Everything the fake's handlers and its owner share, behind one mutex.
pub(super) struct Shared {
    pub account: Account,
    /// Every request answered by an [`Api`] or refused by the router.
    pub log: Vec<RequestLog>,
    /// [`Api`] requests being handled now, and the most ever at once.
    pub in_flight: usize,
    pub max_in_flight: usize,
}

impl Shared {
    pub fn new(account: Account) -> Shared {
        Shared { account, log: Vec::new(), in_flight: 0, max_in_flight: 0 }
    }
}

pub(super) fn lock(state: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    state.lock().expect("fake state")
}

/// A signed API's answer: the JSON body (sent with HTTP 200), the outcome for the request log
/// ("ok" or the error code) and how many URLs or paths the request carried.
pub(super) struct Answer {
    pub body: String,
    pub outcome: String,
    pub size: usize,
}

/// A product speaking a signed API.
pub(super) struct Api {
    /// Its name in the request log ([`RequestLog::api`]).
    pub name: &'static str,
    /// The action a request names ("" when it names none); injected faults match on it.
    pub action: fn(&HttpRequest) -> String,
    /// Its error body for an injected [`Fault::ApiError`] code.
    pub fault_body: fn(&str) -> String,
    /// Answer a request that no fault stopped: verify, check, act.
    pub handle: fn(&mut Account, &HttpRequest, &str) -> Answer,
}

/// A handler of plain requests: not counted, faulted or logged.
pub(super) type Plain = fn(&Account, &HttpRequest) -> Reply;

/// How the router recognises a product's requests.
enum When {
    /// A GET of a path starting so.
    Get(&'static str),
    /// Any request to a path ending so.
    PathEnds(&'static str),
    /// A TC3 request whose credential scope names `service`, or, with no TC3 `Authorization`
    /// (STS's `AssumeRoleWithWebIdentity` is unsigned), whose `X-TC-Version` is `version`.
    Tc3 { service: &'static str, version: &'static str },
}

/// Where a route sends its requests.
enum To {
    Api(&'static Api),
    Plain(Plain),
}

struct Route {
    when: When,
    to: To,
}

/// The products the fake emulates, first match wins.
const ROUTES: &[Route] = &[
    Route { when: When::Get("/origin/"), to: To::Plain(origin) },
    Route { when: When::PathEnds("/v2/index.php"), to: To::Api(&v2::API) },
    Route { when: When::Tc3 { service: crate::api::v3::SERVICE, version: crate::api::v3::VERSION }, to: To::Api(&v3::API) },
    Route { when: When::Tc3 { service: crate::api::teo::SERVICE, version: crate::api::teo::VERSION }, to: To::Api(&teo::API) },
];

/// What a request says about where it is going, read once for the router and its error.
struct Signs<'a> {
    /// The service named in a TC3 `Authorization` credential scope.
    service: Option<&'a str>,
    version: Option<&'a str>,
    action: Option<&'a str>,
}

impl<'a> Signs<'a> {
    fn of(req: &'a HttpRequest) -> Signs<'a> {
        let header = |name: &str| req.headers.get(name).map(String::as_str);
        Signs {
            service: header("authorization").and_then(tc3::parse_authorization).map(|a| a.service),
            version: header("x-tc-version"),
            action: header("x-tc-action"),
        }
    }
}

fn route(req: &HttpRequest) -> Option<&'static To> {
    let signs = Signs::of(req);
    let found = ROUTES.iter().find(|r| match r.when {
        When::Get(prefix) => req.method == "GET" && req.path.starts_with(prefix),
        When::PathEnds(suffix) => req.path.ends_with(suffix),
        When::Tc3 { service, version } => match signs.service {
            Some(s) => s == service,
            None => signs.version == Some(version),
        },
    });
    found.map(|r| &r.to)
}

/// The answer to a request that no route takes: logged, and refused in API 3.0's envelope with
/// HTTP 404, which every client of the fake reports with its message.
fn unrouted(s: &mut Shared, req: &HttpRequest) -> Reply {
    let signs = Signs::of(req);
    let mut what = match (signs.service, signs.version) {
        (Some(service), _) => format!("TC3 service {service:?}"),
        (None, Some(version)) => format!("X-TC-Version {version:?}"),
        (None, None) => format!("{} {}", req.method, req.path),
    };
    if let Some(a) = signs.action {
        what.push_str(&format!(" (X-TC-Action {a:?})"));
    }
    let action = signs.action.map_or_else(|| format!("{} {}", req.method, req.path), str::to_string);
    s.log.push(RequestLog { api: "none", action, outcome: "InvalidAction".into(), size: 0 });
    Reply::Json(404, v3::error_body("InvalidAction", &format!("cdnsync fake: no handler for {what}"), "fake-unrouted"))
}

/// `GET /origin/PATH`: a file of `FakeConfig::origin_dir` (the site's origin), or 404.
fn origin(acct: &Account, req: &HttpRequest) -> Reply {
    let rel = req.path.trim_start_matches("/origin/");
    let file = acct.cfg.origin_dir.as_ref().filter(|_| !rel.split('/').any(|c| c == "..")).map(|d| d.join(rel));
    match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => Reply::Body(200, "application/octet-stream", body),
        None => Reply::Body(404, "text/plain", b"not found".to_vec()),
    }
}

/// The listening side of a running fake ([`http::Background`]).
pub(super) struct Server(http::Background);

impl Server {
    /// Listen on 127.0.0.1:`port` (0 for any free port) and serve `state`.
    pub fn start(port: u16, state: Arc<Mutex<Shared>>) -> std::io::Result<Server> {
        http::Background::start("fake-cdn", port, move |stream, _| connection(stream, state.clone()), None).map(Server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// Answer the requests of one keep-alive connection until it closes or a reply drops it.
async fn connection(mut stream: tokio::net::TcpStream, state: Arc<Mutex<Shared>>) {
    let mut buf = Vec::new();
    while let Ok(Some(req)) = http::read_request(&mut stream, &mut buf).await {
        let reply = match route(&req) {
            Some(To::Plain(handler)) => {
                let s = lock(&state);
                handler(&s.account, &req)
            }
            Some(To::Api(api)) => serve_api(&state, api, &req).await,
            None => unrouted(&mut lock(&state), &req),
        };
        let sent = match reply {
            Reply::Json(status, body) => http::write_json(&mut stream, status, &body).await,
            Reply::Body(status, content_type, body) => http::write_body(&mut stream, status, content_type, &body).await,
            Reply::Drop => return,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Answer one request of a signed API, counting it as in flight until its reply is ready.
async fn serve_api(state: &Mutex<Shared>, api: &Api, req: &HttpRequest) -> Reply {
    let (reply, delay) = {
        let mut s = lock(state);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        api_reply(&mut s, api, req)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    lock(state).in_flight -= 1;
    reply
}

/// Apply the quota day, then an injected fault or the product's handler; log the outcome.
/// Returns the reply and how long to wait before sending it.
fn api_reply(s: &mut Shared, api: &Api, req: &HttpRequest) -> (Reply, Option<Duration>) {
    s.account.roll_day();
    let action = (api.action)(req);
    let log =
        |s: &mut Shared, action: String, outcome: String, size: usize| s.log.push(RequestLog { api: api.name, action, outcome, size });
    let mut delay = None;
    let mut drop_after = false;
    match s.account.take_fault(&action) {
        Some(Fault::Latency(d)) => delay = Some(d),
        Some(Fault::Http(code)) => {
            log(s, action, format!("HTTP{code}"), 0);
            return (Reply::Json(code, "{\"message\": \"upstream unavailable\"}".into()), None);
        }
        Some(Fault::Reply(status, body)) => {
            log(s, action, format!("reply{status}"), 0);
            return (Reply::Json(status, body), None);
        }
        Some(Fault::ApiError(code)) => {
            let body = (api.fault_body)(&code);
            log(s, action, code, 0);
            return (Reply::Json(200, body), None);
        }
        Some(Fault::Drop) => {
            log(s, action, "dropped".into(), 0);
            return (Reply::Drop, None);
        }
        Some(Fault::AcceptThenDrop) => drop_after = true,
        None => {}
    }
    let answer = (api.handle)(&mut s.account, req, &action);
    if drop_after {
        log(s, action, format!("{}+dropped", answer.outcome), answer.size);
        return (Reply::Drop, delay);
    }
    log(s, action, answer.outcome, answer.size);
    (Reply::Json(200, answer.body), delay)
}
