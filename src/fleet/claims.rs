//! Exactly one submitter: claims with a lease, then a "submitted" marker.
//!
//! Each purge or prefetch item — (kind, area, domain, URL, content, round) — has one key,
//! `<ns>:c:<sha1 of the item>`, holding `c \t holder \t lease-until` while claimed and
//! `s \t submitter \t when` once the API accepted it. One script call claims a whole chunk:
//! free or expired → mine; mine already → renewed; submitted → skip; another live lease → not
//! mine. Leases are compared on the logical clock; Redis' own expiry (retention + lease for
//! claims, retention + barrier timeout for submitted markers) only collects garbage.

use super::barrier::Content;
use super::error::FleetError;
use super::link::{evalsha, int, list, text, texts};
use super::scripts::Lua;
use super::{Coordinator, CHUNK};
use crate::model::{Area, JobKind};

/// One thing to send once for the whole fleet: a URL purge, a directory purge or a prefetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Item {
    /// Purge URLs, purge a directory, or prefetch.
    pub kind: JobKind,
    /// Where.
    pub area: Area,
    /// The domain (host).
    pub domain: String,
    /// The URL (a directory URL for a directory purge).
    pub url: String,
    /// The content it is for: the file's hash (or removed); for a directory purge, a digest of
    /// the changes it covers.
    pub content: Content,
    /// The barrier's round (0 unless a forced purge is being repeated).
    pub round: u32,
}

impl Item {
    /// The item's Redis key suffix: 40 hex digits, stable across members and versions of cdnsync.
    pub(crate) fn digest(&self) -> String {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        for part in [self.kind.as_str(), self.area.as_str(), &self.domain, &self.url, &self.content.full(), &self.round.to_string()] {
            h.update(part.len().to_string().as_bytes());
            h.update(b":");
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// What a claim found for one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Mine (new, or my own claim renewed): write it to the outbox, submit, then
    /// [`Coordinator::submitted`].
    Mine,
    /// Mine, taken over from a holder whose lease expired (it probably died; its outbox may
    /// still send it later: a possible duplicate).
    TakenOver {
        /// The previous holder.
        from: String,
    },
    /// Someone already submitted it: skip.
    Submitted,
    /// Another member holds a live lease: skip for now (ask again after the lease, in case it
    /// dies).
    Held {
        /// The holder.
        by: String,
    },
}

impl Claim {
    /// Mine to send.
    pub fn is_mine(&self) -> bool {
        matches!(self, Claim::Mine | Claim::TakenOver { .. })
    }
}

impl Coordinator {
    /// Claim items atomically, a lease each (claiming my own items again renews their lease:
    /// do so every third of the lease while they are still being sent). One answer per item.
    pub async fn claim(&self, items: &[Item]) -> Result<Vec<Claim>, FleetError> {
        let (now, lease, gc) = (self.now(), self.settings.lease.as_millis() as i64, self.claim_gc_ms());
        let answers = self
            .per_item("claim", Lua::Claim, items, |cmd| {
                cmd.arg(&self.settings.member).arg(now).arg(lease).arg(gc);
            })
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for a in &answers {
            let bad = || self.link.protocol("claim", format!("answer {a:?}"));
            let parts = list(a).filter(|p| p.len() == 2).ok_or_else(bad)?;
            let codes = text(&parts[0]).ok_or_else(bad)?;
            let mut holders = texts(&parts[1]).ok_or_else(bad)?.into_iter();
            for c in codes.chars() {
                out.push(match c {
                    'm' => Claim::Mine,
                    'd' => Claim::Submitted,
                    't' => Claim::TakenOver { from: holders.next().ok_or_else(bad)? },
                    'o' => Claim::Held { by: holders.next().ok_or_else(bad)? },
                    _ => return Err(bad()),
                });
            }
        }
        if out.len() != items.len() {
            return Err(self.link.protocol("claim", format!("{} answers for {} items", out.len(), items.len())));
        }
        Ok(out)
    }

    /// The API accepted these items: no member claims them again (for the retention span).
    pub async fn submitted(&self, items: &[Item]) -> Result<(), FleetError> {
        let (now, gc) = (self.now(), self.done_gc_ms());
        self.per_item("submitted", Lua::Submitted, items, |cmd| {
            cmd.arg(&self.settings.member).arg(now).arg(gc);
        })
        .await?;
        Ok(())
    }

    /// Give back my claims on items I will not send after all (deferred to tomorrow's quota,
    /// dropped by the user): others may claim them at once. Returns how many were mine.
    pub async fn release(&self, items: &[Item]) -> Result<usize, FleetError> {
        let answers = self
            .per_item("release", Lua::Release, items, |cmd| {
                cmd.arg(&self.settings.member);
            })
            .await?;
        answers
            .iter()
            .try_fold(0usize, |n, a| Ok(n + int(a).ok_or_else(|| self.link.protocol("release", format!("answer {a:?}")))? as usize))
    }

    /// One script call per chunk of items (their keys as KEYS), all in one pipeline.
    async fn per_item(
        &self,
        op: &'static str,
        lua: Lua,
        items: &[Item],
        args: impl Fn(&mut redis::Cmd),
    ) -> Result<Vec<redis::Value>, FleetError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for chunk in items.chunks(CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|i| self.key(&format!("c:{}", i.digest()))).collect();
            let mut cmd = evalsha(lua, &keys);
            args(&mut cmd);
            pipe.add_command(cmd);
        }
        self.link.exec(op, &pipe).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContentHash;

    fn item(url: &str, round: u32) -> Item {
        Item {
            kind: JobKind::PurgeUrls,
            area: Area::Mainland,
            domain: "www.example.com".into(),
            url: url.into(),
            content: Content::Hash(ContentHash([7; 32])),
            round,
        }
    }

    #[test]
    fn digests_tell_items_apart() {
        let a = item("https://www.example.com/a", 0);
        assert_eq!(a.digest(), item("https://www.example.com/a", 0).digest());
        assert_eq!(a.digest().len(), 40);
        let others = [
            item("https://www.example.com/b", 0),
            item("https://www.example.com/a", 1),
            Item { area: Area::Overseas, ..a.clone() },
            Item { kind: JobKind::PrefetchUrls, ..a.clone() },
            Item { content: Content::Removed, ..a.clone() },
            // Length prefixes: moving a byte between fields changes the digest.
            Item { domain: "www.example.co".into(), url: "mhttps://www.example.com/a".into(), ..a.clone() },
        ];
        for o in &others {
            assert_ne!(a.digest(), o.digest(), "{o:?}");
        }
        assert!(Claim::TakenOver { from: "x".into() }.is_mine() && !Claim::Held { by: "x".into() }.is_mine());
    }
}
