//! EdgeOne's task queries (DescribePurgeTasks / DescribePrefetchTasks): how an accepted job's task
//! is doing, and after an ambiguous failure whether its request was taken after all. Queries
//! carry a window in ISO 8601 with the +08:00 offset, never longer than the 7 days the API allows,
//! and are paged until `TotalCount`.

use std::collections::HashSet;

use super::wire::{self, Filter, TaskRow, TasksQuery};
use super::TeoClient;
use crate::api::{Failure, TaskState};
use crate::clock::{iso8601, CST_OFFSET_SECS};
use crate::model::{Job, JobKind};

/// The longest window a query may span.
pub const MAX_WINDOW_SECS: i64 = 7 * 86_400;
/// Rows a page (the documented maximum).
const PAGE: u64 = 1000;
/// Pages read at most from one query.
const MAX_PAGES: usize = 50;

/// `(StartTime, EndTime)` from a minute before `since` to a minute after `now`, the start moved
/// up when that would be longer than [`MAX_WINDOW_SECS`] (a task older than that is not found).
pub fn window(since: i64, now: i64) -> (String, String) {
    let end = now + 60;
    let start = (since - 60).max(end - MAX_WINDOW_SECS).min(end);
    (iso8601(start, CST_OFFSET_SECS), iso8601(end, CST_OFFSET_SECS))
}

/// What a task's rows say: processing while any is; failed if any ended otherwise than
/// `success` (`failed`, `timeout`, `canceled`, `invalid`, or a status not documented); done
/// when all succeeded. No rows yet: processing.
pub fn state_of(rows: &[TaskRow]) -> TaskState {
    if rows.is_empty() || rows.iter().any(|r| r.status == "processing") {
        TaskState::Processing
    } else if rows.iter().all(|r| r.status == "success") {
        TaskState::Done
    } else {
        TaskState::Failed
    }
}

impl TeoClient {
    /// Every row of `kind`'s tasks in `zone_id` matching `filters` within the window from `since`.
    async fn rows(&self, zone_id: &str, kind: JobKind, since: i64, filters: Vec<Filter>) -> Result<Vec<TaskRow>, Failure> {
        let action = if kind == JobKind::PrefetchUrls { "DescribePrefetchTasks" } else { "DescribePurgeTasks" };
        let (start, end) = window(since, self.clock.now_unix());
        let mut out: Vec<TaskRow> = Vec::new();
        for _ in 0..MAX_PAGES {
            let q = TasksQuery {
                zone_id: zone_id.into(),
                start_time: Some(start.clone()),
                end_time: Some(end.clone()),
                offset: out.len() as u64,
                limit: PAGE,
                filters: filters.clone(),
            };
            let resp = self.call(action, &q).await?;
            let (rows, total) = wire::task_rows(&resp);
            let got = rows.len();
            out.extend(rows);
            if got == 0 || out.len() as u64 >= total {
                break;
            }
        }
        Ok(out)
    }

    /// The rows of task `task` (the `JobId` of `job`'s request).
    async fn task_rows(&self, zone_id: &str, job: &Job, task: &str) -> Result<Vec<TaskRow>, Failure> {
        let rows = self.rows(zone_id, job.kind, job.created_unix, vec![Filter::one("job-id", task)]).await?;
        Ok(rows.into_iter().filter(|r| r.job_id == task).collect())
    }

    pub(super) async fn state(&self, job: &Job) -> Result<Option<TaskState>, Failure> {
        let Some(task) = &job.task_id else { return Ok(None) };
        let zone = self.zone_for(&job.host).await?;
        Ok(Some(state_of(&self.task_rows(&zone, job, task).await?)))
    }

    /// Tasks created since `since` that carry every target of `job` with its type, newest first.
    pub(super) async fn find(&self, job: &Job, since: i64) -> Result<Vec<String>, Failure> {
        let targets: Vec<String> = wire::targets(job).into_iter().map(|(t, _)| t).collect();
        let Some(first) = targets.first() else { return Ok(Vec::new()) };
        let zone = self.zone_for(&job.host).await?;
        let task_type = wire::task_type(job);
        let mut filters = vec![Filter::one("target", first)];
        if job.kind.is_purge() {
            filters.push(Filter::one("type", task_type));
        }
        let rows = self.rows(&zone, job.kind, since, filters).await?;
        // A candidate carries the first target with this job's type; newest first.
        let mut candidates: Vec<(i64, String)> = Vec::new();
        for r in rows.iter().filter(|r| r.target == *first && r.task_type == task_type) {
            if !candidates.iter().any(|(_, c)| *c == r.job_id) {
                candidates.push((r.created_unix.unwrap_or(0), r.job_id.clone()));
            }
        }
        candidates.sort_by(|a, b| b.cmp(a));
        let mut found = Vec::new();
        for (_, task) in candidates {
            let rows = self.rows(&zone, job.kind, since, vec![Filter::one("job-id", &task)]).await?;
            let carried: HashSet<&str> = rows.iter().filter(|r| r.job_id == task).map(|r| r.target.as_str()).collect();
            if targets.iter().all(|t| carried.contains(t.as_str())) {
                found.push(task);
            }
        }
        Ok(found)
    }
}
