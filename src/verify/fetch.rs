//! The seam verify and the origin wait send requests through ([`Fetch`]), what they learn from
//! one answer ([`Observed`]), and the real implementation ([`HttpFetcher`], reqwest + rustls).
//!
//! What a request looks like, so a CDN sees an honest, cheap client:
//! - `User-Agent: cdnsync/VERSION (verify)`; `Accept-Encoding: identity`, so a CDN that
//!   negotiates compression sends the bytes as deployed (reqwest is built without decoders: a
//!   compressed body would hash differently and be reported as such);
//! - HEAD when the mode needs no body; a HEAD refused with 405/501 is retried as a GET whose
//!   body is not read;
//! - redirects are not followed (a 3xx is an answer to report, and following one could leave
//!   `connect_to`);
//! - bodies are hashed as they stream and never kept whole: reading stops past `max_body`.
//!
//! `connect_to` is reqwest's `resolve` override: the connection goes to the given address while
//! the URL's host stays in the `Host` header and the TLS SNI (like curl's `--connect-to`; a URL
//! with an explicit port keeps its port, CDN URLs have none). It is
//! set for every host the fetcher is built for; a URL with any other host (or an IP literal,
//! which no DNS override can reroute) is refused unsent, so nothing leaks past `connect_to`.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::model::ContentHash;

/// The user agent of every verify and origin request.
pub const USER_AGENT: &str = concat!("cdnsync/", env!("CARGO_PKG_VERSION"), " (verify)");

/// How many leading body bytes are kept for sniffing (an HTML error page where a script was due).
pub const PREFIX_LEN: usize = 256;

/// HEAD or GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Headers only.
    Head,
    /// Headers and body (hashed).
    Get,
}

/// One request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Absolute `http(s)://` URL.
    pub url: &'a str,
    /// HEAD or GET.
    pub method: Method,
    /// A `Host` header other than the URL's (the origin wait: `http://10.0.0.5:8080/a.html` asked
    /// for `www.example.com`).
    pub host: Option<&'a str>,
}

/// What was read of a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// BLAKE3 of the whole body; `None` when it was longer than the cap and not read to the end.
    pub hash: Option<ContentHash>,
    /// Bytes read.
    pub bytes: u64,
    /// Newlines among them (a minified file has very few).
    pub newlines: u64,
    /// The first bytes, up to [`PREFIX_LEN`].
    pub prefix: Vec<u8>,
}

impl Body {
    /// A body read whole from a slice (fakes and tests).
    pub fn of(bytes: &[u8]) -> Body {
        Body {
            hash: Some(ContentHash::of(bytes)),
            bytes: bytes.len() as u64,
            newlines: bytes.iter().filter(|&&b| b == b'\n').count() as u64,
            prefix: bytes[..bytes.len().min(PREFIX_LEN)].to_vec(),
        }
    }
}

/// One answer, reduced to what a verdict needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// HTTP status.
    pub status: u16,
    /// The body, for a GET whose answer was 2xx.
    pub body: Option<Body>,
    /// `Content-Length`, when sent.
    pub content_length: Option<u64>,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// `Content-Encoding`, when sent.
    pub content_encoding: Option<String>,
    /// `ETag`, when sent.
    pub etag: Option<String>,
    /// `Location`, when sent (a redirect).
    pub location: Option<String>,
}

/// A request that got no HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// What went wrong (the URL is not repeated).
    pub message: String,
}

/// Sends one request and observes the answer. The engine uses [`HttpFetcher`]; tests use fakes.
pub trait Fetch: Sync {
    /// Send `req` and read what a verdict needs.
    fn fetch(&self, req: Request<'_>) -> impl Future<Output = Result<Observed, FetchError>> + Send;
}

/// Where requests go and how long they may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Bodies longer than this are not read to the end.
    pub max_body: u64,
    /// Send every request here, keeping Host and SNI.
    pub connect_to: Option<SocketAddr>,
    /// Go through the proxy `$HTTPS_PROXY`/`$HTTP_PROXY` name (as the API client does). Never
    /// with `connect_to`, whose point is where the connection goes; not for an origin either.
    pub proxy: bool,
}

impl From<&super::Options> for FetchOptions {
    fn from(o: &super::Options) -> Self {
        FetchOptions { timeout: o.timeout, max_body: o.max_body, connect_to: o.connect_to, proxy: o.connect_to.is_none() }
    }
}

impl FetchOptions {
    /// For asking an origin directly: no proxy, no `connect_to`.
    pub fn origin(timeout: Duration, max_body: u64) -> FetchOptions {
        FetchOptions { timeout, max_body, connect_to: None, proxy: false }
    }

    /// May requests go through an environment proxy? Never with `connect_to`.
    pub fn uses_proxy(&self) -> bool {
        self.proxy && self.connect_to.is_none()
    }
}

/// The real fetcher: reqwest with rustls.
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: reqwest::Client,
    max_body: u64,
    /// With `connect_to`: the hosts routed there; any other is refused unsent.
    routed: Option<HashSet<String>>,
}

impl HttpFetcher {
    /// A fetcher for these URLs (with `connect_to`, each of their hosts gets the override).
    pub fn for_urls<'u>(opts: &FetchOptions, urls: impl IntoIterator<Item = &'u str>) -> Result<HttpFetcher, String> {
        let hosts: HashSet<String> = urls.into_iter().filter_map(url_host).collect();
        HttpFetcher::new(opts, hosts.iter().map(String::as_str))
    }

    /// A fetcher for URLs on `hosts` (only needed with `connect_to`: each gets the override;
    /// IP addresses are left out, as no DNS override can reroute them).
    pub fn new<'h>(opts: &FetchOptions, hosts: impl IntoIterator<Item = &'h str>) -> Result<HttpFetcher, String> {
        let mut b = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none());
        if !opts.uses_proxy() {
            b = b.no_proxy();
        }
        let mut routed = None;
        if let Some(addr) = opts.connect_to {
            let mut set = HashSet::new();
            for h in hosts {
                let h = h.to_ascii_lowercase();
                if is_ip(&h) {
                    continue;
                }
                b = b.resolve(&h, addr);
                set.insert(h);
            }
            routed = Some(set);
        }
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(HttpFetcher { client, max_body: opts.max_body, routed })
    }

    async fn send(&self, req: Request<'_>, method: Method) -> Result<reqwest::Response, FetchError> {
        let m = if method == Method::Head { reqwest::Method::HEAD } else { reqwest::Method::GET };
        let mut rb = self.client.request(m, req.url).header(reqwest::header::ACCEPT_ENCODING, "identity");
        if let Some(h) = req.host {
            rb = rb.header(reqwest::header::HOST, h);
        }
        rb.send().await.map_err(failure)
    }

    async fn observe(&self, req: Request<'_>) -> Result<Observed, FetchError> {
        if let Some(routed) = &self.routed {
            let host = url_host(req.url).unwrap_or_default();
            if is_ip(&host) {
                return Err(FetchError { message: format!("not sent: connect_to cannot reroute the IP address {host}") });
            }
            if !routed.contains(&host) {
                return Err(FetchError { message: format!("not sent: host {host:?} is not routed through connect_to") });
            }
        }
        let mut resp = self.send(req, req.method).await?;
        if req.method == Method::Head && matches!(resp.status().as_u16(), 405 | 501) {
            // Some servers refuse HEAD; a GET answers the same question (its body is not read).
            resp = self.send(req, Method::Get).await?;
        }
        let h = resp.headers();
        let text = |name: reqwest::header::HeaderName| h.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut obs = Observed {
            status: resp.status().as_u16(),
            body: None,
            content_length: text(reqwest::header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
            content_type: text(reqwest::header::CONTENT_TYPE),
            content_encoding: text(reqwest::header::CONTENT_ENCODING),
            etag: text(reqwest::header::ETAG),
            location: text(reqwest::header::LOCATION),
        };
        if req.method == Method::Get && resp.status().is_success() {
            obs.body = Some(self.read_body(&mut resp, obs.content_length).await?);
        }
        Ok(obs)
    }

    async fn read_body(&self, resp: &mut reqwest::Response, announced: Option<u64>) -> Result<Body, FetchError> {
        let mut body = Body { hash: None, bytes: 0, newlines: 0, prefix: Vec::new() };
        if announced.is_some_and(|n| n > self.max_body) {
            return Ok(body);
        }
        let mut hasher = blake3::Hasher::new();
        while let Some(chunk) = resp.chunk().await.map_err(failure)? {
            body.bytes += chunk.len() as u64;
            if body.bytes > self.max_body {
                // Over the cap: stop reading (dropping the answer closes the connection).
                return Ok(Body { hash: None, ..body });
            }
            hasher.update(&chunk);
            body.newlines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            let room = PREFIX_LEN - body.prefix.len();
            body.prefix.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        body.hash = Some(ContentHash(*hasher.finalize().as_bytes()));
        Ok(body)
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&self, req: Request<'_>) -> impl Future<Output = Result<Observed, FetchError>> + Send {
        self.observe(req)
    }
}

/// The host of an absolute URL, lower-cased (`None` when it has none).
pub fn url_host(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    u.host_str().map(|h| h.to_ascii_lowercase())
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok()
}

fn failure(e: reqwest::Error) -> FetchError {
    let e = e.without_url();
    let mut message = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    FetchError { message }
}
