//! Map publish-dir paths to CDN URLs per configured domain.
//!
//! [`Rules::new`] takes the compiled domains once; every query after that is pure and cheap.

use crate::config::Domain;
use crate::plan::urlenc::{encode_path, encode_path_into};

/// One URL to purge or prefetch, with the directory whose directory purge would cover it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlItem {
    /// The encoded URL.
    pub url: String,
    /// The publish-dir folder (no trailing slash, "" for the root) whose directory URL covers
    /// this URL, for collapsing to directory purges; `None` when no folder of the site does (the
    /// bare form `/docs` of a `base_path = "/docs/"` lives in the parent of the site's root).
    pub container: Option<String>,
}

/// The URL mapping of every configured domain.
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    /// The domains, in config order.
    pub domains: &'a [Domain],
    /// `scheme://host/base/` of each domain, encoded once.
    bases: Vec<String>,
}

impl<'a> Rules<'a> {
    /// Rules for these domains.
    pub fn new(domains: &'a [Domain]) -> Self {
        let bases = domains.iter().map(|d| format!("{}://{}{}", d.scheme, d.host, encode_path(&d.base_path))).collect();
        Rules { domains, bases }
    }

    /// Does domain `d` serve this publish-dir path?
    pub fn serves(&self, d: usize, path: &str) -> bool {
        let dom = &self.domains[d];
        dom.include.is_match(path) && !dom.exclude.is_match(path)
    }

    /// Should this path be prefetched on domain `d` when added or modified?
    pub fn prefetches(&self, d: usize, path: &str) -> bool {
        self.domains[d].prefetch.is_match(path)
    }

    /// `scheme://host/base/` of domain `d`.
    pub fn base(&self, d: usize) -> &str {
        &self.bases[d]
    }

    /// The URL of a file on domain `d`.
    pub fn file_url(&self, d: usize, path: &str) -> String {
        let base = self.base(d);
        let mut url = String::with_capacity(base.len() + path.len() + 8);
        url.push_str(base);
        encode_path_into(&mut url, path);
        url
    }

    /// The directory URL (ending in `/`) of a publish-dir folder ("" for the root).
    pub fn dir_url(&self, d: usize, dir: &str) -> String {
        if dir.is_empty() {
            self.base(d).to_string()
        } else {
            let mut url = self.file_url(d, dir);
            url.push('/');
            url
        }
    }

    /// Every URL under which domain `d` serves `path`: the file itself and, for index files,
    /// the directory aliases chosen by `index_aliases`.
    pub fn urls(&self, d: usize, path: &str) -> Vec<UrlItem> {
        let dom = &self.domains[d];
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        let mut out = vec![UrlItem { url: self.file_url(d, path), container: Some(dir.to_string()) }];
        if dom.index_files.iter().any(|f| f == name) {
            if dom.alias_slash {
                out.push(UrlItem { url: self.dir_url(d, dir), container: Some(dir.to_string()) });
            }
            if dom.alias_bare {
                let parent = dir.rfind('/').map_or("", |i| &dir[..i]).to_string();
                if !dir.is_empty() {
                    out.push(UrlItem { url: self.file_url(d, dir), container: Some(parent) });
                } else if dom.base_path != "/" {
                    // The bare form of a base path such as /docs/ is /docs, which lives in its parent.
                    let base = self.base(d);
                    out.push(UrlItem { url: base.trim_end_matches('/').to_string(), container: None });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn domains(extra: &str) -> Vec<Domain> {
        config::test_config(extra).domains
    }

    fn urls(extra: &str, path: &str) -> Vec<String> {
        let d = domains(extra);
        Rules::new(&d).urls(0, path).into_iter().map(|u| u.url).collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("", "a.html", &["https://www.example.com/a.html"]),
            ("", "index.html", &["https://www.example.com/index.html", "https://www.example.com/"]),
            ("", "docs/index.html", &["https://www.example.com/docs/index.html", "https://www.example.com/docs/"]),
            (
                "index_aliases = [\"slash\", \"bare\"]",
                "docs/index.html",
                &["https://www.example.com/docs/index.html", "https://www.example.com/docs/", "https://www.example.com/docs"],
            ),
            ("index_aliases = [\"file\"]", "docs/index.html", &["https://www.example.com/docs/index.html"]),
            ("index_aliases = [\"bare\"]", "index.html", &["https://www.example.com/index.html"]),
            ("scheme = \"http\"\nbase_path = \"/blog\"", "a b.html", &["http://www.example.com/blog/a%20b.html"]),
            (
                "base_path = \"/blog/\"\nindex_aliases = [\"slash\", \"bare\"]",
                "index.html",
                &["https://www.example.com/blog/index.html", "https://www.example.com/blog/", "https://www.example.com/blog"],
            ),
            ("", "文档/中文 名.html", &["https://www.example.com/%E6%96%87%E6%A1%A3/%E4%B8%AD%E6%96%87%20%E5%90%8D.html"]),
            (
                "index_files = [\"index.htm\", \"default.html\"]",
                "x/default.html",
                &["https://www.example.com/x/default.html", "https://www.example.com/x/"],
            ),
        ];
        for (extra, path, want) in cases {
            assert_eq!(urls(extra, path), *want, "{extra:?} {path:?}");
        }
    }

    #[test]
    fn include_exclude() {
        let d = domains("include = [\"static/**\", \"*.css\"]\nexclude = [\"static/private/**\"]\nprefetch = [\"**/index.html\"]");
        let r = Rules::new(&d);
        for (path, served) in
            [("static/a.js", true), ("static/private/k.txt", false), ("site.css", true), ("css/site.css", false), ("index.html", false)]
        {
            assert_eq!(r.serves(0, path), served, "{path}");
        }
        assert!(r.prefetches(0, "index.html") && r.prefetches(0, "a/b/index.html") && !r.prefetches(0, "a.html"));
    }
}
