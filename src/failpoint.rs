//! Crash points for tests (feature `fake` only): the crash tests stop a real `cdnsync` process
//! with SIGKILL at chosen points of a sync and check that a rerun delivers every owed purge.
//!
//! With `CDNSYNC_FAILPOINT=NAME` the process prints `cdnsync: failpoint NAME` to stderr when it
//! reaches `NAME` and then hangs until it is killed; with `CDNSYNC_FAILPOINT=NAME=MS` it pauses
//! for `MS` milliseconds and goes on (used to hold the lock while another process starts).
//! Without the feature, [`hit`] compiles to nothing.
//!
//! Why not the `fail` crate: these points are set from the environment of a *child process* the
//! test then kills, and the only actions needed are "announce and hang" and "announce and pause".
//! That is twenty lines; `fail` brings a registry, a configuration syntax and a global lock for
//! actions this never uses, and still needs the same environment plumbing.
//!
//! The points: `scan` (files walked, none hashed yet), `outbox-written` (new jobs durable, the
//! manifest not yet replaced), `manifest-written` (before any request), `job-accepted` (after each
//! accepted job, i.e. between batches).

/// Reached point `name`.
#[cfg(feature = "fake")]
pub fn hit(name: &str) {
    use std::io::Write;
    let Ok(spec) = std::env::var("CDNSYNC_FAILPOINT") else { return };
    let (point, pause) = match spec.split_once('=') {
        Some((p, ms)) => (p.to_string(), ms.parse::<u64>().ok()),
        None => (spec, None),
    };
    if point != name {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "cdnsync: failpoint {name}");
    let _ = err.flush();
    drop(err);
    // Blocking the thread is the point: the process must stand still until the test kills it.
    #[allow(clippy::disallowed_methods)]
    match pause {
        Some(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
        None => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
    }
}

/// Reached point `name` (no-op without the `fake` feature).
#[cfg(not(feature = "fake"))]
#[inline(always)]
pub fn hit(_name: &str) {}
