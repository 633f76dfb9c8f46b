//! The site's own URL, read from its generator's config for `cdnsync init` (`docs/cli.md`):
//! Hugo `baseURL` (`hugo.*`/`config.*` as TOML, YAML or JSON, also under `config/_default/`),
//! Zola `base_url`, Hexo `url` + `root`, Jekyll `url` + `baseurl`. Eleventy has no such setting.
//!
//! YAML is read for top-level `key: value` lines only (no YAML parser in the binary): that is
//! where these keys live; anything fancier is reported as not found, and `init` says so.

use std::path::Path;

/// What the generator says the site's address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUrl {
    /// `https` or `http`.
    pub scheme: String,
    /// The host, ASCII (an internationalised one in its `xn--` form).
    pub host: String,
    /// Starts and ends with `/`.
    pub base_path: String,
    /// `hugo.toml: baseURL`, say.
    pub from: String,
}

/// The value of a top-level key of a YAML file: `key: value`, `key: "value"` or `key: 'value'`,
/// a trailing `# comment` dropped.
fn yaml_top(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.trim_start().strip_prefix(':')?;
        let v = rest.trim();
        let v = if let Some(q) = v.strip_prefix('"') {
            q.split('"').next()?.to_string()
        } else if let Some(q) = v.strip_prefix('\'') {
            q.split('\'').next()?.to_string()
        } else {
            v.split(" #").next()?.trim().to_string()
        };
        Some(v)
    })
}

/// A top-level string of `file` (TOML, YAML or JSON by extension), its key matched without case
/// when `any_case` (Hugo's keys are case-insensitive).
fn value(file: &Path, key: &str, any_case: bool) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let same = |k: &str| if any_case { k.eq_ignore_ascii_case(key) } else { k == key };
    match file.extension()?.to_str()? {
        "toml" => {
            let t: toml::Table = toml::from_str(&text).ok()?;
            t.iter().find(|(k, _)| same(k)).and_then(|(_, v)| v.as_str().map(str::to_string))
        }
        "json" => {
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v.as_object()?.iter().find(|(k, _)| same(k)).and_then(|(_, v)| v.as_str().map(str::to_string))
        }
        "yaml" | "yml" => {
            if any_case {
                text.lines().find_map(|l| {
                    let (k, _) = l.split_once(':')?;
                    same(k.trim_end()).then(|| yaml_top(l, k.trim_end())).flatten()
                })
            } else {
                yaml_top(&text, key)
            }
        }
        _ => None,
    }
}

/// `url` (+ `path`, joined) as a [`SiteUrl`], or why it cannot be one.
fn parse(url: &str, extra_path: &str, from: String) -> Result<SiteUrl, String> {
    let u = url::Url::parse(url.trim()).map_err(|e| format!("{from} is {url:?}, not a URL ({e})"))?;
    let scheme = u.scheme().to_string();
    if scheme != "https" && scheme != "http" {
        return Err(format!("{from} is {url:?}: not an http(s) address"));
    }
    let host = u.host_str().ok_or_else(|| format!("{from} is {url:?}: no host"))?.to_string();
    let host = cdnsync::config::check_host(&host).map_err(|e| format!("{from}: {e}"))?;
    let mut path = u.path().trim_end_matches('/').to_string();
    let extra = extra_path.trim().trim_matches('/');
    if !extra.is_empty() {
        path = format!("{path}/{extra}");
    }
    let base_path = cdnsync::config::check_base_path(&format!("{path}/")).map_err(|e| format!("{from}: {e}"))?;
    Ok(SiteUrl { scheme, host, base_path, from })
}

/// Hosts that generators' own templates name: not the site's address.
pub fn is_placeholder(host: &str) -> bool {
    matches!(host, "example.org" | "example.com" | "www.example.com" | "www.example.org" | "localhost" | "127.0.0.1" | "yoursite.com")
}

/// The site URL of the `generator` project in `dir`: `Ok(None)` when it sets none; `Err` with
/// what is wrong when what it sets is unusable.
pub fn find(dir: &Path, generator: &str) -> Result<Option<SiteUrl>, String> {
    let first = |names: &[&str], key: &str, any_case: bool| -> Option<(String, String)> {
        names.iter().find_map(|n| value(&dir.join(n), key, any_case).map(|v| (v, format!("{n}: {key}"))))
    };
    let found = match generator {
        "Hugo" => {
            let mut names = Vec::new();
            for stem in ["hugo", "config", "config/_default/hugo", "config/_default/config"] {
                for ext in ["toml", "yaml", "yml", "json"] {
                    names.push(format!("{stem}.{ext}"));
                }
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            first(&names, "baseURL", true).map(|(v, from)| (v, String::new(), from))
        }
        "Zola" => first(&["zola.toml", "config.toml"], "base_url", false).map(|(v, from)| (v, String::new(), from)),
        "Hexo" => first(&["_config.yml"], "url", false).map(|(v, from)| {
            let root = value(&dir.join("_config.yml"), "root", false).unwrap_or_default();
            (v, root, format!("{from} + root"))
        }),
        "Jekyll" => first(&["_config.yml", "_config.yaml"], "url", false).map(|(v, from)| {
            let base = value(&dir.join("_config.yml"), "baseurl", false).unwrap_or_default();
            (v, base, format!("{from} + baseurl"))
        }),
        _ => None,
    };
    match found {
        None => Ok(None),
        Some((url, _, _)) if url.trim().is_empty() => Ok(None),
        Some((url, extra, from)) => parse(&url, &extra, from).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_top_level_values() {
        let y = "title: x\nurl: \"https://a.org\" # the site\nroot: /blog/\nnested:\n  url: https://no.org\nbaseurl: '/docs'\n";
        assert_eq!(yaml_top(y, "url").as_deref(), Some("https://a.org"));
        assert_eq!(yaml_top(y, "root").as_deref(), Some("/blog/"));
        assert_eq!(yaml_top(y, "baseurl").as_deref(), Some("/docs"));
        assert_eq!(yaml_top(y, "missing"), None);
    }

    #[test]
    fn urls_become_scheme_host_and_base_path() {
        let p = parse("https://Docs.Example.net/guide", "/v2/", "f".into()).unwrap();
        assert_eq!((p.scheme.as_str(), p.host.as_str(), p.base_path.as_str()), ("https", "docs.example.net", "/guide/v2/"));
        let p = parse("http://bücher.example/", "", "f".into()).unwrap();
        assert_eq!((p.host.as_str(), p.base_path.as_str()), ("xn--bcher-kva.example", "/"));
        assert!(parse("ftp://a.org/", "", "f".into()).unwrap_err().contains("not an http(s)"));
        assert!(parse("not a url", "", "hugo.toml: baseURL".into()).unwrap_err().starts_with("hugo.toml: baseURL is"));
    }
}
