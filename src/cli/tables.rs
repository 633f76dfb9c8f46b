//! Human forms that need more than a line: tables (`outbox`, `status --tasks`), the end of a
//! `--wait`, when a deferred job goes out in local time, the rate of a progress bar, and whether
//! stderr is journald's (`docs/cli.md`, "Output streams").

use std::fmt::Write as _;
use std::sync::OnceLock;

use cdnsync::clock::{self, Clock};
use cdnsync::report::{TaskRef, WaitReport};
use cdnsync::JobReport;

/// The machine's UTC offset at the next quota reset, read once at start-up (the `time` crate
/// reads it only while the process is single-threaded); `None` when it cannot be known.
static LOCAL_OFFSET: OnceLock<Option<time::UtcOffset>> = OnceLock::new();

/// Learn the local offset now, before any thread starts.
pub fn learn_local_offset() {
    let reset = clock::next_quota_reset(clock::SystemClock.now_unix());
    let at = time::OffsetDateTime::from_unix_timestamp(reset).ok();
    let _ = LOCAL_OFFSET.set(at.and_then(|t| time::UtcOffset::local_offset_at(t).ok()));
}

/// `"+01:00"` / `"-05:30"` / `"+00:00"`.
fn offset_text(o: time::UtcOffset) -> String {
    let (h, m, _) = o.as_hms();
    format!("{}{:02}:{:02}", if o.is_negative() { '-' } else { '+' }, h.unsigned_abs(), m.unsigned_abs())
}

/// When a deferred job goes: `2026-11-24 00:00 China Standard Time (2026-11-23 17:00 here, UTC+01:00)`.
pub fn goes_at(unix: i64) -> String {
    let cst = clock::datetime(unix, clock::CST_OFFSET_SECS);
    let cst = &cst[..cst.len().saturating_sub(3)];
    let local = match LOCAL_OFFSET.get().copied().flatten() {
        Some(o) => {
            let t = clock::datetime(unix, i64::from(o.whole_seconds()));
            format!("{} here, UTC{}", &t[..t.len().saturating_sub(3)], offset_text(o))
        }
        None => {
            let t = clock::datetime(unix, 0);
            format!("{} UTC", &t[..t.len().saturating_sub(3)])
        }
    };
    format!("{cst} China Standard Time ({local})")
}

/// Is stderr the journal's stream (`$JOURNAL_STREAM` names its device and inode)? Then each line
/// is stamped by journald and needs no time of its own.
pub fn stderr_is_journald() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else { return false };
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
        let Ok(md) = std::fs::File::from(fd).metadata() else { return false };
        dev.parse() == Ok(md.dev()) && ino.parse() == Ok(md.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (dev, ino);
        false
    }
}

/// Rows under a header, each column as wide as its widest cell. Cells come from outside (hosts,
/// task IDs, the API's messages): control characters are shown escaped.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cdnsync::text::printable(c).into_owned()).collect()).collect();
    let rows = &rows;
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            l += c;
            l.extend(std::iter::repeat_n(' ', pad + 2));
        }
        *s += l.trim_end();
        s.push('\n');
    };
    line(&mut s, &mut header.iter().copied());
    for r in rows {
        line(&mut s, &mut r.iter().map(String::as_str));
    }
    s
}

/// `cdnsync outbox`: one row per owed job, then each one's error in full.
pub fn outbox(jobs: &[JobReport]) -> String {
    if jobs.is_empty() {
        return "nothing is owed\n".to_string();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let error = match (&j.error, j.not_before_unix) {
                (_, Some(t)) if j.status == cdnsync::model::JobStatus::Deferred => format!("goes out after {}", goes_at(t)),
                (Some(e), _) => format!("{}: {}", e.code, e.message),
                (None, _) => String::new(),
            };
            vec![
                j.id.clone(),
                j.status.to_string(),
                j.kind.to_string(),
                j.area.to_string(),
                j.host.clone(),
                j.urls.len().to_string(),
                error,
            ]
        })
        .collect();
    let mut s = table(&["ID", "STATUS", "KIND", "AREA", "HOST", "URLS", "ERROR"], &rows);
    if jobs.iter().any(|j| j.status == cdnsync::model::JobStatus::Failed) {
        s += "failed jobs wait for you: fix the cause and `cdnsync outbox retry --failed`, or `cdnsync outbox drop --failed`\n";
    }
    s
}

/// `status --tasks`: the recent tasks as a table.
pub fn tasks(tasks: &[serde_json::Value]) -> String {
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> =
        tasks.iter().map(|t| ["task_id", "kind", "area", "host", "urls", "state"].iter().map(|k| cell(&t[*k])).collect()).collect();
    table(&["TASK", "KIND", "AREA", "HOST", "URLS", "STATE"], &rows)
}

fn names(tasks: &[TaskRef]) -> String {
    let mut s = String::new();
    for (i, t) in tasks.iter().enumerate() {
        if i > 0 {
            s += ", ";
        }
        let id = cdnsync::text::printable(t.task_id.as_deref().unwrap_or(&t.id));
        let _ = write!(s, "{id} ({} {} {})", t.kind, t.area, cdnsync::text::printable(&t.host));
    }
    s
}

/// The end of a `--wait`.
pub fn wait_end(w: &WaitReport) -> String {
    let mut s = String::new();
    let n = w.tasks;
    if n == 0 {
        return "no task to wait for\n".into();
    }
    match w.finished() {
        Some(true) if w.cannot_tell == 0 => {
            let _ = writeln!(s, "all {n} tasks finished ({} s)", w.waited_secs);
        }
        None => {
            let _ = writeln!(
                s,
                "waited {} s: this API cannot report task progress, so whether the {n} tasks finished cannot be told",
                w.waited_secs
            );
        }
        _ => {
            let _ = writeln!(s, "{} of {n} tasks finished well ({} s)", w.done, w.waited_secs);
        }
    }
    if !w.failed.is_empty() {
        let _ =
            writeln!(s, "{} task(s) FAILED at the CDN (nothing was purged or prefetched for them): {}", w.failed.len(), names(&w.failed));
    }
    if !w.running.is_empty() {
        let _ =
            writeln!(s, "{} task(s) still running when --wait gave up after {} s: {}", w.running.len(), w.waited_secs, names(&w.running));
    }
    if w.cannot_tell > 0 && w.done > 0 {
        let _ = writeln!(s, "{} task(s) could not be asked about", w.cannot_tell);
    }
    s
}

/// A rate as people read it: `3.4/s`, `56/s`, `1.2k/s`, `34k/s`, `1.5M/s`.
pub fn human_rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        return "0/s".into();
    }
    let (v, unit) = if per_sec >= 1e6 {
        (per_sec / 1e6, "M")
    } else if per_sec >= 1e3 {
        (per_sec / 1e3, "k")
    } else {
        (per_sec, "")
    };
    if v < 10.0 {
        format!("{v:.1}{unit}/s")
    } else {
        format!("{v:.0}{unit}/s")
    }
}

/// `status`'s fleet lines: the group, then one line per member.
pub fn fleet(f: &cdnsync::report::FleetStatus) -> String {
    use super::render::p;
    let mut s = format!("fleet: group {}, this member {}\n", p(&f.group), p(&f.member));
    if let Some(e) = &f.error {
        s += &format!("  members unknown: {}\n", p(e));
    }
    for m in &f.members {
        let state = match (m.live, m.ready) {
            (false, _) => "gone",
            (true, false) => "joining",
            (true, true) => "live",
        };
        s += &format!(
            "  {} {state}, last seen {} UTC+8",
            p(&m.name),
            cdnsync::clock::datetime(m.last_seen_unix, cdnsync::clock::CST_OFFSET_SECS)
        );
        if let (Some(d), Some(t)) = (&m.last_deploy, m.last_deploy_unix) {
            s += &format!(", last deploy {} ({} UTC+8)", p(d), cdnsync::clock::datetime(t, cdnsync::clock::CST_OFFSET_SECS));
        }
        match m.behind_secs {
            Some(b) if b > 0 => s += &format!(", {b} s behind the newest"),
            _ => {}
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_numbers() {
        let cases = [
            (0.0, "0/s"),
            (3.44, "3.4/s"),
            (56.2, "56/s"),
            (999.4, "999/s"),
            (1234.5678, "1.2k/s"),
            (34_567.0, "35k/s"),
            (1.5e6, "1.5M/s"),
        ];
        for (v, want) in cases {
            assert_eq!(human_rate(v), want, "{v}");
        }
        assert_eq!(human_rate(f64::NAN), "0/s");
    }

    #[test]
    fn tables_align_and_times_are_local() {
        let t = table(&["A", "BB"], &[vec!["long cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(t, "A          BB\nlong cell  x\ny          z\n");
        // 2023-11-15 00:00 CST = 2023-11-14 16:00 UTC.
        let _ = LOCAL_OFFSET.set(time::UtcOffset::from_hms(1, 0, 0).ok());
        assert_eq!(goes_at(1_699_977_600), "2023-11-15 00:00 China Standard Time (2023-11-14 17:00 here, UTC+01:00)");
    }
}
