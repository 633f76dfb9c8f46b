//! cdnsync's own `credentials_file`: TOML with `secret_id`, `secret_key` and an optional
//! `token`, held to the strict 0600 rule ([`super::files::Policy::Own`]).

use std::path::Path;

use super::files::{self, Policy};
use super::{check_value, CredentialSource, Credentials, CredentialsError};

/// Read and check the `credentials_file` at `path`, which must exist; `me` must own it (or root).
pub fn read(path: &Path, me: u32) -> Result<Credentials, CredentialsError> {
    let Some((text, _)) = files::read(path, Policy::Own, me)? else {
        return Err(CredentialsError::Unreadable { path: path.to_path_buf(), source: std::io::ErrorKind::NotFound.into() });
    };
    parse(path, &text)
}

/// Parse the text of a `credentials_file`.
pub fn parse(path: &Path, text: &str) -> Result<Credentials, CredentialsError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct F {
        secret_id: String,
        secret_key: String,
        token: Option<String>,
    }
    // The parse error may quote the line it failed on, which could hold the secret: say only where.
    let f: F = toml::from_str(text).map_err(|e| CredentialsError::OwnFileSyntax {
        path: path.to_path_buf(),
        line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
    })?;
    check_value(path, "secret_id", &f.secret_id)?;
    check_value(path, "secret_key", &f.secret_key)?;
    if let Some(t) = &f.token {
        check_value(path, "token", t)?;
    }
    if f.secret_id.is_empty() || f.secret_key.is_empty() {
        return Err(CredentialsError::OwnFileSyntax { path: path.to_path_buf(), line: None });
    }
    Ok(Credentials::new(f.secret_id, f.secret_key, f.token).from_source(CredentialSource::File(path.to_path_buf())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_the_file() {
        let p = Path::new("/etc/cdnsync/credentials.toml");
        let c = parse(p, "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"sk\"\ntoken = \"t\"\n").unwrap();
        assert_eq!((c.secret_id.as_str(), c.secret_key.expose(), c.token.unwrap().expose()), ("AKIDabcdefgh1234", "sk", "t"));
        assert_eq!(c.source, CredentialSource::File(p.into()));
    }

    #[test]
    fn malformed_files_are_reported_without_their_content() {
        let p = Path::new("c.toml");
        for text in [
            "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"leaky\n",
            "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = leaky\n",
            "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"leaky\"\nsecret = \"leaky\"\n",
            "secret_id = \"AKIDabcdefgh1234\"\nsecret_key = \"leaky leaky\"\n",
            "secret_id = \"\"\nsecret_key = \"leaky\"\n",
        ] {
            let e = parse(p, text).unwrap_err().to_string();
            assert!(!e.contains("leaky") && e.contains("c.toml"), "{e}");
        }
        let e = parse(p, "secret_id = \"A\"\nsecret_key = \"leaky\n").unwrap_err().to_string();
        assert!(e.contains("c.toml:2"), "{e}");
    }
}
