//! The connection to Redis: one multiplexed connection, made on first use and again after it
//! broke, the scripts loaded on each new connection, and a count of round trips.
//!
//! Every coordinator call is one [`Link::exec`] of a pipeline (a batch of `EVALSHA`s and plain
//! commands written together, answered together): one network round trip, however many items
//! it carries. A connection error drops the connection, so the next call reconnects — that is
//! how members rejoin after Redis comes back.

use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};

use super::error::FleetError;
use super::scripts::{Lua, SCRIPTS};
use super::settings::{FleetSettings, Password};

/// The fleet's Redis connection.
pub(crate) struct Link {
    client: redis::Client,
    config: AsyncConnectionConfig,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    round_trips: AtomicU64,
    connects: AtomicU64,
    server: String,
    password: Option<Password>,
}

impl Link {
    /// A link for `settings`; no I/O until the first call.
    pub(crate) fn new(settings: &FleetSettings) -> Result<Link, FleetError> {
        let server = settings.redis.to_string();
        let password = settings.redis.password().cloned();
        let info = settings.redis.connection_info();
        let client = match &settings.tls_ca {
            Some(ca) => redis::Client::build_with_tls(info, redis::TlsCertificates { client_tls: None, root_cert: Some(ca.0.clone()) }),
            None => redis::Client::open(info),
        };
        let client = client.map_err(|e| {
            FleetError::Settings(format!("[fleet] redis {server}: {}", super::error::scrub(&e.to_string(), password.as_ref())))
        })?;
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(Some(settings.io_timeout)).set_response_timeout(Some(settings.io_timeout));
        Ok(Link {
            client,
            config,
            conn: tokio::sync::Mutex::new(None),
            round_trips: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            server,
            password,
        })
    }

    /// Round trips so far (pipelines sent, script loads included).
    pub(crate) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Connections made so far (that answered: attempts that failed do not count).
    pub(crate) fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    fn err(&self, e: &redis::RedisError, op: &'static str) -> FleetError {
        FleetError::from_redis(e, &self.server, op, self.password.as_ref())
    }

    /// A protocol error for `op`.
    pub(crate) fn protocol(&self, op: &'static str, reason: impl Into<String>) -> FleetError {
        FleetError::Protocol { server: self.server.clone(), op, reason: super::error::scrub(&reason.into(), self.password.as_ref()) }
    }

    async fn connection(&self, op: &'static str) -> Result<MultiplexedConnection, FleetError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let mut c = self.client.get_multiplexed_async_connection_with_config(&self.config).await.map_err(|e| self.err(&e, op))?;
        self.load_scripts(&mut c, op).await?;
        self.connects.fetch_add(1, Ordering::Relaxed);
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn load_scripts(&self, c: &mut MultiplexedConnection, op: &'static str) -> Result<(), FleetError> {
        let mut pipe = redis::pipe();
        for s in SCRIPTS.iter() {
            pipe.cmd("SCRIPT").arg("LOAD").arg(&s.source);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let shas: Vec<String> = pipe.query_async(c).await.map_err(|e| self.err(&e, op))?;
        for (s, got) in SCRIPTS.iter().zip(&shas) {
            if *got != s.sha {
                return Err(self.protocol(op, format!("SCRIPT LOAD of {} answered {got}, expected {}", s.name, s.sha)));
            }
        }
        Ok(())
    }

    /// Send `pipe` and read every answer: one round trip (two if the server lost the scripts).
    pub(crate) async fn exec(&self, op: &'static str, pipe: &redis::Pipeline) -> Result<Vec<Value>, FleetError> {
        let mut c = self.connection(op).await?;
        let mut reloaded = false;
        loop {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match pipe.query_async::<Vec<Value>>(&mut c).await {
                Ok(v) if v.len() == pipe.len() => return Ok(v),
                Ok(v) => return Err(self.protocol(op, format!("{} answers to {} commands", v.len(), pipe.len()))),
                Err(e) if !reloaded && super::error::first_server_error(&e).is_some_and(|(code, _)| code == "NOSCRIPT") => {
                    self.load_scripts(&mut c, op).await?;
                    reloaded = true;
                }
                Err(e) => {
                    let fe = self.err(&e, op);
                    if fe.is_unavailable() || e.is_unrecoverable_error() {
                        *self.conn.lock().await = None;
                    }
                    return Err(fe);
                }
            }
        }
    }
}

/// `EVALSHA` of `lua` on `keys`; the caller adds the arguments.
pub(crate) fn evalsha(lua: Lua, keys: &[String]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(&lua.script().sha).arg(keys.len()).arg(keys);
    cmd
}

/// A string answer (bulk, simple, or an integer written out).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

/// An integer answer (or a string holding one).
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

/// An array answer (an empty Lua table is an empty array; nil is treated as one too).
pub(crate) fn list(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        Value::Nil => Some(&[]),
        _ => None,
    }
}

/// A list of strings.
pub(crate) fn texts(v: &Value) -> Option<Vec<String>> {
    list(v)?.iter().map(text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode() {
        assert_eq!(text(&Value::BulkString(b"abc".to_vec())).as_deref(), Some("abc"));
        assert_eq!(int(&Value::BulkString(b"42".to_vec())), Some(42));
        assert_eq!(int(&Value::BulkString(b"x".to_vec())), None);
        assert_eq!(texts(&Value::Array(vec![Value::Int(1), Value::SimpleString("b".into())])), Some(vec!["1".into(), "b".into()]));
        assert_eq!(list(&Value::Nil).map(<[Value]>::len), Some(0));
        assert!(list(&Value::Int(3)).is_none());
    }

    #[test]
    fn evalsha_names_the_script_and_keys() {
        let cmd = evalsha(Lua::Claim, &["k1".into(), "k2".into()]);
        let args: Vec<String> = cmd
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                _ => "<other>".into(),
            })
            .collect();
        assert_eq!(args, vec!["EVALSHA".to_string(), Lua::Claim.script().sha.clone(), "2".into(), "k1".into(), "k2".into()]);
    }
}
