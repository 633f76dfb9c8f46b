//! TKE OIDC: the environment a TKE pod with OIDC gets, read as the official SDK's
//! `DefaultTkeOIDCRoleArnProvider` reads it (`TKE_REGION`, `TKE_PROVIDER_ID`,
//! `TKE_WEB_IDENTITY_TOKEN_FILE`, `TKE_ROLE_ARN`, all required). The token file is read again
//! before every `AssumeRoleWithWebIdentity`, since TKE rotates it. The request itself is in
//! `api::roles`.

use std::path::{Path, PathBuf};

use super::{CredentialsError, Secret};

/// The region of the `AssumeRoleWithWebIdentity` call.
pub const ENV_REGION: &str = "TKE_REGION";
/// The identity provider's name.
pub const ENV_PROVIDER_ID: &str = "TKE_PROVIDER_ID";
/// The file holding the OIDC token.
pub const ENV_TOKEN_FILE: &str = "TKE_WEB_IDENTITY_TOKEN_FILE";
/// The role to assume.
pub const ENV_ROLE_ARN: &str = "TKE_ROLE_ARN";

/// What a TKE pod's environment says about its OIDC role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TkeOidc {
    /// `TKE_REGION`.
    pub region: String,
    /// `TKE_PROVIDER_ID`.
    pub provider_id: String,
    /// `TKE_WEB_IDENTITY_TOKEN_FILE`.
    pub token_file: PathBuf,
    /// `TKE_ROLE_ARN`.
    pub role_arn: String,
}

impl TkeOidc {
    /// Read the four variables; the first missing (or empty) one is the error.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let var = |k: &'static str| env(k).filter(|v| !v.is_empty()).ok_or(CredentialsError::OidcEnvironment { var: k });
        Ok(TkeOidc {
            region: var(ENV_REGION)?,
            provider_id: var(ENV_PROVIDER_ID)?,
            token_file: PathBuf::from(var(ENV_TOKEN_FILE)?),
            role_arn: var(ENV_ROLE_ARN)?,
        })
    }

    /// The current token. Surrounding whitespace is dropped (a JWT has none; a file written by
    /// hand often ends in a newline).
    pub fn read_token(&self) -> Result<Secret, CredentialsError> {
        read_token(&self.token_file)
    }
}

fn read_token(path: &Path) -> Result<Secret, CredentialsError> {
    let err = |problem: String| CredentialsError::OidcTokenFile { path: path.to_path_buf(), problem };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > super::files::MAX_LEN {
        return Err(err(format!("{} bytes, too large for a token", meta.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("empty".into()));
    }
    Ok(Secret::new(token))
}

/// A session name for `now_ms` (the SDK uses `tencentcloud-python-sdk-<microseconds>`).
pub fn session_name(now_ms: i64) -> String {
    format!("cdnsync-{now_ms}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_four_variables_and_names_the_missing_one() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("token");
        std::fs::write(&file, "eyJhbGciOiJSUzI1NiJ9.e30.sig\n").unwrap();
        let f = file.to_str().unwrap().to_string();
        let env = move |k: &str| match k {
            ENV_REGION => Some("ap-guangzhou".to_string()),
            ENV_PROVIDER_ID => Some("tke-cls-1".to_string()),
            ENV_TOKEN_FILE => Some(f.clone()),
            ENV_ROLE_ARN => Some("qcs::cam::uin/1:roleName/pod".to_string()),
            _ => None,
        };
        let t = TkeOidc::from_env(&env).unwrap();
        assert_eq!(
            (t.region.as_str(), t.provider_id.as_str(), t.role_arn.as_str()),
            ("ap-guangzhou", "tke-cls-1", "qcs::cam::uin/1:roleName/pod")
        );
        let token = t.read_token().unwrap();
        assert_eq!(token.expose(), "eyJhbGciOiJSUzI1NiJ9.e30.sig");
        std::fs::write(&file, "  \n").unwrap();
        assert!(t.read_token().unwrap_err().to_string().contains("empty"));

        let partial = |k: &str| (k == ENV_REGION).then(|| "ap-guangzhou".to_string());
        let e = TkeOidc::from_env(&partial).unwrap_err();
        assert!(matches!(e, CredentialsError::OidcEnvironment { var: ENV_PROVIDER_ID }), "{e}");
    }

    #[test]
    fn session_names_fit_sts_rules() {
        let s = session_name(1_700_000_000_123);
        assert!(s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)), "{s}");
    }
}
