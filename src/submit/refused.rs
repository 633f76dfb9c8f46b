//! Task lookups the API refused for good in one run (a key that may purge but not call
//! Describe*Tasks): which lookup action, for how many jobs, and the first refusal. Such a job is
//! resent at once, and the run warns once per action, naming the permission that would avoid
//! spending quota twice.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::api::Failure;

/// The refused lookups of one run, by lookup action.
#[derive(Debug, Default)]
pub struct RefusedLookups(Mutex<BTreeMap<String, (usize, Failure)>>);

impl RefusedLookups {
    /// The refusal of an earlier lookup by `action` in this run, if there was one: asking again
    /// would be refused again.
    pub fn earlier(&self, action: &str) -> Option<Failure> {
        self.0.lock().expect("refused lookups").get(action).map(|(_, f)| f.clone())
    }

    /// A job's lookup by `action` was refused with `f`.
    pub fn note(&self, action: &str, f: &Failure) {
        let mut refused = self.0.lock().expect("refused lookups");
        refused.entry(action.to_string()).or_insert_with(|| (0, f.clone())).0 += 1;
    }

    /// One warning per refused action.
    pub fn warnings(&self) -> Vec<String> {
        let refused = self.0.lock().expect("refused lookups");
        refused
            .iter()
            .map(|(action, (jobs, f))| {
                format!(
                    "{action} was refused ({f}): cdnsync cannot tell whether an earlier request of {jobs} job(s) reached the API, \
                     so it sent them again and their quota may be spent twice; allow cdn:{action} for this key to avoid that"
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_action_counting_its_jobs() {
        let r = RefusedLookups::default();
        assert!(r.warnings().is_empty() && r.earlier("DescribePurgeTasks").is_none());
        let f = Failure::Http { status: 403, body: String::new() };
        r.note("DescribePurgeTasks", &f);
        r.note("DescribePurgeTasks", &f);
        r.note("DescribePushTasks", &f);
        assert_eq!(r.earlier("DescribePurgeTasks"), Some(f));
        let w = r.warnings();
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("DescribePurgeTasks was refused") && w[0].contains("2 job(s)") && w[0].contains("cdn:DescribePurgeTasks"));
        assert!(w[1].contains("1 job(s)") && w[1].contains("cdn:DescribePushTasks"));
    }
}
