//! What of a request may be shown: the `Debug` of [`super::http::Request`], the only form in
//! which a request is ever logged (`-vv`). A request carries secrets in every API's own way —
//! the session token in `X-TC-Token` (API 3.0, STS) or a `Token` parameter (v2, in the URL of a
//! GET or the form body of a POST), the OIDC `WebIdentityToken` in a JSON body, a signature that
//! authorises it for five minutes — so each part is shown with those values replaced by
//! `<redacted>` and SecretIds masked (`AKID…MPLE`). A body that is neither JSON nor a form is shown
//! only by its length.

use std::fmt;

use serde_json::Value;

use crate::credentials::mask_id;

/// Names (lower-cased parts) whose values are never shown: Tencent's (`Token`, `X-TC-Token`,
/// `Signature`, `WebIdentityToken`, `TmpSecretKey`) and the usual ones of signed URLs (a
/// `manifest_url` with `?sign=…` or `?auth_key=…`).
const SENSITIVE: &[&str] = &["token", "secret", "sign", "password", "passwd", "credential", "auth", "access_key", "apikey", "api_key"];

/// How a value named `name` (a header, parameter or JSON key) may be shown.
fn shown(name: &str, value: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n == "secretid" || n == "tmpsecretid" {
        mask_id(value)
    } else if SENSITIVE.iter().any(|s| n.contains(s)) {
        "<redacted>".to_string()
    } else {
        value.to_string()
    }
}

/// `Authorization`: the scheme and the masked SecretId, not the signature.
fn authorization(value: &str) -> String {
    match value.split_once(" Credential=") {
        Some((scheme, rest)) => {
            let id = rest.split('/').next().unwrap_or("");
            format!("{scheme} Credential={}/… <signature redacted>", mask_id(id))
        }
        None if value == "SKIP" => value.to_string(),
        None => "<redacted>".to_string(),
    }
}

/// `k=v&k=v` with each value as [`shown`] allows.
fn form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => format!("{k}={}", shown(k, v)),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn json(v: &mut Value, key: &str) {
    match v {
        Value::String(s) => *s = shown(key, s),
        Value::Object(map) => map.iter_mut().for_each(|(k, val)| json(val, k)),
        Value::Array(items) => items.iter_mut().for_each(|i| json(i, key)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The URL, its query's secrets hidden.
pub fn url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", form(query)),
        None => url.to_string(),
    }
}

/// A header's value as it may be shown.
pub fn header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        authorization(value)
    } else {
        shown(name, value)
    }
}

/// A body as it may be shown.
pub fn body(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
        json(&mut v, "");
        return v.to_string();
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.contains('=') && !text.contains(char::is_whitespace) => form(text),
        _ => format!("<{} bytes>", body.len()),
    }
}

/// `Debug` of a request: method, URL, headers and body, each redacted.
pub fn request(method: &str, u: &str, headers: &[(String, String)], b: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let headers: Vec<(&str, String)> = headers.iter().map(|(k, v)| (k.as_str(), header(k, v))).collect();
    f.debug_struct("Request").field("method", &method).field("url", &url(u)).field("headers", &headers).field("body", &body(b)).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http::Request;

    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";

    fn assert_clean(s: &str) {
        for secret in ["Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "sessionTOKEN123", "eyJ.jwt.sig", "c3eb5823798610", "v2SiGnAtUrE", "z8krbsJ5"] {
            assert!(!s.contains(secret), "{secret} shown in {s}");
        }
    }

    #[test]
    fn api3_headers() {
        let base = crate::credentials::Credentials::new(ID, "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", Some("sessionTOKEN123".into()));
        let p = crate::api::roles::AssumeRole {
            role_arn: "qcs::cam::uin/1:roleName/r".into(),
            role_session_name: "s".into(),
            duration_secs: 900,
        };
        let r = crate::api::roles::assume_role_request(&crate::api::roles::sts_endpoint(), &base, &p, 1_551_113_065);
        let d = format!("{r:?}");
        assert_clean(&d);
        assert!(d.contains("AKID…MPLE") && d.contains("X-TC-Token") && d.contains("<redacted>"), "{d}");
        assert!(d.contains("AssumeRole") && d.contains("qcs::cam::uin/1:roleName/r"), "what is not secret stays readable: {d}");
    }

    #[test]
    fn oidc_body() {
        let p = crate::api::roles::WebIdentity {
            region: "ap-guangzhou".into(),
            provider_id: "tke".into(),
            web_identity_token: crate::credentials::Secret::new("eyJ.jwt.sig"),
            role_arn: "qcs::cam::uin/1:roleName/r".into(),
            role_session_name: "s".into(),
            duration_secs: 900,
        };
        let d = format!("{:?}", crate::api::roles::web_identity_request(&crate::api::roles::sts_endpoint(), &p, 1));
        assert_clean(&d);
        assert!(d.contains("WebIdentityToken") && d.contains("SKIP") && d.contains("ProviderId"), "{d}");
    }

    #[test]
    fn v2_query_and_form() {
        let q =
            format!("Action=FlushOrPushOverall&SecretId={ID}&Token=sessionTOKEN123&Signature=v2SiGnAtUrE%3D&urls.0=https%3A%2F%2Fa.com%2F");
        let get = Request { method: "GET", url: format!("https://cdn.api.qcloud.com/v2/index.php?{q}"), headers: vec![], body: vec![] };
        let post = Request { method: "POST", url: "https://cdn.api.qcloud.com/v2/index.php".into(), headers: vec![], body: q.into_bytes() };
        for r in [get, post] {
            let d = format!("{r:?}");
            assert_clean(&d);
            assert!(d.contains("SecretId=AKID…MPLE") && d.contains("Token=<redacted>") && d.contains("urls.0=https%3A"), "{d}");
        }
    }

    #[test]
    fn signed_urls_of_other_kinds() {
        let d = url("https://www.example.com/.cdnsync/manifest?auth_key=1700000000-0-0-abc123&sign=def456&v=7");
        assert_eq!(d, "https://www.example.com/.cdnsync/manifest?auth_key=<redacted>&sign=<redacted>&v=7");
    }

    #[test]
    fn other_bodies_by_length_only() {
        assert_eq!(body(b"Gu5t9x GARN"), "<11 bytes>");
        assert_eq!(body(&[0xff, 0xfe]), "<2 bytes>");
        let nested = br#"{"Credentials": {"TmpSecretKey": "k", "Token": "t", "TmpSecretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"}, "Urls": ["u"]}"#;
        let d = body(nested);
        assert!(d.contains("AKID…MPLE") && !d.contains("\"k\"") && !d.contains("\"t\"") && d.contains("\"u\""), "{d}");
    }
}
