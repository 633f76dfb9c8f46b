//! What the emulated account knows and remembers: its domains, quotas and their daily reset at
//! 00:00 UTC+8, the rate-limit windows, the jobs it accepted and their task status, the queue of
//! injected faults (and the random ones), and the v2 Nonces already used.
//!
//! Every product handler (`v3.rs`, `v2.rs`) asks the account rather than keeping its own books,
//! so that both APIs draw on the same quota, as they do on a real account.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::{AcceptedJob, FakeConfig, Fault, FaultRule};
use crate::clock;
use crate::model::{limits, Api, Area, JobKind, QuotaBook};

// --- The documented limits the fake enforces ---------------------------------------------------
// From the crate's one table (`model::limits`). API 3.0 batch sizes and daily totals come from
// `FakeConfig::quota` (`QuotaBook::documented_v3()` unless a test sets others).

/// API 3.0: requests per second per action (the default of `FakeConfig::rate_per_sec`).
pub(super) const V3_RATE_PER_SEC: usize = limits::V3_REQUESTS_PER_SECOND as usize;
/// Legacy v2: requests per minute per action (the default of `FakeConfig::v2_rate_per_min`).
pub(super) const V2_RATE_PER_MIN: usize = limits::V2_REQUESTS_PER_MINUTE as usize;
/// Both APIs refuse a request whose timestamp is further than this from the server's clock.
pub(super) const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// API 3.0: tasks a `Describe*Tasks` page holds when `Limit` is not given.
pub(super) const V3_TASK_PAGE: usize = 20;

/// v2: the most URLs (or directories) one call of `kind` carries; `dedicated` for the overseas
/// actions (`RefreshCdnOverSeaUrl`, `CdnOverseaPushser`).
pub(super) fn v2_batch(kind: JobKind, dedicated: bool) -> u64 {
    let area = if dedicated { Area::Overseas } else { Area::Mainland };
    limits::documented(Api::V2, kind, area, dedicated).batch
}

/// The v2 daily total of `kind` in one area.
pub(super) fn v2_daily_total(kind: JobKind) -> u64 {
    limits::documented(Api::V2, kind, Area::Mainland, false).daily
}

/// Why a list of URLs was refused: an API 3.0 error code and a message naming the URL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UrlRefused {
    pub code: &'static str,
    pub message: String,
}

/// The state of the emulated account.
pub(super) struct Account {
    pub cfg: FakeConfig,
    /// Every job accepted, oldest first.
    pub accepted: Vec<AcceptedJob>,
    /// Injected faults, applied in order.
    pub(super) rules: VecDeque<FaultRule>,
    /// Quota used today, keyed like [`QuotaBook`].
    used: HashMap<String, u64>,
    /// The quota day (days since the epoch in UTC+8) `used` counts.
    day: i64,
    /// Times (ms) of the recent requests, per rate-limit key.
    recent: HashMap<String, VecDeque<i64>>,
    /// (SecretId, Nonce) pairs seen by the v2 API.
    nonces: HashSet<(String, String)>,
    rng: fastrand::Rng,
    /// Tasks handed out so far (task IDs are numbered).
    seq: u64,
    /// EdgeOne's tasks, one per target (its quota use is in `used`, keyed `teo/zone/type`).
    pub teo: super::teo::Tasks,
}

impl Account {
    /// A fresh account: nothing used, accepted or queued.
    pub fn new(cfg: FakeConfig) -> Account {
        let rng = fastrand::Rng::with_seed(cfg.seed);
        let day = clock::quota_day(cfg.clock.now_unix());
        Account {
            cfg,
            accepted: Vec::new(),
            rules: VecDeque::new(),
            used: HashMap::new(),
            day,
            recent: HashMap::new(),
            nonces: HashSet::new(),
            rng,
            seq: 0,
            teo: Default::default(),
        }
    }

    /// Forget the quota used when the clock has passed 00:00 UTC+8 since the last request.
    pub fn roll_day(&mut self) {
        let today = clock::quota_day(self.cfg.clock.now_unix());
        if today != self.day {
            self.day = today;
            self.used.clear();
        }
    }

    /// Forget all quota used (the daily reset, on demand).
    pub fn reset_quota(&mut self) {
        self.used.clear();
    }

    /// Queue a fault behind those already queued.
    pub fn inject(&mut self, rule: FaultRule) {
        self.rules.push_back(rule);
    }

    /// The fault for a request of `action`, if any: the first queued rule that matches it (whose
    /// count goes down by one, and which leaves the queue at zero), else a random transient fault
    /// at `cfg.fault_rate` (never on `Describe*`, which only read).
    pub fn take_fault(&mut self, action: &str) -> Option<Fault> {
        if let Some(i) = self.rules.iter().position(|r| r.action.as_deref().is_none_or(|a| a == action)) {
            let r = &mut self.rules[i];
            let fault = r.fault.clone();
            r.count = r.count.saturating_sub(1);
            if r.count == 0 {
                self.rules.remove(i);
            }
            return Some(fault);
        }
        if self.cfg.fault_rate > 0.0 && !action.starts_with("Describe") && self.rng.f64() < self.cfg.fault_rate {
            return Some(match self.rng.u32(0..4) {
                0 => Fault::Http(503),
                1 => Fault::ApiError("InternalError".into()),
                2 => Fault::ApiError("RequestLimitExceeded".into()),
                _ => Fault::Drop,
            });
        }
        None
    }

    /// Temporary credentials with this SecretId that a fake STS or metadata service issued.
    pub fn temporary(&self, secret_id: &str) -> Option<super::sts::Issued> {
        self.cfg.issuers.iter().find_map(|i| i.find(secret_id))
    }

    /// A fresh `RequestId`.
    pub fn request_id(&mut self) -> String {
        format!("fake-{}", self.rng.u64(..))
    }

    /// Count a request under `key` if fewer than `max` were counted in the last `window_ms`;
    /// `false` (and not counted) when the window is full.
    pub fn rate_ok(&mut self, key: String, window_ms: i64, max: usize) -> bool {
        let now = self.cfg.clock.now_ms();
        let q = self.recent.entry(key).or_default();
        while q.front().is_some_and(|&t| t <= now - window_ms) {
            q.pop_front();
        }
        if q.len() >= max {
            return false;
        }
        q.push_back(now);
        true
    }

    /// Record a v2 (SecretId, Nonce) pair; `false` when it was used before (a replay).
    pub fn nonce_fresh(&mut self, secret_id: &str, nonce: &str) -> bool {
        self.nonces.insert((secret_id.to_string(), nonce.to_string()))
    }

    /// URLs or paths of `kind` sent today in `area`.
    pub fn used(&self, kind: JobKind, area: Area) -> u64 {
        self.used.get(&QuotaBook::key(kind, area)).copied().unwrap_or(0)
    }

    /// Quota used today under a product's own `key` (EdgeOne: `teo/zone/type`).
    pub fn used_key(&self, key: &str) -> u64 {
        self.used.get(key).copied().unwrap_or(0)
    }

    /// Count `n` more used today under `key`.
    pub fn charge(&mut self, key: String, n: u64) {
        *self.used.entry(key).or_default() += n;
    }

    /// Make the use today under `key` exactly `n`.
    pub fn set_used(&mut self, key: String, n: u64) {
        self.used.insert(key, n);
    }

    /// What is left today of the API 3.0 daily total of `kind` in `area`.
    pub fn available(&self, kind: JobKind, area: Area) -> u64 {
        let total = self.cfg.quota.get(kind, area).map_or(0, |q| q.total);
        total.saturating_sub(self.used(kind, area))
    }

    /// Make what is left today of `kind` in `area` exactly `available`.
    pub fn set_available(&mut self, kind: JobKind, area: Area, available: u64) {
        let total = self.cfg.quota.get(kind, area).map_or(0, |q| q.total);
        self.used.insert(QuotaBook::key(kind, area), total.saturating_sub(available));
    }

    /// The API 3.0 batch limit of `kind` in `area`.
    pub fn batch(&self, kind: JobKind, area: Area) -> u64 {
        self.cfg.quota.get(kind, area).map_or(0, |q| q.batch)
    }

    /// Accept a job: charge `urls.len()` to each area's quota, record it, and return its task ID.
    pub fn accept(&mut self, api: &'static str, action: &str, kind: JobKind, areas: Vec<Area>, urls: Vec<String>) -> String {
        for a in &areas {
            *self.used.entry(QuotaBook::key(kind, *a)).or_default() += urls.len() as u64;
        }
        self.seq += 1;
        let task_id = format!("{}-fake{:04}", self.cfg.clock.now_unix(), self.seq);
        let at_ms = self.cfg.clock.now_ms();
        self.accepted.push(AcceptedJob { api, action: action.into(), kind, areas, urls, task_id: task_id.clone(), at_ms });
        task_id
    }

    /// `process` until `cfg.task_duration` has passed since the job was accepted, then `done` (or
    /// `fail` for a URL of `cfg.failing_tasks`).
    pub fn task_status(&self, a: &AcceptedJob) -> &'static str {
        if self.cfg.clock.now_ms() >= a.at_ms + self.cfg.task_duration.as_millis() as i64 {
            let fails = a.urls.iter().any(|u| self.cfg.failing_tasks.iter().any(|f| u.contains(f.as_str())));
            if fails {
                "fail"
            } else {
                "done"
            }
        } else {
            "process"
        }
    }

    /// Check URLs (directories when `dirs`): scheme, encoding, a known domain accelerated in the
    /// area asked for. Returns the areas the request applies to: `area`, or when `None` every area
    /// of the URLs' domains.
    pub fn check_urls(&self, urls: &[String], area: Option<Area>, dirs: bool) -> Result<Vec<Area>, UrlRefused> {
        let bad = |message: String| Err(UrlRefused { code: "InvalidParameter.CdnParamError", message });
        let mut areas: BTreeSet<Area> = BTreeSet::new();
        for u in urls {
            let Some(host) = host_of(u) else {
                return bad(format!("URL must start with http:// or https://: {u}"));
            };
            if dirs && !u.ends_with('/') {
                return bad(format!("directory must end with /: {u}"));
            }
            if u.contains(' ') || u.chars().any(|c| !c.is_ascii() || c.is_ascii_control()) {
                return bad(format!("URL is not encoded: {u}"));
            }
            let Some(dom_areas) = self.areas_of(&host.to_ascii_lowercase()) else {
                return Err(UrlRefused { code: "ResourceNotFound.CdnHostNotExists", message: format!("no such domain: {host}") });
            };
            match area {
                Some(a) if !dom_areas.contains(&a) => return bad(format!("{host} is not accelerated in {a}")),
                Some(a) => {
                    areas.insert(a);
                }
                None => areas.extend(dom_areas.iter().copied()),
            }
        }
        Ok(areas.into_iter().collect())
    }

    fn areas_of(&self, host: &str) -> Option<&Vec<Area>> {
        self.cfg.domains.iter().find(|(h, _)| h == host).map(|(_, a)| a)
    }
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    /// 2024-03-01 00:00:00 UTC, in ms.
    const MARCH_1_UTC_MS: i64 = 1_709_251_200_000;

    fn account(clock: &ManualClock) -> Account {
        Account::new(FakeConfig { clock: Arc::new(clock.clone()), ..FakeConfig::default() })
    }

    #[test]
    fn rate_window_counts_the_last_window_only() {
        let clock = ManualClock::new(MARCH_1_UTC_MS);
        let mut a = account(&clock);
        for i in 0..3 {
            assert!(a.rate_ok("k".into(), 1000, 3), "request {i} is within the limit");
        }
        assert!(!a.rate_ok("k".into(), 1000, 3), "a 4th request in the same second is refused");
        assert!(a.rate_ok("other".into(), 1000, 3), "each key has its own window");
        clock.advance(Duration::from_millis(999));
        assert!(!a.rate_ok("k".into(), 1000, 3), "999 ms later the first three are still in the window");
        clock.advance(Duration::from_millis(1));
        assert!(a.rate_ok("k".into(), 1000, 3), "a full window later they have left it");
        assert!(a.rate_ok("k".into(), 1000, 3));
        assert!(a.rate_ok("k".into(), 1000, 3));
        assert!(!a.rate_ok("k".into(), 1000, 3), "a refused request did not count, the three new ones do");
    }

    #[test]
    fn quota_resets_at_midnight_utc_plus_8_not_utc() {
        // 15:59:59 UTC on 1 March is 23:59:59 in China.
        let clock = ManualClock::new(MARCH_1_UTC_MS + (16 * 3600 - 1) * 1000);
        let mut a = account(&clock);
        a.accept("v3", "PurgePathCache", JobKind::PurgePaths, vec![Area::Mainland], vec!["https://www.example.com/d/".into()]);
        a.set_available(JobKind::PurgeUrls, Area::Overseas, 7);
        a.roll_day();
        assert_eq!(a.available(JobKind::PurgePaths, Area::Mainland), 99);
        assert_eq!(a.available(JobKind::PurgeUrls, Area::Overseas), 7);
        clock.advance(Duration::from_secs(1));
        a.roll_day();
        assert_eq!(a.available(JobKind::PurgePaths, Area::Mainland), 100, "00:00 UTC+8 starts a new quota day");
        assert_eq!(a.available(JobKind::PurgeUrls, Area::Overseas), 10_000);
        // UTC midnight (08:00 in China) is no reset.
        clock.set_ms(MARCH_1_UTC_MS + 86_400_000 - 1000);
        a.roll_day();
        a.set_available(JobKind::PurgeUrls, Area::Mainland, 5);
        clock.advance(Duration::from_secs(2));
        a.roll_day();
        assert_eq!(a.available(JobKind::PurgeUrls, Area::Mainland), 5);
    }

    #[test]
    fn fault_rules_apply_in_order_and_count_down() {
        let clock = ManualClock::new(MARCH_1_UTC_MS);
        let mut a = account(&clock);
        let rule = |action: Option<&str>, fault: Fault, count| FaultRule { action: action.map(str::to_string), fault, count };
        a.inject(rule(Some("PurgeUrlsCache"), Fault::Http(502), 2));
        a.inject(rule(None, Fault::Drop, 1));
        a.inject(rule(Some("DescribePurgeQuota"), Fault::AcceptThenDrop, 1));
        // The first rule does not match, the second (any action) does.
        assert_eq!(a.take_fault("DescribePurgeQuota"), Some(Fault::Drop));
        // Now the third is the first that matches.
        assert_eq!(a.take_fault("DescribePurgeQuota"), Some(Fault::AcceptThenDrop));
        assert_eq!(a.take_fault("DescribePurgeQuota"), None);
        assert_eq!(a.take_fault("PurgeUrlsCache"), Some(Fault::Http(502)));
        assert_eq!(a.take_fault("PurgeUrlsCache"), Some(Fault::Http(502)));
        assert_eq!(a.take_fault("PurgeUrlsCache"), None, "a rule ends after `count` requests");
        // A rule of count 0 still applies once, as it always did.
        a.inject(rule(None, Fault::Drop, 0));
        assert_eq!(a.take_fault("PushUrlsCache"), Some(Fault::Drop));
        assert_eq!(a.take_fault("PushUrlsCache"), None);
    }

    #[test]
    fn random_faults_spare_describe_and_follow_the_seed() {
        let clock = ManualClock::new(MARCH_1_UTC_MS);
        let draw = |seed| {
            let mut a = Account::new(FakeConfig { clock: Arc::new(clock.clone()), fault_rate: 1.0, seed, ..FakeConfig::default() });
            assert_eq!(a.take_fault("DescribePurgeTasks"), None);
            (0..50).map(|_| a.take_fault("PurgeUrlsCache").expect("rate 1 faults every request")).collect::<Vec<_>>()
        };
        let faults = draw(7);
        assert_eq!(faults, draw(7), "the same seed gives the same faults");
        for f in [Fault::Http(503), Fault::ApiError("InternalError".into()), Fault::ApiError("RequestLimitExceeded".into()), Fault::Drop] {
            assert!(faults.contains(&f), "{f:?} never drawn in {faults:?}");
        }
        let mut quiet = account(&clock);
        assert!((0..50).all(|_| quiet.take_fault("PurgeUrlsCache").is_none()), "rate 0 injects nothing");
    }

    #[test]
    fn nonces_are_single_use_per_secret_id() {
        let mut a = account(&ManualClock::new(MARCH_1_UTC_MS));
        assert!(a.nonce_fresh("AKID1", "42"));
        assert!(!a.nonce_fresh("AKID1", "42"));
        assert!(a.nonce_fresh("AKID2", "42"));
    }

    #[test]
    fn tasks_are_in_process_for_the_task_duration() {
        let clock = ManualClock::new(MARCH_1_UTC_MS);
        let mut a =
            Account::new(FakeConfig { clock: Arc::new(clock.clone()), task_duration: Duration::from_secs(5), ..FakeConfig::default() });
        let t1 = a.accept("v3", "PushUrlsCache", JobKind::PrefetchUrls, vec![Area::Overseas], vec!["https://www.example.com/".into()]);
        let t2 = a.accept("v3", "PushUrlsCache", JobKind::PrefetchUrls, vec![Area::Overseas], vec!["https://www.example.com/".into()]);
        assert_ne!(t1, t2, "task IDs are unique");
        assert_eq!(a.available(JobKind::PrefetchUrls, Area::Overseas), 998);
        assert_eq!(a.available(JobKind::PrefetchUrls, Area::Mainland), 1000, "only the areas applied to are charged");
        let job = a.accepted[0].clone();
        assert_eq!(a.task_status(&job), "process");
        clock.advance(Duration::from_millis(4999));
        assert_eq!(a.task_status(&job), "process");
        clock.advance(Duration::from_millis(1));
        assert_eq!(a.task_status(&job), "done");
    }

    #[test]
    fn urls_are_checked_against_the_accounts_domains() {
        let mut a = account(&ManualClock::new(MARCH_1_UTC_MS));
        a.cfg.domains = vec![("www.example.com".into(), vec![Area::Mainland]), ("cdn.example.com".into(), Area::ALL.to_vec())];
        let urls = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(a.check_urls(&urls(&["https://WWW.example.com/a", "http://cdn.example.com/b"]), None, false), Ok(Area::ALL.to_vec()));
        assert_eq!(a.check_urls(&urls(&["https://cdn.example.com/d/"]), Some(Area::Overseas), true), Ok(vec![Area::Overseas]));
        let code = |u: &[&str], area, dirs| a.check_urls(&urls(u), area, dirs).unwrap_err().code;
        assert_eq!(code(&["https://www.example.com/a"], Some(Area::Overseas), false), "InvalidParameter.CdnParamError");
        assert_eq!(code(&["www.example.com/a"], None, false), "InvalidParameter.CdnParamError");
        assert_eq!(code(&["https://www.example.com/a b"], None, false), "InvalidParameter.CdnParamError");
        assert_eq!(code(&["https://www.example.com/é"], None, false), "InvalidParameter.CdnParamError");
        assert_eq!(code(&["https://www.example.com/d"], None, true), "InvalidParameter.CdnParamError");
        assert_eq!(code(&["https://other.example.com/"], None, false), "ResourceNotFound.CdnHostNotExists");
    }
}
