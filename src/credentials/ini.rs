//! An INI reader that reads what Python's `configparser.ConfigParser()` (defaults) reads, the way
//! the SDK's `ProfileCredential` uses it (`conf._sections`, raw values, then `.strip()`):
//!
//! - `key = value` and `key: value`, split at the first `=` or `:`; whitespace around key and
//!   value dropped; keys lower-cased (`SECRET_ID` is `secret_id`); section names kept exactly
//!   (`[Default]` and `[ default ]` are not `[default]`);
//! - full-line comments starting with `#` or `;` (after leading whitespace); no inline comments:
//!   `key = abc # note` has the value `abc # note`;
//! - a line indented deeper than its key's line continues the value (joined with `\n`; blank
//!   lines inside are kept, trailing ones dropped);
//! - `[DEFAULT]` is configparser's defaults section, which the SDK never looks at;
//! - no interpolation (`%` is kept), quotes are kept;
//! - refused, as configparser refuses them: a key before any section, a section or a key twice,
//!   a line without `=`/`:`. Errors give the line number, never the line (it may be a secret).
//!
//! Lines end at `\n`, `\r\n` or `\r` (Python's universal newlines); a UTF-8 byte-order mark at the
//! start is skipped (configparser would choke on it; Windows editors write it).

use super::error::IniProblem;

/// The name configparser gives its defaults section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// One `[section]` in file order, its keys in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, exactly.
    pub name: String,
    /// `(key lower-cased, value)`.
    pub entries: Vec<(String, String)>,
}

impl Section {
    /// A key's value (`key` lower-case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A parsed file: the sections the SDK sees (`[DEFAULT]` excluded) in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ini {
    /// Sections other than `[DEFAULT]`.
    pub sections: Vec<Section>,
}

impl Ini {
    /// A section by its exact name.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// A refusal: the 1-based line and why.
pub type ParseError = (usize, IniProblem);

struct Pending {
    section: usize,
    key: usize,
    lines: Vec<String>,
}

/// Parse `text` as configparser does; the first problem found wins.
pub fn parse(text: &str) -> Result<Ini, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // All sections, [DEFAULT] included at index 0 so that indices stay stable.
    let mut all: Vec<Section> = vec![Section { name: DEFAULT_SECTION.into(), entries: Vec::new() }];
    let mut seen_sections: Vec<String> = Vec::new();
    let mut cur: Option<usize> = None;
    let mut pending: Option<Pending> = None;
    let mut indent_level = usize::MAX;
    let mut first_error: Option<ParseError> = None;

    for (i, line) in universal_lines(text).enumerate() {
        let lineno = i + 1;
        let stripped = line.trim();
        let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if is_comment { "" } else { stripped };
        if value.is_empty() {
            // configparser (empty_lines_in_values=True): a blank line, not a comment, belongs to
            // the value being read.
            if !is_comment {
                if let Some(p) = pending.as_mut() {
                    p.lines.push(String::new());
                }
            }
            continue;
        }
        let cur_indent = line.len() - line.trim_start().len();
        if let (Some(_), Some(p)) = (cur, pending.as_mut()) {
            if cur_indent > indent_level {
                p.lines.push(value.to_string());
                continue;
            }
        }
        indent_level = cur_indent;
        if let Some(name) = section_header(value) {
            finish(&mut all, pending.take());
            // configparser never counts [DEFAULT] as seen: it may appear twice.
            if name != DEFAULT_SECTION {
                if seen_sections.iter().any(|s| s == name) {
                    return Err((lineno, IniProblem::DuplicateSection(name.to_string())));
                }
                seen_sections.push(name.to_string());
            }
            cur = Some(if name == DEFAULT_SECTION {
                0
            } else {
                all.push(Section { name: name.to_string(), entries: Vec::new() });
                all.len() - 1
            });
            continue;
        }
        let Some(section) = cur else {
            return Err((lineno, IniProblem::MissingSectionHeader));
        };
        finish(&mut all, pending.take());
        match split_option(value) {
            Some(("", _)) => {
                first_error.get_or_insert((lineno, IniProblem::EmptyKey));
            }
            Some((key, val)) => {
                let key = key.to_lowercase();
                if all[section].entries.iter().any(|(k, _)| *k == key) {
                    return Err((lineno, IniProblem::DuplicateOption { section: all[section].name.clone(), option: key }));
                }
                all[section].entries.push((key, String::new()));
                pending = Some(Pending { section, key: all[section].entries.len() - 1, lines: vec![val.to_string()] });
            }
            None => {
                first_error.get_or_insert((lineno, IniProblem::NotKeyValue));
            }
        }
    }
    finish(&mut all, pending.take());
    if let Some(e) = first_error {
        return Err(e);
    }
    all.remove(0);
    Ok(Ini { sections: all })
}

/// Join a value's lines as configparser does: `\n`, trailing blank lines dropped.
fn finish(all: &mut [Section], p: Option<Pending>) {
    if let Some(p) = p {
        all[p.section].entries[p.key].1 = p.lines.join("\n").trim_end().to_string();
    }
}

/// `[name]` at the start of a stripped line (configparser's `\[(?P<header>.+)\]`, matched at the
/// start only: the last `]` closes it, and anything after it is ignored).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    let name = &rest[..close];
    (!name.is_empty()).then_some(name)
}

/// configparser's `(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`: the first `=` or `:`.
fn split_option(value: &str) -> Option<(&str, &str)> {
    let at = value.find(['=', ':'])?;
    Some((value[..at].trim_end(), value[at + 1..].trim()))
}

/// Lines split at `\r\n`, `\n` or `\r`.
fn universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_of(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().section("default").map(|s| s.entries.clone()).unwrap_or_default()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn equals_colon_case_and_whitespace() {
        assert_eq!(default_of("[default]\nsecret_id = a\nsecret_key=b\n"), kv(&[("secret_id", "a"), ("secret_key", "b")]));
        assert_eq!(default_of("[default]\nsecret_id: a\nsecret_key :b\n"), kv(&[("secret_id", "a"), ("secret_key", "b")]));
        assert_eq!(default_of("[default]\nSECRET_ID = a\nSecret_Key = b"), kv(&[("secret_id", "a"), ("secret_key", "b")]));
        assert_eq!(default_of("  [default]  \n\t secret_id \t=\t a \t\n"), kv(&[("secret_id", "a")]));
        // The first delimiter of either kind splits.
        assert_eq!(default_of("[default]\nk = a:b=c\nj: x=y\n"), kv(&[("k", "a:b=c"), ("j", "x=y")]));
        assert_eq!(default_of("[default]\nk =\n"), kv(&[("k", "")]));
    }

    #[test]
    fn comments_are_whole_lines_only() {
        assert_eq!(
            default_of("# top\n; also\n[default]\n  # indented comment\nk = v # not a comment\n"),
            kv(&[("k", "v # not a comment")])
        );
    }

    #[test]
    fn section_names_are_exact_and_default_is_not_a_section() {
        let ini = parse("[DEFAULT]\nsecret_id = d\n[Default]\na = 1\n[ default ]\nb = 2\n[default] trailing\nc = 3\n").unwrap();
        let names: Vec<_> = ini.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Default", " default ", "default"]);
        assert_eq!(ini.section("default").unwrap().entries, kv(&[("c", "3")]));
    }

    #[test]
    fn continuation_lines_and_blank_lines() {
        assert_eq!(default_of("[default]\nk = a\n  b\n\n  c\n\nj = x\n"), kv(&[("k", "a\nb\n\nc"), ("j", "x")]));
        // An indented first key sets the level: a less indented key is a new key.
        assert_eq!(default_of("[default]\n  k = a\nj = b\n"), kv(&[("k", "a"), ("j", "b")]));
        // A comment inside a value neither ends nor joins it.
        assert_eq!(default_of("[default]\nk = a\n# c\n  b\n"), kv(&[("k", "a\nb")]));
    }

    #[test]
    fn values_are_raw_quotes_and_percent_kept() {
        assert_eq!(default_of("[default]\nk = \"a%b\"\nj = 'x'\n"), kv(&[("k", "\"a%b\""), ("j", "'x'")]));
    }

    #[test]
    fn line_endings_and_bom() {
        assert_eq!(default_of("\u{feff}[default]\r\nk = a\r\nj = b\rl = c"), kv(&[("k", "a"), ("j", "b"), ("l", "c")]));
    }

    #[test]
    fn refusals_name_the_line_and_never_its_text() {
        assert_eq!(parse("secret_id = a\n[default]\n"), Err((1, IniProblem::MissingSectionHeader)));
        assert_eq!(parse("[default]\nk = a\n[x]\n[default]\n"), Err((4, IniProblem::DuplicateSection("default".into()))));
        assert_eq!(
            parse("[default]\nK = a\nk = b\n"),
            Err((3, IniProblem::DuplicateOption { section: "default".into(), option: "k".into() }))
        );
        assert_eq!(parse("[default]\nGu5t9xGARNpq86cd98joQYCN3EXAMPLE\nk = v\n"), Err((2, IniProblem::NotKeyValue)));
        assert_eq!(parse("[default]\n= v\n"), Err((2, IniProblem::EmptyKey)));
        assert!(!IniProblem::NotKeyValue.to_string().contains("Gu5t9x"));
        // [] is not a section header.
        assert_eq!(parse("[]\n"), Err((1, IniProblem::MissingSectionHeader)));
    }
}
