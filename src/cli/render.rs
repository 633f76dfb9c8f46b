//! Output (`docs/cli.md`, "Output streams"): results on stdout (the JSON of `docs/json.md` with
//! `--json`, else the human text), diagnostics and progress on stderr. No decisions are made here.
//!
//! Everything that came from outside (file names, URLs, hosts, task IDs, the API's messages,
//! warnings and notes quoting them) goes through [`p`] before it reaches the terminal: control
//! characters are shown escaped (`cdnsync::text`). JSON needs no such care.

use std::borrow::Cow;
use std::io::IsTerminal;

use serde_json::json;

use super::{out, tables};

use cdnsync::api::{CdnApi, TaskState};
use cdnsync::model::{Job, JobKind, JobStatus, QuotaBook};
use cdnsync::Error;
use cdnsync::Progress;
use cdnsync::{Engine, Report, StatusReport};

/// How to print.
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
}

fn print_json(v: &serde_json::Value) {
    out::stdout(&(serde_json::to_string_pretty(v).expect("JSON serialises") + "\n"));
}

/// `watch --json`: one JSON line per sync, written as it ends (NDJSON), the run report with
/// `event` (`sync` or `sync_failed`) and `at_unix`.
pub fn ndjson_sink() -> cdnsync::watch::Sink {
    use cdnsync::clock::Clock;
    cdnsync::watch::Sink(std::sync::Arc::new(|ev: cdnsync::watch::WatchEvent<'_>| {
        let at = cdnsync::clock::SystemClock.now_unix();
        let mut v = match ev {
            cdnsync::watch::WatchEvent::Synced(r) => {
                let mut v = serde_json::to_value(r).expect("report serialises");
                v["event"] = json!("sync");
                v
            }
            cdnsync::watch::WatchEvent::Failed(e) => {
                json!({"event": "sync_failed", "error": {"message": e.to_string(), "exit_code": e.exit_code()}})
            }
        };
        v["at_unix"] = json!(at);
        out::stdout(&format!("{v}\n"));
    }))
}

/// A failed command under `--json` still prints one JSON document.
pub fn json_error(e: &Error) {
    print_json(&json!({"error": {"message": e.to_string(), "exit_code": e.exit_code()}}));
}

const SHOW_URLS: usize = 10;

/// Outside text, safe to print.
pub(super) fn p(s: &str) -> Cow<'_, str> {
    cdnsync::text::printable(s)
}

/// A failed command's message on stderr: cdnsync's own multi-line messages (config errors, the
/// credential sources tried) keep their lines; any other is one line.
pub fn error_line(e: &Error) -> String {
    let text = e.to_string();
    let shown = match e {
        Error::Config(_) | Error::Credentials(_) => cdnsync::text::printable_lines(&text),
        _ => cdnsync::text::printable(&text),
    };
    format!("cdnsync: {shown}")
}

impl Output {
    /// The report of `plan`, `sync`, `purge` or `prefetch`.
    pub fn report(&self, command: &str, r: &Report) {
        if self.json {
            print_json(&serde_json::to_value(r).expect("report serialises"));
        }
        if self.quiet {
            for j in r.jobs.iter().filter(|j| j.status == JobStatus::Failed) {
                out::stderr(&format!(
                    "failed: {} {} {}: {}\n",
                    j.action,
                    j.area,
                    p(&j.host),
                    j.error.as_ref().map(|e| format!("{}: {}", p(&e.code), p(&e.message))).unwrap_or_default()
                ));
            }
            return;
        }
        let mut s = String::new();
        if command == "plan" || command == "sync" {
            s += &format!("scanned {} files ({} hashed, {} from the stat cache)\n", r.scan.files, r.scan.hashed, r.scan.reused);
            let c = &r.changes;
            s += &format!(
                "changes: {} added, {} modified, {} removed, {} unchanged\n",
                c.added.len(),
                c.modified.len(),
                c.removed.len(),
                c.unchanged
            );
            if self.verbose > 0 {
                for (label, list) in [("added", &c.added), ("modified", &c.modified), ("removed", &c.removed)] {
                    for path in list {
                        s += &format!("  {label:>8} {}\n", p(path));
                    }
                }
            }
        }
        let mut diag = String::new();
        for w in &r.warnings {
            diag += &format!("warning: {}\n", p(w));
        }
        if self.verbose > 0 {
            s += &links_outside(&r.links_outside);
        } else if !r.links_outside.is_empty() {
            s += &format!("note: {} symlink(s) lead out of publish_dir (`cdnsync plan -v` names them)\n", r.links_outside.len());
        }
        for n in &r.notes {
            s += &format!("note: {}\n", p(n));
        }
        if r.jobs.is_empty() {
            s += "nothing to send\n";
        }
        for j in &r.jobs {
            let task = j.task_id.as_ref().map(|t| format!(" (task {})", p(t))).unwrap_or_default();
            s += &format!("{} {} {} {}: {} URL(s), {}{}\n", j.action, j.kind, j.area, p(&j.host), j.urls.len(), j.status, task);
            if let Some(e) = &j.error {
                s += &format!("  {}: {}\n", p(&e.code), p(&e.message));
            }
            if let (JobStatus::Deferred, Some(t)) = (j.status, j.not_before_unix) {
                s += &format!("  goes out after {}\n", tables::goes_at(t));
            }
            let limit = if self.verbose > 0 { usize::MAX } else { SHOW_URLS };
            for u in j.urls.iter().take(limit) {
                s += &format!("  {}\n", p(u));
            }
            if j.urls.len() > limit {
                s += &format!("  … and {} more (-v lists them all)\n", j.urls.len() - limit);
            }
        }
        if command == "plan" {
            let used: Vec<String> = quota_spent(r).map(|(k, before, after)| format!("{k}: {before} -> {after}")).collect();
            if !used.is_empty() {
                s += &format!("quota (last known): {}\n", used.join(", "));
            }
        }
        if command != "plan" {
            s += &summary_line(r);
        }
        s += &held_lines(r);
        let o = &r.outbox;
        s += &format!("owed: {} pending, {} deferred, {} failed\n", o.pending, o.deferred, o.failed);
        if let Some(w) = &r.wait {
            s += &tables::wait_end(w);
        }
        out::result(self.json, &s);
        out::stderr(&diag);
    }

    pub fn status(&self, st: &StatusReport) {
        if self.json {
            print_json(&serde_json::to_value(st).expect("status serialises"));
            return;
        }
        let mut s = format!("state: {}\n", p(&st.state_dir));
        match st.tracked_files {
            Some(n) => s += &format!("tracked files: {n}\n"),
            None => s += "tracked files: none yet (no sync has run)\n",
        }
        if let Some(t) = st.last_deploy_unix {
            s += &format!("last deploy: {} UTC+8\n", cdnsync::clock::datetime(t, cdnsync::clock::CST_OFFSET_SECS));
        }
        if let Some(c) = &st.credentials {
            // cdnsync's own message, one line per place looked at.
            s += &format!("credentials: {}\n", cdnsync::text::printable_lines(c));
        }
        let o = &st.outbox;
        s += &format!("owed: {} pending, {} deferred, {} failed\n", o.pending, o.deferred, o.failed);
        if let Some(f) = &st.fleet {
            s += &tables::fleet(f);
        }
        for j in &st.jobs {
            s += &format!("  {} {} {} {} {}: {} URL(s)", p(&j.id), j.status, j.action, j.area, p(&j.host), j.urls.len());
            if let Some(e) = &j.error {
                s += &format!(" — {}: {}", p(&e.code), p(&e.message));
            }
            s.push('\n');
        }
        if !st.tasks.is_empty() {
            s += &tables::tasks(&st.tasks);
        }
        if let Some(last) = st.dropped.last() {
            let urls: usize = st.dropped.iter().map(|d| d.job.urls.len()).sum();
            s += &format!(
                "given up (outbox drop): {} job(s), {urls} URL(s) never sent; the last at {} UTC+8: {} {} {}\n",
                st.dropped.len(),
                cdnsync::clock::datetime(last.dropped_unix, cdnsync::clock::CST_OFFSET_SECS),
                last.job.kind,
                last.job.area,
                last.job.host
            );
        }
        s += &links_outside(&st.links_outside);
        out::stdout(&s);
        for w in &st.warnings {
            out::stderr(&format!("warning: {}\n", p(w)));
        }
    }

    /// When the watcher stops.
    pub fn watch_summary(&self, s: &cdnsync::watch::WatchSummary) {
        if self.json {
            // The last line of the NDJSON stream.
            let v = json!({"event": "stopped", "syncs": s.syncs, "failed_syncs": s.failed_syncs, "owed": s.owed_at_exit});
            out::stdout(&format!("{v}\n"));
        } else if !self.quiet {
            out::stderr(&format!(
                "cdnsync watch stopped after {} sync(s) ({} failed); {} job(s) owed\n",
                s.syncs, s.failed_syncs, s.owed_at_exit
            ));
        }
    }

    pub fn quota(&self, q: &QuotaBook) {
        if self.json {
            print_json(&serde_json::to_value(q).expect("quota serialises"));
            return;
        }
        let mut s = String::new();
        for (k, e) in &q.entries {
            let k = p(k);
            s += &format!("{k:<24} {:>6} of {:>6} left today (at most {} per request)\n", e.available, e.total, e.batch);
        }
        s += "daily quotas reset at 00:00 China Standard Time (UTC+8)\n";
        out::stdout(&s);
    }
}

/// States of the recently accepted tasks (`status --tasks`).
pub async fn task_states<A: CdnApi>(e: &Engine<A>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for j in e.recent_accepted() {
        let state = match e.api.task_state(&j).await {
            Ok(Some(TaskState::Done)) => "done".to_string(),
            Ok(Some(TaskState::Processing)) => "process".to_string(),
            Ok(Some(TaskState::Failed)) => "fail".to_string(),
            Ok(None) => "unknown (this API cannot be asked)".to_string(),
            Err(f) => format!("could not ask: {f}"),
        };
        out.push(
            json!({"id": j.id, "kind": j.kind, "area": j.area, "host": j.host, "task_id": j.task_id, "urls": j.urls.len(), "state": state}),
        );
    }
    out
}

/// Progress bars on stderr (hashing, then submitting), only when stderr is a terminal and
/// neither `--json` nor `-q` was given.
/// Off a terminal, `--wait` prints a line every [`LINE_EVERY_MS`] instead of a bar.
pub struct Bars {
    on: bool,
    lines: bool,
    last_line_ms: std::sync::Mutex<i64>,
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

/// How often `--wait` prints a progress line when stderr is not a terminal.
pub const LINE_EVERY_MS: i64 = 5000;

impl Bars {
    pub fn new(wanted: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Bars { on: wanted && tty, lines: wanted && !tty, last_line_ms: Default::default(), bar: Default::default() }
    }

    fn start(&self, len: usize, what: &str) {
        if !self.on || len == 0 {
            return;
        }
        let style = indicatif::ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {rate} eta {eta}")
            .expect("valid template")
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&tables::human_rate(s.per_sec()));
            })
            .progress_chars("=> ");
        let bar = indicatif::ProgressBar::new(len as u64).with_style(style).with_message(what.to_string());
        if let Some(old) = self.bar.lock().expect("bar").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn inc(&self) {
        if let Some(b) = self.bar.lock().expect("bar").as_ref() {
            b.inc(1);
        }
    }

    /// Clear the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar").take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn hashing(&self, files: usize) {
        self.start(files, "hashing");
    }

    fn hashed(&self) {
        self.inc();
    }

    fn submitting(&self, jobs: usize) {
        self.start(jobs, "submitting");
    }

    fn job_done(&self, _job: &Job) {
        self.inc();
    }

    fn waiting(&self, tasks: usize) {
        self.start(tasks, "waiting");
        if self.lines {
            out::stderr(&format!("waiting for {tasks} task(s) to finish at the CDN\n"));
        }
    }

    fn waited(&self, finished: usize, tasks: usize, elapsed_ms: i64) {
        if let Some(b) = self.bar.lock().expect("bar").as_ref() {
            b.set_position(finished as u64);
        }
        let mut last = self.last_line_ms.lock().expect("line time");
        if self.lines && elapsed_ms - *last >= LINE_EVERY_MS {
            *last = elapsed_ms;
            out::stderr(&format!("waiting: {finished} of {tasks} task(s) finished after {} s\n", elapsed_ms / 1000));
        }
    }
}

/// The owed jobs a run did not send, and what to do about them.
fn held_lines(r: &Report) -> String {
    if r.held.is_empty() {
        return String::new();
    }
    let failed = r.held.iter().filter(|j| j.status == JobStatus::Failed).count();
    let mut s = format!("held from earlier runs (not this run's exit code): {} job(s), {failed} failed\n", r.held.len());
    for j in &r.held {
        s += &format!("  {} {} {} {} {}: {} URL(s)", p(&j.id), j.status, j.action, j.area, p(&j.host), j.urls.len());
        if let Some(e) = &j.error {
            s += &format!(" — {}: {}", p(&e.code), p(&e.message));
        }
        s.push('\n');
    }
    s
}

/// "links out of publish_dir:" and one line per link, or nothing.
fn links_outside(links: &[cdnsync::model::OutsideLink]) -> String {
    let mut s = String::new();
    if !links.is_empty() {
        s += "symlinks leading out of publish_dir:\n";
    }
    for l in links {
        let how = if l.followed { "followed" } else { "not followed" };
        s += &format!("  {} -> {} ({how})\n", p(&l.path), p(&l.target));
    }
    s
}

/// The quotas a report's jobs spend: (`kind/area`, before, after).
fn quota_spent(r: &Report) -> impl Iterator<Item = (&String, u64, u64)> {
    r.quota_after.iter().filter_map(|(k, &after)| r.quota_before.get(k).filter(|&&b| b != after).map(|&b| (k, b, after)))
}

/// "sent 4 request(s); purged mainland 12 URL(s), overseas 12 URL(s); quota left …" for a run
/// that submitted.
pub fn summary_line(r: &Report) -> String {
    use std::collections::BTreeMap;
    // (verb, area, unit) -> URLs; verbs sorted so that "purged" comes before "prefetched".
    let mut per: BTreeMap<(std::cmp::Reverse<&str>, &str, &str), usize> = BTreeMap::new();
    for j in r.jobs.iter().filter(|j| j.status == JobStatus::Accepted) {
        let verb = if j.kind == JobKind::PrefetchUrls { "prefetched" } else { "purged" };
        let unit = if j.kind == JobKind::PurgePaths { "dir(s)" } else { "URL(s)" };
        *per.entry((std::cmp::Reverse(verb), j.area.as_str(), unit)).or_default() += j.urls.len();
    }
    let mut parts = vec![format!("sent {} request(s)", r.requests)];
    let mut verbs: BTreeMap<std::cmp::Reverse<&str>, Vec<String>> = BTreeMap::new();
    for ((verb, area, unit), n) in per {
        verbs.entry(verb).or_default().push(format!("{area} {n} {unit}"));
    }
    for (verb, list) in verbs {
        parts.push(format!("{} {}", verb.0, list.join(", ")));
    }
    let left: Vec<String> = quota_spent(r).map(|(k, _, after)| format!("{k} {after}")).collect();
    if !left.is_empty() {
        parts.push(format!("quota left today (estimated): {}", left.join(", ")));
    }
    parts.join("; ") + "\n"
}
