//! `[provider]`: which API, where it is, how requests are sent; and the rule every endpoint that
//! carries credentials obeys ([`check_plain_http`]).

use std::net::IpAddr;
use std::time::Duration;

use super::Validator;
use crate::config::edgeone::{self, Site};
use crate::config::raw::RawProvider;
use crate::config::types::{default_endpoint, Endpoint, HttpMethod, Provider, SignatureMethod, V2Overseas};
use crate::model::Api;

pub(super) fn provider(v: &mut Validator, r: &RawProvider) -> Provider {
    let mut p = Provider::default();
    if let Some(a) = v.word(&r.api, "provider.api", &["v3", "v2", "edgeone"]) {
        p.api = match a {
            "v2" => Api::V2,
            "edgeone" => Api::EdgeOne,
            _ => Api::V3,
        };
    }
    // EdgeOne only (validated under every api, like the v2-only keys): the site picks the host.
    if v.word(&r.site, "provider.site", &["mainland", "intl"]) == Some("intl") {
        p.site = Site::Intl;
    }
    p.endpoint = if p.api == Api::EdgeOne { edgeone::endpoint(p.site) } else { default_endpoint(p.api) };
    if let Some(b) = v.flag(&r.allow_plain_http, "provider.allow_plain_http") {
        p.allow_plain_http = b;
    }
    if let Some(e) = v.get(&r.endpoint, "provider.endpoint") {
        let parsed =
            parse_endpoint(e.v, &default_endpoint(p.api).path).and_then(|ep| check_plain_http(&ep, p.allow_plain_http).map(|()| ep));
        match parsed {
            Ok(ep) => p.endpoint = ep,
            Err(msg) => v.err(e.at, "provider.endpoint", msg),
        }
    }
    if v.word(&r.signature_method, "provider.signature_method", &["HmacSHA1", "HmacSHA256"]) == Some("HmacSHA256") {
        p.signature_method = SignatureMethod::HmacSha256;
    }
    if v.word(&r.http_method, "provider.http_method", &["GET", "POST"]) == Some("GET") {
        p.http_method = HttpMethod::Get;
    }
    if v.word(&r.v2_overseas, "provider.v2_overseas", &["overall", "dedicated"]) == Some("dedicated") {
        p.v2_overseas = V2Overseas::Dedicated;
    }
    if let Some(t) = v.int(&r.timeout_secs, "provider.timeout_secs", 1, 600, "") {
        p.timeout = Duration::from_secs(t as u64);
    }
    if let Some(t) = v.int(&r.v2_prefetch_delay_secs, "provider.v2_prefetch_delay_secs", 0, 3600, "") {
        p.v2_prefetch_delay = Duration::from_secs(t as u64);
    }
    if let Some(r) = v.get(&r.region, "provider.region") {
        if r.v.is_empty() {
            p.region = None;
        } else if r.v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            p.region = Some(r.v.clone());
        } else {
            v.err(r.at, "provider.region", format!("expected a region name such as \"ap-guangzhou\", found {:?}", r.v));
        }
    }
    p.credentials = crate::config::credential_keys::settings(v, r, p.allow_plain_http);
    p
}

/// `http(s)://host[:port][/path]` -> [`Endpoint`]; an empty path or `/` means `default_path`.
pub fn parse_endpoint(s: &str, default_path: &str) -> Result<Endpoint, String> {
    let (scheme, rest) = if let Some(r) = s.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = s.strip_prefix("http://") {
        ("http", r)
    } else {
        return Err(format!("expected an http:// or https:// URL, found {s:?}"));
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok || path.contains(['?', '#']) {
        return Err(format!("expected http(s)://host[:port][/path], found {s:?}"));
    }
    let path = if path.is_empty() || path == "/" { default_path.to_string() } else { path.to_string() };
    Ok(Endpoint { scheme: scheme.into(), host: host.to_ascii_lowercase(), path })
}

/// Is `host` (`name`, `IPv4` or `[IPv6]`, with or without `:port`, as in a URL) this machine:
/// `localhost`, 127.0.0.0/8 or ::1? The host is read as the HTTP client will read it (the `url`
/// crate), so `0x7f.1` is 127.0.0.1 and `127.0.0.1.example.com` is a name like any other.
pub fn is_loopback_host(host: &str) -> bool {
    let Ok(u) = url::Url::parse(&format!("http://{host}/")) else { return false };
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        None => false,
    }
}

/// The rule for every endpoint that is sent credentials (`[provider] endpoint`, and any other
/// such key): `https://`, or `http://` to this machine (a local fake, a local proxy), or
/// `http://` anywhere only when `allow_plain_http` is set (a trusted proxy that adds TLS).
/// The error says why: the SecretId, the signature and a session token would travel in clear.
pub fn check_plain_http(endpoint: &Endpoint, allow_plain_http: bool) -> Result<(), String> {
    if endpoint.scheme != "http" || allow_plain_http || is_loopback_host(&endpoint.host) {
        return Ok(());
    }
    Err(format!(
        "refusing plain http:// to {}, which is not this machine (localhost, 127.0.0.0/8, ::1): the SecretId, the request \
         signature and any session token would cross the network in clear. Use https://, or set allow_plain_http = true \
         in [provider] if a trusted proxy there adds TLS",
        endpoint.host
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in
            ["127.0.0.1", "127.0.0.1:8080", "127.9.8.7", "localhost", "LOCALHOST:1", "[::1]", "[::1]:9000", "0x7f.1", "[::ffff:127.0.0.1]"]
        {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["10.0.0.1", "cdn.tencentcloudapi.com", "127.0.0.1.example.com", "localhost.example.com", "[::2]", "0.0.0.0", "", "[zz]"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn plain_http_is_refused_off_this_machine_unless_allowed() {
        let ep = |s: &str| parse_endpoint(s, "/").unwrap();
        assert_eq!(check_plain_http(&ep("http://127.0.0.1:8080"), false), Ok(()));
        assert_eq!(check_plain_http(&ep("https://10.0.0.5"), false), Ok(()));
        assert_eq!(check_plain_http(&ep("http://10.0.0.5:8080"), true), Ok(()));
        let e = check_plain_http(&ep("http://cdn.tencentcloudapi.com"), false).unwrap_err();
        for words in ["cdn.tencentcloudapi.com", "SecretId", "signature", "session token", "in clear", "allow_plain_http = true"] {
            assert!(e.contains(words), "{words:?} in {e}");
        }
    }
}
