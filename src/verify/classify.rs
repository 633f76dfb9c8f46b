//! What one answer means, PURE: [`verdict`] takes the item (what should be served) and the
//! answer (what was), and returns fresh / stale / different / error. A `different` carries the
//! [`Reason`]s that explain it, so a user can tell a mapping mistake (an HTML page where a
//! stylesheet was due, a 404) from a CDN that rewrites bodies (compressed, minified).

use serde::Serialize;

use super::fetch::{FetchError, Observed};
use super::summary::{Outcome, Verdict};
use super::{Item, Mode};

/// Why the bytes served are neither the new nor the old ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The CDN compressed the body although `Accept-Encoding: identity` was sent.
    ContentEncoding(String),
    /// The body's size is not the deployed file's.
    Size {
        /// Bytes served.
        got: u64,
        /// Bytes deployed.
        expected: u64,
    },
    /// The `Content-Type` does not fit the URL's extension.
    ContentType {
        /// As served.
        got: String,
        /// What the extension calls for.
        expected: &'static str,
    },
    /// An HTML page where something else was due: an error or fallback page (a wrong
    /// `base_path` or URL rule, an SPA catch-all).
    HtmlPage,
    /// A text file served shorter and on very long lines: the CDN seems to minify it.
    Minified {
        /// Bytes served.
        bytes: u64,
        /// Lines served.
        lines: u64,
    },
    /// The body is longer than the size cap (`max_body`) and was not read to the end.
    TooLarge {
        /// Its `Content-Length`, when announced.
        announced: Option<u64>,
    },
    /// `etag` mode: the ETag is neither the new nor the old one.
    Etag {
        /// As served (`None`: the answer had no ETag).
        got: Option<String>,
        /// The origin's ETag for the deployed bytes.
        expected: String,
    },
    /// Nothing above explains it: the bytes are simply others.
    OtherBytes,
}

impl Reason {
    /// A short machine name (`--json`'s `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::ContentEncoding(_) => "content_encoding",
            Reason::Size { .. } => "size",
            Reason::ContentType { .. } => "content_type",
            Reason::HtmlPage => "html_page",
            Reason::Minified { .. } => "minified",
            Reason::TooLarge { .. } => "too_large",
            Reason::Etag { .. } => "etag",
            Reason::OtherBytes => "other_bytes",
        }
    }

    /// One sentence for people.
    pub fn explain(&self) -> String {
        match self {
            Reason::ContentEncoding(e) => format!("served with Content-Encoding: {e} although identity was asked for (the CDN compresses)"),
            Reason::Size { got, expected } => format!("{got} bytes served, {expected} deployed"),
            Reason::ContentType { got, expected } => format!("served as {got}, expected {expected}"),
            Reason::HtmlPage => "an HTML page was served (an error or fallback page? check base_path and the URL rules)".into(),
            Reason::Minified { bytes, lines } => format!("looks minified by the CDN ({bytes} bytes on {lines} lines)"),
            Reason::TooLarge { announced: Some(n) } => format!("body of {n} bytes is over the size cap, not read"),
            Reason::TooLarge { announced: None } => "body over the size cap, not read to the end".into(),
            Reason::Etag { got: Some(g), expected } => format!("ETag {g}, the origin's is {expected}"),
            Reason::Etag { got: None, expected } => format!("no ETag served, the origin's is {expected}"),
            Reason::OtherBytes => "other bytes than the deployed or the previous version".into(),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            code: &'a str,
            message: String,
        }
        Wire { code: self.code(), message: self.explain() }.serialize(s)
    }
}

/// The outcome for one item.
pub fn outcome(item: &Item, answer: &Result<Observed, FetchError>) -> Outcome {
    let status = answer.as_ref().ok().map(|o| o.status);
    Outcome { url: item.url.clone(), host: item.host.clone(), mode: item.mode, status, verdict: verdict(item, answer) }
}

/// Fresh, stale, different or error.
pub fn verdict(item: &Item, answer: &Result<Observed, FetchError>) -> Verdict {
    let obs = match answer {
        Err(e) => return Verdict::Error { message: e.message.clone() },
        Ok(o) => o,
    };
    if !(200..300).contains(&obs.status) {
        return Verdict::Error { message: status_message(obs) };
    }
    match item.mode {
        Mode::Status => Verdict::Fresh,
        Mode::Etag => by_etag(item, obs),
        Mode::Hash => by_hash(item, obs),
    }
}

fn status_message(obs: &Observed) -> String {
    let s = obs.status;
    match (s, &obs.location) {
        (300..=399, Some(to)) => format!("HTTP {s}, redirected to {to}"),
        (404 | 410, _) => format!("HTTP {s}: the CDN has no such URL (check base_path and the URL rules)"),
        (401 | 403, _) => format!("HTTP {s}: the CDN refused the request (access control, referer or IP rules?)"),
        _ => format!("HTTP {s}"),
    }
}

fn by_etag(item: &Item, obs: &Observed) -> Verdict {
    let Some(expected) = item.etag.as_deref() else {
        return Verdict::Error { message: "etag mode needs the origin's ETag of the deployed file".into() };
    };
    let got = obs.etag.as_deref().map(normalize_etag);
    if got == Some(normalize_etag(expected)) {
        return Verdict::Fresh;
    }
    if got.is_some() && got == item.previous_etag.as_deref().map(normalize_etag) {
        return Verdict::Stale;
    }
    let mut reasons = vec![Reason::Etag { got: obs.etag.clone(), expected: expected.to_string() }];
    if let Some(e) = encoding(obs) {
        reasons.push(Reason::ContentEncoding(e));
    }
    Verdict::Different { reasons }
}

/// An ETag without its weakness marker and quotes: a CDN that compresses often weakens the
/// origin's strong ETag (`"abc"` → `W/"abc"`) for the same bytes.
pub fn normalize_etag(e: &str) -> &str {
    let e = e.trim();
    let e = e.strip_prefix("W/").unwrap_or(e);
    e.trim_matches('"')
}

fn by_hash(item: &Item, obs: &Observed) -> Verdict {
    let Some(body) = &obs.body else {
        return Verdict::Error { message: "no body was read".into() };
    };
    match body.hash {
        Some(h) if h == item.expected => return Verdict::Fresh,
        Some(h) if Some(h) == item.previous => return Verdict::Stale,
        _ => {}
    }
    Verdict::Different { reasons: explain(item, obs) }
}

/// Why a body is neither version: every reason that applies, most telling first.
pub fn explain(item: &Item, obs: &Observed) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let Some(body) = &obs.body else { return reasons };
    if body.hash.is_none() {
        reasons.push(Reason::TooLarge { announced: obs.content_length });
    }
    if let Some(e) = encoding(obs) {
        reasons.push(Reason::ContentEncoding(e));
    }
    let expected_type = expected_type(&item.url);
    if !expected_type.is_some_and(|t| t.html) && looks_like_html(&body.prefix) {
        reasons.push(Reason::HtmlPage);
    }
    if let (Some(t), Some(got)) = (expected_type, obs.content_type.as_deref()) {
        let mime = got.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !mime.is_empty() && !t.accepts.contains(&mime.as_str()) {
            reasons.push(Reason::ContentType { got: mime, expected: t.accepts[0] });
        }
    }
    if body.hash.is_some() {
        if let Some(size) = item.size.filter(|&s| s != body.bytes) {
            reasons.push(Reason::Size { got: body.bytes, expected: size });
            let lines = body.newlines + 1;
            if expected_type.is_some_and(|t| t.text) && body.bytes < size && body.bytes / lines >= MINIFIED_LINE {
                reasons.push(Reason::Minified { bytes: body.bytes, lines });
            }
        }
    }
    if reasons.is_empty() {
        reasons.push(Reason::OtherBytes);
    }
    reasons
}

/// Average line length (bytes) from which a shrunken text file counts as minified.
pub const MINIFIED_LINE: u64 = 500;

fn encoding(obs: &Observed) -> Option<String> {
    let e = obs.content_encoding.as_deref()?.trim();
    (!e.is_empty() && !e.eq_ignore_ascii_case("identity")).then(|| e.to_string())
}

fn looks_like_html(prefix: &[u8]) -> bool {
    let p = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = p.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(p.len());
    let head: Vec<u8> = p[start..].iter().take(15).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

/// What an extension calls for.
#[derive(Clone, Copy, Debug)]
struct TypeRule {
    /// Acceptable MIME types, the usual one first.
    accepts: &'static [&'static str],
    /// A text format (can be minified).
    text: bool,
    /// HTML itself.
    html: bool,
}

const fn rule(accepts: &'static [&'static str], text: bool, html: bool) -> TypeRule {
    TypeRule { accepts, text, html }
}

/// The type a URL's extension calls for; `None` for extensions with no firm expectation.
fn expected_type(url: &str) -> Option<TypeRule> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or("");
    if last.is_empty() {
        // A directory URL serves its index page.
        return Some(rule(&["text/html"], true, true));
    }
    let ext = last.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => rule(&["text/html", "application/xhtml+xml"], true, true),
        "css" => rule(&["text/css"], true, false),
        "js" | "mjs" => rule(&["text/javascript", "application/javascript", "application/x-javascript"], true, false),
        "json" => rule(&["application/json", "text/json"], true, false),
        "xml" => rule(&["application/xml", "text/xml", "application/rss+xml", "application/atom+xml"], true, false),
        "svg" => rule(&["image/svg+xml"], true, false),
        "txt" => rule(&["text/plain"], true, false),
        "png" => rule(&["image/png"], false, false),
        "jpg" | "jpeg" => rule(&["image/jpeg"], false, false),
        "gif" => rule(&["image/gif"], false, false),
        "webp" => rule(&["image/webp"], false, false),
        "woff2" => rule(&["font/woff2", "application/font-woff2"], false, false),
        "pdf" => rule(&["application/pdf"], false, false),
        _ => return None,
    })
}
