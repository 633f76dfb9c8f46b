//! The EdgeOne keys of `cdnsync.toml` (`docs/config.md`): `[provider] site`, `[[domain]] zone_id`
//! and `method`, and the rule that an EdgeOne domain names no `areas` (an EdgeOne task covers
//! every node serving its zone; the zone's acceleration area is set in the zone, not per call).
//!
//! Like the v2-only keys, these are validated under every `api` and used only under
//! `api = "edgeone"`. Called once from `validate`, after `[provider]` and the domains.

use super::raw::{RawConfig, RawDomain};
use super::types::{Domain, Endpoint, Provider};
use super::val::Val;
use super::validate::Validator;
use crate::model::{Api, Area};

/// Which of Tencent's two sites the account belongs to (`[provider] site`): it picks the API host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Site {
    /// The China site: `teo.tencentcloudapi.com`.
    #[default]
    Mainland,
    /// The international site: `teo.intl.tencentcloudapi.com`.
    Intl,
}

impl Site {
    /// The EdgeOne API host of this site.
    pub fn host(self) -> &'static str {
        match self {
            Site::Mainland => "teo.tencentcloudapi.com",
            Site::Intl => "teo.intl.tencentcloudapi.com",
        }
    }

    /// The config's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::Mainland => "mainland",
            Site::Intl => "intl",
        }
    }
}

/// How EdgeOne purges a directory or a whole host (`[[domain]] method`, CreatePurgeTask `Method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PurgeMethod {
    /// Mark cached copies stale: the next request revalidates with the origin
    /// (If-None-Match / If-Modified-Since), cheap for unchanged bytes.
    #[default]
    Invalidate,
    /// Drop cached copies outright: the next request fetches the whole file.
    Delete,
}

impl PurgeMethod {
    /// The API's (and the config's) word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeMethod::Invalidate => "invalidate",
            PurgeMethod::Delete => "delete",
        }
    }
}

/// The default endpoint of EdgeOne on `site`.
pub fn endpoint(site: Site) -> Endpoint {
    Endpoint { scheme: "https".into(), host: site.host().into(), path: "/".into() }
}

/// A well-formed zone id: `zone-` and letters or digits (`zone-2noz78a8ev6k`).
pub fn is_zone_id(s: &str) -> bool {
    s.strip_prefix("zone-").is_some_and(|r| !r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Read the EdgeOne keys of the domains of `raw` into `domains` (which are `raw`'s domains, in
/// order, when no domain had an error), reporting every problem through `v`.
pub(super) fn apply(v: &mut Validator, raw: &RawConfig, provider: &Provider, domains: &mut [Domain]) {
    let edgeone = provider.api == Api::EdgeOne;
    let raws: Vec<Option<&Val<RawDomain>>> = match raw.domains.as_ref().map(|l| l.value()) {
        Some(Ok(list)) => list.iter().map(|d| d.value().is_ok().then_some(d)).collect(),
        _ => return,
    };
    let aligned = domains.len() == raws.len();
    // (host, zone_id, method, index) of each block, to catch blocks of one host that disagree.
    let mut seen: Vec<(String, Option<String>, PurgeMethod, usize)> = Vec::new();
    for (i, sd) in raws.into_iter().enumerate() {
        let Some(sd) = sd else { continue };
        let Ok(d) = sd.value() else { continue };
        let k = |f: &str| format!("domain[{i}].{f}");
        let zone_id = v.get(&d.zone_id, &k("zone_id")).and_then(|z| {
            if z.v == "*" {
                let msg = "\"*\" (every zone of the account) is not supported: quotas and tasks are per zone, name the zone (\"zone-…\")";
                v.err(z.at, &k("zone_id"), msg);
                None
            } else if !is_zone_id(z.v) {
                v.err(z.at, &k("zone_id"), format!("expected an EdgeOne zone id such as \"zone-2noz78a8ev6k\", found \"{}\"", z.v));
                None
            } else {
                Some(z.v.clone())
            }
        });
        let method = match v.word(&d.method, &k("method"), &["invalidate", "delete"]) {
            Some("delete") => PurgeMethod::Delete,
            _ => PurgeMethod::Invalidate,
        };
        if edgeone {
            if let Some(a) = &d.areas {
                v.err(
                    a.at(),
                    &k("areas"),
                    "EdgeOne has no per-request area: a purge or prefetch covers every node serving the zone (its \
                     acceleration area is the zone's setting); remove `areas` from this [[domain]]",
                );
            }
        }
        let host = d.host.as_ref().and_then(|h| h.value().ok()).map(|h| h.to_ascii_lowercase()).unwrap_or_default();
        if let Some((_, z, m, j)) = seen.iter().find(|(h, ..)| edgeone && !host.is_empty() && *h == host) {
            if *z != zone_id {
                v.err(sd.at(), &k("zone_id"), format!("differs from domain[{j}], which has the same host: one host is in one zone"));
            } else if *m != method {
                v.err(sd.at(), &k("method"), format!("differs from domain[{j}], which has the same host: its purges are one host's"));
            }
        }
        seen.push((host, zone_id.clone(), method, i));
        if aligned {
            let dom = &mut domains[i];
            dom.zone_id = zone_id;
            dom.method = method;
            if edgeone {
                dom.areas = vec![Area::Global];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::from_str;

    fn parse(text: &str) -> Result<crate::config::Config, crate::config::ConfigErrors> {
        from_str(text, Path::new("cdnsync.toml"), Path::new("/site"))
    }

    #[test]
    fn edgeone_defaults_and_sites() {
        let c = parse("publish_dir = \"p\"\n[provider]\napi = \"edgeone\"\n[[domain]]\nhost = \"www.example.com\"\n").unwrap();
        assert_eq!(c.provider.api, Api::EdgeOne);
        assert_eq!(c.provider.endpoint.url(), "https://teo.tencentcloudapi.com/");
        let d = &c.domains[0];
        assert_eq!((d.areas.as_slice(), d.zone_id.as_deref(), d.method), (&[Area::Global][..], None, PurgeMethod::Invalidate));
        let c = parse(
            "publish_dir = \"p\"\n[provider]\napi = \"edgeone\"\nsite = \"intl\"\n[[domain]]\nhost = \"a.example.com\"\nzone_id = \"zone-2noz78a8ev6k\"\nmethod = \"delete\"\n",
        )
        .unwrap();
        assert_eq!(c.provider.endpoint.url(), "https://teo.intl.tencentcloudapi.com/");
        assert_eq!((c.domains[0].zone_id.as_deref(), c.domains[0].method), (Some("zone-2noz78a8ev6k"), PurgeMethod::Delete));
        // An endpoint set in the config wins over the site.
        let c = parse("publish_dir = \"p\"\n[provider]\napi = \"edgeone\"\nsite = \"intl\"\nendpoint = \"http://127.0.0.1:9\"\n[[domain]]\nhost = \"a.example.com\"\n").unwrap();
        assert_eq!(c.provider.endpoint.url(), "http://127.0.0.1:9/");
        // Under the CDN APIs the EdgeOne keys are validated and ignored, and areas mean what they always did.
        let c = parse("publish_dir = \"p\"\n[provider]\nsite = \"intl\"\n[[domain]]\nhost = \"a.example.com\"\nzone_id = \"zone-x1\"\nareas = [\"overseas\"]\n").unwrap();
        assert_eq!(c.provider.endpoint.url(), "https://cdn.tencentcloudapi.com/");
        assert_eq!(c.domains[0].areas, vec![Area::Overseas]);
    }

    /// (text, line, key, words the message must contain)
    #[test]
    fn edgeone_errors_name_line_and_key() {
        let head = "publish_dir = \"p\"\n[provider]\napi = \"edgeone\"\n[[domain]]\nhost = \"a.example.com\"\n";
        let cases: &[(&str, usize, &str, &str)] = &[
            ("areas = [\"mainland\"]\n", 6, "domain[0].areas", "remove `areas`"),
            ("zone_id = \"2noz78a8ev6k\"\n", 6, "domain[0].zone_id", "\"zone-2noz78a8ev6k\""),
            ("zone_id = \"zone-a/b\"\n", 6, "domain[0].zone_id", "found \"zone-a/b\""),
            ("zone_id = \"*\"\n", 6, "domain[0].zone_id", "not supported"),
            ("method = \"purge\"\n", 6, "domain[0].method", "\"invalidate\", \"delete\""),
            (
                "zone_id = \"zone-a1\"\nbase_path = \"/x/\"\n[[domain]]\nhost = \"a.example.com\"\nzone_id = \"zone-b2\"\n",
                8,
                "domain[1].zone_id",
                "same host",
            ),
            ("base_path = \"/x/\"\n[[domain]]\nhost = \"a.example.com\"\nmethod = \"delete\"\n", 7, "domain[1].method", "same host"),
        ];
        for (extra, line, key, words) in cases {
            let text = format!("{head}{extra}");
            let errs = parse(&text).expect_err(&text).0;
            let e = &errs[0];
            assert_eq!((e.line, e.key.as_str()), (Some(*line), *key), "{text}: {e}");
            assert!(e.message.contains(words), "{text}: {e}");
        }
        let site = parse("publish_dir = \"p\"\n[provider]\nsite = \"china\"\n[[domain]]\nhost = \"a.example.com\"\n").unwrap_err().0;
        assert_eq!((site[0].line, site[0].key.as_str()), (Some(3), "provider.site"));
        assert!(site[0].message.contains("\"mainland\", \"intl\""), "{}", site[0]);
    }
}
