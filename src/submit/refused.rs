//! Task lookups the API refused for good in one run (a key that may purge but not call
//! Describe*Tasks): which CAM permission they needed, for how many jobs, and the first refusal.
//! Such a job is resent at once, and the run warns once per permission, naming it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::api::Failure;

/// The refused lookups of one run, by the permission they need ("" when the API names none).
#[derive(Debug, Default)]
pub struct RefusedLookups(Mutex<BTreeMap<String, (usize, Failure)>>);

impl RefusedLookups {
    /// The refusal of an earlier lookup needing `permission` in this run, if there was one:
    /// asking again would be refused again.
    pub fn earlier(&self, permission: &str) -> Option<Failure> {
        self.0.lock().expect("refused lookups").get(permission).map(|(_, f)| f.clone())
    }

    /// A job's lookup, needing `permission` (if known), was refused with `f`.
    pub fn note(&self, permission: Option<&str>, f: &Failure) {
        let mut refused = self.0.lock().expect("refused lookups");
        refused.entry(permission.unwrap_or("").to_string()).or_insert_with(|| (0, f.clone())).0 += 1;
    }

    /// One warning per permission.
    pub fn warnings(&self) -> Vec<String> {
        let refused = self.0.lock().expect("refused lookups");
        refused
            .iter()
            .map(|(perm, (jobs, f))| {
                let (what, advice) = if perm.is_empty() {
                    ("the task lookup".to_string(), "allow this key to look tasks up to avoid that".to_string())
                } else {
                    (format!("the task lookup ({perm})"), format!("allow {perm} for this key to avoid that"))
                };
                format!(
                    "{what} was refused ({f}): cdnsync cannot tell whether an earlier request of {jobs} job(s) reached the API, \
                     so it sent them again and their quota may be spent twice; {advice}"
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
        assert!(r.warnings().is_empty() && r.earlier("cdn:DescribePurgeTasks").is_none());
        let f = Failure::Http { status: 403, body: String::new() };
        r.note(Some("cdn:DescribePurgeTasks"), &f);
        r.note(Some("cdn:DescribePurgeTasks"), &f);
        r.note(Some("cdn:DescribePushTasks"), &f);
        r.note(None, &f);
        assert_eq!(r.earlier("cdn:DescribePurgeTasks"), Some(f));
        let w = r.warnings();
        assert_eq!(w.len(), 3);
        assert!(w[0].starts_with("the task lookup was refused") && w[0].contains("allow this key to look tasks up"), "{}", w[0]);
        assert!(
            w[1].contains("(cdn:DescribePurgeTasks) was refused")
                && w[1].contains("2 job(s)")
                && w[1].contains("allow cdn:DescribePurgeTasks")
        );
        assert!(w[2].contains("1 job(s)") && w[2].contains("allow cdn:DescribePushTasks"));
    }
}
