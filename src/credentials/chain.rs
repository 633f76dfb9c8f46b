//! The `credentials = "auto"` chain: environment → `credentials_file` → tccli profile → SDK
//! profile (`~/.tencentcloud/credentials`, else `/etc/tencentcloud/credentials`). First found
//! wins; a file that exists but is refused (unsafe permissions, broken) stops the chain with its
//! error rather than silently using another account's keys further down.
//!
//! Everything the chain reads comes through [`Sources`], so tests give it a home folder, a
//! system file, a user id and a time of their own and never touch the real ones.

use std::path::{Path, PathBuf};

use super::error::{CredentialsError, Looked, Tool, Warning};
use super::files::{self, Policy};
use super::sdk::{self, SdkProfile};
use super::tccli::{self, TccliProfile};
use super::{own, CredentialSource, Credentials};

/// Where the SDK looks when `~/.tencentcloud/credentials` does not exist.
pub const SYSTEM_SDK_FILE: &str = "/etc/tencentcloud/credentials";

/// What the credential chain may look at.
pub struct Sources<'a> {
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The home folder (tccli and SDK profiles); `None` skips them.
    pub home: Option<PathBuf>,
    /// The SDK's system-wide profile ([`SYSTEM_SDK_FILE`]); `None` skips it.
    pub system_sdk_file: Option<PathBuf>,
    /// The user credentials files must belong to (or root): this process's.
    pub uid: u32,
    /// Now, in Unix seconds (for tccli logins that expire).
    pub now_unix: i64,
}

fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

impl Sources<'static> {
    /// The real ones: this process's environment, `$HOME`, `/etc/tencentcloud/credentials`, its
    /// user id and the system clock.
    pub fn from_process() -> Self {
        use crate::clock::Clock;
        Sources {
            env: &process_env,
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            system_sdk_file: Some(PathBuf::from(SYSTEM_SDK_FILE)),
            uid: files::current_uid(),
            now_unix: crate::clock::SystemClock.now_unix(),
        }
    }
}

impl Sources<'_> {
    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.is_empty())
    }
}

/// A profile that names a role to assume through STS `AssumeRole` with its keys.
#[derive(Clone, Debug)]
pub struct RoleRequest {
    /// The profile's own keys, which sign the `AssumeRole` call.
    pub base: Credentials,
    /// The role (`qcs::cam::uin/…:roleName/…`).
    pub role_arn: String,
    /// The profile's session name, when it has one.
    pub role_session_name: Option<String>,
}

/// What the chain found.
#[derive(Clone, Debug)]
pub enum Found {
    /// Keys to sign with.
    Keys(Credentials),
    /// A tccli profile with `role-arn`: assume it (STS) with the profile's keys.
    AssumeRole(RoleRequest),
    /// A tccli profile of `"type": "cvm-role"`: the CVM instance's role (metadata service).
    CvmRole {
        /// The profile that asks for it.
        source: CredentialSource,
    },
}

/// The chain's answer: what was found, what deserves a warning, where it looked.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The credentials (or the role to get them from).
    pub found: Found,
    /// To show the user (readable-by-others files, quoted values); never a secret.
    pub warnings: Vec<Warning>,
    /// The places looked at before the one that answered, in order.
    pub looked: Vec<Looked>,
    /// `role_arn` and `role_session_name` of the SDK profile that answered (the SDK's default
    /// chain ignores them; `credentials = "role"` uses them).
    pub sdk_role: Option<(String, Option<String>)>,
}

impl Resolution {
    fn new(found: Found, warnings: Vec<Warning>, looked: Vec<Looked>) -> Self {
        Resolution { found, warnings, looked, sdk_role: None }
    }
}

const ID: &str = "TENCENTCLOUD_SECRET_ID";
const KEY: &str = "TENCENTCLOUD_SECRET_KEY";

/// Walk the chain. `credentials_file` is the config's, already made absolute.
pub fn find(src: &Sources, credentials_file: Option<&Path>) -> Result<Resolution, CredentialsError> {
    let mut looked = Vec::new();

    // 1. The environment.
    let token =
        src.var("TENCENTCLOUD_TOKEN").or_else(|| src.var("TENCENTCLOUD_SESSION_TOKEN")).or_else(|| src.var("TENCENTCLOUD_SECURITY_TOKEN"));
    match (src.var(ID), src.var(KEY)) {
        (Some(id), Some(key)) => {
            let c = Credentials::new(id, key, token).from_source(CredentialSource::Environment);
            return Ok(Resolution::new(Found::Keys(c), Vec::new(), looked));
        }
        (Some(_), None) => return Err(CredentialsError::HalfSetEnvironment { set: ID, missing: KEY }),
        (None, Some(_)) => return Err(CredentialsError::HalfSetEnvironment { set: KEY, missing: ID }),
        (None, None) => looked.push(Looked::new("environment", format!("{ID} and {KEY} not set"))),
    }

    // 2. The config's credentials_file: named, so it must be there and right.
    match credentials_file {
        Some(path) => return Ok(Resolution::new(Found::Keys(own::read(path, src.uid)?), Vec::new(), looked)),
        None => looked.push(Looked::new("credentials_file", "not set in the config")),
    }

    // 3. tccli's profile.
    let profile_env = src.var("TCCLI_PROFILE");
    let profile = profile_env.clone().unwrap_or_else(|| "default".into());
    if !is_profile_name(&profile) {
        return Err(CredentialsError::BadProfileName { profile });
    }
    match &src.home {
        None => looked.push(Looked::new(format!("tccli profile {profile}"), "HOME is not set")),
        Some(home) => {
            let dir = home.join(".tccli");
            let path = dir.join(format!("{profile}.credential"));
            let place = format!("tccli profile {profile} ({})", path.display());
            match files::read(&path, Policy::Tool(Tool::Tccli), src.uid)? {
                None if profile_env.is_some() => {
                    return Err(CredentialsError::ProfileNotFound { profile, path, available: profiles_in(&dir) });
                }
                None => looked.push(Looked::new(place, "not found")),
                Some((text, warning)) => {
                    let warnings: Vec<Warning> = warning.into_iter().collect();
                    let source = CredentialSource::Tccli { profile: profile.clone(), path: path.clone() };
                    let found = match tccli::parse(&profile, &path, &text, src.now_unix)? {
                        TccliProfile::Keys(c) => Found::Keys(c),
                        TccliProfile::AssumeRole { base, role_arn, role_session_name } => {
                            Found::AssumeRole(RoleRequest { base, role_arn, role_session_name })
                        }
                        TccliProfile::CvmRole => Found::CvmRole { source },
                        TccliProfile::Nothing(why) => {
                            looked.push(Looked::new(place, why));
                            return find_sdk(src, looked);
                        }
                    };
                    return Ok(Resolution::new(found, warnings, looked));
                }
            }
        }
    }
    find_sdk(src, looked)
}

/// 4. The SDK profile: the first of the two files that exists is the only one read.
fn find_sdk(src: &Sources, mut looked: Vec<Looked>) -> Result<Resolution, CredentialsError> {
    let mut candidates = Vec::new();
    match &src.home {
        Some(home) => candidates.push(home.join(".tencentcloud").join("credentials")),
        None => looked.push(Looked::new("SDK profile ~/.tencentcloud/credentials", "HOME is not set")),
    }
    candidates.extend(src.system_sdk_file.clone());
    let mut read_one: Option<PathBuf> = None;
    for path in candidates {
        let place = format!("SDK profile {}", path.display());
        if let Some(first) = &read_one {
            looked.push(Looked::new(place, format!("not read: {} exists, and the SDK reads only the first it finds", first.display())));
            continue;
        }
        let Some((text, warning)) = files::read(&path, Policy::Tool(Tool::Sdk), src.uid)? else {
            looked.push(Looked::new(place, "not found"));
            continue;
        };
        match sdk::parse(&path, &text)? {
            SdkProfile::Keys { credentials, role_arn, role_session_name, warnings: quoted } => {
                let warnings = warning.into_iter().chain(quoted).collect();
                let mut r = Resolution::new(Found::Keys(credentials), warnings, looked);
                r.sdk_role = role_arn.map(|a| (a, role_session_name));
                return Ok(r);
            }
            SdkProfile::Nothing(why) => looked.push(Looked::new(place, why)),
        }
        read_one = Some(path);
    }
    Err(CredentialsError::NoCredentials { looked })
}

/// A name tccli could have made a file of, inside `~/.tccli`.
fn is_profile_name(p: &str) -> bool {
    !p.is_empty() && p != "." && p != ".." && p.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The profiles that have a `.credential` file in `dir`, sorted.
fn profiles_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".credential").map(str::to_string))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn sources<'a>(e: &'a dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Sources<'a> {
        Sources { env: e, home: home.map(Into::into), system_sdk_file: None, uid: files::current_uid(), now_unix: 1_700_000_000 }
    }

    #[test]
    fn env_wins_and_token_variants() {
        let e = env(&[(ID, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"), (KEY, "k"), ("TENCENTCLOUD_SESSION_TOKEN", "tok")]);
        let Found::Keys(c) = find(&sources(&e, None), None).unwrap().found else { panic!() };
        assert_eq!(c.source, CredentialSource::Environment);
        assert_eq!(c.token.as_ref().unwrap().expose(), "tok");
    }

    #[test]
    fn half_set_environment_names_both_variables() {
        let e = env(&[(KEY, "k")]);
        let err = find(&sources(&e, None), None).unwrap_err().to_string();
        assert!(err.contains(ID) && err.contains(KEY), "{err}");
    }

    #[test]
    fn nothing_found_lists_every_place_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let e = env(&[]);
        let mut s = sources(&e, Some(tmp.path()));
        s.system_sdk_file = Some(tmp.path().join("etc/credentials"));
        let err = find(&s, None).unwrap_err();
        let CredentialsError::NoCredentials { looked } = &err else { panic!("{err}") };
        let places: Vec<&str> = looked.iter().map(|l| l.place.as_str()).collect();
        assert_eq!(places.len(), 5, "{places:?}");
        assert!(places[0] == "environment" && places[1] == "credentials_file", "{places:?}");
        assert!(places[2].starts_with("tccli profile default") && places[3].contains(".tencentcloud/credentials"), "{places:?}");
        assert!(places[4].contains("etc/credentials"), "{places:?}");
        let text = err.to_string();
        assert!(text.contains("  1. environment: TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY not set"), "{text}");
        assert!(text.contains("  5. SDK profile"), "{text}");
        assert!(crate::Error::from(err).exit_code() == 2);
    }

    #[test]
    fn profile_names_cannot_leave_the_tccli_folder() {
        for bad in ["../x", "a/b", "..", ""] {
            assert!(!is_profile_name(bad), "{bad}");
        }
        assert!(is_profile_name("work-2.prod_x"));
        let e = |k: &str| (k == "TCCLI_PROFILE").then(|| "../../etc/passwd".to_string());
        let tmp = tempfile::tempdir().unwrap();
        let err = find(&sources(&e, Some(tmp.path())), None).unwrap_err();
        assert!(matches!(err, CredentialsError::BadProfileName { .. }), "{err}");
    }
}
