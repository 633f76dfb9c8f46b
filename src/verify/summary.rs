//! The result of a verify run: one [`Outcome`] per URL, the counts, the exit code, and the
//! `--json` form.
//!
//! Exit code ([`Summary::exit_code`], `docs/exit-codes.md`): 0 when every URL is fresh (or there
//! was none); 6 when any is stale or different, or the CDN answered a 3xx or 4xx (a redirect or a
//! 404 on a URL just purged is what visitors get instead of the file: a mapping or access problem
//! as surely as a wrong body); 1 when the rest is fresh but some requests got no answer or a 5xx
//! (the CDN or its origin failed for now: nothing was proven either way, and a rerun may).

use serde::Serialize;

use super::classify::Reason;
use super::Mode;

/// Exit code of a verify that found URLs served stale or different.
pub const EXIT_NOT_FRESH: u8 = 6;

/// What the CDN serves for one URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Verdict {
    /// The deployed bytes (or, by ETag or status, as good as can be told).
    Fresh,
    /// The bytes from before the deploy: the purge did not take, or the CDN refetched from an
    /// origin that did not have the new bytes yet.
    Stale,
    /// Neither: a mapping or transformation problem.
    Different {
        /// What explains it.
        reasons: Vec<Reason>,
    },
    /// No usable answer: an error status, or no answer at all.
    Error {
        /// What happened.
        message: String,
    },
}

impl Verdict {
    /// `fresh`, `stale`, `different` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Fresh => "fresh",
            Verdict::Stale => "stale",
            Verdict::Different { .. } => "different",
            Verdict::Error { .. } => "error",
        }
    }
}

/// One URL's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The URL checked.
    pub url: String,
    /// Its `[[domain]]` host.
    pub host: String,
    /// How it was checked.
    pub mode: Mode,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// What it means.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Every outcome, and the counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// URLs checked.
    pub checked: usize,
    /// Served the deployed bytes.
    pub fresh: usize,
    /// Served the previous bytes.
    pub stale: usize,
    /// Served other bytes.
    pub different: usize,
    /// Answered with an error status, or not at all.
    pub errors: usize,
    /// One per URL, in the order asked.
    pub results: Vec<Outcome>,
}

impl Summary {
    /// Count `results`.
    pub fn new(results: Vec<Outcome>) -> Summary {
        let mut s = Summary { checked: results.len(), ..Summary::default() };
        for r in &results {
            match r.verdict {
                Verdict::Fresh => s.fresh += 1,
                Verdict::Stale => s.stale += 1,
                Verdict::Different { .. } => s.different += 1,
                Verdict::Error { .. } => s.errors += 1,
            }
        }
        s.results = results;
        s
    }

    /// 0 all fresh; 6 any stale, different or answered 3xx/4xx; 1 otherwise (some got no answer,
    /// or a 5xx).
    pub fn exit_code(&self) -> u8 {
        let refused = self.results.iter().any(|r| r.status.is_some_and(|s| s < 500) && matches!(r.verdict, Verdict::Error { .. }));
        if self.stale > 0 || self.different > 0 || refused {
            EXIT_NOT_FRESH
        } else if self.errors > 0 {
            1
        } else {
            0
        }
    }

    /// Every URL served stale (what `--repurge` purges again).
    pub fn stale_urls(&self) -> impl Iterator<Item = &str> {
        self.results.iter().filter(|r| r.verdict == Verdict::Stale).map(|r| r.url.as_str())
    }

    /// Fold in a re-check of some URLs (after `--repurge`): their new outcomes replace the old.
    pub fn merge(self, recheck: Summary) -> Summary {
        let mut by_url: std::collections::HashMap<String, Outcome> = recheck.results.into_iter().map(|o| (o.url.clone(), o)).collect();
        let results = self.results.into_iter().map(|o| by_url.remove(&o.url).unwrap_or(o)).collect();
        Summary::new(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(url: &str, status: Option<u16>, verdict: Verdict) -> Outcome {
        Outcome { url: url.into(), host: "www.example.com".into(), mode: Mode::Hash, status, verdict }
    }

    fn err(m: &str) -> Verdict {
        Verdict::Error { message: m.into() }
    }

    #[test]
    fn exit_codes() {
        let fresh = || out("https://w/a", Some(200), Verdict::Fresh);
        let cases: Vec<(Vec<Outcome>, u8)> = vec![
            (vec![], 0),
            (vec![fresh(), fresh()], 0),
            (vec![fresh(), out("https://w/b", Some(200), Verdict::Stale)], 6),
            (vec![out("https://w/b", Some(200), Verdict::Different { reasons: vec![Reason::OtherBytes] })], 6),
            (vec![fresh(), out("https://w/b", Some(404), err("HTTP 404"))], 6),
            (vec![fresh(), out("https://w/b", Some(301), err("HTTP 301"))], 6),
            (vec![fresh(), out("https://w/b", Some(403), err("HTTP 403"))], 6),
            (vec![fresh(), out("https://w/b", Some(502), err("HTTP 502"))], 1),
            (vec![out("https://w/a", Some(503), err("HTTP 503")), out("https://w/b", Some(404), err("HTTP 404"))], 6),
            (vec![fresh(), out("https://w/b", None, err("connection refused"))], 1),
            (vec![out("https://w/b", None, err("refused")), out("https://w/c", Some(200), Verdict::Stale)], 6),
        ];
        for (results, want) in cases {
            let s = Summary::new(results.clone());
            assert_eq!(s.exit_code(), want, "{results:?}");
        }
    }

    #[test]
    fn counts_and_stale_list() {
        let s = Summary::new(vec![
            out("https://w/a", Some(200), Verdict::Fresh),
            out("https://w/b", Some(200), Verdict::Stale),
            out("https://w/c", Some(200), Verdict::Stale),
            out("https://w/d", None, err("x")),
        ]);
        assert_eq!((s.checked, s.fresh, s.stale, s.different, s.errors), (4, 1, 2, 0, 1));
        assert_eq!(s.stale_urls().collect::<Vec<_>>(), ["https://w/b", "https://w/c"]);
    }

    #[test]
    fn a_recheck_replaces_the_rechecked_urls_only() {
        let first = Summary::new(vec![out("https://w/a", Some(200), Verdict::Fresh), out("https://w/b", Some(200), Verdict::Stale)]);
        let again = Summary::new(vec![out("https://w/b", Some(200), Verdict::Fresh)]);
        let merged = first.merge(again);
        assert_eq!((merged.checked, merged.fresh, merged.stale), (2, 2, 0));
        assert_eq!(merged.results[1].url, "https://w/b");
        assert_eq!(merged.exit_code(), 0);
    }

    #[test]
    fn json_form() {
        let s = Summary::new(vec![
            out("https://w/a", Some(200), Verdict::Fresh),
            out("https://w/b", Some(200), Verdict::Different { reasons: vec![Reason::Size { got: 3, expected: 5 }] }),
            out("https://w/c", None, err("timed out")),
        ]);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "checked": 3, "fresh": 1, "stale": 0, "different": 1, "errors": 1,
                "results": [
                    {"url": "https://w/a", "host": "www.example.com", "mode": "hash", "status": 200, "result": "fresh"},
                    {"url": "https://w/b", "host": "www.example.com", "mode": "hash", "status": 200, "result": "different",
                     "reasons": [{"code": "size", "message": "3 bytes served, 5 deployed"}]},
                    {"url": "https://w/c", "host": "www.example.com", "mode": "hash", "status": null, "result": "error",
                     "message": "timed out"}
                ]
            })
        );
    }
}
