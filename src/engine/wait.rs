//! `--wait`: poll the tasks this run's accepted jobs became until each has ended or the time is
//! up, telling the progress observer as it goes. A task the CDN reports failed did not purge (or
//! prefetch) anything, so it never counts as finished well; the legacy API (v2) has no task
//! query, so its wait is a fixed delay after which nothing can be told.

use std::time::Duration;

use crate::api::{CdnApi, TaskState};
use crate::clock::Clock;
use crate::model::{Job, JobStatus};
use crate::progress::Progress;
use crate::report::{TaskRef, WaitReport};
use crate::submit::retry::TASK_POLL;

/// Wait for the accepted ones of `jobs`, at most `limit`. `fixed_delay`: the API cannot be asked
/// (v2): sleep this long (at most `limit`) instead.
pub(super) async fn wait_tasks<A: CdnApi>(
    api: &A,
    clock: &dyn Clock,
    jobs: &[Job],
    limit: Duration,
    fixed_delay: Option<Duration>,
    progress: &dyn Progress,
) -> WaitReport {
    let accepted: Vec<&Job> = jobs.iter().filter(|j| j.status == JobStatus::Accepted).collect();
    let start = clock.now_ms();
    let mut r = WaitReport { tasks: accepted.len(), ..WaitReport::default() };
    if accepted.is_empty() {
        return r;
    }
    progress.waiting(accepted.len());
    if let Some(d) = fixed_delay {
        clock.sleep(d.min(limit)).await;
        r.cannot_tell = accepted.len();
        r.waited_secs = ((clock.now_ms() - start).max(0) / 1000) as u64;
        progress.waited(0, r.tasks, clock.now_ms() - start);
        return r;
    }
    let until = start + limit.as_millis() as i64;
    let (mut pending, none): (Vec<&Job>, Vec<&Job>) = accepted.into_iter().partition(|j| j.task_id.is_some());
    r.cannot_tell = none.len();
    let mut polls = 0;
    loop {
        let mut still = Vec::new();
        for j in pending {
            let asked = clock.now_ms();
            let state = api.task_state(j).await;
            tracing::debug!(
                task = j.task_id.as_deref().unwrap_or(""),
                kind = %j.kind,
                area = %j.area,
                latency_ms = clock.now_ms() - asked,
                state = ?state,
                "task polled"
            );
            match state {
                Ok(Some(TaskState::Done)) => r.done += 1,
                Ok(Some(TaskState::Failed)) => r.failed.push(TaskRef::of(j)),
                Ok(None) => r.cannot_tell += 1,
                // Still running, or the question failed: ask again next round.
                Ok(Some(TaskState::Processing)) | Err(_) => still.push(j),
            }
        }
        pending = still;
        let elapsed = clock.now_ms() - start;
        progress.waited(r.tasks - pending.len(), r.tasks, elapsed);
        if pending.is_empty() || clock.now_ms() >= until {
            r.running = pending.into_iter().map(TaskRef::of).collect();
            r.waited_secs = (elapsed.max(0) / 1000) as u64;
            return r;
        }
        polls += 1;
        let left = Duration::from_millis((until - clock.now_ms()).max(0) as u64);
        clock.sleep(TASK_POLL.delay(polls, None).min(left.max(Duration::from_millis(1)))).await;
    }
}
