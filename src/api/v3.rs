//! API 3.0 (`cdn.tencentcloudapi.com`, version 2018-06-06): request bodies, the `{"Response": …}`
//! envelope, and a [`CdnApi`] client over [`Transport`].

use std::sync::Arc;

use serde_json::{json, Value};

use super::http::{Request, Transport};
use super::sign::tc3;
use super::{Accepted, ApiError, CdnApi, Failure, TaskState};
use crate::clock::{self, Clock};
use crate::config::{Config, Endpoint};
use crate::credentials::{Credentials, SharedProvider};
use crate::model::{Area, Job, JobKind, QuotaBook, QuotaEntry};

/// `X-TC-Version` of the CDN API.
pub const VERSION: &str = "2018-06-06";
/// Service name in the credential scope.
pub const SERVICE: &str = "cdn";
/// Content type of every request body (signed).
pub const CONTENT_TYPE: &str = "application/json";

/// The action that carries a job.
pub fn action(kind: JobKind) -> &'static str {
    match kind {
        JobKind::PurgeUrls => "PurgeUrlsCache",
        JobKind::PurgePaths => "PurgePathCache",
        JobKind::PrefetchUrls => "PushUrlsCache",
    }
}

/// The JSON body of a job's request. URLs are sent exactly as browsers request them
/// (already percent-encoded), so `UrlEncode` is left unset.
pub fn job_body(job: &Job) -> Value {
    match job.kind {
        JobKind::PurgeUrls => json!({"Urls": job.urls, "Area": job.area.as_str()}),
        JobKind::PurgePaths => json!({"Paths": job.urls, "FlushType": "flush", "Area": job.area.as_str()}),
        JobKind::PrefetchUrls => json!({"Urls": job.urls, "Area": job.area.as_str()}),
    }
}

/// Unwrap `{"Response": {...}}`: the inner object, or the API's error. Every answer of the API
/// carries a `RequestId`; a "success" without one was not written by the API (a proxy, a
/// captive portal, a broken gateway) and is not taken for one: with HTTP 200 it is ambiguous
/// ([`Failure::Decode`]), so a submission is looked up, not counted as accepted.
pub fn parse_envelope(status: u16, body: &[u8]) -> Result<Value, Failure> {
    let mut v = super::json_answer(status, body)?;
    let Some(resp) = v.get_mut("Response").filter(|r| r.is_object()).map(Value::take) else {
        return Err(super::unexpected(status, body, "no Response object"));
    };
    let request_id = resp.get("RequestId").and_then(Value::as_str).map(str::to_string);
    if let Some(err) = resp.get("Error") {
        // An error the API wrote names its code; anything else there is not its answer.
        let Some(code) = err.get("Code").and_then(Value::as_str).filter(|c| !c.is_empty()) else {
            return Err(super::unexpected(status, body, "an Error without a Code"));
        };
        return Err(Failure::Api(ApiError {
            code: code.to_string(),
            message: err.get("Message").and_then(Value::as_str).unwrap_or("").to_string(),
            request_id,
            code_desc: None,
            api: crate::model::Api::V3,
        }));
    }
    if status != 200 {
        return Err(super::unexpected(status, body, ""));
    }
    if request_id.is_none_or(|r| r.is_empty()) {
        return Err(super::unexpected(status, body, "a Response without RequestId"));
    }
    Ok(resp)
}

/// The `TaskId` of a submission's answer: without one the API cannot be said to have accepted
/// anything, so the answer is ambiguous (the task is looked up before anything is resent).
pub fn task_id(resp: &Value) -> Result<String, Failure> {
    match resp.get("TaskId").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(Failure::Decode { message: "a success answer without TaskId".into() }),
    }
}

/// The list `name` of an answer (`UrlPurge`, `PurgeLogs`, …): an answer without it is not one
/// the action gives.
fn list<'a>(resp: &'a Value, name: &str) -> Result<&'a Vec<Value>, Failure> {
    resp.get(name).and_then(Value::as_array).ok_or_else(|| Failure::Decode { message: format!("an answer without the {name} list") })
}

/// Read `UrlPurge` / `PathPurge` / `UrlPush` lists into a quota book.
pub fn parse_quota(book: &mut QuotaBook, kind: JobKind, list: &[Value]) {
    for e in list {
        let Some(area) = e.get("Area").and_then(Value::as_str).and_then(Area::parse) else { continue };
        // An entry without its numbers says nothing: the documented (or last known) one stays,
        // rather than a missing `Available` reading as a used-up quota.
        let n = |k: &str| e.get(k).and_then(Value::as_u64);
        let (Some(batch), Some(total), Some(available)) = (n("Batch"), n("Total"), n("Available")) else { continue };
        book.set(kind, area, QuotaEntry { batch, total, available });
    }
}

/// An API 3.0 client.
pub struct V3Client {
    transport: Transport,
    /// Where requests go (`cdn.tencentcloudapi.com` unless overridden).
    endpoint: Endpoint,
    /// Signing credentials (and session token), asked for each request.
    credentials: SharedProvider,
    /// Optional `X-TC-Region`.
    region: Option<String>,
    /// Timestamps and dates for signing.
    clock: Arc<dyn Clock>,
}

impl V3Client {
    /// A client for `cfg`'s provider settings.
    pub fn new(transport: Transport, cfg: &Config, credentials: impl Into<SharedProvider>, clock: Arc<dyn Clock>) -> Self {
        let p = &cfg.provider;
        V3Client { transport, endpoint: p.endpoint.clone(), credentials: credentials.into(), region: p.region.clone(), clock }
    }

    /// Sign and send one action; returns the `Response` object. Credentials refused as stale
    /// are replaced and the action sent once more (`api::auth`).
    pub async fn call(&self, action: &str, body: &Value) -> Result<Value, Failure> {
        let payload = serde_json::to_vec(body).expect("JSON serialises");
        self.call_tc3(SERVICE, VERSION, action, payload, parse_envelope).await
    }

    /// Sign `payload` (exactly the bytes sent) with TC3 for `service` at `version`, send it as
    /// `action` and read the answer with `parse`; credentials refused as stale are replaced and
    /// the request sent once more. Also used by the other TC3 products (EdgeOne).
    pub async fn call_tc3(
        &self,
        service: &str,
        version: &str,
        action: &str,
        payload: Vec<u8>,
        parse: fn(u16, &[u8]) -> Result<Value, Failure>,
    ) -> Result<Value, Failure> {
        super::auth::with_credentials(&*self.credentials, super::auth::stale_v3, |c| {
            let payload = payload.clone();
            async move {
                let (status, bytes) = self.send_signed(&c, service, version, action, payload).await?;
                parse(status, &bytes)
            }
        })
        .await
    }

    /// One signed request with `credentials`: the HTTP status and body.
    async fn send_signed(
        &self,
        credentials: &Credentials,
        service: &str,
        version: &str,
        action: &str,
        payload: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let ts = self.clock.now_unix();
        let auth = tc3::sign(
            &tc3::Tc3Request { method: "POST", query: "", content_type: CONTENT_TYPE, host: &self.endpoint.host, payload: &payload },
            &credentials.secret_id,
            credentials.secret_key.expose(),
            ts,
            service,
        );
        let mut headers = vec![
            ("Content-Type".to_string(), CONTENT_TYPE.to_string()),
            ("Host".to_string(), self.endpoint.host.clone()),
            ("X-TC-Action".to_string(), action.to_string()),
            ("X-TC-Version".to_string(), version.to_string()),
            ("X-TC-Timestamp".to_string(), ts.to_string()),
            ("Authorization".to_string(), auth),
        ];
        if let Some(r) = &self.region {
            headers.push(("X-TC-Region".into(), r.clone()));
        }
        if let Some(t) = &credentials.token {
            headers.push(("X-TC-Token".into(), t.expose().to_string()));
        }
        self.transport.send(Request { method: "POST", url: self.endpoint.url(), headers, body: payload }).await
    }

    async fn purge_logs(&self, job: &Job, query: Value) -> Result<Vec<Value>, Failure> {
        let (action, name) = tasks_action(job.kind);
        let mut resp = self.call(action, &query).await?;
        list(&resp, name)?;
        Ok(match resp.get_mut(name).map(Value::take) {
            Some(Value::Array(logs)) => logs,
            _ => Vec::new(),
        })
    }
}

/// The Describe*Tasks action listing the tasks of `kind`, and the list its answer holds.
fn tasks_action(kind: JobKind) -> (&'static str, &'static str) {
    match kind {
        JobKind::PrefetchUrls => ("DescribePushTasks", "PushLogs"),
        JobKind::PurgeUrls | JobKind::PurgePaths => ("DescribePurgeTasks", "PurgeLogs"),
    }
}

/// A Describe*Tasks query for `job`'s kind and area: `fields` plus `Area`, `PurgeType` (purges
/// only) and the largest page. The area matters: the mainland and overseas jobs of one deploy
/// carry the same URLs, and one must never be taken for the other.
fn task_query(job: &Job, mut fields: Value) -> Value {
    fields["Limit"] = json!(1000);
    fields["Area"] = json!(job.area.as_str());
    if job.kind != JobKind::PrefetchUrls {
        fields["PurgeType"] = json!(if job.kind == JobKind::PurgePaths { "path" } else { "url" });
    }
    fields
}

/// The tasks of a Describe*Tasks page that carry `url`, newest first whatever order the page
/// is in (`CreateTime` is "YYYY-MM-DD hh:mm:ss", which sorts as text; equal times keep the page's
/// order).
pub fn candidate_tasks(logs: &[Value], url: &str) -> Vec<String> {
    let mut found: Vec<(&str, &str)> = Vec::new();
    for l in logs {
        if l.get("Url").and_then(Value::as_str) != Some(url) {
            continue;
        }
        if let Some(t) = l.get("TaskId").and_then(Value::as_str) {
            if !found.iter().any(|(_, c)| *c == t) {
                found.push((l.get("CreateTime").and_then(Value::as_str).unwrap_or(""), t));
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(a.0));
    found.into_iter().map(|(_, t)| t.to_string()).collect()
}

impl CdnApi for V3Client {
    fn action(&self, kind: JobKind, _area: Area) -> &'static str {
        action(kind)
    }

    async fn submit(&self, job: &Job) -> Result<Accepted, Failure> {
        let resp = self.call(action(job.kind), &job_body(job)).await?;
        Ok(Accepted::task(Some(task_id(&resp)?)))
    }

    async fn quota(&self) -> Result<Option<QuotaBook>, Failure> {
        let mut book = QuotaBook::documented_v3();
        let purge = self.call("DescribePurgeQuota", &json!({})).await?;
        parse_quota(&mut book, JobKind::PurgeUrls, list(&purge, "UrlPurge")?);
        parse_quota(&mut book, JobKind::PurgePaths, list(&purge, "PathPurge")?);
        let push = self.call("DescribePushQuota", &json!({})).await?;
        parse_quota(&mut book, JobKind::PrefetchUrls, list(&push, "UrlPush")?);
        book.read_unix = Some(self.clock.now_unix());
        Ok(Some(book))
    }

    async fn task_state(&self, job: &Job) -> Result<Option<TaskState>, Failure> {
        let Some(task) = &job.task_id else { return Ok(None) };
        let logs = self.purge_logs(job, task_query(job, json!({"TaskId": task}))).await?;
        if logs.is_empty() {
            return Ok(Some(TaskState::Processing));
        }
        let states: Vec<&str> = logs.iter().filter_map(|l| l.get("Status").and_then(Value::as_str)).collect();
        Ok(Some(if states.iter().any(|s| *s == "fail" || *s == "invalid") {
            TaskState::Failed
        } else if states.iter().all(|s| *s == "done") {
            TaskState::Done
        } else {
            TaskState::Processing
        }))
    }

    fn lookup_permission(&self, kind: JobKind) -> Option<&'static str> {
        Some(match kind {
            JobKind::PrefetchUrls => "cdn:DescribePushTasks",
            JobKind::PurgeUrls | JobKind::PurgePaths => "cdn:DescribePurgeTasks",
        })
    }

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, Failure> {
        let Some(first) = job.urls.first() else { return Ok(Vec::new()) };
        let now = self.clock.now_unix();
        // From the second the request was sent, not earlier: a task created before it cannot be
        // this job's, and may predate the change the job was planned for. (A clock running ahead
        // of Tencent's may then miss the job's own task: it is resent, a duplicate purge, which
        // is cheap; claiming an older task would leave a stale page.)
        let q = task_query(
            job,
            json!({
                "StartTime": clock::datetime(since_unix, clock::CST_OFFSET_SECS),
                "EndTime": clock::datetime(now + 60, clock::CST_OFFSET_SECS),
                "Keyword": first,
            }),
        );
        let logs = self.purge_logs(job, q).await?;
        // A candidate task must carry this URL; confirm it carries every URL of the job.
        let candidates = candidate_tasks(&logs, first);
        let mut found = Vec::new();
        for task in candidates {
            let logs = self.purge_logs(job, task_query(job, json!({"TaskId": task}))).await?;
            let urls: std::collections::HashSet<&str> = logs.iter().filter_map(|l| l.get("Url").and_then(Value::as_str)).collect();
            if job.urls.iter().all(|u| urls.contains(u.as_str())) {
                found.push(task);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        let ok = parse_envelope(200, br#"{"Response": {"TaskId": "t1", "RequestId": "r"}}"#).unwrap();
        assert_eq!(ok["TaskId"], "t1");
        let err = parse_envelope(
            200,
            br#"{"Response": {"Error": {"Code": "ResourceNotFound.CdnHostNotExists", "Message": "no host"}, "RequestId": "r9"}}"#,
        )
        .unwrap_err();
        match &err {
            Failure::Api(e) => assert_eq!((e.code.as_str(), e.request_id.as_deref()), ("ResourceNotFound.CdnHostNotExists", Some("r9"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(err.class(), super::super::Class::Permanent);
        assert!(matches!(parse_envelope(200, b"<html>"), Err(Failure::Decode { .. })));
        assert!(matches!(parse_envelope(502, b"<html>"), Err(Failure::Http { status: 502, .. })));
    }

    /// A "success" the API did not write is ambiguous with HTTP 200 (a submission is then looked
    /// up), never an acceptance.
    #[test]
    fn a_success_without_request_id_or_task_id_is_not_one() {
        for body in [
            &br#"{"Response": {"TaskId": "t1"}}"#[..],
            br#"{"Response": {"TaskId": "t1", "RequestId": ""}}"#,
            br#"{"Response": {"TaskId": "t1", "RequestId": 7}}"#,
            br#"{"Response": "ok"}"#,
            br#"{"Response": null}"#,
            br#"[]"#,
            br#"{"Response": {"Error": null, "TaskId": "t1", "RequestId": "r"}}"#,
            br#"{"Response": {"Error": {"Code": ""}, "RequestId": "r"}}"#,
        ] {
            let err = parse_envelope(200, body).unwrap_err();
            assert!(matches!(err, Failure::Decode { .. }), "{}: {err:?}", String::from_utf8_lossy(body));
            assert_eq!(err.class(), super::super::Class::Ambiguous);
        }
        assert!(matches!(parse_envelope(503, br#"{"Response": {"TaskId": "t1"}}"#), Err(Failure::Http { status: 503, .. })));
        for resp in [json!({"RequestId": "r"}), json!({"TaskId": "", "RequestId": "r"}), json!({"TaskId": 12, "RequestId": "r"})] {
            let err = task_id(&resp).unwrap_err();
            assert_eq!(err.class(), super::super::Class::Ambiguous, "{resp}");
            assert!(err.to_string().contains("TaskId"), "{err}");
        }
        assert_eq!(task_id(&json!({"TaskId": "t1", "RequestId": "r"})).unwrap(), "t1");
    }

    #[test]
    fn lookup_candidates_carry_the_url_newest_first() {
        let logs: Vec<Value> = serde_json::from_str(
            r#"[{"TaskId": "old", "Url": "https://h/a", "CreateTime": "2024-03-01 10:00:00"},
                {"TaskId": "other", "Url": "https://h/b", "CreateTime": "2024-03-01 10:00:09"},
                {"TaskId": "new", "Url": "https://h/a", "CreateTime": "2024-03-01 10:00:05"},
                {"TaskId": "old", "Url": "https://h/a", "CreateTime": "2024-03-01 10:00:00"},
                {"Url": "https://h/a"}, {"TaskId": 7, "Url": "https://h/a"}]"#,
        )
        .unwrap();
        assert_eq!(candidate_tasks(&logs, "https://h/a"), ["new", "old"]);
        assert!(candidate_tasks(&logs, "https://h/c").is_empty());
    }

    #[test]
    fn quota_parse() {
        let resp: Value = serde_json::from_str(
            r#"{"UrlPurge": [{"Batch": 1000, "Total": 10000, "Available": 9990, "Area": "mainland"},
                             {"Batch": 1000, "Total": 10000, "Available": 10000, "Area": "overseas"}],
                "PathPurge": [{"Batch": 500, "Total": 100, "Available": 0, "Area": "mainland"},
                              {"Batch": 500, "Total": 100, "Area": "overseas"},
                              {"Batch": 500, "Total": 100, "Available": -3, "Area": "overseas"}]}"#,
        )
        .unwrap();
        let mut b = QuotaBook::default();
        parse_quota(&mut b, JobKind::PurgeUrls, list(&resp, "UrlPurge").unwrap());
        parse_quota(&mut b, JobKind::PurgePaths, list(&resp, "PathPurge").unwrap());
        assert!(matches!(list(&resp, "UrlPush"), Err(Failure::Decode { .. })));
        assert_eq!(b.get(JobKind::PurgeUrls, Area::Mainland).unwrap().available, 9990);
        assert_eq!(b.get(JobKind::PurgePaths, Area::Mainland).unwrap().available, 0);
        assert!(b.get(JobKind::PurgePaths, Area::Overseas).is_none());
    }
}
