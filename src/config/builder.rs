//! Build a [`Config`] in code (site generators, other Rust tools), with exactly the validation a
//! `cdnsync.toml` gets: the builder writes the TOML and runs it through [`super::from_str`].
//!
//! ```
//! use cdnsync::config::Builder;
//! use cdnsync::Area;
//! let cfg = Builder::new("/srv/site", "public")
//!     .domain("www.example.com", &[Area::Mainland, Area::Overseas])
//!     .prefetch("**/index.html")
//!     .build()
//!     .unwrap();
//! assert_eq!(cfg.publish_dir, std::path::Path::new("/srv/site/public"));
//! assert_eq!(cfg.domains[0].host, "www.example.com");
//! ```

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::{Config, ConfigErrors};
use crate::model::Area;

/// A config under construction. Each setter mirrors a key of `cdnsync.toml`; anything not set
/// takes the file's default.
#[derive(Clone, Debug)]
pub struct Builder {
    base_dir: PathBuf,
    root: Table,
    domains: Vec<Table>,
}

impl Builder {
    /// `publish_dir` (relative paths are relative to `base_dir`, as they would be to a config
    /// file's folder).
    pub fn new(base_dir: impl AsRef<Path>, publish_dir: impl AsRef<Path>) -> Self {
        let mut root = Table::new();
        root.insert("publish_dir".into(), Value::String(publish_dir.as_ref().to_string_lossy().into_owned()));
        Builder { base_dir: base_dir.as_ref().to_path_buf(), root, domains: Vec::new() }
    }

    /// `state_dir`.
    pub fn state_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.root.insert("state_dir".into(), Value::String(dir.as_ref().to_string_lossy().into_owned()));
        self
    }

    /// Add a glob to `exclude`.
    pub fn exclude(mut self, glob: &str) -> Self {
        push(&mut self.root, "exclude", glob);
        self
    }

    /// `manifest_url`.
    pub fn manifest_url(mut self, url: &str) -> Self {
        self.root.insert("manifest_url".into(), Value::String(url.into()));
        self
    }

    /// Set a `[provider]` key to a raw TOML value (e.g. `("api", "v2".into())`).
    pub fn provider(mut self, key: &str, value: Value) -> Self {
        section(&mut self.root, "provider").insert(key.into(), value);
        self
    }

    /// `[provider] endpoint` (a local fake, a private endpoint).
    pub fn endpoint(self, url: &str) -> Self {
        self.provider("endpoint", Value::String(url.into()))
    }

    /// Set a `[limits]` key.
    pub fn limit(mut self, key: &str, value: Value) -> Self {
        section(&mut self.root, "limits").insert(key.into(), value);
        self
    }

    /// Add a `[[domain]]` accelerated in `areas`; the domain setters below apply to it. An
    /// EdgeOne domain (`api = "edgeone"`) names no areas: pass `&[Area::Global]`, which writes none.
    pub fn domain(mut self, host: &str, areas: &[Area]) -> Self {
        let mut d = Table::new();
        d.insert("host".into(), Value::String(host.into()));
        if areas != [Area::Global] {
            d.insert("areas".into(), Value::Array(areas.iter().map(|a| Value::String(a.as_str().into())).collect()));
        }
        self.domains.push(d);
        self
    }

    /// Set a key of the last `[[domain]]` (e.g. `("base_path", "/docs".into())`).
    pub fn domain_key(mut self, key: &str, value: Value) -> Self {
        if let Some(d) = self.domains.last_mut() {
            d.insert(key.into(), value);
        }
        self
    }

    /// Add a glob to the last domain's `prefetch`.
    pub fn prefetch(mut self, glob: &str) -> Self {
        if let Some(d) = self.domains.last_mut() {
            push(d, "prefetch", glob);
        }
        self
    }

    /// The TOML this builder stands for (what `cdnsync.toml` would hold).
    pub fn to_toml(&self) -> String {
        let mut t = self.root.clone();
        if !self.domains.is_empty() {
            t.insert("domain".into(), Value::Array(self.domains.iter().cloned().map(Value::Table).collect()));
        }
        toml::to_string(&t).expect("a TOML table serialises")
    }

    /// Validate. Errors name the key (the "file" is `<built in code>`).
    pub fn build(&self) -> Result<Config, ConfigErrors> {
        super::from_str(&self.to_toml(), Path::new("<built in code>"), &self.base_dir)
    }
}

fn section<'a>(t: &'a mut Table, name: &str) -> &'a mut Table {
    let v = t.entry(name.to_string()).or_insert_with(|| Value::Table(Table::new()));
    match v {
        Value::Table(s) => s,
        _ => unreachable!("sections are only created here"),
    }
}

fn push(t: &mut Table, key: &str, item: &str) {
    let v = t.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = v {
        a.push(Value::String(item.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_a_file_would() {
        let b = Builder::new("/site", "public")
            .state_dir("/var/lib/cdnsync")
            .exclude("**/*.map")
            .endpoint("http://127.0.0.1:9000")
            .limit("concurrency", Value::Integer(2))
            .domain("www.example.com", &[Area::Overseas])
            .prefetch("**/index.html")
            .domain("static.example.com", &[Area::Mainland])
            .domain_key("base_path", Value::String("/assets".into()));
        let cfg = b.build().unwrap();
        assert_eq!(cfg.state_dir, Path::new("/var/lib/cdnsync"));
        assert_eq!(cfg.limits.concurrency, 2);
        assert_eq!(cfg.domains.len(), 2);
        assert_eq!(cfg.domains[0].areas, [Area::Overseas]);
        assert!(cfg.domains[0].prefetch.is_match("a/index.html"));
        assert!(cfg.exclude.is_match("js/app.js.map"));
        let from_file = super::super::from_str(&b.to_toml(), Path::new("x"), Path::new("/site")).unwrap();
        assert_eq!(from_file.publish_dir, cfg.publish_dir);
    }

    #[test]
    fn builds_an_edgeone_config() {
        let cfg = Builder::new("/site", "public")
            .provider("api", "edgeone".into())
            .provider("site", "intl".into())
            .domain("www.example.com", &[Area::Global])
            .domain_key("zone_id", "zone-2noz78a8ev6k".into())
            .build()
            .unwrap();
        assert_eq!(cfg.provider.endpoint.host, "teo.intl.tencentcloudapi.com");
        assert_eq!((cfg.domains[0].areas.as_slice(), cfg.domains[0].zone_id.as_deref()), (&[Area::Global][..], Some("zone-2noz78a8ev6k")));
        // A CDN area on an EdgeOne domain is the file's error.
        let e = Builder::new("/site", "public").provider("api", "edgeone".into()).domain("a.example.com", &[Area::Mainland]).build();
        assert!(e.unwrap_err().to_string().contains("domain[0].areas"));
    }

    #[test]
    fn errors_name_the_key() {
        let e = Builder::new("/site", "public").limit("concurrency", Value::Integer(0)).build().unwrap_err().to_string();
        assert!(e.contains("<built in code>") && e.contains("concurrency") && e.contains("domain"), "{e}");
    }
}
