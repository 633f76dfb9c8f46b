//! The manifest: the tree as last deployed, with the stat cache that lets the next scan skip
//! unchanged files.
//!
//! The format (binary, compact: ~80 bytes a file, loads without parsing numbers or hex; all
//! integers little-endian), checksummed so that truncation and corruption are detected rather
//! than read as "files removed":
//!
//! ```text
//! "cdnsync-manifest 2\n"  scan_start_ns: i64  count: u64
//! count × { path_len: u32  path: UTF-8  size: u64  mtime_ns: i64  blake3: [u8; 32] }   (sorted by path)
//! "end"  blake3 of every byte before "end": [u8; 32]
//! ```
//!
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{ContentHash, FileMeta, Snapshot};

const MAGIC: &[u8] = b"cdnsync-manifest 2\n";

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

/// Serialise a manifest.
pub fn encode(m: &Manifest) -> Vec<u8> {
    let files = &m.snapshot;
    let mut out = Vec::with_capacity(64 + files.paths().map(|p| p.len() + 52).sum::<usize>());
    out.extend_from_slice(MAGIC);
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

/// Could a scan have recorded `path`? Relative, `/`-separated, no empty, `.` or `..` segment, no
/// NUL. A manifest can come from `manifest_url` (outside data): a path like `../../etc/passwd`
/// is refused rather than turned into URLs or file names.
fn is_scan_path(path: &str) -> bool {
    !path.is_empty() && !path.contains('\0') && path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn damaged(name: &Path, why: String) -> Error {
    Error::ManifestDamaged { path: name.to_path_buf(), reason: why }
}

fn decode_binary(bytes: &[u8], name: &Path) -> Result<Manifest> {
    let bad = |why: &str| damaged(name, why.to_string());
    if bytes.len() < MAGIC.len() + 16 + 35 {
        return Err(bad("truncated"));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 35);
    if &trailer[..3] != b"end" {
        return Err(bad("no end marker: truncated"));
    }
    if blake3::hash(body).as_bytes() != &trailer[3..] {
        return Err(bad("checksum mismatch"));
    }
    let mut at = MAGIC.len();
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
        if !is_scan_path(path) {
            return Err(damaged(name, format!("entry {i}: {path:?} is not a path a scan records")));
        }
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
    if !bytes.starts_with(MAGIC) {
        return Err(damaged(name, "not a cdnsync manifest (unknown header)".into()));
    }
    decode_binary(bytes, name)
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
        let err = decode(b"cdnsync-manifest 1 scan_start_ns=0\nend 0 x\n", Path::new("m")).unwrap_err().to_string();
        assert!(err.contains("unknown header"), "{err}");
    }

    #[test]
    fn damage_is_detected_not_reset() {
        let bytes = encode(&sample());
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

    /// Hand-made with a valid checksum: paths no scan records.
    #[test]
    fn paths_a_scan_never_records_are_refused() {
        for bad in ["", "/etc/passwd", "../../etc/passwd", "a/../b", "a//b", "./a", "a/", "a\0b"] {
            let mut m = Manifest::default();
            m.snapshot.insert(bad, FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(b"x") });
            let err = decode(&encode(&m), Path::new("m")).unwrap_err().to_string();
            assert!(err.contains("is not a path a scan records"), "{bad:?}: {err}");
        }
        for good in ["a", ".hidden/x", "a..b/c", "we\\ird\nname", "文档/x.png"] {
            let mut m = Manifest::default();
            m.snapshot.insert(good, FileMeta { size: 1, mtime_ns: 1, hash: ContentHash::of(b"x") });
            assert_eq!(decode(&encode(&m), Path::new("m")).unwrap(), m, "{good:?}");
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
        let head = &body[..MAGIC.len() + 16];
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
