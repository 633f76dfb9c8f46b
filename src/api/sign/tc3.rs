//! TC3-HMAC-SHA256, the signature of API 3.0, stage by stage:
//! canonical request -> string to sign -> signature -> `Authorization` header.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a TC3 signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Tc3Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The canonical query string (empty for POST).
    pub query: &'a str,
    /// The `Content-Type` header value exactly as sent.
    pub content_type: &'a str,
    /// The `Host` header value exactly as sent (`host[:port]`).
    pub host: &'a str,
    /// The body bytes exactly as sent.
    pub payload: &'a [u8],
}

/// Stage 1: the canonical request.
pub fn canonical_request(r: &Tc3Request) -> String {
    format!(
        "{}\n/\n{}\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        r.method,
        r.query,
        r.content_type,
        r.host,
        sha256_hex(r.payload)
    )
}

/// The credential scope date (UTC) of a timestamp.
pub fn scope_date(timestamp: i64) -> String {
    crate::clock::utc_date(timestamp)
}

/// Stage 2: the string to sign.
pub fn string_to_sign(canonical: &str, timestamp: i64, service: &str) -> String {
    format!("TC3-HMAC-SHA256\n{timestamp}\n{}/{service}/tc3_request\n{}", scope_date(timestamp), sha256_hex(canonical.as_bytes()))
}

/// Stage 3: the hex signature.
pub fn signature(secret_key: &str, timestamp: i64, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), scope_date(timestamp).as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Stage 4: the `Authorization` header.
pub fn authorization(secret_id: &str, timestamp: i64, service: &str, signature: &str) -> String {
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{}/{service}/tc3_request, SignedHeaders=content-type;host, Signature={signature}",
        scope_date(timestamp)
    )
}

/// All four stages at once: the `Authorization` header for a request.
pub fn sign(r: &Tc3Request, secret_id: &str, secret_key: &str, timestamp: i64, service: &str) -> String {
    let sts = string_to_sign(&canonical_request(r), timestamp, service);
    authorization(secret_id, timestamp, service, &signature(secret_key, timestamp, service, &sts))
}

/// Parsed `Authorization` header (for the fake API's verification).
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedAuth<'a> {
    /// The SecretId (shown in the header by design; never the key).
    pub secret_id: &'a str,
    /// UTC date `YYYY-MM-DD` of the timestamp.
    pub date: &'a str,
    /// Service name, `cdn`.
    pub service: &'a str,
    /// `content-type;host` (and any other signed headers).
    pub signed_headers: &'a str,
    /// Hex HMAC-SHA256 signature.
    pub signature: &'a str,
}

/// Parse `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=..., Signature=...`.
pub fn parse_authorization(h: &str) -> Option<ParsedAuth<'_>> {
    let rest = h.strip_prefix("TC3-HMAC-SHA256 ")?;
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => cred = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => sig = Some(v),
            _ => return None,
        }
    }
    let mut c = cred?.split('/');
    let (secret_id, date, service, term) = (c.next()?, c.next()?, c.next()?, c.next()?);
    if term != "tc3_request" || c.next().is_some() {
        return None;
    }
    Some(ParsedAuth { secret_id, date, service, signed_headers: signed?, signature: sig? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        let h = authorization("AKIDx", 1_700_000_000, "cdn", "abc");
        let p = parse_authorization(&h).unwrap();
        assert_eq!(
            p,
            ParsedAuth { secret_id: "AKIDx", date: "2023-11-14", service: "cdn", signed_headers: "content-type;host", signature: "abc" }
        );
        assert!(parse_authorization("TC3-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=x, Signature=y").is_none());
    }
}
