//! tccli's profile: `~/.tccli/<profile>.credential`, JSON as tccli 3.x writes it.
//!
//! `tccli configure set` writes (sorted keys, two-space indent, mode 0644 under the usual umask):
//! `secretId`, `secretKey`, `token`, `role-arn`, `role-session-name`, and `"type": "cvm-role"`
//! for `use-cvm-role true` (`"default"` for false). `tccli auth login` writes `"type": "oauth"`
//! and `tccli sso login` `"type": "sso"`, both with temporary keys, a `token` and `expiresAt`
//! (Unix seconds); tccli refreshes those itself when it runs, cdnsync never does. An
//! interactive `tccli configure` that was given no keys writes the string `"None"` for them.

use std::path::Path;

use serde_json::Value;

use super::error::CredentialsError;
use super::{check_value, CredentialSource, Credentials};

/// What a tccli profile holds.
#[derive(Debug)]
pub enum TccliProfile {
    /// Keys to sign with (temporary ones carry `token` and `expires_at`).
    Keys(Credentials),
    /// `role-arn` set: assume that role through STS with these keys.
    AssumeRole {
        /// The profile's keys.
        base: Credentials,
        /// `role-arn`.
        role_arn: String,
        /// `role-session-name`, when set.
        role_session_name: Option<String>,
    },
    /// `"type": "cvm-role"` (`tccli configure set use-cvm-role true`).
    CvmRole,
    /// No keys; why (for the list of places looked at).
    Nothing(String),
}

/// Interpret the text of the tccli profile `profile` at `path`, at time `now` (Unix seconds).
pub fn parse(profile: &str, path: &Path, text: &str, now: i64) -> Result<TccliProfile, CredentialsError> {
    let field_err = |field: &str, problem: &str| CredentialsError::TccliField {
        profile: profile.to_string(),
        path: path.to_path_buf(),
        field: field.to_string(),
        problem: problem.to_string(),
    };
    // serde_json's syntax errors name a position, never the text.
    let v: Value = serde_json::from_str(text).map_err(|e| CredentialsError::TccliSyntax {
        profile: profile.to_string(),
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(obj) = v else {
        return Err(field_err("the file", "is not a JSON object"));
    };
    let text_field = |k: &str| -> Result<Option<String>, CredentialsError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(field_err(k, "is not a string")),
        }
    };
    let kind = text_field("type")?.unwrap_or_default();
    if kind == "cvm-role" {
        return Ok(TccliProfile::CvmRole);
    }
    // "None" is what an interactive `tccli configure` writes for a key it was not given.
    let key_field = |k: &str| Ok::<_, CredentialsError>(text_field(k)?.filter(|s| s != "None"));
    let (id, key, token) = (key_field("secretId")?, key_field("secretKey")?, key_field("token")?);
    let expires_at = if kind == "oauth" || kind == "sso" {
        let at = match obj.get("expiresAt") {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            None | Some(Value::Null) => return Err(field_err("expiresAt", &format!("is missing (every tccli {kind} login writes it)"))),
            Some(_) => None,
        };
        let Some(at) = at else { return Err(field_err("expiresAt", "is not a number of seconds")) };
        if at <= now {
            return Err(CredentialsError::Expired { profile: profile.into(), path: path.into(), kind, expired_at: at, now });
        }
        Some(at)
    } else {
        None
    };
    let role_arn = text_field("role-arn")?;
    let (Some(id), Some(key)) = (id, key) else {
        if let Some(arn) = role_arn {
            let _ = arn;
            return Err(field_err("secretId", "or secretKey is missing: the profile's role-arn is assumed with the profile's own keys"));
        }
        return Ok(TccliProfile::Nothing("no secretId and secretKey".into()));
    };
    check_value(path, "secretId", &id)?;
    check_value(path, "secretKey", &key)?;
    if let Some(t) = &token {
        check_value(path, "token", t)?;
    }
    let mut creds =
        Credentials::new(id, key, token).from_source(CredentialSource::Tccli { profile: profile.to_string(), path: path.to_path_buf() });
    creds.expires_at = expires_at;
    Ok(match role_arn {
        Some(role_arn) => TccliProfile::AssumeRole { base: creds, role_arn, role_session_name: text_field("role-session-name")? },
        None => TccliProfile::Keys(creds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/home/u/.tccli/default.credential";
    const NOW: i64 = 1_700_000_000;
    const SECRET: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn parse_at(text: &str) -> Result<TccliProfile, CredentialsError> {
        parse("default", Path::new(P), text, NOW)
    }

    #[test]
    fn keys_as_tccli_configure_set_writes_them() {
        let text = format!("{{\n  \"secretId\": \"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE\",\n  \"secretKey\": \"{SECRET}\"\n}}");
        let TccliProfile::Keys(c) = parse_at(&text).unwrap() else { panic!() };
        assert_eq!((c.secret_id.as_str(), c.secret_key.expose()), ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", SECRET));
        assert_eq!(c.source, CredentialSource::Tccli { profile: "default".into(), path: P.into() });
        assert!(c.token.is_none() && c.expires_at.is_none());
        let TccliProfile::Keys(c) = parse_at(r#"{"secretId": "AKIDx", "secretKey": "k", "token": "t", "type": "default"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(c.token.unwrap().expose(), "t");
    }

    #[test]
    fn role_arn_asks_for_assume_role() {
        let r =
            parse_at(r#"{"role-arn": "qcs::cam::uin/1:roleName/cdn", "role-session-name": "s", "secretId": "AKIDx", "secretKey": "k"}"#);
        let TccliProfile::AssumeRole { base, role_arn, role_session_name } = r.unwrap() else { panic!() };
        assert_eq!(
            (role_arn.as_str(), role_session_name.as_deref(), base.secret_key.expose()),
            ("qcs::cam::uin/1:roleName/cdn", Some("s"), "k")
        );
        let e = parse_at(r#"{"role-arn": "qcs::cam::uin/1:roleName/cdn"}"#).unwrap_err();
        assert!(e.to_string().contains("role-arn"), "{e}");
    }

    #[test]
    fn cvm_role_type() {
        assert!(matches!(parse_at(r#"{"type": "cvm-role"}"#).unwrap(), TccliProfile::CvmRole));
    }

    #[test]
    fn oauth_and_sso_logins_expire() {
        let live =
            format!(r#"{{"type": "oauth", "secretId": "AKIDx", "secretKey": "{SECRET}", "token": "tok", "expiresAt": {}}}"#, NOW + 600);
        let TccliProfile::Keys(c) = parse_at(&live).unwrap() else { panic!() };
        assert_eq!(c.expires_at, Some(NOW + 600));
        for kind in ["oauth", "sso"] {
            let dead =
                format!(r#"{{"type": "{kind}", "secretId": "AKIDx", "secretKey": "{SECRET}", "token": "tok", "expiresAt": {}}}"#, NOW - 90);
            let e = parse_at(&dead).unwrap_err();
            let s = e.to_string();
            assert!(matches!(e, CredentialsError::Expired { .. }), "{s}");
            assert!(s.contains(&format!("tccli {} login", if kind == "sso" { "sso" } else { "auth" })) && s.contains("1m 30s ago"), "{s}");
            assert!(!s.contains(SECRET) && !s.contains("tok"), "{s}");
        }
        let e = parse_at(r#"{"type": "oauth", "secretId": "AKIDx", "secretKey": "k"}"#).unwrap_err();
        assert!(e.to_string().contains("expiresAt is missing"), "{e}");
        let e = parse("work", Path::new(P), r#"{"type": "oauth", "secretId": "A", "secretKey": "k", "expiresAt": 5}"#, NOW).unwrap_err();
        assert!(e.to_string().contains("tccli auth login --profile work"), "{e}");
    }

    #[test]
    fn placeholders_and_empty_files_give_nothing() {
        assert!(matches!(parse_at(r#"{"secretId": "None", "secretKey": "None"}"#).unwrap(), TccliProfile::Nothing(_)));
        assert!(matches!(parse_at("{}").unwrap(), TccliProfile::Nothing(_)));
        assert!(matches!(parse_at(r#"{"secretId": "AKIDx"}"#).unwrap(), TccliProfile::Nothing(_)));
    }

    #[test]
    fn broken_files_are_refused_without_their_content() {
        for text in [
            format!(r#"{{"secretId": "AKIDx", "secretKey": "{SECRET}""#),
            format!(r#"{{"secretId": "AKIDx", "secretKey": "{SECRET} "}}"#),
            format!(r#"["{SECRET}"]"#),
            format!(r#"{{"secretId": "AKIDx", "secretKey": ["{SECRET}"]}}"#),
            format!(r#"{{"secretId": "AKIDx", "secretKey": "{SECRET}", "token": "a\nb"}}"#),
        ] {
            let e = parse_at(&text).unwrap_err().to_string();
            assert!(!e.contains(SECRET) && e.contains(P), "{e}");
        }
    }
}
