//! `state_dir/last-deploy.json`: what the last deploy that changed something changed, so that
//! `cdnsync verify` can check it later (the manifest keeps only the new hashes; this keeps the
//! previous ones too, which is how a stale answer is told from a different one).
//!
//! Written by `sync` before the manifest is replaced, only when the deploy changed files (a sync
//! with nothing new keeps the record of the deploy before it). Added and modified files only:
//! a removed file has no bytes to compare. A missing record is `None`; a damaged one is an I/O
//! error naming the file (only `verify` reads it, and then has nothing trustworthy to check).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ChangeSet, ContentHash, Snapshot};

/// Format version written; a record of another version is refused.
const VERSION: u32 = 1;

/// One changed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedFile {
    /// Relative to `publish_dir`.
    pub path: String,
    /// BLAKE3 of the deployed bytes, hex.
    pub hash: String,
    /// Bytes deployed.
    pub size: u64,
    /// BLAKE3 of the bytes before the deploy, hex; `None` for an added file (or when equal).
    pub previous: Option<String>,
}

impl DeployedFile {
    /// The deployed hash (`None` when the record holds no valid hex).
    pub fn expected(&self) -> Option<ContentHash> {
        ContentHash::from_hex(&self.hash)
    }

    /// The previous hash, when known.
    pub fn previous_hash(&self) -> Option<ContentHash> {
        self.previous.as_deref().and_then(ContentHash::from_hex)
    }
}

/// The record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    /// Format version.
    pub version: u32,
    /// When the sync recorded it (Unix seconds).
    pub at_unix: i64,
    /// Added and modified files, sorted by path.
    pub files: Vec<DeployedFile>,
    /// How many files the deploy removed (not checked).
    pub removed: usize,
}

impl Deploy {
    /// The record of `changes`, from the trees before and after.
    pub fn of(changes: &ChangeSet, previous: Option<&Snapshot>, current: &Snapshot, at_unix: i64) -> Deploy {
        let mut files: Vec<DeployedFile> = changes
            .added
            .iter()
            .chain(&changes.modified)
            .filter_map(|p| {
                let now = current.get(p)?;
                let before = previous.and_then(|s| s.get(p)).map(|m| m.hash).filter(|h| *h != now.hash);
                Some(DeployedFile { path: p.clone(), hash: now.hash.to_hex(), size: now.size, previous: before.map(|h| h.to_hex()) })
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Deploy { version: VERSION, at_unix, files, removed: changes.removed.len() }
    }
}

/// Where the record lives.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("last-deploy.json")
}

/// Replace the record, atomically.
pub fn save(state_dir: &Path, d: &Deploy) -> Result<()> {
    super::ensure_dir(state_dir)?;
    super::write_atomic(&path(state_dir), &serde_json::to_vec(d).expect("the record serialises"))
}

/// The last record, if any.
pub fn load(state_dir: &Path) -> Result<Option<Deploy>> {
    let p = path(state_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(p, e)),
    };
    let damaged = |reason: String| {
        let why = format!("damaged deploy record ({reason}); the next deploy replaces it, and `verify --all-tracked` does not read it");
        Error::io(&p, std::io::Error::new(std::io::ErrorKind::InvalidData, why))
    };
    let d: Deploy = serde_json::from_slice(&bytes).map_err(|e| damaged(format!("not a deploy record: {e}")))?;
    if d.version != VERSION {
        return Err(damaged(format!("format version {} (this cdnsync reads {VERSION})", d.version)));
    }
    if let Some(f) =
        d.files.iter().find(|f| f.expected().is_none() || f.previous.as_deref().is_some_and(|h| ContentHash::from_hex(h).is_none()))
    {
        return Err(damaged(format!("{}: not a BLAKE3 hash", f.path)));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FileMeta;

    fn tree(files: &[(&str, &str)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (p, c) in files {
            s.insert(p, FileMeta { size: c.len() as u64, mtime_ns: 1, hash: ContentHash::of(c.as_bytes()) });
        }
        s
    }

    #[test]
    fn records_added_and_modified_with_their_previous_hash() {
        let before = tree(&[("a.html", "old a"), ("gone.html", "x"), ("same.css", "s")]);
        let after = tree(&[("a.html", "new a"), ("b.html", "new b"), ("same.css", "s")]);
        let changes = crate::plan::diff::diff(&before, &after);
        let d = Deploy::of(&changes, Some(&before), &after, 1_700_000_000);
        assert_eq!(d.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a.html", "b.html"]);
        assert_eq!(d.files[0].previous_hash(), Some(ContentHash::of(b"old a")));
        assert_eq!((d.files[0].expected(), d.files[0].size), (Some(ContentHash::of(b"new a")), 5));
        assert_eq!(d.files[1].previous, None, "added: nothing before");
        assert_eq!(d.removed, 1);
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(load(tmp.path()).unwrap(), None);
        save(tmp.path(), &d).unwrap();
        assert_eq!(load(tmp.path()).unwrap(), Some(d));
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            "{\"version\": 1, \"at_unix\": 1, \"files\": [",
            "{\"version\": 9, \"at_unix\": 1, \"files\": [], \"removed\": 0}",
            "{\"version\": 1, \"at_unix\": 1, \"files\": [{\"path\": \"a\", \"hash\": \"zz\", \"size\": 1, \"previous\": null}], \"removed\": 0}",
            "[]",
        ];
        for text in cases {
            std::fs::write(path(tmp.path()), text).unwrap();
            let e = load(tmp.path()).unwrap_err().to_string();
            assert!(e.contains("last-deploy.json") && e.contains("damaged"), "{text}: {e}");
        }
    }
}
