//! What a fleet member needs to know to coordinate: where Redis is, which group and member it
//! is, and the time limits. A plain struct the config layer fills in (see `docs/fleet.md`).
//!
//! The Redis password comes from the URL (`redis://:pw@host`) or, when the URL has none, from
//! `$CDNSYNC_REDIS_PASSWORD`. It is kept in a [`Password`] whose `Debug` is redacted, and the
//! URL is only ever shown through [`RedisUrl`]'s redacted form (`redis://:***@host:6379/0`), so
//! neither `Debug`/`Display` of the settings nor any [`FleetError`] can carry it.

use std::fmt;
use std::time::Duration;

use redis::IntoConnectionInfo;

use super::error::FleetError;

/// The environment variable read for the password when the URL has none.
pub const PASSWORD_ENV: &str = "CDNSYNC_REDIS_PASSWORD";

/// A Redis password: never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself, for the connection handshake only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Where the password came from (for `status`; never the password).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password: the server must not require one.
    None,
    /// The URL's `:password@`.
    Url,
    /// `$CDNSYNC_REDIS_PASSWORD`.
    Env,
}

/// A parsed Redis URL: the connection details, the password apart, and a redacted form to show.
#[derive(Clone)]
pub struct RedisUrl {
    info: redis::ConnectionInfo,
    shown: String,
    password: Option<Password>,
    source: PasswordSource,
}

impl RedisUrl {
    /// Parse `redis://`, `rediss://` (TLS), `redis+unix://` or `unix://`; the password from the
    /// URL, else from `env(PASSWORD_ENV)`. A URL that does not parse is never echoed (it may
    /// hold the password).
    pub fn parse(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, FleetError> {
        let bad = |why: &str| FleetError::Settings(format!("[fleet] redis: {why}"));
        let url = redis::parse_redis_url(raw.trim())
            .ok_or_else(|| bad("not a Redis URL (expected redis://[user:password@]host[:port][/db] or rediss://…)"))?;
        let scheme = url.scheme().to_string();
        if !matches!(scheme.as_str(), "redis" | "rediss" | "redis+unix" | "unix" | "valkey" | "valkeys") {
            return Err(bad(&format!("scheme {scheme:?} is not redis, rediss, redis+unix or unix")));
        }
        let unix = scheme.ends_with("unix");
        let info = url.clone().into_connection_info().map_err(|e| bad(&format!("{} ({})", e.category(), e.detail().unwrap_or(""))))?;
        let redis_info = info.redis_settings().clone();
        let url_password = redis_info.password().filter(|p| !p.is_empty()).map(str::to_string);
        let (password, source) = match (url_password, env(PASSWORD_ENV).filter(|p| !p.is_empty())) {
            (Some(p), _) => (Some(Password(p)), PasswordSource::Url),
            (None, Some(p)) => (Some(Password(p)), PasswordSource::Env),
            (None, None) => (None, PasswordSource::None),
        };
        let mut shown = format!("{scheme}://");
        if unix {
            shown.push_str(url.path());
        } else {
            let user = redis_info.username().unwrap_or("");
            match (&password, user.is_empty()) {
                (Some(_), _) => shown.push_str(&format!("{user}:***@")),
                (None, false) => shown.push_str(&format!("{user}@")),
                (None, true) => {}
            }
            shown.push_str(url.host_str().unwrap_or(""));
            if let Some(port) = url.port() {
                shown.push_str(&format!(":{port}"));
            }
            shown.push_str(url.path());
        }
        let info = match &password {
            Some(p) => info.set_redis_settings(redis_info.set_password(p.expose())),
            None => info,
        };
        Ok(RedisUrl { info, shown, password, source })
    }

    /// The connection details (with the password: never print these).
    pub(crate) fn connection_info(&self) -> redis::ConnectionInfo {
        self.info.clone()
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// Where the password came from.
    pub fn password_source(&self) -> PasswordSource {
        self.source
    }

    /// `rediss://`: TLS.
    pub fn is_tls(&self) -> bool {
        self.shown.starts_with("rediss://") || self.shown.starts_with("valkeys://")
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?}, password: {:?})", self.shown, self.source)
    }
}

/// Everything a [`super::Coordinator`] needs. Fields are public so the config layer can fill
/// them in; [`FleetSettings::check`] (also run by [`super::Coordinator::new`]) says what is wrong.
#[derive(Clone, Debug)]
pub struct FleetSettings {
    /// The Redis server.
    pub redis: RedisUrl,
    /// The namespace: one group per site (`[A-Za-z0-9_.-]`, up to 64 characters).
    pub group: String,
    /// This member's name (default: the host name), unique in the group.
    pub member: String,
    /// Purge anyway when a live member is still behind after this long, then again when it
    /// catches up.
    pub barrier_timeout: Duration,
    /// A claim whose holder stopped renewing it is taken over after this long.
    pub lease: Duration,
    /// A member that has not heartbeated for this long is no longer live: it stops holding the
    /// barrier back.
    pub heartbeat_ttl: Duration,
    /// How long submitted markers, barrier records and dead members' records are kept (real
    /// Redis expiry only collects garbage; decisions use the logical clock).
    pub retention: Duration,
    /// Connect and answer timeout for one round trip; past it Redis counts as unavailable.
    pub io_timeout: Duration,
    /// First part of every key (`<prefix>:{<group>}:…`); tests use a unique one each.
    pub key_prefix: String,
    /// For `rediss://` to a server whose certificate a private CA signed (TencentDB for Redis
    /// hands out its own): that CA's PEM. `None`: the system's trusted roots.
    pub tls_ca: Option<CaPem>,
}

/// A CA certificate in PEM (the config layer reads the file); shown only by its size.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem(pub Vec<u8>);

impl fmt::Debug for CaPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaPem({} bytes)", self.0.len())
    }
}

impl FleetSettings {
    /// Settings with the defaults: barrier timeout 300 s, lease 30 s, heartbeat TTL 60 s,
    /// retention 24 h, I/O timeout 5 s, key prefix `cdnsync`, the system's TLS roots.
    pub fn new(redis_url: &str, group: &str, member: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, FleetError> {
        let s = FleetSettings {
            redis: RedisUrl::parse(redis_url, env)?,
            group: group.to_string(),
            member: member.to_string(),
            barrier_timeout: Duration::from_secs(300),
            lease: Duration::from_secs(30),
            heartbeat_ttl: Duration::from_secs(60),
            retention: Duration::from_secs(24 * 3600),
            io_timeout: Duration::from_secs(5),
            key_prefix: "cdnsync".to_string(),
            tls_ca: None,
        };
        s.check()?;
        Ok(s)
    }

    /// Every problem with these settings, or `Ok`.
    pub fn check(&self) -> Result<(), FleetError> {
        let mut problems = Vec::new();
        let name_ok =
            |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !name_ok(&self.group, 64) {
            problems.push(format!("group {:?}: use 1 to 64 of A-Z a-z 0-9 _ . -", self.group));
        }
        if self.member.is_empty() || self.member.len() > 128 || self.member.chars().any(|c| c.is_control() || c == '\u{1f}') {
            problems.push(format!("member {:?}: 1 to 128 characters, no control characters", self.member));
        }
        if !name_ok(&self.key_prefix, 64) {
            problems.push(format!("key prefix {:?}: use 1 to 64 of A-Z a-z 0-9 _ . -", self.key_prefix));
        }
        for (name, d) in [
            ("barrier_timeout", self.barrier_timeout),
            ("lease", self.lease),
            ("heartbeat_ttl", self.heartbeat_ttl),
            ("retention", self.retention),
            ("io_timeout", self.io_timeout),
        ] {
            if d.is_zero() || d > Duration::from_secs(366 * 86_400) {
                problems.push(format!("{name} {d:?}: must be more than 0 and at most a year"));
            }
        }
        if self.tls_ca.is_some() && !self.redis.is_tls() {
            problems.push(format!("a TLS CA is set but {} is not rediss://", self.redis));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FleetError::Settings(format!("[fleet]: {}", problems.join("; "))))
        }
    }

    /// The key namespace: `<prefix>:{<group>}` (the braces keep a group's keys in one cluster slot).
    pub(crate) fn namespace(&self) -> String {
        format!("{}:{{{}}}", self.key_prefix, self.group)
    }
}

impl fmt::Display for FleetSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {} of group {} on {}", self.member, self.group, self.redis)
    }
}

/// The default member name: this machine's host name (`cdnsync` if it cannot be read).
pub fn default_member() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() || name.chars().any(char::is_control) {
        "cdnsync".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn password_from_url_is_never_shown() {
        let s = FleetSettings::new("redis://:hunter2-secret@10.0.0.7:6380/2", "www", "web-1", &no_env).unwrap();
        assert_eq!(s.redis.to_string(), "redis://:***@10.0.0.7:6380/2");
        assert_eq!(s.redis.password_source(), PasswordSource::Url);
        assert_eq!(s.redis.password().unwrap().expose(), "hunter2-secret");
        for shown in [format!("{s:?}"), s.to_string(), format!("{:?}", s.redis), format!("{:?}", s.redis.password())] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{s:?}").contains("redis://:***@10.0.0.7:6380/2"));
    }

    #[test]
    fn password_from_env_when_url_has_none_and_url_wins() {
        let env = |k: &str| (k == PASSWORD_ENV).then(|| "from-env-pw".to_string());
        let s = FleetSettings::new("rediss://redis.internal:6379", "www", "a", &env).unwrap();
        assert_eq!(s.redis.password_source(), PasswordSource::Env);
        assert_eq!(s.redis.password().unwrap().expose(), "from-env-pw");
        assert_eq!(s.redis.to_string(), "rediss://:***@redis.internal:6379");
        assert!(s.redis.is_tls());
        assert!(!format!("{s:?} {s}").contains("from-env"));

        let s = FleetSettings::new("redis://alice:url-pw@h:1/0", "www", "a", &env).unwrap();
        assert_eq!(s.redis.password_source(), PasswordSource::Url);
        assert_eq!(s.redis.password().unwrap().expose(), "url-pw");
        assert_eq!(s.redis.to_string(), "redis://alice:***@h:1/0");

        // Percent-encoded passwords are decoded, and still not shown.
        let s = FleetSettings::new("redis://:p%40ss%3Aw@h:1", "www", "a", &no_env).unwrap();
        assert_eq!(s.redis.password().unwrap().expose(), "p@ss:w");
        assert!(!format!("{s:?}").contains("p%40ss"));
    }

    #[test]
    fn bad_urls_are_not_echoed() {
        for raw in ["http://:topsecret@h:1", "redis//:topsecret@h", ":topsecret", "redis://:topsecret@h:99999999"] {
            let e = FleetSettings::new(raw, "www", "a", &no_env).unwrap_err();
            let msg = format!("{e} {e:?}");
            assert!(!msg.contains("topsecret"), "{raw}: {msg}");
            assert!(msg.contains("[fleet] redis"), "{msg}");
        }
    }

    #[test]
    fn names_and_durations_are_checked() {
        let e = FleetSettings::new("redis://h", "w{w}", "", &no_env).unwrap_err().to_string();
        assert!(e.contains("group \"w{w}\"") && e.contains("member \"\""), "{e}");
        let mut s = FleetSettings::new("redis://h", "www", "web 1", &no_env).unwrap();
        assert_eq!(s.namespace(), "cdnsync:{www}");
        s.lease = Duration::ZERO;
        s.member = "a\tb".into();
        s.tls_ca = Some(CaPem(b"-----BEGIN CERTIFICATE-----".to_vec()));
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("lease") && e.contains("member \"a\\tb\"") && e.contains("not rediss://"), "{e}");
        assert!(format!("{s:?}").contains("CaPem(27 bytes)"));
        assert!(!default_member().is_empty());
    }
}
