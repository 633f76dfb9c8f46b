//! `if_no_state` and `[limits] max_root_purges_per_day`'s neighbour rule: what a sync does when
//! it finds no manifest (`docs/config.md`, `if_no_state`). A CI runner whose cached state
//! directory was evicted looks exactly like a first deploy; recording a baseline there would
//! leave the deploy's changes stale behind a green build, so under CI the default is a purge of
//! each domain's root instead.

use std::ffi::OsStr;

use serde::Serialize;

/// What a sync that finds no manifest (and no usable `manifest_url`) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoStateRule {
    /// Record the tree as deployed; purge nothing.
    Baseline,
    /// Record the tree and purge each domain's root once per area (one directory purge each).
    PurgeAll,
    /// Stop with exit code 2; nothing is written or sent.
    Fail,
}

impl NoStateRule {
    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            NoStateRule::Baseline => "baseline",
            NoStateRule::PurgeAll => "purge_all",
            NoStateRule::Fail => "fail",
        }
    }

    /// Parse the config's (or the command line's) word.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "baseline" => Some(NoStateRule::Baseline),
            "purge_all" => Some(NoStateRule::PurgeAll),
            "fail" => Some(NoStateRule::Fail),
            _ => None,
        }
    }

    /// Every word, in the order of the docs.
    pub const WORDS: [&'static str; 3] = ["baseline", "purge_all", "fail"];
}

/// The rule a config gives, and why (for the run's notes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoStatePolicy {
    /// The rule.
    pub rule: NoStateRule,
    /// Where it comes from: the key and its line, the `CI` variable, or the default.
    pub why: String,
    /// Set by `if_no_state` in the config (the `CI` variable then changes nothing).
    pub from_key: bool,
}

impl Default for NoStatePolicy {
    fn default() -> Self {
        NoStatePolicy { rule: NoStateRule::Baseline, why: "the default outside CI".into(), from_key: false }
    }
}

/// Is a CI runner announcing itself? `CI` counts as set when it is non-empty and not `false` or
/// `0` (any case): GitHub Actions, GitLab CI, and most others set `CI=true`; some set `CI=1`.
pub fn ci_is_set(value: Option<&OsStr>) -> bool {
    let Some(v) = value else { return false };
    let v = v.to_string_lossy();
    let v = v.trim();
    !(v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0")
}

impl NoStatePolicy {
    /// The default when the config has no `if_no_state`: `purge_all` under CI (`ci` is the value
    /// of the `CI` environment variable), else `baseline`.
    pub fn apply_ci(&mut self, ci: Option<&OsStr>) {
        if !self.from_key && ci_is_set(ci) {
            let shown = ci.map(|v| v.to_string_lossy().chars().take(20).collect::<String>()).unwrap_or_default();
            self.rule = NoStateRule::PurgeAll;
            self.why = format!("the default under CI (CI={shown:?} in the environment)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_variable_is_read_as_documented() {
        for (v, set) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("TRUE", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("", false),
            ("  ", false),
        ] {
            assert_eq!(ci_is_set(Some(OsStr::new(v))), set, "CI={v:?}");
        }
        assert!(!ci_is_set(None));
    }

    #[test]
    fn ci_changes_only_the_default() {
        let mut p = NoStatePolicy::default();
        p.apply_ci(Some(OsStr::new("true")));
        assert_eq!(p.rule, NoStateRule::PurgeAll);
        assert!(p.why.contains("CI=\"true\""), "{}", p.why);
        let mut p = NoStatePolicy { rule: NoStateRule::Baseline, why: "k".into(), from_key: true };
        p.apply_ci(Some(OsStr::new("true")));
        assert_eq!(p.rule, NoStateRule::Baseline, "the config's key wins");
        for w in NoStateRule::WORDS {
            assert_eq!(NoStateRule::parse(w).map(NoStateRule::as_str), Some(w));
        }
    }
}
