//! The single integration-test binary: the real `cdnsync` binary against the local fake API.

mod util;

mod cli;
mod config_errors;
mod crash;
mod credentials;
mod docs;
mod edgeone;
mod encoding;
mod fake;
mod fleet;
mod library;
mod pipeline;
mod reliability;
mod roles;
mod sync;
mod v2;
mod vectors;
mod watch;
