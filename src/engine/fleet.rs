//! The fleet gate of a sync (`[fleet]`, `docs/fleet.md`): before jobs go out, ask the site's
//! other origin servers, through Redis, whether each purge is due (every live member serves the
//! new bytes) and whether another member already sent it; send only what is due and ours.
//!
//! The jobs are already in this member's outbox when the gate runs (invariant 1 of
//! `ARCHITECTURE.md`), so whatever the gate holds back stays owed: a job waiting for the
//! barrier or for another member's claim is left `pending` with the job error
//! [`FLEET_BARRIER`] or [`FLEET_CLAIMED`], and the next sync (or watch's recheck) asks again.
//! Only a URL the fleet records as *submitted by a member* for the same content leaves the
//! outbox unsent. Decisions made here:
//!
//! - A directory purge waits for no barrier (members publish files, not folders); it is
//!   claimed by a digest of the files under the folder, so members with the same tree send it
//!   once, and members with different trees each send theirs (a duplicate, never a loss).
//! - A URL cdnsync does not track (a whole-site purge, a removed index) is claimed without a
//!   barrier.
//! - Any error from Redis: the gate steps aside and this sync sends everything itself, with a
//!   warning (duplicates with other members possible; nothing is lost).
//! - A claim's lease is not renewed while a batch is being sent: keep `lease_secs` above the
//!   time a sync takes to send (a late holder only causes a duplicate).

use std::collections::HashMap;
use std::sync::Arc;

use super::scanned::Scanned;
use super::Engine;
use crate::api::CdnApi;
use crate::config::ConfigErrors;
use crate::error::{Error, Result};
use crate::fleet::{Claim, Content, Coordinator, Deploy, FleetError, FleetSettings, Item, Served};
use crate::model::{ContentHash, Job, JobError, JobKind, JobStatus};
use crate::plan::rules::Rules;
use crate::state::outbox::Outbox;

/// The job error of a job waiting for the fleet's barrier.
pub const FLEET_BARRIER: &str = "FleetBarrier";
/// The job error of a job another member has claimed.
pub const FLEET_CLAIMED: &str = "FleetClaimed";

/// The coordinator for `[fleet]`, built on first use and kept for the engine's life (watch mode
/// keeps its connection).
pub(super) type FleetCell = Arc<std::sync::OnceLock<Option<Arc<Coordinator>>>>;

/// What the gate decided, for after the send.
#[derive(Default)]
pub(super) struct Gated {
    /// Our claimed items, by (kind, area, url).
    mine: HashMap<(JobKind, crate::model::Area, String), Item>,
    /// Held jobs (already persisted).
    pub(super) held: Vec<Job>,
}

/// Why a URL does not go now.
enum Wait {
    Barrier(String),
    Claimed(String),
    /// Another member sent it: done here.
    Sent,
    /// Another job of this sync sends the same item.
    Dup,
}

impl<A: CdnApi> Engine<A> {
    /// The fleet coordinator, when `[fleet]` is set. A setting only checkable now (an unreadable
    /// CA file, a URL the Redis driver refuses) is a config error naming `[fleet]`.
    pub(super) fn coordinator(&self) -> Result<Option<Arc<Coordinator>>> {
        let Some(f) = &self.config.fleet else { return Ok(None) };
        if let Some(c) = self.fleet.get() {
            return Ok(c.clone());
        }
        let bad = |key: &str, msg: String| Error::Config(ConfigErrors::one(&self.config.source, f.line, key, msg));
        let env = |k: &str| std::env::var(k).ok();
        let member = f.member.clone().unwrap_or_else(crate::fleet::default_member);
        let mut s = FleetSettings::new(f.redis.expose(), &f.group, &member, &env).map_err(|e| bad("fleet.redis", e.to_string()))?;
        s.barrier_timeout = f.barrier_timeout;
        s.lease = f.lease;
        s.heartbeat_ttl = f.heartbeat_ttl;
        s.key_prefix = f.key_prefix.clone();
        if let Some(ca) = &f.tls_ca {
            let pem = std::fs::read(ca).map_err(|e| bad("fleet.tls_ca", format!("{}: {e}", ca.display())))?;
            s.tls_ca = Some(crate::fleet::CaPem(pem));
        }
        let c = Coordinator::new(s, self.clock.clone()).map_err(|e| bad("fleet", e.to_string()))?;
        Ok(self.fleet.get_or_init(|| Some(Arc::new(c))).clone())
    }

    /// A heartbeat (watch mode, between syncs). Errors are only logged: the next sync says more.
    pub async fn fleet_heartbeat(&self) {
        if let Ok(Some(c)) = self.coordinator() {
            if let Err(e) = c.join(None).await {
                tracing::warn!("{e}");
            }
        }
    }

    /// Leave the fleet at once (watch's clean shutdown): the others stop waiting for this member.
    pub async fn fleet_leave(&self) {
        if let Ok(Some(c)) = self.coordinator() {
            if let Err(e) = c.leave().await {
                tracing::warn!("{e}");
            }
        }
    }

    /// `status`'s fleet part (`None` without `[fleet]`); Redis being down is reported in it.
    pub async fn fleet_status(&self) -> Result<Option<crate::report::FleetStatus>> {
        let Some(c) = self.coordinator()? else { return Ok(None) };
        let (members, error) = match c.members().await {
            Ok(m) => (m.iter().map(crate::report::FleetMemberReport::of).collect(), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let s = c.settings();
        Ok(Some(crate::report::FleetStatus { group: s.group.clone(), member: s.member.clone(), error, members }))
    }

    /// Hold back what is not due or not ours; drop what another member already sent. Returns
    /// the jobs to send now.
    pub(super) async fn fleet_gate(
        &self,
        jobs: Vec<Job>,
        s: &Scanned,
        outbox: &Outbox,
        notes: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<Job>, Gated)> {
        let Some(c) = self.coordinator()? else { return Ok((jobs, Gated::default())) };
        match self.fleet_decide(&c, jobs.clone(), s, outbox, notes).await {
            Ok(r) => Ok(r),
            Err(GateError::Local(e)) => Err(e),
            Err(GateError::Fleet(e)) => {
                let n: usize = jobs.iter().map(|j| j.urls.len()).sum();
                warnings
                    .push(format!("{e}; purging {n} URL(s) on our own this time (possible duplicates: other members may purge them too)"));
                Ok((jobs, Gated::default()))
            }
        }
    }

    async fn fleet_decide(
        &self,
        c: &Coordinator,
        jobs: Vec<Job>,
        s: &Scanned,
        outbox: &Outbox,
        notes: &mut Vec<String>,
    ) -> std::result::Result<(Vec<Job>, Gated), GateError> {
        let now = self.clock.now_unix();
        let joined = c.join(None).await?;
        if joined.needs_full_publish {
            c.publish_full(s.current.snapshot.iter().map(|(p, m)| (p, Served::hash(m.hash)))).await?;
        } else {
            let ch = &s.changes;
            let changed: Vec<(&str, Served)> = ch
                .added
                .iter()
                .chain(&ch.modified)
                .filter_map(|p| Some((p.as_str(), Served::hash(s.current.snapshot.get(p)?.hash))))
                .chain(ch.removed.iter().map(|p| (p.as_str(), Served::Content(Content::Removed))))
                .collect();
            c.publish_served(&changed).await?;
        }
        // Forced purges whose laggards caught up: owed again, as new jobs (outbox first).
        let rules = Rules::new(&self.config.domains);
        let repurges = c.repurges().await?;
        let mut jobs = jobs;
        let mut seq = 0;
        let mut repurge_rounds: HashMap<String, u32> = HashMap::new();
        for r in &repurges {
            let current = match s.current.snapshot.get(&r.path) {
                Some(m) => Content::Hash(m.hash),
                None => Content::Removed,
            };
            if current != r.content {
                continue; // a newer version brings its own purge
            }
            for (d, dom) in self.config.domains.iter().enumerate().filter(|(d, _)| rules.serves(*d, &r.path)) {
                for area in &dom.areas {
                    seq += 1;
                    let mut j = Job::planned(JobKind::PurgeUrls, *area, &dom.host, vec![rules.file_url(d, &r.path)], now, seq);
                    j.status = JobStatus::Pending;
                    jobs.push(j);
                }
            }
            repurge_rounds.insert(r.path.clone(), r.round);
        }
        outbox.put(&jobs[jobs.len() - seq..]).map_err(GateError::Local)?;
        if !repurges.is_empty() {
            c.settle(&repurges).await?;
            notes.push(format!("fleet: {} path(s) purged again: a member that lagged behind a forced purge caught up", repurges.len()));
        }
        // Each URL of each job that goes this run: its item and, for a file, its barrier.
        let mut items: Vec<Item> = Vec::new();
        let mut barrier: Vec<(String, Content)> = Vec::new();
        let mut of_url: Vec<Vec<(usize, Option<usize>)>> = Vec::new();
        for job in &jobs {
            let later = job.status == JobStatus::Deferred && job.not_before_unix.is_some_and(|t| t > now);
            let skip = later || job.maybe_sent_unix.is_some() || job.status == JobStatus::Failed;
            let mut per = Vec::new();
            for url in job.urls.iter().filter(|_| !skip) {
                let (content, path) = self.fleet_content(&rules, job, url, s);
                let round = path.as_ref().and_then(|p| repurge_rounds.get(p)).copied().unwrap_or(0);
                let b = path.map(|p| {
                    barrier.push((p, content));
                    barrier.len() - 1
                });
                items.push(Item { kind: job.kind, area: job.area, domain: job.host.clone(), url: url.clone(), content, round });
                per.push((items.len() - 1, b));
            }
            of_url.push(per);
        }
        let due = c.due(&barrier).await?;
        let mut waits: HashMap<usize, Wait> = HashMap::new();
        for h in &due.held {
            waits.insert(h.index, Wait::Barrier(format!("waiting for {}", h.waiting_for.join(", "))));
        }
        let mut rounds: HashMap<usize, u32> = due.due.iter().map(|d| (d.index, d.round)).collect();
        for f in &due.forced {
            rounds.insert(f.index, f.round);
            notes.push(format!(
                "fleet: {} purged although {} still serve(s) older bytes (barrier timeout); it is purged again when they catch up",
                barrier[f.index].0,
                f.laggards.join(", ")
            ));
        }
        // Claim what may go (the barrier's round, when it has one).
        let mut claimable = Vec::new();
        for per in &of_url {
            for &(i, b) in per {
                match b {
                    Some(b) if waits.contains_key(&b) => {}
                    Some(b) => {
                        items[i].round = items[i].round.max(rounds.get(&b).copied().unwrap_or(0));
                        claimable.push(i);
                    }
                    None => claimable.push(i),
                }
            }
        }
        let asked: Vec<Item> = claimable.iter().map(|&i| items[i].clone()).collect();
        let claims = c.claim(&asked).await?;
        crate::failpoint::hit("fleet-claimed");
        let mut verdict: HashMap<usize, Wait> = HashMap::new();
        let mut gated = Gated::default();
        let mut seen = std::collections::HashSet::new();
        for (&i, claim) in claimable.iter().zip(&claims) {
            if !seen.insert(&items[i]) {
                // The same item twice in this sync (a re-purge beside the URL's own job): once.
                verdict.insert(i, Wait::Dup);
                continue;
            }
            match claim {
                Claim::Mine | Claim::TakenOver { .. } => {
                    let it = &items[i];
                    gated.mine.insert((it.kind, it.area, it.url.clone()), it.clone());
                }
                Claim::Submitted => {
                    verdict.insert(i, Wait::Sent);
                }
                Claim::Held { by } => {
                    verdict.insert(i, Wait::Claimed(format!("claimed by fleet member {by}")));
                }
            }
        }
        for per in &of_url {
            for &(i, b) in per {
                if let Some(w) = b.and_then(|b| waits.remove(&b)) {
                    verdict.insert(i, w);
                }
            }
        }
        let send = self.fleet_split(jobs, &of_url, verdict, outbox, notes, &mut gated).map_err(GateError::Local)?;
        Ok((send, gated))
    }

    /// What the fleet knows a URL by: its content, and the tracked path whose barrier it waits for.
    fn fleet_content(&self, rules: &Rules, job: &Job, url: &str, s: &Scanned) -> (Content, Option<String>) {
        let d = (0..rules.domains.len())
            .filter(|&d| rules.domains[d].host == job.host && url.starts_with(rules.base(d)))
            .max_by_key(|&d| rules.base(d).len());
        let Some(d) = d else { return (Content::Removed, None) };
        if job.kind == JobKind::PurgePaths {
            let prefix = url.strip_prefix(rules.base(d)).unwrap_or("");
            let prefix = percent_encoding::percent_decode_str(prefix).decode_utf8_lossy();
            let mut h = blake3::Hasher::new();
            for (p, m) in s.current.snapshot.iter().filter(|(p, _)| p.starts_with(prefix.as_ref())) {
                h.update(p.as_bytes());
                h.update(b"\t");
                h.update(&m.hash.0);
                h.update(b"\n");
            }
            return (Content::Hash(ContentHash(*h.finalize().as_bytes())), None);
        }
        let paths = super::origin::paths_of(rules, d, &self.config.domains[d], url);
        if let Some((p, m)) = paths.iter().find_map(|p| Some((p, s.current.snapshot.get(p)?))) {
            return (Content::Hash(m.hash), Some(p.clone()));
        }
        match paths.into_iter().find(|p| s.changes.removed.contains(p)) {
            Some(p) => (Content::Removed, Some(p)),
            None => (Content::Removed, None),
        }
    }

    /// Split each job into what goes now, what waits (persisted) and what another member sent
    /// (left out of the outbox).
    fn fleet_split(
        &self,
        jobs: Vec<Job>,
        of_url: &[Vec<(usize, Option<usize>)>],
        mut verdict: HashMap<usize, Wait>,
        outbox: &Outbox,
        notes: &mut Vec<String>,
        gated: &mut Gated,
    ) -> Result<Vec<Job>> {
        let mut send = Vec::new();
        let (mut sent_elsewhere, mut waiting) = (0usize, 0usize);
        let mut first_why = None;
        let mut seq = 1000;
        for (mut job, per) in jobs.into_iter().zip(of_url) {
            if per.is_empty() {
                send.push(job);
                continue;
            }
            let (mut go, mut wait, mut code) = (Vec::new(), Vec::new(), FLEET_BARRIER);
            for (url, &(i, _)) in job.urls.iter().zip(per) {
                match verdict.remove(&i) {
                    None => go.push(url.clone()),
                    Some(Wait::Sent) => sent_elsewhere += 1,
                    Some(Wait::Dup) => {}
                    Some(Wait::Barrier(why)) => {
                        first_why.get_or_insert_with(|| format!("{url}: {why}"));
                        wait.push(url.clone());
                    }
                    Some(Wait::Claimed(why)) => {
                        first_why.get_or_insert_with(|| format!("{url}: {why}"));
                        if wait.is_empty() {
                            code = FLEET_CLAIMED;
                        }
                        wait.push(url.clone());
                    }
                }
            }
            if wait.is_empty() && go.len() == job.urls.len() {
                if job.error.as_ref().is_some_and(|e| e.code == FLEET_BARRIER || e.code == FLEET_CLAIMED) {
                    job.error = None;
                }
                send.push(job);
                continue;
            }
            let mut persist = Vec::new();
            if !go.is_empty() {
                seq += 1;
                let mut part = job.clone();
                part.id = crate::model::new_job_id(self.clock.now_unix(), seq);
                part.urls = go;
                part.error = None;
                part.status = JobStatus::Pending;
                persist.push(part.clone());
                send.push(part);
            }
            if wait.is_empty() {
                outbox.put(&persist)?;
                outbox.remove(&job.id)?;
                continue;
            }
            waiting += wait.len();
            job.error = Some(JobError {
                code: code.into(),
                message: format!("{} URL(s) held back by the fleet; first: {}", wait.len(), first_why.clone().unwrap_or_default()),
            });
            job.urls = wait;
            job.status = JobStatus::Pending;
            persist.push(job.clone());
            // The part that goes first: a crash between the writes purges a URL twice at worst.
            outbox.put(&persist)?;
            gated.held.push(job);
        }
        if sent_elsewhere > 0 {
            notes.push(format!("fleet: {sent_elsewhere} URL(s) already purged by another member for the same bytes; not sent again"));
        }
        if waiting > 0 {
            notes
                .push(format!("fleet: {waiting} URL(s) held back ({}); they stay owed and go out when due", first_why.unwrap_or_default()));
        }
        Ok(send)
    }

    /// After the send: record what the API accepted, release the rest, report the deploy.
    pub(super) async fn fleet_after(&self, gated: &Gated, done: &[Job], deploy: Option<&str>, warnings: &mut Vec<String>) {
        let Ok(Some(c)) = self.coordinator() else { return };
        if gated.mine.is_empty() && deploy.is_none() {
            return;
        }
        let (mut accepted, mut back) = (Vec::new(), Vec::new());
        for j in done {
            for u in &j.urls {
                if let Some(it) = gated.mine.get(&(j.kind, j.area, u.clone())) {
                    if j.status == JobStatus::Accepted { &mut accepted } else { &mut back }.push(it.clone());
                }
            }
        }
        let r = async {
            c.submitted(&accepted).await?;
            c.release(&back).await?;
            if let Some(id) = deploy {
                c.join(Some(&Deploy { id: id.to_string(), at_ms: self.clock.now_ms() })).await?;
            }
            Ok::<(), FleetError>(())
        };
        if let Err(e) = r.await {
            warnings.push(format!("{e}; the other members may purge the same URLs again"));
        }
    }
}

/// A gate failure: the fleet's (step aside) or this member's own (stop the sync).
enum GateError {
    Fleet(FleetError),
    Local(Error),
}

impl From<FleetError> for GateError {
    fn from(e: FleetError) -> Self {
        GateError::Fleet(e)
    }
}
