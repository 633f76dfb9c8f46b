//! Outside text made safe for a terminal or a log line.
//!
//! File names, URLs, and the messages of servers are outside data: a name holding ESC, CR or LF,
//! or an API error message carrying ANSI sequences, would otherwise move the cursor, recolour or
//! rewrite the summary, or forge a log line. Human output shows every control character (C0,
//! DEL, C1) and every bidirectional-override character escaped, as `\n`, `\r`, `\t` or
//! `\u{1b}`; everything else, non-ASCII letters included, is shown as it is. JSON output needs
//! none of this: its strings are escaped by the encoder.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Characters that reorder the text around them (the "Trojan Source" set).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn escape_char(c: char, out: &mut impl Write) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32),
        c => out.write_char(c),
    }
}

/// `s` with every control and bidi-override character escaped: one line, safe to print.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        escape_char(c, &mut out).expect("writing to a String");
    }
    Cow::Owned(out)
}

/// Like [`printable`], but keeps line breaks: for cdnsync's own multi-line messages (every config
/// error on its line), whose lines may quote outside text.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.split('\n').map(printable).collect::<Vec<_>>().join("\n"))
}

/// Displays a value through [`printable`] (for `tracing` lines and `format!`).
pub struct Printable<T>(pub T);

impl<T: fmt::Display> fmt::Display for Printable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl Write for Escaping<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                s.chars().try_for_each(|c| escape_char(c, &mut *self.0))
            }
        }
        write!(Escaping(f), "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_the_rest_kept() {
        let cases = [
            ("index.html", "index.html"),
            ("文档/é.png", "文档/é.png"),
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("line\nforged: ok", "line\\nforged: ok"),
            ("over\rwrite", "over\\rwrite"),
            ("tab\there", "tab\\there"),
            ("bell\u{7}del\u{7f}c1\u{9b}", "bell\\u{7}del\\u{7f}c1\\u{9b}"),
            ("evil\u{202e}lmth.exe", "evil\\u{202e}lmth.exe"),
            ("nul\0", "nul\\u{0}"),
        ];
        for (raw, shown) in cases {
            assert_eq!(printable(raw), shown, "{raw:?}");
            assert_eq!(Printable(raw).to_string(), shown, "{raw:?}");
            assert!(!printable(raw).chars().any(needs_escape));
        }
        assert!(matches!(printable("plain"), Cow::Borrowed(_)), "no copy when nothing needs escaping");
        assert_eq!(printable_lines("one \u{1b}[31m\ntwo\r"), "one \\u{1b}[31m\ntwo\\r");
        assert_eq!(printable_lines("a\nb"), "a\nb");
    }
}
