//! How long-running work reports progress (progress bars in the CLI, logs in watch mode): an
//! observer the scan and the submitter call, with nothing to do by default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::model::Job;

/// Observes progress (progress bars, logs). Every method has a do-nothing default; `()` is the
/// silent observer.
pub trait Progress: Send + Sync {
    /// The scan is about to read and hash `files` files.
    fn hashing(&self, _files: usize) {}
    /// One more file hashed (called from the hashing threads).
    fn hashed(&self) {}
    /// `jobs` jobs are about to be sent.
    fn submitting(&self, _jobs: usize) {}
    /// A job has its outcome for this run (accepted, deferred, failed or still pending).
    fn job_done(&self, _job: &Job) {}
    /// `--wait`: about to poll `tasks` accepted tasks until they finish.
    fn waiting(&self, _tasks: usize) {}
    /// `--wait`: after a round of polls, `finished` of `tasks` have ended (well or not), after
    /// `elapsed_ms`.
    fn waited(&self, _finished: usize, _tasks: usize, _elapsed_ms: i64) {}
}

impl Progress for () {}

/// Asks long-running work to stop early (watch mode's shutdown). Cloned handles share one flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Ask the work to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Was it asked to stop?
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One call to a [`Progress`] observer, as data: blocking work on another thread sends these to
/// the async side, which replays them on the caller's (borrowed) observer.
#[derive(Debug)]
pub(crate) enum Event {
    Hashing(usize),
    Hashed,
}

impl Event {
    /// Make the call this event stands for.
    pub(crate) fn replay(self, p: &dyn Progress) {
        match self {
            Event::Hashing(n) => p.hashing(n),
            Event::Hashed => p.hashed(),
        }
    }
}

/// A [`Progress`] that forwards the scan's events over a channel.
pub(crate) struct Relay(pub(crate) tokio::sync::mpsc::UnboundedSender<Event>);

impl Progress for Relay {
    fn hashing(&self, files: usize) {
        let _ = self.0.send(Event::Hashing(files));
    }

    fn hashed(&self) {
        let _ = self.0.send(Event::Hashed);
    }
}
