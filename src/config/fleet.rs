//! `[fleet]` (issue 16, `docs/config.md`): several origin servers of one site coordinated through
//! Redis (`docs/fleet.md`). The config layer checks the values and keeps them as plain data; the
//! engine turns them into a `fleet::Coordinator` (which reads the password from
//! `$CDNSYNC_REDIS_PASSWORD` and the CA file).
//!
//! The Redis URL may carry a password, so it is kept in a [`RedisAddr`] whose `Debug` hides it,
//! and no error message ever repeats the URL.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawFleet;
use super::validate::Validator;

/// A Redis URL as written (it may hold a password): shown only without it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisAddr(String);

impl RedisAddr {
    /// The URL as written, password included: for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "(a Redis URL)".into(),
        }
    }
}

impl fmt::Debug for RedisAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisAddr({:?})", self.redacted())
    }
}

/// `[fleet]`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetConfig {
    /// The Redis server (`redis://`, `rediss://`, `unix://`).
    pub redis: RedisAddr,
    /// One group per site: the members that serve the same site.
    pub group: String,
    /// This member's name; `None`: the host name.
    pub member: Option<String>,
    /// Purge anyway when a live member is still behind after this long (then again when it
    /// catches up).
    pub barrier_timeout: Duration,
    /// A claim whose holder stopped renewing it is taken over after this long.
    pub lease: Duration,
    /// A member silent this long no longer holds the barrier back.
    pub heartbeat_ttl: Duration,
    /// First part of every Redis key.
    pub key_prefix: String,
    /// A private CA (PEM) for `rediss://`.
    pub tls_ca: Option<PathBuf>,
    /// The line of `redis`, for errors found when connecting.
    pub line: Option<usize>,
}

/// The characters a group or key prefix may use.
fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// `[fleet]`, or `None` (reported) when it has no usable `redis` or `group`.
pub(super) fn table(v: &mut Validator, r: &RawFleet, table_at: Option<usize>) -> Option<FleetConfig> {
    let before = v.error_count();
    let redis = match v.get(&r.redis, "fleet.redis") {
        Some(u) => match url::Url::parse(u.v.trim()) {
            Ok(url) if matches!(url.scheme(), "redis" | "rediss" | "unix" | "redis+unix" | "valkey" | "valkeys") => {
                if url.scheme().ends_with("unix") || url.host_str().is_some_and(|h| !h.is_empty()) {
                    Some(RedisAddr(u.v.trim().to_string()))
                } else {
                    v.err(u.at, "fleet.redis", "expected a host, as in \"redis://10.0.0.9:6379/0\"");
                    None
                }
            }
            // The URL is not repeated: it may hold a password.
            Ok(url) => {
                v.err(u.at, "fleet.redis", format!("scheme {:?} is not redis, rediss or unix", url.scheme()));
                None
            }
            Err(_) => {
                v.err(u.at, "fleet.redis", "not a Redis URL: expected redis://[:password@]host[:port][/db] or rediss://…");
                None
            }
        },
        None => {
            if r.redis.is_none() {
                v.err(
                    table_at,
                    "fleet.redis",
                    "missing required key: the Redis server the fleet shares, e.g. redis = \"redis://10.0.0.9:6379/0\"",
                );
            }
            None
        }
    };
    let group = match v.get(&r.group, "fleet.group") {
        Some(g) if name_ok(g.v) => Some(g.v.clone()),
        Some(g) => {
            v.err(g.at, "fleet.group", format!("expected 1 to 64 of A-Z a-z 0-9 _ . -, found {:?}", g.v));
            None
        }
        None => {
            if r.group.is_none() {
                v.err(
                    table_at,
                    "fleet.group",
                    "missing required key: the site's group name, the same on every member, e.g. group = \"www\"",
                );
            }
            None
        }
    };
    let member = v.get(&r.member, "fleet.member").and_then(|m| {
        if m.v.is_empty() || m.v.len() > 128 || m.v.chars().any(char::is_control) {
            v.err(m.at, "fleet.member", format!("expected 1 to 128 characters and no control characters, found {:?}", m.v));
            None
        } else {
            Some(m.v.clone())
        }
    });
    let secs = |v: &mut Validator, f, key, lo, hi, default: u64| {
        v.int(f, key, lo, hi, "").map_or(Duration::from_secs(default), |n| Duration::from_secs(n as u64))
    };
    let barrier_timeout = secs(v, &r.barrier_timeout_secs, "fleet.barrier_timeout_secs", 1, 86_400, 300);
    let lease = secs(v, &r.lease_secs, "fleet.lease_secs", 1, 3600, 30);
    let heartbeat_ttl = secs(v, &r.heartbeat_ttl_secs, "fleet.heartbeat_ttl_secs", 3, 3600, 60);
    let key_prefix = match v.get(&r.key_prefix, "fleet.key_prefix") {
        Some(p) if name_ok(p.v) => p.v.clone(),
        Some(p) => {
            v.err(p.at, "fleet.key_prefix", format!("expected 1 to 64 of A-Z a-z 0-9 _ . -, found {:?}", p.v));
            String::new()
        }
        None => "cdnsync".into(),
    };
    let tls_ca = v.get(&r.tls_ca, "fleet.tls_ca").map(|p| v.base_dir.join(p.v));
    if let (Some(ca), Some(addr)) = (&r.tls_ca, &redis) {
        if !addr.0.starts_with("rediss://") && !addr.0.starts_with("valkeys://") {
            v.err(ca.at(), "fleet.tls_ca", "a CA is only used with rediss:// (TLS)");
        }
    }
    let line = v.line(r.redis.as_ref().and_then(|u| u.at()));
    if v.error_count() > before {
        return None;
    }
    Some(FleetConfig { redis: redis?, group: group?, member, barrier_timeout, lease, heartbeat_ttl, key_prefix, tls_ca, line })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{from_str, test_config};

    #[test]
    fn defaults_values_and_no_fleet_without_the_table() {
        assert_eq!(test_config("").fleet, None);
        let c = test_config("[fleet]\nredis = \"redis://:s3cret@10.0.0.9:6379/0\"\ngroup = \"www\"\n");
        let f = c.fleet.expect("a fleet");
        assert_eq!((f.group.as_str(), f.member.as_deref(), f.key_prefix.as_str()), ("www", None, "cdnsync"));
        assert_eq!(
            (f.barrier_timeout, f.lease, f.heartbeat_ttl),
            (Duration::from_secs(300), Duration::from_secs(30), Duration::from_secs(60))
        );
        assert_eq!(f.redis.expose(), "redis://:s3cret@10.0.0.9:6379/0");
        let shown = format!("{f:?}");
        assert!(!shown.contains("s3cret") && shown.contains("***"), "{shown}");
        let c = test_config(
            "[fleet]\nredis = \"rediss://cache.internal:6380\"\ngroup = \"blog.v2\"\nmember = \"web-3\"\n\
             barrier_timeout_secs = 60\nlease_secs = 10\nheartbeat_ttl_secs = 15\nkey_prefix = \"t1\"\ntls_ca = \"ca.pem\"\n",
        );
        let f = c.fleet.unwrap();
        assert_eq!(
            (f.member.as_deref(), f.key_prefix.as_str(), f.lease.as_secs(), f.heartbeat_ttl.as_secs()),
            (Some("web-3"), "t1", 10, 15)
        );
        assert_eq!(f.barrier_timeout.as_secs(), 60);
        assert!(f.tls_ca.unwrap().ends_with("ca.pem"));
    }

    /// (extra text, line, key, words the message must contain)
    #[test]
    fn errors_name_line_and_key_and_never_the_password() {
        let head = "publish_dir = \"p\"\n[[domain]]\nhost = \"www.example.com\"\n[fleet]\n";
        let ok = "redis = \"redis://10.0.0.9\"\ngroup = \"www\"\n";
        let cases: &[(&str, usize, &str, &str)] = &[
            ("group = \"www\"\n", 4, "fleet.redis", "missing required key"),
            ("redis = \"redis://10.0.0.9\"\n", 4, "fleet.group", "missing required key"),
            ("redis = \"http://:hunter2@10.0.0.9\"\ngroup = \"www\"\n", 5, "fleet.redis", "is not redis"),
            ("redis = \"10.0.0.9:hunter2\"\ngroup = \"www\"\n", 5, "fleet.redis", "not a Redis URL"),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"w w\"\n", 6, "fleet.group", "A-Z a-z 0-9"),
            ("redis = \"redis://10.0.0.9\"\ngroup = 7\n", 6, "fleet.group", "string"),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"www\"\nmember = \"\"\n", 7, "fleet.member", "1 to 128"),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"www\"\nlease_secs = 0\n", 7, "fleet.lease_secs", "from 1 to 3600"),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"www\"\nheartbeat_ttl_secs = 2\n", 7, "fleet.heartbeat_ttl_secs", "from 3 to 3600"),
            (
                "redis = \"redis://10.0.0.9\"\ngroup = \"www\"\nbarrier_timeout_secs = 86401\n",
                7,
                "fleet.barrier_timeout_secs",
                "from 1 to 86400",
            ),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"www\"\nkey_prefix = \"a:b\"\n", 7, "fleet.key_prefix", "A-Z a-z 0-9"),
            ("redis = \"redis://10.0.0.9\"\ngroup = \"www\"\ntls_ca = \"ca.pem\"\n", 7, "fleet.tls_ca", "rediss://"),
            (&format!("{ok}lease = 3\n"), 7, "fleet.lease", "lease_secs"),
        ];
        for (extra, line, key, words) in cases {
            let text = format!("{head}{extra}");
            let errs = from_str(&text, Path::new("cdnsync.toml"), Path::new("/site")).expect_err(&text).0;
            let e = &errs[0];
            assert_eq!((e.line, e.key.as_str()), (Some(*line), *key), "{text}: {e}");
            assert!(e.message.contains(words), "{text}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}
