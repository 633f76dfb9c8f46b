//! EdgeOne (`teo.tencentcloudapi.com`, or `teo.intl.tencentcloudapi.com` for the international
//! site; version 2022-09-01; TC3-HMAC-SHA256 with service `teo`): a [`CdnApi`] client.
//!
//! Jobs map to CreatePurgeTask (`purge_url`, `purge_prefix`, or `purge_host` for a whole domain,
//! never `purge_all`) and CreatePrefetchTask, in the zone serving the job's host ([`zones`]).
//! EdgeOne calls take no area: every job carries [`Area::Global`].
//! Quotas are per zone and purge type (DescribeContentQuota); the engine's book, keyed by kind
//! and area, gets for each kind the smallest of the zones' figures (`docs/config.md`, `api`),
//! and each zone's own rows under `zone-…/type`. Files: [`wire`] (bodies and answers, pure),
//! [`zones`] (host → zone), [`tasks`] (task state and lookup).

pub mod tasks;
pub mod wire;
pub mod zones;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};

use super::http::Transport;
use super::v3::V3Client;
use super::{Accepted, CdnApi, Class, Failure, TaskState};
use crate::clock::Clock;
use crate::config::{Config, PurgeMethod};
use crate::credentials::SharedProvider;
use crate::model::{Api, Area, Job, JobKind, QuotaBook, QuotaEntry};
pub use wire::{action, classify};
pub use zones::{ZoneCache, ZoneRecord};

/// `X-TC-Version` of EdgeOne (2022-09-01; the older 2022-01-06 has other field names).
pub const VERSION: &str = "2022-09-01";
/// Service name in the credential scope.
pub const SERVICE: &str = "teo";

/// What the client needs of each configured domain.
#[derive(Clone, Debug)]
struct Domain {
    host: String,
    zone_id: Option<String>,
    method: PurgeMethod,
}

/// An EdgeOne client.
pub struct TeoClient {
    /// Signs and sends (TC3 with service `teo`; the CDN client's transport and credentials).
    tc3: V3Client,
    clock: Arc<dyn Clock>,
    domains: Vec<Domain>,
    cache: Box<dyn ZoneCache>,
    /// Hosts whose zone this process knows.
    resolved: Mutex<HashMap<String, ZoneRecord>>,
    /// One zone resolution at a time (jobs of one host in parallel look it up once).
    resolving: tokio::sync::Mutex<()>,
    notes: Mutex<Vec<String>>,
}

impl TeoClient {
    /// A client for `cfg` (its endpoint, its domains' zones and methods), remembering zones in `cache`.
    pub fn new(
        transport: Transport,
        cfg: &Config,
        credentials: impl Into<SharedProvider>,
        clock: Arc<dyn Clock>,
        cache: Box<dyn ZoneCache>,
    ) -> Self {
        // EdgeOne's actions take no Region: the CDN client is built without it.
        let mut signer_cfg = cfg.clone();
        signer_cfg.provider.region = None;
        let tc3 = V3Client::new(transport, &signer_cfg, credentials, clock.clone());
        let domains = cfg.domains.iter().map(|d| Domain { host: d.host.clone(), zone_id: d.zone_id.clone(), method: d.method }).collect();
        TeoClient {
            tc3,
            clock,
            domains,
            cache,
            resolved: Mutex::default(),
            resolving: tokio::sync::Mutex::new(()),
            notes: Mutex::default(),
        }
    }

    /// Sign and send one action with `body` (serialised in its fields' order); the `Response`.
    pub async fn call(&self, action: &str, body: &impl Serialize) -> Result<Value, Failure> {
        let payload = serde_json::to_vec(body).expect("JSON serialises");
        self.tc3.call_tc3(SERVICE, VERSION, action, payload, wire::parse_envelope).await
    }

    fn note(&self, n: String) {
        tracing::info!("{n}");
        let mut notes = self.notes.lock().expect("notes");
        if !notes.contains(&n) {
            notes.push(n);
        }
    }

    fn method(&self, host: &str) -> PurgeMethod {
        self.domains.iter().find(|d| d.host.eq_ignore_ascii_case(host)).map_or(PurgeMethod::Invalidate, |d| d.method)
    }

    /// Every zone serving a configured host, each once; hosts refused are told in a note.
    async fn zones(&self) -> Result<Vec<String>, Failure> {
        let mut zones: Vec<String> = Vec::new();
        for d in &self.domains {
            match self.zone_for(&d.host).await {
                Ok(z) if !zones.contains(&z) => zones.push(z),
                Ok(_) => {}
                Err(f) if f.class() == Class::Permanent => {
                    let why = format!("{}: no EdgeOne quota read: {}: {}", d.host, f.to_job_error().code, f.to_job_error().message);
                    tracing::warn!("{why}");
                    self.note(why);
                }
                Err(f) => return Err(f),
            }
        }
        Ok(zones)
    }
}

/// The engine's book from each zone's DescribeContentQuota rows: per kind (in [`Area::Global`])
/// the smallest batch, daily total and remainder over the zones (a directory job may go out as
/// `purge_prefix` or `purge_host`, so both count for `purge_paths`), and every zone's own rows
/// under `zone-…/type`. A kind no zone reported keeps its documented figures.
pub fn book_of(per_zone: &[(String, Vec<(String, QuotaEntry)>)]) -> QuotaBook {
    let mut book = QuotaBook::documented(Api::EdgeOne, false);
    let mut least: BTreeMap<JobKind, QuotaEntry> = BTreeMap::new();
    for (zone, rows) in per_zone {
        for (t, e) in rows {
            book.entries.insert(format!("{zone}/{t}"), *e);
            let kind = match t.as_str() {
                "purge_url" => JobKind::PurgeUrls,
                "purge_prefix" | "purge_host" => JobKind::PurgePaths,
                "prefetch_url" => JobKind::PrefetchUrls,
                _ => continue,
            };
            let l = least.entry(kind).or_insert(*e);
            *l = QuotaEntry { batch: l.batch.min(e.batch), total: l.total.min(e.total), available: l.available.min(e.available) };
        }
    }
    for (kind, e) in least {
        book.set(kind, Area::Global, e);
    }
    book
}

impl CdnApi for TeoClient {
    fn action(&self, kind: JobKind, _area: Area) -> &'static str {
        action(kind)
    }

    async fn submit(&self, job: &Job) -> Result<Accepted, Failure> {
        // A zone lookup that failed in transit sent no create: never an ambiguous create.
        let zone = self.zone_for(&job.host).await.map_err(|f| match f {
            Failure::Transport { message, .. } => Failure::Transport { message, maybe_sent: false },
            Failure::Decode { message } => Failure::Transport { message: format!("zone lookup: {message}"), maybe_sent: false },
            other => other,
        })?;
        let out = wire::outgoing(job, &zone, self.method(&job.host));
        let payload = out.body.clone();
        let sent = self.tc3.call_tc3(SERVICE, VERSION, out.action, payload, wire::parse_envelope).await;
        let resp = match sent {
            Ok(r) => r,
            Err(Failure::Api(e)) if e.code == "InvalidParameter.DomainNotFound" || e.code.starts_with("ResourceNotFound") => {
                // The zone no longer takes this host: confirm it again before the next request.
                self.forget(&job.host);
                return Err(Failure::Api(e));
            }
            Err(f) => return Err(f),
        };
        let rejected = wire::failed_list(&resp, &out.targets);
        if rejected.iter().map(|r| r.urls.len()).sum::<usize>() >= job.urls.len() {
            self.forget(&job.host);
        }
        let task_id = resp.get("JobId").and_then(Value::as_str).map(str::to_string);
        Ok(Accepted { task_id, rejected })
    }

    async fn quota(&self) -> Result<Option<QuotaBook>, Failure> {
        let mut per_zone = Vec::new();
        for zone in self.zones().await? {
            let resp = self.call("DescribeContentQuota", &json!({ "ZoneId": zone })).await?;
            per_zone.push((zone, wire::quota_rows(&resp)));
        }
        let mut book = book_of(&per_zone);
        book.read_unix = (!per_zone.is_empty()).then(|| self.clock.now_unix());
        Ok(Some(book))
    }

    async fn task_state(&self, job: &Job) -> Result<Option<TaskState>, Failure> {
        self.state(job).await
    }

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, Failure> {
        self.find(job, since_unix).await
    }

    fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("notes"))
    }

    fn lookup_permission(&self, kind: JobKind) -> Option<&'static str> {
        Some(if kind == JobKind::PrefetchUrls { "teo:DescribePrefetchTasks" } else { "teo:DescribePurgeTasks" })
    }
}

#[cfg(test)]
mod tests;
