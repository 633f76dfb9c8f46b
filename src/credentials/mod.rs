//! Where the API keys come from, and the [`Secret`] type that keeps them out of logs.
//!
//! `docs/credentials.md` is the user's side of this module; this is the developer's.
//!
//! ## The chain (`credentials = "auto"`), first found wins
//! 1. the environment: `TENCENTCLOUD_SECRET_ID` + `TENCENTCLOUD_SECRET_KEY`, token from
//!    `TENCENTCLOUD_TOKEN` (or `_SESSION_TOKEN` / `_SECURITY_TOKEN`);
//! 2. the config's `credentials_file` (cdnsync's own TOML, must be mode 0600) — [`own`];
//! 3. tccli's profile `~/.tccli/$TCCLI_PROFILE.credential` (JSON as tccli writes it) — [`tccli`];
//! 4. the SDK profile `~/.tencentcloud/credentials`, else `/etc/tencentcloud/credentials` (INI as
//!    Python's configparser reads it) — [`sdk`] over [`ini`].
//!
//! Files written by tccli or the SDK are judged by [`files`]: readable by others is a warning,
//! writable by others or owned by someone else is a refusal. [`chain::find`] returns what was
//! found ([`Found`]: keys, or a profile that asks for a role) with the warnings and, when nothing
//! is found, an error that lists every place looked at, in order.
//!
//! ## Temporary credentials: the provider the API clients call
//! Roles (CVM metadata, STS `AssumeRole`, TKE OIDC `AssumeRoleWithWebIdentity`) give credentials
//! that expire. The API clients do not hold a [`Credentials`] value but a
//! [`provider::CredentialProvider`], and per request:
//! ```text
//! let creds = provider.current().await?;   // cached, or fetched again when the Refresher says so
//! sign and send with creds;
//! if the answer is AuthFailure.TokenFailure / an expired signature {
//!     provider.invalidate();               // the next current() fetches anew
//!     retry once with provider.current().await?;
//! }
//! ```
//! [`provider::StaticProvider`] serves long-term keys (never refreshed);
//! [`provider::Refreshing`] serves anything behind a [`provider::Fetch`] (the STS and metadata
//! fetchers in `api::roles`), deciding when to fetch with the pure, clock-driven
//! [`refresh::Refresher`]: a safe margin before `ExpiredTime`, and at once after `invalidate()`.
//! The wire formats (requests, replies, the metadata paths) live in `api::roles`, since they are
//! Tencent's; the TKE environment variables are read in [`oidc`].
//!
//! Secrets (the SecretKey, tokens) appear in no error, warning, `Debug` output or file; a
//! SecretId is shown only masked ([`mask_id`]).

pub mod chain;
mod error;
pub mod files;
pub mod ini;
pub mod oidc;
pub mod own;
pub mod provider;
pub mod refresh;
pub mod sdk;
pub mod tccli;

use std::fmt;
use std::path::PathBuf;

pub use chain::{find, Found, Resolution, RoleRequest, Sources};
pub use error::{CredentialsError, IniProblem, Looked, Tool, Warning};
pub use provider::{CredentialProvider, SharedProvider, StaticProvider};

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
    Tccli {
        /// The profile name (`default` unless `TCCLI_PROFILE` says otherwise).
        profile: String,
        /// `~/.tccli/<profile>.credential`.
        path: PathBuf,
    },
    /// The SDK profile (`~/.tencentcloud/credentials` or `/etc/tencentcloud/credentials`).
    SdkProfile(PathBuf),
    /// Built in code (library users, tests).
    Explicit,
    /// Temporary credentials of the CVM instance's CAM role (metadata service).
    CvmRole {
        /// The role's name.
        role: String,
    },
    /// Temporary credentials of a role assumed through STS `AssumeRole`.
    AssumedRole {
        /// The role's ARN.
        role_arn: String,
        /// Where the keys that assumed it came from.
        base: Box<CredentialSource>,
    },
    /// Temporary credentials from TKE OIDC (`AssumeRoleWithWebIdentity`).
    Oidc {
        /// The role's ARN.
        role_arn: String,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment => f.write_str("environment (TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY)"),
            CredentialSource::File(p) => write!(f, "credentials_file {}", p.display()),
            CredentialSource::Tccli { profile, path } => write!(f, "tccli profile {profile} ({})", path.display()),
            CredentialSource::SdkProfile(p) => write!(f, "SDK profile {}", p.display()),
            CredentialSource::Explicit => f.write_str("set in code"),
            CredentialSource::CvmRole { role } => write!(f, "CVM role {role}"),
            CredentialSource::AssumedRole { role_arn, base } => write!(f, "role {role_arn} (assumed with {base})"),
            CredentialSource::Oidc { role_arn } => write!(f, "TKE OIDC role {role_arn}"),
        }
    }
}

/// A key pair, with the session token and expiry of temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    /// The SecretId (shown only masked).
    pub secret_id: String,
    /// The SecretKey (never shown).
    pub secret_key: Secret,
    /// Session token of temporary credentials.
    pub token: Option<Secret>,
    /// When temporary credentials expire (Unix seconds); `None` for long-term keys.
    pub expires_at: Option<i64>,
    /// Where they came from.
    pub source: CredentialSource,
}

impl Credentials {
    /// Credentials given in code (source: [`CredentialSource::Explicit`]).
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>, token: Option<String>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key: Secret::new(secret_key),
            token: token.filter(|t| !t.is_empty()).map(Secret::new),
            expires_at: None,
            source: CredentialSource::Explicit,
        }
    }

    /// The same credentials, recorded as coming from `source`.
    pub fn from_source(mut self, source: CredentialSource) -> Self {
        self.source = source;
        self
    }

    /// The SecretId as it may be shown: `AKID…MPLE`.
    pub fn masked_id(&self) -> String {
        mask_id(&self.secret_id)
    }

    /// What `status` shows: the source, the masked SecretId and, for temporary credentials, how
    /// long they have left (`CVM role web-purger (SecretId AKID…MPLE), expires in 1h 52m`).
    pub fn describe(&self, now_unix: i64) -> String {
        let mut s = format!("{} (SecretId {})", self.source, self.masked_id());
        if let Some(at) = self.expires_at {
            let left = at - now_unix;
            if left > 0 {
                s += &format!(", expires in {}", human_duration(left));
            } else {
                s += &format!(", expired {} ago", human_duration(-left));
            }
        }
        s
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.masked_id())
            .field("secret_key", &self.secret_key)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
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

/// Refuse a SecretId, SecretKey or token with whitespace or control characters in it: none has
/// any, and one that does was mangled on the way (a line break continues an INI value, and INI
/// has no inline comments). The value itself is never shown.
pub(crate) fn check_value(path: &std::path::Path, key: &str, value: &str) -> Result<(), CredentialsError> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CredentialsError::BadValue {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem: "contains spaces, line breaks or control characters, which no key has; in an INI file an indented \
                      next line continues the value and `# …` after a value is part of it",
        });
    }
    Ok(())
}

/// CAM role names: 1–128 of `A-Za-z0-9+=,.@-_`, and never `.` or `..` (the CVM role's name goes
/// into a metadata path, where those would move up).
pub fn is_role_name(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
}

/// STS session names: 2–128 of `A-Za-z0-9_+=,.@-`.
pub fn is_session_name(s: &str) -> bool {
    (2..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `1h 52m`, `3m 5s`, `2d 4h`: the two largest units of a positive number of seconds.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = Credentials::new("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", Some("tmpTok".into()));
        c.expires_at = Some(1_700_000_000);
        let d = format!("{c:?}");
        assert!(!d.contains("Gu5t9x") && !d.contains("tmpTok") && !d.contains("z8krbs"), "{d}");
        assert!(d.contains("AKID…MPLE") && d.contains("1700000000"), "{d}");
    }

    #[test]
    fn short_ids_are_hidden_entirely() {
        assert_eq!(mask_id("AKID1234567"), "****");
        assert_eq!(mask_id("AKID12345678"), "AKID…5678");
    }

    #[test]
    fn describe_says_source_and_time_left_never_the_secret() {
        let c = Credentials::new("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", Some("tmpTok".into()));
        let mut c = c.from_source(CredentialSource::CvmRole { role: "web-purger".into() });
        c.expires_at = Some(1_000 + 3600 + 52 * 60 + 7);
        let s = c.describe(1_000);
        assert_eq!(s, "CVM role web-purger (SecretId AKID…MPLE), expires in 1h 52m");
        assert!(c.describe(1_000 + 3600 * 3).ends_with("expired 1h 7m ago"), "{}", c.describe(1_000 + 3600 * 3));
        let t = Credentials::new("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "k", None)
            .from_source(CredentialSource::Tccli { profile: "work".into(), path: "/home/u/.tccli/work.credential".into() });
        assert_eq!(t.describe(0), "tccli profile work (/home/u/.tccli/work.credential) (SecretId AKID…MPLE)");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(185), "3m 5s");
        assert_eq!(human_duration(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
        assert_eq!(human_duration(-3), "0s");
    }
}
