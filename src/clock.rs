//! Time, behind a seam: the only place that reads the system clock or sleeps.
//!
//! Everything that decides by time (rate limits, backoff, quota resets, settle windows) takes a
//! `now` value or a [`Clock`], so tests run on a [`ManualClock`] without sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A boxed future returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Wall-clock time and sleeping.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Wait for `d` (a manual clock just moves forward).
    fn sleep(&self, d: Duration) -> SleepFuture;

    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one allowed reader of the system clock
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        d.as_millis() as i64
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that only moves when told to, or when something sleeps on it.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `start_ms` (ms since the epoch).
    pub fn new(start_ms: i64) -> Self {
        ManualClock { now: Arc::new(AtomicI64::new(start_ms)) }
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }

    /// Jump to `ms`.
    pub fn set_ms(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        self.advance(d);
        Box::pin(async {})
    }
}

/// Offset of China Standard Time from UTC, in seconds: Tencent's daily quotas reset at 00:00 CST.
pub const CST_OFFSET_SECS: i64 = 8 * 3600;

/// The next 00:00 China Standard Time strictly after `unix` (Unix seconds).
pub fn next_quota_reset(unix: i64) -> i64 {
    let local = unix + CST_OFFSET_SECS;
    let day_start = local.div_euclid(86_400) * 86_400;
    day_start + 86_400 - CST_OFFSET_SECS
}

/// The quota day (days since epoch in CST) that `unix` falls in.
pub fn quota_day(unix: i64) -> i64 {
    (unix + CST_OFFSET_SECS).div_euclid(86_400)
}

/// The civil date and time of `unix` seen from a zone `offset_secs` east of UTC (an offset
/// outside ±26 h, or a time outside the years 1–9999, is clamped rather than a panic).
fn civil(unix: i64, offset_secs: i64) -> time::PrimitiveDateTime {
    let at = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(if unix < 0 {
        time::OffsetDateTime::UNIX_EPOCH
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    });
    let offset = time::UtcOffset::from_whole_seconds(offset_secs.clamp(-93_599, 93_599) as i32).unwrap_or(time::UtcOffset::UTC);
    let local = at.checked_to_offset(offset).unwrap_or(at);
    time::PrimitiveDateTime::new(local.date(), local.time())
}

/// `YYYY-MM-DD hh:mm:ss`, the form of Tencent's CDN task times.
const DATETIME: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// `YYYY-MM-DD` of a Unix time in UTC (the TC3 credential scope date).
pub fn utc_date(unix: i64) -> String {
    let d = civil(unix, 0).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// `YYYY-MM-DD hh:mm:ss` of a Unix time shifted by `offset_secs` (Tencent's task times are CST).
pub fn datetime(unix: i64, offset_secs: i64) -> String {
    civil(unix, offset_secs).format(DATETIME).unwrap_or_default()
}

/// ISO 8601 with an explicit offset, `YYYY-MM-DDThh:mm:ss+hh:mm` (`Z` for UTC), of a Unix time
/// in a zone `offset_secs` east of UTC (EdgeOne's task times).
pub fn iso8601(unix: i64, offset_secs: i64) -> String {
    let zone = if offset_secs == 0 {
        "Z".to_string()
    } else {
        let (sign, off) = if offset_secs < 0 { ('-', -offset_secs) } else { ('+', offset_secs) };
        format!("{sign}{:02}:{:02}", off / 3600, off % 3600 / 60)
    };
    datetime(unix, offset_secs).replacen(' ', "T", 1) + &zone
}

/// Parse RFC 3339 (ISO 8601 with a `Z` or `±hh:mm` offset, optionally a fraction of a second)
/// back to Unix seconds. A time without an offset is refused: it would be a guess.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    // RFC 3339 lets a space stand for the `T`; ISO 8601 (what EdgeOne speaks) does not.
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// Parse `YYYY-MM-DD hh:mm:ss` in a zone `offset_secs` east of UTC back to Unix seconds.
pub fn parse_datetime(s: &str, offset_secs: i64) -> Option<i64> {
    let t = time::PrimitiveDateTime::parse(s, DATETIME).ok()?;
    Some(t.assume_utc().unix_timestamp() - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        for (unix, want) in [
            (0, "1970-01-01"),
            (1_700_000_000, "2023-11-14"),
            (1_704_124_800, "2024-01-01"),
            (1_735_689_599, "2024-12-31"),
            (951_782_400, "2000-02-29"),
        ] {
            assert_eq!(utc_date(unix), want, "unix {unix}");
        }
    }

    #[test]
    fn quota_resets_at_cst_midnight() {
        // 2024-01-01T16:00:00Z is 2024-01-02 00:00 in Beijing.
        assert_eq!(next_quota_reset(1_704_124_799), 1_704_124_800);
        assert_eq!(next_quota_reset(1_704_124_800), 1_704_124_800 + 86_400);
        assert_eq!(quota_day(1_704_124_799) + 1, quota_day(1_704_124_800));
    }

    #[test]
    fn datetime_round_trips() {
        for unix in [0, 1_700_000_000, 1_704_124_800, 1_735_689_599] {
            let s = datetime(unix, CST_OFFSET_SECS);
            assert_eq!(parse_datetime(&s, CST_OFFSET_SECS), Some(unix), "{s}");
        }
        assert_eq!(datetime(1_704_124_800, CST_OFFSET_SECS), "2024-01-02 00:00:00");
        assert_eq!(parse_datetime("2024-13-01 00:00:00", 0), None);
        assert_eq!(parse_datetime("2024-02-30 00:00:00", 0), None, "no such day");
        assert_eq!(parse_datetime("2024-01-01T00:00:00", 0), None);
        // Far outside any real clock: clamped, never a panic.
        assert_eq!(utc_date(i64::MIN), "1970-01-01");
        assert!(datetime(i64::MAX, CST_OFFSET_SECS).starts_with("9999-12-31"));
    }

    #[test]
    fn iso8601_round_trips_with_offsets() {
        assert_eq!(iso8601(1_767_196_800, CST_OFFSET_SECS), "2026-01-01T00:00:00+08:00");
        assert_eq!(iso8601(1_767_196_800, 0), "2025-12-31T16:00:00Z");
        assert_eq!(iso8601(0, -5 * 3600 - 1800), "1969-12-31T18:30:00-05:30");
        for unix in [0, 1_700_000_000, 1_767_196_800] {
            for off in [0, CST_OFFSET_SECS, -3600] {
                assert_eq!(parse_iso8601(&iso8601(unix, off)), Some(unix), "{}", iso8601(unix, off));
            }
        }
        assert_eq!(parse_iso8601("2025-12-31T16:00:00.250Z"), Some(1_767_196_800));
        for bad in ["2025-12-31 16:00:00Z", "2025-12-31T16:00:00", "2025-12-31T16:00:00+8", "2025-12-31T16:00:00+24:00", "", "2025-12-31T1"]
        {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn manual_clock_moves_on_sleep() {
        let c = ManualClock::new(1000);
        drop(c.sleep(Duration::from_millis(250)));
        assert_eq!(c.now_ms(), 1250);
    }
}
