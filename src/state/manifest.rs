//! The manifest: the tree as last deployed, with the stat cache that lets the next scan skip
//! unchanged files.
//!
//! Format (text, one file a line, fast to parse, checksummed so truncation and corruption are
//! detected rather than read as "files removed"):
//!
//! ```text
//! cdnsync-manifest 1 scan_start_ns=<i64>
//! <blake3 hex> <size> <mtime ns> <path, with \\ \n \r escaped>
//! ...
//! end <file count> <blake3 hex of every byte above this line>
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{ContentHash, FileMeta, Snapshot};

const HEADER: &str = "cdnsync-manifest 1";

/// A deployed tree and when its scan started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every tracked file.
    pub snapshot: Snapshot,
    /// When the scan started (ns since the epoch), for the racy-timestamp rule.
    pub scan_start_ns: i64,
}

/// Where the manifest lives in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("manifest")
}

fn escape(p: &str, out: &mut String) {
    for c in p.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Serialise a manifest.
pub fn encode(m: &Manifest) -> Vec<u8> {
    let mut s = String::with_capacity(64 + m.snapshot.files.len() * 100);
    let _ = writeln!(s, "{HEADER} scan_start_ns={}", m.scan_start_ns);
    for (p, f) in &m.snapshot.files {
        let _ = write!(s, "{} {} {} ", f.hash.to_hex(), f.size, f.mtime_ns);
        escape(p, &mut s);
        s.push('\n');
    }
    let sum = blake3::hash(s.as_bytes()).to_hex();
    let _ = writeln!(s, "end {} {}", m.snapshot.files.len(), sum);
    s.into_bytes()
}

/// Parse a manifest; `name` is used in errors.
pub fn decode(bytes: &[u8], name: &Path) -> Result<Manifest> {
    let bad = |why: String| {
        Error::State(format!(
            "{}: manifest is damaged ({why}); cdnsync will not guess what was deployed. \
             Move it aside and run `cdnsync sync --all` (purge everything once) or `cdnsync sync --baseline` \
             (record the current tree, purge nothing)",
            name.display()
        ))
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let body_end = text.trim_end_matches('\n').rfind('\n').map(|i| i + 1).ok_or_else(|| bad("truncated".into()))?;
    let (body, trailer) = text.split_at(body_end);
    let mut tr = trailer.trim_end().split(' ');
    if tr.next() != Some("end") {
        return Err(bad("no end line: truncated".into()));
    }
    let count: usize = tr.next().and_then(|c| c.parse().ok()).ok_or_else(|| bad("bad end line".into()))?;
    let sum = tr.next().ok_or_else(|| bad("bad end line".into()))?;
    if blake3::hash(body.as_bytes()).to_hex().as_str() != sum {
        return Err(bad("checksum mismatch".into()));
    }
    let mut lines = body.lines();
    let header = lines.next().ok_or_else(|| bad("empty".into()))?;
    let scan_start_ns = header
        .strip_prefix(HEADER)
        .and_then(|r| r.trim().strip_prefix("scan_start_ns="))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad(format!("unknown header {header:?}")))?;
    let mut entries: Vec<(String, FileMeta)> = Vec::with_capacity(count);
    for (i, line) in lines.enumerate() {
        let lineno = i + 2;
        let mut parts = line.splitn(4, ' ');
        let (Some(h), Some(size), Some(mtime), Some(p)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad(format!("line {lineno} malformed")));
        };
        let meta = FileMeta {
            hash: ContentHash::from_hex(h).ok_or_else(|| bad(format!("line {lineno}: bad hash")))?,
            size: size.parse().map_err(|_| bad(format!("line {lineno}: bad size")))?,
            mtime_ns: mtime.parse().map_err(|_| bad(format!("line {lineno}: bad mtime")))?,
        };
        let p = if p.contains('\\') { unescape(p).ok_or_else(|| bad(format!("line {lineno}: bad escape")))? } else { p.to_string() };
        // Written from a sorted map: sorted, no duplicates. Anything else was not written by us.
        if entries.last().is_some_and(|(last, _)| *last >= p) {
            return Err(bad(format!("line {lineno}: out of order")));
        }
        entries.push((p, meta));
    }
    if entries.len() != count {
        return Err(bad(format!("{} entries, end line says {count}", entries.len())));
    }
    // Sorted input: the map is built in one pass.
    let snapshot = Snapshot { files: entries.into_iter().collect() };
    Ok(Manifest { snapshot, scan_start_ns })
}

/// Load the manifest of a state directory; `Ok(None)` when there is none yet (first sync).
pub fn load(state_dir: &Path) -> Result<Option<Manifest>> {
    let p = path(state_dir);
    match std::fs::read(&p) {
        Ok(bytes) => decode(&bytes, &p).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(p, e)),
    }
}

/// Replace the manifest atomically.
pub fn save(state_dir: &Path, m: &Manifest) -> Result<()> {
    super::ensure_dir(state_dir)?;
    super::write_atomic(&path(state_dir), &encode(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest { scan_start_ns: 1_700_000_000_123_456_789, ..Default::default() };
        for (i, p) in ["a.html", "dir/b c.html", "文档/x.png", "we\\ird\nname"].iter().enumerate() {
            m.snapshot
                .files
                .insert(p.to_string(), FileMeta { size: i as u64 * 10, mtime_ns: -5 + i as i64, hash: ContentHash::of(p.as_bytes()) });
        }
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(decode(&encode(&m), Path::new("m")).unwrap(), m);
        let empty = Manifest::default();
        assert_eq!(decode(&encode(&empty), Path::new("m")).unwrap(), empty);
    }

    #[test]
    fn damage_is_detected_not_reset() {
        let bytes = encode(&sample());
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 5] {
            let err = decode(&bytes[..cut], Path::new("state/manifest")).unwrap_err().to_string();
            assert!(err.contains("state/manifest") && err.contains("sync --all"), "cut {cut}: {err}");
        }
        let mut flipped = bytes.clone();
        flipped[60] ^= 1;
        assert!(decode(&flipped, Path::new("m")).is_err());
    }
}
