//! The legacy API's signature (also "signature v1" on API 3.0 hosts):
//! `base64(HMAC(SecretKey, METHOD + host + path + "?" + sorted raw key=value pairs))`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::SignatureMethod;

/// Stage 1: the string to sign. Keys are sorted as bytes; every `_` in a key is signed as `.`
/// (as the official SDK does); values are raw, not URL-encoded. `Signature` itself is skipped.
pub fn string_to_sign(method: &str, host: &str, path: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut s = format!("{method}{host}{path}?");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&k.replace('_', "."));
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Stage 2: the base64 signature.
pub fn signature(secret_key: &str, method: SignatureMethod, string_to_sign: &str) -> String {
    let raw = match method {
        SignatureMethod::HmacSha1 => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret_key.as_bytes()).expect("any key length");
            m.update(string_to_sign.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        SignatureMethod::HmacSha256 => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret_key.as_bytes()).expect("any key length");
            m.update(string_to_sign.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// What `application/x-www-form-urlencoded` leaves as it is: letters, digits and `_ . - ~`
/// (RFC 3986's unreserved set, as Tencent's SDKs send); everything else is `%XX`, space aside.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

/// `application/x-www-form-urlencoded` encoding of one value (space as `+`, unreserved kept).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    // A space comes out as "%20", which no other input can produce ("%" itself is "%25").
    for piece in utf8_percent_encode(s, FORM) {
        match piece {
            "%20" => out.push('+'),
            p => out.push_str(p),
        }
    }
    out
}

/// Decode a form-encoded value (`+` is a space). `None` on a broken escape or invalid UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let broken =
        b.iter().enumerate().any(|(i, &c)| c == b'%' && !(b.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))));
    if broken {
        return None;
    }
    percent_decode_str(&s.replace('+', " ")).decode_utf8().ok().map(|c| c.into_owned())
}

/// Encode parameters in the given order as a query string or form body.
pub fn encode_params(params: &[(String, String)]) -> String {
    params.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect::<Vec<_>>().join("&")
}

/// Parse a query string or form body into pairs, in order.
pub fn parse_params(s: &str) -> Option<Vec<(String, String)>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((form_decode(k)?, form_decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        for s in ["https://www.example.com/%E6%96%87/b%20c.html", "a b+c&d=e", "图片/中文 名.png", ""] {
            assert_eq!(form_decode(&form_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(form_encode("a b/c"), "a+b%2Fc");
        assert_eq!(form_encode("~_.-*%20"), "~_.-%2A%2520");
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("a%2"), None);
        assert_eq!(form_decode("%FF"), None, "not UTF-8");
    }
}
