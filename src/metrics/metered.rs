//! [`Metered`]: a [`CdnApi`] that counts every call of the API it wraps into
//! `cdnsync_api_requests_total{action,result}` and `cdnsync_retries_total{action}`, so the watch
//! daemon's engine is observed without the submitter knowing.
//!
//! What counts as a request, and under which action: a submission under its own action
//! (`PurgeUrlsCache`, `FlushOrPushOverall`, `CreatePurgeTask`…); a quota read under
//! `DescribePurgeQuota` (API 3.0, whose read also asks DescribePushQuota) or `DescribeContentQuota`
//! (EdgeOne); a task lookup under the Describe*Tasks action of the job's kind. The legacy API has
//! no quota or task query, so only its submissions count. The result is `ok`, the API's error
//! code, `http_<status>`, `transport`, `bad_response` or `credentials`; a code the registry
//! refuses as a label value (it looks like a credential) is counted as `other`.
//!
//! A submission of a job that was sent before (`attempts` > 1: after a transient failure, in
//! this run or an earlier one) also counts as a retry.

use std::sync::Arc;

use super::daemon::Metrics;
use crate::api::{Accepted, CdnApi, Failure, TaskState};
use crate::model::{Api, Area, Job, JobKind, QuotaBook};

/// An API whose calls are counted (or not, without metrics).
pub struct Metered<'a, A> {
    inner: &'a A,
    metrics: Option<Arc<Metrics>>,
    api: Api,
}

impl<'a, A: CdnApi> Metered<'a, A> {
    /// Count the calls of `inner` (which speaks `api`) into `metrics`, when there are metrics.
    pub fn new(inner: &'a A, api: Api, metrics: Option<Arc<Metrics>>) -> Self {
        Metered { inner, metrics, api }
    }

    fn record<T>(&self, action: Option<&str>, res: &Result<T, Failure>) {
        let (Some(m), Some(action)) = (&self.metrics, action) else { return };
        let result = match res {
            Ok(_) => "ok".to_string(),
            Err(f) => result_label(f),
        };
        if m.api_request(action, &result).is_err() {
            let _ = m.api_request(action, "other");
        }
    }

    fn lookup_action(&self, job: &Job) -> Option<&'static str> {
        match (self.api, job.kind) {
            (Api::V2, _) => None,
            (Api::V3, JobKind::PrefetchUrls) => Some("DescribePushTasks"),
            (Api::EdgeOne, JobKind::PrefetchUrls) => Some("DescribePrefetchTasks"),
            (_, _) => Some("DescribePurgeTasks"),
        }
    }
}

/// The `result` label of a failure.
pub fn result_label(f: &Failure) -> String {
    match f {
        Failure::Api(e) => e.code.clone(),
        Failure::Http { status, .. } => format!("http_{status}"),
        Failure::Transport { .. } => "transport".into(),
        Failure::Decode { .. } => "bad_response".into(),
        Failure::Credentials { .. } => "credentials".into(),
    }
}

impl<A: CdnApi> CdnApi for Metered<'_, A> {
    fn action(&self, kind: JobKind, area: Area) -> &'static str {
        self.inner.action(kind, area)
    }

    async fn submit(&self, job: &Job) -> Result<Accepted, Failure> {
        let action = self.inner.action(job.kind, job.area);
        if job.attempts > 1 {
            if let Some(m) = &self.metrics {
                let _ = m.retry(action);
            }
        }
        let res = self.inner.submit(job).await;
        self.record(Some(action), &res);
        res
    }

    async fn quota(&self) -> Result<Option<QuotaBook>, Failure> {
        let res = self.inner.quota().await;
        let action = match self.api {
            Api::V3 => Some("DescribePurgeQuota"),
            Api::EdgeOne => Some("DescribeContentQuota"),
            Api::V2 => None,
        };
        self.record(action, &res);
        res
    }

    async fn task_state(&self, job: &Job) -> Result<Option<TaskState>, Failure> {
        let res = self.inner.task_state(job).await;
        self.record(self.lookup_action(job).filter(|_| job.task_id.is_some()), &res);
        res
    }

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, Failure> {
        let res = self.inner.find_tasks(job, since_unix).await;
        self.record(self.lookup_action(job), &res);
        res
    }

    fn take_notes(&self) -> Vec<String> {
        self.inner.take_notes()
    }
}
