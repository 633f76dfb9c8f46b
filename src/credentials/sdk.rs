//! The SDK profile: `~/.tencentcloud/credentials`, else `/etc/tencentcloud/credentials` (the first
//! that exists is the one read, as the SDK's `ProfileCredential` does), INI read by [`super::ini`].
//!
//! Section `[default]`; keys `secret_id`, `secret_key` (both non-empty, else the file gives
//! nothing and the chain says why), `role_arn` (read by the SDK but not acted on in its default
//! chain; cdnsync keeps it for `credentials = "role"`), and two keys the Python SDK does not read
//! but cdnsync always did: `token` and `role_session_name`.

use std::path::Path;

use super::error::{CredentialsError, Warning};
use super::ini;
use super::{check_value, CredentialSource, Credentials};

/// What an SDK profile holds.
#[derive(Debug)]
pub enum SdkProfile {
    /// Usable keys.
    Keys {
        /// The keys (source: this file).
        credentials: Credentials,
        /// `role_arn`, when set.
        role_arn: Option<String>,
        /// `role_session_name`, when set.
        role_session_name: Option<String>,
        /// Quoted-looking values.
        warnings: Vec<Warning>,
    },
    /// No usable keys; why (for the list of places looked at).
    Nothing(String),
}

/// Interpret the text of the SDK profile at `path`.
pub fn parse(path: &Path, text: &str) -> Result<SdkProfile, CredentialsError> {
    let parsed = ini::parse(text).map_err(|(line, problem)| CredentialsError::IniSyntax { path: path.to_path_buf(), line, problem })?;
    let Some(section) = parsed.section("default") else {
        let others: Vec<String> = parsed.sections.iter().map(|s| format!("[{}]", s.name)).collect();
        return Ok(SdkProfile::Nothing(if others.is_empty() {
            "no [default] section".into()
        } else {
            format!("no [default] section (only {}; section names are case- and space-sensitive)", others.join(", "))
        }));
    };
    // The SDK strips each value and treats an empty one as absent.
    let get = |k: &str| section.get(k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let (Some(id), Some(key)) = (get("secret_id"), get("secret_key")) else {
        let missing: Vec<&str> = ["secret_id", "secret_key"].into_iter().filter(|k| get(k).is_none()).collect();
        let mut why = format!("[default] has no {} (or it is empty)", missing.join(" or "));
        if section.entries.iter().any(|(_, v)| v.contains('\n')) {
            why += "; note that a line indented deeper than the key above it continues that key's value";
        }
        return Ok(SdkProfile::Nothing(why));
    };
    let token = get("token");
    let mut warnings = Vec::new();
    for (k, v) in [("secret_id", Some(&id)), ("secret_key", Some(&key)), ("token", token.as_ref())] {
        let Some(v) = v else { continue };
        if looks_quoted(v) {
            warnings.push(Warning::LooksQuoted { path: path.to_path_buf(), key: k.to_string() });
        }
        check_value(path, k, v)?;
    }
    Ok(SdkProfile::Keys {
        credentials: Credentials::new(id, key, token).from_source(CredentialSource::SdkProfile(path.to_path_buf())),
        role_arn: get("role_arn"),
        role_session_name: get("role_session_name"),
        warnings,
    })
}

/// `"…"` or `'…'`: configparser keeps such quotes as part of the value.
fn looks_quoted(v: &str) -> bool {
    v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/home/u/.tencentcloud/credentials";
    const SECRET: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn keys(text: &str) -> (Credentials, Option<String>, Vec<Warning>) {
        match parse(Path::new(P), text).unwrap() {
            SdkProfile::Keys { credentials, role_arn, warnings, .. } => (credentials, role_arn, warnings),
            SdkProfile::Nothing(why) => panic!("no keys: {why}"),
        }
    }

    fn nothing(text: &str) -> String {
        match parse(Path::new(P), text).unwrap() {
            SdkProfile::Nothing(why) => why,
            SdkProfile::Keys { .. } => panic!("keys from {text:?}"),
        }
    }

    #[test]
    fn forms_the_sdk_accepts() {
        for text in [
            "[default]\nsecret_id = AKIDsdk0000001\nsecret_key = sk\n",
            "[default]\nsecret_id: AKIDsdk0000001\nsecret_key: sk\n",
            "[default]\nSECRET_ID = AKIDsdk0000001\nSecret_Key = sk\n",
            "; c\n# c\n[default]\n   secret_id   =   AKIDsdk0000001   \n\tsecret_key=sk\t\n",
            "[other]\nsecret_id = x\n[default]\nsecret_id = AKIDsdk0000001\nsecret_key = sk\n",
        ] {
            let (c, _, w) = keys(text);
            assert_eq!((c.secret_id.as_str(), c.secret_key.expose()), ("AKIDsdk0000001", "sk"), "{text:?}");
            assert!(w.is_empty(), "{text:?}");
            assert_eq!(c.source, CredentialSource::SdkProfile(P.into()));
        }
    }

    #[test]
    fn quoted_values_are_kept_with_a_warning() {
        let (c, _, w) = keys(&format!("[default]\nsecret_id = \"AKIDsdk0000001\"\nsecret_key = '{SECRET}'\n"));
        assert_eq!(c.secret_id, "\"AKIDsdk0000001\"");
        assert_eq!(c.secret_key.expose(), format!("'{SECRET}'"));
        assert_eq!(w.len(), 2);
        let s = w[1].to_string();
        assert!(s.contains("secret_key") && s.contains("quoted") && s.contains(P) && !s.contains(SECRET), "{s}");
    }

    #[test]
    fn role_arn_is_kept_for_role_mode() {
        let (_, arn, _) = keys("[default]\nsecret_id = A\nsecret_key = k\nrole_arn = qcs::cam::uin/100000000001:roleName/cdn\n");
        assert_eq!(arn.as_deref(), Some("qcs::cam::uin/100000000001:roleName/cdn"));
    }

    #[test]
    fn files_without_usable_keys_say_why() {
        assert!(nothing("[Default]\nsecret_id = a\nsecret_key = b\n").contains("[Default]"));
        assert!(nothing("[DEFAULT]\nsecret_id = a\nsecret_key = b\n").contains("no [default]"));
        assert!(nothing("[default]\nsecret_id = a\n").contains("secret_key"));
        assert!(nothing("[default]\nsecret_id =\nsecret_key = b\n").contains("secret_id"));
        assert_eq!(nothing(""), "no [default] section");
    }

    #[test]
    fn mangled_keys_are_refused_without_showing_them() {
        for text in [
            format!("[default]\nsecret_id = A\nsecret_key = {SECRET} # my key\n"),
            format!("[default]\nsecret_id = A\nsecret_key = {SECRET}\n  {SECRET}\n"),
        ] {
            let e = parse(Path::new(P), &text).unwrap_err();
            assert!(matches!(e, CredentialsError::BadValue { ref key, .. } if key == "secret_key"), "{e}");
            assert!(!e.to_string().contains(SECRET), "{e}");
        }
        let e = parse(Path::new(P), &format!("[default]\n{SECRET}\n")).unwrap_err();
        assert!(e.to_string().contains(&format!("{P}:2")) && !e.to_string().contains(SECRET), "{e}");
    }
}
