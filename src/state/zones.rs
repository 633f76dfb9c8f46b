//! `state_dir/edgeone-zones.json`: the EdgeOne zone found for each host (by its `zone_id` or by
//! looking the host up), so that a host is looked up once, not on every run. Only a cache: a
//! damaged or unreadable file is ignored (the zones are confirmed with the API again), and a
//! host the API stops taking in its zone is dropped from it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::teo::{ZoneCache, ZoneRecord};
use crate::error::Result;

/// The file's name inside `state_dir`.
pub const FILE: &str = "edgeone-zones.json";

#[derive(Serialize, Deserialize)]
struct Contents {
    zones: Vec<ZoneRecord>,
}

/// The zone cache of one state directory.
pub struct ZoneFile {
    path: PathBuf,
}

impl ZoneFile {
    /// The cache in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        ZoneFile { path: state_dir.join(FILE) }
    }
}

impl ZoneCache for ZoneFile {
    fn load(&self) -> Vec<ZoneRecord> {
        let Ok(bytes) = std::fs::read(&self.path) else { return Vec::new() };
        match serde_json::from_slice::<Contents>(&bytes) {
            Ok(c) => c.zones.into_iter().filter(|r| crate::config::edgeone::is_zone_id(&r.zone_id) && !r.host.is_empty()).collect(),
            Err(e) => {
                tracing::warn!("ignoring {} ({e}): EdgeOne zones are confirmed with the API again", self.path.display());
                Vec::new()
            }
        }
    }

    fn save(&self, records: &[ZoneRecord]) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            super::ensure_dir(dir)?;
        }
        let bytes = serde_json::to_vec_pretty(&Contents { zones: records.to_vec() }).expect("zones serialise");
        super::write_atomic(&self.path, &bytes)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, zone: &str) -> ZoneRecord {
        ZoneRecord { host: host.into(), zone_id: zone.into(), zone_name: "example.com".into(), source: "lookup".into(), checked_unix: 1 }
    }

    #[test]
    fn round_trip_and_damage_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let f = ZoneFile::new(&tmp.path().join("state"));
        assert!(f.load().is_empty(), "no file yet");
        f.save(&[rec("www.example.com", "zone-abc1")]).unwrap();
        assert_eq!(f.load(), vec![rec("www.example.com", "zone-abc1")]);
        // A record a hand edit broke is dropped, the others kept.
        let text = std::fs::read_to_string(tmp.path().join("state").join(FILE)).unwrap().replace("zone-abc1", "zone-../x");
        std::fs::write(tmp.path().join("state").join(FILE), text).unwrap();
        assert!(f.load().is_empty());
        std::fs::write(tmp.path().join("state").join(FILE), b"{not json").unwrap();
        assert!(f.load().is_empty(), "a damaged cache is no cache");
    }
}
