//! The architecture's rules, checked on the source (ARCHITECTURE.md, "Layers"): modules form
//! layers and no `crate::` path runs upward (nor between two modules of one layer both ways);
//! the CLI uses only the library's public surface; no file in `src/` grows past ~450 lines
//! unless its module doc says why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. `fake` is test support and may use anything below the engine.
const LAYERS: &[&[&str]] = &[
    &["model", "clock", "error", "progress", "failpoint", "text"],
    &["config", "credentials"],
    &["plan", "api", "fleet"],
    &["state"],
    &["submit"],
    &["scan", "verify"],
    &["engine", "report", "metrics"],
    &["watch"],
    &["fake", "lib"],
];

/// `error.rs` wraps the error types of a few modules above it (plain data; see its module doc).
const ERROR_MAY_NAME: &[&str] = &["config", "credentials", "api"];

/// Root re-exports, by the module that defines them.
fn home_of_root_name(name: &str) -> &'static str {
    match name {
        "Error" | "Result" => "error",
        "Engine" | "SyncOptions" => "engine",
        "Report" | "JobReport" | "StatusReport" => "report",
        "Clock" | "ManualClock" | "SystemClock" => "clock",
        "Area" | "Api" | "ChangeSet" | "Job" | "JobKind" | "JobStatus" => "model",
        "Progress" | "Cancel" => "progress",
        "CdnApi" | "Class" | "Failure" => "api",
        "Config" | "Builder" | "load" => "config",
        _ => "lib",
    }
}

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/layers.rs"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library's files with their top-level module (`lib` for lib.rs), without the binary's.
fn library_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            (top != "main" && top != "cli").then_some((top, p))
        })
        .collect()
}

/// The code a module depends on: without comments and without its unit tests (which may use
/// anything), and without test-only files.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let s = path.to_string_lossy();
    if s.contains("/tests/") || s.ends_with("/tests.rs") || s.ends_with("_tests.rs") {
        return String::new();
    }
    let end = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
    text[..end].lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `crate::x` a text names, as top-level modules.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `cdnsync_crate::` and the like
        }
        let name: String = code[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        let module = if name.starts_with(char::is_uppercase) || ["load", "connect", "api_for", "find_credentials"].contains(&name.as_str())
        {
            home_of_root_name(&name).to_string()
        } else {
            name
        };
        out.insert(module);
    }
    out
}

#[test]
fn no_import_runs_upward() {
    let mut edges: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, path) in library_files() {
        for used in uses(&code(&path)) {
            if used == module {
                continue;
            }
            let (from, to) = (layer(&module), layer(&used));
            let allowed = to < from || (module == "error" && ERROR_MAY_NAME.contains(&used.as_str())) || (to == from && module != "lib");
            if !allowed {
                wrong.push(format!("{} (layer {from}) uses crate::{used} (layer {to})", path.strip_prefix(src()).unwrap().display()));
            }
            edges.insert((module.clone(), used), path.clone());
        }
    }
    for ((a, b), path) in &edges {
        if a < b && edges.contains_key(&(b.clone(), a.clone())) && a != "error" && b != "error" {
            wrong.push(format!("{a} and {b} use each other (e.g. {})", path.display()));
        }
    }
    assert!(wrong.is_empty(), "imports against the layers of ARCHITECTURE.md:\n{}", wrong.join("\n"));
}

#[test]
fn the_rule_catches_what_it_is_meant_to() {
    // The checker itself: an upward path is seen, comments and unit tests are not.
    let found = uses("use crate::engine::Engine;\nlet x = crate::Error::Usage(s);\nmy_crate::plan::x();");
    assert_eq!(found, ["engine", "error"].iter().map(|s| s.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.rs");
    std::fs::write(
        &p,
        "// crate::watch in a comment\nuse crate::model::Job;\n#[cfg(test)]\nmod tests {\n    use crate::engine::Engine;\n}\n",
    )
    .unwrap();
    assert_eq!(uses(&code(&p)), ["model".to_string()].into_iter().collect());
}

#[test]
fn the_cli_uses_only_the_public_library() {
    let mut files = Vec::new();
    rust_files(&src().join("cli"), &mut files);
    files.push(src().join("main.rs"));
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for hidden in ["cdnsync::plan", "cdnsync::scan", "cdnsync::state", "cdnsync::submit", "cdnsync::internals", "crate::"] {
            assert!(!text.contains(hidden), "{} reaches into the library's internals ({hidden})", f.display());
        }
    }
}

#[test]
fn files_stay_small_unless_they_say_why() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let lines = text.lines().count();
            let says_why = text.lines().take_while(|l| l.starts_with("//!")).any(|l| l.contains("This file is long"));
            (lines > 460 && !says_why).then(|| format!("{} ({lines} lines)", p.strip_prefix(src()).unwrap().display()))
        })
        .collect();
    assert!(long.is_empty(), "split these, or say in the module doc why not (\"This file is long because …\"): {long:?}");
}
