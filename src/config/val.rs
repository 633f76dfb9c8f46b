//! [`Val`]: one value of `cdnsync.toml` as the serde mirror (`raw.rs`) holds it: where it was
//! written, and either the value or why it could not be read as the type the key wants.
//!
//! A key of the wrong type must not hide the other mistakes in the file (`docs/config.md`,
//! "Errors"), so the type error is caught here, at the value, and reported later by the
//! validator under the key it knows. Positions come from the toml crate's span protocol (the one
//! `toml::Spanned` speaks); a table the parser kept no position for (one made by dotted keys,
//! `provider.api = "v3"`) is read all the same, without a line, where `toml::Spanned` would fail.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;

// The toml crate's span protocol (`serde_spanned` 0.6, behind `toml::Spanned`): asked for a
// struct of this name and fields, its deserializer answers with the value's byte range. The unit
// tests on error lines fail if a toml upgrade changes it.
pub(super) const SPANNED: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";
pub(super) const SPANNED_FIELDS: &[&str] = &[START, END, VALUE];

/// A value of type `T` at byte offset `at` of the config text, or the reason it is not one.
#[derive(Debug)]
pub struct Val<T> {
    at: Option<usize>,
    value: Result<T, String>,
}

/// A list of values, each with its own position and type check (`exclude = ["a", 3]` reports
/// `exclude[1]` and keeps `exclude[0]`).
pub type List<T> = Val<Vec<Val<T>>>;

impl<T> Val<T> {
    /// Byte offset where the value starts, when the parser kept one.
    pub fn at(&self) -> Option<usize> {
        self.at
    }

    /// The value, or what was wrong with its type.
    pub fn value(&self) -> Result<&T, &str> {
        self.value.as_ref().map_err(String::as_str)
    }
}

/// serde's message, in the config's words (`expected i64` means nothing to a user).
fn friendly(e: impl fmt::Display) -> String {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or_default().trim_end();
    let mut out = first.replace("expected i64", "expected a whole number").replace("expected a sequence", "expected a list");
    if let Some(i) = out.find("expected struct Raw") {
        out.truncate(i);
        out.push_str("expected a table");
    }
    out
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, ValVisitor(PhantomData))
    }
}

struct ValVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ValVisitor<T> {
    type Value = Val<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<T>, A::Error> {
        let first = map.next_key::<String>()?;
        if first.as_deref() == Some(START) {
            let start: usize = map.next_value()?;
            // Only the parser's own span map goes on; a table whose first key merely has that
            // name (quoted keys can be anything) ends here, before a value is asked for a key
            // that is not there (the toml crate panics on that).
            if map.next_key::<String>()?.as_deref() != Some(END) {
                return Err(de::Error::custom(format!("a key may not be named {START:?}")));
            }
            let _: usize = map.next_value()?;
            if map.next_key::<String>()?.as_deref() != Some(VALUE) {
                return Err(de::Error::custom(format!("a key may not be named {START:?}")));
            }
            let value = map.next_value_seed(Catch::<T>(PhantomData))?;
            return Ok(Val { at: Some(start), value });
        }
        // A table without a position: its entries, from the first key on.
        let value = T::deserialize(MapAccessDeserializer::new(Prepend { first, map })).map_err(friendly);
        Ok(Val { at: None, value })
    }
}

/// Deserializes a `T`, turning its error into the value (`Err(message)`).
struct Catch<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Catch<T> {
    type Value = Result<T, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(T::deserialize(d).map_err(friendly))
    }
}

/// A map whose first key was already read.
struct Prepend<A> {
    first: Option<String>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Prepend<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(k) => seed.deserialize(k.into_deserializer()).map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        a: Option<Val<i64>>,
        t: Option<Val<Inner>>,
        l: Option<List<String>>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        x: Option<Val<String>>,
    }

    #[test]
    fn values_carry_their_position_and_type_errors_do_not_stop_the_parse() {
        let text = "a = \"one\"\nl = [\"x\", 2, \"z\"]\n[t]\nx = \"y\"\n";
        let t: T = toml::from_str(text).unwrap();
        let a = t.a.unwrap();
        assert_eq!((a.at(), a.value()), (Some(4), Err("invalid type: string \"one\", expected a whole number")));
        let l = t.l.unwrap();
        let items = l.value().unwrap();
        assert_eq!(items.iter().map(|v| v.value().is_ok()).collect::<Vec<_>>(), [true, false, true]);
        assert_eq!(items[1].at(), text.find('2'));
        assert_eq!(t.t.unwrap().value().unwrap().x.as_ref().unwrap().value(), Ok(&"y".to_string()));
    }

    #[test]
    fn a_table_made_by_dotted_keys_is_read_without_a_position() {
        let t: T = toml::from_str("t.x = \"y\"\n").unwrap();
        let table = t.t.unwrap();
        assert_eq!(table.at(), None);
        assert_eq!(table.value().unwrap().x.as_ref().unwrap().value(), Ok(&"y".to_string()));
        let t: T = toml::from_str("[t]\n").unwrap();
        assert_eq!(t.t.unwrap().at(), Some(0));
        let t: T = toml::from_str("[t.x]\n").unwrap();
        assert!(t.t.unwrap().value().unwrap().x.as_ref().unwrap().value().unwrap_err().contains("expected a string"));
        let t: T = toml::from_str("a.b = 1\n").unwrap();
        assert_eq!(t.a.unwrap().value(), Err("invalid type: map, expected a whole number"));
    }
}
