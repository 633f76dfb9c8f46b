//! Where the API keys come from (SPEC §1), and the [`Secret`] type that keeps them out of logs.
//!
//! Order, first found wins: the environment; the config's `credentials_file`; tccli's profile;
//! the SDKs' profile. Never the command line.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A secret string whose `Debug` never shows it and which has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the credentials were found (shown by `status`; never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// `TENCENTCLOUD_*` environment variables.
    Environment,
    /// The config's `credentials_file`.
    File(PathBuf),
    /// tccli's profile file.
    Tccli(PathBuf),
    /// The SDKs' `~/.tencentcloud/credentials`.
    SdkProfile(PathBuf),
    /// Built in code (library users, tests).
    Explicit,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment => f.write_str("environment (TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY)"),
            CredentialSource::File(p) => write!(f, "credentials_file {}", p.display()),
            CredentialSource::Tccli(p) => write!(f, "tccli profile {}", p.display()),
            CredentialSource::SdkProfile(p) => write!(f, "SDK profile {}", p.display()),
            CredentialSource::Explicit => f.write_str("set in code"),
        }
    }
}

/// A key pair, with the session token of temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    /// The SecretId (shown only masked).
    pub secret_id: String,
    /// The SecretKey (never shown).
    pub secret_key: Secret,
    /// Session token of temporary credentials.
    pub token: Option<Secret>,
    /// Where they came from.
    pub source: CredentialSource,
}

impl Credentials {
    /// Credentials given in code (source: environment).
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>, token: Option<String>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key: Secret::new(secret_key),
            token: token.filter(|t| !t.is_empty()).map(Secret::new),
            source: CredentialSource::Explicit,
        }
    }

    /// The SecretId as it may be shown: `AKID…MPLE`.
    pub fn masked_id(&self) -> String {
        mask_id(&self.secret_id)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.masked_id())
            .field("secret_key", &self.secret_key)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("source", &self.source)
            .finish()
    }
}

/// First four and last four characters of a SecretId; shorter ids are hidden entirely.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// What the credential chain may look at: the environment and the home folder.
pub struct Sources<'a> {
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The home folder (tccli and SDK profiles).
    pub home: Option<PathBuf>,
}

impl Sources<'_> {
    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.is_empty())
    }
}

/// Walk the chain and return the first complete set of credentials.
pub fn resolve(src: &Sources, credentials_file: Option<&Path>) -> Result<Credentials, Error> {
    let id = src.var("TENCENTCLOUD_SECRET_ID");
    let key = src.var("TENCENTCLOUD_SECRET_KEY");
    let token =
        src.var("TENCENTCLOUD_TOKEN").or_else(|| src.var("TENCENTCLOUD_SESSION_TOKEN")).or_else(|| src.var("TENCENTCLOUD_SECURITY_TOKEN"));
    match (id, key) {
        (Some(id), Some(key)) => {
            let mut c = Credentials::new(id, key, token);
            c.source = CredentialSource::Environment;
            return Ok(c);
        }
        (Some(_), None) => {
            return Err(Error::Credentials("TENCENTCLOUD_SECRET_ID is set but TENCENTCLOUD_SECRET_KEY is not".into()));
        }
        (None, Some(_)) => {
            return Err(Error::Credentials("TENCENTCLOUD_SECRET_KEY is set but TENCENTCLOUD_SECRET_ID is not".into()));
        }
        (None, None) => {}
    }
    if let Some(path) = credentials_file {
        return read_credentials_file(path);
    }
    if let Some(home) = &src.home {
        let profile = src.var("TCCLI_PROFILE").unwrap_or_else(|| "default".into());
        let tccli = home.join(".tccli").join(format!("{profile}.credential"));
        if tccli.is_file() {
            return read_tccli(&tccli);
        }
    }
    let mut sdk_paths = Vec::new();
    if let Some(home) = &src.home {
        sdk_paths.push(home.join(".tencentcloud").join("credentials"));
    }
    sdk_paths.push(PathBuf::from("/etc/tencentcloud/credentials"));
    for p in sdk_paths {
        if p.is_file() {
            return read_sdk_profile(&p);
        }
    }
    Err(Error::Credentials(
        "no credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_TOKEN for temporary \
         credentials), or name a credentials_file in the config"
            .into(),
    ))
}

fn read_private(path: &Path) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Credentials(format!("credentials file {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Credentials(format!(
                "credentials file {} is readable by group or others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read_to_string(path).map_err(|e| Error::Credentials(format!("credentials file {}: {e}", path.display())))
}

/// `credentials_file`: TOML with `secret_id`, `secret_key`, optional `token`.
pub fn read_credentials_file(path: &Path) -> Result<Credentials, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct F {
        secret_id: String,
        secret_key: String,
        token: Option<String>,
    }
    let text = read_private(path)?;
    // The parse error may quote the line it failed on, which could hold the secret: say only where.
    let f: F = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| crate::config::validate::line_of(&text, s.start));
        Error::Credentials(format!(
            "credentials file {}{}: expected TOML with secret_id, secret_key and optional token",
            path.display(),
            line.map(|l| format!(":{l}")).unwrap_or_default()
        ))
    })?;
    let mut c = Credentials::new(f.secret_id, f.secret_key, f.token);
    c.source = CredentialSource::File(path.to_path_buf());
    Ok(c)
}

fn read_tccli(path: &Path) -> Result<Credentials, Error> {
    let text = read_private(path)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| Error::Credentials(format!("tccli profile {}: expected JSON with secretId and secretKey", path.display())))?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match (get("secretId"), get("secretKey")) {
        (Some(id), Some(key)) => {
            let mut c = Credentials::new(id, key, get("token"));
            c.source = CredentialSource::Tccli(path.to_path_buf());
            Ok(c)
        }
        _ => Err(Error::Credentials(format!("tccli profile {}: secretId or secretKey missing", path.display()))),
    }
}

fn read_sdk_profile(path: &Path) -> Result<Credentials, Error> {
    let text = read_private(path)?;
    let mut section = String::new();
    let mut kv: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
        } else if section == "default" {
            if let Some((k, v)) = line.split_once('=') {
                kv.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    match (kv.remove("secret_id"), kv.remove("secret_key")) {
        (Some(id), Some(key)) => {
            let mut c = Credentials::new(id, key, kv.remove("token"));
            c.source = CredentialSource::SdkProfile(path.to_path_buf());
            Ok(c)
        }
        _ => Err(Error::Credentials(format!("SDK profile {}: section [default] needs secret_id and secret_key", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn env_wins_and_token_variants() {
        let e = env(&[
            ("TENCENTCLOUD_SECRET_ID", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            ("TENCENTCLOUD_SECRET_KEY", "k"),
            ("TENCENTCLOUD_SESSION_TOKEN", "tok"),
        ]);
        let c = resolve(&Sources { env: &e, home: None }, None).unwrap();
        assert_eq!(c.source, CredentialSource::Environment);
        assert_eq!(c.token.as_ref().unwrap().expose(), "tok");
        assert_eq!(c.masked_id(), "AKID…MPLE");
    }

    #[test]
    fn missing_credentials_name_the_variables() {
        let e = env(&[]);
        let tmp = tempfile::tempdir().unwrap();
        let err = resolve(&Sources { env: &e, home: Some(tmp.path().into()) }, None).unwrap_err();
        let s = err.to_string();
        assert!(s.contains("TENCENTCLOUD_SECRET_ID") && s.contains("TENCENTCLOUD_SECRET_KEY"), "{s}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", Some("tmpTok".into()));
        let d = format!("{c:?}");
        assert!(!d.contains("Gu5t9x") && !d.contains("tmpTok") && !d.contains("z8krbs"), "{d}");
        assert!(d.contains("AKID…MPLE"), "{d}");
    }

    #[cfg(unix)]
    #[test]
    fn credentials_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c.toml");
        std::fs::write(&p, "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"sk\"\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = env(&[]);
        let err = resolve(&Sources { env: &e, home: None }, Some(&p)).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = resolve(&Sources { env: &e, home: None }, Some(&p)).unwrap();
        assert_eq!(c.secret_key.expose(), "sk");
        // A malformed file is reported without echoing its content.
        std::fs::write(&p, "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"leaky\n").unwrap();
        let err = resolve(&Sources { env: &e, home: None }, Some(&p)).unwrap_err().to_string();
        assert!(!err.contains("leaky"), "{err}");
    }

    #[test]
    fn tccli_and_sdk_profiles() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        std::fs::create_dir_all(home.join(".tencentcloud")).unwrap();
        let sdk = home.join(".tencentcloud/credentials");
        std::fs::write(&sdk, "[other]\nsecret_id = x\n[default]\nsecret_id = AKIDsdk0000001\nsecret_key = sdkkey\n").unwrap();
        std::fs::set_permissions(&sdk, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = env(&[]);
        let c = resolve(&Sources { env: &e, home: Some(home.into()) }, None).unwrap();
        assert_eq!((c.secret_id.as_str(), c.secret_key.expose()), ("AKIDsdk0000001", "sdkkey"));
        std::fs::create_dir_all(home.join(".tccli")).unwrap();
        let t = home.join(".tccli/default.credential");
        std::fs::write(&t, r#"{"secretId": "AKIDtccli000001", "secretKey": "tk"}"#).unwrap();
        std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = resolve(&Sources { env: &e, home: Some(home.into()) }, None).unwrap();
        assert!(matches!(c.source, CredentialSource::Tccli(_)));
    }
}
