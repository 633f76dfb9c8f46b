//! Snapshot × Snapshot -> ChangeSet. A file rewritten with identical bytes is unchanged.

use crate::model::{ChangeSet, Snapshot};

/// Compare the deployed tree (`old`) with the current one (`new`).
pub fn diff(old: &Snapshot, new: &Snapshot) -> ChangeSet {
    let mut cs = ChangeSet::default();
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((p, _)), None) => {
                cs.removed.push(p.to_string());
                a.next();
            }
            (None, Some((p, _))) => {
                cs.added.push(p.to_string());
                b.next();
            }
            (Some((pa, ma)), Some((pb, mb))) => match pa.cmp(pb) {
                std::cmp::Ordering::Less => {
                    cs.removed.push(pa.to_string());
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    cs.added.push(pb.to_string());
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if ma.hash != mb.hash {
                        cs.modified.push(pb.to_string());
                    } else {
                        cs.unchanged += 1;
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
    cs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContentHash, FileMeta};

    fn snap(files: &[(&str, &str, i64)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (p, content, mtime) in files {
            s.insert(p, FileMeta { size: content.len() as u64, mtime_ns: *mtime, hash: ContentHash::of(content.as_bytes()) });
        }
        s
    }

    #[test]
    fn table() {
        let old = snap(&[("a", "1", 1), ("b", "2", 1), ("c", "3", 1), ("e", "5", 1)]);
        // b rewritten with the same bytes (new mtime): unchanged. c modified, a removed, d added.
        let new = snap(&[("b", "2", 9), ("c", "33", 9), ("d", "4", 9), ("e", "5", 1)]);
        let cs = diff(&old, &new);
        assert_eq!(cs.added, vec!["d"]);
        assert_eq!(cs.modified, vec!["c"]);
        assert_eq!(cs.removed, vec!["a"]);
        assert_eq!(cs.unchanged, 2);
        assert!(diff(&new, &new).is_empty());
        assert_eq!(diff(&Snapshot::default(), &new).added.len(), 4);
    }
}
