//! The `cdnsync` command: parse the arguments, run them through the library, exit with its code.
//! The command line itself (arguments, rendering, `init`) lives in `cli/`, part of the binary only.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ExitCode::from(cli::run(cli::Args::parse()))
}
