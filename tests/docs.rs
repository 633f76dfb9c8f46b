//! The docs keep up with the code: every config key, command, flag and exit code the binary knows
//! is documented where a reader looks for it, every field the JSON output carries is described,
//! the docs' links lead somewhere, and README and the bench agree on the bench site's size.
//!
//! Reads only the repository's own files (and runs the built binary against the local fake).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::util::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The parts of a Markdown text under each heading that starts with `prefix` (`"## "`): the
/// heading line, and everything up to the next heading of that level or a higher one.
fn sections<'a>(md: &'a str, prefix: &str) -> Vec<(&'a str, String)> {
    let level = prefix.trim_end().len();
    let mut out: Vec<(&str, String)> = Vec::new();
    let mut current: Option<(&str, String)> = None;
    let mut in_code = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !in_code && hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            out.extend(current.take());
            current = line.starts_with(prefix).then(|| (line, String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.extend(current);
    out
}

/// The one section of `md` whose heading (at `prefix` level) contains `needle`.
#[track_caller]
fn section(md: &str, prefix: &str, needle: &str, file: &str) -> String {
    let found: Vec<_> = sections(md, prefix).into_iter().filter(|(h, _)| h.contains(needle)).collect();
    assert_eq!(found.len(), 1, "{file}: expected one `{prefix}` heading containing {needle:?}, found {}", found.len());
    found.into_iter().next().map(|(_, body)| body).unwrap_or_default()
}

/// `(table, key)` for every key `cdnsync.toml.example` shows, set or commented out; the table
/// is `""` for top-level keys.
fn example_keys(text: &str) -> BTreeSet<(String, String)> {
    let mut table = String::new();
    let mut keys = BTreeSet::new();
    for raw in text.lines() {
        let line = raw.trim();
        // An optional table is shown commented out (`# [fleet]`): its keys are still its own.
        let header = line.strip_prefix("# [").map(|t| t.trim_start_matches('[')).filter(|t| t.ends_with(']'));
        if let Some(t) = header.or_else(|| line.strip_prefix('[')) {
            table = t.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let line = line.trim_start_matches('#').trim();
        let Some((k, _)) = line.split_once('=') else { continue };
        let k = k.trim();
        let is_key =
            k.starts_with(|c: char| c.is_ascii_lowercase()) && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_key && line[k.len()..].trim_start().starts_with("= ") {
            keys.insert((table.clone(), k.to_string()));
        }
    }
    keys
}

/// `(table, key)` for every field of the serde mirror of the config (`src/config/raw.rs`):
/// fields of `RawConfig` are top-level keys, except those holding another `Raw*` struct, which
/// name that struct's table.
fn raw_keys(text: &str) -> BTreeSet<(String, String)> {
    // struct name -> [(key, type)]
    let mut structs: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rename: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("pub struct ") {
            structs.push((rest.trim_end_matches('{').trim().to_string(), Vec::new()));
        } else if line.starts_with("#[serde(") {
            rename = line.split("rename = \"").nth(1).and_then(|r| r.split('"').next()).map(str::to_string);
        } else if let (Some(rest), Some(current)) = (line.strip_prefix("pub "), structs.last_mut()) {
            if let Some((name, ty)) = rest.split_once(':') {
                let key = rename.take().unwrap_or_else(|| name.trim().to_string());
                current.1.push((key, ty.trim().trim_end_matches(',').to_string()));
            }
        }
    }
    let fields = |name: &str| structs.iter().find(|(n, _)| n == name).map(|(_, f)| f.clone()).unwrap_or_default();
    let mut keys = BTreeSet::new();
    for (key, ty) in fields("RawConfig") {
        let table = structs.iter().map(|(n, _)| n.as_str()).find(|n| *n != "RawConfig" && ty.contains(n));
        match table {
            Some(t) => keys.extend(fields(t).into_iter().map(|(k, _)| (key.clone(), k))),
            None => {
                keys.insert((String::new(), key));
            }
        }
    }
    keys
}

#[test]
fn every_config_key_is_documented_in_its_table() {
    let example = example_keys(&read("cdnsync.toml.example"));
    let raw = raw_keys(&read("src/config/raw.rs"));
    assert!(raw.len() >= 30 && raw.contains(&("limits".into(), "retry_deadline_secs".into())), "raw.rs parsed wrong: {raw:?}");
    // The example promises every key cdnsync reads; a key only in the example is a typo.
    assert_eq!(
        example,
        raw,
        "cdnsync.toml.example and src/config/raw.rs disagree: only in the example {:?}, only in raw.rs {:?}",
        example.difference(&raw).collect::<Vec<_>>(),
        raw.difference(&example).collect::<Vec<_>>()
    );
    let doc = read("docs/config.md");
    let mut missing = Vec::new();
    for (table, key) in &raw {
        let heading = if table.is_empty() { "Top-level keys".to_string() } else { format!("[{table}]") };
        let body = section(&doc, "## ", &heading, "docs/config.md");
        if !body.lines().any(|l| l == format!("### `{key}`")) {
            missing.push(format!("{table}.{key}"));
        }
    }
    assert!(missing.is_empty(), "docs/config.md has no `### `key`` heading in the right table for: {missing:?}");
}

/// The lines of a help text's section (`"Commands:"`, `"Options:"`), up to the blank line.
fn help_section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines().skip_while(|l| l.trim() != title).skip(1).take_while(|l| !l.trim().is_empty()).collect()
}

/// The long flags (`--json`) an `Options:` section lists.
fn long_flags(help: &str) -> BTreeSet<String> {
    help_section(help, "Options:")
        .into_iter()
        .filter_map(|l| {
            let spec = l.trim_start();
            if !spec.starts_with('-') {
                return None; // a wrapped description line
            }
            let at = spec.find("--")?;
            let name: String = spec[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            Some(format!("--{name}"))
        })
        .collect()
}

fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdnsync")).args(args).env_clear().output().unwrap();
    assert!(out.status.success(), "cdnsync {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_command_and_flag_is_documented() {
    let top = help(&["--help"]);
    let commands: Vec<&str> = help_section(&top, "Commands:").iter().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(commands.len() >= 9 && commands.contains(&"sync"), "cannot read the commands from --help:\n{top}");
    let doc = read("docs/cli.md");
    let globals = long_flags(&top);
    assert!(globals.contains("--json") && globals.contains("--lock-timeout"), "cannot read the options from --help:\n{top}");
    let global_doc = section(&doc, "## ", "Global options", "docs/cli.md");
    for flag in globals.iter().filter(|f| *f != "--help") {
        assert!(global_doc.contains(&format!("`{flag}")), "docs/cli.md, Global options: {flag} is not described");
    }
    for cmd in commands {
        let heading = format!("### `cdnsync {cmd}");
        let found: Vec<_> = sections(&doc, "### ")
            .into_iter()
            .filter(|(h, _)| h.strip_prefix(heading.as_str()).is_some_and(|r| r.starts_with([' ', '`'])))
            .collect();
        assert_eq!(found.len(), 1, "docs/cli.md needs one heading {heading}…` for the command `{cmd}`");
        if cmd == "help" {
            continue;
        }
        let own = long_flags(&help(&[cmd, "--help"]));
        for flag in own.difference(&globals).filter(|f| *f != "--help") {
            assert!(found[0].1.contains(&format!("`{flag}")), "docs/cli.md, `cdnsync {cmd}`: {flag} is not described");
        }
    }
}

#[test]
fn every_exit_code_in_help_is_documented() {
    let top = help(&["--help"]);
    let text: String =
        top.lines().skip_while(|l| !l.starts_with("Exit codes:")).take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ");
    let codes: BTreeSet<u8> = text
        .trim_start_matches("Exit codes:")
        .split(',')
        .filter_map(|part| part.trim().split(' ').next().and_then(|n| n.parse().ok()))
        .collect();
    assert!(codes.len() >= 6 && codes.contains(&0) && codes.contains(&5), "cannot read the exit codes from --help: {text:?}");
    let doc = read("docs/exit-codes.md");
    for code in codes {
        assert!(doc.lines().any(|l| l.starts_with(&format!("| {code} |"))), "docs/exit-codes.md has no table row for exit code {code}");
    }
}

/// Every object key in `v` (recursively), except data keys such as `"purge_urls/mainland"`;
/// the values of keys in `elsewhere` are described in another section and not looked into.
fn json_keys(v: &serde_json::Value, elsewhere: &[&str], out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if !k.contains('/') {
                    out.insert(k.clone());
                }
                if !elsewhere.contains(&k.as_str()) {
                    json_keys(x, elsewhere, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_keys(x, elsewhere, out)),
        _ => {}
    }
}

#[track_caller]
fn assert_described(doc: &str, heading: &str, docs: &[serde_json::Value], elsewhere: &[&str]) {
    let body = section(doc, "## ", heading, "docs/json.md");
    let mut keys = BTreeSet::new();
    docs.iter().for_each(|d| json_keys(d, elsewhere, &mut keys));
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !(body.contains(&format!("`{k}`")) || body.contains(&format!(".{k}`")) || body.contains(&format!("`{k}."))))
        .collect();
    assert!(missing.is_empty(), "docs/json.md, section {heading:?}, does not describe {missing:?}");
}

#[test]
fn every_json_field_is_described() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "v1");
    let doc = read("docs/json.md");

    let plan = site.run(&["--json", "plan", "--all"]);
    plan.expect(0);
    assert!(!plan.json()["jobs"].as_array().unwrap().is_empty(), "{}", plan.stdout);
    let accepted = site.run(&["--json", "purge", "index.html"]);
    accepted.expect(0);
    // A domain the account does not have: refused for good, with the API's error.
    let failed = site.run(&["--json", "purge", "--any-host", "https://other.example.org/x"]);
    failed.expect(3);
    assert!(failed.json()["jobs"][0]["error"]["code"].is_string(), "{}", failed.stdout);

    let status = site.run(&["--json", "status", "--tasks"]);
    status.expect(0);
    assert!(!status.json()["tasks"].as_array().unwrap().is_empty(), "{}", status.stdout);
    assert!(!status.json()["jobs"].as_array().unwrap().is_empty(), "the failed job is owed: {}", status.stdout);
    // `outbox` lists the owed jobs; `drop` gives them up, and `status` then lists them.
    let outbox = site.run(&["--json", "outbox"]);
    outbox.expect(0);
    let dropped = site.run(&["--json", "outbox", "drop", "--failed", "--yes"]);
    dropped.expect(0);
    assert!(!dropped.json()["dropped"].as_array().unwrap().is_empty(), "{}", dropped.stdout);
    assert_described(&doc, "Outbox", &[outbox.json(), dropped.json()], &["jobs", "dropped"]);
    let after = site.run(&["--json", "status"]);
    assert!(!after.json()["dropped"].as_array().unwrap().is_empty(), "{}", after.stdout);
    // A waited sync: the `wait` object.
    site.run(&["sync"]).expect(0);
    site.write("index.html", "v2");
    let waited = site.run(&["--json", "sync", "--wait=30"]);
    waited.expect(0);
    assert!(waited.json()["wait"]["tasks"].as_u64().unwrap() > 0, "{}", waited.stdout);
    // `status` lists its jobs in the report's job format, described with the report.
    assert_described(&doc, "Status", &[status.json(), after.json()], &["jobs", "job"]);
    let jobs = [status.json()["jobs"].clone(), after.json()["dropped"][0]["job"].clone(), outbox.json()["jobs"].clone()];
    assert_described(
        &doc,
        "Run report",
        &[plan.json(), accepted.json(), failed.json(), waited.json(), jobs[0].clone(), jobs[1].clone(), jobs[2].clone()],
        &[],
    );

    let quota = site.run(&["--json", "quota"]);
    quota.expect(0);
    assert_described(&doc, "Quota", &[quota.json()], &[]);

    let init = site.run(&["--json", "-c", "new.toml", "init"]);
    init.expect(0);
    assert_described(&doc, "Init", &[init.json()], &[]);

    let error = site.run(&["--json", "-c", "missing.toml", "plan"]);
    error.expect(2);
    assert_described(&doc, "Errors", &[error.json()], &[]);
}

#[test]
fn every_verify_json_field_is_described() {
    use std::sync::Arc;
    let fake = Arc::new(fake());
    let site = TempSite::new(&fake, "", "scheme = \"http\"\n");
    // The edge serves the folder above publish_dir: URLs at "/" find other bytes (different) or
    // nothing (an error), so every kind of result entry is printed.
    let edge = cdnsync::fake::edge::FakeEdge::start(cdnsync::fake::edge::EdgeConfig::new(&site.dir).with_cdn(fake.clone())).unwrap();
    site.append_config(&format!("[verify]\nconnect_to = \"{}\"\n", edge.addr()));
    std::fs::write(site.dir.join("a.css"), "h1 {}\n").unwrap();
    site.write("a.css", "p {}\n");
    site.write("b.js", "1;\n");
    site.run(&["sync"]).expect(0);
    site.write("a.css", "p { margin: 0 }\n");
    site.write("b.js", "2;\n");
    let sync = site.run(&["--json", "sync", "--verify"]);
    sync.expect(6);
    let v = sync.json()["verify"].clone();
    let results: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert!(results.contains(&"different") && results.contains(&"error"), "{}", sync.stdout);
    let doc = read("docs/json.md");
    assert_described(&doc, "Run report", &[sync.json()], &["verify"]);
    let verify = site.run(&["--json", "verify"]);
    verify.expect(6);
    assert_described(&doc, "Verify", &[v, verify.json()], &["jobs"]);
}

/// The size of the bench's synthetic site as `"3.25 GB"`, from the first line of `text`
/// holding both `marker` and "GB".
fn gigabytes(text: &str, marker: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains(marker) && l.contains(" GB"))?;
    let before = &line[..line.find(" GB")?];
    let n: String = before.chars().rev().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (!n.is_empty()).then(|| n.chars().rev().collect::<String>() + " GB")
}

#[test]
fn readme_and_bench_agree_on_the_site_size() {
    let readme = gigabytes(&read("README.md"), "cargo bench --bench scale");
    let bench = gigabytes(&read("benches/scale.rs"), "synthetic site");
    assert!(readme.is_some(), "README: no size on the `cargo bench --bench scale` line");
    assert_eq!(readme, bench, "README and benches/scale.rs give different sizes for the bench site");
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, numbered as GitHub numbers repeats (`x`, `x-1`).
fn anchors(md: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_code = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let base = anchor(line);
        let mut a = base.clone();
        let mut n = 0;
        while seen.contains(&a) {
            n += 1;
            a = format!("{base}-{n}");
        }
        seen.insert(a);
    }
    seen
}

/// `(target, line)` of every Markdown link `](target)` outside code blocks.
fn links(md: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, line) in md.lines().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for part in line.split("](").skip(1) {
            if let Some(end) = part.find(')') {
                out.push((part[..end].to_string(), i + 1));
            }
        }
    }
    out
}

#[test]
fn docs_stand_on_their_own_and_their_links_resolve() {
    let mut files = vec![PathBuf::from("README.md"), PathBuf::from("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs")).unwrap().map(|e| e.unwrap().path()).collect();
    docs.sort();
    for d in docs.iter().filter(|d| d.extension().is_some_and(|e| e == "md")) {
        files.push(d.strip_prefix(repo()).unwrap().to_path_buf());
    }
    for must in ["docs/cli.md", "docs/config.md", "docs/exit-codes.md", "docs/json.md", "docs/files.md"] {
        assert!(files.contains(&PathBuf::from(must)), "{must} is missing");
    }
    let readme = read("README.md");
    for f in files.iter().filter(|f| f.starts_with("docs")) {
        assert!(readme.contains(&format!("({})", f.display())), "README does not link {}", f.display());
    }
    for f in &files {
        let text = read(&f.to_string_lossy());
        // The repository is read without the product notes it grew from: nothing may point there.
        for outside in ["SPEC", "../shared", "shared/"] {
            assert!(!text.contains(outside), "{} refers to {outside:?}, which is not in the repository", f.display());
        }
        for (target, line) in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, frag) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() { f.clone() } else { f.parent().unwrap_or(Path::new("")).join(path) };
            assert!(repo().join(&dest).exists(), "{}:{line}: link to {target} leads nowhere", f.display());
            if !frag.is_empty() {
                let dest_text = read(&dest.to_string_lossy());
                assert!(anchors(&dest_text).contains(frag), "{}:{line}: {target}: no heading with that anchor", f.display());
            }
        }
    }
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor("### `cdnsync init [PUBLISH_DIR]`"), "cdnsync-init-publish_dir");
    assert_eq!(anchor("## `[[domain]]`"), "domain");
    assert_eq!(anchor("## `quota.json`"), "quotajson");
    assert_eq!(anchors("# A\n## `x`\n```\n# not a heading\n```\n### `x`\n"), BTreeSet::from(["a".into(), "x".into(), "x-1".into()]));
}
