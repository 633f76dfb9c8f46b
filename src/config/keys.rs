//! Unknown keys: every key of the file that `raw.rs` does not know, with its line, its dotted
//! path and, where one is close, the key that was probably meant.
//!
//! The known keys are not listed by hand: [`schema`] asks serde for the fields of `RawConfig`
//! and of every table under it, by running their derived `Deserialize` against a probe. A key
//! added to `raw.rs` is known here at once. The file's own keys come from a second, shapeless
//! parse of the text ([`Node`]), so an unknown key is one more error among the others instead of
//! the end of the parse (`deny_unknown_fields` would stop at the first).

use std::cell::RefCell;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, Error as ProbeError};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::raw::RawConfig;
use super::val::{SPANNED, SPANNED_FIELDS};

/// The keys of a config file as written: tables, arrays and everything else.
#[derive(Debug)]
pub(super) enum Node {
    Table(Vec<(Key, Node)>),
    Array(Vec<Node>),
    Leaf,
}

/// A key and the byte offset where it is written (when the parser kept one).
#[derive(Debug)]
pub(super) struct Key {
    name: String,
    at: Option<usize>,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key { name: v.to_string(), at: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        // The parser's span map: start, end, value; never ask for a value without its key.
        let next = |map: &mut A| map.next_key::<IgnoredAny>().map(|k| k.is_some());
        if !next(&mut map)? {
            return Err(de::Error::custom("a key without its name"));
        }
        let at: usize = map.next_value()?;
        if !next(&mut map)? {
            return Err(de::Error::custom("a key without its name"));
        }
        let _: usize = map.next_value()?;
        if !next(&mut map)? {
            return Err(de::Error::custom("a key without its name"));
        }
        Ok(Key { name: map.next_value()?, at: Some(at) })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        let mut pending = map.next_key::<Key>()?;
        while let Some(key) = pending.take() {
            let private = entries.is_empty() && key.name.starts_with("$__toml_private");
            entries.push((key, map.next_value()?));
            pending = map.next_key()?;
            if private && pending.is_none() {
                // A date-time, which the toml crate hands over as a map of this one key. (A
                // table holding only a quoted key of that name looks the same, and sets nothing.)
                return Ok(Node::Leaf);
            }
        }
        Ok(Node::Table(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element()? {
            items.push(n);
        }
        Ok(Node::Array(items))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
}

/// The tables a config may hold, each with the keys it may hold: `""` is the top level,
/// `provider` a table, `domain[]` each table of an array.
pub(super) struct Schema(Vec<(String, &'static [&'static str])>);

impl Schema {
    fn keys(&self, table: &str) -> Option<&'static [&'static str]> {
        self.0.iter().find(|(t, _)| t == table).map(|(_, k)| *k)
    }

    /// The tables (other than `table`) that know `key`.
    fn tables_with(&self, key: &str, table: &str) -> Vec<&str> {
        self.0.iter().filter(|(t, k)| t != table && k.contains(&key)).map(|(t, _)| t.as_str()).collect()
    }
}

/// The schema of `raw.rs`, read from serde's derived code.
pub(super) fn schema() -> Schema {
    let out = RefCell::new(Vec::new());
    // The probe answers every question with a default, so this only fails if raw.rs holds a type
    // it cannot describe; then the tables read so far are still the right ones.
    let _ = RawConfig::deserialize(Probe { path: String::new(), out: &out });
    Schema(out.into_inner())
}

/// A deserializer with no data: it walks a type's `Deserialize` and writes down each struct's
/// fields under its path.
struct Probe<'a> {
    path: String,
    out: &'a RefCell<Vec<(String, &'static [&'static str])>>,
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_unit()
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_bool(false)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_i64(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_u64(0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_f64(0.0)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_str("")
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        v.visit_some(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ProbeError> {
        let path = format!("{}[]", self.path);
        v.visit_seq(ProbeSeq { item: Some(Probe { path, out: self.out }) })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ProbeError> {
        let spanned = name == SPANNED;
        if !spanned {
            self.out.borrow_mut().push((self.path.clone(), fields));
        }
        v.visit_map(ProbeMap { probe: self, fields, next: 0, spanned })
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char bytes byte_buf unit unit_struct newtype_struct
        tuple tuple_struct map enum identifier ignored_any
    }
}

struct ProbeSeq<'a> {
    item: Option<Probe<'a>>,
}

impl<'de> SeqAccess<'de> for ProbeSeq<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, ProbeError> {
        self.item.take().map(|p| seed.deserialize(p)).transpose()
    }
}

struct ProbeMap<'a> {
    probe: Probe<'a>,
    fields: &'static [&'static str],
    next: usize,
    spanned: bool,
}

impl<'de> MapAccess<'de> for ProbeMap<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, ProbeError> {
        let Some(field) = self.fields.get(self.next) else { return Ok(None) };
        self.next += 1;
        seed.deserialize(BorrowedStrDeserializer::new(field)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ProbeError> {
        let field = self.fields[self.next - 1];
        // A span wrapper is transparent: its value sits at the same path.
        let path = if self.spanned { self.probe.path.clone() } else { join(&self.probe.path, field) };
        seed.deserialize(Probe { path, out: self.probe.out })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// One key the config does not know.
#[derive(Debug)]
pub(super) struct Unknown {
    /// Dotted path, with positions in arrays: `domain[1].hots`.
    pub key: String,
    /// Byte offset of the key.
    pub at: Option<usize>,
    pub message: String,
}

/// Every key in `root` that `schema` does not know. Keys under an unknown key are not listed.
pub(super) fn unknown(root: &Node, schema: &Schema) -> Vec<Unknown> {
    let mut out = Vec::new();
    walk(root, "", "", schema, &mut out);
    out
}

fn walk(node: &Node, table: &str, shown: &str, schema: &Schema, out: &mut Vec<Unknown>) {
    match node {
        Node::Table(entries) => {
            // A table where a value belongs (`publish_dir.x = 1`) is a type error, reported elsewhere.
            let Some(known) = schema.keys(table) else { return };
            for (k, child) in entries {
                let shown_key = join(shown, &printable(&k.name));
                if known.contains(&k.name.as_str()) {
                    walk(child, &join(table, &k.name), &shown_key, schema, out);
                } else {
                    out.push(Unknown { key: shown_key, at: k.at, message: hint(&k.name, table, known, schema) });
                }
            }
        }
        Node::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{table}[]"), &format!("{shown}[{i}]"), schema, out);
            }
        }
        Node::Leaf => {}
    }
}

/// A key as it can be shown on a terminal: bare keys as they are, others quoted with control
/// characters escaped, and cut short when long.
fn printable(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let mut s = if bare { key.to_string() } else { format!("{key:?}") };
    if s.chars().count() > 64 {
        s = s.chars().take(60).collect::<String>() + "…";
    }
    s
}

fn table_name(table: &str) -> String {
    match table.strip_suffix("[]") {
        _ if table.is_empty() => "the top level".to_string(),
        Some(t) => format!("[[{t}]]"),
        None => format!("[{table}]"),
    }
}

fn hint(key: &str, table: &str, known: &[&str], schema: &Schema) -> String {
    let mut msg = "unknown key".to_string();
    let close = known.iter().map(|k| (distance(key, k), *k)).filter(|(d, k)| *d <= (k.len() / 3).max(1)).min();
    let elsewhere = schema.tables_with(key, table);
    if let Some((_, k)) = close {
        msg.push_str(&format!("; did you mean \"{k}\"?"));
    } else if elsewhere.contains(&"") {
        msg.push_str(&format!(
            "; \"{key}\" is a top-level key: top-level keys go above the first [table] header, or they belong to that table"
        ));
    } else if let Some(t) = elsewhere.first() {
        msg.push_str(&format!("; \"{key}\" is a key of {}", table_name(t)));
    } else {
        msg.push_str(&format!("; the keys of {} are: {}", table_name(table), known.join(", ")));
    }
    msg
}

/// Edit distance (insertions, deletions, substitutions, and swaps of two neighbours), or more
/// than any hint uses when the key is long.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let mut best = (d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1])).min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown_in(text: &str) -> Vec<(String, Option<usize>, String)> {
        let node: Node = toml::from_str(text).unwrap();
        unknown(&node, &schema()).into_iter().map(|u| (u.key, u.at, u.message)).collect()
    }

    #[test]
    fn the_schema_is_read_from_raw_rs() {
        let s = schema();
        assert!(s.keys("").unwrap().contains(&"publish_dir") && s.keys("").unwrap().contains(&"domain"));
        assert!(s.keys("provider").unwrap().contains(&"endpoint"));
        assert!(s.keys("provider").unwrap().contains(&"allow_plain_http"));
        assert!(s.keys("domain[]").unwrap().contains(&"base_path"));
        assert!(s.keys("watch").unwrap().contains(&"trigger_file"));
        assert!(s.keys("limits").unwrap().contains(&"retry_deadline_secs"));
        assert_eq!(s.keys("domain"), None, "an array is not a table");
    }

    #[test]
    fn unknown_keys_have_a_path_a_position_and_a_hint() {
        let text = "publish_dir = \"p\"\ncolour = 1\n[provider]\nendpiont = \"x\"\nexclude = []\n[[domain]]\nhost = \"a.com\"\n[[domain]]\nhots = \"b.com\"\nconcurrency = 2\n[limits]\nconcurrency = 2\n[nope]\nx = 1\n";
        let got = unknown_in(text);
        let at = |s: &str| Some(text.find(s).unwrap());
        let keys: Vec<_> = got.iter().map(|(k, a, _)| (k.as_str(), *a)).collect();
        assert_eq!(
            keys,
            [
                ("colour", at("colour")),
                ("provider.endpiont", at("endpiont")),
                ("provider.exclude", at("exclude")),
                ("domain[1].hots", at("hots")),
                ("domain[1].concurrency", at("concurrency")),
                ("nope", at("nope")),
            ]
        );
        assert!(got[0].2.contains("the keys of the top level are: publish_dir,"), "{}", got[0].2);
        assert!(got[1].2.ends_with("did you mean \"endpoint\"?"), "{}", got[1].2);
        assert!(got[2].2.contains("\"exclude\" is a top-level key"), "{}", got[2].2);
        assert!(got[3].2.ends_with("did you mean \"host\"?"), "{}", got[3].2);
        assert!(got[4].2.ends_with("\"concurrency\" is a key of [limits]"), "{}", got[4].2);
    }

    #[test]
    fn odd_keys_dates_and_dotted_tables() {
        let got = unknown_in("\"a.b\\u001b[2J\" = 1\nwhen = 1979-05-27\nprovider.api = \"v3\"\nprovider.x = 1\n[watch]\nsettle_ms = 5\n");
        let keys: Vec<_> = got.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["\"a.b\\u{1b}[2J\"", "when", "provider.x"]);
        assert_eq!(printable(&"k".repeat(1000)).chars().count(), 61);
        assert_eq!((distance("kitten", "sitting"), distance("hots", "host")), (3, 1));
    }
}
