//! `cdnsync init`: write a commented config tuned to the folder (never overwrites one).

use std::path::Path;

use super::render::Output;
use cdnsync::{Error, Result};

/// The commented template: every key of `docs/config.md`.
pub const TEMPLATE: &str = include_str!("../../cdnsync.toml.example");

/// Guess the site generator of `dir` and the folder it writes.
pub fn detect(dir: &Path) -> Option<(&'static str, &'static str)> {
    let has = |f: &str| dir.join(f).exists();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    if has("hugo.toml") || has("hugo.yaml") || has("hugo.json") || (has("config.toml") && read("config.toml").contains("baseURL")) {
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

pub fn run(config_path: &Path, publish_dir: Option<&Path>, out: &Output) -> Result<u8> {
    if config_path.exists() {
        return Err(Error::Usage(format!("{} already exists; cdnsync init never overwrites a config", config_path.display())));
    }
    let base = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (publish, why) = match publish_dir {
        Some(p) => (p.to_string_lossy().into_owned(), "given on the command line".to_string()),
        None => match detect(base) {
            Some((gen, dir)) => (dir.to_string(), format!("{gen} project detected")),
            None => ("public".to_string(), "default; edit it if your site is built elsewhere".to_string()),
        },
    };
    let text = TEMPLATE.replacen("publish_dir = \"public\"", &format!("publish_dir = {}", toml_string(&publish)), 1);
    let text = text.replacen("# cdnsync.toml", &format!("# cdnsync.toml — publish_dir: {why}"), 1);
    std::fs::write(config_path, text).map_err(|e| Error::io(config_path, e))?;
    if out.json {
        println!("{}", serde_json::json!({"config": config_path, "publish_dir": publish, "reason": why}));
    } else if !out.quiet {
        eprintln!("wrote {} (publish_dir = \"{publish}\": {why})", config_path.display());
        eprintln!("next: set [[domain]] host, then `cdnsync plan`; the first `cdnsync sync` records a baseline");
    }
    Ok(0)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
