//! The tracked tree ([`Snapshot`]): every file's path and metadata, sorted, stored flat.

use std::fmt;

use super::FileMeta;

/// The tracked tree: publish-dir relative paths (always `/`-separated) with their metadata,
/// sorted by path (byte order), each path once.
///
/// Stored flat: every path back to back in one string, and one array of entries. A 100,000-file
/// snapshot is then two allocations instead of 100,000 strings and a tree of nodes, so loading,
/// comparing and freeing it (each done once per sync) stay cheap; lookups are binary searches.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every path, in order, back to back.
    paths: String,
    /// Per file, in path order: where its path ends in `paths` (it starts where the previous one
    /// ends) and its metadata.
    entries: Vec<(usize, FileMeta)>,
}

impl Snapshot {
    /// An empty snapshot with room for `files` files whose paths total `path_bytes` bytes.
    pub fn with_capacity(files: usize, path_bytes: usize) -> Self {
        Snapshot { paths: String::with_capacity(path_bytes), entries: Vec::with_capacity(files) }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No files?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The path of the `i`-th file (in path order).
    pub(crate) fn path_at(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.entries[i - 1].0 };
        &self.paths[start..self.entries[i].0]
    }

    /// The files, in path order.
    pub fn iter(&self) -> SnapshotIter<'_> {
        SnapshotIter { snapshot: self, front: 0, back: self.entries.len() }
    }

    /// The paths, in order.
    pub fn paths(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + Clone + '_ {
        self.iter().map(|(p, _)| p)
    }

    /// Where `path` is, or would be inserted.
    fn search(&self, path: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.path_at(mid).cmp(path) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// The metadata of one file.
    pub fn get(&self, path: &str) -> Option<&FileMeta> {
        self.search(path).ok().map(|i| &self.entries[i].1)
    }

    /// Is `path` tracked?
    pub fn contains(&self, path: &str) -> bool {
        self.search(path).is_ok()
    }

    /// Append a file that sorts after every file already here: the way to build a snapshot from
    /// sorted input (a walk, a manifest). Returns `false`, changing nothing, if `path` is out of
    /// order or already present.
    pub fn push(&mut self, path: &str, meta: FileMeta) -> bool {
        if let Some(last) = self.entries.len().checked_sub(1) {
            if self.path_at(last) >= path {
                return false;
            }
        }
        self.paths.push_str(path);
        self.entries.push((self.paths.len(), meta));
        true
    }

    /// Add or replace one file, anywhere (moves the files after it: for small edits; build
    /// large snapshots with [`Snapshot::push`] or `collect`). Returns the metadata it replaced.
    pub fn insert(&mut self, path: &str, meta: FileMeta) -> Option<FileMeta> {
        match self.search(path) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, meta)),
            Err(i) => {
                let at = if i == 0 { 0 } else { self.entries[i - 1].0 };
                self.paths.insert_str(at, path);
                for e in &mut self.entries[i..] {
                    e.0 += path.len();
                }
                self.entries.insert(i, (at + path.len(), meta));
                None
            }
        }
    }

    /// The metadata of the `i`-th file (in path order), to update in place.
    pub(crate) fn meta_at_mut(&mut self, i: usize) -> &mut FileMeta {
        &mut self.entries[i].1
    }

    /// Keep only the files for which `keep(path, meta)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &FileMeta) -> bool) {
        self.retain_at(|_, p, m| keep(p, m));
    }

    /// Keep only the files for which `keep(i, path, meta)` is true, `i` being the file's index
    /// in path order.
    pub(crate) fn retain_at(&mut self, mut keep: impl FnMut(usize, &str, &FileMeta) -> bool) {
        let mut out = Snapshot::with_capacity(self.len(), self.paths.len());
        for (i, (p, m)) in self.iter().enumerate() {
            if keep(i, p, m) {
                out.paths.push_str(p);
                out.entries.push((out.paths.len(), *m));
            }
        }
        *self = out;
    }

    /// The file `path`, if tracked, and every file under the folder `path` (in path order).
    pub fn tree<'a>(&'a self, path: &str) -> impl Iterator<Item = (&'a str, &'a FileMeta)> + 'a {
        let itself = self.search(path).ok().map(|i| SnapshotIter { snapshot: self, front: i, back: i + 1 });
        // Under "p/": from "p/" up to (not including) "p0", '0' being '/' + 1.
        let from = self.search(&format!("{path}/")).unwrap_or_else(|i| i);
        let to = self.search(&format!("{path}0")).unwrap_or_else(|i| i);
        itself.into_iter().flatten().chain(SnapshotIter { snapshot: self, front: from, back: to.max(from) })
    }

    /// Both snapshots' files in one (for a path in both, `other`'s metadata), in one pass over
    /// the two sorted lists.
    pub fn merge(&self, other: &Snapshot) -> Snapshot {
        if other.is_empty() {
            return self.clone();
        }
        let mut out = Snapshot::with_capacity(self.len() + other.len(), self.paths.len() + other.paths.len());
        let (mut a, mut b) = (self.iter().peekable(), other.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(y.0) {
                    std::cmp::Ordering::Less => a.next(),
                    std::cmp::Ordering::Greater => b.next(),
                    std::cmp::Ordering::Equal => {
                        a.next();
                        b.next()
                    }
                },
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            if let Some((p, m)) = next {
                out.push(p, *m);
            }
        }
        out
    }

    /// Remove each of `paths` and, where one is a directory, every file under it.
    pub fn remove_trees(&mut self, paths: &[&str]) {
        let mut drop = vec![false; self.len()];
        for p in paths {
            if let Ok(i) = self.search(p) {
                drop[i] = true;
            }
            // Under "p/": from "p/" up to (not including) "p0", '0' being '/' + 1.
            let from = self.search(&format!("{p}/")).unwrap_or_else(|i| i);
            let to = self.search(&format!("{p}0")).unwrap_or_else(|i| i);
            drop[from..to].iter_mut().for_each(|d| *d = true);
        }
        self.retain_at(|i, _, _| !drop[i]);
    }
}

/// The files of a [`Snapshot`], in path order.
#[derive(Clone, Debug)]
pub struct SnapshotIter<'a> {
    snapshot: &'a Snapshot,
    front: usize,
    back: usize,
}

impl<'a> Iterator for SnapshotIter<'a> {
    type Item = (&'a str, &'a FileMeta);

    fn next(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.front += 1;
            (self.snapshot.path_at(self.front - 1), &self.snapshot.entries[self.front - 1].1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl DoubleEndedIterator for SnapshotIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            (self.snapshot.path_at(self.back), &self.snapshot.entries[self.back].1)
        })
    }
}

impl ExactSizeIterator for SnapshotIter<'_> {}

impl<'a> IntoIterator for &'a Snapshot {
    type Item = (&'a str, &'a FileMeta);
    type IntoIter = SnapshotIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Any order; a path given twice keeps its last metadata.
impl<P: AsRef<str>> FromIterator<(P, FileMeta)> for Snapshot {
    fn from_iter<I: IntoIterator<Item = (P, FileMeta)>>(iter: I) -> Self {
        let mut v: Vec<(P, FileMeta)> = iter.into_iter().collect();
        // Stable: of equal paths, the last given comes last and wins below.
        v.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut s = Snapshot::with_capacity(v.len(), v.iter().map(|(p, _)| p.as_ref().len()).sum());
        for (i, (p, m)) in v.iter().enumerate() {
            if v.get(i + 1).is_none_or(|next| next.0.as_ref() != p.as_ref()) {
                s.push(p.as_ref(), *m);
            }
        }
        s
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContentHash;
    use std::collections::BTreeMap;

    fn meta(n: u64) -> FileMeta {
        FileMeta { size: n, mtime_ns: n as i64, hash: ContentHash::of(&n.to_le_bytes()) }
    }

    /// The files as owned pairs, to compare with a `BTreeMap`, the obvious model of a sorted map.
    fn model(s: &Snapshot) -> Vec<(String, FileMeta)> {
        s.iter().map(|(p, m)| (p.to_string(), *m)).collect()
    }

    #[test]
    fn trees_and_merges() {
        let s: Snapshot =
            ["d", "d-x", "d.html", "d/a", "d/b/c", "d0", "e/d/a"].iter().enumerate().map(|(i, p)| (*p, meta(i as u64))).collect();
        let paths = |p: &str| s.tree(p).map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        assert_eq!(paths("d"), ["d", "d/a", "d/b/c"]);
        assert_eq!(paths("d/b"), ["d/b/c"]);
        assert_eq!(paths("e"), ["e/d/a"]);
        assert!(paths("x").is_empty() && paths("d/a/z").is_empty());
        let other: Snapshot = [("a", meta(9)), ("d/a", meta(9)), ("z", meta(9))].into_iter().collect();
        let m = s.merge(&other);
        assert_eq!(m.len(), s.len() + 2);
        assert_eq!(m.get("d/a"), Some(&meta(9)), "the other's metadata wins");
        assert_eq!(m.get("d/b/c"), Some(&meta(4)));
        assert_eq!(m.paths().next(), Some("a"));
        assert_eq!(m.paths().last(), Some("z"));
    }

    #[test]
    fn behaves_like_a_sorted_map() {
        let names = ["b/c", "a", "b", "b/", "b0", "a.html", "a/x", "文档", "", "b/c/d", "a", "zz"];
        let mut reference: BTreeMap<String, FileMeta> = BTreeMap::new();
        let mut s = Snapshot::default();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(s.insert(n, meta(i as u64)), reference.insert(n.to_string(), meta(i as u64)), "insert {n:?}");
            assert_eq!(model(&s), reference.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        }
        assert_eq!(s.len(), reference.len());
        for n in names.iter().chain(&["nope", "b/c/", "a/"]) {
            assert_eq!(s.get(n), reference.get(*n), "get {n:?}");
            assert_eq!(s.contains(n), reference.contains_key(*n));
        }
        // Collected in any order, the last value of a repeated path wins, as in a map.
        let collected: Snapshot = names.iter().enumerate().rev().map(|(i, n)| (*n, meta(i as u64))).collect();
        let expect: BTreeMap<&str, FileMeta> = names.iter().enumerate().rev().map(|(i, n)| (*n, meta(i as u64))).collect();
        assert_eq!(collected.iter().map(|(p, m)| (p, *m)).collect::<Vec<_>>(), expect.into_iter().collect::<Vec<_>>());
        assert_eq!(s.paths().next_back(), Some("文档"));
        assert_eq!(s.iter().len(), s.len());
    }

    #[test]
    fn push_accepts_only_sorted_input() {
        let mut s = Snapshot::default();
        assert!(s.push("a", meta(1)));
        assert!(s.push("a/b", meta(2)));
        assert!(!s.push("a/b", meta(3)), "duplicate");
        assert!(!s.push("a.html", meta(4)), "'.' sorts before '/'");
        assert!(s.push("b", meta(5)));
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a", "a/b", "b"]);
        assert_eq!(s.get("a/b"), Some(&meta(2)));
    }

    #[test]
    fn remove_trees_takes_a_path_and_everything_under_it() {
        let all = ["a", "a-b", "a.html", "a/b", "a/b/c", "a0", "b/a", "ba", "c"];
        let mut s: Snapshot = all.iter().enumerate().map(|(i, p)| (*p, meta(i as u64))).collect();
        s.remove_trees(&["a", "b", "missing"]);
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a-b", "a.html", "a0", "ba", "c"]);
        assert_eq!(s.get("a0"), Some(&meta(5)), "metadata follows its path");
        s.retain(|p, _| p.starts_with('a'));
        assert_eq!(s.paths().collect::<Vec<_>>(), ["a-b", "a.html", "a0"]);
        assert_eq!(format!("{s:?}").matches("size").count(), 3, "Debug shows the files");
    }
}
