//! The validated configuration: what the rest of the crate reads. Every value here has passed
//! `validate` (or a `Builder`, which goes through the same path), so no consumer re-checks it.
//!
//! Adding a key: a field on its section's struct here, with its default in that struct's
//! `Default` (the value a file without the key gets); see `validate.rs` for the rest.

use std::path::PathBuf;
use std::time::Duration;

use globset::GlobSet;

use crate::model::limits;
use crate::model::{Api, Area, JobKind};

/// Signature algorithm of the legacy API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    /// HMAC-SHA1.
    HmacSha1,
    /// HMAC-SHA256.
    HmacSha256,
}

impl SignatureMethod {
    /// The `SignatureMethod` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HmacSHA1",
            SignatureMethod::HmacSha256 => "HmacSHA256",
        }
    }
}

/// HTTP method of the legacy API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// Parameters in the query string.
    Get,
    /// Parameters in a form body.
    Post,
}

impl HttpMethod {
    /// The HTTP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// How the legacy API handles overseas purges and prefetches (`docs/config.md`, `v2_overseas`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Overseas {
    /// FlushOrPushOverall with `oversea=1`.
    Overall,
    /// RefreshCdnOverSeaUrl / CdnOverseaPushser.
    Dedicated,
}

/// May URL purges be replaced by directory purges?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collapse {
    /// Collapse to directory purges when quota or share calls for it.
    Auto,
    /// Always purge URL by URL.
    Never,
}

/// Where requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// `host[:port]`, exactly as sent in the `Host` header and signed.
    pub host: String,
    /// Request path (`/` for API 3.0, `/v2/index.php` for v2 unless overridden).
    pub path: String,
}

impl Endpoint {
    /// The base URL, `scheme://host[:port]`.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path)
    }
}

/// `[provider]`.
#[derive(Clone, Debug)]
pub struct Provider {
    /// API generation.
    pub api: Api,
    /// Where requests go.
    pub endpoint: Endpoint,
    /// `http://` to a host that is not loopback is allowed (a trusted proxy adds TLS).
    pub allow_plain_http: bool,
    /// Optional region parameter.
    pub region: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// v2 signature method.
    pub signature_method: SignatureMethod,
    /// v2 HTTP method.
    pub http_method: HttpMethod,
    /// v2 overseas actions.
    pub v2_overseas: V2Overseas,
    /// v2 has no task query: wait this long after a purge before prefetching the same URLs.
    pub v2_prefetch_delay: Duration,
    /// Where the credentials come from (`credentials`, the role keys).
    pub credentials: super::CredentialSettings,
    /// EdgeOne: the account's site, which picks the API host.
    pub site: super::Site,
}

impl Default for Provider {
    /// A config without `[provider]`: API 3.0 at its public address.
    fn default() -> Self {
        Provider {
            api: Api::V3,
            endpoint: default_endpoint(Api::V3),
            allow_plain_http: false,
            region: None,
            timeout: Duration::from_secs(30),
            signature_method: SignatureMethod::HmacSha1,
            http_method: HttpMethod::Post,
            v2_overseas: V2Overseas::Overall,
            v2_prefetch_delay: Duration::from_secs(60),
            credentials: super::CredentialSettings::default(),
            site: super::Site::Mainland,
        }
    }
}

/// The real API's address for each generation.
pub fn default_endpoint(api: Api) -> Endpoint {
    match api {
        Api::V3 => Endpoint { scheme: "https".into(), host: "cdn.tencentcloudapi.com".into(), path: "/".into() },
        Api::V2 => Endpoint { scheme: "https".into(), host: "cdn.api.qcloud.com".into(), path: "/v2/index.php".into() },
        Api::EdgeOne => super::edgeone::endpoint(super::Site::Mainland),
    }
}

/// Which symlinks the scan follows (`symlinks`, `docs/config.md`). A symlinked `publish_dir`
/// is followed whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Symlinks {
    /// Every link, wherever it leads (as web servers do), except into pseudo filesystems.
    #[default]
    Follow,
    /// Only links that resolve inside `publish_dir`.
    Inside,
    /// None.
    Skip,
}

impl Symlinks {
    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Symlinks::Follow => "follow",
            Symlinks::Inside => "inside",
            Symlinks::Skip => "skip",
        }
    }
}

/// A domain's URL scheme (`[[domain]] scheme`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `https://` (the default).
    Https,
    /// `http://`.
    Http,
}

impl Scheme {
    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// A folder URL an index file stands for (`[[domain]] index_aliases`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexAlias {
    /// `https://host/docs/`.
    Slash,
    /// `https://host/docs`.
    Bare,
    /// `https://host/docs/index.html` (always purged; accepted for completeness).
    File,
}

impl IndexAlias {
    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexAlias::Slash => "slash",
            IndexAlias::Bare => "bare",
            IndexAlias::File => "file",
        }
    }
}

/// `[[domain]]`, compiled.
#[derive(Clone, Debug)]
pub struct Domain {
    /// The CDN domain, e.g. `www.example.com`.
    pub host: String,
    /// `https` or `http`.
    pub scheme: String,
    /// Starts and ends with `/`.
    pub base_path: String,
    /// Files this domain serves (all when empty).
    pub include: GlobSet,
    /// Files this domain does not serve.
    pub exclude: GlobSet,
    /// Files to prefetch after their purge.
    pub prefetch: GlobSet,
    /// Where the domain is accelerated.
    pub areas: Vec<Area>,
    /// Index file names (`index.html`), also purged as their directory URL.
    pub index_files: Vec<String>,
    /// Purge `dir/` for `dir/index.html`.
    pub alias_slash: bool,
    /// Purge `dir` (no slash) too.
    pub alias_bare: bool,
    /// Purge added files too (a cached 404 may exist).
    pub purge_added: bool,
    /// EdgeOne: the zone serving `host`; looked up by host when `None`.
    pub zone_id: Option<String>,
    /// EdgeOne: how directory and whole-host purges drop cached copies.
    pub method: super::PurgeMethod,
    /// Purge only once this origin serves the new bytes (`origin`, an absolute http(s) URL).
    pub origin: Option<String>,
    /// How long a sync waits for the origin (`origin_wait_secs`).
    pub origin_wait: Duration,
    /// How `verify` checks this domain's URLs.
    pub verify: super::VerifyMode,
}

/// `[watch]`.
#[derive(Clone, Debug)]
pub struct Watch {
    /// Quiet time that ends a burst.
    pub settle: Duration,
    /// Longest a burst may delay a sync.
    pub max_wait: Duration,
    /// Relative to `publish_dir`, `/`-separated.
    pub trigger_file: Option<String>,
    /// Serve `/metrics` and `/healthz` on this address (`metrics`; port 0: any free port).
    pub metrics: Option<std::net::SocketAddr>,
}

impl Default for Watch {
    /// A config without `[watch]`.
    fn default() -> Self {
        Watch { settle: Duration::from_millis(1500), max_wait: Duration::from_millis(30_000), trigger_file: None, metrics: None }
    }
}

/// The ceiling of `[limits] requests_per_second`: the documented per-action rate.
pub const MAX_REQUESTS_PER_SECOND: u32 = limits::V3_REQUESTS_PER_SECOND;

/// Default of `[limits] max_root_purges_per_day`: a whole-site flush chosen by a collapse is rare
/// enough that a third one in a day means something is wrong (a generator rewriting every file).
pub const DEFAULT_MAX_ROOT_PURGES_PER_DAY: u32 = 2;
/// The default of `[limits] max_files`.
pub const DEFAULT_MAX_FILES: u64 = 2_000_000;

/// The ceiling of `[limits] max_files`: each tracked path costs memory in every sync.
pub const MAX_MAX_FILES: u64 = 100_000_000;

/// `[limits]`.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Directory-purge collapse policy.
    pub collapse: Collapse,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Client-side rate per action (API 3.0).
    pub requests_per_second: u32,
    /// URLs per PurgeUrlsCache request.
    pub purge_urls_batch: u64,
    /// Paths per PurgePathCache request.
    pub purge_paths_batch: u64,
    /// URLs per PushUrlsCache request.
    pub prefetch_batch: u64,
    /// How long one run keeps retrying transient failures before leaving the job owed.
    pub retry_deadline: Duration,
    /// How often a day (per domain and area) a collapse may choose a purge of the whole site.
    pub max_root_purges_per_day: u32,
    /// Most files and folders one scan may find: past it the scan stops with an error.
    pub max_files: u64,
}

impl Limits {
    /// The configured ceiling of one request's size for `kind`.
    pub fn batch(&self, kind: JobKind) -> u64 {
        match kind {
            JobKind::PurgeUrls => self.purge_urls_batch,
            JobKind::PurgePaths => self.purge_paths_batch,
            JobKind::PrefetchUrls => self.prefetch_batch,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            collapse: Collapse::Auto,
            concurrency: 4,
            requests_per_second: MAX_REQUESTS_PER_SECOND,
            purge_urls_batch: limits::max_batch(JobKind::PurgeUrls),
            purge_paths_batch: limits::max_batch(JobKind::PurgePaths),
            prefetch_batch: limits::max_batch(JobKind::PrefetchUrls),
            retry_deadline: Duration::from_secs(300),
            max_root_purges_per_day: DEFAULT_MAX_ROOT_PURGES_PER_DAY,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

/// A validated configuration. Every path is absolute or relative to the process's directory
/// (already joined onto the config file's folder).
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file (or a name for a config built in code).
    pub source: PathBuf,
    /// The folder the origin serves (absolute, or relative to the config's folder).
    pub publish_dir: PathBuf,
    /// Line of `publish_dir` in the source, for errors found later.
    pub publish_dir_line: Option<usize>,
    /// Manifest, outbox, lock, caches.
    pub state_dir: PathBuf,
    /// Built-in excludes plus the config's.
    pub exclude: GlobSet,
    /// Excludes that name whole directories (patterns ending in `/**`), to skip walking them.
    pub exclude_dirs: GlobSet,
    /// Which symlinks the scan follows.
    pub symlinks: Symlinks,
    /// TOML file with `secret_id`, `secret_key`, `token`.
    pub credentials_file: Option<PathBuf>,
    /// Where the published manifest can be fetched (CI runners without state).
    pub manifest_url: Option<String>,
    /// What a sync that finds no manifest does (`if_no_state`, or the default for CI or not).
    pub if_no_state: super::NoStatePolicy,
    /// `[provider]`.
    pub provider: Provider,
    /// `[[domain]]` blocks.
    pub domains: Vec<Domain>,
    /// `[watch]`.
    pub watch: Watch,
    /// `[limits]`.
    pub limits: Limits,
    /// `[verify]`.
    pub verify: super::VerifySettings,
    /// `[fleet]`: coordinate with the site's other origin servers through Redis.
    pub fleet: Option<super::FleetConfig>,
}

/// Always excluded: version-control folders, editor swap and backup files, rsync's temp files.
pub const BUILTIN_EXCLUDES: &[&str] = &[
    "**/.git/**",
    "**/.git",
    "**/.hg/**",
    "**/.svn/**",
    "**/.cdnsync/**",
    "**/*.swp",
    "**/*.swo",
    "**/*.swx",
    "**/.*.sw?",
    "**/*~",
    "**/.#*",
    "**/#*#",
    "**/4913",
    "**/.*.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]",
    "**/.~tmp~/**",
];
