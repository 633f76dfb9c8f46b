//! Everything that knows Tencent's wire formats.
//!
//! The rest of cdnsync talks to the CDN through the [`CdnApi`] trait and sees failures only as a
//! [`Class`]: Tencent's error-code strings are matched in this module and nowhere else.

pub mod auth;
pub mod http;
pub mod provider;
pub mod redact;
pub mod roles;
pub mod sign;
pub mod teo;
pub mod v2;
pub mod v3;

use std::fmt;
use std::future::Future;

use serde_json::Value;

use crate::config::V2Overseas;
use crate::model::{Api, Area, Job, JobError, JobKind, QuotaBook};

/// The API action that carries a job of `kind` in `area` (pure: reports and rate limits need the
/// name without a client).
pub fn action_name(api: Api, v2_overseas: V2Overseas, kind: JobKind, area: Area) -> &'static str {
    match api {
        Api::V3 => v3::action(kind),
        Api::V2 => v2::action(kind, area, v2_overseas),
        Api::EdgeOne => teo::action(kind),
    }
}

/// The JSON document of an answer. A body that is not JSON is, with HTTP 200, a [`Failure::Decode`]
/// (the request may have been taken), otherwise a [`Failure::Http`].
pub(crate) fn json_answer(status: u16, body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|e| unexpected(status, body, &e.to_string()))
}

/// An answer without the envelope expected (`what` says which part is missing): ambiguous with
/// HTTP 200, an HTTP failure otherwise.
pub(crate) fn unexpected(status: u16, body: &[u8], what: &str) -> Failure {
    if status == 200 {
        Failure::Decode { message: what.to_string() }
    } else {
        Failure::Http { status, body: String::from_utf8_lossy(body).into_owned() }
    }
}

/// What the submitter should do about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Retry with backoff (network error, 5xx, `InternalError*`).
    Transient,
    /// Too many calls: back off harder, retry.
    Throttled,
    /// Today's quota is used up: defer until the reset.
    QuotaExhausted,
    /// The batch was larger than this account allows: split and resend.
    BatchTooLarge,
    /// The request may have been accepted (timeout after sending): look the task up before resending.
    Ambiguous,
    /// Refused for good (auth, permissions, bad domain or URL): keep as failed.
    Permanent,
}

/// An error answer from the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// Tencent's code: `AuthFailure.SignatureFailure` (API 3.0) or the numeric `code` (v2).
    pub code: String,
    /// Tencent's human-readable message.
    pub message: String,
    /// The request ID, for Tencent support.
    pub request_id: Option<String>,
    /// v2's `codeDesc`, when there was one (boxed: a [`Failure`] stays small).
    pub code_desc: Option<Box<str>>,
    /// The API that answered: its own table classifies the code.
    pub api: Api,
}

/// Why a request did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with an error.
    Api(ApiError),
    /// An HTTP status other than 200 (proxies, gateways, outages).
    Http {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The request failed in transit; `maybe_sent` when it may have reached the API.
    Transport {
        /// What went wrong (never the URL: a v2 GET carries the SecretId).
        message: String,
        /// The request may have reached the API (a timeout after sending, say).
        maybe_sent: bool,
    },
    /// A 200 answer that could not be understood (the request may have been accepted).
    Decode {
        /// What could not be understood.
        message: String,
    },
    /// No credentials to sign with: temporary ones could not be fetched (the metadata service or
    /// STS is down or refused). Nothing was sent; the job stays owed.
    Credentials {
        /// Why (never a secret: [`crate::credentials::CredentialsError`]'s text).
        message: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Api(e) => {
                write!(f, "{}: {}", e.code, e.message)?;
                if let Some(r) = &e.request_id {
                    write!(f, " (RequestId {r})")?;
                }
                Ok(())
            }
            Failure::Http { status, body } => write!(f, "HTTP {status}: {}", body.chars().take(200).collect::<String>()),
            Failure::Transport { message, .. } => write!(f, "network: {message}"),
            Failure::Decode { message } => write!(f, "unreadable answer: {message}"),
            Failure::Credentials { message } => write!(f, "credentials: {message}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Classify an API 3.0 error code.
pub fn classify_v3(code: &str) -> Class {
    if code.starts_with("InternalError") {
        Class::Transient
    } else if code == "RequestLimitExceeded" || code.starts_with("RequestLimitExceeded.") || code.ends_with("OperationTooOften") {
        Class::Throttled
    } else if code.starts_with("LimitExceeded.") && code.ends_with("DayLimit") {
        Class::QuotaExhausted
    } else if code.starts_with("LimitExceeded.") && code.ends_with("BatchLimit") {
        Class::BatchTooLarge
    } else {
        Class::Permanent
    }
}

/// Classify a legacy v2 error (`code`, and `codeDesc` when it names a quota).
pub fn classify_v2(code: &str, code_desc: Option<&str>) -> Class {
    let desc = code_desc.unwrap_or("");
    if desc.contains("ExceedLimit") || desc.contains("DayLimit") || desc.contains("QuotaExceed") {
        return Class::QuotaExhausted;
    }
    match code {
        "4400" => Class::Throttled,
        // 5400 is a partial success whose failed part is not described reliably: the whole
        // batch is resent (purging twice is harmless; it may spend some quota twice).
        "4200" | "4500" | "5100" | "5400" | "6000" | "6200" => Class::Transient,
        _ => Class::Permanent,
    }
}

impl Failure {
    /// How the submitter should react to this failure.
    pub fn class(&self) -> Class {
        match self {
            Failure::Api(e) if e.api == Api::EdgeOne => teo::classify(&e.code),
            Failure::Api(e) if e.code.starts_with(|c: char| c.is_ascii_digit()) => classify_v2(&e.code, e.code_desc.as_deref()),
            Failure::Api(e) => classify_v3(&e.code),
            Failure::Http { status: 429, .. } => Class::Throttled,
            Failure::Http { status, .. } if *status >= 500 => Class::Transient,
            Failure::Http { .. } => Class::Permanent,
            Failure::Transport { maybe_sent: true, .. } | Failure::Decode { .. } => Class::Ambiguous,
            Failure::Transport { maybe_sent: false, .. } | Failure::Credentials { .. } => Class::Transient,
        }
    }

    /// The `error` of a job (`docs/json.md`, "Job errors"), with advice where the cause is known.
    pub fn to_job_error(&self) -> JobError {
        match self {
            Failure::Api(e) => {
                let mut message = e.message.clone();
                if e.code == "AuthFailure.SignatureExpire" || e.code == "4200" {
                    message.push_str(" (this machine's clock is probably wrong: check NTP)");
                }
                if let Some(r) = &e.request_id {
                    message.push_str(&format!(" (RequestId {r})"));
                }
                JobError { code: e.code.clone(), message }
            }
            Failure::Http { status, .. } => JobError { code: format!("HTTP{status}"), message: self.to_string() },
            Failure::Transport { .. } => JobError { code: "Network".into(), message: self.to_string() },
            Failure::Decode { .. } => JobError { code: "BadResponse".into(), message: self.to_string() },
            Failure::Credentials { message } => JobError { code: "Credentials".into(), message: message.clone() },
        }
    }
}

/// The API took a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The task the API created (API 3.0), if it said.
    pub task_id: Option<String>,
    /// URLs of the job that the API named as not taken although it took the request
    /// (EdgeOne's `FailedList`): they failed, the rest were accepted.
    pub rejected: Vec<Rejected>,
}

impl Accepted {
    /// Every URL was taken.
    pub fn task(task_id: Option<String>) -> Self {
        Accepted { task_id, rejected: Vec::new() }
    }

    /// Split `urls` into those taken and those refused, with a job error naming the refusals
    /// (`None` when every URL was taken).
    pub fn split(&self, urls: &[String]) -> (Vec<String>, Vec<String>, Option<JobError>) {
        let refused = |u: &String| self.rejected.iter().any(|r| r.urls.contains(u));
        let (bad, ok): (Vec<String>, Vec<String>) = urls.iter().cloned().partition(refused);
        if bad.is_empty() {
            return (ok, bad, None);
        }
        let reasons: Vec<String> = self
            .rejected
            .iter()
            .filter(|r| r.urls.iter().any(|u| bad.contains(u)))
            .map(|r| format!("{} ({} target(s), first {})", r.reason, r.urls.len(), r.urls.first().map_or("", String::as_str)))
            .collect();
        let message = format!("the API took the request but not {} of its {} target(s): {}", bad.len(), urls.len(), reasons.join("; "));
        (ok, bad, Some(JobError { code: "FailedList".into(), message }))
    }
}

/// Targets the API refused inside an accepted request, and why (its words, verbatim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The API's reason (`domain not valid`).
    pub reason: String,
    /// The job's URLs it names.
    pub urls: Vec<String>,
}

/// How a submitted task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Still running.
    Processing,
    /// Finished.
    Done,
    /// Finished with an error.
    Failed,
}

/// The narrow interface the engine needs from a CDN API.
pub trait CdnApi: Send + Sync {
    /// The action a job is sent with (for reports).
    fn action(&self, kind: JobKind, area: Area) -> &'static str;

    /// Send one job.
    fn submit(&self, job: &Job) -> impl Future<Output = Result<Accepted, Failure>> + Send;

    /// Remaining quotas and batch sizes; `Ok(None)` when the API has no such query (v2).
    fn quota(&self) -> impl Future<Output = Result<Option<QuotaBook>, Failure>> + Send;

    /// How an accepted job's task is doing; `Ok(None)` when the API cannot tell (v2).
    fn task_state(&self, job: &Job) -> impl Future<Output = Result<Option<TaskState>, Failure>> + Send;

    /// After an ambiguous failure: the tasks created since `since_unix` in the job's area that
    /// carry every URL of the job, newest first. Empty when none was found (or the API cannot
    /// tell: then the job is resent). The caller skips tasks it already knows as another job's.
    fn find_tasks(&self, job: &Job, since_unix: i64) -> impl Future<Output = Result<Vec<String>, Failure>> + Send;

    /// The CAM permission [`CdnApi::find_tasks`] needs for a job of `kind`
    /// (`cdn:DescribePurgeTasks`, say), for the advice given when a key may not call it; `None`
    /// when the API has no task query.
    fn lookup_permission(&self, _kind: JobKind) -> Option<&'static str> {
        None
    }

    /// Things the client learned that the run's report should tell (EdgeOne: which zone a host
    /// was found in), taken once.
    fn take_notes(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_codes() {
        let cases = [
            ("InternalError", Class::Transient),
            ("InternalError.CdnSystemError", Class::Transient),
            ("RequestLimitExceeded", Class::Throttled),
            ("UnauthorizedOperation.OperationTooOften", Class::Throttled),
            ("LimitExceeded.CdnPurgeUrlExceedDayLimit", Class::QuotaExhausted),
            ("LimitExceeded.CdnPurgePathExceedDayLimit", Class::QuotaExhausted),
            ("LimitExceeded.CdnPushExceedDayLimit", Class::QuotaExhausted),
            ("LimitExceeded.CdnPurgeExceedDayLimit", Class::QuotaExhausted),
            ("LimitExceeded.CdnPurgeUrlExceedBatchLimit", Class::BatchTooLarge),
            ("LimitExceeded.CdnPushExceedBatchLimit", Class::BatchTooLarge),
            ("AuthFailure.SignatureFailure", Class::Permanent),
            ("UnauthorizedOperation.CdnCamUnauthorized", Class::Permanent),
            ("ResourceNotFound.CdnHostNotExists", Class::Permanent),
            ("InvalidParameter.CdnParamError", Class::Permanent),
        ];
        for (code, want) in cases {
            assert_eq!(classify_v3(code), want, "{code}");
        }
    }

    #[test]
    fn v2_codes() {
        for (code, desc, want) in [
            ("4400", None, Class::Throttled),
            ("4500", None, Class::Transient),
            ("6000", None, Class::Transient),
            ("4100", None, Class::Permanent),
            ("4000", Some("9110"), Class::Permanent),
            ("4000", Some("RefreshUrlExceedLimit"), Class::QuotaExhausted),
        ] {
            assert_eq!(classify_v2(code, desc), want, "{code}");
        }
    }

    #[test]
    fn transport_classes() {
        assert_eq!(Failure::Transport { message: "x".into(), maybe_sent: false }.class(), Class::Transient);
        assert_eq!(Failure::Transport { message: "x".into(), maybe_sent: true }.class(), Class::Ambiguous);
        assert_eq!(Failure::Http { status: 502, body: String::new() }.class(), Class::Transient);
        assert_eq!(Failure::Http { status: 403, body: String::new() }.class(), Class::Permanent);
    }
}
