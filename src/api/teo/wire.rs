//! EdgeOne's wire formats, pure: request bodies (field order as the SDK writes them, so the bytes
//! signed are the bytes the vectors sign), the envelope with EdgeOne's error classes, and the
//! parts of answers cdnsync reads (`JobId`, `FailedList`, quotas, task rows, zones).

use serde::Serialize;
use serde_json::Value;

use super::super::{ApiError, Class, Failure, Rejected};
use crate::config::PurgeMethod;
use crate::model::{Api, Job, JobKind, QuotaEntry};

/// How a job goes out: the action, the body, and each target sent with the job URL(s) it stands
/// for (a `purge_host` target is a bare host standing for the domain's root URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// `CreatePurgeTask` or `CreatePrefetchTask`.
    pub action: &'static str,
    /// The purge type (`purge_url`, `purge_prefix`, `purge_host`), or `prefetch_url`.
    pub task_type: &'static str,
    /// The JSON body.
    pub body: Vec<u8>,
    /// (target sent, the job URLs it carries).
    pub targets: Vec<(String, Vec<String>)>,
}

/// One `Filters` entry of the Describe* actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// `job-id`, `target`, `type`, `zone-name`, `domain-name`, …
    pub name: String,
    /// Exact values.
    pub values: Vec<String>,
}

impl Filter {
    /// `name` with one value.
    pub fn one(name: &str, value: &str) -> Self {
        Filter { name: name.into(), values: vec![value.into()] }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PurgeBody<'a> {
    zone_id: &'a str,
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    targets: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PrefetchBody<'a> {
    zone_id: &'a str,
    targets: Vec<&'a str>,
}

/// A DescribePurgeTasks / DescribePrefetchTasks body: a window (ISO 8601 with offset) and/or a
/// `job-id` filter, one page.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TasksQuery {
    /// The zone.
    pub zone_id: String,
    /// Window start, `2025-12-31T00:00:00+08:00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Window end, at most 7 days after the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows a page (at most 1000).
    pub limit: u64,
    /// Filters.
    pub filters: Vec<Filter>,
}

/// The body of a DescribeZones or DescribeAccelerationDomains page.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQuery {
    /// DescribeAccelerationDomains only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows a page.
    pub limit: u64,
    /// Filters.
    pub filters: Vec<Filter>,
}

/// The action of a job.
pub fn action(kind: JobKind) -> &'static str {
    match kind {
        JobKind::PurgeUrls | JobKind::PurgePaths => "CreatePurgeTask",
        JobKind::PrefetchUrls => "CreatePrefetchTask",
    }
}

/// `(host, is the root)` of a full URL: the root is the path `/` with no query (a whole-host purge).
pub fn host_and_root(url: &str) -> Option<(String, bool)> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some((host, u.path() == "/" && u.query().is_none() && url.ends_with('/')))
}

/// The purge (or prefetch) type a job is sent as: URL purges `purge_url`, directory purges
/// `purge_prefix`, except that a directory job whose every URL is a domain's root (`sync --all`
/// collapses a site at `/` to that) is `purge_host` with the bare host — never `purge_all`, which
/// would purge every domain of the zone.
pub fn task_type(job: &Job) -> &'static str {
    match job.kind {
        JobKind::PurgeUrls => "purge_url",
        JobKind::PurgePaths if !job.urls.is_empty() && job.urls.iter().all(|u| host_and_root(u).is_some_and(|(_, root)| root)) => {
            "purge_host"
        }
        JobKind::PurgePaths => "purge_prefix",
        JobKind::PrefetchUrls => "prefetch_url",
    }
}

/// The targets of a job as sent, each with the job URLs it carries.
pub fn targets(job: &Job) -> Vec<(String, Vec<String>)> {
    if task_type(job) != "purge_host" {
        return job.urls.iter().map(|u| (u.clone(), vec![u.clone()])).collect();
    }
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for u in &job.urls {
        let host = host_and_root(u).map(|(h, _)| h).unwrap_or_default();
        match out.iter_mut().find(|(h, _)| *h == host) {
            Some((_, urls)) => urls.push(u.clone()),
            None => out.push((host, vec![u.clone()])),
        }
    }
    out
}

/// The request for `job` in `zone_id`. `Method` is sent for directory and host purges, where
/// EdgeOne honours it; URL purges and prefetches carry none. `EncodeUrl` (deprecated) is never
/// sent: URLs go out percent-encoded, as browsers request them.
pub fn outgoing(job: &Job, zone_id: &str, method: PurgeMethod) -> Outgoing {
    let task_type = task_type(job);
    let targets = targets(job);
    let list: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
    let body = match job.kind {
        JobKind::PrefetchUrls => serde_json::to_vec(&PrefetchBody { zone_id, targets: list }),
        _ => serde_json::to_vec(&PurgeBody {
            zone_id,
            kind: task_type,
            method: (task_type != "purge_url").then_some(method.as_str()),
            targets: list,
        }),
    }
    .expect("JSON serialises");
    Outgoing { action: action(job.kind), task_type, body, targets }
}

/// EdgeOne's error classes (its API documents, per action): transient, quota, permanent. A code
/// it does not document is permanent, and shown as the API sent it.
pub fn classify(code: &str) -> Class {
    match code {
        c if c == "InternalError" || c.starts_with("InternalError.") => Class::Transient,
        // "unknown backend error", by its description.
        "UnauthorizedOperation.Unknown" => Class::Transient,
        c if c == "RequestLimitExceeded" || c.starts_with("RequestLimitExceeded.") => Class::Throttled,
        "LimitExceeded.RateLimitExceeded" => Class::Throttled,
        "LimitExceeded.BatchQuota" => Class::BatchTooLarge,
        "LimitExceeded.DailyQuota" => Class::QuotaExhausted,
        // PackNotAllow (the plan lacks this purge type), AuthFailure.*, InvalidParameter.*,
        // UnauthorizedOperation.*, OperationDenied, ResourceNotFound.* and anything unknown.
        _ => Class::Permanent,
    }
}

/// Unwrap `{"Response": …}` as API 3.0 does, with errors classified as EdgeOne's.
pub fn parse_envelope(status: u16, body: &[u8]) -> Result<Value, Failure> {
    super::super::v3::parse_envelope(status, body).map_err(|f| match f {
        Failure::Api(mut e) => {
            e.api = Api::EdgeOne;
            if e.code == "LimitExceeded.PackNotAllow" {
                e.message.push_str(
                    " (the zone's plan does not include this purge type: directory and whole-host purges can be avoided \
                     with [limits] collapse = \"never\")",
                );
            }
            Failure::Api(e)
        }
        other => other,
    })
}

/// A refusal of cdnsync's own about EdgeOne (no request was sent): permanent, with `code`.
pub fn refusal(code: &str, message: String) -> Failure {
    Failure::Api(ApiError { code: code.into(), message, request_id: None, code_desc: None, api: Api::EdgeOne })
}

/// Read a create answer's `FailedList` (null or absent: none) against the targets sent: the
/// job URLs refused, with the API's reason. A list that is not a list, an entry whose `Targets`
/// cannot be read, or a target that was never sent cannot be matched to URLs: then every URL of
/// the job counts as refused, so that nothing is taken as accepted on a guess.
pub fn failed_list(resp: &Value, sent: &[(String, Vec<String>)]) -> Vec<Rejected> {
    let all = |why: String| vec![Rejected { reason: why, urls: sent.iter().flat_map(|(_, u)| u.iter().cloned()).collect() }];
    let entries = match resp.get("FailedList") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => return all(format!("unreadable FailedList: {}", other.to_string().chars().take(200).collect::<String>())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let reason = entry.get("Reason").and_then(Value::as_str).unwrap_or("no reason given").to_string();
        let named: Option<Vec<&str>> = entry.get("Targets").and_then(Value::as_array).and_then(|t| t.iter().map(Value::as_str).collect());
        let Some(named) = named else {
            return all(format!("{reason} (targets not readable)"));
        };
        let mut urls = Vec::new();
        for t in &named {
            match sent.iter().find(|(s, _)| s == t) {
                Some((_, u)) => urls.extend(u.iter().cloned()),
                None => return all(format!("{reason} (for {t}, which was not sent as such)")),
            }
        }
        if !urls.is_empty() {
            out.push(Rejected { reason, urls });
        }
    }
    out
}

/// DescribeContentQuota's `PurgeQuota` and `PrefetchQuota`: (type, entry) for each row.
pub fn quota_rows(resp: &Value) -> Vec<(String, QuotaEntry)> {
    let mut out = Vec::new();
    for list in ["PurgeQuota", "PrefetchQuota"] {
        for row in resp.get(list).and_then(Value::as_array).into_iter().flatten() {
            let Some(t) = row.get("Type").and_then(Value::as_str) else { continue };
            let n = |k: &str| row.get(k).and_then(Value::as_i64).unwrap_or(0).max(0) as u64;
            out.push((t.to_string(), QuotaEntry { batch: n("Batch"), total: n("Daily"), available: n("DailyAvailable") }));
        }
    }
    out
}

/// One row of Describe{Purge,Prefetch}Tasks (one target of one task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    /// The task (`JobId`).
    pub job_id: String,
    /// The target as sent.
    pub target: String,
    /// `purge_url`, …, `prefetch_url`.
    pub task_type: String,
    /// `processing`, `success`, `failed`, `timeout`, `canceled`, `invalid`.
    pub status: String,
    /// `CreateTime`, when readable.
    pub created_unix: Option<i64>,
}

/// The `Tasks` of a Describe*Tasks page, and its `TotalCount`.
pub fn task_rows(resp: &Value) -> (Vec<TaskRow>, u64) {
    let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let rows = resp
        .get("Tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| TaskRow {
            job_id: s(r, "JobId"),
            target: s(r, "Target"),
            task_type: s(r, "Type"),
            status: s(r, "Status"),
            created_unix: r.get("CreateTime").and_then(Value::as_str).and_then(crate::clock::parse_iso8601),
        })
        .collect();
    (rows, resp.get("TotalCount").and_then(Value::as_u64).unwrap_or(0))
}

/// A zone as DescribeZones lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRow {
    /// `zone-…`.
    pub zone_id: String,
    /// The apex, `example.com`.
    pub zone_name: String,
    /// Tells apart zones sharing a name.
    pub alias: String,
    /// `active`, `pending`, …
    pub status: String,
}

/// The `Zones` of a DescribeZones page, and its `TotalCount`.
pub fn zone_rows(resp: &Value) -> (Vec<ZoneRow>, u64) {
    let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let rows = resp
        .get("Zones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| ZoneRow {
            zone_id: s(r, "ZoneId"),
            zone_name: s(r, "ZoneName").to_ascii_lowercase(),
            alias: s(r, "AliasZoneName"),
            status: s(r, "Status"),
        })
        .collect();
    (rows, resp.get("TotalCount").and_then(Value::as_u64).unwrap_or(0))
}

/// The host names of a DescribeAccelerationDomains page, and its `TotalCount`.
pub fn domain_names(resp: &Value) -> (Vec<String>, u64) {
    let names = resp
        .get("AccelerationDomains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("DomainName").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    (names, resp.get("TotalCount").and_then(Value::as_u64).unwrap_or(0))
}

/// A filter takes at most this many values.
pub const MAX_FILTER_VALUES: usize = 20;

/// The host and its parent domains with at least two labels, longest first: the zone names that
/// could serve it (`www.a.example.com` → itself, `a.example.com`, `example.com`); the shortest
/// [`MAX_FILTER_VALUES`] of them for a host of more labels.
pub fn zone_name_candidates(host: &str) -> Vec<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len().saturating_sub(1);
    (n.saturating_sub(MAX_FILTER_VALUES)..n).map(|i| labels[i..].join(".")).collect()
}

/// Is `host` `zone_name` or under it?
pub fn under(host: &str, zone_name: &str) -> bool {
    !zone_name.is_empty() && (host == zone_name || host.strip_suffix(zone_name).is_some_and(|r| r.ends_with('.')))
}
