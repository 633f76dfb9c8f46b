//! The command line (`docs/cli.md`): clap arguments -> library calls -> exit code.

mod init;
mod out;
mod outbox;
mod render;
mod siteurl;
mod tables;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use cdnsync::clock::Clock;
use cdnsync::credentials::{Credentials, SharedProvider};
use cdnsync::model::{Area, JobKind};
use cdnsync::{clock, config, AdhocRequest, AnyApi, Engine, Error, Result, SyncOptions};

const EXAMPLES: &str = "\
Examples:
  cdnsync init public              write cdnsync.toml for the folder `public`
  cdnsync plan                     what the next sync would purge (no network)
  cdnsync sync --wait              purge what changed, wait for the CDN to finish
  cdnsync sync --json | jq .jobs   machine-readable report
  cdnsync purge /docs/index.html   purge one file's URLs on every domain
  cdnsync purge --dir blog         purge a directory
  cdnsync status                   owed jobs and last deploy
  cdnsync outbox drop --failed     give up jobs the API refused (asks first)
  cdnsync verify                   is the CDN serving what the last deploy purged?

Credentials come from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_TOKEN),
a credentials_file, tccli's / the SDKs' profile, or a role ([provider] credentials = \"cvm_role\",
\"role\", \"oidc\") — never from the command line.

Exit codes: 0 done, 1 runtime failure (work stays owed), 2 usage or config error,
3 refused by the API, 4 deferred by daily quota, 5 state directory locked,
6 verify found URLs served stale or different.
An exit code reports the run it ends: jobs refused in earlier runs are listed, not exit 3.";

/// Keeps a Tencent Cloud CDN cache in step with a static site: purges exactly what changed.
#[derive(Debug, Parser)]
#[command(name = "cdnsync", version, about, after_help = EXAMPLES)]
pub struct Args {
    /// Config file [default: ./cdnsync.toml]
    #[arg(short = 'c', long = "config", env = "CDNSYNC_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print one JSON document on stdout (human text goes to stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail (-vv for debug logs)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Seconds to wait for another cdnsync holding the state directory
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    pub lock_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AreaArg {
    Mainland,
    Overseas,
}

impl From<AreaArg> for Area {
    fn from(a: AreaArg) -> Area {
        match a {
            AreaArg::Mainland => Area::Mainland,
            AreaArg::Overseas => Area::Overseas,
        }
    }
}

/// `--if-no-state`: what a sync that finds no manifest does.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NoStateArg {
    /// Record the tree as deployed, purge nothing
    Baseline,
    /// Purge each domain's root once per area, record the tree
    #[value(name = "purge_all")]
    PurgeAll,
    /// Exit 2, do nothing
    Fail,
}

impl From<NoStateArg> for config::NoStateRule {
    fn from(a: NoStateArg) -> Self {
        match a {
            NoStateArg::Baseline => config::NoStateRule::Baseline,
            NoStateArg::PurgeAll => config::NoStateRule::PurgeAll,
            NoStateArg::Fail => config::NoStateRule::Fail,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented cdnsync.toml for PUBLISH_DIR (never overwrites one)
    Init {
        /// The folder your site generator writes (detected when omitted)
        publish_dir: Option<PathBuf>,
    },
    /// What the next sync would do; no network, nothing written
    Plan {
        /// Rehash every file, ignoring the stat cache
        #[arg(long)]
        full: bool,
        /// Treat every file as changed
        #[arg(long)]
        all: bool,
    },
    /// One deploy: send owed jobs, scan, diff, submit, record
    Sync {
        /// Then poll the API until the submitted tasks finish (default 600 s)
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "600")]
        wait: Option<u64>,
        /// Rehash every file, ignoring the stat cache
        #[arg(long)]
        full: bool,
        /// Treat every file as changed (collapses to directory purges)
        #[arg(long, conflicts_with = "baseline")]
        all: bool,
        /// Record the current tree as deployed, submit nothing new
        #[arg(long)]
        baseline: bool,
        /// Resend jobs the API refused in an earlier run (after fixing the cause)
        #[arg(long)]
        retry_failed: bool,
        /// With no manifest (a first deploy, a CI cache miss): baseline, purge_all or fail
        /// [default: if_no_state of the config, else purge_all under CI, else baseline]
        #[arg(long, value_enum, value_name = "RULE")]
        if_no_state: Option<NoStateArg>,
        /// Then check through the CDN that the deploy's URLs serve the new bytes (implies --wait)
        #[arg(long)]
        verify: bool,
    },
    /// Sync on every settled burst of changes, until SIGINT/SIGTERM
    Watch {
        /// Poll instead of OS events (network filesystems), every MS milliseconds (default 2000)
        #[arg(long, value_name = "MS", num_args = 0..=1, require_equals = true, default_missing_value = "2000")]
        poll: Option<u64>,
    },
    /// Purge now: full URLs, or publish-dir paths mapped through the domain rules
    Purge {
        #[arg(required = true, value_name = "URL|PATH")]
        targets: Vec<String>,
        /// Directory purge (PurgePathCache / type=dir)
        #[arg(long)]
        dir: bool,
        /// Only this area [default: each domain's areas]
        #[arg(long, value_enum)]
        area: Option<AreaArg>,
        /// Allow a full URL whose host is in no [[domain]] (otherwise exit 2, nothing sent)
        #[arg(long)]
        any_host: bool,
        /// Then poll the API until the tasks finish (default 600 s)
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "600")]
        wait: Option<u64>,
    },
    /// Prefetch now (same address forms as purge)
    Prefetch {
        #[arg(required = true, value_name = "URL|PATH")]
        targets: Vec<String>,
        /// Only this area [default: each domain's areas]
        #[arg(long, value_enum)]
        area: Option<AreaArg>,
        /// Allow a full URL whose host is in no [[domain]] (otherwise exit 2, nothing sent)
        #[arg(long)]
        any_host: bool,
        /// Then poll the API until the tasks finish (default 600 s)
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "600")]
        wait: Option<u64>,
    },
    /// Owed jobs (pending, deferred, failed) with their errors; drop or retry them
    Outbox {
        #[command(subcommand)]
        action: Option<outbox::Action>,
    },
    /// Tracked files, last deploy, owed jobs (pending / deferred / failed)
    Status {
        /// Also ask the API how the owed jobs' tasks are doing
        #[arg(long)]
        tasks: bool,
    },
    /// Remaining daily quotas per area (API 3.0 asks the API; v2 keeps a ledger)
    Quota,
    /// GET the last deploy's URLs through the CDN and compare them with what was deployed
    Verify {
        /// Purge the URLs found stale once more, wait for the task, and check them again
        #[arg(long)]
        repurge: bool,
        /// Check every tracked file instead of the last deploy's changes
        #[arg(long)]
        all_tracked: bool,
        /// With --all-tracked: check N files picked at random
        #[arg(long, value_name = "N", requires = "all_tracked")]
        sample: Option<usize>,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of cdnsync, or of one command
    Man {
        /// The command whose page to print (cdnsync-COMMAND(1))
        command: Option<String>,
    },
}

fn init_logging(args: &Args) {
    let watch = matches!(args.command, Command::Watch { .. });
    let level = if args.quiet {
        "error"
    } else {
        match args.verbose {
            // A watcher is a service: say what each sync did.
            0 if matches!(args.command, Command::Watch { .. }) => "info",
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CDNSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("cdnsync={level}")));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A watcher's lines carry their time, unless journald (which stamps each line) reads them.
    if watch && !tables::stderr_is_journald() {
        let _ = fmt.try_init();
    } else {
        let _ = fmt.without_time().try_init();
    }
}

pub(crate) fn config_path(args: &Args) -> PathBuf {
    args.config.clone().unwrap_or_else(|| PathBuf::from("cdnsync.toml"))
}

/// The credentials provider for `cfg`, checked: temporary credentials are fetched once now, so
/// that a missing role or a refusing STS is an error before anything is done.
pub(crate) fn credentials(cfg: &config::Config, rt: &tokio::runtime::Runtime) -> Result<SharedProvider> {
    let provider = cdnsync::credential_provider(cfg, Arc::new(clock::SystemClock))?;
    rt.block_on(provider.current())?;
    Ok(provider)
}

/// Completes on SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let err = |e: std::io::Error| Error::runtime("the signal handlers", e);
        let mut term = signal(SignalKind::terminate()).map_err(err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(err)?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::runtime("the async runtime", e))
}

/// Run a parsed command line; returns the process exit code.
pub fn run(args: Args) -> u8 {
    // While the process is still single-threaded: the local time of the next quota reset.
    tables::learn_local_offset();
    init_logging(&args);
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            if args.json {
                render::json_error(&e);
            }
            out::stderr(&format!("{}\n", render::error_line(&e)));
            e.exit_code()
        }
    }
}

pub(crate) fn engine(args: &Args, cfg: config::Config, creds: impl Into<SharedProvider>) -> Result<Engine<AnyApi>> {
    let clock: Arc<dyn clock::Clock> = Arc::new(clock::SystemClock);
    let api = cdnsync::api_for(&cfg, creds, clock.clone())?;
    let mut e = Engine::new(cfg, api, clock);
    e.lock_timeout = Duration::from_secs(args.lock_timeout);
    Ok(e)
}

fn run_inner(args: &Args) -> Result<u8> {
    let out = render::Output { json: args.json, quiet: args.quiet, verbose: args.verbose };
    match &args.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Args::command(), "cdnsync", &mut buf);
            out::stdout(&String::from_utf8_lossy(&buf));
            Ok(0)
        }
        Command::Man { command } => outbox::man(Args::command(), command.as_deref()),
        Command::Outbox { action } => outbox::run(args, &out, action.as_ref()),
        Command::Init { publish_dir } => init::run(&config_path(args), publish_dir.as_deref(), &out),
        Command::Plan { full, all } => {
            let cfg = config::load(&config_path(args))?;
            // Planning never uses the network, so it needs no credentials.
            let e = engine(args, cfg, Credentials::new("", "", None))?;
            let report = e.plan(&SyncOptions { full: *full, all: *all, ..Default::default() })?;
            out.report("plan", &report);
            Ok(0)
        }
        Command::Sync { wait, full, all, baseline, retry_failed, if_no_state, verify } => {
            let cfg = config::load(&config_path(args))?;
            let rt = runtime()?;
            let creds = credentials(&cfg, &rt)?;
            let e = engine(args, cfg, creds)?;
            let opts = SyncOptions {
                full: *full,
                all: *all,
                baseline: *baseline,
                retry_failed: *retry_failed,
                wait: wait.map(Duration::from_secs),
                if_no_state: if_no_state.map(Into::into),
                verify: *verify,
                ..SyncOptions::default()
            };
            let progress = render::Bars::new(!args.json && !args.quiet);
            let report = rt.block_on(e.sync(&opts, &progress))?;
            progress.finish();
            out.report("sync", &report);
            if let Some(v) = &report.verify {
                verify::print(&out, v);
            }
            Ok(report.exit_code())
        }
        Command::Watch { poll } => {
            let cfg = config::load(&config_path(args))?;
            let rt = runtime()?;
            let creds = credentials(&cfg, &rt)?;
            let e = engine(args, cfg, creds)?;
            let sink = args.json.then(render::ndjson_sink);
            let opts = cdnsync::watch::WatchOptions { poll: poll.map(Duration::from_millis), sink, ..Default::default() };
            let summary = rt.block_on(async {
                let shutdown = shutdown_signal()?;
                cdnsync::watch::run(&e, &opts, &(), shutdown).await
            })?;
            out.watch_summary(&summary);
            Ok(0)
        }
        Command::Purge { targets, dir, area, any_host, wait } => {
            let (kind, area, wait) = (JobKind::PurgeUrls, area.map(Area::from), wait.map(Duration::from_secs));
            adhoc(args, &out, &AdhocRequest { kind, targets, dir: *dir, area, any_host: *any_host, wait })
        }
        Command::Prefetch { targets, area, any_host, wait } => {
            let (kind, area, wait) = (JobKind::PrefetchUrls, area.map(Area::from), wait.map(Duration::from_secs));
            adhoc(args, &out, &AdhocRequest { kind, targets, dir: false, area, any_host: *any_host, wait })
        }
        Command::Status { tasks } => {
            let cfg = config::load(&config_path(args))?;
            let rt = runtime()?;
            // The source, the masked SecretId and, for temporary credentials, their time left;
            // when none is usable, why (for "auto": every place looked at, in order).
            let clock = Arc::new(clock::SystemClock);
            let found = cdnsync::credential_provider(&cfg, clock.clone()).and_then(|p| Ok((rt.block_on(p.current())?, p)));
            let source = match &found {
                Ok((c, _)) => c.describe(clock.now_unix()),
                Err(e) => format!("none usable: {e}"),
            };
            let provider: SharedProvider = match found {
                Ok((_, p)) => p,
                Err(e) if *tasks => return Err(e),
                Err(_) => Credentials::new("", "", None).into(),
            };
            let e = engine(args, cfg, provider)?;
            let mut st = e.status()?;
            st.credentials = Some(source);
            st.fleet = rt.block_on(e.fleet_status())?;
            if *tasks {
                st.tasks = rt.block_on(render::task_states(&e));
            }
            out.status(&st);
            Ok(0)
        }
        Command::Verify { repurge, all_tracked, sample } => {
            verify::run(args, &out, &cdnsync::VerifyOptions { all_tracked: *all_tracked, sample: *sample, repurge: *repurge })
        }
        Command::Quota => {
            let cfg = config::load(&config_path(args))?;
            let rt = runtime()?;
            let creds = credentials(&cfg, &rt)?;
            let e = engine(args, cfg, creds)?;
            let q = rt.block_on(e.quota())?;
            out.quota(&q);
            Ok(0)
        }
    }
}

fn adhoc(args: &Args, out: &render::Output, req: &AdhocRequest) -> Result<u8> {
    let cfg = config::load(&config_path(args))?;
    let rt = runtime()?;
    let creds = credentials(&cfg, &rt)?;
    let e = engine(args, cfg, creds)?;
    let progress = render::Bars::new(!args.json && !args.quiet);
    let report = rt.block_on(e.submit_adhoc(req, &progress))?;
    progress.finish();
    out.report(if req.kind == JobKind::PrefetchUrls { "prefetch" } else { "purge" }, &report);
    Ok(report.exit_code())
}
