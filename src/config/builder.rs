//! Build a [`Config`] in code (site generators, other Rust tools), with exactly the validation a
//! `cdnsync.toml` gets: each setter writes its key of the file, and [`Builder::build`] runs the
//! text through [`super::from_str`]. Errors name the file's keys (`limits.concurrency`).
//!
//! ```
//! use std::time::Duration;
//! use cdnsync::config::{Builder, Scheme};
//! use cdnsync::{Api, Area};
//! let cfg = Builder::new("/srv/site", "public")
//!     .api(Api::V3)
//!     .timeout(Duration::from_secs(20))
//!     .concurrency(2)
//!     .domain("www.example.com", &[Area::Mainland, Area::Overseas])
//!     .prefetch("**/index.html")
//!     .domain("static.example.com", &[Area::Mainland])
//!     .scheme(Scheme::Http)
//!     .base_path("/assets/")
//!     .build()
//!     .unwrap();
//! assert_eq!(cfg.publish_dir, std::path::Path::new("/srv/site/public"));
//! assert_eq!(cfg.domains[1].base_path, "/assets/");
//! assert_eq!(cfg.limits.concurrency, 2);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use super::types::{Collapse, HttpMethod, IndexAlias, Scheme, SignatureMethod, Symlinks, V2Overseas};
use super::{Config, ConfigError, ConfigErrors};
use crate::model::{Api, Area, JobKind};

/// What [`Builder::build`]'s errors name as their file.
pub const BUILT_IN_CODE: &str = "<built in code>";

/// A config under construction. Each setter mirrors a key of `cdnsync.toml` (`docs/config.md`);
/// anything not set takes the file's default. The `[[domain]]` setters apply to the domain added
/// last by [`Builder::domain`].
#[derive(Clone, Debug)]
pub struct Builder {
    base_dir: PathBuf,
    root: Table,
    domains: Vec<Table>,
    /// Mistakes a file cannot make (a domain setter before any domain, 1.5 s where whole seconds
    /// are wanted): `(key, message)`.
    errors: Vec<(String, String)>,
}

impl Builder {
    /// `publish_dir` (relative paths are relative to `base_dir`, as they would be to a config
    /// file's folder).
    pub fn new(base_dir: impl AsRef<Path>, publish_dir: impl AsRef<Path>) -> Self {
        let b = Builder { base_dir: base_dir.as_ref().to_path_buf(), root: Table::new(), domains: Vec::new(), errors: Vec::new() };
        b.path(None, "publish_dir", publish_dir.as_ref())
    }

    /// `state_dir`.
    pub fn state_dir(self, dir: impl AsRef<Path>) -> Self {
        self.path(None, "state_dir", dir.as_ref())
    }

    /// Add a glob to the top-level `exclude`.
    pub fn exclude(self, glob: &str) -> Self {
        self.push(None, "exclude", glob)
    }

    /// `credentials_file`.
    pub fn credentials_file(self, file: impl AsRef<Path>) -> Self {
        self.path(None, "credentials_file", file.as_ref())
    }

    /// `manifest_url`.
    pub fn manifest_url(self, url: &str) -> Self {
        self.set(None, "manifest_url", url)
    }

    /// `if_no_state`: what a sync that finds no manifest does (a built config never looks at the
    /// `CI` variable: without this setter it is `baseline`).
    pub fn if_no_state(self, rule: super::NoStateRule) -> Self {
        self.set(None, "if_no_state", rule.as_str())
    }

    /// `symlinks`.
    pub fn symlinks(self, which: Symlinks) -> Self {
        self.set(None, "symlinks", which.as_str())
    }

    /// `[provider] api`.
    pub fn api(self, api: Api) -> Self {
        self.set(Some("provider"), "api", api.as_str())
    }

    /// `[provider] endpoint` (a local fake, a proxy).
    pub fn endpoint(self, url: &str) -> Self {
        self.set(Some("provider"), "endpoint", url)
    }

    /// `[provider] allow_plain_http`.
    pub fn allow_plain_http(self, allow: bool) -> Self {
        self.set(Some("provider"), "allow_plain_http", allow)
    }

    /// `[provider] site` (EdgeOne).
    pub fn site(self, site: super::Site) -> Self {
        self.set(Some("provider"), "site", site.as_str())
    }

    /// `[provider] region`.
    pub fn region(self, region: &str) -> Self {
        self.set(Some("provider"), "region", region)
    }

    /// `[provider] timeout_secs` (whole seconds).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.secs(Some("provider"), "timeout_secs", timeout)
    }

    /// `[provider] signature_method` (v2).
    pub fn signature_method(self, method: SignatureMethod) -> Self {
        self.set(Some("provider"), "signature_method", method.as_str())
    }

    /// `[provider] http_method` (v2).
    pub fn http_method(self, method: HttpMethod) -> Self {
        self.set(Some("provider"), "http_method", method.as_str())
    }

    /// `[provider] v2_overseas` (v2).
    pub fn v2_overseas(self, how: V2Overseas) -> Self {
        let word = match how {
            V2Overseas::Overall => "overall",
            V2Overseas::Dedicated => "dedicated",
        };
        self.set(Some("provider"), "v2_overseas", word)
    }

    /// `[provider] v2_prefetch_delay_secs` (v2; whole seconds).
    pub fn v2_prefetch_delay(self, delay: Duration) -> Self {
        self.secs(Some("provider"), "v2_prefetch_delay_secs", delay)
    }

    /// Add a `[[domain]]` accelerated in `areas`; the domain setters below apply to it.
    /// An EdgeOne domain (`api = "edgeone"`) names no areas: pass `&[Area::Global]`, which
    /// writes none.
    pub fn domain(mut self, host: &str, areas: &[Area]) -> Self {
        let mut d = Table::new();
        d.insert("host".into(), host.into());
        if areas != [Area::Global] {
            d.insert("areas".into(), Value::Array(areas.iter().map(|a| a.as_str().into()).collect()));
        }
        self.domains.push(d);
        self
    }

    /// `zone_id` of the last domain (EdgeOne).
    pub fn zone_id(self, zone: &str) -> Self {
        self.domain_set("zone_id", zone.into())
    }

    /// `method` of the last domain (EdgeOne).
    pub fn method(self, method: super::PurgeMethod) -> Self {
        self.domain_set("method", method.as_str().into())
    }

    /// `scheme` of the last domain.
    pub fn scheme(self, scheme: Scheme) -> Self {
        self.domain_set("scheme", scheme.as_str().into())
    }

    /// `base_path` of the last domain (`"/docs/"`).
    pub fn base_path(self, path: &str) -> Self {
        self.domain_set("base_path", path.into())
    }

    /// Add a glob to the last domain's `include` (which then no longer defaults to `**`).
    pub fn include(self, glob: &str) -> Self {
        self.domain_push("include", glob)
    }

    /// Add a glob to the last domain's `exclude`.
    pub fn domain_exclude(self, glob: &str) -> Self {
        self.domain_push("exclude", glob)
    }

    /// `index_files` of the last domain.
    pub fn index_files(self, names: &[&str]) -> Self {
        self.domain_set("index_files", Value::Array(names.iter().map(|&n| n.into()).collect()))
    }

    /// `index_aliases` of the last domain.
    pub fn index_aliases(self, aliases: &[IndexAlias]) -> Self {
        self.domain_set("index_aliases", Value::Array(aliases.iter().map(|a| a.as_str().into()).collect()))
    }

    /// `purge_added` of the last domain.
    pub fn purge_added(self, yes: bool) -> Self {
        self.domain_set("purge_added", yes.into())
    }

    /// Add a glob to the last domain's `prefetch`.
    pub fn prefetch(self, glob: &str) -> Self {
        self.domain_push("prefetch", glob)
    }

    /// `origin` of the last domain: purge only once it serves the new bytes.
    pub fn origin(self, url: &str) -> Self {
        self.domain_set("origin", url.into())
    }

    /// `origin_wait_secs` of the last domain (whole seconds).
    pub fn origin_wait(mut self, wait: Duration) -> Self {
        if wait.subsec_nanos() != 0 {
            self.errors.push(("domain.origin_wait_secs".into(), format!("expected whole seconds, found {wait:?}")));
            return self;
        }
        self.domain_set("origin_wait_secs", whole(wait.as_secs()).into())
    }

    /// `verify` of the last domain.
    pub fn verify_mode(self, mode: super::VerifyMode) -> Self {
        self.domain_set("verify", mode.as_str().into())
    }

    /// `[verify] concurrency`.
    pub fn verify_concurrency(self, n: usize) -> Self {
        self.set(Some("verify"), "concurrency", whole(n))
    }

    /// `[verify] requests_per_second`.
    pub fn verify_requests_per_second(self, n: u32) -> Self {
        self.set(Some("verify"), "requests_per_second", i64::from(n))
    }

    /// `[verify] connect_to`.
    pub fn connect_to(self, addr: std::net::SocketAddr) -> Self {
        self.set(Some("verify"), "connect_to", addr.to_string())
    }

    /// `[watch] metrics`.
    pub fn metrics(self, addr: std::net::SocketAddr) -> Self {
        self.set(Some("watch"), "metrics", addr.to_string())
    }

    /// `[watch] settle_ms` (whole milliseconds).
    pub fn settle(self, quiet: Duration) -> Self {
        self.millis("settle_ms", quiet)
    }

    /// `[watch] max_wait_ms` (whole milliseconds).
    pub fn max_wait(self, longest: Duration) -> Self {
        self.millis("max_wait_ms", longest)
    }

    /// `[watch] trigger_file`.
    pub fn trigger_file(self, path: &str) -> Self {
        self.set(Some("watch"), "trigger_file", path)
    }

    /// `[limits] collapse`.
    pub fn collapse(self, collapse: Collapse) -> Self {
        let word = match collapse {
            Collapse::Auto => "auto",
            Collapse::Never => "never",
        };
        self.set(Some("limits"), "collapse", word)
    }

    /// `[limits] concurrency`.
    pub fn concurrency(self, n: usize) -> Self {
        self.set(Some("limits"), "concurrency", whole(n))
    }

    /// `[limits] max_root_purges_per_day`.
    pub fn max_root_purges_per_day(self, n: u32) -> Self {
        self.set(Some("limits"), "max_root_purges_per_day", i64::from(n))
    }

    /// `[limits] requests_per_second`.
    pub fn requests_per_second(self, n: u32) -> Self {
        self.set(Some("limits"), "requests_per_second", i64::from(n))
    }

    /// `[limits] purge_urls_batch`, `purge_paths_batch` or `prefetch_batch`, by job kind.
    pub fn batch(self, kind: JobKind, n: u64) -> Self {
        let key = match kind {
            JobKind::PurgeUrls => "purge_urls_batch",
            JobKind::PurgePaths => "purge_paths_batch",
            JobKind::PrefetchUrls => "prefetch_batch",
        };
        self.set(Some("limits"), key, whole(n))
    }

    /// `[limits] retry_deadline_secs` (whole seconds).
    pub fn retry_deadline(self, deadline: Duration) -> Self {
        self.secs(Some("limits"), "retry_deadline_secs", deadline)
    }

    /// `[limits] max_files`.
    pub fn max_files(self, n: u64) -> Self {
        self.set(Some("limits"), "max_files", whole(n))
    }

    /// The TOML this builder stands for (what `cdnsync.toml` would hold).
    pub fn to_toml(&self) -> String {
        let mut t = self.root.clone();
        if !self.domains.is_empty() {
            t.insert("domain".into(), Value::Array(self.domains.iter().cloned().map(Value::Table).collect()));
        }
        toml::to_string(&t).expect("a TOML table serialises")
    }

    /// Validate, as a file would be. Errors name the key (the "file" is [`BUILT_IN_CODE`], with
    /// no line: the text is the builder's).
    pub fn build(&self) -> Result<Config, ConfigErrors> {
        let file = Path::new(BUILT_IN_CODE);
        let mut errors: Vec<ConfigError> = self
            .errors
            .iter()
            .map(|(key, message)| ConfigError { file: file.to_path_buf(), line: None, key: key.clone(), message: message.clone() })
            .collect();
        match super::from_str(&self.to_toml(), file, &self.base_dir) {
            Ok(cfg) if errors.is_empty() => Ok(cfg),
            Ok(_) => Err(ConfigErrors(errors)),
            Err(ConfigErrors(found)) => {
                errors.extend(found.into_iter().map(|e| ConfigError { line: None, ..e }));
                Err(ConfigErrors(errors))
            }
        }
    }

    fn table(&mut self, section: Option<&str>) -> &mut Table {
        let Some(name) = section else { return &mut self.root };
        let v = self.root.entry(name.to_string()).or_insert_with(|| Value::Table(Table::new()));
        if !v.is_table() {
            *v = Value::Table(Table::new());
        }
        v.as_table_mut().expect("just made a table")
    }

    fn set(mut self, section: Option<&str>, key: &str, value: impl Into<Value>) -> Self {
        self.table(section).insert(key.into(), value.into());
        self
    }

    fn push(mut self, section: Option<&str>, key: &str, item: &str) -> Self {
        push(self.table(section), key, item);
        self
    }

    fn path(mut self, section: Option<&str>, key: &str, path: &Path) -> Self {
        match path.to_str() {
            Some(p) => self.set(section, key, p),
            None => {
                self.errors.push((key.into(), format!("the path {} is not valid UTF-8, which a config cannot hold", path.display())));
                self
            }
        }
    }

    fn secs(mut self, section: Option<&str>, key: &str, d: Duration) -> Self {
        if d.subsec_nanos() != 0 {
            let full = format!("{}.{key}", section.unwrap_or_default());
            self.errors.push((full, format!("expected whole seconds, found {d:?}")));
            return self;
        }
        self.set(section, key, whole(d.as_secs()))
    }

    fn millis(mut self, key: &str, d: Duration) -> Self {
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            self.errors.push((format!("watch.{key}"), format!("expected whole milliseconds, found {d:?}")));
            return self;
        }
        self.set(Some("watch"), key, whole(d.as_millis()))
    }

    fn last_domain(&mut self, key: &str) -> Option<&mut Table> {
        if self.domains.is_empty() {
            self.errors
                .push(("domain".into(), format!("{key} was set before any .domain(..): domain setters apply to the last domain added")));
        }
        self.domains.last_mut()
    }

    fn domain_set(mut self, key: &str, value: Value) -> Self {
        if let Some(d) = self.last_domain(key) {
            d.insert(key.into(), value);
        }
        self
    }

    fn domain_push(mut self, key: &str, item: &str) -> Self {
        if let Some(d) = self.last_domain(key) {
            push(d, key, item);
        }
        self
    }
}

/// A number as TOML holds it; past `i64::MAX` it stays out of every key's range.
fn whole<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn push(t: &mut Table, key: &str, item: &str) {
    let v = t.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = v {
        a.push(item.into());
    }
}

#[cfg(test)]
mod tests;
