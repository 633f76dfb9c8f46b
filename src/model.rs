//! Shared vocabulary of cdnsync: files, snapshots, change sets, areas, jobs and quotas.
//!
//! Nothing here does I/O; every other module speaks in these types.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A BLAKE3 content hash of one file.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Hash a byte slice (tests and small inputs).
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        // Hot when loading a 100,000-entry manifest: a table-free nibble decoder.
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (nibble(b[2 * i])? << 4) | nibble(b[2 * i + 1])?;
        }
        Some(ContentHash(out))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

/// What cdnsync remembers of one file: enough to skip rehashing an unchanged file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// BLAKE3 of the content.
    pub hash: ContentHash,
}

/// The tracked tree: publish-dir relative paths (always `/`-separated) with their metadata,
/// sorted by path (byte order), each path once.
///
/// Stored flat: every path back to back in one string, and one array of entries. A 100,000-file
/// snapshot is then two allocations instead of 100,000 strings and a tree of nodes, so loading,
/// comparing and freeing it (each done once per sync) stay cheap; lookups are binary searches.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every path, in order, back to back.
    paths: String,
    /// Per file, in path order: where its path ends in `paths` (it starts where the previous one
    /// ends) and its metadata.
    entries: Vec<(usize, FileMeta)>,
}

impl Snapshot {
    /// An empty snapshot with room for `files` files whose paths total `path_bytes` bytes.
    pub fn with_capacity(files: usize, path_bytes: usize) -> Self {
        Snapshot { paths: String::with_capacity(path_bytes), entries: Vec::with_capacity(files) }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No files?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The path of the `i`-th file (in path order).
    pub(crate) fn path_at(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.entries[i - 1].0 };
        &self.paths[start..self.entries[i].0]
    }

    /// The files, in path order.
    pub fn iter(&self) -> SnapshotIter<'_> {
        SnapshotIter { snapshot: self, front: 0, back: self.entries.len() }
    }

    /// The paths, in order.
    pub fn paths(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + Clone + '_ {
        self.iter().map(|(p, _)| p)
    }

    /// Where `path` is, or would be inserted.
    fn search(&self, path: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.path_at(mid).cmp(path) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// The metadata of one file.
    pub fn get(&self, path: &str) -> Option<&FileMeta> {
        self.search(path).ok().map(|i| &self.entries[i].1)
    }

    /// Is `path` tracked?
    pub fn contains(&self, path: &str) -> bool {
        self.search(path).is_ok()
    }

    /// Append a file that sorts after every file already here: the way to build a snapshot from
    /// sorted input (a walk, a manifest). Returns `false`, changing nothing, if `path` is out of
    /// order or already present.
    pub fn push(&mut self, path: &str, meta: FileMeta) -> bool {
        if let Some(last) = self.entries.len().checked_sub(1) {
            if self.path_at(last) >= path {
                return false;
            }
        }
        self.paths.push_str(path);
        self.entries.push((self.paths.len(), meta));
        true
    }

    /// Add or replace one file, anywhere (moves the files after it: for small edits; build
    /// large snapshots with [`Snapshot::push`] or `collect`). Returns the metadata it replaced.
    pub fn insert(&mut self, path: &str, meta: FileMeta) -> Option<FileMeta> {
        match self.search(path) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, meta)),
            Err(i) => {
                let at = if i == 0 { 0 } else { self.entries[i - 1].0 };
                self.paths.insert_str(at, path);
                for e in &mut self.entries[i..] {
                    e.0 += path.len();
                }
                self.entries.insert(i, (at + path.len(), meta));
                None
            }
        }
    }

    /// The metadata of the `i`-th file (in path order), to update in place.
    pub(crate) fn meta_at_mut(&mut self, i: usize) -> &mut FileMeta {
        &mut self.entries[i].1
    }

    /// Keep only the files for which `keep(path, meta)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &FileMeta) -> bool) {
        self.retain_at(|_, p, m| keep(p, m));
    }

    /// Keep only the files for which `keep(i, path, meta)` is true, `i` being the file's index
    /// in path order.
    pub(crate) fn retain_at(&mut self, mut keep: impl FnMut(usize, &str, &FileMeta) -> bool) {
        let mut out = Snapshot::with_capacity(self.len(), self.paths.len());
        for (i, (p, m)) in self.iter().enumerate() {
            if keep(i, p, m) {
                out.paths.push_str(p);
                out.entries.push((out.paths.len(), *m));
            }
        }
        *self = out;
    }

    /// Remove each of `paths` and, where one is a directory, every file under it.
    pub fn remove_trees(&mut self, paths: &[&str]) {
        let mut drop = vec![false; self.len()];
        for p in paths {
            if let Ok(i) = self.search(p) {
                drop[i] = true;
            }
            // Under "p/": from "p/" up to (not including) "p0", '0' being '/' + 1.
            let from = self.search(&format!("{p}/")).unwrap_or_else(|i| i);
            let to = self.search(&format!("{p}0")).unwrap_or_else(|i| i);
            drop[from..to].iter_mut().for_each(|d| *d = true);
        }
        self.retain_at(|i, _, _| !drop[i]);
    }
}

/// The files of a [`Snapshot`], in path order.
#[derive(Clone, Debug)]
pub struct SnapshotIter<'a> {
    snapshot: &'a Snapshot,
    front: usize,
    back: usize,
}

impl<'a> Iterator for SnapshotIter<'a> {
    type Item = (&'a str, &'a FileMeta);

    fn next(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.front += 1;
            (self.snapshot.path_at(self.front - 1), &self.snapshot.entries[self.front - 1].1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl DoubleEndedIterator for SnapshotIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            (self.snapshot.path_at(self.back), &self.snapshot.entries[self.back].1)
        })
    }
}

impl ExactSizeIterator for SnapshotIter<'_> {}

impl<'a> IntoIterator for &'a Snapshot {
    type Item = (&'a str, &'a FileMeta);
    type IntoIter = SnapshotIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Any order; a path given twice keeps its last metadata.
impl<P: AsRef<str>> FromIterator<(P, FileMeta)> for Snapshot {
    fn from_iter<I: IntoIterator<Item = (P, FileMeta)>>(iter: I) -> Self {
        let mut v: Vec<(P, FileMeta)> = iter.into_iter().collect();
        // Stable: of equal paths, the last given comes last and wins below.
        v.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut s = Snapshot::with_capacity(v.len(), v.iter().map(|(p, _)| p.as_ref().len()).sum());
        for (i, (p, m)) in v.iter().enumerate() {
            if v.get(i + 1).is_none_or(|next| next.0.as_ref() != p.as_ref()) {
                s.push(p.as_ref(), *m);
            }
        }
        s
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What changed between two snapshots. Paths are sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// New files.
    pub added: Vec<String>,
    /// Files whose content changed.
    pub modified: Vec<String>,
    /// Files gone.
    pub removed: Vec<String>,
    /// How many files did not change.
    pub unchanged: usize,
}

impl ChangeSet {
    /// Nothing added, modified or removed?
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// Added + modified + removed.
    pub fn changed_count(&self) -> usize {
        self.added.len() + self.modified.len() + self.removed.len()
    }
}

/// Where a domain is accelerated, and so where its cache is purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Chinese mainland.
    Mainland,
    /// Outside the Chinese mainland.
    Overseas,
}

impl Area {
    /// Both areas.
    pub const ALL: [Area; 2] = [Area::Mainland, Area::Overseas];

    /// The API's name: `mainland` or `overseas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Mainland => "mainland",
            Area::Overseas => "overseas",
        }
    }

    /// Parse the API's name.
    pub fn parse(s: &str) -> Option<Area> {
        match s {
            "mainland" => Some(Area::Mainland),
            "overseas" => Some(Area::Overseas),
            _ => None,
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three kinds of work cdnsync sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Purge individual URLs (PurgeUrlsCache / FlushOrPushOverall type=url).
    PurgeUrls,
    /// Purge directories (PurgePathCache / FlushOrPushOverall type=dir).
    PurgePaths,
    /// Prefetch URLs (PushUrlsCache / FlushOrPushOverall command=push).
    PrefetchUrls,
}

impl JobKind {
    /// `purge_urls`, `purge_paths` or `prefetch_urls`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::PurgeUrls => "purge_urls",
            JobKind::PurgePaths => "purge_paths",
            JobKind::PrefetchUrls => "prefetch_urls",
        }
    }

    /// A purge (URL or directory)?
    pub fn is_purge(self) -> bool {
        !matches!(self, JobKind::PrefetchUrls)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job stands. SPEC §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Planned only (`plan`), never written.
    Planned,
    /// The API accepted it; it has left the outbox.
    Accepted,
    /// Owed, to be sent (or resent after a transient failure).
    Pending,
    /// Owed, waiting for the daily quota to reset.
    Deferred,
    /// Refused for good by the API; kept in the outbox until the cause is fixed.
    Failed,
}

impl JobStatus {
    /// The SPEC §6 status name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Planned => "planned",
            JobStatus::Accepted => "accepted",
            JobStatus::Pending => "pending",
            JobStatus::Deferred => "deferred",
            JobStatus::Failed => "failed",
        }
    }
}

/// The API's word on a failed job: its code and message (SPEC §6 `error`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// The API's error code (or cdnsync's, e.g. `QuotaExhausted`).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// One unit of work for the API: one request's worth of URLs for one domain, area and kind.
///
/// Jobs are what the outbox persists, so every field is plain data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Stable ID (also the outbox file name).
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// Where.
    pub area: Area,
    /// The CDN domain every URL of this job belongs to.
    pub host: String,
    /// Full URLs (`purge_urls`, `prefetch_urls`) or directory URLs ending in `/` (`purge_paths`).
    pub urls: Vec<String>,
    /// Where it stands.
    pub status: JobStatus,
    #[serde(default)]
    /// The API's task ID, once accepted.
    pub task_id: Option<String>,
    #[serde(default)]
    /// The last failure.
    pub error: Option<JobError>,
    /// Requests made for this job so far, over all runs.
    #[serde(default)]
    pub attempts: u32,
    /// When the job was planned (Unix seconds).
    pub created_unix: i64,
    /// A deferred job is not sent before this time (Unix seconds).
    #[serde(default)]
    pub not_before_unix: Option<i64>,
    /// Set when a request for this job may have reached the API without an answer
    /// (a timeout after sending): the task is looked up before the job is sent again.
    #[serde(default)]
    pub maybe_sent_unix: Option<i64>,
}

impl Job {
    /// A freshly planned job (status `planned`, never sent), planned at `now_unix`; `seq` keeps
    /// the ids of one plan apart.
    pub fn planned(kind: JobKind, area: Area, host: &str, urls: Vec<String>, now_unix: i64, seq: usize) -> Job {
        Job {
            id: new_job_id(now_unix, seq),
            kind,
            area,
            host: host.to_string(),
            urls,
            status: JobStatus::Planned,
            task_id: None,
            error: None,
            attempts: 0,
            created_unix: now_unix,
            not_before_unix: None,
            maybe_sent_unix: None,
        }
    }

    /// Number of quota units this job spends (one per URL or directory).
    pub fn cost(&self) -> u64 {
        self.urls.len() as u64
    }
}

/// Creates job ids: the planning time plus a per-process counter and random suffix,
/// so ids from concurrent processes and repeated runs never collide.
pub fn new_job_id(now_unix: i64, seq: usize) -> String {
    format!("{now_unix}-{seq:04}-{:08x}", fastrand::u32(..))
}

/// Limits and remaining quota for one (kind, area), as the API reported them or as documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaEntry {
    /// Most URLs or paths in one request.
    pub batch: u64,
    /// Daily total.
    pub total: u64,
    /// What is left today.
    pub available: u64,
}

/// The quota picture for every (kind, area), plus when it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaBook {
    /// Unix seconds when the API (or the ledger) was last asked; `None` for documented defaults.
    #[serde(default)]
    pub read_unix: Option<i64>,
    /// Keyed by `"{kind}/{area}"`, e.g. `"purge_urls/mainland"`.
    pub entries: BTreeMap<String, QuotaEntry>,
}

impl QuotaBook {
    /// The book's key for (kind, area): `kind/area`.
    pub fn key(kind: JobKind, area: Area) -> String {
        format!("{}/{}", kind.as_str(), area.as_str())
    }

    /// The entry for (kind, area).
    pub fn get(&self, kind: JobKind, area: Area) -> Option<QuotaEntry> {
        self.entries.get(&Self::key(kind, area)).copied()
    }

    /// Set the entry for (kind, area).
    pub fn set(&mut self, kind: JobKind, area: Area, e: QuotaEntry) {
        self.entries.insert(Self::key(kind, area), e);
    }

    /// The documented defaults of API 3.0 (`tencent-api.md`), used when nothing better is known.
    pub fn documented_v3() -> Self {
        let mut b = QuotaBook::default();
        for area in Area::ALL {
            b.set(JobKind::PurgeUrls, area, QuotaEntry { batch: 1000, total: 10_000, available: 10_000 });
            b.set(JobKind::PurgePaths, area, QuotaEntry { batch: 500, total: 100, available: 100 });
            b.set(JobKind::PrefetchUrls, area, QuotaEntry { batch: 500, total: 1000, available: 1000 });
        }
        b
    }
}

#[cfg(test)]
mod hex_tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = ContentHash::of(b"cdnsync");
        assert_eq!(ContentHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(ContentHash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(ContentHash::from_hex(&h.to_hex()[..62]), None);
        let mut bad = h.to_hex();
        bad.replace_range(10..11, "g");
        assert_eq!(ContentHash::from_hex(&bad), None);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    fn meta(n: u64) -> FileMeta {
        FileMeta { size: n, mtime_ns: n as i64, hash: ContentHash::of(&n.to_le_bytes()) }
    }

    /// The files as owned pairs, to compare with a `BTreeMap`, the obvious model of a sorted map.
    fn model(s: &Snapshot) -> Vec<(String, FileMeta)> {
        s.iter().map(|(p, m)| (p.to_string(), *m)).collect()
    }

    #[test]
    fn behaves_like_a_sorted_map() {
        let names = ["b/c", "a", "b", "b/", "b0", "a.html", "a/x", "文档", "", "b/c/d", "a", "zz"];
        let mut reference: BTreeMap<String, FileMeta> = BTreeMap::new();
        let mut s = Snapshot::default();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(s.insert(n, meta(i as u64)), reference.insert(n.to_string(), meta(i as u64)), "insert {n:?}");
            assert_eq!(model(&s), reference.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        }
        assert_eq!(s.len(), reference.len());
        for n in names.iter().chain(&["nope", "b/c/", "a/"]) {
            assert_eq!(s.get(n), reference.get(*n), "get {n:?}");
            assert_eq!(s.contains(n), reference.contains_key(*n));
        }
        // Collected in any order, the last value of a repeated path wins, as in a map.
        let collected: Snapshot = names.iter().enumerate().rev().map(|(i, n)| (*n, meta(i as u64))).collect();
        let expect: BTreeMap<&str, FileMeta> = names.iter().enumerate().rev().map(|(i, n)| (*n, meta(i as u64))).collect();
        assert_eq!(collected.iter().map(|(p, m)| (p, *m)).collect::<Vec<_>>(), expect.into_iter().collect::<Vec<_>>());
        assert_eq!(s.paths().next_back(), Some("文档"));
        assert_eq!(s.iter().len(), s.len());
    }

    #[test]
    fn push_accepts_only_sorted_input() {
        let mut s = Snapshot::default();
        assert!(s.push("a", meta(1)));
        assert!(s.push("a/b", meta(2)));
        assert!(!s.push("a/b", meta(3)), "duplicate");
        assert!(!s.push("a.html", meta(4)), "'.' sorts before '/'");
        assert!(s.push("b", meta(5)));
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a", "a/b", "b"]);
        assert_eq!(s.get("a/b"), Some(&meta(2)));
    }

    #[test]
    fn remove_trees_takes_a_path_and_everything_under_it() {
        let all = ["a", "a-b", "a.html", "a/b", "a/b/c", "a0", "b/a", "ba", "c"];
        let mut s: Snapshot = all.iter().enumerate().map(|(i, p)| (*p, meta(i as u64))).collect();
        s.remove_trees(&["a", "b", "missing"]);
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a-b", "a.html", "a0", "ba", "c"]);
        assert_eq!(s.get("a0"), Some(&meta(5)), "metadata follows its path");
        s.retain(|p, _| p.starts_with('a'));
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a-b", "a.html", "a0"]);
        assert_eq!(format!("{s:?}").matches("size").count(), 3, "Debug shows the files");
    }
}
