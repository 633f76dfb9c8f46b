//! Deploy-aware batching, pure: events in, "sync these paths now" out. No I/O, no clock reads:
//! every call takes `now_ms`.
//!
//! A burst starts with its first event and ends after `settle` of quiet, or `max_wait` after it
//! started, whichever comes first (a deploy that never pauses still gets synced). With a
//! trigger file configured, events only accumulate until the deploy tool writes the trigger;
//! the burst is then timed from the trigger. Memory is bounded: past [`MAX_PATHS`] distinct
//! paths the burst becomes a whole rescan (the stat cache makes that cheap).

use std::collections::BTreeSet;
use std::time::Duration;

/// Most distinct paths a burst remembers before it turns into a whole rescan.
pub const MAX_PATHS: usize = 10_000;

/// What happened in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touch {
    /// A file or directory (relative to `publish_dir`) was created, written, renamed or removed.
    Path(String),
    /// The deploy tool wrote the trigger file.
    Trigger,
    /// Events may have been missed (queue overflow, watcher error): rescan everything.
    Rescan(String),
    /// `publish_dir` now points at another tree (symlink swap): rescan everything, now. A swap
    /// is the deploy itself, so it needs no trigger.
    Swap(String),
}

/// A burst that is due: what to rescan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Touched paths, sorted; empty when `rescan` is set.
    pub paths: Vec<String>,
    /// Rescan the whole tree, and why.
    pub rescan: Option<String>,
}

/// The batching state machine.
#[derive(Debug)]
pub struct Settler {
    settle_ms: i64,
    max_wait_ms: i64,
    needs_trigger: bool,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    triggered: bool,
    paths: BTreeSet<String>,
    rescan: Option<String>,
    not_before_ms: Option<i64>,
}

impl Settler {
    /// A settler; `needs_trigger` when a trigger file is configured.
    pub fn new(settle: Duration, max_wait: Duration, needs_trigger: bool) -> Self {
        Settler {
            settle_ms: settle.as_millis() as i64,
            max_wait_ms: max_wait.as_millis() as i64,
            needs_trigger,
            first_ms: None,
            last_ms: None,
            triggered: false,
            paths: BTreeSet::new(),
            rescan: None,
            not_before_ms: None,
        }
    }

    /// Record an event seen at `now_ms`.
    pub fn touch(&mut self, now_ms: i64, t: Touch) {
        match t {
            Touch::Path(p) => {
                if self.rescan.is_none() {
                    self.paths.insert(p);
                    if self.paths.len() > MAX_PATHS {
                        self.set_rescan(format!("more than {MAX_PATHS} paths changed in one burst"));
                    }
                }
            }
            Touch::Trigger => {
                if !self.triggered {
                    // Time the burst from the trigger: the deploy is complete from here on.
                    self.first_ms = Some(now_ms);
                }
                self.triggered = true;
            }
            Touch::Rescan(why) => self.set_rescan(why),
            Touch::Swap(why) => {
                self.set_rescan(why);
                if !self.triggered {
                    self.first_ms = Some(now_ms);
                }
                self.triggered = true;
            }
        }
        if self.first_ms.is_none() {
            self.first_ms = Some(now_ms);
        }
        self.last_ms = Some(now_ms);
    }

    fn set_rescan(&mut self, why: String) {
        self.paths.clear();
        if self.rescan.is_none() {
            self.rescan = Some(why);
        }
    }

    /// When the pending burst's first and last changes were seen (`None`: nothing pending).
    pub fn touched(&self) -> Option<(i64, i64)> {
        Some((self.first_ms?, self.last_ms?))
    }

    /// Is anything waiting (due or not)?
    pub fn pending(&self) -> bool {
        self.first_ms.is_some()
    }

    /// When the current burst is due, if it can be: `None` when nothing is pending, or when a
    /// trigger is required and has not come.
    pub fn due_at(&self) -> Option<i64> {
        let (first, last) = (self.first_ms?, self.last_ms?);
        if self.needs_trigger && !self.triggered {
            return None;
        }
        let due = (last + self.settle_ms).min(first + self.max_wait_ms);
        Some(self.not_before_ms.map_or(due, |nb| due.max(nb)))
    }

    /// The burst, if it is due at `now_ms`; the state starts afresh.
    pub fn take(&mut self, now_ms: i64) -> Option<Burst> {
        if self.due_at()? > now_ms {
            return None;
        }
        let burst = Burst { paths: std::mem::take(&mut self.paths).into_iter().collect(), rescan: self.rescan.take() };
        self.first_ms = None;
        self.last_ms = None;
        self.triggered = false;
        self.not_before_ms = None;
        Some(burst)
    }

    /// Put a burst back (its sync failed): its paths are owed to the next one, which is due at
    /// `retry_at_ms` at the earliest and needs no new trigger.
    pub fn restore(&mut self, burst: Burst, retry_at_ms: i64) {
        match burst.rescan {
            Some(why) => self.set_rescan(why),
            None => {
                for p in burst.paths {
                    if self.rescan.is_none() {
                        self.paths.insert(p);
                        if self.paths.len() > MAX_PATHS {
                            self.set_rescan(format!("more than {MAX_PATHS} paths changed in one burst"));
                        }
                    }
                }
            }
        }
        if self.first_ms.is_none() {
            self.first_ms = Some(retry_at_ms);
            self.last_ms = Some(retry_at_ms - self.settle_ms);
        }
        self.triggered = true;
        self.not_before_ms = Some(retry_at_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(trigger: bool) -> Settler {
        Settler::new(Duration::from_millis(300), Duration::from_millis(2000), trigger)
    }

    fn p(x: &str) -> Touch {
        Touch::Path(x.into())
    }

    #[test]
    fn burst_ends_after_quiet() {
        let mut st = s(false);
        assert_eq!(st.due_at(), None);
        st.touch(1000, p("a"));
        st.touch(1100, p("b"));
        st.touch(1200, p("a"));
        assert_eq!(st.due_at(), Some(1500));
        assert_eq!(st.take(1499), None);
        let b = st.take(1500).unwrap();
        assert_eq!(b, Burst { paths: vec!["a".into(), "b".into()], rescan: None });
        assert!(!st.pending());
        assert_eq!(st.take(99_999), None);
    }

    #[test]
    fn a_deploy_that_never_pauses_is_cut_at_max_wait() {
        let mut st = s(false);
        for t in (0..5000).step_by(100) {
            st.touch(t, p(&format!("f{t}")));
            if t + 300 > 2000 {
                assert_eq!(st.due_at(), Some(2000), "at {t}");
            }
        }
        let b = st.take(4900).unwrap();
        assert_eq!(b.paths.len(), 50);
        // The next burst starts with the next event.
        st.touch(5000, p("late"));
        assert_eq!(st.due_at(), Some(5300));
    }

    #[test]
    fn trigger_holds_the_burst_until_written() {
        let mut st = s(true);
        st.touch(0, p("a"));
        st.touch(10_000, p("b"));
        assert_eq!(st.due_at(), None, "no trigger yet");
        assert_eq!(st.take(1_000_000), None);
        st.touch(20_000, Touch::Trigger);
        assert_eq!(st.due_at(), Some(20_300));
        st.touch(20_100, p("c"));
        assert_eq!(st.due_at(), Some(20_400));
        assert_eq!(st.take(20_400).unwrap().paths, ["a", "b", "c"]);
        st.touch(30_000, p("d"));
        assert_eq!(st.due_at(), None, "each burst needs its own trigger");
    }

    #[test]
    fn rescans_swallow_paths_and_swaps_need_no_trigger() {
        let mut st = s(true);
        st.touch(0, p("a"));
        st.touch(5, Touch::Rescan("queue overflow".into()));
        st.touch(6, p("b"));
        assert_eq!(st.due_at(), None, "an overflow waits for the deploy's trigger");
        st.touch(7, Touch::Swap("publish_dir now points to releases/2".into()));
        let b = st.take(307).unwrap();
        assert_eq!(b, Burst { paths: vec![], rescan: Some("queue overflow".into()) });
    }

    #[test]
    fn memory_is_bounded() {
        let mut st = s(false);
        for i in 0..=MAX_PATHS {
            st.touch(0, p(&i.to_string()));
        }
        let b = st.take(300).unwrap();
        assert!(b.paths.is_empty());
        assert!(b.rescan.unwrap().contains("paths changed"));
    }

    #[test]
    fn a_failed_burst_is_restored_for_later() {
        let mut st = s(true);
        st.touch(0, p("a"));
        st.touch(1, Touch::Trigger);
        let b = st.take(301).unwrap();
        st.restore(b, 10_000);
        assert_eq!(st.take(9_999), None);
        assert_eq!(st.take(10_000).unwrap().paths, ["a"]);
        st.touch(20_000, p("x"));
        st.restore(Burst { paths: vec!["y".into()], rescan: None }, 25_000);
        assert_eq!(st.take(25_000).unwrap().paths, ["x", "y"]);
    }

    #[test]
    fn a_burst_of_exactly_max_paths_keeps_its_paths_and_one_more_is_a_rescan() {
        let mut st = s(false);
        for i in 0..MAX_PATHS {
            st.touch(0, p(&i.to_string()));
        }
        let b = st.take(300).unwrap();
        assert_eq!((b.paths.len(), b.rescan), (MAX_PATHS, None), "the limit itself is still a list of paths");
        // The same bound holds for a failed burst put back with new paths beside it.
        st.touch(1000, p("new"));
        let mut old: Vec<String> = (0..MAX_PATHS - 1).map(|i| i.to_string()).collect();
        st.restore(Burst { paths: old.clone(), rescan: None }, 2000);
        let b = st.take(2000).unwrap();
        assert_eq!((b.paths.len(), b.rescan), (MAX_PATHS, None));
        st.touch(3000, p("new"));
        old.push("one-too-many".into());
        st.restore(Burst { paths: old, rescan: None }, 4000);
        let b = st.take(4000).unwrap();
        assert!(b.paths.is_empty() && b.rescan.is_some_and(|r| r.contains("paths changed")));
    }

    #[test]
    fn a_swap_is_timed_from_itself_unless_a_trigger_came_first() {
        // No trigger configured: files change from t=0, the swap comes at 1900. The swap is the
        // deploy: it gets its full settle time, not what is left of the max wait since t=0.
        let mut st = s(false);
        st.touch(0, p("a"));
        st.touch(1900, Touch::Swap("publish_dir now points to releases/2".into()));
        assert_eq!(st.due_at(), Some(2200));
        // A trigger at 0, then a swap at 1900: the burst keeps the trigger's timing (max wait).
        let mut st = s(true);
        st.touch(0, Touch::Trigger);
        st.touch(1900, Touch::Swap("publish_dir now points to releases/3".into()));
        assert_eq!(st.due_at(), Some(2000));
    }

    #[test]
    fn touched_tells_the_pending_bursts_first_and_last_change() {
        let mut st = s(false);
        assert_eq!(st.touched(), None);
        assert!(!st.pending());
        st.touch(100, p("a"));
        assert!(st.pending());
        st.touch(250, p("b"));
        assert_eq!(st.touched(), Some((100, 250)));
        st.take(550).unwrap();
        assert_eq!(st.touched(), None, "nothing pending after the burst is taken");
        assert!(!st.pending());
    }
}
