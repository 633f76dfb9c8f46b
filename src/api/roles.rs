//! Role credentials on the wire, as the official SDK's `credential.py` does them:
//!
//! - STS `AssumeRole` (`STSAssumeRoleCredential`): API 3.0 at `sts.tencentcloudapi.com`, version
//!   2018-08-13, TC3-signed with service `sts` by the base keys, region `ap-guangzhou`; body
//!   `RoleArn`, `RoleSessionName`, `DurationSeconds` (default 7200, at most 43200).
//! - STS `AssumeRoleWithWebIdentity` (`OIDCRoleArnCredential`): the same, but unsigned
//!   (`Authorization: SKIP`), region from `TKE_REGION`; body adds `ProviderId` and
//!   `WebIdentityToken`.
//! - Both answer `Response.Credentials{Token, TmpSecretId, TmpSecretKey}`, `Response.ExpiredTime`
//!   (Unix seconds) and `Response.Expiration` (ISO 8601; not used).
//! - The CVM metadata service (`CVMRoleCredential`): `GET <base>cam/security-credentials/` is the
//!   role's name, `GET <base>cam/security-credentials/<role>` is JSON `TmpSecretId`,
//!   `TmpSecretKey`, `Token`, `ExpiredTime`, `Expiration`, `Code` (`"Success"`), base
//!   `http://metadata.tencentyun.com/latest/meta-data/`.
//!
//! Request builders and reply parsers are pure; the `fetch_*` functions send through
//! [`Transport`] and the `*Fetch` types plug them into [`crate::credentials::provider`]. Replies
//! are never quoted in errors: they hold the keys.

use std::sync::Arc;

use serde_json::{json, Value};

use super::http::{Request, Transport};
use super::sign::tc3;
use super::v3::{parse_envelope, CONTENT_TYPE};
use super::Failure;
use crate::clock::Clock;
use crate::config::Endpoint;
use crate::credentials::provider::{CredentialsFuture, Fetch};
use crate::credentials::{oidc::TkeOidc, CredentialSource, Credentials, CredentialsError, Secret};

/// `X-TC-Version` of STS.
pub const STS_VERSION: &str = "2018-08-13";
/// Service name in the TC3 credential scope.
pub const STS_SERVICE: &str = "sts";
/// STS's host.
pub const STS_HOST: &str = "sts.tencentcloudapi.com";
/// The region the SDK sends `AssumeRole` to.
pub const STS_REGION: &str = "ap-guangzhou";
/// The SDK's default lifetime of assumed-role credentials (seconds).
pub const DEFAULT_DURATION_SECS: u32 = 7200;
/// The longest lifetime STS grants (seconds).
pub const MAX_DURATION_SECS: u32 = 43_200;
/// The metadata service's base address.
pub const METADATA_ENDPOINT: &str = "http://metadata.tencentyun.com/latest/meta-data/";
/// Path of the role under the metadata base.
pub const ROLE_PATH: &str = "cam/security-credentials/";
/// `AssumeRole`.
pub const ASSUME_ROLE: &str = "AssumeRole";
/// `AssumeRoleWithWebIdentity`.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "AssumeRoleWithWebIdentity";

/// STS's default endpoint.
pub fn sts_endpoint() -> Endpoint {
    Endpoint { scheme: "https".into(), host: STS_HOST.into(), path: "/".into() }
}

/// Temporary credentials as STS or the metadata service hand them out.
#[derive(Clone, Debug)]
pub struct Temporary {
    /// `TmpSecretId`.
    pub secret_id: String,
    /// `TmpSecretKey`.
    pub secret_key: Secret,
    /// `Token`.
    pub token: Secret,
    /// `ExpiredTime` (Unix seconds).
    pub expired_time: i64,
}

impl Temporary {
    /// As [`Credentials`] from `source`.
    pub fn into_credentials(self, source: CredentialSource) -> Credentials {
        Credentials {
            secret_id: self.secret_id,
            secret_key: self.secret_key,
            token: Some(self.token),
            expires_at: Some(self.expired_time),
            source,
        }
    }
}

/// The parameters of `AssumeRole`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRole {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `DurationSeconds`.
    pub duration_secs: u32,
}

/// The body of `AssumeRole`.
pub fn assume_role_body(p: &AssumeRole) -> Value {
    json!({"RoleArn": p.role_arn, "RoleSessionName": p.role_session_name, "DurationSeconds": p.duration_secs})
}

fn sts_headers(endpoint: &Endpoint, action: &str, region: &str, timestamp: i64, authorization: String) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), CONTENT_TYPE.into()),
        ("Host".into(), endpoint.host.clone()),
        ("X-TC-Action".into(), action.into()),
        ("X-TC-Version".into(), STS_VERSION.into()),
        ("X-TC-Timestamp".into(), timestamp.to_string()),
        ("X-TC-Region".into(), region.into()),
        ("Authorization".into(), authorization),
    ]
}

/// The signed `AssumeRole` request, signed by `base` at `timestamp`.
pub fn assume_role_request(endpoint: &Endpoint, base: &Credentials, p: &AssumeRole, timestamp: i64) -> Request {
    let payload = serde_json::to_vec(&assume_role_body(p)).expect("JSON serialises");
    let auth = tc3::sign(
        &tc3::Tc3Request { method: "POST", query: "", content_type: CONTENT_TYPE, host: &endpoint.host, payload: &payload },
        &base.secret_id,
        base.secret_key.expose(),
        timestamp,
        STS_SERVICE,
    );
    let mut headers = sts_headers(endpoint, ASSUME_ROLE, STS_REGION, timestamp, auth);
    if let Some(t) = &base.token {
        headers.push(("X-TC-Token".into(), t.expose().to_string()));
    }
    Request { method: "POST", url: endpoint.url(), headers, body: payload }
}

/// The parameters of `AssumeRoleWithWebIdentity`.
#[derive(Clone, Debug)]
pub struct WebIdentity {
    /// `X-TC-Region` (`TKE_REGION`).
    pub region: String,
    /// `ProviderId`.
    pub provider_id: String,
    /// `WebIdentityToken` (a bearer token: never shown).
    pub web_identity_token: Secret,
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `DurationSeconds`.
    pub duration_secs: u32,
}

/// The body of `AssumeRoleWithWebIdentity`.
pub fn web_identity_body(p: &WebIdentity) -> Value {
    json!({
        "ProviderId": p.provider_id,
        "WebIdentityToken": p.web_identity_token.expose(),
        "RoleArn": p.role_arn,
        "RoleSessionName": p.role_session_name,
        "DurationSeconds": p.duration_secs,
    })
}

/// The unsigned (`Authorization: SKIP`) `AssumeRoleWithWebIdentity` request.
pub fn web_identity_request(endpoint: &Endpoint, p: &WebIdentity, timestamp: i64) -> Request {
    let payload = serde_json::to_vec(&web_identity_body(p)).expect("JSON serialises");
    let headers = sts_headers(endpoint, ASSUME_ROLE_WITH_WEB_IDENTITY, &p.region, timestamp, "SKIP".into());
    Request { method: "POST", url: endpoint.url(), headers, body: payload }
}

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn seconds(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
}

/// Read an STS answer to `action`.
pub fn parse_sts(action: &'static str, status: u16, body: &[u8]) -> Result<Temporary, CredentialsError> {
    let resp = parse_envelope(status, body).map_err(|f| match f {
        Failure::Api(e) => CredentialsError::Sts { action, code: e.code, message: e.message, request_id: e.request_id },
        Failure::Http { status, .. } => CredentialsError::StsReply { action, problem: format!("HTTP {status}") },
        other => CredentialsError::StsReply { action, problem: other.to_string() },
    })?;
    let bad = |what: &str| CredentialsError::StsReply { action, problem: format!("the answer has no {what}") };
    let c = resp.get("Credentials").ok_or_else(|| bad("Credentials"))?;
    Ok(Temporary {
        secret_id: text(c, "TmpSecretId").ok_or_else(|| bad("Credentials.TmpSecretId"))?.to_string(),
        secret_key: Secret::new(text(c, "TmpSecretKey").ok_or_else(|| bad("Credentials.TmpSecretKey"))?),
        token: Secret::new(text(c, "Token").ok_or_else(|| bad("Credentials.Token"))?),
        expired_time: seconds(&resp, "ExpiredTime").ok_or_else(|| bad("ExpiredTime"))?,
    })
}

/// `<base>cam/security-credentials/`, where the metadata service names the role.
pub fn metadata_role_url(base: &str) -> String {
    format!("{}/{ROLE_PATH}", base.trim_end_matches('/'))
}

/// `<base>cam/security-credentials/<role>`; refuses a name CAM would not allow (it goes in a path).
pub fn metadata_credentials_url(base: &str, role: &str) -> Result<String, CredentialsError> {
    if !is_role_name(role) {
        return Err(CredentialsError::Metadata {
            url: metadata_role_url(base),
            problem: format!("{role:?} is not a CAM role name (letters, digits and +=,.@-_ only, at most 128)"),
        });
    }
    Ok(format!("{}{role}", metadata_role_url(base)))
}

/// CAM role names (the rule lives with the credentials, where the config checks it too).
pub use crate::credentials::is_role_name;

/// Read the role's name from the metadata service's answer.
pub fn parse_role_name(url: &str, status: u16, body: &[u8]) -> Result<String, CredentialsError> {
    let err = |problem: String| CredentialsError::Metadata { url: url.to_string(), problem };
    if status == 404 {
        return Err(err("HTTP 404: no CAM role is bound to this instance (bind one in the CVM console)".into()));
    }
    if status != 200 {
        return Err(err(format!("HTTP {status}")));
    }
    let text = std::str::from_utf8(body).map_err(|_| err("the role name is not text".into()))?;
    let role = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if role.is_empty() {
        return Err(err("no CAM role is bound to this instance (bind one in the CVM console)".into()));
    }
    if !is_role_name(role) {
        return Err(err("the answer is not a CAM role name".into()));
    }
    Ok(role.to_string())
}

/// Read the role's temporary credentials from the metadata service's answer.
pub fn parse_metadata_credentials(url: &str, status: u16, body: &[u8]) -> Result<Temporary, CredentialsError> {
    let err = |problem: String| CredentialsError::Metadata { url: url.to_string(), problem };
    if status != 200 {
        return Err(err(format!("HTTP {status} (is the role still bound to this instance?)")));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| err("the answer is not JSON".into()))?;
    match text(&v, "Code") {
        Some("Success") => {}
        Some(code) if code.len() <= 64 && code.chars().all(|c| c.is_ascii_graphic()) => return Err(err(format!("Code {code}"))),
        _ => return Err(err("the answer has no Code \"Success\"".into())),
    }
    let bad = |what: &str| err(format!("the answer has no {what}"));
    Ok(Temporary {
        secret_id: text(&v, "TmpSecretId").ok_or_else(|| bad("TmpSecretId"))?.to_string(),
        secret_key: Secret::new(text(&v, "TmpSecretKey").ok_or_else(|| bad("TmpSecretKey"))?),
        token: Secret::new(text(&v, "Token").ok_or_else(|| bad("Token"))?),
        expired_time: seconds(&v, "ExpiredTime").ok_or_else(|| bad("ExpiredTime"))?,
    })
}

async fn get(transport: &Transport, url: &str) -> Result<(u16, Vec<u8>), CredentialsError> {
    let req = Request { method: "GET", url: url.to_string(), headers: Vec::new(), body: Vec::new() };
    transport.send(req).await.map_err(|f| CredentialsError::Metadata { url: url.to_string(), problem: f.to_string() })
}

/// Ask the metadata service for the role's credentials (its name first, unless given).
pub async fn fetch_cvm_role(transport: &Transport, base: &str, role: Option<&str>) -> Result<(String, Temporary), CredentialsError> {
    let role = match role {
        Some(r) => r.to_string(),
        None => {
            let url = metadata_role_url(base);
            let (status, body) = get(transport, &url).await?;
            parse_role_name(&url, status, &body)?
        }
    };
    let url = metadata_credentials_url(base, &role)?;
    let (status, body) = get(transport, &url).await?;
    Ok((role, parse_metadata_credentials(&url, status, &body)?))
}

async fn send_sts(transport: &Transport, action: &'static str, req: Request) -> Result<Temporary, CredentialsError> {
    let (status, body) = transport.send(req).await.map_err(|f| CredentialsError::StsReply { action, problem: f.to_string() })?;
    parse_sts(action, status, &body)
}

/// Call `AssumeRole` with `base`'s keys.
pub async fn fetch_assume_role(
    transport: &Transport,
    endpoint: &Endpoint,
    base: &Credentials,
    p: &AssumeRole,
    now_unix: i64,
) -> Result<Temporary, CredentialsError> {
    send_sts(transport, ASSUME_ROLE, assume_role_request(endpoint, base, p, now_unix)).await
}

/// Call `AssumeRoleWithWebIdentity`.
pub async fn fetch_web_identity(
    transport: &Transport,
    endpoint: &Endpoint,
    p: &WebIdentity,
    now_unix: i64,
) -> Result<Temporary, CredentialsError> {
    send_sts(transport, ASSUME_ROLE_WITH_WEB_IDENTITY, web_identity_request(endpoint, p, now_unix)).await
}

/// The CVM role, as a [`Fetch`].
pub struct CvmRoleFetch {
    /// HTTP client.
    pub transport: Transport,
    /// The metadata base address ([`METADATA_ENDPOINT`] unless overridden).
    pub base: String,
    /// The role, when the config names it; else the metadata service is asked each time.
    pub role: Option<String>,
}

impl Fetch for CvmRoleFetch {
    fn fetch(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let (role, t) = fetch_cvm_role(&self.transport, &self.base, self.role.as_deref()).await?;
            Ok(t.into_credentials(CredentialSource::CvmRole { role }))
        })
    }
}

/// STS `AssumeRole` with long-term keys, as a [`Fetch`].
pub struct AssumeRoleFetch {
    /// HTTP client.
    pub transport: Transport,
    /// STS ([`sts_endpoint`] unless overridden).
    pub endpoint: Endpoint,
    /// The keys that assume the role.
    pub base: Credentials,
    /// What to ask for.
    pub params: AssumeRole,
    /// Signing time.
    pub clock: Arc<dyn Clock>,
}

impl Fetch for AssumeRoleFetch {
    fn fetch(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let t = fetch_assume_role(&self.transport, &self.endpoint, &self.base, &self.params, self.clock.now_unix()).await?;
            let source = CredentialSource::AssumedRole { role_arn: self.params.role_arn.clone(), base: Box::new(self.base.source.clone()) };
            Ok(t.into_credentials(source))
        })
    }
}

/// TKE OIDC `AssumeRoleWithWebIdentity`, as a [`Fetch`] (the token file is read each time).
pub struct OidcFetch {
    /// HTTP client.
    pub transport: Transport,
    /// STS ([`sts_endpoint`] unless overridden).
    pub endpoint: Endpoint,
    /// The pod's OIDC environment.
    pub tke: TkeOidc,
    /// `DurationSeconds`.
    pub duration_secs: u32,
    /// `RoleSessionName`; `None`: `cdnsync-<milliseconds>`, new at each call.
    pub session_name: Option<String>,
    /// Time for the request and the session name.
    pub clock: Arc<dyn Clock>,
}

impl Fetch for OidcFetch {
    fn fetch(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let p = WebIdentity {
                region: self.tke.region.clone(),
                provider_id: self.tke.provider_id.clone(),
                web_identity_token: self.tke.read_token()?,
                role_arn: self.tke.role_arn.clone(),
                role_session_name: self.session_name.clone().unwrap_or_else(|| crate::credentials::oidc::session_name(self.clock.now_ms())),
                duration_secs: self.duration_secs,
            };
            let t = fetch_web_identity(&self.transport, &self.endpoint, &p, self.clock.now_unix()).await?;
            Ok(t.into_credentials(CredentialSource::Oidc { role_arn: self.tke.role_arn.clone() }))
        })
    }
}

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;
