//! Writing to stdout and stderr without ever panicking. `println!` panics when the reader has gone
//! (`cdnsync --json status | head -1`: EPIPE, exit 101); here a closed stdout ends the output
//! quietly and the command still exits with its own code.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Write `s` to stdout (results: what scripts read). Once the reader has gone, nothing more is
/// written; any other write error is said once on stderr.
pub fn stdout(s: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            stderr(&format!("cdnsync: cannot write to stdout: {e}\n"));
        }
    }
}

/// Write `s` to stderr (diagnostics, progress). Errors are ignored: there is nowhere left to say
/// them.
pub fn stderr(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes()).and_then(|()| err.flush());
}

/// Write `s` to stdout, or to stderr when stdout carries a JSON document (`--json`).
pub fn result(json: bool, s: &str) {
    if json {
        stderr(s);
    } else {
        stdout(s);
    }
}
