//! The edge's origin: URL paths mapped to files under `publish_dir` (percent-decoded, `..`
//! refused, `dir/` → `dir/index.html`), read from disk or from a lagging snapshot, and rewritten
//! by the configured [`Transform`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::wire::Answer;
use super::{etag_of, State, Transform};

/// Every file under `dir`, by its path relative to `root` (the whole-tree lag).
pub(super) fn snapshot(root: &Path, dir: &Path, out: &mut HashMap<String, Option<Vec<u8>>>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            snapshot(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.insert(rel, Some(std::fs::read(&p)?));
        }
    }
    Ok(())
}

pub(super) fn plain(status: u16, text: &str) -> Answer {
    Answer { status, headers: vec![("Content-Type", "text/plain".into())], body: Arc::new(text.as_bytes().to_vec()) }
}

/// Read a URL path from the origin: the lagged snapshot while a lag lasts, else the disk.
pub(super) fn from_origin(s: &mut State, path: &str) -> Answer {
    s.origin_reads += 1;
    let Some(rel) = to_rel(&s.cfg.base_path, path) else { return plain(404, "not found") };
    let now = s.cfg.clock.now_ms();
    let bytes = match s.lag.as_ref().filter(|l| now < l.until_ms) {
        Some(lag) => match lag.files.get(&rel) {
            Some(b) => b.clone(),
            None if lag.whole_tree => None,
            None => read_file(&s.cfg.publish_dir, &rel),
        },
        None => read_file(&s.cfg.publish_dir, &rel),
    };
    let Some(bytes) = bytes else { return plain(404, "not found") };
    let ctype = content_type(&rel);
    let origin_etag = etag_of(&bytes);
    let (body, etag, encoding) = match s.transform {
        Transform::None => (bytes, origin_etag, None),
        Transform::Minify if is_text(ctype) => {
            let m = minify(&bytes);
            let e = etag_of(&m);
            (m, e, None)
        }
        Transform::Minify => (bytes, origin_etag, None),
        Transform::FakeGzip => {
            let mut b = b"\x1f\x8b".to_vec();
            b.extend(bytes.iter().rev());
            (b, format!("W/{origin_etag}"), Some("gzip"))
        }
    };
    let mut headers = vec![("Content-Type", ctype.to_string()), ("ETag", etag)];
    if let Some(e) = encoding {
        headers.push(("Content-Encoding", e.to_string()));
    }
    Answer { status: 200, headers, body: Arc::new(body) }
}

fn read_file(dir: &Path, rel: &str) -> Option<Vec<u8>> {
    let p = dir.join(rel);
    if !p.is_file() {
        return None;
    }
    std::fs::read(p).ok()
}

/// `/base/a%20b/` → `a b/index.html`; `None` outside the base path or for `..`, `.`, `//`.
fn to_rel(base: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix(base)?;
    let bytes = percent_decode(rest)?;
    let mut rel = String::from_utf8(bytes).ok()?;
    if rel.is_empty() || rel.ends_with('/') {
        rel.push_str("index.html");
    }
    if rel.split('/').any(|seg| seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\')) {
        return None;
    }
    Some(rel)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn content_type(rel: &str) -> &'static str {
    match rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("xml") => "application/xml",
        Some("txt") => "text/plain",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn is_text(ctype: &str) -> bool {
    ctype.starts_with("text/") || ctype.ends_with("json") || ctype.ends_with("xml")
}

fn minify(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().map(str::trim).collect::<String>().into_bytes()
}
