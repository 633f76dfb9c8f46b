//! The origin barrier's vocabulary and its decision, pure: given what Redis knows of a (path,
//! content) item, is its purge due, held (and by whom), or forced past the timeout?
//!
//! Redis scripts only gather facts and apply the writes decided here (`docs/fleet.md` has the
//! sequence). The rule, per live member whose served token differs from the wanted one:
//! - it excludes the path → agrees;
//! - it never published the path → agrees only when the purge is for a removal and the member
//!   has published its full state (absent then means "not served"); otherwise behind;
//! - it serves something else (older, newer, or nothing) → behind.
//!
//! No one behind → due. Someone behind and the barrier younger than the timeout → held.
//! Otherwise → forced, and the forced round is recorded with its laggards: once none of them
//! is still behind (caught up, or no longer live), the purge is due again as round + 1.

use crate::model::ContentHash;

/// What a path is at on an origin: some bytes, or gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Content {
    /// The file with this content hash.
    Hash(ContentHash),
    /// No file.
    Removed,
}

impl Content {
    /// Stored in barrier records and claim keys: 64 hex characters, or `-`.
    pub(crate) fn full(&self) -> String {
        match self {
            Content::Hash(h) => h.to_hex(),
            Content::Removed => "-".into(),
        }
    }

    /// Stored in served maps (one per path per member, so kept short): 16 hex characters (the
    /// first 64 bits: enough to tell versions of one path apart), or `-`.
    pub(crate) fn short(&self) -> String {
        match self {
            Content::Hash(h) => h.to_hex()[..16].to_string(),
            Content::Removed => "-".into(),
        }
    }

    /// Parse [`Content::full`].
    pub(crate) fn from_full(s: &str) -> Option<Content> {
        if s == "-" {
            Some(Content::Removed)
        } else {
            ContentHash::from_hex(s).map(Content::Hash)
        }
    }
}

/// What a member publishes for one of its paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// It serves these bytes, or no file.
    Content(Content),
    /// Its rules exclude the path: it never holds a purge of it back.
    Excluded,
}

impl Served {
    /// Serves the file with hash `h`.
    pub fn hash(h: ContentHash) -> Served {
        Served::Content(Content::Hash(h))
    }

    /// The token stored in the member's served map.
    pub(crate) fn token(&self) -> String {
        match self {
            Served::Content(c) => c.short(),
            Served::Excluded => "x".into(),
        }
    }
}

/// A served token read back for a member whose token differs from the wanted one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Never published.
    Unknown,
    /// Excludes the path.
    Excluded,
    /// Serves something else (another hash, or `-`: no file).
    Other(String),
}

impl Observed {
    pub(crate) fn parse(token: &str) -> Observed {
        match token {
            "?" => Observed::Unknown,
            "x" => Observed::Excluded,
            other => Observed::Other(other.to_string()),
        }
    }
}

/// A forced purge on record: `L` still lagging, `P` its laggards are done and round `round` (the
/// re-purge) is pending until someone settles it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ForcedRecord {
    pub pending: bool,
    pub round: u32,
    pub at_ms: i64,
    pub laggards: Vec<String>,
}

impl ForcedRecord {
    pub(crate) fn parse(s: &str) -> Option<ForcedRecord> {
        let mut f = s.split('\t');
        let pending = match f.next()? {
            "L" => false,
            "P" => true,
            _ => return None,
        };
        let round = f.next()?.parse().ok()?;
        let at_ms = f.next()?.parse().ok()?;
        let laggards = f.next().unwrap_or("").split('\u{1f}').filter(|m| !m.is_empty()).map(str::to_string).collect();
        Some(ForcedRecord { pending, round, at_ms, laggards })
    }
}

/// What Redis knows of one (path, content) item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    /// When the barrier first saw the item (logical ms).
    pub since_ms: i64,
    /// The purge round in force (0 until a forced purge was followed by its catch-up).
    pub round: u32,
    pub forced: Option<ForcedRecord>,
    /// Live members whose served token differs from the wanted one.
    pub differing: Vec<(String, Observed)>,
}

/// The barrier's answer for one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every live member serves it (or excludes the path): purge now, as round `round`.
    Due {
        /// Claim the purge with this round (0 normally; more after forced purges).
        round: u32,
    },
    /// Live members still serve something else: wait (at most until `until_ms`).
    Held {
        /// The members behind.
        waiting_for: Vec<String>,
        /// When the barrier times out (logical ms).
        until_ms: i64,
    },
    /// The barrier timed out: purge now anyway (warn, naming the laggards); the purge is due
    /// again, as round + 1, once they catch up.
    Forced {
        /// Claim the purge with this round.
        round: u32,
        /// The members still behind.
        laggards: Vec<String>,
    },
}

/// What the decision asks Redis to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Write {
    Nothing,
    /// Record (or widen) the forced purge of `round` behind `laggards`.
    Force {
        round: u32,
        laggards: Vec<String>,
    },
    /// The laggards of forced round `round` are done: round + 1 becomes pending.
    Resolve {
        round: u32,
    },
}

/// The barrier decision for wanting `want`, knowing `facts` at `now_ms`. `ready(member)`: has
/// the member published its full served state?
pub(crate) fn decide(want: Content, facts: &Facts, ready: &dyn Fn(&str) -> bool, now_ms: i64, timeout_ms: i64) -> (Verdict, Write) {
    let behind: Vec<String> = facts
        .differing
        .iter()
        .filter(|(m, seen)| match seen {
            Observed::Excluded => false,
            Observed::Unknown => !(want == Content::Removed && ready(m)),
            Observed::Other(_) => true,
        })
        .map(|(m, _)| m.clone())
        .collect();
    if behind.is_empty() {
        return match &facts.forced {
            Some(f) if !f.pending => (Verdict::Due { round: f.round + 1 }, Write::Resolve { round: f.round }),
            Some(f) => (Verdict::Due { round: f.round.max(facts.round) }, Write::Nothing),
            None => (Verdict::Due { round: facts.round }, Write::Nothing),
        };
    }
    let until_ms = facts.since_ms.saturating_add(timeout_ms);
    if now_ms < until_ms && facts.forced.is_none() {
        return (Verdict::Held { waiting_for: behind, until_ms }, Write::Nothing);
    }
    let round = facts.forced.as_ref().map_or(facts.round, |f| f.round);
    let write = match &facts.forced {
        Some(f) if !f.pending && behind.iter().all(|m| f.laggards.contains(m)) => Write::Nothing,
        _ => Write::Force { round, laggards: behind.clone() },
    };
    (Verdict::Forced { round, laggards: behind }, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Content {
        Content::Hash(ContentHash([b; 32]))
    }

    fn facts(since_ms: i64, round: u32, forced: Option<&str>, differing: &[(&str, &str)]) -> Facts {
        Facts {
            since_ms,
            round,
            forced: forced.map(|s| ForcedRecord::parse(s).expect("test record")),
            differing: differing.iter().map(|(m, t)| (m.to_string(), Observed::parse(t))).collect(),
        }
    }

    fn due(round: u32) -> Verdict {
        Verdict::Due { round }
    }

    fn held(who: &[&str], until_ms: i64) -> Verdict {
        Verdict::Held { waiting_for: who.iter().map(|s| s.to_string()).collect(), until_ms }
    }

    fn forced(round: u32, who: &[&str]) -> Verdict {
        Verdict::Forced { round, laggards: who.iter().map(|s| s.to_string()).collect() }
    }

    fn force(round: u32, who: &[&str]) -> Write {
        Write::Force { round, laggards: who.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn decision_table() {
        let old = h(1).short();
        // "b" and "n" have published their full state; "u" has not.
        let ready = |m: &str| m != "u";
        #[rustfmt::skip]
        let rows: Vec<(&str, Content, Facts, i64, Verdict, Write)> = vec![
            ("everyone serves it", h(2), facts(0, 0, None, &[]), 10, due(0), Write::Nothing),
            ("one still serves the old bytes", h(2), facts(0, 0, None, &[("b", &old)]), 10, held(&["b"], 100), Write::Nothing),
            ("one has no file yet", h(2), facts(0, 0, None, &[("b", "-")]), 10, held(&["b"], 100), Write::Nothing),
            ("one never published the path", h(2), facts(0, 0, None, &[("b", "?")]), 10, held(&["b"], 100), Write::Nothing),
            ("one excludes the path", h(2), facts(0, 0, None, &[("b", "x")]), 10, due(0), Write::Nothing),
            ("removal: a ready member without the path", Content::Removed, facts(0, 0, None, &[("b", "?")]), 10, due(0), Write::Nothing),
            ("removal: a member not ready yet", Content::Removed, facts(0, 0, None, &[("u", "?")]), 10, held(&["u"], 100), Write::Nothing),
            ("removal: one still has the file", Content::Removed, facts(0, 0, None, &[("b", &old)]), 10, held(&["b"], 100), Write::Nothing),
            ("two behind, order kept", h(2), facts(0, 0, None, &[("b", &old), ("n", "?"), ("c", "x")]), 99, held(&["b", "n"], 100), Write::Nothing),
            ("timed out: forced, recorded", h(2), facts(0, 0, None, &[("b", &old)]), 100, forced(0, &["b"]), force(0, &["b"])),
            ("forced again: nothing new to record", h(2), facts(0, 0, Some("L\t0\t100\tb"), &[("b", &old)]), 150, forced(0, &["b"]), Write::Nothing),
            ("forced, a new laggard: widened", h(2), facts(0, 0, Some("L\t0\t100\tb"), &[("b", &old), ("n", "-")]), 150, forced(0, &["b", "n"]), force(0, &["b", "n"])),
            ("laggard caught up: re-purge as round 1", h(2), facts(0, 0, Some("L\t0\t100\tb"), &[]), 150, due(1), Write::Resolve { round: 0 }),
            ("laggard gone (not live): re-purge too", h(2), facts(0, 0, Some("L\t0\t100\tb\u{1f}n"), &[("c", "x")]), 150, due(1), Write::Resolve { round: 0 }),
            ("re-purge pending: due as its round", h(2), facts(0, 1, Some("P\t1\t160\t"), &[]), 170, due(1), Write::Nothing),
            ("after settling: the round stays", h(2), facts(0, 1, None, &[]), 170, due(1), Write::Nothing),
            ("pending, then someone falls behind again", h(2), facts(0, 1, Some("P\t1\t160\t"), &[("n", &old)]), 170, forced(1, &["n"]), force(1, &["n"])),
            ("fresh barrier record behind an old forced one", h(2), facts(160, 0, Some("L\t0\t100\tb"), &[("b", &old)]), 170, forced(0, &["b"]), Write::Nothing),
        ];
        for (name, want, f, now, verdict, write) in rows {
            assert_eq!(decide(want, &f, &ready, now, 100), (verdict, write), "{name}");
        }
    }

    #[test]
    fn tokens_and_records() {
        let c = h(0xab);
        assert_eq!(c.full().len(), 64);
        assert_eq!(c.short(), "abababababababab");
        assert_eq!(Content::from_full(&c.full()), Some(c));
        assert_eq!(Content::from_full("-"), Some(Content::Removed));
        assert_eq!(Content::from_full("zz"), None);
        assert_eq!(Served::Excluded.token(), "x");
        assert_eq!(Served::Content(Content::Removed).token(), "-");
        assert_eq!(
            ForcedRecord::parse("L\t3\t17\ta\u{1f}b"),
            Some(ForcedRecord { pending: false, round: 3, at_ms: 17, laggards: vec!["a".into(), "b".into()] })
        );
        assert_eq!(ForcedRecord::parse("P\t1\t5\t").map(|r| (r.pending, r.laggards.len())), Some((true, 0)));
        for bad in ["", "X\t1\t2\t", "L\tx\t2\t", "L\t1"] {
            assert_eq!(ForcedRecord::parse(bad), None, "{bad:?}");
        }
    }
}
