//! # cdnsync
//!
//! Purge exactly what changed: cdnsync hashes the files under a static site's publish folder,
//! works out which ones changed since the last deploy, maps them to CDN URLs through configured
//! domain rules, and submits purge (and prefetch) jobs to Tencent Cloud CDN per region, within
//! the API's batch, rate and daily limits — without ever losing a purge it owes.
//!
//! ## Module map
//! The stages are scan → diff → map → plan → persist → submit; each has one home.
//! - [`config`]: `cdnsync.toml` (parse, validate) and credentials.
//! - [`scan`]: walk `publish_dir`, BLAKE3 hashes with a stat cache.
//! - [`plan`]: PURE — diff, URL rules and encoding, collapse to directory purges, batching.
//! - [`state`]: manifest, outbox, lock (atomic, durable files in `state_dir`).
//! - [`api`]: Tencent's wire formats and signing (TC3-HMAC-SHA256, legacy HmacSHA1/256), behind
//!   the [`api::CdnApi`] trait.
//! - [`submit`]: drains the outbox: rate limits, retries, quota deferral.
//! - [`verify`]: check what the CDN serves for purged URLs; wait for the origin before purging.
//! - [`engine`]: one plan or sync, start to finish.
//! - [`metrics`]: the watch daemon's `/metrics` and `/healthz`, and systemd notifications.
//! - [`clock`]: time behind a seam.
//! - `fake` (feature `fake`): a local emulator of the API for tests and demos.
//!
//! ## Library use
//! ```no_run
//! use std::sync::Arc;
//! # async fn run() -> Result<(), cdnsync::Error> {
//! let config = cdnsync::config::load(std::path::Path::new("cdnsync.toml"))?;
//! let engine = cdnsync::connect(config)?; // credentials from the environment
//! let report = engine.sync(&cdnsync::SyncOptions::default(), &()).await?;
//! println!("{} jobs, exit code {}", report.jobs.len(), report.exit_code());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod api;
/// The command-line front end of the `cdnsync` binary (argument parsing and rendering); not a
/// library interface.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod cli;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod failpoint;
#[cfg(feature = "fake")]
pub mod fake;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod scan;
pub mod state;
pub mod submit;
pub mod verify;
pub mod watch;

use std::sync::Arc;

pub use config::Config;
pub use engine::{Engine, Report, SyncOptions};
pub use error::{Error, Result};
pub use model::{Area, ChangeSet, Job, JobKind, JobStatus};

/// The API client a config asks for.
pub enum AnyApi {
    /// API 3.0 (`api = "v3"`).
    V3(api::v3::V3Client),
    /// The legacy API (`api = "v2"`).
    V2(api::v2::V2Client),
}

impl api::CdnApi for AnyApi {
    fn action(&self, kind: JobKind, area: Area) -> &'static str {
        match self {
            AnyApi::V3(c) => c.action(kind, area),
            AnyApi::V2(c) => c.action(kind, area),
        }
    }

    async fn submit(&self, job: &Job) -> Result<api::Accepted, api::Failure> {
        match self {
            AnyApi::V3(c) => c.submit(job).await,
            AnyApi::V2(c) => c.submit(job).await,
        }
    }

    async fn quota(&self) -> Result<Option<model::QuotaBook>, api::Failure> {
        match self {
            AnyApi::V3(c) => c.quota().await,
            AnyApi::V2(c) => c.quota().await,
        }
    }

    async fn task_state(&self, job: &Job) -> Result<Option<api::TaskState>, api::Failure> {
        match self {
            AnyApi::V3(c) => c.task_state(job).await,
            AnyApi::V2(c) => c.task_state(job).await,
        }
    }

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, api::Failure> {
        match self {
            AnyApi::V3(c) => c.find_tasks(job, since_unix).await,
            AnyApi::V2(c) => c.find_tasks(job, since_unix).await,
        }
    }
}

/// Build the API client for a config with the given credentials and clock.
pub fn api_for(cfg: &Config, credentials: config::credentials::Credentials, clock: Arc<dyn clock::Clock>) -> Result<AnyApi> {
    let transport = api::http::Transport::new(cfg.provider.timeout).map_err(Error::Network)?;
    let p = &cfg.provider;
    Ok(match p.api {
        config::ApiVersion::V3 => {
            AnyApi::V3(api::v3::V3Client { transport, endpoint: p.endpoint.clone(), credentials, region: p.region.clone(), clock })
        }
        config::ApiVersion::V2 => AnyApi::V2(api::v2::V2Client::new(transport, cfg, credentials, clock)),
    })
}

/// An engine for a config, with credentials from the usual sources and the system clock.
pub fn connect(cfg: Config) -> Result<Engine<AnyApi>> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let env = |k: &str| std::env::var(k).ok();
    let creds = config::credentials::resolve(&config::credentials::Sources { env: &env, home }, cfg.credentials_file.as_deref())?;
    let clock: Arc<dyn clock::Clock> = Arc::new(clock::SystemClock);
    let api = api_for(&cfg, creds, clock.clone())?;
    Ok(Engine::new(cfg, api, clock))
}
