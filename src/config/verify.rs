//! The keys of issue 17 (`docs/config.md`): `[verify]` (how `cdnsync verify` shapes its traffic),
//! `[[domain]] origin`, `origin_wait_secs` and `verify` (wait for the origin before purging; how
//! a domain's URLs are checked), and the address rule shared with `[watch] metrics`.
//!
//! Like the EdgeOne keys, the domain keys are read once every domain is known, by `apply`.

use std::net::SocketAddr;
use std::time::Duration;

use super::raw::{RawConfig, RawDomain, RawVerify};
use super::types::Domain;
use super::val::Val;
use super::validate::Validator;

/// `origin_wait_secs` when not set.
pub const DEFAULT_ORIGIN_WAIT: Duration = Duration::from_secs(120);
/// The most `origin_wait_secs` may be: a sync that holds its lock longer blocks every other run.
pub const MAX_ORIGIN_WAIT_SECS: i64 = 3600;

/// How `verify` checks a domain's URLs (`[[domain]] verify`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyMode {
    /// GET the body and compare its BLAKE3 with the deployed file's.
    #[default]
    Hash,
    /// HEAD, and compare the ETag with the one the origin gives the deployed file (needs `origin`).
    Etag,
    /// HEAD, and accept any 2xx answer.
    Status,
}

impl VerifyMode {
    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::Hash => "hash",
            VerifyMode::Etag => "etag",
            VerifyMode::Status => "status",
        }
    }
}

/// `[verify]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySettings {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Requests started per second at most.
    pub requests_per_second: u32,
    /// Send verify requests to this address, keeping each URL's Host and TLS SNI.
    pub connect_to: Option<SocketAddr>,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings { concurrency: 8, requests_per_second: 20, connect_to: None }
    }
}

/// An `IP:PORT` address (`127.0.0.1:9464`, `[::1]:9464`), or why the text is not one. Host names
/// and bare ports are refused, so the address used is always the one written.
pub fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse::<SocketAddr>().map_err(|_| format!("expected an IP address and port such as \"127.0.0.1:9464\", found {s:?}"))
}

/// An origin URL, or why the text is not one: `http://` or `https://`, a host, an optional port
/// and path prefix; no user or password (it would be logged), no query, no fragment.
pub fn check_origin(s: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("expected an origin URL such as \"http://10.0.0.5:8080\", found {s:?}: {why}"));
    let Ok(u) = url::Url::parse(s) else { return bad("not an absolute URL") };
    if !matches!(u.scheme(), "http" | "https") {
        return bad("only http:// and https:// are supported");
    }
    if u.host_str().is_none_or(str::is_empty) {
        return bad("no host");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return bad("credentials do not belong in the URL (it appears in logs)");
    }
    if u.query().is_some() || u.fragment().is_some() {
        return bad("no query or fragment: the file's path is appended to it");
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

/// `[verify]`.
pub(super) fn table(v: &mut Validator, r: &RawVerify) -> VerifySettings {
    let mut s = VerifySettings::default();
    if let Some(n) = v.int(&r.concurrency, "verify.concurrency", 1, 64, "") {
        s.concurrency = n as usize;
    }
    if let Some(n) = v.int(&r.requests_per_second, "verify.requests_per_second", 1, 1000, "") {
        s.requests_per_second = n as u32;
    }
    if let Some(c) = v.get(&r.connect_to, "verify.connect_to") {
        match socket_addr(c.v) {
            Ok(addr) if addr.port() == 0 => v.err(c.at, "verify.connect_to", format!("expected a port other than 0, found {:?}", c.v)),
            Ok(addr) => s.connect_to = Some(addr),
            Err(msg) => v.err(c.at, "verify.connect_to", msg),
        }
    }
    s
}

/// Read `origin`, `origin_wait_secs` and `verify` of the domains of `raw` into `domains` (which
/// are `raw`'s domains, in order, when no domain had an error), reporting every problem.
pub(super) fn apply(v: &mut Validator, raw: &RawConfig, domains: &mut [Domain]) {
    let raws: Vec<Option<&Val<RawDomain>>> = match raw.domains.as_ref().map(|l| l.value()) {
        Some(Ok(list)) => list.iter().map(|d| d.value().is_ok().then_some(d)).collect(),
        _ => return,
    };
    let aligned = domains.len() == raws.len();
    for (i, sd) in raws.into_iter().enumerate() {
        let Some(Ok(d)) = sd.map(Val::value) else { continue };
        let k = |f: &str| format!("domain[{i}].{f}");
        let origin = v.get(&d.origin, &k("origin")).and_then(|o| match check_origin(o.v) {
            Ok(url) => Some(url),
            Err(msg) => {
                v.err(o.at, &k("origin"), msg);
                None
            }
        });
        let mut wait = DEFAULT_ORIGIN_WAIT;
        if let Some(n) = v.int(&d.origin_wait_secs, &k("origin_wait_secs"), 0, MAX_ORIGIN_WAIT_SECS, "") {
            wait = Duration::from_secs(n as u64);
            if d.origin.is_none() {
                let at = d.origin_wait_secs.as_ref().and_then(Val::at);
                v.err(at, &k("origin_wait_secs"), "has no effect without `origin`: set the origin cdnsync should wait for");
            }
        }
        let mode = match v.word(&d.verify, &k("verify"), &["hash", "etag", "status"]) {
            Some("etag") => VerifyMode::Etag,
            Some("status") => VerifyMode::Status,
            _ => VerifyMode::Hash,
        };
        if mode == VerifyMode::Etag && d.origin.is_none() {
            let at = d.verify.as_ref().and_then(Val::at);
            v.err(at, &k("verify"), "\"etag\" compares the CDN's ETag with the origin's: set `origin` too, or use \"status\"");
        }
        if aligned {
            let dom = &mut domains[i];
            dom.origin = origin;
            dom.origin_wait = wait;
            dom.verify = mode;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{from_str, test_config};

    #[test]
    fn defaults_and_values() {
        let c = test_config("");
        assert_eq!(
            (c.domains[0].origin.as_deref(), c.domains[0].origin_wait, c.domains[0].verify),
            (None, DEFAULT_ORIGIN_WAIT, VerifyMode::Hash)
        );
        assert_eq!(c.verify, VerifySettings::default());
        assert_eq!(c.watch.metrics, None);
        let c = test_config(
            "origin = \"http://10.0.0.5:8080/site/\"\norigin_wait_secs = 0\nverify = \"etag\"\n\
             [verify]\nconcurrency = 2\nrequests_per_second = 5\nconnect_to = \"127.0.0.1:8081\"\n\
             [watch]\nmetrics = \"[::1]:9464\"\n",
        );
        let d = &c.domains[0];
        assert_eq!((d.origin.as_deref(), d.origin_wait, d.verify), (Some("http://10.0.0.5:8080/site"), Duration::ZERO, VerifyMode::Etag));
        assert_eq!(
            c.verify,
            VerifySettings { concurrency: 2, requests_per_second: 5, connect_to: Some("127.0.0.1:8081".parse().unwrap()) }
        );
        assert_eq!(c.watch.metrics, Some("[::1]:9464".parse().unwrap()));
        assert_eq!(test_config("verify = \"status\"\n").domains[0].verify, VerifyMode::Status);
        assert_eq!(test_config("[watch]\nmetrics = \"127.0.0.1:0\"\n").watch.metrics.unwrap().port(), 0, "port 0: any free port");
    }

    /// (extra text, line, key, words the message must contain)
    #[test]
    fn errors_name_line_and_key() {
        let head = "publish_dir = \"p\"\n[[domain]]\nhost = \"www.example.com\"\n";
        let cases: &[(&str, usize, &str, &str)] = &[
            ("origin = \"10.0.0.5:8080\"\n", 4, "domain[0].origin", "not an absolute URL"),
            ("origin = \"ftp://10.0.0.5/\"\n", 4, "domain[0].origin", "only http:// and https://"),
            ("origin = \"http://user:pw@10.0.0.5/\"\n", 4, "domain[0].origin", "credentials do not belong"),
            ("origin = \"http://10.0.0.5/?a=1\"\n", 4, "domain[0].origin", "no query"),
            ("origin = \"/srv/www\"\n", 4, "domain[0].origin", "not an absolute URL"),
            ("origin_wait_secs = 30\n", 4, "domain[0].origin_wait_secs", "without `origin`"),
            ("origin = \"http://o.example.com\"\norigin_wait_secs = 3601\n", 5, "domain[0].origin_wait_secs", "from 0 to 3600"),
            ("origin = \"http://o.example.com\"\norigin_wait_secs = -1\n", 5, "domain[0].origin_wait_secs", "from 0 to 3600"),
            ("verify = \"md5\"\n", 4, "domain[0].verify", "\"hash\", \"etag\", \"status\""),
            ("verify = \"etag\"\n", 4, "domain[0].verify", "set `origin` too"),
            ("[verify]\nconcurrency = 0\n", 5, "verify.concurrency", "from 1 to 64"),
            ("[verify]\nrequests_per_second = 1001\n", 5, "verify.requests_per_second", "from 1 to 1000"),
            ("[verify]\nconnect_to = \"cdn-edge.local:80\"\n", 5, "verify.connect_to", "an IP address and port"),
            ("[verify]\nconnect_to = \"127.0.0.1:0\"\n", 5, "verify.connect_to", "other than 0"),
            ("[verify]\nconnect_to = \"127.0.0.1\"\n", 5, "verify.connect_to", "an IP address and port"),
            ("[verify]\nconcurency = 2\n", 5, "verify.concurency", "concurrency"),
            ("[watch]\nmetrics = \"9464\"\n", 5, "watch.metrics", "\"127.0.0.1:9464\""),
            ("[watch]\nmetrics = \"localhost:9464\"\n", 5, "watch.metrics", "an IP address and port"),
            ("[watch]\nmetrics = 9464\n", 5, "watch.metrics", "string"),
        ];
        for (extra, line, key, words) in cases {
            let text = format!("{head}{extra}");
            let errs = from_str(&text, Path::new("cdnsync.toml"), Path::new("/site")).expect_err(&text).0;
            let e = &errs[0];
            assert_eq!((e.line, e.key.as_str()), (Some(*line), *key), "{text}: {e}");
            assert!(e.message.contains(words), "{text}: {e}");
        }
    }
}
