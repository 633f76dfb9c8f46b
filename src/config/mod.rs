//! `cdnsync.toml`: reading (the only file access here), parsing, validation.
//!
//! Parsing and validation are separate: `raw` mirrors the file, [`validate`] turns it into a
//! [`Config`] that cannot hold an invalid value. Every error names the file, the line and the key.

pub mod builder;
pub mod edgeone;
pub(crate) mod raw;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::model::Api;
pub use builder::Builder;
pub use edgeone::{PurgeMethod, Site};
pub use validate::{Collapse, Config, Domain, Endpoint, HttpMethod, Limits, Provider, SignatureMethod, V2Overseas, Watch};

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line, when the error has one.
    pub line: Option<usize>,
    /// Dotted key, e.g. `domain[0].areas[1]`.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

/// Every problem found in one config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "config error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    fn one(file: &Path, line: Option<usize>, key: &str, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError { file: file.to_path_buf(), line, key: key.into(), message: message.into() }])
    }
}

/// Parse and validate config text. `file` names it in errors; relative paths are joined onto
/// `base_dir`. No filesystem access.
pub fn from_str(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| validate::line_of(text, s.start));
        let msg = e.message().trim().to_string();
        let key = unknown_key(&msg).or_else(|| e.span().and_then(|s| key_at(text, s.start))).unwrap_or_default();
        ConfigErrors::one(file, line, &key, msg)
    })?;
    validate::validate(raw, text, file, base_dir)
}

fn unknown_key(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The key written at the start of the line containing `at`, if that line is `key = value`.
fn key_at(text: &str, at: usize) -> Option<String> {
    let start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()).then(|| k.to_string())
}

/// Read, parse and validate a config file, then check what needs the filesystem.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors::one(path, None, "", format!("cannot read the config file: {e} (create one with `cdnsync init`)")))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let cfg = from_str(&text, path, &base)?;
    check_fs(&cfg)?;
    Ok(cfg)
}

/// Checks that need the filesystem: `publish_dir` must be an existing folder (a symlink to one is fine).
pub fn check_fs(cfg: &Config) -> Result<(), ConfigErrors> {
    match std::fs::metadata(&cfg.publish_dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(ConfigErrors::one(
            &cfg.source,
            cfg.publish_dir_line,
            "publish_dir",
            format!("expected a folder, found a file: {}", cfg.publish_dir.display()),
        )),
        Err(e) => Err(ConfigErrors::one(
            &cfg.source,
            cfg.publish_dir_line,
            "publish_dir",
            format!("expected an existing folder, {}: {e}", cfg.publish_dir.display()),
        )),
    }
}

/// A config for unit tests: `publish_dir = "p"` under `/`, one `[[domain]]` `www.example.com`
/// accelerated in both areas, and `extra` appended (keys of that domain, then any sections).
#[cfg(test)]
pub(crate) fn test_config(extra: &str) -> Config {
    let text = format!("publish_dir = \"p\"\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"mainland\", \"overseas\"]\n{extra}");
    from_str(&text, Path::new("test.toml"), Path::new("/")).unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
publish_dir = "public"

[[domain]]
host = "www.example.com"
areas = ["mainland", "overseas"]
"#;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        from_str(text, Path::new("cdnsync.toml"), Path::new("/site"))
    }

    #[test]
    fn good_config_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.publish_dir, Path::new("/site/public"));
        assert_eq!(c.state_dir, Path::new("/site/.cdnsync"));
        assert_eq!(c.provider.api, Api::V3);
        assert_eq!(c.provider.endpoint.url(), "https://cdn.tencentcloudapi.com/");
        let d = &c.domains[0];
        assert_eq!((d.scheme.as_str(), d.base_path.as_str()), ("https", "/"));
        assert!(d.alias_slash && !d.alias_bare && !d.purge_added);
        assert_eq!(d.index_files, vec!["index.html"]);
        assert!(c.exclude.is_match(".git/config"));
        assert!(c.exclude.is_match("docs/.index.html.swp"));
        assert!(c.exclude.is_match("docs/.index.html.Ab12Cd"));
        assert!(!c.exclude.is_match("docs/index.html"));
        assert!(c.exclude_dirs.is_match(".git"));
    }

    /// One row per config mistake: (text, line, key, words the message must contain).
    #[test]
    fn config_errors_name_line_and_key() {
        let cases: &[(&str, Option<usize>, &str, &str)] = &[
            ("publish_dir = \"p\"\nfoo = 1\n[[domain]]\nhost = \"a.com\"\n", Some(2), "foo", "unknown field"),
            ("[[domain]]\nhost = \"a.com\"\n", None, "publish_dir", "missing required key"),
            (
                "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nareas = [\"mainland\", \"europe\"]\n",
                Some(4),
                "domain[0].areas[1]",
                "\"europe\"",
            ),
            ("publish_dir = \"p\"\n[provider]\napi = \"v4\"\n[[domain]]\nhost = \"a.com\"\n", Some(3), "provider.api", "\"v3\", \"v2\""),
            ("publish_dir = \"p\"\n[[domain]]\nhost = \"https://a.com/\"\n", Some(3), "domain[0].host", "bare domain"),
            ("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\ninclude = [\"a/[b\"]\n", Some(4), "domain[0].include[0]", "invalid glob"),
            ("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nscheme = \"ftp\"\n", Some(4), "domain[0].scheme", "\"ftp\""),
            (
                "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nbase_path = \"docs\"\n",
                Some(4),
                "domain[0].base_path",
                "starting with \"/\"",
            ),
            (
                "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nindex_aliases = [\"dir\"]\n",
                Some(4),
                "domain[0].index_aliases[0]",
                "\"slash\"",
            ),
            (
                "publish_dir = \"p\"\n[limits]\npurge_urls_batch = 5000\n[[domain]]\nhost = \"a.com\"\n",
                Some(3),
                "limits.purge_urls_batch",
                "never raise",
            ),
            (
                "publish_dir = \"p\"\n[limits]\nconcurrency = 0\n[[domain]]\nhost = \"a.com\"\n",
                Some(3),
                "limits.concurrency",
                "from 1 to 20",
            ),
            (
                "publish_dir = \"p\"\n[watch]\nsettle_ms = 5000\nmax_wait_ms = 100\n[[domain]]\nhost = \"a.com\"\n",
                Some(4),
                "watch.max_wait_ms",
                "at least settle_ms",
            ),
            (
                "publish_dir = \"p\"\n[provider]\nendpoint = \"127.0.0.1:8080\"\n[[domain]]\nhost = \"a.com\"\n",
                Some(3),
                "provider.endpoint",
                "http://",
            ),
            (
                "publish_dir = \"p\"\n[provider]\nsignature_method = \"MD5\"\n[[domain]]\nhost = \"a.com\"\n",
                Some(3),
                "provider.signature_method",
                "HmacSHA256",
            ),
            ("publish_dir = \"p\"\n", None, "domain", "no [[domain]]"),
            (
                "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\n[[domain]]\nhost = \"a.com\"\n",
                Some(4),
                "domain[1].host",
                "already configured",
            ),
            ("publish_dir = 3\n[[domain]]\nhost = \"a.com\"\n", Some(1), "publish_dir", "invalid type"),
            ("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nareas = \"mainland\"\n", Some(4), "areas", "invalid type"),
            ("publish_dir = \"p\n", Some(1), "publish_dir", "invalid"),
        ];
        for (text, line, key, words) in cases {
            let errs = parse(text).expect_err(text).0;
            let e = &errs[0];
            assert_eq!(e.line, *line, "line for {text:?}: {e}");
            assert_eq!(e.key, *key, "key for {text:?}: {e}");
            assert!(e.message.contains(words), "message for {text:?} should contain {words:?}: {e}");
            assert!(e.to_string().starts_with("cdnsync.toml"), "{e}");
        }
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let errs = parse("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nscheme = \"ftp\"\nareas = [\"x\"]\n").unwrap_err();
        assert_eq!(errs.0.len(), 2, "{errs}");
    }
}
