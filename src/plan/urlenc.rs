//! Browser-style percent-encoding of URL paths.
//!
//! A path is encoded the way a browser encodes what it requests: the WHATWG "path percent-encode
//! set" (controls, space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`, non-ASCII as UTF-8 bytes),
//! plus `%` itself (a file named `100%.html` is requested as `100%25.html`) and `\` (which browsers
//! would turn into `/`). `/` separates segments and is kept.

/// Should this byte be written as `%XX` in a path?
fn needs_escape(b: u8) -> bool {
    matches!(b, 0..=0x20 | 0x7f..=0xff | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'%' | b'\\')
}

/// Percent-encode a `/`-separated path.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    encode_path_into(&mut out, path);
    out
}

/// [`encode_path`], appending to `out`.
pub fn encode_path_into(out: &mut String, path: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = path.as_bytes();
    // Copy runs of bytes that need no escape in one go.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if needs_escape(b) {
            // A non-empty run is ASCII bytes (every non-ASCII byte is escaped), so both its ends
            // are char boundaries; `run` alone may sit inside a character when the run is empty.
            if run < i {
                out.push_str(&path[run..i]);
            }
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
            run = i + 1;
        }
    }
    out.push_str(&path[run..]);
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
