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

/// Unwrap `{"Response": {...}}`: the inner object, or the API's error.
pub fn parse_envelope(status: u16, body: &[u8]) -> Result<Value, Failure> {
    let v = super::json_answer(status, body)?;
    let Some(resp) = v.get("Response").cloned() else {
        return Err(super::unexpected(status, body, "no Response object"));
    };
    let request_id = resp.get("RequestId").and_then(Value::as_str).map(str::to_string);
    if let Some(err) = resp.get("Error") {
        return Err(Failure::Api(ApiError {
            code: err.get("Code").and_then(Value::as_str).unwrap_or("Unknown").to_string(),
            message: err.get("Message").and_then(Value::as_str).unwrap_or("").to_string(),
            request_id,
            code_desc: None,
            api: crate::model::Api::V3,
        }));
    }
    if status != 200 {
        return Err(super::unexpected(status, body, ""));
    }
    Ok(resp)
}

/// Read `UrlPurge` / `PathPurge` / `UrlPush` lists into a quota book.
pub fn parse_quota(book: &mut QuotaBook, kind: JobKind, list: Option<&Value>) {
    for e in list.and_then(Value::as_array).into_iter().flatten() {
        let Some(area) = e.get("Area").and_then(Value::as_str).and_then(Area::parse) else { continue };
        let n = |k: &str| e.get(k).and_then(Value::as_i64).unwrap_or(0).max(0) as u64;
        book.set(kind, area, QuotaEntry { batch: n("Batch"), total: n("Total"), available: n("Available") });
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
        let (action, list) = match job.kind {
            JobKind::PrefetchUrls => ("DescribePushTasks", "PushLogs"),
            _ => ("DescribePurgeTasks", "PurgeLogs"),
        };
        let resp = self.call(action, &query).await?;
        Ok(resp.get(list).and_then(Value::as_array).cloned().unwrap_or_default())
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

impl CdnApi for V3Client {
    fn action(&self, kind: JobKind, _area: Area) -> &'static str {
        action(kind)
    }

    async fn submit(&self, job: &Job) -> Result<Accepted, Failure> {
        let resp = self.call(action(job.kind), &job_body(job)).await?;
        Ok(Accepted::task(resp.get("TaskId").and_then(Value::as_str).map(str::to_string)))
    }

    async fn quota(&self) -> Result<Option<QuotaBook>, Failure> {
        let mut book = QuotaBook::documented_v3();
        let purge = self.call("DescribePurgeQuota", &json!({})).await?;
        parse_quota(&mut book, JobKind::PurgeUrls, purge.get("UrlPurge"));
        parse_quota(&mut book, JobKind::PurgePaths, purge.get("PathPurge"));
        let push = self.call("DescribePushQuota", &json!({})).await?;
        parse_quota(&mut book, JobKind::PrefetchUrls, push.get("UrlPush"));
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

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, Failure> {
        let Some(first) = job.urls.first() else { return Ok(Vec::new()) };
        let now = self.clock.now_unix();
        let q = task_query(
            job,
            json!({
                "StartTime": clock::datetime(since_unix - 60, clock::CST_OFFSET_SECS),
                "EndTime": clock::datetime(now + 60, clock::CST_OFFSET_SECS),
                "Keyword": first,
            }),
        );
        let logs = self.purge_logs(job, q).await?;
        // A candidate task must carry this URL; confirm it carries every URL of the job.
        let mut candidates: Vec<String> = Vec::new();
        for l in &logs {
            if l.get("Url").and_then(Value::as_str) != Some(first.as_str()) {
                continue;
            }
            if let Some(t) = l.get("TaskId").and_then(Value::as_str) {
                if !candidates.iter().any(|c| c == t) {
                    candidates.push(t.to_string());
                }
            }
        }
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

    #[test]
    fn quota_parse() {
        let resp: Value = serde_json::from_str(
            r#"{"UrlPurge": [{"Batch": 1000, "Total": 10000, "Available": 9990, "Area": "mainland"},
                             {"Batch": 1000, "Total": 10000, "Available": 10000, "Area": "overseas"}],
                "PathPurge": [{"Batch": 500, "Total": 100, "Available": 0, "Area": "mainland"}]}"#,
        )
        .unwrap();
        let mut b = QuotaBook::default();
        parse_quota(&mut b, JobKind::PurgeUrls, resp.get("UrlPurge"));
        parse_quota(&mut b, JobKind::PurgePaths, resp.get("PathPurge"));
        assert_eq!(b.get(JobKind::PurgeUrls, Area::Mainland).unwrap().available, 9990);
        assert_eq!(b.get(JobKind::PurgePaths, Area::Mainland).unwrap().available, 0);
        assert!(b.get(JobKind::PurgePaths, Area::Overseas).is_none());
    }
}
