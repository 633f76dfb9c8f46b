//! The crate's error type. [`Error::exit_code`] is the one place SPEC §1's exit codes for
//! failures are decided (the outcome codes 3 and 4 come from a [`crate::Report`]).

use std::path::PathBuf;

use crate::config::ConfigErrors;

/// Everything that can stop a cdnsync command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line asked for something impossible.
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
    /// The state directory holds something cdnsync cannot trust (corrupt manifest or outbox).
    #[error("{0}")]
    State(String),
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
    /// The API could not be reached or answered nonsense, after retries.
    #[error("{0}")]
    Network(String),
}

impl Error {
    /// Shorthand for an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// SPEC §1 exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) | Error::Credentials(_) => 2,
            Error::Locked { .. } => 5,
            Error::Io { .. } | Error::State(_) | Error::Network(_) => 1,
        }
    }
}

/// cdnsync's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
