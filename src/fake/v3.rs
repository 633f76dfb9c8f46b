//! CDN API 3.0 (`cdn.tencentcloudapi.com`, version 2018-06-06) as the fake answers it: verify the
//! TC3-HMAC-SHA256 signature, apply the rate limit, check the parameters, then one function per
//! action family: [`submit`] (PurgeUrlsCache, PurgePathCache, PushUrlsCache), [`quota`]
//! (Describe*Quota) and [`tasks`] (Describe*Tasks).
//!
//! [`verify`] and [`error_body`] take the service and version as arguments so that the other TC3
//! products (EdgeOne `teo`, STS) can reuse them.

use serde_json::{json, Map, Value};

use super::account::{Account, MAX_CLOCK_SKEW_SECS, V3_TASK_PAGE};
use super::http::HttpRequest;
use super::server::{Answer, Api};
use super::sts::{check, TokenCheck};
use crate::api::sign::tc3;
use crate::api::v3::{SERVICE, VERSION};
use crate::clock;
use crate::model::{Area, JobKind, QuotaEntry};

/// The CDN API 3.0, for the router.
pub(super) const API: Api = Api { name: "v3", action, fault_body, handle };

/// What an action does, and so which function answers it.
#[derive(Clone, Copy)]
enum Family {
    /// Submit a job of this kind.
    Submit(JobKind),
    /// Report the quota: `UrlPurge` and `PathPurge`, or `UrlPush` when `push`.
    Quota { push: bool },
    /// List the tasks of purges, or of prefetches when `push`.
    Tasks { push: bool },
}

/// The actions emulated, with the parameters each accepts (any other is `UnknownParameter`).
const ACTIONS: &[(&str, Family, &[&str])] = &[
    ("PurgeUrlsCache", Family::Submit(JobKind::PurgeUrls), &["Urls", "Area", "UrlEncode"]),
    ("PurgePathCache", Family::Submit(JobKind::PurgePaths), &["Paths", "FlushType", "Area", "UrlEncode"]),
    (
        "PushUrlsCache",
        Family::Submit(JobKind::PrefetchUrls),
        &["Urls", "Area", "Layer", "UserAgent", "Headers", "ParseM3U8", "UrlEncode", "DisableRange"],
    ),
    ("DescribePurgeQuota", Family::Quota { push: false }, &[]),
    ("DescribePushQuota", Family::Quota { push: true }, &[]),
    (
        "DescribePurgeTasks",
        Family::Tasks { push: false },
        &["TaskId", "StartTime", "EndTime", "PurgeType", "Keyword", "Status", "Area", "Offset", "Limit"],
    ),
    (
        "DescribePushTasks",
        Family::Tasks { push: true },
        &["TaskId", "StartTime", "EndTime", "Keyword", "Status", "Area", "Offset", "Limit"],
    ),
];

/// A refused request: its error code and message, and how many URLs or paths it carried.
struct Refusal {
    code: String,
    message: String,
    size: usize,
}

fn refuse(code: &str, message: impl Into<String>, size: usize) -> Refusal {
    Refusal { code: code.to_string(), message: message.into(), size }
}

/// The fields of `Response` (without `RequestId`) and the request's size, or why it was refused.
type Outcome = Result<(Value, usize), Refusal>;

fn action(req: &HttpRequest) -> String {
    req.headers.get("x-tc-action").cloned().unwrap_or_default()
}

fn fault_body(code: &str) -> String {
    error_body(code, "injected fault", "fake-fault")
}

/// The API 3.0 error envelope.
pub(super) fn error_body(code: &str, message: &str, request_id: &str) -> String {
    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}).to_string()
}

fn handle(acct: &mut Account, req: &HttpRequest, action: &str) -> Answer {
    let rid = acct.request_id();
    match answer(acct, req, action) {
        Ok((mut v, size)) => {
            v["RequestId"] = json!(rid);
            Answer { body: json!({"Response": v}).to_string(), outcome: "ok".into(), size }
        }
        Err(r) => Answer { body: error_body(&r.code, &r.message, &rid), outcome: r.code, size: r.size },
    }
}

fn answer(acct: &mut Account, req: &HttpRequest, action: &str) -> Outcome {
    verify(acct, req, SERVICE, VERSION).map_err(|(code, message)| refuse(code, message, 0))?;
    if acct.cfg.denied_actions.iter().any(|a| a == action) {
        return Err(refuse("UnauthorizedOperation.CdnCamUnauthorized", format!("this key is not allowed cdn:{action} (CAM)"), 0));
    }
    let rate = acct.cfg.rate_per_sec;
    if !acct.rate_ok(format!("v3/{action}"), 1000, rate) {
        return Err(refuse("RequestLimitExceeded", format!("more than {rate} requests a second"), 0));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return Err(refuse("InvalidParameter", "body must be a JSON object", 0));
    };
    let Some(&(_, family, allowed)) = ACTIONS.iter().find(|(name, _, _)| *name == action) else {
        return Err(refuse("InvalidAction", format!("cdnsync fake: no handler for {SERVICE} action {action:?}"), 0));
    };
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(refuse("UnknownParameter", format!("unknown parameter {k}"), 0));
    }
    match family {
        Family::Submit(kind) => submit(acct, action, kind, &body),
        Family::Quota { push } => Ok((quota(acct, push), 0)),
        Family::Tasks { push } => tasks(acct, push, &body),
    }
}

/// Check a TC3 request for `service` at `version`: POST of JSON, the version, a timestamp within
/// five minutes, the SecretId, the credential scope, the signature and (when the account has one)
/// the session token. `Err` holds the API 3.0 error code and message.
pub(super) fn verify(acct: &Account, req: &HttpRequest, service: &str, version: &str) -> Result<(), (&'static str, String)> {
    let e = |code, message: &str| Err((code, message.to_string()));
    if req.method != "POST" {
        return e("InvalidParameter", "only POST is emulated");
    }
    let ct = req.headers.get("content-type").cloned().unwrap_or_default();
    if !ct.starts_with("application/json") {
        return e("InvalidParameter", "Content-Type must be application/json");
    }
    let host = req.headers.get("host").cloned().unwrap_or_default();
    if req.headers.get("x-tc-version").map(String::as_str) != Some(version) {
        return e("InvalidParameter", &format!("X-TC-Version must be {version}"));
    }
    let Some(ts) = req.headers.get("x-tc-timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return e("MissingParameter", "X-TC-Timestamp is required");
    };
    if (acct.cfg.clock.now_unix() - ts).abs() > MAX_CLOCK_SKEW_SECS {
        return e("AuthFailure.SignatureExpire", "the request timestamp is more than 5 minutes off the server's clock");
    }
    let Some(auth) = req.headers.get("authorization").and_then(|a| tc3::parse_authorization(a)) else {
        return e("AuthFailure.InvalidAuthorization", "Authorization header is not TC3-HMAC-SHA256");
    };
    // The account's own keys, or temporary ones a fake STS or metadata service issued.
    let temporary = if auth.secret_id == acct.cfg.secret_id { None } else { acct.temporary(auth.secret_id) };
    if auth.secret_id != acct.cfg.secret_id && temporary.is_none() {
        return e("AuthFailure.SecretIdNotFound", "unknown SecretId");
    }
    let key = temporary.as_ref().map_or(acct.cfg.secret_key.as_str(), |t| t.secret_key.as_str());
    if auth.service != service || auth.date != tc3::scope_date(ts) || auth.signed_headers != "content-type;host" {
        return e("AuthFailure.InvalidAuthorization", "credential scope or signed headers are wrong");
    }
    let canonical =
        tc3::canonical_request(&tc3::Tc3Request { method: "POST", query: "", content_type: &ct, host: &host, payload: &req.body });
    let sts = tc3::string_to_sign(&canonical, ts, service);
    if tc3::signature(key, ts, service, &sts) != auth.signature {
        return e("AuthFailure.SignatureFailure", "the signature does not match");
    }
    if let Some(t) = temporary.clone() {
        let token = req.headers.get("x-tc-token").map_or("", String::as_str);
        return match check(&[t], auth.secret_id, key, token, acct.cfg.clock.now_unix()) {
            TokenCheck::Valid => Ok(()),
            TokenCheck::Expired => e("AuthFailure.TokenFailure", "the temporary credentials have expired"),
            TokenCheck::Unknown => e("AuthFailure.TokenFailure", "the session token is missing or wrong"),
        };
    }
    if let Some(t) = &acct.cfg.token {
        if req.headers.get("x-tc-token") != Some(t) {
            return e("AuthFailure.TokenFailure", "the session token is missing or wrong");
        }
    }
    Ok(())
}

/// PurgeUrlsCache, PurgePathCache, PushUrlsCache: check the list, the areas, the batch limit and
/// the day's quota, then accept the job.
fn submit(acct: &mut Account, action: &str, kind: JobKind, body: &Map<String, Value>) -> Outcome {
    let field = if kind == JobKind::PurgePaths { "Paths" } else { "Urls" };
    let Some(list) = body.get(field).and_then(Value::as_array) else {
        return Err(refuse("MissingParameter", format!("{field} is required"), 0));
    };
    let urls: Option<Vec<String>> = list.iter().map(|v| v.as_str().map(str::to_string)).collect();
    let Some(urls) = urls.filter(|u| !u.is_empty()) else {
        return Err(refuse("InvalidParameter.CdnParamError", format!("{field} must be a non-empty list of strings"), list.len()));
    };
    let n = urls.len();
    let area = match body.get("Area") {
        None => None,
        Some(Value::String(a)) if kind == JobKind::PrefetchUrls && a == "global" => None,
        Some(Value::String(a)) => match Area::parse(a) {
            Some(a) => Some(a),
            None => return Err(refuse("InvalidParameter.CdnParamError", format!("Area must be mainland or overseas, not {a:?}"), n)),
        },
        Some(_) => return Err(refuse("InvalidParameter.CdnParamError", "Area must be a string", n)),
    };
    if kind == JobKind::PurgePaths {
        match body.get("FlushType").and_then(Value::as_str) {
            Some("flush") | Some("delete") => {}
            _ => return Err(refuse("InvalidParameter.CdnParamError", "FlushType must be flush or delete", n)),
        }
    }
    let areas = acct.check_urls(&urls, area, kind == JobKind::PurgePaths).map_err(|r| refuse(r.code, r.message, n))?;
    for a in &areas {
        let batch = acct.batch(kind, *a);
        if n as u64 > batch {
            let code = match kind {
                JobKind::PurgeUrls => "LimitExceeded.CdnPurgeUrlExceedBatchLimit",
                JobKind::PurgePaths => "LimitExceeded.CdnPurgePathExceedBatchLimit",
                JobKind::PrefetchUrls => "LimitExceeded.CdnPushExceedBatchLimit",
            };
            return Err(refuse(code, format!("{n} exceeds the batch limit of {batch}"), n));
        }
        if n as u64 > acct.available(kind, *a) {
            let code = match kind {
                JobKind::PurgeUrls => "LimitExceeded.CdnPurgeUrlExceedDayLimit",
                JobKind::PurgePaths => "LimitExceeded.CdnPurgePathExceedDayLimit",
                JobKind::PrefetchUrls => "LimitExceeded.CdnPushExceedDayLimit",
            };
            return Err(refuse(code, format!("daily quota for {a} used up"), n));
        }
    }
    let task_id = acct.accept("v3", action, kind, areas, urls);
    Ok((json!({"TaskId": task_id}), n))
}

/// DescribePurgeQuota (`UrlPurge`, `PathPurge`) or DescribePushQuota (`UrlPush`): batch, daily
/// total and what is left, per area.
fn quota(acct: &Account, push: bool) -> Value {
    let entries = |kind: JobKind| -> Vec<Value> {
        Area::ALL
            .iter()
            .filter_map(|a| {
                let q: QuotaEntry = acct.cfg.quota.get(kind, *a)?;
                Some(json!({"Batch": q.batch, "Total": q.total, "Available": acct.available(kind, *a), "Area": a.as_str()}))
            })
            .collect()
    };
    if push {
        json!({"UrlPush": entries(JobKind::PrefetchUrls)})
    } else {
        json!({"UrlPurge": entries(JobKind::PurgeUrls), "PathPurge": entries(JobKind::PurgePaths)})
    }
}

/// DescribePurgeTasks / DescribePushTasks: one log entry per URL of the accepted jobs that match
/// the filters (TaskId, or a StartTime–EndTime window in UTC+8; PurgeType, Keyword, Area), paged
/// by Offset and Limit.
fn tasks(acct: &Account, push: bool, body: &Map<String, Value>) -> Outcome {
    let task = body.get("TaskId").and_then(Value::as_str);
    let time = |k: &str| body.get(k).and_then(Value::as_str).and_then(|t| clock::parse_datetime(t, clock::CST_OFFSET_SECS));
    let (start, end) = (time("StartTime"), time("EndTime"));
    if task.is_none() && (start.is_none() || end.is_none()) {
        return Err(refuse("InvalidParameter.CdnParamError", "TaskId or StartTime and EndTime (YYYY-MM-DD hh:mm:ss) are required", 0));
    }
    let purge_type = body.get("PurgeType").and_then(Value::as_str);
    let keyword = body.get("Keyword").and_then(Value::as_str);
    let area = match body.get("Area").and_then(Value::as_str) {
        None => None,
        Some(a) => match Area::parse(a) {
            Some(a) => Some(a),
            None => return Err(refuse("InvalidParameter.CdnParamError", format!("Area must be mainland or overseas, not {a:?}"), 0)),
        },
    };
    let offset = body.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = body.get("Limit").and_then(Value::as_u64).map_or(V3_TASK_PAGE, |l| l as usize);
    let mut logs = Vec::new();
    for a in &acct.accepted {
        if (a.kind == JobKind::PrefetchUrls) != push {
            continue;
        }
        let a_type = if a.kind == JobKind::PurgePaths { "path" } else { "url" };
        if purge_type.is_some_and(|pt| pt != a_type) {
            continue;
        }
        if task.is_some_and(|t| t != a.task_id) || area.is_some_and(|want| !a.areas.contains(&want)) {
            continue;
        }
        let at = a.at_ms.div_euclid(1000);
        if start.is_some_and(|st| at < st) || end.is_some_and(|en| at > en) {
            continue;
        }
        for u in a.urls.iter().filter(|u| keyword.is_none_or(|k| u.contains(k))) {
            let created = clock::datetime(at, clock::CST_OFFSET_SECS);
            let status = acct.task_status(a);
            logs.push(if push {
                json!({"TaskId": a.task_id, "Url": u, "Status": status, "Percent": if status == "done" {100} else {0}, "Area": a.areas.first().map(|x| x.as_str()), "CreateTime": created, "UpdateTime": created})
            } else {
                json!({"TaskId": a.task_id, "Url": u, "Status": status, "PurgeType": a_type, "FlushType": "flush", "CreateTime": created})
            });
        }
    }
    let total = logs.len();
    let page: Vec<Value> = logs.into_iter().skip(offset).take(limit).collect();
    let list = if push { "PushLogs" } else { "PurgeLogs" };
    Ok((json!({list: page, "TotalCount": total}), 0))
}
