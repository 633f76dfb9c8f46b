//! The single integration-test binary: the real `cdnsync` binary against the local fake API.

mod util;

mod cli;
mod config_errors;
mod crash;
mod credentials;
mod daemon;
mod docs;
mod edgeone;
mod encoding;
mod fake;
mod fleet;
mod layers;
mod library;
mod origin_wait;
mod pipeline;
mod reliability;
mod role_modes;
mod roles;
mod sync;
mod temporary;
mod v2;
mod vectors;
mod verify;
mod watch;
