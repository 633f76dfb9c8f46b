//! Browser-style percent-encoding of URL paths.
//!
//! A path is encoded the way a browser encodes what it requests: the WHATWG "path percent-encode
//! set" (controls, space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`, non-ASCII as UTF-8 bytes),
//! plus `%` itself (a file named `100%.html` is requested as `100%25.html`) and `\` (which browsers
//! would turn into `/`). `/` separates segments and is kept.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// What is written as `%XX` in a path: controls (and DEL), space, the WHATWG path set's
/// `"` `#` `<` `>` `?` `` ` `` `{` `}`, plus `%` and `\`; every non-ASCII byte always is.
const PATH: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}').add(b'%').add(b'\\');

/// Percent-encode a `/`-separated path.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    encode_path_into(&mut out, path);
    out
}

/// [`encode_path`], appending to `out`.
pub fn encode_path_into(out: &mut String, path: &str) {
    out.extend(utf8_percent_encode(path, PATH));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("a.html", "a.html"),
            ("docs/a b.html", "docs/a%20b.html"),
            ("100%.html", "100%25.html"),
            ("q?.html", "q%3F.html"),
            ("c#.html", "c%23.html"),
            ("文档/b c.html", "%E6%96%87%E6%A1%A3/b%20c.html"),
            ("图片/中文 名.png", "%E5%9B%BE%E7%89%87/%E4%B8%AD%E6%96%87%20%E5%90%8D.png"),
            ("café.html", "caf%C3%A9.html"),
            ("#a b#", "%23a%20b%23"),
            ("é", "%C3%A9"),
            ("a+b&c=d;e,f@g!h'(i)*~_-.html", "a+b&c=d;e,f@g!h'(i)*~_-.html"),
            ("x<y>\"z\".html", "x%3Cy%3E%22z%22.html"),
            ("tab\there", "tab%09here"),
            ("back\\slash", "back%5Cslash"),
            ("{a}`b`", "%7Ba%7D%60b%60"),
        ];
        for (raw, want) in cases {
            assert_eq!(encode_path(raw), want, "{raw:?}");
        }
    }
}
