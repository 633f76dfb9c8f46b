//! The `[provider]` keys that choose where the API credentials come from (`credentials`,
//! `cvm_role_name`, `role_arn`, `role_session_name`, `role_duration_secs`, `metadata_endpoint`,
//! `sts_endpoint`), validated into [`CredentialSettings`]. The user's side is
//! `docs/credentials.md` and `docs/config.md`; what is done with them is `api::provider`.
//!
//! Kept apart from `validate/provider.rs` so that the credentials keys can change without touching
//! the rest of `[provider]`. `sts_endpoint` obeys the same plain-http rule as `endpoint`.

use super::raw::RawProvider;
use super::types::Endpoint;
use super::validate::{check_plain_http, parse_endpoint, Validator};

/// `[provider] credentials`: where the keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsMode {
    /// `"auto"`: environment, `credentials_file`, tccli profile, SDK profile (a profile may ask
    /// for a role or the CVM role).
    Auto,
    /// `"cvm_role"`: the CVM instance's CAM role, from the metadata service.
    CvmRole,
    /// `"role"`: STS `AssumeRole` with keys found as for `"auto"`.
    Role,
    /// `"oidc"`: TKE OIDC, STS `AssumeRoleWithWebIdentity`.
    Oidc,
}

impl CredentialsMode {
    /// The value as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsMode::Auto => "auto",
            CredentialsMode::CvmRole => "cvm_role",
            CredentialsMode::Role => "role",
            CredentialsMode::Oidc => "oidc",
        }
    }
}

/// The credentials keys of `[provider]`, validated. An endpoint of `None` is Tencent's own
/// (`api::roles::METADATA_ENDPOINT`, `api::roles::sts_endpoint()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSettings {
    /// `credentials`.
    pub mode: CredentialsMode,
    /// `cvm_role_name`: the CVM role to use; `None` asks the metadata service.
    pub cvm_role_name: Option<String>,
    /// `role_arn`: the role `credentials = "role"` assumes (else a profile's `role_arn`).
    pub role_arn: Option<String>,
    /// `role_session_name`: `None` is the profile's, else `cdnsync`.
    pub role_session_name: Option<String>,
    /// `role_duration_secs`: lifetime asked of STS; `None` is STS's default (7200 s).
    pub role_duration_secs: Option<u32>,
    /// `metadata_endpoint`: the metadata service's base address.
    pub metadata_endpoint: Option<Endpoint>,
    /// `sts_endpoint`: STS's address.
    pub sts_endpoint: Option<Endpoint>,
}

impl Default for CredentialSettings {
    fn default() -> Self {
        CredentialSettings {
            mode: CredentialsMode::Auto,
            cvm_role_name: None,
            role_arn: None,
            role_session_name: None,
            role_duration_secs: None,
            metadata_endpoint: None,
            sts_endpoint: None,
        }
    }
}

/// The longest lifetime STS grants (seconds).
pub const MAX_ROLE_DURATION_SECS: i64 = 43_200;
/// The metadata service's path, when `metadata_endpoint` gives none.
pub const METADATA_PATH: &str = "/latest/meta-data/";

/// Validate the credentials keys of `p`, reporting each problem through `v`.
pub(super) fn settings(v: &mut Validator, p: &RawProvider, allow_plain_http: bool) -> CredentialSettings {
    let mut s = CredentialSettings::default();
    if let Some(m) = v.word(&p.credentials, "provider.credentials", &["auto", "cvm_role", "role", "oidc"]) {
        s.mode = match m {
            "cvm_role" => CredentialsMode::CvmRole,
            "role" => CredentialsMode::Role,
            "oidc" => CredentialsMode::Oidc,
            _ => CredentialsMode::Auto,
        };
    }
    let mode = s.mode.as_str();
    if let Some(n) = v.get(&p.cvm_role_name, "provider.cvm_role_name") {
        if !crate::credentials::is_role_name(n.v) {
            let msg = format!("expected a CAM role name (1 to 128 of letters, digits and +=,.@-_), found \"{}\"", n.v);
            v.err(n.at, "provider.cvm_role_name", msg);
        } else if !matches!(s.mode, CredentialsMode::CvmRole | CredentialsMode::Auto) {
            v.err(n.at, "provider.cvm_role_name", format!("is only used with credentials = \"cvm_role\", but credentials = \"{mode}\""));
        } else {
            s.cvm_role_name = Some(n.v.clone());
        }
    }
    if let Some(a) = v.get(&p.role_arn, "provider.role_arn") {
        if !(a.v.starts_with("qcs::cam::") && a.v.len() <= 1024 && !a.v.chars().any(|c| c.is_whitespace() || c.is_control())) {
            let msg = format!("expected a role ARN such as \"qcs::cam::uin/100000000001:roleName/cdn-purger\", found \"{}\"", a.v);
            v.err(a.at, "provider.role_arn", msg);
        } else if s.mode != CredentialsMode::Role {
            let msg = format!("is only used with credentials = \"role\", but credentials = \"{mode}\": add credentials = \"role\"");
            v.err(a.at, "provider.role_arn", msg);
        } else {
            s.role_arn = Some(a.v.clone());
        }
    }
    if let Some(n) = v.get(&p.role_session_name, "provider.role_session_name") {
        if !crate::credentials::is_session_name(n.v) {
            v.err(n.at, "provider.role_session_name", format!("expected 2 to 128 of letters, digits and _+=,.@-, found \"{}\"", n.v));
        } else if s.mode == CredentialsMode::CvmRole {
            v.err(
                n.at,
                "provider.role_session_name",
                "is not used with credentials = \"cvm_role\" (the instance's role has no session name)",
            );
        } else {
            s.role_session_name = Some(n.v.clone());
        }
    }
    let cvm = s.mode == CredentialsMode::CvmRole;
    if let Some(d) = v.get(&p.role_duration_secs, "provider.role_duration_secs") {
        let n = *d.v;
        if !(1..=MAX_ROLE_DURATION_SECS).contains(&n) {
            v.err(d.at, "provider.role_duration_secs", format!("expected a whole number from 1 to {MAX_ROLE_DURATION_SECS}, found {n}"));
        } else if cvm {
            v.err(
                d.at,
                "provider.role_duration_secs",
                "is not used with credentials = \"cvm_role\" (the metadata service sets the lifetime)",
            );
        } else {
            s.role_duration_secs = Some(n as u32);
        }
    }
    if let Some(e) = v.get(&p.metadata_endpoint, "provider.metadata_endpoint") {
        // The metadata service speaks plain HTTP, inside the instance: http:// is its normal form
        // (it hands out credentials; it is sent none).
        match parse_endpoint(e.v, METADATA_PATH) {
            Ok(ep) => s.metadata_endpoint = Some(ep),
            Err(msg) => v.err(e.at, "provider.metadata_endpoint", msg),
        }
    }
    if let Some(e) = v.get(&p.sts_endpoint, "provider.sts_endpoint") {
        // STS is sent the signed request of the base keys (or a web identity token): the same
        // rule as `endpoint`.
        match parse_endpoint(e.v, "/").and_then(|ep| check_plain_http(&ep, allow_plain_http).map(|()| ep)) {
            Ok(ep) => s.sts_endpoint = Some(ep),
            Err(msg) => v.err(e.at, "provider.sts_endpoint", msg),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(keys: &str) -> Result<CredentialSettings, crate::config::ConfigErrors> {
        let text = format!("publish_dir = \"p\"\n[provider]\n{keys}\n[[domain]]\nhost = \"a.com\"\n");
        crate::config::from_str(&text, std::path::Path::new("c.toml"), std::path::Path::new("/")).map(|c| c.provider.credentials)
    }

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(provider("").unwrap(), CredentialSettings::default());
        let s = provider(
            "credentials = \"role\"\nrole_arn = \"qcs::cam::uin/1:roleName/p\"\nrole_session_name = \"ci-42\"\nrole_duration_secs = 900\n\
             sts_endpoint = \"http://127.0.0.1:9000\"\nmetadata_endpoint = \"http://127.0.0.1:9001\"",
        )
        .unwrap();
        assert_eq!(s.mode, CredentialsMode::Role);
        assert_eq!(
            (s.role_arn.as_deref(), s.role_session_name.as_deref(), s.role_duration_secs),
            (Some("qcs::cam::uin/1:roleName/p"), Some("ci-42"), Some(900))
        );
        assert_eq!(s.sts_endpoint.unwrap().url(), "http://127.0.0.1:9000/");
        assert_eq!(s.metadata_endpoint.unwrap().url(), "http://127.0.0.1:9001/latest/meta-data/", "the metadata path by default");
        let s = provider("credentials = \"cvm_role\"\ncvm_role_name = \"web-purger\"\nmetadata_endpoint = \"http://100.100.100.200/x/\"")
            .unwrap();
        assert_eq!((s.mode, s.cvm_role_name.as_deref()), (CredentialsMode::CvmRole, Some("web-purger")));
        assert_eq!(s.metadata_endpoint.unwrap().url(), "http://100.100.100.200/x/", "the metadata service is plain http by nature");
        assert_eq!(provider("credentials = \"oidc\"\nrole_duration_secs = 3600").unwrap().role_duration_secs, Some(3600));
    }

    /// Each mistake: the key, its line (3 = the first key of [provider]) and words of the message.
    #[test]
    fn mistakes_name_key_line_and_fix() {
        let cases: &[(&str, &str, &str)] = &[
            ("credentials = \"cvm\"", "provider.credentials", "\"auto\", \"cvm_role\", \"role\", \"oidc\", found \"cvm\""),
            ("credentials = \"cvm_role\"\ncvm_role_name = \"../x\"", "provider.cvm_role_name", "CAM role name"),
            ("credentials = \"role\"\ncvm_role_name = \"web\"", "provider.cvm_role_name", "only used with credentials = \"cvm_role\""),
            ("role_arn = \"qcs::cam::uin/1:roleName/p\"", "provider.role_arn", "add credentials = \"role\""),
            ("credentials = \"role\"\nrole_arn = \"arn:aws:iam::1:role/x\"", "provider.role_arn", "qcs::cam::"),
            ("credentials = \"role\"\nrole_session_name = \"a b\"", "provider.role_session_name", "2 to 128"),
            ("credentials = \"cvm_role\"\nrole_session_name = \"ab\"", "provider.role_session_name", "not used"),
            ("credentials = \"role\"\nrole_duration_secs = 0", "provider.role_duration_secs", "from 1 to 43200, found 0"),
            ("credentials = \"role\"\nrole_duration_secs = 86400", "provider.role_duration_secs", "found 86400"),
            ("credentials = \"cvm_role\"\nrole_duration_secs = 900", "provider.role_duration_secs", "metadata service sets"),
            ("sts_endpoint = \"http://sts.tencentcloudapi.com\"", "provider.sts_endpoint", "Use https://"),
            ("sts_endpoint = \"http://localhost.evil.com:80\"", "provider.sts_endpoint", "in clear"),
            ("sts_endpoint = \"sts.tencentcloudapi.com\"", "provider.sts_endpoint", "http:// or https://"),
            ("metadata_endpoint = \"http://meta data/\"", "provider.metadata_endpoint", "host[:port]"),
        ];
        for (keys, key, words) in cases {
            let errs = provider(keys).expect_err(keys).0;
            assert_eq!(errs.len(), 1, "{keys}: {errs:?}");
            let e = &errs[0];
            assert_eq!(e.key, *key, "{keys}: {e}");
            assert_eq!(e.line, Some(2 + keys.lines().count()), "{keys}: {e}");
            assert!(e.message.contains(words), "{keys}: {e}");
        }
        assert!(provider("sts_endpoint = \"https://sts.internal.example.com\"").is_ok());
        assert!(provider("sts_endpoint = \"http://[::1]:8080\"").is_ok());
    }

    #[test]
    fn plain_http_to_sts_follows_allow_plain_http() {
        let s = provider("allow_plain_http = true\nsts_endpoint = \"http://sts.proxy.internal\"").unwrap();
        assert_eq!(s.sts_endpoint.unwrap().host, "sts.proxy.internal");
    }
}
