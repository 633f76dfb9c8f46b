//! `cdnsync.toml`: reading (the only file access here), parsing, validation.
//!
//! Parsing and validation are separate: `raw.rs` mirrors the file (every value with its position
//! or its type error, `val.rs`), `keys.rs` finds the keys it does not know, `validate.rs` turns
//! it into a [`Config`] (`types.rs`) that cannot hold an invalid value. Every problem of a file
//! is reported at once, each naming the file, the line and the key (`docs/config.md`, "Errors").
//! [`Builder`] makes the same `Config` in code, through the same path.

pub mod builder;
pub mod credential_keys;
pub mod edgeone;
pub mod fleet;
mod keys;
mod nostate;
pub(crate) mod raw;
mod types;
pub(crate) mod val;
pub(crate) mod validate;
pub mod verify;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::model::Api;
pub use builder::Builder;
pub use credential_keys::{CredentialSettings, CredentialsMode};
pub use edgeone::{PurgeMethod, Site};
pub use fleet::{FleetConfig, RedisAddr};
pub use nostate::{ci_is_set, NoStatePolicy, NoStateRule};
pub use types::{
    default_endpoint, Collapse, Config, Domain, Endpoint, HttpMethod, IndexAlias, Limits, Provider, Scheme, SignatureMethod, Symlinks,
    V2Overseas, Watch, BUILTIN_EXCLUDES, DEFAULT_MAX_FILES, DEFAULT_MAX_ROOT_PURGES_PER_DAY, MAX_MAX_FILES, MAX_REQUESTS_PER_SECOND,
};
pub use validate::{
    check_base_path, check_host, check_plain_http, compile_glob, is_loopback_host, parse_endpoint, MAX_DOMAINS, MAX_ERRORS, MAX_GLOBS,
    MAX_GLOB_BYTES,
};
pub use verify::{VerifyMode, VerifySettings};

/// Largest config file cdnsync reads (1 MiB); a bigger one is refused before it is parsed.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

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
    pub(crate) fn one(file: &Path, line: Option<usize>, key: &str, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError { file: file.to_path_buf(), line, key: key.into(), message: message.into() }])
    }
}

/// Parse and validate config text. `file` names it in errors; relative paths are joined onto
/// `base_dir`. No filesystem access.
pub fn from_str(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigErrors> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(too_big(file, text.len() as u64));
    }
    // A syntax error stops here: the parser cannot say what the rest of the file means.
    let tree: keys::Node = toml::from_str(text).map_err(|e| syntax(e, text, file))?;
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| syntax(e, text, file))?;
    let mut v = validate::Validator::new(text, file, base_dir);
    v.unknown_keys(keys::unknown(&tree, &keys::schema()));
    validate::validate(raw, v)
}

fn syntax(e: toml::de::Error, text: &str, file: &Path) -> ConfigErrors {
    let Some(at) = e.span().map(|s| s.start.min(text.len())) else {
        return ConfigErrors::one(file, None, "", format!("invalid TOML: {}", e.message().trim()));
    };
    let bytes = text.as_bytes();
    let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&bytes[line_start..at]).chars().count() + 1;
    let line = validate::line_of(text, at);
    ConfigErrors::one(file, Some(line), "", format!("invalid TOML at column {column}: {}", e.message().trim()))
}

fn too_big(file: &Path, len: u64) -> ConfigErrors {
    let msg = format!("the config is {len} bytes, and cdnsync reads at most {MAX_CONFIG_BYTES} (1 MiB): is this the right file?");
    ConfigErrors::one(file, None, "", msg)
}

/// The config file's text: at most [`MAX_CONFIG_BYTES`] are read, whatever the file is.
fn read(path: &Path) -> Result<String, ConfigErrors> {
    let cannot =
        |e: std::io::Error| ConfigErrors::one(path, None, "", format!("cannot read the config file: {e} (create one with `cdnsync init`)"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    if let Ok(m) = file.metadata() {
        if m.is_file() && m.len() > MAX_CONFIG_BYTES as u64 {
            return Err(too_big(path, m.len()));
        }
    }
    let mut buf = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1).read_to_end(&mut buf).map_err(cannot)?;
    if buf.len() > MAX_CONFIG_BYTES {
        return Err(too_big(path, buf.len() as u64));
    }
    String::from_utf8(buf).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        ConfigErrors::one(path, Some(line), "", "the config is not UTF-8 text")
    })
}

/// Read, parse and validate a config file, then check what needs the filesystem. Without an
/// `if_no_state` key, the `CI` environment variable picks its default ([`ci_is_set`]).
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read(path)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let mut cfg = from_str(&text, path, &base)?;
    check_fs(&cfg)?;
    // A file without `if_no_state` gets the default of where it runs: `purge_all` under CI.
    cfg.if_no_state.apply_ci(std::env::var_os("CI").as_deref());
    Ok(cfg)
}

/// Checks that need the filesystem: `publish_dir` must be an existing folder (a symlink to one is
/// fine), and not the state folder itself.
pub fn check_fs(cfg: &Config) -> Result<(), ConfigErrors> {
    match std::fs::metadata(&cfg.publish_dir) {
        Ok(m) if m.is_dir() => {
            let same = std::fs::canonicalize(&cfg.publish_dir).ok().is_some_and(|p| std::fs::canonicalize(&cfg.state_dir).ok() == Some(p));
            if same {
                let msg = "is publish_dir itself: cdnsync would publish its own state; use a folder beside the site";
                return Err(ConfigErrors::one(&cfg.source, None, "state_dir", msg));
            }
            Ok(())
        }
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
mod tests;
