//! Why no credentials could be used ([`CredentialsError`]), and what was worth a word but used
//! anyway ([`Warning`]). Each names the file, profile or variable and the fix; none ever holds a
//! secret or a line of a credentials file (the line could be the secret).

use std::fmt;
use std::path::PathBuf;

/// Where a credentials file comes from, for the fix a message suggests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// tccli's `~/.tccli/<profile>.credential`.
    Tccli,
    /// The SDK profile (INI), written by hand or by other tools.
    Sdk,
}

/// A problem the SDK's configparser refuses too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IniProblem {
    /// A key before any `[section]`.
    MissingSectionHeader,
    /// The same `[section]` twice.
    DuplicateSection(String),
    /// The same key twice in a section.
    DuplicateOption {
        /// The section.
        section: String,
        /// The key (lower-cased, as configparser stores it).
        option: String,
    },
    /// A line that is neither a section, a comment nor `key = value` / `key: value`.
    NotKeyValue,
    /// `= value` with no key.
    EmptyKey,
}

impl fmt::Display for IniProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IniProblem::MissingSectionHeader => f.write_str("a key before any [section] header (the first section should be [default])"),
            IniProblem::DuplicateSection(s) => write!(f, "section [{s}] appears twice"),
            IniProblem::DuplicateOption { section, option } => write!(f, "{option} appears twice in [{section}]"),
            IniProblem::NotKeyValue => f.write_str("expected `key = value` or `key: value` (the line is not shown: it may hold a secret)"),
            IniProblem::EmptyKey => f.write_str("a value with no key before its `=` or `:`"),
        }
    }
}

/// One place the chain looked at, and what it found there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Looked {
    /// The source (`environment`, `tccli profile default (~/.tccli/default.credential)`, …).
    pub place: String,
    /// Why it gave nothing (`not found`, `TENCENTCLOUD_SECRET_ID not set`, …).
    pub outcome: String,
}

impl Looked {
    pub(crate) fn new(place: impl Into<String>, outcome: impl Into<String>) -> Self {
        Looked { place: place.into(), outcome: outcome.into() }
    }
}

impl fmt::Display for Looked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.outcome)
    }
}

/// Something wrong enough to mention, not to refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A file written by tccli or the SDK that group or others can read.
    ReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// Who wrote it.
        tool: Tool,
    },
    /// A value in an SDK profile that starts and ends with a quote: configparser keeps the quotes.
    LooksQuoted {
        /// The file.
        path: PathBuf,
        /// The key (`secret_id`, `secret_key`).
        key: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ReadableByOthers { path, mode, tool } => {
                write!(
                    f,
                    "{} is readable by group or others (mode {:03o}); using it anyway, but run: chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                )?;
                if *tool == Tool::Tccli {
                    f.write_str(" (tccli makes it 644 again on every `tccli configure set`)")?;
                }
                Ok(())
            }
            Warning::LooksQuoted { path, key } => write!(
                f,
                "{}: the value of {key} in [default] looks quoted; like the SDK, cdnsync keeps the quotes as part of it, \
                 so unless they belong to the value, remove them",
                path.display()
            ),
        }
    }
}

/// Why the credentials could not be used. Exit code 2 (nothing was done).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// One of the two key variables is set without the other.
    #[error("{set} is set but {missing} is not: set both, or unset {set} to use a credentials file or profile")]
    HalfSetEnvironment {
        /// The variable that is set.
        set: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// A credentials file that exists (or was named) could not be read.
    #[error("credentials file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file (a directory, a FIFO, a device).
    #[error("{} is not a regular file; a credentials file is expected there", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Far larger than any credentials file.
    #[error("{} is {len} bytes, too large for a credentials file (at most {max} bytes)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// cdnsync's own `credentials_file` must be 0600.
    #[error("credentials file {} is readable by group or others (mode {:03o}); run: chmod 600 {}", path.display(), mode & 0o777, path.display())]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Group or others could replace the keys.
    #[error(
        "{} is writable by group or others (mode {:03o}), so someone else could swap the keys: refused; run: chmod go-w {}",
        path.display(), mode & 0o777, path.display()
    )]
    WritableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Owned by a user other than this one or root.
    #[error(
        "{} is owned by user id {owner}, not by you (user id {me}) or root, so someone else could swap the keys: refused; \
         use a file of your own, or: sudo chown {me} {}",
        path.display(), path.display()
    )]
    ForeignOwner {
        /// The file.
        path: PathBuf,
        /// Its owner's user id.
        owner: u32,
        /// This process's user id.
        me: u32,
    },
    /// `credentials_file` is not the TOML it should be.
    #[error("credentials file {}{}: expected TOML with secret_id, secret_key and optional token", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    OwnFileSyntax {
        /// The file.
        path: PathBuf,
        /// The line the parser stopped at.
        line: Option<usize>,
    },
    /// A tccli profile that is not JSON.
    #[error("tccli profile {profile} ({}): not JSON (syntax error at line {line}, column {column}); write it again with: tccli configure set secretId … secretKey …{}", path.display(), profile_flag(profile))]
    TccliSyntax {
        /// The profile.
        profile: String,
        /// The file.
        path: PathBuf,
        /// Where the JSON parser stopped.
        line: usize,
        /// Where the JSON parser stopped.
        column: usize,
    },
    /// A tccli profile field of the wrong kind.
    #[error("tccli profile {profile} ({}): {field} {problem}; write it again with: tccli configure set {field} …{}", path.display(), profile_flag(profile))]
    TccliField {
        /// The profile.
        profile: String,
        /// The file.
        path: PathBuf,
        /// The field (`secretKey`, `expiresAt`, …).
        field: String,
        /// What is wrong with it (never its value).
        problem: String,
    },
    /// An SDK profile that Python's configparser refuses too.
    #[error("SDK profile {}:{line}: {problem} (the SDK's configparser refuses this file too)", path.display())]
    IniSyntax {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong.
        problem: IniProblem,
    },
    /// A key or id that cannot be used as it is (spaces inside, control characters).
    #[error("{}: {key} {problem}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong (never the value).
        problem: &'static str,
    },
    /// `TCCLI_PROFILE` names a profile that has no file.
    #[error(
        "TCCLI_PROFILE={profile}: no such tccli profile: {} does not exist{}; create it with: tccli configure set secretId … secretKey … --profile {profile}, or unset TCCLI_PROFILE",
        path.display(),
        if available.is_empty() { String::new() } else { format!(" (profiles there: {})", available.join(", ")) }
    )]
    ProfileNotFound {
        /// The profile asked for.
        profile: String,
        /// Where its file would be.
        path: PathBuf,
        /// The profiles that do exist.
        available: Vec<String>,
    },
    /// `TCCLI_PROFILE` is not a plain name (it would point outside `~/.tccli`).
    #[error("TCCLI_PROFILE={profile:?} is not a profile name: use letters, digits, '-', '_' and '.' only")]
    BadProfileName {
        /// The value given.
        profile: String,
    },
    /// A tccli login (`type` `oauth` or `sso`) whose temporary keys have expired.
    #[error(
        "tccli profile {profile} ({}): its {kind} login expired at {} UTC ({} ago): refused; log in again with: {}",
        path.display(), crate::clock::datetime(*expired_at, 0), super::human_duration(now - expired_at), login_fix(kind, profile)
    )]
    Expired {
        /// The profile.
        profile: String,
        /// The file.
        path: PathBuf,
        /// `oauth` or `sso`.
        kind: String,
        /// `expiresAt` (Unix seconds).
        expired_at: i64,
        /// The time of the check.
        now: i64,
    },
    /// Nothing anywhere: every place looked at, in order.
    #[error(
        "no credentials found; looked at, in order:\n{}\nset TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_TOKEN for \
         temporary credentials), name a credentials_file in the config, or run: tccli configure set secretId … secretKey …",
        numbered(looked)
    )]
    NoCredentials {
        /// Where the chain looked, in order.
        looked: Vec<Looked>,
    },
    /// `credentials = "role"` with no role named anywhere.
    #[error(
        "credentials = \"role\" needs a role to assume: set role_arn = \"qcs::cam::uin/…:roleName/…\" in [provider], or use a tccli \
         or SDK profile with a role_arn (the keys found are from {source_name}, which names none)"
    )]
    NoRoleArn {
        /// Where the keys were found.
        source_name: String,
    },
    /// `credentials = "role"`, but the chain found a profile that asks for the CVM role: no keys
    /// to call `AssumeRole` with.
    #[error(
        "credentials = \"role\" assumes the role with keys, but {source_name} asks for the CVM role and holds none; \
         use credentials = \"cvm_role\", or give keys (environment, credentials_file, a tccli profile with secretId and secretKey)"
    )]
    NoKeysForRole {
        /// The profile.
        source_name: String,
    },
    /// STS answered with an error.
    #[error("STS {action} refused: {code}: {message}{}", request_id.as_ref().map(|r| format!(" (RequestId {r})")).unwrap_or_default())]
    Sts {
        /// `AssumeRole` or `AssumeRoleWithWebIdentity`.
        action: &'static str,
        /// Tencent's error code.
        code: String,
        /// Tencent's message.
        message: String,
        /// For Tencent support.
        request_id: Option<String>,
    },
    /// STS could not be reached, or answered something that is not an STS reply.
    #[error("STS {action}: {problem}")]
    StsReply {
        /// `AssumeRole` or `AssumeRoleWithWebIdentity`.
        action: &'static str,
        /// What went wrong (never a secret: bodies are not quoted).
        problem: String,
    },
    /// The CVM metadata service could not be reached or said no.
    #[error("CVM role: metadata service {url}: {problem}")]
    Metadata {
        /// The address asked.
        url: String,
        /// What went wrong (never the body: it holds the keys).
        problem: String,
    },
    /// A `TKE_*` variable OIDC needs is missing.
    #[error("TKE OIDC: {var} is not set (credentials = \"oidc\" reads TKE_REGION, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE and TKE_ROLE_ARN, as a TKE pod with OIDC has them)")]
    OidcEnvironment {
        /// The variable.
        var: &'static str,
    },
    /// The OIDC token file could not be read, or is empty.
    #[error("TKE OIDC token file {} (TKE_WEB_IDENTITY_TOKEN_FILE): {problem}", path.display())]
    OidcTokenFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// Temporary credentials that were already expired when they arrived (clock or service wrong).
    #[error("temporary credentials from {source_name} expire at {} UTC, which is not after now ({} UTC): check this machine's clock", crate::clock::datetime(*expires_at, 0), crate::clock::datetime(*now, 0))]
    StaleTemporary {
        /// Where they came from.
        source_name: String,
        /// Their `ExpiredTime`.
        expires_at: i64,
        /// The time of the check.
        now: i64,
    },
}

fn profile_flag(profile: &str) -> String {
    if profile == "default" {
        String::new()
    } else {
        format!(" --profile {profile}")
    }
}

fn login_fix(kind: &str, profile: &str) -> String {
    match kind {
        "sso" => format!("tccli sso login{}", profile_flag(profile)),
        _ => format!("tccli auth login{}", profile_flag(profile)),
    }
}

fn numbered(looked: &[Looked]) -> String {
    looked.iter().enumerate().map(|(i, l)| format!("  {}. {l}", i + 1)).collect::<Vec<_>>().join("\n")
}
