//! `cdnsync init`: write a commented config tuned to the folder (never overwrites one): the
//! generator's output folder, the site's address from the generator's own config, `.cdnsync/` in
//! `.gitignore` inside a git work tree.

use std::path::{Path, PathBuf};

use super::render::Output;
use super::{out, siteurl};
use cdnsync::{Error, Result};

/// The commented template: every key of `docs/config.md`.
pub const TEMPLATE: &str = include_str!("../../cdnsync.toml.example");

/// Guess the site generator of `dir` and the folder it writes.
pub fn detect(dir: &Path) -> Option<(&'static str, &'static str)> {
    let has = |f: &str| dir.join(f).exists();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let hugo_files = ["hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config/_default"];
    let hugo_config = ["config.toml", "config.yaml", "config.yml", "config.json"].iter().any(|f| read(f).contains("baseURL"));
    if hugo_files.iter().any(|f| has(f)) || hugo_config {
        return Some(("Hugo", "public"));
    }
    if has("config.toml") && read("config.toml").contains("base_url") || has("zola.toml") {
        return Some(("Zola", "public"));
    }
    if has("_config.yml") && read("package.json").contains("hexo") {
        return Some(("Hexo", "public"));
    }
    if has("_config.yml") && (has("Gemfile") || read("_config.yml").contains("jekyll")) {
        return Some(("Jekyll", "_site"));
    }
    if has(".eleventy.js") || has("eleventy.config.js") || has("eleventy.config.mjs") || read("package.json").contains("@11ty/eleventy") {
        return Some(("Eleventy", "_site"));
    }
    None
}

/// Hugo keeps deleted pages in `public/` unless told to clean it: said in the written config.
const HUGO_CLEAN: &str = "# Hugo: build with `hugo --cleanDestinationDir` (e.g. `hugo --minify --cleanDestinationDir`):\n\
# without it a page you delete stays in public/, so cdnsync never sees it removed nor purges it.\n";

pub fn run(config_path: &Path, publish_dir: Option<&Path>, o: &Output) -> Result<u8> {
    // A symlink, even a dangling one, is refused: writing through it would create or replace
    // its target, wherever that is.
    match std::fs::symlink_metadata(config_path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::Usage(format!("{} is a symlink; cdnsync init never writes through one", config_path.display())))
        }
        Ok(_) => return Err(exists(config_path)),
        Err(_) => {}
    }
    let base = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let generator = detect(base);
    let (publish, why) = match (publish_dir, generator) {
        (Some(p), _) => (p.to_string_lossy().into_owned(), "given on the command line".to_string()),
        (None, Some((gen, dir))) => (dir.to_string(), format!("{gen} project detected")),
        (None, None) => ("public".to_string(), "default; edit it if your site is built elsewhere".to_string()),
    };
    let mut text = TEMPLATE.replacen("publish_dir = \"public\"", &format!("publish_dir = {}", toml_string(&publish)), 1);
    if generator.is_some_and(|(g, _)| g == "Hugo") {
        text = text.replacen("\npublish_dir = ", &format!("\n{HUGO_CLEAN}publish_dir = "), 1);
    }
    text = text.replacen("# cdnsync.toml", &format!("# cdnsync.toml — publish_dir: {why}"), 1);
    // The site's address, from the generator's own config.
    let (site, site_note) = match generator.map(|(g, _)| (g, siteurl::find(base, g))) {
        Some((_, Ok(Some(u)))) if siteurl::is_placeholder(&u.host) => {
            (None, format!("{} names {}, a placeholder: set [[domain]] host yourself", u.from, u.host))
        }
        Some((_, Ok(Some(u)))) => {
            text = text.replacen("host = \"www.example.com\"", &format!("host = {}", toml_string(&u.host)), 1);
            text = text.replacen("scheme = \"https\"", &format!("scheme = {}", toml_string(&u.scheme)), 1);
            text = text.replacen("base_path = \"/\"", &format!("base_path = {}", toml_string(&u.base_path)), 1);
            let note = format!("[[domain]]: {}://{}{} (from {})", u.scheme, u.host, u.base_path, u.from);
            (Some(u), note)
        }
        Some(("Eleventy", _)) => (None, "Eleventy has no site URL setting: set [[domain]] host (and base_path) yourself".to_string()),
        Some((g, Ok(None))) => (None, format!("{g} sets no site URL: set [[domain]] host yourself")),
        Some((_, Err(why))) => (None, format!("cannot use the site URL: {why}; set [[domain]] host yourself")),
        None => (None, "no site generator found: set [[domain]] host yourself".to_string()),
    };
    // create_new (O_EXCL): whatever appeared at the path since the check above, a file or a
    // symlink, is never written through.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(config_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => exists(config_path),
        _ => Error::io(config_path, e),
    })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(config_path, e))?;
    let ignored = gitignore(base)?;
    if o.json {
        let v = serde_json::json!({
            "config": config_path, "publish_dir": publish, "reason": why,
            "host": site.as_ref().map(|u| &u.host), "scheme": site.as_ref().map(|u| &u.scheme),
            "base_path": site.as_ref().map(|u| &u.base_path), "site_url_from": site.as_ref().map(|u| &u.from),
            "gitignore": ignored,
        });
        out::stdout(&format!("{v}\n"));
    } else if !o.quiet {
        let mut s = format!("wrote {} (publish_dir = \"{publish}\": {why})\n{site_note}\n", config_path.display());
        if let Some(g) = &ignored {
            s += &format!("added .cdnsync/ to {} (the state directory is per machine, never committed)\n", g.display());
        }
        if generator.is_some_and(|(g, _)| g == "Hugo") {
            s += "Hugo: build with --cleanDestinationDir, or deleted pages stay in public/ and are never purged\n";
        }
        s += "next: `cdnsync plan`; the first `cdnsync sync` records a baseline (under CI it purges each domain's root)\n";
        out::stdout(&s);
    }
    Ok(0)
}

fn exists(config_path: &Path) -> Error {
    Error::Usage(format!("{} already exists; cdnsync init never overwrites a config", config_path.display()))
}

/// In a git work tree (`.git` here or in a parent folder), make `.gitignore` beside the config
/// ignore `.cdnsync/`. Returns the file when it was changed.
fn gitignore(base: &Path) -> Result<Option<PathBuf>> {
    let abs = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    if !abs.ancestors().any(|d| d.join(".git").exists()) {
        return Ok(None);
    }
    let path = base.join(".gitignore");
    // A link there (a shared or dangling .gitignore) is not ours to write through.
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(None);
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    if text.lines().any(|l| matches!(l.trim(), ".cdnsync" | ".cdnsync/" | "/.cdnsync" | "/.cdnsync/" | ".cdnsync/*")) {
        return Ok(None);
    }
    let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    std::fs::write(&path, format!("{text}{sep}# cdnsync's state (manifest, outbox): per machine, never committed\n.cdnsync/\n"))
        .map_err(|e| Error::io(&path, e))?;
    Ok(Some(path))
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_linked_gitignore_is_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let target = d.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, d.path().join(".gitignore")).unwrap();
        assert_eq!(gitignore(d.path()).unwrap(), None);
        assert!(!target.exists(), "the link's target was not created");
        std::fs::remove_file(d.path().join(".gitignore")).unwrap();
        assert_eq!(gitignore(d.path()).unwrap(), Some(d.path().join(".gitignore")));
        assert!(std::fs::read_to_string(d.path().join(".gitignore")).unwrap().contains(".cdnsync/"));
    }

    #[test]
    fn template_is_a_valid_config() {
        let c = cdnsync::config::from_str(TEMPLATE, Path::new("cdnsync.toml.example"), Path::new("/site")).unwrap();
        assert_eq!(c.publish_dir, Path::new("/site/public"));
    }

    #[test]
    fn detects_generators() {
        type Case = (&'static [(&'static str, &'static str)], Option<(&'static str, &'static str)>);
        let cases: &[Case] = &[
            (&[("hugo.toml", "")], Some(("Hugo", "public"))),
            (&[("config.toml", "baseURL = 'x'")], Some(("Hugo", "public"))),
            (&[("config.toml", "base_url = 'x'")], Some(("Zola", "public"))),
            (&[("_config.yml", ""), ("package.json", "{\"hexo\": {}}")], Some(("Hexo", "public"))),
            (&[("_config.yml", ""), ("Gemfile", "")], Some(("Jekyll", "_site"))),
            (&[("eleventy.config.js", "")], Some(("Eleventy", "_site"))),
            (&[("README.md", "")], None),
        ];
        for (files, want) in cases {
            let d = tempfile::tempdir().unwrap();
            for (f, c) in *files {
                std::fs::write(d.path().join(f), c).unwrap();
            }
            assert_eq!(detect(d.path()), *want, "{files:?}");
        }
    }
}
