//! `RawConfig` + its source text -> a typed [`Config`], or every problem found.
//!
//! Pure: text in, values out. The filesystem checks (does `publish_dir` exist?) live in
//! `config::load`. [`Validator`] collects errors (with line and key) and offers one reader per
//! kind of value; each table has its own function in `validate/`, which starts from the table's
//! `Default` (`types.rs`) and overrides it key by key.
//!
//! Adding a key to an existing table: a field in `raw.rs`, a field in `types.rs` (with its default
//! in the table's `Default`), a few lines in that table's function here, a test, and its
//! documentation (`docs/config.md`, `cdnsync.toml.example`).

mod domain;
mod limits;
mod provider;
mod watch;

use std::ops::Deref;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

pub use domain::{check_base_path, check_host};
pub use provider::{check_plain_http, is_loopback_host, parse_endpoint};

use super::keys::Unknown;
use super::raw::RawConfig;
use super::types::{Config, Symlinks, BUILTIN_EXCLUDES};
use super::val::{List, Val};
use super::{ConfigError, ConfigErrors};

/// Most globs one config may hold (all lists together): matching cost grows with each, and a
/// list this long is a generated one that broader patterns (`dir/**`) should replace.
pub const MAX_GLOBS: usize = 1000;
/// Longest glob, in bytes.
pub const MAX_GLOB_BYTES: usize = 1024;
/// Most `[[domain]]` blocks: each one multiplies the work of mapping every changed file.
pub const MAX_DOMAINS: usize = 200;
/// Most errors listed for one file; the rest are counted.
pub const MAX_ERRORS: usize = 100;

/// Compile one glob the way cdnsync matches paths: `*` stays within a path segment, `**` crosses.
pub fn compile_glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().map_err(|e| e.kind().to_string())
}

/// Line (1-based) of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A value that passed its type check, and where it was written.
#[derive(Debug)]
pub(super) struct At<'r, T> {
    pub v: &'r T,
    pub at: Option<usize>,
}

impl<T> Clone for At<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for At<'_, T> {}

impl<T> Deref for At<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.v
    }
}

/// A list that passed its type check.
pub(super) struct Listed<'r, T> {
    /// Where the list starts.
    pub at: Option<usize>,
    /// How many items it has, of any type.
    pub len: usize,
    /// The items of the right type, each with its index.
    pub items: Vec<(usize, At<'r, T>)>,
}

/// Collects every problem of one config text.
pub(super) struct Validator<'a> {
    /// Byte offset of each `\n` of the text, to find lines in O(log n): a hostile file may hold
    /// a hundred thousand errors.
    newlines: Vec<usize>,
    file: &'a Path,
    /// Where relative paths start.
    pub base_dir: &'a Path,
    errors: Vec<ConfigError>,
    globs: usize,
}

impl<'a> Validator<'a> {
    pub fn new(text: &'a str, file: &'a Path, base_dir: &'a Path) -> Self {
        let newlines = text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect();
        Validator { newlines, file, base_dir, errors: Vec::new(), globs: 0 }
    }

    /// Record a problem with `key`, on the line of byte offset `at` when there is one.
    pub fn err(&mut self, at: Option<usize>, key: &str, message: impl Into<String>) {
        let line = self.line(at);
        self.errors.push(ConfigError { file: self.file.to_path_buf(), line, key: key.to_string(), message: message.into() });
    }

    /// Line of byte offset `at`.
    pub fn line(&self, at: Option<usize>) -> Option<usize> {
        at.map(|a| self.newlines.partition_point(|&n| n < a) + 1)
    }

    /// How many problems so far (a section compares before and after).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub fn unknown_keys(&mut self, unknown: Vec<Unknown>) {
        for u in unknown {
            self.err(u.at, &u.key, u.message);
        }
    }

    /// The value of `key`, or `None` when it is absent or of the wrong type (reported).
    pub fn get<'r, T>(&mut self, field: &'r Option<Val<T>>, key: &str) -> Option<At<'r, T>> {
        let f = field.as_ref()?;
        match f.value() {
            Ok(v) => Some(At { v, at: f.at() }),
            Err(e) => {
                self.err(f.at(), key, e);
                None
            }
        }
    }

    /// A list and those of its items that have the right type (the others are reported as
    /// `key[i]`), each with its index.
    pub fn list<'r, T>(&mut self, field: &'r Option<List<T>>, key: &str) -> Option<Listed<'r, T>> {
        let list = self.get(field, key)?;
        let mut items = Vec::new();
        for (i, item) in list.v.iter().enumerate() {
            match item.value() {
                Ok(v) => items.push((i, At { v, at: item.at() })),
                Err(e) => self.err(item.at(), &format!("{key}[{i}]"), e),
            }
        }
        Some(Listed { at: list.at, len: list.v.len(), items })
    }

    /// One of the `allowed` words.
    pub fn word(&mut self, field: &Option<Val<String>>, key: &str, allowed: &[&'static str]) -> Option<&'static str> {
        let s = self.get(field, key)?;
        match allowed.iter().find(|a| **a == s.v.as_str()) {
            Some(a) => Some(a),
            None => {
                let list = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
                self.err(s.at, key, format!("expected one of {list}, found {:?}", s.v));
                None
            }
        }
    }

    /// A whole number from `lo` to `hi`; `why` follows the range in the message.
    pub fn int(&mut self, field: &Option<Val<i64>>, key: &str, lo: i64, hi: i64, why: &str) -> Option<i64> {
        let n = self.get(field, key)?;
        if (lo..=hi).contains(n.v) {
            Some(*n.v)
        } else {
            self.err(n.at, key, format!("expected a whole number from {lo} to {hi}{why}, found {}", n.v));
            None
        }
    }

    /// `true` or `false`.
    pub fn flag(&mut self, field: &Option<Val<bool>>, key: &str) -> Option<bool> {
        self.get(field, key).map(|b| *b.v)
    }

    /// The globs of a list, compiled, with their text; each bad one reported as `key[i]`. A list
    /// past the bounds ([`MAX_GLOBS`] in the whole config, [`MAX_GLOB_BYTES`] each) is refused
    /// before anything is compiled.
    pub fn globs<'r>(&mut self, field: &'r Option<List<String>>, key: &str) -> Option<Vec<(&'r str, Glob)>> {
        let Listed { at, len, items } = self.list(field, key)?;
        self.globs += len;
        if self.globs > MAX_GLOBS {
            self.err(
                at,
                key,
                format!(
                    "too many globs: this list brings the config to {} and cdnsync reads at most {MAX_GLOBS} in one config; \
                     use broader patterns (\"dir/**\" covers a whole folder)",
                    self.globs
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        for (i, g) in items {
            if g.v.len() > MAX_GLOB_BYTES {
                self.err(g.at, &format!("{key}[{i}]"), format!("glob of {} bytes: at most {MAX_GLOB_BYTES} are allowed", g.v.len()));
                continue;
            }
            match compile_glob(g.v) {
                Ok(glob) => out.push((g.v.as_str(), glob)),
                Err(e) => self.err(g.at, &format!("{key}[{i}]"), format!("invalid glob {:?}: {e}", g.v)),
            }
        }
        Some(out)
    }

    /// A compiled set of globs, or the reason it cannot be built (reported under `key`).
    pub fn set(&mut self, globs: impl IntoIterator<Item = Glob>, at: Option<usize>, key: &str) -> GlobSet {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            b.add(g);
        }
        b.build().unwrap_or_else(|e| {
            self.err(at, key, format!("these globs cannot be compiled together ({e}): use fewer or simpler ones"));
            GlobSet::empty()
        })
    }

    /// The globs of `field` as a set; `None` when the key is absent or wrong.
    pub fn globset(&mut self, field: &Option<List<String>>, key: &str) -> Option<GlobSet> {
        let globs = self.globs(field, key)?;
        let at = field.as_ref().and_then(Val::at);
        Some(self.set(globs.into_iter().map(|(_, g)| g), at, key))
    }

    /// Every error, in the order of the file (errors without a line last), at most
    /// [`MAX_ERRORS`] of them.
    pub fn finish<T>(mut self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            return Ok(value);
        }
        self.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        let total = self.errors.len();
        if total > MAX_ERRORS {
            self.errors.truncate(MAX_ERRORS);
            self.err(None, "", format!("{} more errors not shown (fix these first)", total - MAX_ERRORS));
        }
        Err(ConfigErrors(self.errors))
    }
}

/// A path key: joined onto the config's folder; an empty string is an error.
fn path(v: &mut Validator, field: &Option<Val<String>>, key: &str, what: &str) -> Option<PathBuf> {
    let p = v.get(field, key)?;
    if p.v.trim().is_empty() {
        v.err(p.at, key, format!("expected {what}, found an empty string"));
        return None;
    }
    Some(v.base_dir.join(p.v))
}

/// The config's `exclude` with the built-in ones and the trigger file; and the globs among them
/// that name whole folders (`dir/**`), so the walk can skip them.
fn excludes(v: &mut Validator, field: &Option<List<String>>, trigger_file: Option<&str>) -> (GlobSet, GlobSet) {
    let builtin = BUILTIN_EXCLUDES.iter().map(|p| (*p, compile_glob(p).expect("built-in globs compile")));
    let mine = v.globs(field, "exclude").unwrap_or_default();
    let mut all = Vec::new();
    let mut dirs = Vec::new();
    for (text, glob) in builtin.chain(mine) {
        if let Some(d) = text.strip_suffix("/**") {
            dirs.extend(compile_glob(d).ok());
        }
        all.push(glob);
    }
    // The trigger file is a signal from the deploy tool, not content: never tracked or purged.
    if let Some(t) = trigger_file {
        all.push(compile_glob(&globset::escape(t)).expect("an escaped path compiles"));
    }
    let at = field.as_ref().and_then(Val::at);
    (v.set(all, at, "exclude"), v.set(dirs, at, "exclude"))
}

/// `if_no_state`: the rule and where it was written; absent, the default (`config::load` then
/// looks at the `CI` variable).
fn no_state(v: &mut Validator, field: &Option<Val<String>>) -> super::NoStatePolicy {
    let at = field.as_ref().and_then(Val::at);
    match v.word(field, "if_no_state", &super::NoStateRule::WORDS).and_then(super::NoStateRule::parse) {
        Some(rule) => {
            let line = v.line(at).map(|l| format!(":{l}")).unwrap_or_default();
            let why = format!("if_no_state = \"{}\" in {}{line}", rule.as_str(), v.file.display());
            super::NoStatePolicy { rule, why, from_key: true }
        }
        None => super::NoStatePolicy::default(),
    }
}

/// Validate a parsed config (the validator may hold errors already: unknown keys).
pub(super) fn validate(raw: RawConfig, mut v: Validator) -> Result<Config, ConfigErrors> {
    let publish_dir = path(&mut v, &raw.publish_dir, "publish_dir", "the folder the CDN's origin serves");
    if raw.publish_dir.is_none() {
        v.err(None, "publish_dir", "missing required key: the folder the CDN's origin serves, e.g. publish_dir = \"public\"");
    }
    let publish_dir_line = v.line(raw.publish_dir.as_ref().and_then(Val::at));
    let state_dir = path(&mut v, &raw.state_dir, "state_dir", "a folder path").unwrap_or_else(|| v.base_dir.join(".cdnsync"));

    let watch = v.get(&raw.watch, "watch").map(|w| watch::watch(&mut v, w.v)).unwrap_or_default();
    let (exclude, exclude_dirs) = excludes(&mut v, &raw.exclude, watch.trigger_file.as_deref());

    let credentials_file = path(&mut v, &raw.credentials_file, "credentials_file", "a file path");
    let manifest_url = v.get(&raw.manifest_url, "manifest_url").and_then(|u| {
        if u.v.starts_with("http://") || u.v.starts_with("https://") {
            Some(u.v.clone())
        } else {
            v.err(u.at, "manifest_url", format!("expected an http:// or https:// URL, found {:?}", u.v));
            None
        }
    });

    let if_no_state = no_state(&mut v, &raw.if_no_state);
    let symlinks = match v.word(&raw.symlinks, "symlinks", &["follow", "inside", "skip"]) {
        Some("inside") => Symlinks::Inside,
        Some("skip") => Symlinks::Skip,
        _ => Symlinks::Follow,
    };

    let provider = v.get(&raw.provider, "provider").map(|p| provider::provider(&mut v, p.v)).unwrap_or_default();
    let mut domains = domain::domains(&mut v, &raw.domains);
    super::edgeone::apply(&mut v, &raw, &provider, &mut domains);
    super::verify::apply(&mut v, &raw, &mut domains);
    let limits = v.get(&raw.limits, "limits").map(|l| limits::limits(&mut v, l.v)).unwrap_or_default();
    let verify = v.get(&raw.verify, "verify").map(|t| super::verify::table(&mut v, t.v)).unwrap_or_default();
    let fleet = v.get(&raw.fleet, "fleet").and_then(|t| super::fleet::table(&mut v, t.v, t.at));

    let source = v.file.to_path_buf();
    v.finish(()).map(|()| Config {
        source,
        publish_dir: publish_dir.unwrap_or_default(),
        publish_dir_line,
        state_dir,
        exclude,
        exclude_dirs,
        symlinks,
        credentials_file,
        manifest_url,
        if_no_state,
        provider,
        domains,
        watch,
        limits,
        verify,
        fleet,
    })
}
