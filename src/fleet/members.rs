//! Membership: heartbeats, what each member serves, and who is live.
//!
//! A member's record (`<ns>:members`, field = member) holds its last heartbeat (logical ms),
//! whether its full served state is published, and its last deploy. Its served map
//! (`<ns>:served:<member>`, field = path) holds a short token per path: 16 hex digits of the
//! content hash, `-` for no file, `x` for excluded; the empty field `""` marks a complete map.
//! A full publish fills `<ns>:staging:<member>` and renames it over the served map at the end.
//! A member is live while its last heartbeat is within the heartbeat TTL; records of members
//! silent for the retention span are pruned with their maps.

use super::barrier::Served;
use super::error::FleetError;
use super::link::{evalsha, int, list, text};
use super::scripts::Lua;
use super::{Coordinator, CHUNK};

/// A deploy a member finished: an id of the caller's choosing (a manifest id, a git commit) and
/// when (logical ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deploy {
    /// Shown in `status`; control characters are replaced by spaces.
    pub id: String,
    /// When it finished.
    pub at_ms: i64,
}

/// What a heartbeat learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    /// Redis has no complete served state for this member (new member, or Redis lost its data):
    /// call [`Coordinator::publish_full`] before relying on the barrier for removals.
    pub needs_full_publish: bool,
    /// Live members, this one included.
    pub live_members: usize,
}

/// One member as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Heartbeat within the TTL.
    pub live: bool,
    /// Its full served state is published.
    pub ready: bool,
    /// Last heartbeat (logical ms).
    pub last_seen_ms: i64,
    /// Its last deploy, if it reported one.
    pub deploy: Option<Deploy>,
    /// How far its last deploy is behind the newest among live members (0: it is the newest).
    pub behind_ms: Option<i64>,
}

impl Coordinator {
    /// Heartbeat (call at least every third of the heartbeat TTL while running, and once per
    /// sync), optionally reporting a finished deploy.
    pub async fn join(&self, deploy: Option<&Deploy>) -> Result<Joined, FleetError> {
        let s = &self.settings;
        let (dms, did) = deploy.map_or((String::new(), String::new()), |d| (d.at_ms.to_string(), clean(&d.id)));
        let mut cmd = evalsha(Lua::Join, &[self.key("members")]);
        cmd.arg(&self.ns).arg(&s.member).arg(self.now()).arg(dms).arg(did);
        cmd.arg(self.state_gc_ms()).arg(s.retention.as_millis() as i64).arg(s.heartbeat_ttl.as_millis() as i64);
        let mut pipe = redis::pipe();
        pipe.add_command(cmd);
        let out = self.link.exec("join", &pipe).await?;
        let parsed = list(&out[0]).and_then(|r| Some((text(r.first()?)?, int(r.get(1)?)?)));
        let (ready, live) = parsed.ok_or_else(|| self.link.protocol("join", format!("answer {:?}", out[0])))?;
        Ok(Joined { needs_full_publish: ready != "1", live_members: live.max(0) as usize })
    }

    /// Publish what this member now serves for the paths that changed.
    pub async fn publish_served<S: AsRef<str>>(&self, changes: &[(S, Served)]) -> Result<(), FleetError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for chunk in changes.chunks(CHUNK) {
            let mut cmd = self.publish_cmd('i', false, false);
            for (path, served) in chunk {
                cmd.arg(checked_path(path.as_ref())?).arg(served.token());
            }
            pipe.add_command(cmd);
        }
        self.link.exec("publish_served", &pipe).await?;
        Ok(())
    }

    /// Replace this member's served state with `all` (every tracked path), in one round trip,
    /// atomically swapped in at the end; the member is then ready. Returns the paths published.
    pub async fn publish_full<'a>(&self, all: impl IntoIterator<Item = (&'a str, Served)>) -> Result<usize, FleetError> {
        let mut chunks: Vec<Vec<(&str, String)>> = vec![Vec::new()];
        let mut n = 0usize;
        for (path, served) in all {
            if chunks.last().is_some_and(|c| c.len() == CHUNK) {
                chunks.push(Vec::with_capacity(CHUNK));
            }
            chunks.last_mut().expect("one chunk at least").push((checked_path(path)?, served.token()));
            n += 1;
        }
        let last = chunks.len() - 1;
        let mut pipe = redis::pipe();
        for (i, chunk) in chunks.iter().enumerate() {
            // The first call starts a fresh staging map, the last swaps it in.
            let mut cmd = self.publish_cmd('f', i == 0, i == last);
            for (path, token) in chunk {
                cmd.arg(*path).arg(token);
            }
            pipe.add_command(cmd);
        }
        self.link.exec("publish_full", &pipe).await?;
        Ok(n)
    }

    fn publish_cmd(&self, mode: char, first: bool, last: bool) -> redis::Cmd {
        let me = &self.settings.member;
        let keys = [self.key("members"), self.key(&format!("served:{me}")), self.key(&format!("staging:{me}"))];
        let mut cmd = evalsha(Lua::Publish, &keys);
        cmd.arg(&self.ns).arg(me).arg(self.now()).arg(mode.to_string()).arg(if first { "1" } else { "0" });
        cmd.arg(if last { "1" } else { "0" }).arg(self.state_gc_ms());
        cmd
    }

    /// Every member on record, live or not, with how far behind each one's last deploy is.
    pub async fn members(&self) -> Result<Vec<Member>, FleetError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.key("members"));
        let out = self.link.exec("members", &pipe).await?;
        let flat = list(&out[0]).ok_or_else(|| self.link.protocol("members", "HGETALL answer is not a list"))?;
        let (now, ttl) = (self.now(), self.settings.heartbeat_ttl.as_millis() as i64);
        let mut members = Vec::new();
        for pair in flat.chunks(2) {
            let (Some(name), Some(rec)) = (pair.first().and_then(text), pair.get(1).and_then(text)) else {
                return Err(self.link.protocol("members", "a member record is not text"));
            };
            let f: Vec<&str> = rec.split('\t').collect();
            let last_seen_ms = f[0].parse().unwrap_or(0);
            let deploy = match (f.get(2).and_then(|s| s.parse().ok()), f.get(3)) {
                (Some(at_ms), id) => Some(Deploy { id: id.unwrap_or(&"").to_string(), at_ms }),
                (None, _) => None,
            };
            let live = now - last_seen_ms <= ttl;
            members.push(Member { name, live, ready: f.get(1) == Some(&"1"), last_seen_ms, deploy, behind_ms: None });
        }
        let newest = members.iter().filter(|m| m.live).filter_map(|m| m.deploy.as_ref().map(|d| d.at_ms)).max();
        for m in &mut members {
            m.behind_ms = newest.zip(m.deploy.as_ref()).map(|(n, d)| (n - d.at_ms).max(0));
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(members)
    }

    /// Leave the group: this member stops holding the barrier back at once.
    pub async fn leave(&self) -> Result<(), FleetError> {
        let me = &self.settings.member;
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL").arg(self.key("members")).arg(me);
        pipe.cmd("DEL").arg(self.key(&format!("served:{me}"))).arg(self.key(&format!("staging:{me}")));
        self.link.exec("leave", &pipe).await?;
        Ok(())
    }
}

/// A path the barrier can store: not empty (the empty field marks a complete served map).
pub(crate) fn checked_path(path: &str) -> Result<&str, FleetError> {
    if path.is_empty() || path.len() > 65_536 {
        return Err(FleetError::Invalid(format!("path of {} bytes: must be 1 to 65536", path.len())));
    }
    Ok(path)
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}
