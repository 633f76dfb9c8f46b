//! The crate's error type. Variants are data, not strings: each keeps the input at fault (a path,
//! an action, the API's failure) and its cause as [`std::error::Error::source`], so a caller can
//! match on what went wrong and a log shows why.
//!
//! [`Error::exit_code`] is the one place the exit codes of a failed command are decided
//! (`docs/exit-codes.md`); the outcome codes of a completed run (3, 4) come from
//! [`crate::Report::exit_code`].
//!
//! This module sits at the bottom of the layers (ARCHITECTURE.md) but names the error types of a
//! few modules above it ([`ConfigErrors`], [`Failure`]): those are plain data with no behaviour
//! this module uses, and wrapping them here is what lets every layer return one `Error`.

use std::path::PathBuf;

use crate::api::Failure;
use crate::config::ConfigErrors;

/// Everything that can stop a cdnsync command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line asked for something impossible; nothing was done.
    #[error("{0}")]
    Usage(String),
    /// The config file is wrong; every problem found is listed.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// No usable credentials.
    #[error("{0}")]
    Credentials(#[from] crate::credentials::CredentialsError),
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest cannot be trusted (truncated, corrupt, not written by cdnsync).
    #[error(
        "{}: manifest is damaged ({reason}); cdnsync will not guess what was deployed. Move it aside and run \
         `cdnsync sync --all` (purge everything once) or `cdnsync sync --baseline` (record the current tree, purge nothing)",
        path.display()
    )]
    ManifestDamaged {
        /// The manifest file (or the URL it was fetched from).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An outbox entry cannot be read: it holds purges still owed, so cdnsync stops rather than
    /// drop them.
    #[error(
        "{}: outbox entry is damaged ({source}); it holds purges still owed, so cdnsync stops rather than drop them. \
         Inspect it; to recover, move it aside and run `cdnsync sync --all`",
        path.display()
    )]
    OutboxDamaged {
        /// The outbox file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another cdnsync holds the state directory's lock.
    #[error("another cdnsync holds the lock on {}: {holder} (waited {waited_secs} s; see --lock-timeout)", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it (command and process ID).
        holder: String,
        /// How long this process waited.
        waited_secs: u64,
    },
    /// An API call outside a job's own retries failed (reading the quota, say).
    #[error("{action}: {failure}")]
    Api {
        /// The API action.
        action: String,
        /// What went wrong.
        #[source]
        failure: Failure,
    },
    /// The file watcher could not start or failed while running.
    #[error("{context}: {source}")]
    Watch {
        /// What the watcher was doing (which folder), and what to do about it.
        context: String,
        /// notify's error.
        #[source]
        source: notify::Error,
    },
    /// Something the process needs could not be started (the async runtime, the HTTP client,
    /// signal handlers).
    #[error("cannot start {what}: {source}")]
    Runtime {
        /// What could not be started.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `if_no_state = "fail"` and no manifest was found: nothing was written or sent.
    #[error(
        "no manifest in {} and none published: this looks like a first deploy or a lost state directory (a CI cache miss), \
         and the rule is fail ({why}); nothing was done. Restore the state directory, or choose: \
         `cdnsync sync --if-no-state=purge_all` (purge each domain's root once) or `--if-no-state=baseline` (purge nothing)",
        state_dir.display()
    )]
    NoState {
        /// The state directory that holds no manifest.
        state_dir: PathBuf,
        /// Where the rule comes from.
        why: String,
    },
    /// The scan found more files and folders than `[limits] max_files` allows (a link out of the
    /// site, a web of links, or a site larger than the limit); nothing was written or sent.
    #[error(
        "{}: more than {limit} files and folders found; a symlink may lead out of the site or loop through it \
         (set symlinks = \"inside\"), or the site is larger: raise [limits] max_files{}",
        root.display(),
        if links.is_empty() { String::new() } else { format!(". Links leading out of publish_dir: {}", links.join(", ")) }
    )]
    TooManyFiles {
        /// `publish_dir`.
        root: PathBuf,
        /// The limit.
        limit: u64,
        /// Some of the links that lead out of `publish_dir` (`link -> target`).
        links: Vec<String>,
    },
    /// The run was stopped (shutdown) before it had written or sent anything.
    #[error("stopped before anything was written or sent")]
    Cancelled,
}

impl Error {
    /// Shorthand for an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Shorthand for a process resource that could not be started.
    pub fn runtime(what: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Runtime { what, source: Box::new(source) }
    }

    /// The exit code of a command that failed with this error (`docs/exit-codes.md`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) | Error::Credentials(_) | Error::NoState { .. } | Error::TooManyFiles { .. } => 2,
            Error::Locked { .. } => 5,
            Error::Io { .. }
            | Error::ManifestDamaged { .. }
            | Error::OutboxDamaged { .. }
            | Error::Api { .. }
            | Error::Watch { .. }
            | Error::Runtime { .. }
            | Error::Cancelled => 1,
        }
    }
}

/// cdnsync's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn causes_are_kept_and_codes_decided_here() {
        let api = Error::Api {
            action: "DescribePurgeQuota".into(),
            failure: Failure::Transport { message: "connection refused".into(), maybe_sent: false },
        };
        assert_eq!(api.exit_code(), 1);
        assert!(api.to_string().starts_with("DescribePurgeQuota: network: connection refused"), "{api}");
        assert!(api.source().is_some_and(|s| s.to_string().contains("connection refused")));
        let watch = Error::Watch { context: "the file watcher stopped".into(), source: notify::Error::generic("inotify died") };
        assert_eq!(watch.exit_code(), 1, "a watcher that dies at runtime is a runtime failure, not a usage error");
        assert!(watch.source().is_some());
        let damaged = Error::OutboxDamaged { path: "s/outbox/a.json".into(), source: "EOF while parsing".into() };
        assert!(damaged.to_string().contains("s/outbox/a.json") && damaged.source().is_some());
        assert_eq!(damaged.exit_code(), 1);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        let many = Error::TooManyFiles { root: "/".into(), limit: 10, links: vec!["a -> /etc".into()] };
        assert_eq!(many.exit_code(), 2, "the fix is in the config");
        assert!(many.to_string().contains("[limits] max_files") && many.to_string().ends_with("a -> /etc"), "{many}");
        let locked = Error::Locked { path: "l".into(), holder: "pid 1".into(), waited_secs: 0 };
        assert_eq!(locked.exit_code(), 5);
    }
}
