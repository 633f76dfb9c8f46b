//! The origin barrier against Redis: gather the facts for a batch in one round trip, decide
//! with [`super::barrier::decide`], and record forced purges and re-purges (a second round
//! trip, only when something was forced or resolved).
//!
//! Records: `<ns>:b:<sha1(path \t content)>` holds when the barrier first saw the item and the
//! round in force (expires after retention + barrier timeout); `<ns>:forced` (field
//! `path \t content`) holds forced purges still waiting for their laggards (`L`) and re-purges
//! waiting to be taken up (`P`), until [`Coordinator::settle`].

use std::collections::BTreeMap;

use redis::Value;

use super::barrier::{decide, Content, Facts, ForcedRecord, Observed, Verdict, Write};
use super::error::FleetError;
use super::link::{evalsha, int, list, text, texts};
use super::members::checked_path;
use super::scripts::Lua;
use super::{Coordinator, CHUNK};

/// A purge due now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueItem {
    /// Index into the items asked about.
    pub index: usize,
    /// Claim it with this round.
    pub round: u32,
}

/// A purge held back by members still serving something else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldItem {
    /// Index into the items asked about.
    pub index: usize,
    /// The live members behind.
    pub waiting_for: Vec<String>,
    /// When the barrier times out (logical ms): ask again by then.
    pub until_ms: i64,
}

/// A purge whose barrier timed out: send it anyway, warning about the laggards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForcedItem {
    /// Index into the items asked about.
    pub index: usize,
    /// Claim it with this round.
    pub round: u32,
    /// The live members still behind; it is purged again (round + 1) once they catch up.
    pub laggards: Vec<String>,
}

/// The barrier's answer for a batch: every index lands in exactly one list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueReport {
    /// Purge now.
    pub due: Vec<DueItem>,
    /// Wait.
    pub held: Vec<HeldItem>,
    /// Purge now, past the timeout.
    pub forced: Vec<ForcedItem>,
}

/// A purge to send again after a forced one: its laggards caught up (or left).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repurge {
    /// The path.
    pub path: String,
    /// The content it was purged for.
    pub content: Content,
    /// Claim it with this round.
    pub round: u32,
}

/// One item's facts, as the scripts return them: path, full content token, facts.
type Gathered = (String, String, Facts);

impl Coordinator {
    /// For each (path, content) purge: due, held (by which members), or forced past the
    /// barrier timeout. Publish this member's own state first ([`Coordinator::publish_served`]).
    pub async fn due<S: AsRef<str>>(&self, items: &[(S, Content)]) -> Result<DueReport, FleetError> {
        if items.is_empty() {
            return Ok(DueReport::default());
        }
        let now = self.now();
        let mut pipe = redis::pipe();
        for chunk in items.chunks(CHUNK) {
            let mut cmd = evalsha(Lua::Due, &[self.key("members"), self.key("forced")]);
            cmd.arg(&self.ns).arg(now).arg(self.ttl_ms()).arg(self.bar_gc_ms());
            for (path, content) in chunk {
                cmd.arg(checked_path(path.as_ref())?).arg(content.short()).arg(content.full());
            }
            pipe.add_command(cmd);
        }
        let answers = self.link.exec("due", &pipe).await?;
        let mut verdicts = Vec::with_capacity(items.len());
        let mut writes = Vec::new();
        for answer in &answers {
            let (ready, gathered) = self.parse_facts("due", answer)?;
            for (path, full, facts) in gathered {
                let index = verdicts.len();
                let want = items.get(index).map(|i| i.1).ok_or_else(|| self.link.protocol("due", "more answers than items"))?;
                let (verdict, write) = decide(want, &facts, &|m: &str| ready.get(m).copied().unwrap_or(false), now, self.timeout_ms());
                if write != Write::Nothing {
                    writes.push((index, path, full, write));
                }
                verdicts.push(verdict);
            }
        }
        if verdicts.len() != items.len() {
            return Err(self.link.protocol("due", format!("{} answers for {} items", verdicts.len(), items.len())));
        }
        for (index, round) in self.write_barrier("due", &writes).await? {
            match &mut verdicts[index] {
                Verdict::Due { round: r } | Verdict::Forced { round: r, .. } => *r = round,
                Verdict::Held { .. } => {}
            }
        }
        let mut report = DueReport::default();
        for (index, v) in verdicts.into_iter().enumerate() {
            match v {
                Verdict::Due { round } => report.due.push(DueItem { index, round }),
                Verdict::Held { waiting_for, until_ms } => report.held.push(HeldItem { index, waiting_for, until_ms }),
                Verdict::Forced { round, laggards } => report.forced.push(ForcedItem { index, round, laggards }),
            }
        }
        Ok(report)
    }

    /// Purges owed again because a forced purge's laggards have caught up or left. Any member
    /// may take them up: map each path to its URLs, [`Coordinator::claim`] them with the round,
    /// and [`Coordinator::settle`] once they are in the outbox.
    pub async fn repurges(&self) -> Result<Vec<Repurge>, FleetError> {
        let now = self.now();
        let mut pipe = redis::pipe();
        let mut cmd = evalsha(Lua::Forced, &[self.key("members"), self.key("forced")]);
        cmd.arg(&self.ns).arg(now).arg(self.ttl_ms()).arg(self.bar_gc_ms());
        pipe.add_command(cmd);
        let answers = self.link.exec("repurges", &pipe).await?;
        let (ready, gathered) = self.parse_facts("repurges", &answers[0])?;
        let mut out = Vec::new();
        let mut writes = Vec::new();
        for (path, full, facts) in gathered {
            let Some(content) = Content::from_full(&full) else { continue };
            let (verdict, write) = decide(content, &facts, &|m: &str| ready.get(m).copied().unwrap_or(false), now, self.timeout_ms());
            // Only a Due verdict on a forced record is a re-purge (usize::MAX: nothing to update).
            let pushed = match verdict {
                Verdict::Due { round } if facts.forced.is_some() => {
                    out.push(Repurge { path: path.clone(), content, round });
                    out.len() - 1
                }
                _ => usize::MAX,
            };
            if write != Write::Nothing {
                writes.push((pushed, path, full, write));
            }
        }
        for (index, round) in self.write_barrier("repurges", &writes).await? {
            if let Some(r) = out.get_mut(index) {
                r.round = round;
            }
        }
        Ok(out)
    }

    /// These re-purges (and due items with round ≥ 1) are safely in this member's outbox: stop
    /// offering them through [`Coordinator::repurges`].
    pub async fn settle(&self, done: &[Repurge]) -> Result<(), FleetError> {
        let writes: Vec<_> = done.iter().map(|r| (0, r.path.clone(), r.content.full(), Write::Resolve { round: r.round })).collect();
        let mut pipe = redis::pipe();
        for chunk in writes.chunks(CHUNK) {
            pipe.add_command(self.barrier_write_cmd(chunk.iter().map(|(_, p, f, w)| ("s", p.as_str(), f.as_str(), w))));
        }
        if !writes.is_empty() {
            self.link.exec("settle", &pipe).await?;
        }
        Ok(())
    }

    fn barrier_write_cmd<'a>(&self, ops: impl Iterator<Item = (&'a str, &'a str, &'a str, &'a Write)>) -> redis::Cmd {
        let mut cmd = evalsha(Lua::BarrierWrite, &[self.key("forced")]);
        cmd.arg(&self.ns).arg(self.now()).arg(self.bar_gc_ms()).arg(self.state_gc_ms());
        for (op, path, full, write) in ops {
            let (round, laggards) = match write {
                Write::Force { round, laggards } => (*round, laggards.join("\u{1f}")),
                Write::Resolve { round } => (*round, String::new()),
                Write::Nothing => (0, String::new()),
            };
            cmd.arg(op).arg(path).arg(full).arg(round).arg(laggards);
        }
        cmd
    }

    /// Apply forced/resolve writes; returns (index, round now in force) per write.
    async fn write_barrier(&self, op: &'static str, writes: &[(usize, String, String, Write)]) -> Result<Vec<(usize, u32)>, FleetError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for chunk in writes.chunks(CHUNK) {
            pipe.add_command(self.barrier_write_cmd(chunk.iter().map(|(_, p, f, w)| {
                let code = if matches!(w, Write::Force { .. }) { "f" } else { "r" };
                (code, p.as_str(), f.as_str(), w)
            })));
        }
        let answers = self.link.exec(op, &pipe).await?;
        let mut rounds = Vec::with_capacity(writes.len());
        for a in &answers {
            for v in list(a).ok_or_else(|| self.link.protocol(op, "barrier write answer is not a list"))? {
                rounds.push(int(v).and_then(|r| u32::try_from(r).ok()).ok_or_else(|| self.link.protocol(op, format!("round {v:?}")))?);
            }
        }
        if rounds.len() != writes.len() {
            return Err(self.link.protocol(op, format!("{} rounds for {} writes", rounds.len(), writes.len())));
        }
        Ok(writes.iter().map(|w| w.0).zip(rounds).collect())
    }

    /// `{live names, ready flags, facts…}` → (ready per live member, facts per item).
    fn parse_facts(&self, op: &'static str, v: &Value) -> Result<(BTreeMap<String, bool>, Vec<Gathered>), FleetError> {
        let bad = |what: &str| self.link.protocol(op, format!("malformed barrier facts ({what})"));
        let top = list(v).filter(|t| t.len() == 3).ok_or_else(|| bad("shape"))?;
        let names = texts(&top[0]).ok_or_else(|| bad("members"))?;
        let flags = texts(&top[1]).ok_or_else(|| bad("ready flags"))?;
        let ready: BTreeMap<String, bool> = names.into_iter().zip(flags.iter().map(|f| f == "1")).collect();
        let mut out = Vec::new();
        for item in list(&top[2]).ok_or_else(|| bad("items"))? {
            let f = list(item).filter(|f| f.len() == 6).ok_or_else(|| bad("item"))?;
            let field = |i: usize| text(&f[i]).ok_or_else(|| bad("item field"));
            let (path, full) = (field(0)?, field(1)?);
            let since_ms = int(&f[2]).ok_or_else(|| bad("since"))?;
            let round = int(&f[3]).and_then(|r| u32::try_from(r).ok()).ok_or_else(|| bad("round"))?;
            let forced_text = field(4)?;
            let forced =
                if forced_text.is_empty() { None } else { Some(ForcedRecord::parse(&forced_text).ok_or_else(|| bad("forced record"))?) };
            let pairs = texts(&f[5]).ok_or_else(|| bad("differing members"))?;
            let differing = pairs.chunks(2).filter(|p| p.len() == 2).map(|p| (p[0].clone(), Observed::parse(&p[1]))).collect();
            out.push((path, full, Facts { since_ms, round, forced, differing }));
        }
        Ok((ready, out))
    }
}
