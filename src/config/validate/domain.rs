//! `[[domain]]`: each CDN domain, what it serves and which URLs a change purges; and the rules for
//! a host name ([`check_host`]) and a URL path prefix ([`check_base_path`]).

use globset::GlobSet;

use super::{compile_glob, At, Validator, MAX_DOMAINS};
use crate::config::raw::RawDomain;
use crate::config::types::Domain;
use crate::config::val::List;
use crate::model::Area;

pub(super) fn domains(v: &mut Validator, field: &Option<List<RawDomain>>) -> Vec<Domain> {
    let mut out: Vec<Domain> = Vec::new();
    const NONE: &str = "no [[domain]] block: add at least one with host = \"www.example.com\"";
    if let Some(Err(e)) = field.as_ref().map(|f| f.value()) {
        if e.contains("invalid type: map") {
            let at = field.as_ref().and_then(|f| f.at());
            v.err(at, "domain", format!("{e}: write each domain as a [[domain]] block, with two brackets"));
            return Vec::new();
        }
    }
    let listed = v.list(field, "domain");
    match &listed {
        None if field.is_none() => v.err(None, "domain", NONE),
        Some(list) if list.len == 0 => v.err(list.at, "domain", NONE),
        Some(list) if list.len > MAX_DOMAINS => {
            let msg = format!("{} [[domain]] blocks, and cdnsync reads at most {MAX_DOMAINS}", list.len);
            v.err(list.at, "domain", msg);
            return Vec::new();
        }
        _ => {}
    }
    let items = listed.map(|l| l.items).unwrap_or_default();
    for (i, d) in items {
        if let Some(dom) = domain(v, d, i) {
            if let Some(prev) = out.iter().position(|p| p.host == dom.host && p.base_path == dom.base_path) {
                let at = d.host.as_ref().and_then(|h| h.at()).or(d.at);
                v.err(at, &format!("domain[{i}].host"), format!("\"{}\" is already configured in domain[{prev}]", dom.host));
            }
            out.push(dom);
        }
    }
    out
}

fn domain(v: &mut Validator, d: At<RawDomain>, i: usize) -> Option<Domain> {
    let k = |f: &str| format!("domain[{i}].{f}");
    let before = v.error_count();
    let mut host = String::new();
    match v.get(&d.host, &k("host")) {
        None if d.host.is_none() => v.err(d.at, &k("host"), "missing required key: the CDN domain, e.g. host = \"www.example.com\""),
        None => {}
        Some(h) => match check_host(h.v) {
            Ok(ok) => host = ok,
            Err(msg) => v.err(h.at, &k("host"), msg),
        },
    }
    let scheme = v.word(&d.scheme, &k("scheme"), &["https", "http"]).unwrap_or("https").to_string();
    let mut base_path = "/".to_string();
    if let Some(b) = v.get(&d.base_path, &k("base_path")) {
        match check_base_path(b.v) {
            Ok(p) => base_path = p,
            Err(msg) => v.err(b.at, &k("base_path"), msg),
        }
    }
    let include_at = d.include.as_ref().and_then(|f| f.at());
    let include = match v.globs(&d.include, &k("include")) {
        Some(_) if d.include.as_ref().and_then(|f| f.value().ok()).is_some_and(Vec::is_empty) => {
            v.err(include_at, &k("include"), "expected at least one glob (\"**\" serves the whole publish_dir), found []");
            GlobSet::empty()
        }
        Some(globs) => v.set(globs.into_iter().map(|(_, g)| g), include_at, &k("include")),
        None if d.include.is_none() => v.set([compile_glob("**").expect("** compiles")], None, &k("include")),
        None => GlobSet::empty(),
    };
    let exclude = v.globset(&d.exclude, &k("exclude")).unwrap_or_else(GlobSet::empty);
    let prefetch = v.globset(&d.prefetch, &k("prefetch")).unwrap_or_else(GlobSet::empty);
    let mut areas = Vec::new();
    match v.list(&d.areas, &k("areas")) {
        None => areas.push(Area::Mainland),
        Some(list) => {
            if list.len == 0 {
                v.err(list.at, &k("areas"), "expected at least one of \"mainland\", \"overseas\", found []");
            }
            for (j, a) in list.items {
                match Area::parse(a.v) {
                    Some(area) if areas.contains(&area) => {
                        v.err(a.at, &format!("{}[{j}]", k("areas")), format!("\"{area}\" is listed twice"))
                    }
                    Some(area) => areas.push(area),
                    None => v.err(a.at, &format!("{}[{j}]", k("areas")), format!("expected \"mainland\" or \"overseas\", found {:?}", a.v)),
                }
            }
        }
    }
    let mut index_files = vec!["index.html".to_string()];
    if let Some(list) = v.list(&d.index_files, &k("index_files")) {
        index_files.clear();
        for (j, f) in list.items {
            if f.v.is_empty() || f.v.contains('/') {
                v.err(f.at, &format!("{}[{j}]", k("index_files")), format!("expected a file name such as \"index.html\", found {:?}", f.v));
            } else {
                index_files.push(f.v.clone());
            }
        }
    }
    let (mut alias_slash, mut alias_bare) = (true, false);
    if let Some(list) = v.list(&d.index_aliases, &k("index_aliases")) {
        alias_slash = false;
        for (j, a) in list.items {
            match a.v.as_str() {
                "slash" => alias_slash = true,
                "bare" => alias_bare = true,
                "file" => {}
                other => v.err(
                    a.at,
                    &format!("{}[{j}]", k("index_aliases")),
                    format!("expected \"slash\", \"bare\" or \"file\", found {other:?}"),
                ),
            }
        }
    }
    let purge_added = v.flag(&d.purge_added, &k("purge_added")).unwrap_or(false);
    if v.error_count() != before {
        return None;
    }
    Some(Domain {
        host,
        scheme,
        base_path,
        include,
        exclude,
        prefetch,
        areas,
        index_files,
        alias_slash,
        alias_bare,
        purge_added,
        // EdgeOne's keys: `config::edgeone` reads them once every domain is known.
        zone_id: None,
        method: Default::default(),
        // The verify keys: `config::verify` reads them once every domain is known.
        origin: None,
        origin_wait: crate::config::verify::DEFAULT_ORIGIN_WAIT,
        verify: Default::default(),
    })
}

/// A CDN domain as the config writes it -> its lower-case form, or why it is not one: labels of
/// 1 to 63 letters, digits and `-` (not first or last), at least two of them, 253 bytes in all,
/// no trailing dot. An internationalised name must be written in its ASCII (`xn--`) form, which
/// the error gives: that is the form the CDN, its console and the signed requests use.
pub fn check_host(s: &str) -> Result<String, String> {
    let bad =
        |why: String| -> Result<String, String> { Err(format!("expected a domain name such as \"www.example.com\", found {s:?}: {why}")) };
    if s.contains("://") || s.contains('/') {
        return Err(format!("expected a bare domain name (no scheme, no path), found {s:?}"));
    }
    if !s.is_ascii() {
        return match idna::domain_to_ascii(s) {
            Ok(ascii) if check_host(&ascii).is_ok() => {
                Err(format!("write an internationalised domain name in its ASCII form: host = \"{ascii}\" (for {s:?})"))
            }
            _ => bad("not a valid internationalised domain name either".into()),
        };
    }
    let host = s.to_ascii_lowercase();
    if host.is_empty() {
        return bad("an empty string".into());
    }
    if host.len() > 253 {
        return bad(format!("{} bytes long, and a domain name has at most 253", host.len()));
    }
    if host.len() > 1 && host.ends_with('.') && !host.ends_with("..") {
        return bad("remove the trailing dot: the CDN knows the domain without it".into());
    }
    if !host.contains('.') {
        return bad("a domain name has at least two labels (\"example.com\")".into());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return bad("an empty label (a dot at the start, or two dots in a row)".into());
        }
        if label.len() > 63 {
            return bad(format!("the label \"{}…\" is {} bytes long, and a label has at most 63", &label[..16], label.len()));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return bad(format!("{c:?} is not allowed: only letters, digits, '-' and the dots between labels"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!("the label {label:?} starts or ends with '-'"));
        }
    }
    if host.split('.').any(|l| l.starts_with("xn--")) && idna::domain_to_unicode(&host).1.is_err() {
        return bad("an xn-- label that is not valid punycode".into());
    }
    Ok(host)
}

/// A URL path prefix -> its form with a trailing `/`, or why it is not one: it starts with `/`,
/// holds no `?`, `#`, `\`, `//`, control character, or `.`/`..` segment (a CDN resolves those,
/// so the URLs purged would not be the ones served).
pub fn check_base_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.contains(['?', '#', '\\']) || s.contains("//") || s.chars().any(char::is_control) {
        return Err(format!("expected a URL path starting with \"/\", such as \"/\" or \"/docs/\", found {s:?}"));
    }
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(format!(
            "expected a URL path without \".\" or \"..\" segments, found {s:?}: a CDN resolves them, so the URLs purged \
             would not be the ones it serves"
        ));
    }
    Ok(if s.ends_with('/') { s.to_string() } else { format!("{s}/") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_refused_saying_why() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_host = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        let cases: &[(&str, &str)] = &[
            ("..", "empty label"),
            ("a..b", "empty label"),
            (".example.com", "empty label"),
            ("-bad-.com", "starts or ends with '-'"),
            ("bad-.com", "starts or ends with '-'"),
            ("www.example.com.", "remove the trailing dot"),
            ("localhost", "at least two labels"),
            ("", "an empty string"),
            (&long_label, "at most 63"),
            (&long_host, "at most 253"),
            ("a_b.com", "'_' is not allowed"),
            ("*.example.com", "'*' is not allowed"),
            ("a.com:8080", "':' is not allowed"),
            ("https://a.com/", "bare domain name"),
            ("xn--zz.com", "not valid punycode"),
            ("例子.测试", "host = \"xn--fsqu00a.xn--0zwm56d\""),
            ("bücher.de", "host = \"xn--bcher-kva.de\""),
            ("a\u{202e}.com", "not a valid internationalised domain name"),
        ];
        for (host, words) in cases {
            let e = check_host(host).expect_err(host);
            assert!(e.contains(words), "{host:?}: {words:?} in {e}");
        }
        assert_eq!(check_host("WWW.Example.com"), Ok("www.example.com".into()));
        assert_eq!(check_host("xn--bcher-kva.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(check_host(&format!("{}.com", "a".repeat(63))).map(|h| h.len()), Ok(67));
    }

    #[test]
    fn base_paths() {
        for bad in ["/a/../../b/", "/..", "/./", "/a/.", "docs", "/a//b", "/a?b", "/a\nb"] {
            assert!(check_base_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_base_path("/a/../b/").unwrap_err().contains("\"..\" segments"));
        assert_eq!(check_base_path("/docs"), Ok("/docs/".into()));
        assert_eq!(check_base_path("/a.b/..c/"), Ok("/a.b/..c/".into()));
    }
}
