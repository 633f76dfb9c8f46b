//! # cdnsync
//!
//! Purge exactly what changed: cdnsync hashes the files under a static site's publish folder,
//! works out which ones changed since the last deploy, maps them to CDN URLs through configured
//! domain rules, and submits purge (and prefetch) jobs to Tencent Cloud CDN per region, within
//! the API's batch, rate and daily limits — without ever losing a purge it owes.
//!
//! This crate is the `cdnsync` command's engine, usable from a site generator or any Rust tool.
//! Its surface is small on purpose:
//!
//! - load a [`Config`] ([`load`] a `cdnsync.toml`, or build one with [`Builder`]);
//! - make an [`Engine`] ([`connect`] finds credentials the way the command does);
//! - run [`Engine::sync`] (all of the tree, or just [`SyncOptions::paths`] your build wrote) and
//!   read the [`Report`]: what changed, each job with its API task, what is still owed, and the
//!   [exit code](Report::exit_code) the command would give;
//! - or keep a folder in step with [`watch::run`].
//!
//! Everything that talks to Tencent sits behind the [`CdnApi`] trait (failures are [`Failure`]s
//! with a retry [`Class`]), and all time goes through a [`Clock`], so a test can drive the engine
//! against its own API double on a [`ManualClock`]. The user-facing contract (commands, config
//! keys, exit codes, JSON) is in `docs/`; how the code is laid out is in `ARCHITECTURE.md`.
//!
//! ## Example
//! ```no_run
//! # async fn run() -> Result<(), cdnsync::Error> {
//! let config = cdnsync::Builder::new(".", "public")
//!     .domain("www.example.com", &[cdnsync::Area::Mainland, cdnsync::Area::Overseas])
//!     .prefetch("**/index.html")
//!     .build()?;
//! let engine = cdnsync::connect(config)?; // credentials from the environment, tccli or SDK files
//! let opts = cdnsync::SyncOptions { paths: Some(vec!["index.html".into()]), ..Default::default() };
//! let report = engine.sync(&opts, &()).await?;
//! for job in &report.jobs {
//!     println!("{} {} {:?}: {:?}", job.action, job.area, job.status, job.urls);
//! }
//! std::process::exit(report.exit_code().into());
//! # }
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod config;
pub mod credentials;
mod engine;
mod error;
pub(crate) mod failpoint;
#[cfg(feature = "fake")]
pub mod fake;
pub mod fleet;
pub(crate) mod metrics;
pub mod model;
pub(crate) mod plan;
pub mod progress;
pub mod report;
pub(crate) mod scan;
pub(crate) mod state;
pub(crate) mod submit;
pub mod text;
pub(crate) mod verify;
pub mod watch;

use std::sync::Arc;

pub use api::{CdnApi, Class, Failure};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{load, Builder, Config};
pub use engine::{Engine, OutboxPick, SyncOptions, VerifyOptions, FLEET_BARRIER, FLEET_CLAIMED};
pub use error::{Error, Result};
pub use model::{Api, Area, ChangeSet, Job, JobKind, JobStatus};
pub use plan::adhoc::Request as AdhocRequest;
pub use progress::{Cancel, Progress};
pub use report::{JobReport, Report, StatusReport};

/// Internals the benches and a few tests drive directly (feature `fake` only): not an API. The
/// modules behind them stay crate-private.
#[cfg(feature = "fake")]
#[doc(hidden)]
pub mod internals {
    pub use crate::plan::{make_plan, PlanInput};
    /// The decoders of state files, for the property tests and the fuzz target.
    pub use crate::state::{manifest, outbox};
    pub use crate::verify::{verify, HttpFetcher, Item, Options, Summary};
}

/// The API client a config asks for.
pub enum AnyApi {
    /// API 3.0 (`api = "v3"`).
    V3(api::v3::V3Client),
    /// The legacy API (`api = "v2"`).
    V2(api::v2::V2Client),
    /// EdgeOne (`api = "edgeone"`).
    EdgeOne(api::teo::TeoClient),
}

impl CdnApi for AnyApi {
    fn action(&self, kind: JobKind, area: Area) -> &'static str {
        match self {
            AnyApi::V3(c) => c.action(kind, area),
            AnyApi::V2(c) => c.action(kind, area),
            AnyApi::EdgeOne(c) => c.action(kind, area),
        }
    }

    async fn submit(&self, job: &Job) -> Result<api::Accepted, Failure> {
        match self {
            AnyApi::V3(c) => c.submit(job).await,
            AnyApi::V2(c) => c.submit(job).await,
            AnyApi::EdgeOne(c) => c.submit(job).await,
        }
    }

    async fn quota(&self) -> Result<Option<model::QuotaBook>, Failure> {
        match self {
            AnyApi::V3(c) => c.quota().await,
            AnyApi::V2(c) => c.quota().await,
            AnyApi::EdgeOne(c) => c.quota().await,
        }
    }

    async fn task_state(&self, job: &Job) -> Result<Option<api::TaskState>, Failure> {
        match self {
            AnyApi::V3(c) => c.task_state(job).await,
            AnyApi::V2(c) => c.task_state(job).await,
            AnyApi::EdgeOne(c) => c.task_state(job).await,
        }
    }

    async fn find_tasks(&self, job: &Job, since_unix: i64) -> Result<Vec<String>, Failure> {
        match self {
            AnyApi::V3(c) => c.find_tasks(job, since_unix).await,
            AnyApi::V2(c) => c.find_tasks(job, since_unix).await,
            AnyApi::EdgeOne(c) => c.find_tasks(job, since_unix).await,
        }
    }

    fn take_notes(&self) -> Vec<String> {
        match self {
            AnyApi::EdgeOne(c) => c.take_notes(),
            _ => Vec::new(),
        }
    }

    fn lookup_permission(&self, kind: JobKind) -> Option<&'static str> {
        match self {
            AnyApi::V3(c) => c.lookup_permission(kind),
            AnyApi::V2(c) => c.lookup_permission(kind),
            AnyApi::EdgeOne(c) => c.lookup_permission(kind),
        }
    }
}

/// Build the API client a config asks for, signing with `credentials` (a provider from
/// [`credential_provider`], or long-term [`credentials::Credentials`]) and timing with `clock`.
pub fn api_for(cfg: &Config, credentials: impl Into<credentials::SharedProvider>, clock: Arc<dyn Clock>) -> Result<AnyApi> {
    let credentials = credentials.into();
    let transport = api::http::Transport::new(cfg.provider.timeout).map_err(|e| Error::runtime("the HTTP client", e))?;
    Ok(match cfg.provider.api {
        Api::V3 => AnyApi::V3(api::v3::V3Client::new(transport, cfg, credentials, clock)),
        Api::V2 => AnyApi::V2(api::v2::V2Client::new(transport, cfg, credentials, clock)),
        Api::EdgeOne => {
            let zones = Box::new(state::zones::ZoneFile::new(&cfg.state_dir));
            AnyApi::EdgeOne(api::teo::TeoClient::new(transport, cfg, credentials, clock, zones))
        }
    })
}

/// The credentials the command would use for `cfg`, as the provider the API clients sign with:
/// `[provider] credentials` and the chain of the environment, the config's `credentials_file`,
/// tccli's and the SDKs' profiles (`docs/credentials.md`). Warnings (a profile others can read)
/// are logged. Nothing is fetched yet: temporary credentials are fetched by the first request
/// and refreshed on `clock`.
pub fn credential_provider(cfg: &Config, clock: Arc<dyn Clock>) -> Result<credentials::SharedProvider> {
    let transport = api::http::Transport::new(cfg.provider.timeout).map_err(|e| Error::runtime("the HTTP client", e))?;
    let src = credentials::Sources::from_process();
    let r = api::provider::provider_for(&cfg.provider.credentials, cfg.credentials_file.as_deref(), &src, transport, clock)?;
    for w in &r.warnings {
        tracing::warn!("{w}");
    }
    Ok(r.provider)
}

/// An engine for a config, with credentials from the usual sources and the system clock.
pub fn connect(cfg: Config) -> Result<Engine<AnyApi>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let provider = credential_provider(&cfg, clock.clone())?;
    let api = api_for(&cfg, provider, clock.clone())?;
    Ok(Engine::new(cfg, api, clock))
}
