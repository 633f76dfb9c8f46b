//! Which EdgeOne zone serves a host: the domain's `zone_id`, or looked up once by host
//! (DescribeZones by name, then DescribeAccelerationDomains to confirm the host is one of the
//! zone's domains) and remembered through a [`ZoneCache`] (`state_dir/edgeone-zones.json`).
//! Either way a host that is not a domain of its zone is refused before anything is sent for it.

use serde::{Deserialize, Serialize};

use super::wire::{self, Filter, ListQuery};
use super::TeoClient;
use crate::api::Failure;

/// DescribeZones rows a page (its documented maximum).
const ZONES_PAGE: u64 = 100;
/// DescribeAccelerationDomains rows a page (its documented maximum).
const DOMAINS_PAGE: u64 = 200;
/// Pages read at most from one listing: a reply that never ends its paging is not followed forever.
const MAX_PAGES: u64 = 100;

/// A host known to be a domain of a zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRecord {
    /// The host (lower case).
    pub host: String,
    /// `zone-…`.
    pub zone_id: String,
    /// The zone's name (`example.com`), when looked up.
    #[serde(default)]
    pub zone_name: String,
    /// `config` (the domain's `zone_id`, confirmed) or `lookup` (found by host).
    pub source: String,
    /// When it was confirmed (Unix seconds).
    pub checked_unix: i64,
}

/// Where zone records are remembered between runs (a seam: the file lives in `state`).
pub trait ZoneCache: Send + Sync {
    /// Every record remembered (none when there is no cache or it cannot be read).
    fn load(&self) -> Vec<ZoneRecord>;
    /// Remember exactly `records`.
    fn save(&self, records: &[ZoneRecord]) -> crate::error::Result<()>;
    /// Where, for notes (`.cdnsync/edgeone-zones.json`).
    fn describe(&self) -> String;
}

/// No cache: every process looks its zones up again.
impl ZoneCache for () {
    fn load(&self) -> Vec<ZoneRecord> {
        Vec::new()
    }

    fn save(&self, _: &[ZoneRecord]) -> crate::error::Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

impl TeoClient {
    /// The zone of `host`: from memory, the cache, or the API. Refusals (no such zone, zones
    /// sharing the name, a host not in its zone) are permanent failures; nothing is sent for
    /// the host's jobs then.
    pub(super) async fn zone_for(&self, host: &str) -> Result<String, Failure> {
        let host = host.to_ascii_lowercase();
        if let Some(z) = self.known(&host) {
            return Ok(z);
        }
        let _one_at_a_time = self.resolving.lock().await;
        if let Some(z) = self.known(&host) {
            return Ok(z);
        }
        let configured = self.domains.iter().find(|d| d.host == host).and_then(|d| d.zone_id.clone());
        let cached = self.cache.load().into_iter().find(|r| r.host == host && configured.as_ref().is_none_or(|z| *z == r.zone_id));
        let record = match cached {
            Some(r) => r,
            None => {
                let r = match configured {
                    Some(zone_id) => {
                        self.confirm(&host, &zone_id, "").await?;
                        ZoneRecord { host: host.clone(), zone_id, zone_name: String::new(), source: "config".into(), checked_unix: 0 }
                    }
                    None => self.look_up(&host).await?,
                };
                let r = ZoneRecord { checked_unix: self.clock.now_unix(), ..r };
                self.remember(&r);
                r
            }
        };
        let zone = record.zone_id.clone();
        self.resolved.lock().expect("zones").insert(host, record);
        Ok(zone)
    }

    fn known(&self, host: &str) -> Option<String> {
        self.resolved.lock().expect("zones").get(host).map(|r| r.zone_id.clone())
    }

    /// Write `r` to the cache (replacing the host's record), and say so when it was looked up.
    fn remember(&self, r: &ZoneRecord) {
        let mut all: Vec<ZoneRecord> = self.cache.load().into_iter().filter(|x| x.host != r.host).collect();
        all.push(r.clone());
        all.sort_by(|a, b| a.host.cmp(&b.host));
        let saved = match self.cache.save(&all) {
            Ok(()) => format!("remembered in {}", self.cache.describe()),
            Err(e) => format!("not remembered ({e})"),
        };
        if r.source == "lookup" {
            self.note(format!(
                "{}: EdgeOne zone {} ({}) found by looking the host up; {saved}; set zone_id = \"{}\" in its [[domain]] to skip the lookup",
                r.host, r.zone_id, r.zone_name, r.zone_id
            ));
        }
    }

    /// Forget what is known of `host` (the API no longer takes it in its zone): the next
    /// request for it confirms the zone again.
    pub(super) fn forget(&self, host: &str) {
        let host = host.to_ascii_lowercase();
        self.resolved.lock().expect("zones").remove(&host);
        let all = self.cache.load();
        if all.iter().any(|r| r.host == host) {
            let kept: Vec<ZoneRecord> = all.into_iter().filter(|r| r.host != host).collect();
            if let Err(e) = self.cache.save(&kept) {
                tracing::warn!("could not update the EdgeOne zone cache: {e}");
            }
        }
    }

    /// Find the zone named after `host` or a parent domain (the longest such name), and confirm.
    async fn look_up(&self, host: &str) -> Result<ZoneRecord, Failure> {
        let names = wire::zone_name_candidates(host);
        let mut zones = Vec::new();
        for _ in 0..MAX_PAGES {
            let filters = vec![Filter { name: "zone-name".into(), values: names.clone() }];
            let q = ListQuery { zone_id: None, offset: zones.len() as u64, limit: ZONES_PAGE, filters };
            let resp = self.call("DescribeZones", &q).await?;
            let (rows, total) = wire::zone_rows(&resp);
            let got = rows.len();
            zones.extend(rows);
            if got == 0 || zones.len() as u64 >= total {
                break;
            }
        }
        let matching: Vec<&wire::ZoneRow> = zones.iter().filter(|z| wire::under(host, &z.zone_name)).collect();
        let Some(longest) = matching.iter().map(|z| z.zone_name.len()).max() else {
            return Err(wire::refusal(
                "ZoneNotFound",
                format!(
                    "no EdgeOne zone of this account is named {} (DescribeZones); nothing was sent for {host}. Check [provider] site, or set zone_id in its [[domain]]",
                    names.join(" or ")
                ),
            ));
        };
        let best: Vec<&&wire::ZoneRow> = matching.iter().filter(|z| z.zone_name.len() == longest).collect();
        if best.len() > 1 {
            let list: Vec<String> = best.iter().map(|z| format!("{} (alias {:?}, {})", z.zone_id, z.alias, z.status)).collect();
            return Err(wire::refusal(
                "ZoneAmbiguous",
                format!(
                    "{} EdgeOne zones share the name {}: {}; nothing was sent for {host}. Set zone_id in its [[domain]]",
                    best.len(),
                    best[0].zone_name,
                    list.join(", ")
                ),
            ));
        }
        let z = best[0];
        self.confirm(host, &z.zone_id, &z.zone_name).await?;
        Ok(ZoneRecord {
            host: host.into(),
            zone_id: z.zone_id.clone(),
            zone_name: z.zone_name.clone(),
            source: "lookup".into(),
            checked_unix: 0,
        })
    }

    /// Is `host` one of the domains of `zone_id` (DescribeAccelerationDomains)? A refusal if not.
    async fn confirm(&self, host: &str, zone_id: &str, zone_name: &str) -> Result<(), Failure> {
        let mut seen = 0u64;
        for _ in 0..MAX_PAGES {
            let filters = vec![Filter::one("domain-name", host)];
            let q = ListQuery { zone_id: Some(zone_id.into()), offset: seen, limit: DOMAINS_PAGE, filters };
            let resp = self.call("DescribeAccelerationDomains", &q).await?;
            let (names, total) = wire::domain_names(&resp);
            if names.iter().any(|n| n == host) {
                return Ok(());
            }
            seen += names.len() as u64;
            if names.is_empty() || seen >= total {
                break;
            }
        }
        let named = if zone_name.is_empty() { String::new() } else { format!(" ({zone_name})") };
        Err(wire::refusal(
            "HostNotInZone",
            format!(
                "{host} is not a domain of EdgeOne zone {zone_id}{named} (DescribeAccelerationDomains); nothing was sent for it. \
                 Add the domain to the zone, or fix zone_id in its [[domain]]"
            ),
        ))
    }
}
