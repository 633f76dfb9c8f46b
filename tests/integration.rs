//! The single integration-test binary: the real `cdnsync` binary against the local fake API.

mod util;

mod chaos;
mod cli;
mod config_errors;
mod crash;
mod credentials;
mod decoders;
mod docs;
mod encoding;
mod fake;
mod fleet;
mod hostile;
mod library;
mod pipeline;
mod reliability;
mod roles;
mod sync;
mod v2;
mod vectors;
mod watch;
