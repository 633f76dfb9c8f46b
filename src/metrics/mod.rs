//! A daemon you can watch (issue 17 §3): what `cdnsync watch` exports and how it reports to its
//! supervisor.
//!
//! - [`registry`]: counters, gauges and fixed-bucket histograms with checked labels, rendered in
//!   the Prometheus text exposition format.
//! - [`daemon`]: cdnsync's own families behind typed methods ([`Metrics`]), and its [`Health`].
//! - [`metered`]: an API wrapper counting every call into those families.
//! - [`server`]: `/metrics` and `/healthz` on the `[watch] metrics` address only.
//! - [`systemd`]: `Type=notify` (`READY=1`, `STATUS=`, `WATCHDOG=1`) over `$NOTIFY_SOCKET`.

pub mod daemon;
pub mod metered;
pub mod registry;
pub mod server;
#[cfg(unix)]
pub mod systemd;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub use daemon::Health;
pub use daemon::{JobResult, Metrics, SyncResult};
pub use server::MetricsServer;
