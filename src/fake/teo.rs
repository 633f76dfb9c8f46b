//! EdgeOne (`teo`, version 2022-09-01) as the fake answers it: the TC3 signature with service
//! `teo` ([`super::v3::verify`]), 20 requests a second per action, the zones of
//! [`FakeConfig::zones`](super::FakeConfig) with their domains and their quotas per purge type,
//! and the actions cdnsync uses: CreatePurgeTask, CreatePrefetchTask (targets outside the zone
//! or named in [`FakeZone::refuse`] come back in `FailedList`; none of them outside: the request
//! is refused with `InvalidParameter.DomainNotFound`), DescribePurgeTasks / DescribePrefetchTasks
//! (ISO 8601 windows of at most 7 days or a `job-id` filter, the filters, paging),
//! DescribeContentQuota, DescribeZones and DescribeAccelerationDomains. Injected faults apply as
//! for the CDN API. Tasks are `processing` for `FakeConfig::task_duration`, then `success`.

use serde_json::{json, Map, Value};

use super::account::Account;
use super::http::HttpRequest;
use super::server::{Answer, Api};
use super::FakeCdn;
use crate::api::teo::{SERVICE, VERSION};
use crate::clock::{iso8601, parse_iso8601};
use crate::model::{Area, JobKind};

/// EdgeOne, for the router.
pub(super) const API: Api = Api { name: "teo", action, fault_body, handle };

/// A zone of the emulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeZone {
    /// `zone-…`.
    pub id: String,
    /// Its name, the apex (`example.com`).
    pub name: String,
    /// `AliasZoneName` (zones sharing a name differ by it).
    pub alias: String,
    /// Its acceleration domains (lower case).
    pub domains: Vec<String>,
    /// (type, batch, daily) for `purge_url`, `purge_prefix`, `purge_host`, `purge_all`, `prefetch_url`.
    pub quota: Vec<(String, u64, u64)>,
    /// Targets this zone names in `FailedList` although they are its own (`target not valid`).
    pub refuse: Vec<String>,
}

impl FakeZone {
    /// A zone with the quotas of the API's example (2,000 a call, 10,000 a day, every type).
    pub fn new(id: &str, name: &str, domains: &[&str]) -> Self {
        let quota = ["purge_url", "purge_prefix", "purge_host", "purge_all", "prefetch_url"]
            .iter()
            .map(|t| (t.to_string(), 2000, 10_000))
            .collect();
        FakeZone {
            id: id.into(),
            name: name.into(),
            alias: String::new(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            quota,
            refuse: Vec::new(),
        }
    }
}

/// An EdgeOne task: one target of one accepted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeoTask {
    /// The request's `JobId`.
    pub job_id: String,
    /// The zone.
    pub zone: String,
    /// `purge_url`, `purge_prefix`, `purge_host`, `purge_all` or `prefetch_url`.
    pub task_type: String,
    /// `invalidate` / `delete` as sent (purges), or empty.
    pub method: String,
    /// The target.
    pub target: String,
    /// When it was accepted (ms, the fake's clock).
    pub at_ms: i64,
}

/// Every EdgeOne task accepted so far.
#[derive(Debug, Default)]
pub(super) struct Tasks(pub Vec<TeoTask>);

/// The actions emulated, with the parameters each accepts (any other is `UnknownParameter`).
const ACTIONS: &[(&str, &[&str])] = &[
    ("CreatePurgeTask", &["ZoneId", "Type", "Method", "Targets", "EncodeUrl", "CacheTag"]),
    ("CreatePrefetchTask", &["ZoneId", "Targets", "Mode", "Headers", "PrefetchMediaSegments", "EncodeUrl"]),
    ("DescribePurgeTasks", &["ZoneId", "StartTime", "EndTime", "Offset", "Limit", "Filters"]),
    ("DescribePrefetchTasks", &["ZoneId", "StartTime", "EndTime", "Offset", "Limit", "Filters"]),
    ("DescribeContentQuota", &["ZoneId"]),
    ("DescribeZones", &["Offset", "Limit", "Filters", "Order", "Direction"]),
    ("DescribeAccelerationDomains", &["ZoneId", "Offset", "Limit", "Filters", "Order", "Direction", "Match"]),
];

/// A refusal: code, message, the request's size.
type Refusal = (String, String, usize);
type Outcome = Result<(Value, usize), Refusal>;

fn refuse(code: &str, message: impl Into<String>, size: usize) -> Refusal {
    (code.into(), message.into(), size)
}

fn action(req: &HttpRequest) -> String {
    req.headers.get("x-tc-action").cloned().unwrap_or_default()
}

fn fault_body(code: &str) -> String {
    super::v3::error_body(code, "injected fault", "fake-fault")
}

fn handle(acct: &mut Account, req: &HttpRequest, action: &str) -> Answer {
    let rid = acct.request_id();
    match answer(acct, req, action) {
        Ok((mut v, size)) => {
            v["RequestId"] = json!(rid);
            Answer { body: json!({"Response": v}).to_string(), outcome: "ok".into(), size }
        }
        Err((code, message, size)) => Answer { body: super::v3::error_body(&code, &message, &rid), outcome: code, size },
    }
}

fn answer(acct: &mut Account, req: &HttpRequest, action: &str) -> Outcome {
    super::v3::verify(acct, req, SERVICE, VERSION).map_err(|(code, message)| refuse(code, message, 0))?;
    if req.headers.contains_key("x-tc-region") {
        return Err(refuse("InvalidParameter", "EdgeOne's actions take no Region (X-TC-Region)", 0));
    }
    let rate = acct.cfg.rate_per_sec;
    if !acct.rate_ok(format!("teo/{action}"), 1000, rate) {
        return Err(refuse("RequestLimitExceeded", format!("more than {rate} requests a second"), 0));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return Err(refuse("InvalidParameter.ParameterError", "body must be a JSON object", 0));
    };
    let Some(&(_, allowed)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        return Err(refuse("InvalidAction", format!("cdnsync fake: no handler for {SERVICE} action {action:?}"), 0));
    };
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(refuse("UnknownParameter", format!("unknown parameter {k}"), 0));
    }
    match action {
        "CreatePurgeTask" | "CreatePrefetchTask" => create(acct, action, &body),
        "DescribePurgeTasks" | "DescribePrefetchTasks" => tasks(acct, action == "DescribePrefetchTasks", &body),
        "DescribeContentQuota" => content_quota(acct, &body),
        "DescribeZones" => zones(acct, &body),
        _ => domains(acct, &body),
    }
}

/// The zone named by `ZoneId`.
fn zone<'a>(acct: &'a Account, body: &Map<String, Value>) -> Result<&'a FakeZone, Refusal> {
    let Some(id) = body.get("ZoneId").and_then(Value::as_str) else {
        return Err(refuse("MissingParameter", "ZoneId is required", 0));
    };
    acct.cfg.zones.iter().find(|z| z.id == id).ok_or_else(|| refuse("InvalidParameter.ZoneNotFound", format!("no such zone: {id}"), 0))
}

/// `Offset` and `Limit` (default 20, at most `max`).
fn page(body: &Map<String, Value>, max: u64) -> Result<(usize, usize), Refusal> {
    let offset = body.get("Offset").map_or(Some(0), Value::as_u64);
    let limit = body.get("Limit").map_or(Some(20), Value::as_u64);
    match (offset, limit) {
        (Some(o), Some(l)) if l <= max => Ok((o as usize, l as usize)),
        _ => Err(refuse("InvalidParameter.ParameterError", format!("Offset and Limit must be whole numbers, Limit at most {max}"), 0)),
    }
}

/// `Filters` as (name, values), each name allowed.
fn filters(body: &Map<String, Value>, allowed: &[&str]) -> Result<Vec<(String, Vec<String>)>, Refusal> {
    let mut out = Vec::new();
    for f in body.get("Filters").and_then(Value::as_array).into_iter().flatten() {
        let name = f.get("Name").and_then(Value::as_str).unwrap_or("");
        let values: Option<Vec<String>> =
            f.get("Values").and_then(Value::as_array).map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect());
        match values {
            Some(v) if allowed.contains(&name) && !v.is_empty() && v.len() <= 20 => out.push((name.to_string(), v)),
            _ => return Err(refuse("InvalidParameter.ParameterError", format!("bad filter {f}"), 0)),
        }
    }
    Ok(out)
}

fn quota_of(acct: &Account, zone: &FakeZone, t: &str) -> (u64, u64, u64) {
    let (batch, daily) = zone.quota.iter().find(|(q, ..)| q == t).map_or((0, 0), |(_, b, d)| (*b, *d));
    (batch, daily, daily.saturating_sub(acct.used_key(&used_key(&zone.id, t))))
}

fn used_key(zone: &str, t: &str) -> String {
    format!("teo/{zone}/{t}")
}

fn host_of(target: &str) -> Option<String> {
    let rest = target.strip_prefix("https://").or_else(|| target.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest).to_ascii_lowercase())
}

/// CreatePurgeTask / CreatePrefetchTask: check the type, the targets' form, the batch and the
/// day's quota; put targets outside the zone (or refused by it) in `FailedList`; record the rest.
fn create(acct: &mut Account, action: &str, body: &Map<String, Value>) -> Outcome {
    let zone = zone(acct, body)?.clone();
    let prefetch = action == "CreatePrefetchTask";
    let task_type = if prefetch { "prefetch_url" } else { body.get("Type").and_then(Value::as_str).unwrap_or("") };
    if !["purge_url", "purge_prefix", "purge_host", "purge_all", "prefetch_url"].contains(&task_type) {
        return Err(refuse("InvalidParameter.ParameterError", format!("Type must be a purge type, not {task_type:?}"), 0));
    }
    let method = body.get("Method").and_then(Value::as_str).unwrap_or("");
    if !["", "invalidate", "delete"].contains(&method) {
        return Err(refuse("InvalidParameter.ParameterError", format!("Method must be invalidate or delete, not {method:?}"), 0));
    }
    let targets: Vec<String> =
        body.get("Targets").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect();
    let n = targets.len();
    if targets.is_empty() && task_type != "purge_all" {
        return Err(refuse("InvalidParameter.Target", "Targets must be a non-empty list of strings", 0));
    }
    for t in &targets {
        let ok = match task_type {
            "purge_host" => !t.contains(['/', '*', ':', ' ']) && t.contains('.'),
            _ => host_of(t).is_some() && !t.contains(' ') && t.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
        };
        if !ok {
            return Err(refuse("InvalidParameter.Target", format!("target not valid for {task_type}: {t}"), n));
        }
    }
    let (batch, _, available) = quota_of(acct, &zone, task_type);
    if n as u64 > batch {
        return Err(refuse("LimitExceeded.BatchQuota", format!("{n} targets exceed the batch limit of {batch}"), n));
    }
    let host = |t: &String| if task_type == "purge_host" { Some(t.to_ascii_lowercase()) } else { host_of(t) };
    let (inside, outside): (Vec<String>, Vec<String>) =
        targets.into_iter().partition(|t| host(t).is_some_and(|h| zone.domains.contains(&h)));
    if inside.is_empty() && !outside.is_empty() {
        return Err(refuse("InvalidParameter.DomainNotFound", format!("no domain of zone {} serves {}", zone.id, outside[0]), n));
    }
    let (refused, taken): (Vec<String>, Vec<String>) = inside.into_iter().partition(|t| zone.refuse.contains(t));
    if taken.len() as u64 > available {
        return Err(refuse("LimitExceeded.DailyQuota", format!("today's {task_type} quota of zone {} is used up", zone.id), n));
    }
    acct.charge(used_key(&zone.id, task_type), taken.len() as u64);
    let kind = match task_type {
        "purge_url" => JobKind::PurgeUrls,
        "prefetch_url" => JobKind::PrefetchUrls,
        _ => JobKind::PurgePaths,
    };
    let job_id = acct.accept("teo", action, kind, vec![Area::Global], taken.clone());
    let at_ms = acct.cfg.clock.now_ms();
    for t in taken {
        let method = if prefetch { String::new() } else { method.to_string() };
        acct.teo.0.push(TeoTask { job_id: job_id.clone(), zone: zone.id.clone(), task_type: task_type.into(), method, target: t, at_ms });
    }
    let mut failed = Vec::new();
    if !outside.is_empty() {
        failed.push(json!({"Reason": "domain not valid", "Targets": outside}));
    }
    if !refused.is_empty() {
        failed.push(json!({"Reason": "target not valid", "Targets": refused}));
    }
    // The API documents `FailedList` as possibly null: so it is, when empty.
    let failed = if failed.is_empty() { Value::Null } else { Value::Array(failed) };
    Ok((json!({"JobId": job_id, "FailedList": failed}), n))
}

/// Describe{Purge,Prefetch}Tasks: rows of the zone's tasks in a window (ISO 8601 with offset,
/// at most 7 days) or of one `job-id`, filtered, paged (Limit at most 1000).
fn tasks(acct: &Account, prefetch: bool, body: &Map<String, Value>) -> Outcome {
    let zone = zone(acct, body)?;
    let mut allowed = vec!["job-id", "target", "domains", "statuses"];
    if !prefetch {
        allowed.push("type");
    }
    let filters = filters(body, &allowed)?;
    let time = |k: &str| -> Result<Option<i64>, Refusal> {
        match body.get(k) {
            None => Ok(None),
            Some(v) => match v.as_str().and_then(parse_iso8601) {
                Some(t) => Ok(Some(t)),
                None => Err(refuse("InvalidParameter.ParameterError", format!("{k} must be ISO 8601 with an offset, not {v}"), 0)),
            },
        }
    };
    let (start, end) = (time("StartTime")?, time("EndTime")?);
    let by_job = filters.iter().any(|(n, _)| n == "job-id");
    match (start, end) {
        (Some(s), Some(e)) if e < s || e - s > 7 * 86_400 => {
            return Err(refuse("InvalidParameter.ParameterError", "EndTime must be within [StartTime, StartTime + 7 days]", 0));
        }
        (Some(_), Some(_)) => {}
        (None, None) if by_job => {}
        _ => return Err(refuse("InvalidParameter.ParameterError", "StartTime and EndTime, or a job-id filter, are required", 0)),
    }
    let (offset, limit) = page(body, 1000)?;
    let mut rows = Vec::new();
    for t in acct.teo.0.iter().filter(|t| t.zone == zone.id && (t.task_type == "prefetch_url") == prefetch) {
        let at = t.at_ms.div_euclid(1000);
        if start.is_some_and(|s| at < s) || end.is_some_and(|e| at > e) {
            continue;
        }
        let status = if acct.cfg.clock.now_ms() >= t.at_ms + acct.cfg.task_duration.as_millis() as i64 { "success" } else { "processing" };
        let host = host_of(&t.target).unwrap_or_else(|| t.target.clone());
        let pass = filters.iter().all(|(name, values)| match name.as_str() {
            "job-id" => values.contains(&t.job_id),
            "target" => values.contains(&t.target),
            "domains" => values.contains(&host),
            "statuses" => values.iter().any(|v| v == status),
            _ => values.contains(&t.task_type),
        });
        if pass {
            let created = iso8601(at, 0);
            rows.push(json!({"JobId": t.job_id, "Target": t.target, "Type": t.task_type, "Method": t.method, "Status": status,
                "CreateTime": created, "UpdateTime": created, "FailType": "", "FailMessage": ""}));
        }
    }
    let total = rows.len();
    Ok((json!({"TotalCount": total, "Tasks": rows.into_iter().skip(offset).take(limit).collect::<Vec<_>>()}), 0))
}

fn content_quota(acct: &Account, body: &Map<String, Value>) -> Outcome {
    let zone = zone(acct, body)?;
    let row = |t: &str| {
        let (batch, daily, available) = quota_of(acct, zone, t);
        json!({"Type": t, "Batch": batch, "Daily": daily, "DailyAvailable": available})
    };
    let purge: Vec<Value> = zone.quota.iter().filter(|(t, ..)| t != "prefetch_url").map(|(t, ..)| row(t)).collect();
    Ok((json!({"PurgeQuota": purge, "PrefetchQuota": [row("prefetch_url")]}), 0))
}

/// DescribeZones: filters `zone-name` and `zone-id` (exact), Limit at most 100.
fn zones(acct: &Account, body: &Map<String, Value>) -> Outcome {
    let filters = filters(body, &["zone-name", "zone-id", "alias-zone-name"])?;
    let (offset, limit) = page(body, 100)?;
    let rows: Vec<Value> = acct
        .cfg
        .zones
        .iter()
        .filter(|z| {
            filters.iter().all(|(n, v)| match n.as_str() {
                "zone-name" => v.contains(&z.name),
                "zone-id" => v.contains(&z.id),
                _ => v.contains(&z.alias),
            })
        })
        .map(|z| json!({"ZoneId": z.id, "ZoneName": z.name, "AliasZoneName": z.alias, "Area": "global", "Type": "partial", "Status": "active", "Paused": false}))
        .collect();
    Ok((json!({"TotalCount": rows.len(), "Zones": rows.into_iter().skip(offset).take(limit).collect::<Vec<_>>()}), 0))
}

/// DescribeAccelerationDomains: a zone's domains, filter `domain-name` (exact), Limit at most 200.
fn domains(acct: &Account, body: &Map<String, Value>) -> Outcome {
    let zone = zone(acct, body)?;
    let filters = filters(body, &["domain-name"])?;
    let (offset, limit) = page(body, 200)?;
    let rows: Vec<Value> = zone
        .domains
        .iter()
        .filter(|d| filters.iter().all(|(_, v)| v.contains(d)))
        .map(|d| json!({"ZoneId": zone.id, "DomainName": d, "DomainStatus": "online"}))
        .collect();
    Ok((json!({"TotalCount": rows.len(), "AccelerationDomains": rows.into_iter().skip(offset).take(limit).collect::<Vec<_>>()}), 0))
}

/// EdgeOne's side of a running fake.
impl FakeCdn {
    /// Every EdgeOne task (one per target) accepted so far.
    pub fn teo_tasks(&self) -> Vec<TeoTask> {
        self.st().account.teo.0.clone()
    }

    /// Make what is left today of `task_type` in `zone` exactly `available`.
    pub fn teo_set_available(&self, zone: &str, task_type: &str, available: u64) {
        let mut s = self.st();
        let daily = s
            .account
            .cfg
            .zones
            .iter()
            .find(|z| z.id == zone)
            .and_then(|z| z.quota.iter().find(|(t, ..)| t == task_type))
            .map_or(0, |q| q.2);
        s.account.set_used(used_key(zone, task_type), daily.saturating_sub(available));
    }

    /// Change the zones (their domains, what they refuse) while the fake runs.
    pub fn teo_edit_zones(&self, edit: impl FnOnce(&mut Vec<FakeZone>)) {
        edit(&mut self.st().account.cfg.zones);
    }
}
