//! The single integration-test binary: the real `cdnsync` binary against the local fake API.

mod util;

mod chaos;
mod cli;
mod config_errors;
mod crash;
mod credentials;
mod daemon;
mod decoders;
mod docs;
mod edgeone;
mod encoding;
mod examples;
mod fake;
mod fleet;
mod fleet_sync;
mod hostile;
mod hostile_tree;
mod init;
mod layers;
mod library;
mod nostate;
mod origin_wait;
mod outbox;
mod output;
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
