//! The legacy CDN API (`cdn.api.qcloud.com/v2/index.php`) as the fake answers it: form-encoded
//! parameters over GET or POST, HmacSHA1/HmacSHA256 signatures, single-use Nonces, 100 requests a
//! minute per action, and the three actions cdnsync sends: `FlushOrPushOverall`,
//! `RefreshCdnOverSeaUrl` and `CdnOverseaPushser` (dedicated overseas). Answers use v2's
//! `{"code", "message", "codeDesc"}` envelope.

use serde_json::{json, Value};

use super::account::{self, Account, MAX_CLOCK_SKEW_SECS};
use super::http::HttpRequest;
use super::server::{Answer, Api};
use super::sts::{check, TokenCheck};
use crate::api::sign::v2 as sign_v2;
use crate::clock;
use crate::config::SignatureMethod;
use crate::model::{Area, JobKind};

/// The legacy API, for the router.
pub(super) const API: Api = Api { name: "v2", action, fault_body, handle };

/// A refused request: v2's numeric `code`, its `codeDesc`, a message, and how many URLs it carried.
struct Refusal {
    code: i64,
    desc: String,
    message: String,
    size: usize,
}

fn refuse(code: i64, desc: &str, message: impl Into<String>, size: usize) -> Refusal {
    Refusal { code, desc: desc.to_string(), message: message.into(), size }
}

/// The v2 error envelope.
fn error_body(code: i64, code_desc: &str, message: &str) -> String {
    json!({"code": code, "message": message, "codeDesc": code_desc}).to_string()
}

/// The request's parameters: the query of a GET, the form body of a POST.
fn params(req: &HttpRequest) -> Option<Vec<(String, String)>> {
    let raw = if req.method == "GET" { req.query.clone() } else { String::from_utf8_lossy(&req.body).into_owned() };
    sign_v2::parse_params(&raw)
}

fn action(req: &HttpRequest) -> String {
    params(req).and_then(|p| p.into_iter().find(|(k, _)| k == "Action").map(|(_, v)| v)).unwrap_or_default()
}

/// An injected `InternalError*` is v2's code 6000; anything else (limits) 4400.
fn fault_body(code: &str) -> String {
    let c = if code.starts_with("InternalError") { 6000 } else { 4400 };
    error_body(c, code, "injected fault")
}

fn handle(acct: &mut Account, req: &HttpRequest, action: &str) -> Answer {
    let answer = match params(req) {
        Some(p) => answer(acct, req, action, &p),
        None => Err(refuse(4000, "InvalidParameter", "cannot decode parameters", 0)),
    };
    match answer {
        Ok((body, size)) => Answer { body, outcome: "ok".into(), size },
        Err(r) => Answer { body: error_body(r.code, &r.desc, &r.message), outcome: r.code.to_string(), size: r.size },
    }
}

fn answer(acct: &mut Account, req: &HttpRequest, action: &str, params: &[(String, String)]) -> Result<(String, usize), Refusal> {
    verify(acct, req, params)?;
    if !acct.rate_ok(format!("v2/{action}"), 60_000, acct.cfg.v2_rate_per_min) {
        return Err(refuse(4400, "4400", "over the call-frequency quota", 0));
    }
    match action {
        "FlushOrPushOverall" | "RefreshCdnOverSeaUrl" | "CdnOverseaPushser" => submit(acct, action, params),
        _ => Err(refuse(6100, "ApiNotSupported", format!("cdnsync fake: no handler for v2 action {action:?}"), 0)),
    }
}

/// Check the content type, the common parameters, the timestamp (±5 minutes), the SecretId, the
/// signature, the session token (when the account has one) and that the Nonce is new.
fn verify(acct: &mut Account, req: &HttpRequest, params: &[(String, String)]) -> Result<(), Refusal> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let invalid = |message: &str| Err(refuse(4000, "InvalidParameter", message, 0));
    if req.method == "POST" && !req.headers.get("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return invalid("POST bodies must be application/x-www-form-urlencoded");
    }
    let (Some(secret_id), Some(ts), Some(nonce), Some(signature)) = (get("SecretId"), get("Timestamp"), get("Nonce"), get("Signature"))
    else {
        return Err(refuse(4000, "MissingParameter", "SecretId, Timestamp, Nonce and Signature are required", 0));
    };
    let method = match get("SignatureMethod").unwrap_or("HmacSHA1") {
        "HmacSHA1" => SignatureMethod::HmacSha1,
        "HmacSHA256" => SignatureMethod::HmacSha256,
        other => return invalid(&format!("SignatureMethod {other:?}")),
    };
    let Ok(ts) = ts.parse::<i64>() else { return invalid("Timestamp") };
    if nonce.parse::<u64>().map_or(true, |n| n == 0) {
        return invalid("Nonce must be a positive integer");
    }
    if (acct.cfg.clock.now_unix() - ts).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(refuse(4200, "RequestExpired", "the request has expired", 0));
    }
    // The account's own keys, or temporary ones a fake STS or metadata service issued.
    let temporary = if secret_id == acct.cfg.secret_id { None } else { acct.temporary(secret_id) };
    if secret_id != acct.cfg.secret_id && temporary.is_none() {
        return Err(refuse(4104, "SecretIdNotFound", "unknown SecretId", 0));
    }
    let key = temporary.as_ref().map_or(acct.cfg.secret_key.as_str(), |t| t.secret_key.as_str());
    let host = req.headers.get("host").cloned().unwrap_or_default();
    let sts = sign_v2::string_to_sign(&req.method, &host, &req.path, params);
    if sign_v2::signature(key, method, &sts) != signature {
        return Err(refuse(4100, "AuthFailure", "signature verification failed", 0));
    }
    if let Some(t) = temporary.clone() {
        match check(&[t], secret_id, key, get("Token").unwrap_or(""), acct.cfg.clock.now_unix()) {
            TokenCheck::Valid => {}
            TokenCheck::Expired => return Err(refuse(4100, "AuthFailure", "the temporary credentials have expired", 0)),
            TokenCheck::Unknown => return Err(refuse(4100, "AuthFailure", "the session token is missing or wrong", 0)),
        }
    } else if let Some(t) = &acct.cfg.token {
        if get("Token") != Some(t.as_str()) {
            return Err(refuse(4100, "AuthFailure", "the session token is missing or wrong", 0));
        }
    }
    if !acct.nonce_fresh(secret_id, nonce) {
        return Err(refuse(4500, "Replay", "this Nonce was used already", 0));
    }
    Ok(())
}

/// FlushOrPushOverall, RefreshCdnOverSeaUrl, CdnOverseaPushser: read `urls.N`, the kind and
/// areas, check the batch limit, each URL and the day's quota, then accept the job.
fn submit(acct: &mut Account, action: &str, params: &[(String, String)]) -> Result<(String, usize), Refusal> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut urls = Vec::new();
    while let Some(u) = get(&format!("urls.{}", urls.len())) {
        urls.push(u.to_string());
    }
    let n = urls.len();
    if params.iter().filter(|(k, _)| k.starts_with("urls.")).count() != n || n == 0 {
        return Err(refuse(4000, "InvalidParameter", "urls.0 … urls.N must be present and consecutive", n));
    }
    let invalid = |message: &str| Err(refuse(4000, "InvalidParameter", message, n));
    let (kind, areas, batch) = match action {
        "FlushOrPushOverall" => {
            let kind = match (get("command"), get("type")) {
                (Some("flush"), Some("url")) => JobKind::PurgeUrls,
                (Some("flush"), Some("dir")) => JobKind::PurgePaths,
                (Some("push"), Some("url")) => JobKind::PrefetchUrls,
                (Some("push"), Some("dir")) => return invalid("dir is not supported for prefetch"),
                _ => return invalid("command must be flush or push, type url or dir"),
            };
            let mut areas = Vec::new();
            if get("mainland") == Some("1") {
                areas.push(Area::Mainland);
            }
            if get("oversea") == Some("1") {
                areas.push(Area::Overseas);
            }
            if areas.is_empty() {
                return invalid("one of mainland and oversea must be 1");
            }
            let batch = account::v2_batch(kind, false);
            (kind, areas, batch)
        }
        "RefreshCdnOverSeaUrl" => (JobKind::PurgeUrls, vec![Area::Overseas], account::v2_batch(JobKind::PurgeUrls, true)),
        _ => (JobKind::PrefetchUrls, vec![Area::Overseas], account::v2_batch(JobKind::PrefetchUrls, true)),
    };
    if n as u64 > batch {
        return Err(refuse(4000, "ExceedBatchLimit", format!("at most {batch} URLs a call"), n));
    }
    for a in &areas {
        if let Err(r) = acct.check_urls(&urls, Some(*a), kind == JobKind::PurgePaths) {
            return Err(if r.code.starts_with("ResourceNotFound") {
                refuse(4000, "9110", "(9110)没有这个域名的信息 cdn no such host", n)
            } else {
                refuse(4000, "InvalidParameter", r.message, n)
            });
        }
        if acct.used(kind, *a) + n as u64 > account::v2_daily_total(kind) {
            return Err(refuse(4000, "CdnPurgeExceedDayLimit", "daily limit exceeded", n));
        }
    }
    let task_id = acct.accept("v2", action, kind, areas, urls);
    let at_ms = acct.accepted.last().map_or(0, |j| j.at_ms);
    let data = match action {
        "RefreshCdnOverSeaUrl" => json!({"count": n}),
        "CdnOverseaPushser" => json!([{"task_id": task_id, "date": clock::datetime(at_ms / 1000, clock::CST_OFFSET_SECS)}]),
        _ => Value::Null,
    };
    let mut body = json!({"code": 0, "message": "", "codeDesc": "Success"});
    if !data.is_null() {
        body["data"] = data;
    }
    Ok((body.to_string(), n))
}
