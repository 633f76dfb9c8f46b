//! The fleet's error type, grouped by what the caller must do.
//!
//! Redis is a coordinator, not the source of truth: [`FleetError::Unavailable`] means "carry on
//! alone" (purge without the fleet: duplicates possible, nothing lost). The other kinds are
//! mistakes to report: wrong credentials ([`FleetError::Auth`]), bad settings or input, and
//! answers cdnsync does not understand ([`FleetError::Protocol`]: a foreign writer in the key
//! space, a too-old server). Every message names the server by its redacted URL and has any
//! password scrubbed from the driver's text.

use redis::{ErrorKind, RedisError, ServerErrorKind};

use super::settings::Password;

/// What went wrong talking to the fleet's Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// Redis cannot be reached, dropped the connection, timed out, or is loading / read-only /
    /// failing over. The caller falls back to solo mode and rejoins later.
    #[error("fleet: Redis at {server} is unavailable during {op}: {reason}")]
    Unavailable {
        /// The server, redacted (`redis://:***@host:port/db`).
        server: String,
        /// The coordinator call.
        op: &'static str,
        /// What the driver said (password scrubbed).
        reason: String,
    },
    /// Redis refused the credentials (no password, a wrong one, or an ACL without permission).
    #[error("fleet: Redis at {server} refused the credentials ({reason}); set the password in [fleet] redis or ${env}", env = super::settings::PASSWORD_ENV)]
    Auth {
        /// The server, redacted.
        server: String,
        /// What the server said (password scrubbed).
        reason: String,
    },
    /// Redis answered something the coordinator does not understand.
    #[error("fleet: unexpected answer from Redis at {server} during {op}: {reason}")]
    Protocol {
        /// The server, redacted.
        server: String,
        /// The coordinator call.
        op: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The `[fleet]` settings are wrong.
    #[error("{0}")]
    Settings(String),
    /// The caller passed something the coordinator cannot store (an empty path, a zero count).
    #[error("fleet: {0}")]
    Invalid(String),
}

impl FleetError {
    /// Redis is down or unreachable: fall back to solo mode (and rejoin later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, FleetError::Unavailable { .. })
    }

    /// Classify a driver error for call `op` on `server`, scrubbing `password` from its text.
    pub(crate) fn from_redis(e: &RedisError, server: &str, op: &'static str, password: Option<&Password>) -> FleetError {
        let (code, text) = first_server_error(e).unwrap_or_else(|| (e.code().unwrap_or("").to_string(), e.to_string()));
        let code = code.as_str();
        let reason = scrub(&text, password);
        let server = server.to_string();
        if e.kind() == ErrorKind::AuthenticationFailed || matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM") {
            return FleetError::Auth { server, reason };
        }
        let down = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                ErrorKind::Io
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::ReadOnly
                    )
            )
            || matches!(code, "LOADING" | "MASTERDOWN" | "READONLY" | "CLUSTERDOWN" | "BUSY" | "OOM");
        if down {
            FleetError::Unavailable { server, op, reason }
        } else {
            FleetError::Protocol { server, op, reason }
        }
    }
}

/// The first server error in `e` (a pipeline reports one per failed command, usually all
/// alike): its code and text.
pub(crate) fn first_server_error(e: &RedisError) -> Option<(String, String)> {
    let all = e.clone().into_server_errors()?;
    let (_, first) = all.first()?;
    Some((first.code().to_string(), format!("{} {}", first.code(), first.details().unwrap_or("")).trim().to_string()))
}

/// `text` with every occurrence of the password (plain or percent-encoded) replaced by `***`.
pub(crate) fn scrub(text: &str, password: Option<&Password>) -> String {
    let Some(p) = password.map(Password::expose).filter(|p| !p.is_empty()) else {
        return text.to_string();
    };
    let encoded: String = p
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let mut out = text.replace(p, "***");
    for form in [encoded.clone(), encoded.to_lowercase()] {
        if form != p {
            out = out.replace(&form, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::settings::FleetSettings;

    #[test]
    fn scrub_removes_plain_and_encoded_passwords() {
        let s = FleetSettings::new("redis://:p%40ss@h:1", "www", "a", &|_| None).unwrap();
        let pw = s.redis.password();
        assert_eq!(scrub("auth p@ss failed; url redis://:p%40ss@h and p%40ss", pw), "auth *** failed; url redis://:***@h and ***");
        assert_eq!(scrub("nothing here", None), "nothing here");
    }

    #[test]
    fn driver_errors_are_classified() {
        let io = RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused secret-pw"));
        let pw = FleetSettings::new("redis://:secret-pw@h:1", "www", "a", &|_| None).unwrap();
        let e = FleetError::from_redis(&io, "redis://:***@h:1", "claim", pw.redis.password());
        assert!(e.is_unavailable(), "{e:?}");
        assert!(!e.to_string().contains("secret-pw"), "{e}");
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "Password authentication failed"));
        assert!(matches!(FleetError::from_redis(&auth, "s", "join", None), FleetError::Auth { .. }));
        let wrongtype = RedisError::from((ErrorKind::UnexpectedReturnType, "WRONGTYPE"));
        let e = FleetError::from_redis(&wrongtype, "s", "due", None);
        assert!(matches!(e, FleetError::Protocol { op: "due", .. }) && !e.is_unavailable(), "{e:?}");
    }
}
