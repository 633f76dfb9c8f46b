//! `cdnsync verify` and the verify part of `sync --verify` (`docs/cli.md`): run it through the
//! library, print what the CDN served.

use cdnsync::report::VerifyReport;
use cdnsync::{config, Result, VerifyOptions};

use super::render::Output;
use super::{config_path, credentials, engine, runtime, Args};

/// `cdnsync verify [--repurge] [--all-tracked [--sample N]]`.
pub fn run(args: &Args, out: &Output, opts: &VerifyOptions) -> Result<u8> {
    let cfg = config::load(&config_path(args))?;
    let rt = runtime()?;
    // Only --repurge talks to the API; checking needs no credentials.
    let creds = if opts.repurge { credentials(&cfg, &rt)? } else { cdnsync::credentials::Credentials::new("", "", None).into() };
    let e = engine(args, cfg, creds)?;
    let progress = super::render::Bars::new(!args.json && !args.quiet);
    let report = rt.block_on(e.verify(opts, &progress))?;
    progress.finish();
    if out.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("the verify report serialises"));
    }
    print(out, &report);
    Ok(report.exit_code())
}

/// The human text, on stderr (also under `--json`, unless `-q`; with `-q`, only the URLs that
/// are not fresh).
pub fn print(out: &Output, v: &VerifyReport) {
    let mut s = String::new();
    if !out.quiet {
        let what = match (v.source, v.deployed_unix) {
            ("last_deploy", Some(t)) => {
                format!("the deploy of {} UTC+8", cdnsync::clock::datetime(t, cdnsync::clock::CST_OFFSET_SECS))
            }
            ("last_deploy", None) => "the last deploy".to_string(),
            _ => "the tracked files".to_string(),
        };
        s += &format!(
            "verified {} URL(s) of {what}: {} fresh, {} stale, {} different, {} error(s)\n",
            v.checked, v.fresh, v.stale, v.different, v.errors
        );
    }
    for r in &v.results {
        if r.result == "fresh" && out.verbose == 0 {
            continue;
        }
        let why = match (&r.message, r.reasons.is_empty()) {
            (Some(m), _) => format!(": {m}"),
            (None, false) => format!(": {}", r.reasons.iter().map(|x| x.message.as_str()).collect::<Vec<_>>().join("; ")),
            (None, true) => String::new(),
        };
        s += &format!("  {:<9} {}{why}\n", r.result, r.url);
    }
    if !out.quiet {
        for u in &v.repurged {
            s += &format!("  repurged  {u}\n");
        }
        for w in &v.warnings {
            s += &format!("warning: {w}\n");
        }
        for n in &v.notes {
            s += &format!("note: {n}\n");
        }
        if v.stale > 0 && v.repurged.is_empty() {
            s += "stale URLs serve the bytes from before the deploy: `cdnsync verify --repurge` purges them again\n";
        }
    }
    eprint!("{s}");
}
