//! Shared vocabulary of cdnsync: files, snapshots, change sets, areas, jobs and quotas.
//!
//! Nothing here does I/O; every other module speaks in these types.

pub mod limits;
mod snapshot;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use snapshot::{Snapshot, SnapshotIter};

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

/// A symlink inside `publish_dir` that resolves outside it (`docs/config.md`, `symlinks`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutsideLink {
    /// The link, relative to `publish_dir` (`/`-separated).
    pub path: String,
    /// Where it resolves, every link on the way followed.
    pub target: String,
    /// Did the scan follow it (and track what is behind it)?
    pub followed: bool,
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

/// Which of Tencent's purge APIs a config speaks (`[provider] api`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// CDN API 3.0: `cdn.tencentcloudapi.com`, TC3-HMAC-SHA256.
    V3,
    /// The legacy CDN API: `cdn.api.qcloud.com/v2/index.php`.
    V2,
    /// EdgeOne (`teo.tencentcloudapi.com`, version 2022-09-01), TC3-HMAC-SHA256 with service `teo`.
    #[serde(rename = "edgeone")]
    EdgeOne,
}

impl Api {
    /// The config's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V3 => "v3",
            Api::V2 => "v2",
            Api::EdgeOne => "edgeone",
        }
    }

    /// The areas its jobs carry: the CDN's two, or EdgeOne's one [`Area::Global`] (an EdgeOne
    /// task covers every node serving the zone; its acceleration area is the zone's).
    pub fn areas(self) -> &'static [Area] {
        match self {
            Api::V3 | Api::V2 => &Area::ALL,
            Api::EdgeOne => &[Area::Global],
        }
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
    /// Everywhere the zone is served: what EdgeOne jobs carry, since its purge and prefetch
    /// calls take no area (never a value of a domain's `areas`).
    Global,
}

impl Area {
    /// Both CDN areas (EdgeOne's jobs carry [`Area::Global`] instead: [`Api::areas`]).
    pub const ALL: [Area; 2] = [Area::Mainland, Area::Overseas];

    /// The name: `mainland`, `overseas` (the CDN API's) or `global` (EdgeOne's jobs).
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Mainland => "mainland",
            Area::Overseas => "overseas",
            Area::Global => "global",
        }
    }

    /// Parse the CDN API's name (`mainland` or `overseas`; never `global`).
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
    /// Every kind, in sending order (purges before prefetches).
    pub const ALL: [JobKind; 3] = [JobKind::PurgeUrls, JobKind::PurgePaths, JobKind::PrefetchUrls];

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

/// Where a job stands (`docs/json.md`, "Values").
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
    /// The status name of the JSON reports (`docs/json.md`).
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

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API's word on a failed job: its code and message (`error` in `docs/json.md`).
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

/// Is `id` of the form [`new_job_id`] makes: `<digits>-<4 or more digits>-<8 lower-case hex>`
/// (at most 64 characters)? Ids are file names in the outbox: anything else (`../x`, `/etc/x`,
/// an empty name) is refused, never used as a path.
pub fn is_job_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let (Some(time), Some(seq), Some(rand), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    id.len() <= 64
        && digits(time)
        && digits(seq)
        && seq.len() >= 4
        && rand.len() == 8
        && rand.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

    /// The documented limits of `api` ([`limits`]), every quota full: what is assumed until
    /// the API (or the v2 ledger) says otherwise.
    pub fn documented(api: Api, v2_dedicated_overseas: bool) -> Self {
        let mut b = QuotaBook::default();
        for kind in JobKind::ALL {
            for &area in api.areas() {
                let l = limits::documented(api, kind, area, v2_dedicated_overseas);
                b.set(kind, area, QuotaEntry { batch: l.batch, total: l.daily, available: l.daily });
            }
        }
        b
    }

    /// [`QuotaBook::documented`] for API 3.0.
    pub fn documented_v3() -> Self {
        Self::documented(Api::V3, false)
    }
}

#[cfg(test)]
mod hex_tests {
    use super::*;

    #[test]
    fn job_ids_are_what_new_job_id_makes_and_nothing_else() {
        for seq in [1, 42, 9001, 123_456] {
            let id = new_job_id(1_732_380_000, seq);
            assert!(is_job_id(&id), "{id}");
        }
        for bad in [
            "",
            "../../victim",
            "/etc/passwd",
            "1732380000-0001-9f3a61c2/../x",
            "1732380000-0001-9F3A61C2",
            "1732380000-001-9f3a61c2",
            "1732380000-0001-9f3a61c",
            "-0001-9f3a61c2",
            "1732380000-0001-9f3a61c2-x",
            "1732380000-0001-9f3a61c2.json",
            "173238000a-0001-9f3a61c2",
            "+1732380000-0001-9f3a61c2",
        ] {
            assert!(!is_job_id(bad), "{bad:?}");
        }
        assert!(!is_job_id(&format!("{}-0001-9f3a61c2", "1".repeat(60))), "too long");
    }

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
