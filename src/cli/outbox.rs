//! `cdnsync outbox` (list, drop, retry the owed jobs) and `cdnsync man` (`docs/cli.md`).

use std::io::IsTerminal;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use cdnsync::credentials::Credentials;
use cdnsync::{config, Error, OutboxPick, Result};

use super::render::{Bars, Output};
use super::{config_path, credentials, engine, out, runtime, tables, Args};

/// What to do with owed jobs.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Give jobs up: they leave the outbox unsent (recorded; `status` lists them)
    Drop {
        /// Job IDs, as `cdnsync outbox` lists them
        #[arg(value_name = "ID", required_unless_present = "failed", conflicts_with = "failed")]
        ids: Vec<String>,
        /// Every failed job
        #[arg(long)]
        failed: bool,
        /// Do not ask (needed when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Send jobs again now (failed ones too, after fixing the cause)
    Retry {
        /// Job IDs, as `cdnsync outbox` lists them
        #[arg(value_name = "ID", required_unless_present = "failed", conflicts_with = "failed")]
        ids: Vec<String>,
        /// Every failed job
        #[arg(long)]
        failed: bool,
        /// Then poll the API until the tasks finish (default 600 s)
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "600")]
        wait: Option<u64>,
    },
}

fn pick(ids: &[String], failed: bool) -> OutboxPick {
    if failed {
        OutboxPick::Failed
    } else {
        OutboxPick::Ids(ids.to_vec())
    }
}

pub fn run(args: &Args, o: &Output, action: Option<&Action>) -> Result<u8> {
    let cfg = config::load(&config_path(args))?;
    match action {
        None => {
            // Listing reads the outbox only: no lock, no credentials, no network.
            let e = engine(args, cfg, Credentials::new("", "", None))?;
            let owed = e.owed()?;
            let jobs: Vec<cdnsync::JobReport> = owed.iter().map(|j| e.job_report(j)).collect();
            if o.json {
                let counts = cdnsync::report::OutboxCounts::of(&owed);
                out::stdout(&(serde_json::to_string_pretty(&json!({"jobs": jobs, "outbox": counts})).expect("serialises") + "\n"));
            } else {
                out::stdout(&tables::outbox(&jobs));
            }
            Ok(0)
        }
        Some(Action::Drop { ids, failed, yes }) => {
            let rt = runtime()?;
            let e = engine(args, cfg, Credentials::new("", "", None))?;
            let p = pick(ids, *failed);
            let chosen = e.outbox_pick(&p)?;
            if chosen.is_empty() {
                out::result(o.json, "nothing to drop: no job matches\n");
                if o.json {
                    out::stdout(&(serde_json::to_string_pretty(&json!({"dropped": []})).expect("serialises") + "\n"));
                }
                return Ok(0);
            }
            if !yes {
                confirm(&chosen)?;
            }
            let dropped = rt.block_on(e.outbox_drop(&p))?;
            let reports: Vec<cdnsync::JobReport> = dropped.iter().map(|j| e.job_report(j)).collect();
            if o.json {
                out::stdout(&(serde_json::to_string_pretty(&json!({"dropped": reports})).expect("serialises") + "\n"));
            } else if !o.quiet {
                let urls: usize = dropped.iter().map(|j| j.urls.len()).sum();
                out::stdout(&format!(
                    "dropped {} job(s), {urls} URL(s) never sent (recorded: `cdnsync status` lists what was given up)\n",
                    dropped.len()
                ));
            }
            Ok(0)
        }
        Some(Action::Retry { ids, failed, wait }) => {
            let rt = runtime()?;
            let creds = credentials(&cfg, &rt)?;
            let e = engine(args, cfg, creds)?;
            let progress = Bars::new(!args.json && !args.quiet);
            let report = rt.block_on(e.outbox_retry(&pick(ids, *failed), wait.map(Duration::from_secs), &progress))?;
            progress.finish();
            o.report("retry", &report);
            Ok(report.exit_code())
        }
    }
}

/// Ask on a terminal; refuse without one (a script must say `--yes`).
fn confirm(jobs: &[cdnsync::model::Job]) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "outbox drop would give up {} owed job(s) and stdin is not a terminal to ask: add --yes; nothing was dropped",
            jobs.len()
        )));
    }
    let mut text = String::new();
    for j in jobs {
        text += &format!("  {} {} {} {} {}: {} URL(s)\n", j.id, j.status, j.kind, j.area, j.host, j.urls.len());
    }
    out::stderr(&format!("{text}drop these {} job(s)? Their purges will never be sent. [y/N] ", jobs.len()));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("stdin", e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Error::Usage("nothing was dropped".into()))
    }
}

/// `cdnsync man [COMMAND]`: the page rendered from the same clap definition as `--help`.
pub fn man(cmd: clap::Command, which: Option<&str>) -> Result<u8> {
    let cmd = match which {
        None => cmd,
        Some(name) => {
            let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                return Err(Error::Usage(format!("no command {name:?}; the commands are {}", names.join(", "))));
            };
            // clap takes names as &'static str; this process prints one page and exits.
            let page: &'static str = Box::leak(format!("cdnsync-{}", sub.get_name()).into_boxed_str());
            let version: &'static str = Box::leak(cmd.get_version().unwrap_or_default().to_string().into_boxed_str());
            sub.name(page).version(version)
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf).map_err(|e| Error::io("the manual page", e))?;
    out::stdout(&String::from_utf8_lossy(&buf));
    Ok(0)
}
