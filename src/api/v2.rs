//! The legacy API (`cdn.api.qcloud.com/v2/index.php`): FlushOrPushOverall, RefreshCdnOverSeaUrl
//! and CdnOverseaPushser, signed with HmacSHA1 or HmacSHA256, sent as GET or POST.
//!
//! v2 has no quota query ([`CdnApi::quota`] answers `None`; the engine keeps a ledger of what was
//! accepted, `state::ledger`). It has no task query either: a request that timed out after sending is sent again (which may
//! spend quota twice), and prefetches wait a fixed delay after their purges.

use std::sync::Arc;

use serde_json::Value;

use super::http::{Request, Transport};
use super::sign::v2 as sign;
use super::{Accepted, ApiError, CdnApi, Failure, TaskState};
use crate::clock::Clock;
use crate::config::{Config, Endpoint, HttpMethod, SignatureMethod, V2Overseas};
use crate::credentials::{Credentials, SharedProvider};
use crate::model::{Area, Job, JobKind, QuotaBook};

/// The action that carries a job.
pub fn action(kind: JobKind, area: Area, overseas: V2Overseas) -> &'static str {
    match (kind, area, overseas) {
        (JobKind::PurgeUrls, Area::Overseas, V2Overseas::Dedicated) => "RefreshCdnOverSeaUrl",
        (JobKind::PrefetchUrls, Area::Overseas, V2Overseas::Dedicated) => "CdnOverseaPushser",
        _ => "FlushOrPushOverall",
    }
}

/// The action parameters of a job (without the common ones).
pub fn job_params(job: &Job, overseas: V2Overseas) -> Vec<(String, String)> {
    let mut p = Vec::new();
    let act = action(job.kind, job.area, overseas);
    if act == "FlushOrPushOverall" {
        let command = if job.kind == JobKind::PrefetchUrls { "push" } else { "flush" };
        let ty = if job.kind == JobKind::PurgePaths { "dir" } else { "url" };
        p.push(("command".into(), command.into()));
        p.push(("type".into(), ty.into()));
        match job.area {
            // `global` is EdgeOne's and never reaches v2 (config refuses it).
            Area::Mainland | Area::Global => p.push(("mainland".into(), "1".into())),
            Area::Overseas => p.push(("oversea".into(), "1".into())),
        }
    }
    for (i, u) in job.urls.iter().enumerate() {
        p.push((format!("urls.{i}"), u.clone()));
    }
    p
}

/// The `code` / `codeDesc` of a v2 answer as an error, or the answer's `data` on success.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Value, Failure> {
    let v = super::json_answer(status, body)?;
    // A number, or a non-empty string: anything else is not the API's answer.
    let code = v.get("code").and_then(|c| match c {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    });
    let Some(code) = code else {
        return Err(super::unexpected(status, body, "no code field"));
    };
    if code != "0" {
        let code_desc = v.get("codeDesc").map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let message =
            v.get("message").and_then(Value::as_str).or_else(|| v.get("errmsg").and_then(Value::as_str)).unwrap_or("").to_string();
        let code_desc = code_desc.map(String::into_boxed_str);
        return Err(Failure::Api(ApiError { code, message, request_id: None, code_desc, api: crate::model::Api::V2 }));
    }
    if status != 200 {
        return Err(super::unexpected(status, body, ""));
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

/// A legacy API client.
pub struct V2Client {
    /// HTTP client.
    transport: Transport,
    /// Where requests go (`cdn.api.qcloud.com` unless overridden).
    endpoint: Endpoint,
    /// Signing credentials, asked for each request.
    credentials: SharedProvider,
    /// Optional `Region` parameter.
    region: Option<String>,
    /// HmacSHA1 or HmacSHA256.
    signature_method: SignatureMethod,
    /// GET (parameters in the query) or POST (form body).
    http_method: HttpMethod,
    /// Overseas purges through FlushOrPushOverall or the dedicated overseas actions.
    overseas: V2Overseas,
    /// Timestamps.
    clock: Arc<dyn Clock>,
}

impl V2Client {
    /// A client for `cfg`'s provider settings.
    pub fn new(transport: Transport, cfg: &Config, credentials: impl Into<SharedProvider>, clock: Arc<dyn Clock>) -> Self {
        let p = &cfg.provider;
        V2Client {
            transport,
            endpoint: p.endpoint.clone(),
            credentials: credentials.into(),
            region: p.region.clone(),
            signature_method: p.signature_method,
            http_method: p.http_method,
            overseas: p.v2_overseas,
            clock,
        }
    }

    /// The common parameters plus `params`, signed with `credentials`: the pairs to put on the wire.
    pub fn signed_params(
        &self,
        credentials: &Credentials,
        action: &str,
        params: Vec<(String, String)>,
        timestamp: i64,
        nonce: u32,
    ) -> Vec<(String, String)> {
        let mut all = params;
        all.push(("Action".into(), action.into()));
        all.push(("SecretId".into(), credentials.secret_id.clone()));
        all.push(("Timestamp".into(), timestamp.to_string()));
        all.push(("Nonce".into(), nonce.to_string()));
        all.push(("SignatureMethod".into(), self.signature_method.as_str().into()));
        if let Some(r) = &self.region {
            all.push(("Region".into(), r.clone()));
        }
        if let Some(t) = &credentials.token {
            all.push(("Token".into(), t.expose().to_string()));
        }
        let sts = sign::string_to_sign(self.http_method.as_str(), &self.endpoint.host, &self.endpoint.path, &all);
        let sig = sign::signature(credentials.secret_key.expose(), self.signature_method, &sts);
        all.push(("Signature".into(), sig));
        all
    }

    /// Sign and send one action; returns the answer's `data`. Credentials refused as stale are
    /// replaced and the action sent once more, with a new Nonce (`api::auth`).
    pub async fn call(&self, action: &str, params: Vec<(String, String)>) -> Result<Value, Failure> {
        super::auth::with_credentials(&*self.credentials, super::auth::stale_v2, |c| self.call_as(c, action, params.clone())).await
    }

    async fn call_as(&self, credentials: Credentials, action: &str, params: Vec<(String, String)>) -> Result<Value, Failure> {
        let nonce = fastrand::u32(1..u32::MAX);
        let all = self.signed_params(&credentials, action, params, self.clock.now_unix(), nonce);
        let wire = sign::encode_params(&all);
        let req = match self.http_method {
            HttpMethod::Get => Request { method: "GET", url: format!("{}?{wire}", self.endpoint.url()), headers: vec![], body: vec![] },
            HttpMethod::Post => Request {
                method: "POST",
                url: self.endpoint.url(),
                headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
                body: wire.into_bytes(),
            },
        };
        let (status, body) = self.transport.send(req).await?;
        parse_response(status, &body)
    }
}

impl CdnApi for V2Client {
    fn action(&self, kind: JobKind, area: Area) -> &'static str {
        action(kind, area, self.overseas)
    }

    async fn submit(&self, job: &Job) -> Result<Accepted, Failure> {
        let data = self.call(action(job.kind, job.area, self.overseas), job_params(job, self.overseas)).await?;
        let task_id = match &data {
            Value::Array(items) => items.first().and_then(|i| i.get("task_id")).map(|t| match t {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => None,
        };
        Ok(Accepted::task(task_id))
    }

    async fn quota(&self) -> Result<Option<QuotaBook>, Failure> {
        Ok(None)
    }

    async fn task_state(&self, _job: &Job) -> Result<Option<TaskState>, Failure> {
        Ok(None)
    }

    async fn find_tasks(&self, _job: &Job, _since_unix: i64) -> Result<Vec<String>, Failure> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_per_setting() {
        use JobKind::*;
        let o = V2Overseas::Overall;
        let d = V2Overseas::Dedicated;
        assert_eq!(action(PurgeUrls, Area::Overseas, o), "FlushOrPushOverall");
        assert_eq!(action(PurgeUrls, Area::Overseas, d), "RefreshCdnOverSeaUrl");
        assert_eq!(action(PrefetchUrls, Area::Overseas, d), "CdnOverseaPushser");
        assert_eq!(action(PrefetchUrls, Area::Mainland, d), "FlushOrPushOverall");
        assert_eq!(action(PurgePaths, Area::Overseas, d), "FlushOrPushOverall");
    }

    #[test]
    fn responses() {
        assert_eq!(parse_response(200, br#"{"code":0,"message":"","codeDesc":"Success","data":{"count":2}}"#).unwrap()["count"], 2);
        let e = parse_response(200, r#"{"code":4000,"message":"(9110)没有这个域名的信息 cdn no such host","codeDesc":"9110"}"#.as_bytes())
            .unwrap_err();
        match e {
            Failure::Api(a) => assert_eq!((a.code.as_str(), a.code_desc.as_deref()), ("4000", Some("9110"))),
            other => panic!("{other:?}"),
        }
        let e = parse_response(200, br#"{"code":4400,"message":"too often","codeDesc":4400}"#).unwrap_err();
        assert_eq!(e.class(), super::super::Class::Throttled);
        assert!(matches!(parse_response(200, b"oops"), Err(Failure::Decode { .. })));
        for no_code in [&br#"{"code": null}"#[..], br#"{"code": ""}"#, br#"{"code": [0]}"#, br#"{"data": 1}"#, br#"[0]"#] {
            assert!(matches!(parse_response(200, no_code), Err(Failure::Decode { .. })), "{}", String::from_utf8_lossy(no_code));
        }
    }
}
