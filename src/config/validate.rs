//! `RawConfig` + its source text -> a typed [`Config`], or every problem found.
//!
//! Pure: text in, values out. The filesystem checks (does `publish_dir` exist?) live in
//! `config::load`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::raw::{RawConfig, RawDomain, S};
use super::{ConfigError, ConfigErrors};
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

/// How the legacy API handles overseas purges and prefetches (SPEC §4).
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
    /// True when `endpoint` was set in the config.
    pub endpoint_overridden: bool,
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
    /// EdgeOne: the account's site, which picks the API host.
    pub site: super::Site,
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
}

/// The ceiling of `[limits] requests_per_second`: the documented per-action rate.
pub const MAX_REQUESTS_PER_SECOND: u32 = limits::V3_REQUESTS_PER_SECOND;

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
    /// TOML file with `secret_id`, `secret_key`, `token`.
    pub credentials_file: Option<PathBuf>,
    /// Where the published manifest can be fetched (CI runners without state).
    pub manifest_url: Option<String>,
    /// `[provider]`.
    pub provider: Provider,
    /// `[[domain]]` blocks.
    pub domains: Vec<Domain>,
    /// `[watch]`.
    pub watch: Watch,
    /// `[limits]`.
    pub limits: Limits,
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

/// Compile one glob the way cdnsync matches paths: `*` stays within a path segment, `**` crosses.
pub fn compile_glob(pattern: &str) -> Result<globset::Glob, String> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().map_err(|e| e.kind().to_string())
}

/// Line (1-based) of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

struct V<'a> {
    text: &'a str,
    file: &'a Path,
    errors: Vec<ConfigError>,
}

impl V<'_> {
    fn err_at<T>(&mut self, s: &S<T>, key: &str, message: impl Into<String>) {
        let line = line_of(self.text, s.span().start);
        self.errors.push(ConfigError { file: self.file.to_path_buf(), line: Some(line), key: key.to_string(), message: message.into() });
    }

    fn err_key(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(ConfigError { file: self.file.to_path_buf(), line: None, key: key.to_string(), message: message.into() });
    }

    fn one_of<'v>(&mut self, s: &'v S<String>, key: &str, allowed: &[&'v str]) -> Option<&'v str> {
        let v = s.get_ref().as_str();
        if allowed.contains(&v) {
            Some(v)
        } else {
            let list = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
            self.err_at(s, key, format!("expected one of {list}, found \"{v}\""));
            None
        }
    }

    fn int_in(&mut self, s: &S<i64>, key: &str, lo: i64, hi: i64, why: &str) -> Option<i64> {
        let v = *s.get_ref();
        if (lo..=hi).contains(&v) {
            Some(v)
        } else {
            self.err_at(s, key, format!("expected a whole number from {lo} to {hi}{why}, found {v}"));
            None
        }
    }

    fn globs(&mut self, list: &[S<String>], key: &str) -> GlobSet {
        let mut b = GlobSetBuilder::new();
        for (i, g) in list.iter().enumerate() {
            match compile_glob(g.get_ref()) {
                Ok(glob) => {
                    b.add(glob);
                }
                Err(e) => self.err_at(g, &format!("{key}[{i}]"), format!("invalid glob \"{}\": {e}", g.get_ref())),
            }
        }
        b.build().unwrap_or_else(|_| GlobSet::empty())
    }
}

/// Validate a parsed config. `file` names the source in errors; `base_dir` anchors relative paths.
pub fn validate(raw: RawConfig, text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut v = V { text, file, errors: Vec::new() };

    let publish_dir = match &raw.publish_dir {
        Some(p) if p.get_ref().trim().is_empty() => {
            v.err_at(p, "publish_dir", "expected the folder the CDN's origin serves, found an empty string");
            PathBuf::new()
        }
        Some(p) => base_dir.join(p.get_ref()),
        None => {
            v.err_key("publish_dir", "missing required key: the folder the CDN's origin serves, e.g. publish_dir = \"public\"");
            PathBuf::new()
        }
    };
    let publish_dir_line = raw.publish_dir.as_ref().map(|p| line_of(text, p.span().start));
    let state_dir = match &raw.state_dir {
        Some(p) if p.get_ref().trim().is_empty() => {
            v.err_at(p, "state_dir", "expected a folder path, found an empty string");
            PathBuf::new()
        }
        Some(p) => base_dir.join(p.get_ref()),
        None => base_dir.join(".cdnsync"),
    };

    let mut ex = GlobSetBuilder::new();
    let mut ex_dirs = GlobSetBuilder::new();
    for p in BUILTIN_EXCLUDES {
        ex.add(compile_glob(p).expect("built-in globs compile"));
        if let Some(d) = p.strip_suffix("/**") {
            ex_dirs.add(compile_glob(d).expect("built-in globs compile"));
        }
    }
    for (i, g) in raw.exclude.iter().enumerate() {
        match compile_glob(g.get_ref()) {
            Ok(glob) => {
                ex.add(glob);
                if let Some(d) = g.get_ref().strip_suffix("/**") {
                    if let Ok(dg) = compile_glob(d) {
                        ex_dirs.add(dg);
                    }
                }
            }
            Err(e) => v.err_at(g, &format!("exclude[{i}]"), format!("invalid glob \"{}\": {e}", g.get_ref())),
        }
    }
    // The trigger file is a signal from the deploy tool, not content: never tracked or purged.
    let watch = watch(&mut v, raw.watch.as_ref());
    if let Some(t) = &watch.trigger_file {
        ex.add(compile_glob(&globset::escape(t)).expect("an escaped path compiles"));
    }
    let exclude = ex.build().unwrap_or_else(|_| GlobSet::empty());
    let exclude_dirs = ex_dirs.build().unwrap_or_else(|_| GlobSet::empty());

    let credentials_file = raw.credentials_file.as_ref().map(|p| base_dir.join(p.get_ref()));

    let manifest_url = match &raw.manifest_url {
        Some(u) if !(u.get_ref().starts_with("http://") || u.get_ref().starts_with("https://")) => {
            v.err_at(u, "manifest_url", format!("expected an http:// or https:// URL, found \"{}\"", u.get_ref()));
            None
        }
        Some(u) => Some(u.get_ref().clone()),
        None => None,
    };

    let mut provider = provider(&mut v, raw.provider.as_ref());

    let mut domains = Vec::new();
    if raw.domains.is_empty() {
        v.err_key("domain", "no [[domain]] block: add at least one with host = \"www.example.com\"");
    }
    for (i, d) in raw.domains.iter().enumerate() {
        if let Some(dom) = domain(&mut v, d, i) {
            if let Some(prev) = domains.iter().position(|p: &Domain| p.host == dom.host && p.base_path == dom.base_path) {
                v.err_at(d, &format!("domain[{i}].host"), format!("\"{}\" is already configured in domain[{prev}]", dom.host));
            }
            domains.push(dom);
        }
    }

    super::edgeone::apply(&raw, text, file, &mut provider, &mut domains, &mut v.errors);
    let limits = limits(&mut v, raw.limits.as_ref());

    if !v.errors.is_empty() {
        return Err(ConfigErrors(v.errors));
    }
    Ok(Config {
        source: file.to_path_buf(),
        publish_dir,
        publish_dir_line,
        state_dir,
        exclude,
        exclude_dirs,
        credentials_file,
        manifest_url,
        provider,
        domains,
        watch,
        limits,
    })
}

fn provider(v: &mut V, raw: Option<&super::raw::RawProvider>) -> Provider {
    let mut api = Api::V3;
    let mut signature_method = SignatureMethod::HmacSha1;
    let mut http_method = HttpMethod::Post;
    let mut v2_overseas = V2Overseas::Overall;
    let mut timeout = Duration::from_secs(30);
    let mut region = None;
    let mut endpoint_raw = None;
    let mut v2_prefetch_delay = Duration::from_secs(60);
    if let Some(p) = raw {
        if let Some(a) = &p.api {
            api = match v.one_of(a, "provider.api", &["v3", "v2", "edgeone"]) {
                Some("v2") => Api::V2,
                Some("edgeone") => Api::EdgeOne,
                _ => Api::V3,
            };
        }
        if let Some(s) = &p.signature_method {
            if v.one_of(s, "provider.signature_method", &["HmacSHA1", "HmacSHA256"]) == Some("HmacSHA256") {
                signature_method = SignatureMethod::HmacSha256;
            }
        }
        if let Some(s) = &p.http_method {
            if v.one_of(s, "provider.http_method", &["GET", "POST"]) == Some("GET") {
                http_method = HttpMethod::Get;
            }
        }
        if let Some(s) = &p.v2_overseas {
            if v.one_of(s, "provider.v2_overseas", &["overall", "dedicated"]) == Some("dedicated") {
                v2_overseas = V2Overseas::Dedicated;
            }
        }
        if let Some(t) = &p.timeout_secs {
            if let Some(t) = v.int_in(t, "provider.timeout_secs", 1, 600, "") {
                timeout = Duration::from_secs(t as u64);
            }
        }
        if let Some(t) = &p.v2_prefetch_delay_secs {
            if let Some(t) = v.int_in(t, "provider.v2_prefetch_delay_secs", 0, 3600, "") {
                v2_prefetch_delay = Duration::from_secs(t as u64);
            }
        }
        if let Some(r) = &p.region {
            let s = r.get_ref();
            if s.is_empty() {
                region = None;
            } else if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                region = Some(s.clone());
            } else {
                v.err_at(r, "provider.region", format!("expected a region name such as \"ap-guangzhou\", found \"{s}\""));
            }
        }
        endpoint_raw = p.endpoint.as_ref();
    }
    let default_path = match api {
        Api::V3 | Api::EdgeOne => "/",
        Api::V2 => "/v2/index.php",
    };
    let endpoint = match endpoint_raw {
        Some(e) => match parse_endpoint(e.get_ref(), default_path) {
            Ok(ep) => ep,
            Err(msg) => {
                v.err_at(e, "provider.endpoint", msg);
                default_endpoint(api)
            }
        },
        None => default_endpoint(api),
    };
    Provider {
        api,
        endpoint,
        endpoint_overridden: endpoint_raw.is_some(),
        region,
        timeout,
        signature_method,
        http_method,
        v2_overseas,
        v2_prefetch_delay,
        site: super::Site::Mainland,
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

/// `http(s)://host[:port][/path]` -> [`Endpoint`]; an empty path or `/` means `default_path`.
pub fn parse_endpoint(s: &str, default_path: &str) -> Result<Endpoint, String> {
    let (scheme, rest) = if let Some(r) = s.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = s.strip_prefix("http://") {
        ("http", r)
    } else {
        return Err(format!("expected an http:// or https:// URL, found \"{s}\""));
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok || path.contains(['?', '#']) {
        return Err(format!("expected http(s)://host[:port][/path], found \"{s}\""));
    }
    let path = if path.is_empty() || path == "/" { default_path.to_string() } else { path.to_string() };
    Ok(Endpoint { scheme: scheme.into(), host: host.to_ascii_lowercase(), path })
}

fn domain(v: &mut V, sd: &S<RawDomain>, i: usize) -> Option<Domain> {
    let d = sd.get_ref();
    let k = |f: &str| format!("domain[{i}].{f}");
    let before = v.errors.len();
    let host = match &d.host {
        None => {
            v.err_at(sd, &k("host"), "missing required key: the CDN domain, e.g. host = \"www.example.com\"");
            String::new()
        }
        Some(h) => {
            let s = h.get_ref();
            if s.contains("://") || s.contains('/') {
                v.err_at(h, &k("host"), format!("expected a bare domain name (no scheme, no path), found \"{s}\""));
            } else if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') || !s.contains('.') {
                v.err_at(h, &k("host"), format!("expected a domain name such as \"www.example.com\", found \"{s}\""));
            }
            s.to_ascii_lowercase()
        }
    };
    let scheme = match &d.scheme {
        None => "https".to_string(),
        Some(s) => v.one_of(s, &k("scheme"), &["https", "http"]).unwrap_or("https").to_string(),
    };
    let base_path = match &d.base_path {
        None => "/".to_string(),
        Some(b) => {
            let s = b.get_ref();
            if !s.starts_with('/') || s.contains(['?', '#', '\\']) || s.contains("//") {
                v.err_at(
                    b,
                    &k("base_path"),
                    format!("expected a URL path starting with \"/\", such as \"/\" or \"/docs/\", found \"{s}\""),
                );
            }
            if s.ends_with('/') {
                s.clone()
            } else {
                format!("{s}/")
            }
        }
    };
    let include = match &d.include {
        Some(list) if list.is_empty() => {
            v.err_at(sd, &k("include"), "expected at least one glob (\"**\" serves the whole publish_dir), found []");
            GlobSet::empty()
        }
        Some(list) => v.globs(list, &k("include")),
        None => {
            let mut b = GlobSetBuilder::new();
            b.add(compile_glob("**").expect("** compiles"));
            b.build().expect("** builds")
        }
    };
    let exclude = v.globs(&d.exclude, &k("exclude"));
    let prefetch = v.globs(&d.prefetch, &k("prefetch"));
    let mut areas = Vec::new();
    match &d.areas {
        None => areas.push(Area::Mainland),
        Some(list) => {
            if list.get_ref().is_empty() {
                v.err_at(list, &k("areas"), "expected at least one of \"mainland\", \"overseas\", found []");
            }
            for (j, a) in list.get_ref().iter().enumerate() {
                match Area::parse(a.get_ref()) {
                    Some(area) if areas.contains(&area) => {
                        v.err_at(a, &format!("{}[{j}]", k("areas")), format!("\"{area}\" is listed twice"))
                    }
                    Some(area) => areas.push(area),
                    None => v.err_at(
                        a,
                        &format!("{}[{j}]", k("areas")),
                        format!("expected \"mainland\" or \"overseas\", found \"{}\"", a.get_ref()),
                    ),
                }
            }
        }
    }
    let index_files = match &d.index_files {
        None => vec!["index.html".to_string()],
        Some(list) => {
            let mut out = Vec::new();
            for (j, f) in list.iter().enumerate() {
                let s = f.get_ref();
                if s.is_empty() || s.contains('/') {
                    v.err_at(
                        f,
                        &format!("{}[{j}]", k("index_files")),
                        format!("expected a file name such as \"index.html\", found \"{s}\""),
                    );
                } else {
                    out.push(s.clone());
                }
            }
            out
        }
    };
    let (mut alias_slash, mut alias_bare) = (true, false);
    if let Some(list) = &d.index_aliases {
        alias_slash = false;
        for (j, a) in list.iter().enumerate() {
            match a.get_ref().as_str() {
                "slash" => alias_slash = true,
                "bare" => alias_bare = true,
                "file" => {}
                other => v.err_at(
                    a,
                    &format!("{}[{j}]", k("index_aliases")),
                    format!("expected \"slash\", \"bare\" or \"file\", found \"{other}\""),
                ),
            }
        }
    }
    if v.errors.len() != before {
        return None;
    }
    Some(Domain {
        host,
        scheme,
        base_path,
        include,
        exclude,
        prefetch,
        areas,
        index_files,
        alias_slash,
        alias_bare,
        purge_added: d.purge_added.unwrap_or(false),
        zone_id: None,
        method: super::PurgeMethod::Invalidate,
    })
}

fn watch(v: &mut V, raw: Option<&super::raw::RawWatch>) -> Watch {
    let mut w = Watch { settle: Duration::from_millis(1500), max_wait: Duration::from_millis(30_000), trigger_file: None };
    if let Some(r) = raw {
        if let Some(s) = &r.settle_ms {
            if let Some(ms) = v.int_in(s, "watch.settle_ms", 10, 3_600_000, "") {
                w.settle = Duration::from_millis(ms as u64);
            }
        }
        if let Some(s) = &r.max_wait_ms {
            if let Some(ms) = v.int_in(s, "watch.max_wait_ms", 10, 86_400_000, "") {
                w.max_wait = Duration::from_millis(ms as u64);
                if w.max_wait < w.settle {
                    v.err_at(s, "watch.max_wait_ms", format!("expected at least settle_ms ({} ms), found {ms}", w.settle.as_millis()));
                }
            }
        }
        if let Some(t) = &r.trigger_file {
            let s = t.get_ref().trim_start_matches("./");
            if s.is_empty() || s.starts_with('/') || s.split('/').any(|c| c == "..") {
                v.err_at(
                    t,
                    "watch.trigger_file",
                    format!("expected a path inside publish_dir such as \".deployed\", found \"{}\"", t.get_ref()),
                );
            } else {
                w.trigger_file = Some(s.to_string());
            }
        }
    }
    w
}

fn limits(v: &mut V, raw: Option<&super::raw::RawLimits>) -> Limits {
    let mut l = Limits::default();
    let Some(r) = raw else { return l };
    if let Some(c) = &r.collapse {
        if v.one_of(c, "limits.collapse", &["auto", "never"]) == Some("never") {
            l.collapse = Collapse::Never;
        }
    }
    if let Some(c) = &r.concurrency {
        if let Some(n) = v.int_in(c, "limits.concurrency", 1, 20, " (the API allows 20 requests/s)") {
            l.concurrency = n as usize;
        }
    }
    if let Some(c) = &r.requests_per_second {
        if let Some(n) = v.int_in(c, "limits.requests_per_second", 1, MAX_REQUESTS_PER_SECOND as i64, " (the documented API limit)") {
            l.requests_per_second = n as u32;
        }
    }
    let batch = |v: &mut V, s: &Option<S<i64>>, key: &str, max: u64, out: &mut u64| {
        if let Some(s) = s {
            if let Some(n) = v.int_in(s, key, 1, max as i64, " (the documented API limit; lower it, never raise it)") {
                *out = n as u64;
            }
        }
    };
    batch(v, &r.purge_urls_batch, "limits.purge_urls_batch", limits::max_batch(JobKind::PurgeUrls), &mut l.purge_urls_batch);
    batch(v, &r.purge_paths_batch, "limits.purge_paths_batch", limits::max_batch(JobKind::PurgePaths), &mut l.purge_paths_batch);
    batch(v, &r.prefetch_batch, "limits.prefetch_batch", limits::max_batch(JobKind::PrefetchUrls), &mut l.prefetch_batch);
    if let Some(s) = &r.retry_deadline_secs {
        if let Some(n) = v.int_in(s, "limits.retry_deadline_secs", 1, 86_400, "") {
            l.retry_deadline = Duration::from_secs(n as u64);
        }
    }
    l
}
