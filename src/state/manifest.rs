//! The manifest: the tree as last deployed, with the stat cache that lets the next scan skip
//! unchanged files.
//!
//! Format 2 (binary, compact: ~80 bytes a file, loads without parsing numbers or hex; all
//! integers little-endian), checksummed so that truncation and corruption are detected rather
//! than read as "files removed":
//!
//! ```text
//! "cdnsync-manifest 2\n"  scan_start_ns: i64  count: u64
//! count × { path_len: u32  path: UTF-8  size: u64  mtime_ns: i64  blake3: [u8; 32] }   (sorted by path)
//! "end"  blake3 of every byte before "end": [u8; 32]
//! ```
//!
//! Format 1 (text, written by earlier versions) is still read:
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
const MAGIC2: &[u8] = b"cdnsync-manifest 2\n";

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

/// Serialise a manifest (format 2).
pub fn encode(m: &Manifest) -> Vec<u8> {
    let files = &m.snapshot;
    let mut out = Vec::with_capacity(64 + files.paths().map(|p| p.len() + 52).sum::<usize>());
    out.extend_from_slice(MAGIC2);
    out.extend_from_slice(&m.scan_start_ns.to_le_bytes());
    out.extend_from_slice(&(files.len() as u64).to_le_bytes());
    for (p, f) in files {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(&f.size.to_le_bytes());
        out.extend_from_slice(&f.mtime_ns.to_le_bytes());
        out.extend_from_slice(&f.hash.0);
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(b"end");
    out.extend_from_slice(sum.as_bytes());
    out
}

/// Serialise in format 1 (text), as earlier versions wrote it.
pub fn encode_text(m: &Manifest) -> Vec<u8> {
    let mut s = String::with_capacity(64 + m.snapshot.len() * 100);
    let _ = writeln!(s, "{HEADER} scan_start_ns={}", m.scan_start_ns);
    for (p, f) in &m.snapshot {
        let _ = write!(s, "{} {} {} ", f.hash.to_hex(), f.size, f.mtime_ns);
        escape(p, &mut s);
        s.push('\n');
    }
    let sum = blake3::hash(s.as_bytes()).to_hex();
    let _ = writeln!(s, "end {} {}", m.snapshot.len(), sum);
    s.into_bytes()
}

fn damaged(name: &Path, why: String) -> Error {
    Error::State(format!(
        "{}: manifest is damaged ({why}); cdnsync will not guess what was deployed. \
         Move it aside and run `cdnsync sync --all` (purge everything once) or `cdnsync sync --baseline` \
         (record the current tree, purge nothing)",
        name.display()
    ))
}

fn decode_binary(bytes: &[u8], name: &Path) -> Result<Manifest> {
    let bad = |why: &str| damaged(name, why.to_string());
    if bytes.len() < MAGIC2.len() + 16 + 35 {
        return Err(bad("truncated"));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 35);
    if &trailer[..3] != b"end" {
        return Err(bad("no end marker: truncated"));
    }
    if blake3::hash(body).as_bytes() != &trailer[3..] {
        return Err(bad("checksum mismatch"));
    }
    let mut at = MAGIC2.len();
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = body.get(at..at + n).ok_or_else(|| bad("entry runs past the end"))?;
        at += n;
        Ok(s)
    };
    let le8 = |b: &[u8]| <[u8; 8]>::try_from(b).expect("8 bytes");
    let scan_start_ns = i64::from_le_bytes(le8(take(8)?));
    let count = u64::from_le_bytes(le8(take(8)?)) as usize;
    // Each entry is 52 bytes plus its path: the rest of the body is paths.
    let files = count.min(body.len() / 52);
    let mut snapshot = Snapshot::with_capacity(files, body.len().saturating_sub(files * 52));
    for i in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let path = std::str::from_utf8(take(len)?).map_err(|_| damaged(name, format!("entry {i}: path is not UTF-8")))?;
        let size = u64::from_le_bytes(le8(take(8)?));
        let mtime_ns = i64::from_le_bytes(le8(take(8)?));
        let hash = ContentHash(take(32)?.try_into().expect("32 bytes"));
        // Written sorted, without duplicates: anything else was not written by us.
        if !snapshot.push(path, FileMeta { size, mtime_ns, hash }) {
            return Err(damaged(name, format!("entry {i}: out of order")));
        }
    }
    if at != body.len() {
        return Err(bad("bytes after the last entry"));
    }
    Ok(Manifest { snapshot, scan_start_ns })
}

/// Parse a manifest; `name` is used in errors.
pub fn decode(bytes: &[u8], name: &Path) -> Result<Manifest> {
    if bytes.starts_with(MAGIC2) {
        return decode_binary(bytes, name);
    }
    let bad = |why: String| damaged(name, why);
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
    let mut snapshot = Snapshot::with_capacity(count, body.len().saturating_sub(count * 90));
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
        if !snapshot.push(&p, meta) {
            return Err(bad(format!("line {lineno}: out of order")));
        }
    }
    if snapshot.len() != count {
        return Err(bad(format!("{} entries, end line says {count}", snapshot.len())));
    }
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
            m.snapshot.insert(p, FileMeta { size: i as u64 * 10, mtime_ns: -5 + i as i64, hash: ContentHash::of(p.as_bytes()) });
        }
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(decode(&encode(&m), Path::new("m")).unwrap(), m);
        let empty = Manifest::default();
        assert_eq!(decode(&encode(&empty), Path::new("m")).unwrap(), empty);
        // Manifests written by earlier versions (text) still load.
        assert_eq!(decode(&encode_text(&m), Path::new("m")).unwrap(), m);
        assert_eq!(decode(&encode_text(&empty), Path::new("m")).unwrap(), empty);
        assert!(encode(&m).len() < encode_text(&m).len(), "format 2 is the compact one");
    }

    #[test]
    fn damage_is_detected_not_reset() {
        for bytes in [encode(&sample()), encode_text(&sample())] {
            for cut in [0, 10, bytes.len() / 2, bytes.len() - 5] {
                let err = decode(&bytes[..cut], Path::new("state/manifest")).unwrap_err().to_string();
                assert!(err.contains("state/manifest") && err.contains("sync --all"), "cut {cut}: {err}");
            }
            for at in [25, 60, bytes.len() - 40, bytes.len() - 2] {
                let mut flipped = bytes.clone();
                flipped[at] ^= 1;
                assert!(decode(&flipped, Path::new("m")).is_err(), "flipped byte {at}");
            }
        }
    }

    #[test]
    fn a_well_checksummed_but_unsorted_file_is_refused() {
        // Hand-made: valid checksum, entries out of order (not something cdnsync writes).
        let mut m = Manifest::default();
        m.snapshot.insert("b", FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(b"b") });
        m.snapshot.insert("a", FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(b"a") });
        let good = encode(&m);
        let body = &good[..good.len() - 35];
        let entry = |p: &str| {
            let mut e = (p.len() as u32).to_le_bytes().to_vec();
            e.extend_from_slice(p.as_bytes());
            e.extend_from_slice(&[0u8; 48]);
            e
        };
        let head = &body[..MAGIC2.len() + 16];
        let mut swapped = head.to_vec();
        swapped.extend(entry("b"));
        swapped.extend(entry("a"));
        let sum = blake3::hash(&swapped);
        swapped.extend_from_slice(b"end");
        swapped.extend_from_slice(sum.as_bytes());
        let err = decode(&swapped, Path::new("m")).unwrap_err().to_string();
        assert!(err.contains("out of order"), "{err}");
    }
}
