//! systemd `Type=notify` support without a crate: `sd_notify(3)` is one datagram of
//! `KEY=VALUE` lines to the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace). `READY=1` after the start-up sync, `STATUS=…` as things happen,
//! `WATCHDOG=1` every half of `$WATCHDOG_USEC` when the unit sets `WatchdogSec`, `STOPPING=1`
//! on the way out. Without `$NOTIFY_SOCKET` (not under systemd) there is no notifier and
//! nothing is sent.
//!
//! A status text is one line: a newline in it would let it inject another assignment (a
//! premature `READY=1`), so control characters become spaces.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where the datagrams go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

/// A connection to the service manager.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    target: Target,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment (`env` reads a variable; `pid` is this process's): `Ok(None)` when
    /// `$NOTIFY_SOCKET` is unset or empty. The watchdog interval is half of `$WATCHDOG_USEC`, and
    /// only when `$WATCHDOG_PID` is unset or names `pid`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, pid: u32) -> io::Result<Option<Notifier>> {
        let Some(sock_name) = env("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else { return Ok(None) };
        let target = match sock_name.strip_prefix('@') {
            Some(name) => Target::Abstract(name.as_bytes().to_vec()),
            None if sock_name.starts_with('/') => Target::Path(PathBuf::from(&sock_name)),
            None => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("NOTIFY_SOCKET={sock_name:?} is neither a path nor @name")))
            }
        };
        let watchdog = watchdog_interval(env("WATCHDOG_USEC").as_deref(), env("WATCHDOG_PID").as_deref(), pid);
        Ok(Some(Notifier { sock: UnixDatagram::unbound()?, target, watchdog }))
    }

    /// From the process environment.
    pub fn from_process_env() -> io::Result<Option<Notifier>> {
        Notifier::from_env(&|k| std::env::var(k).ok(), std::process::id())
    }

    /// How often to send [`Notifier::watchdog`], when the unit asked for it.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Send raw `KEY=VALUE` lines.
    pub fn notify(&self, state: &str) -> io::Result<()> {
        let n = match &self.target {
            Target::Path(p) => self.sock.send_to(state.as_bytes(), p)?,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                self.sock.send_to_addr(state.as_bytes(), &addr)?
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Target::Abstract(_) => return Err(io::Error::new(io::ErrorKind::Unsupported, "abstract sockets need Linux")),
        };
        if n != state.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram to NOTIFY_SOCKET"));
        }
        Ok(())
    }

    /// Start-up done (after the first sync), with a status line.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("READY=1\nSTATUS={}", status_text(status)))
    }

    /// A status line (`systemctl status` shows it).
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("STATUS={}", status_text(status)))
    }

    /// Still alive.
    pub fn watchdog(&self) -> io::Result<()> {
        self.notify("WATCHDOG=1")
    }

    /// Shutting down.
    pub fn stopping(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("STOPPING=1\nSTATUS={}", status_text(status)))
    }
}

/// Half the `WATCHDOG_USEC` period (systemd's advice), if it applies to `pid`.
pub fn watchdog_interval(usec: Option<&str>, watchdog_pid: Option<&str>, pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(p) = watchdog_pid {
        if p.trim().parse::<u32>().ok()? != pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

/// One line, at most 200 characters.
fn status_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'static str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_ready_status_watchdog_and_stopping_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let vars = [("NOTIFY_SOCKET", path.display().to_string()), ("WATCHDOG_USEC", "30000000".to_string())];
        let n = Notifier::from_env(&env(&vars), 42).unwrap().expect("a notifier");
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));
        n.ready("synced: 3 jobs accepted").unwrap();
        assert_eq!(recv(&server), "READY=1\nSTATUS=synced: 3 jobs accepted");
        n.status("line one\nREADY=1").unwrap();
        assert_eq!(recv(&server), "STATUS=line one READY=1", "a newline cannot inject an assignment");
        n.watchdog().unwrap();
        assert_eq!(recv(&server), "WATCHDOG=1");
        n.stopping("bye").unwrap();
        assert_eq!(recv(&server), "STOPPING=1\nSTATUS=bye");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("cdnsync-test-{}-{:x}", std::process::id(), fastrand::u64(..));
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let vars = [("NOTIFY_SOCKET", format!("@{name}"))];
        let n = Notifier::from_env(&env(&vars), 1).unwrap().unwrap();
        assert_eq!(n.watchdog_interval(), None, "no WatchdogSec, no pings");
        n.ready("ok").unwrap();
        assert_eq!(recv(&server), "READY=1\nSTATUS=ok");
    }

    #[test]
    fn no_socket_no_notifier_and_a_bad_one_is_an_error() {
        assert!(Notifier::from_env(&env(&[]), 1).unwrap().is_none());
        assert!(Notifier::from_env(&env(&[("NOTIFY_SOCKET", String::new())]), 1).unwrap().is_none());
        let err = Notifier::from_env(&env(&[("NOTIFY_SOCKET", "relative.sock".into())]), 1).unwrap_err();
        assert!(err.to_string().contains("relative.sock"));
        // A socket nobody listens on: sending fails, it does not hang or panic.
        let dir = tempfile::tempdir().unwrap();
        let vars = [("NOTIFY_SOCKET", dir.path().join("gone.sock").display().to_string())];
        assert!(Notifier::from_env(&env(&vars), 1).unwrap().unwrap().ready("x").is_err());
    }

    #[test]
    fn watchdog_interval_rules() {
        let cases = [
            (Some("2000000"), None, Some(1000)),
            (Some("2000000"), Some("7"), Some(1000)),
            (Some("2000000"), Some("8"), None),
            (Some("0"), None, None),
            (Some("soon"), None, None),
            (Some("2000000"), Some("x"), None),
            (None, Some("7"), None),
        ];
        for (usec, wpid, want) in cases {
            assert_eq!(watchdog_interval(usec, wpid, 7).map(|d| d.as_millis() as u64), want, "{usec:?} {wpid:?}");
        }
    }
}
